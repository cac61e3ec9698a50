package app_test

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The real binary: SIGINT or SIGTERM stops a waiting command within a
// second with exit code 130.
func TestSignalsExit130(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the novadev binary")
	}
	bin := filepath.Join(t.TempDir(), "novadev")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/novadev").CombinedOutput()
	require.NoError(t, err, string(out))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens: wait never succeeds
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := exec.Command(bin, "wait", "--timeout", "1m", "tcp://"+addr)
		require.NoError(t, cmd.Start())
		time.Sleep(300 * time.Millisecond)
		sent := time.Now()
		require.NoError(t, cmd.Process.Signal(sig))
		err := cmd.Wait()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%v", err)
		require.Equal(t, 130, exit.ExitCode(), sig.String())
		require.Less(t, time.Since(sent), time.Second, sig.String())
	}
}
