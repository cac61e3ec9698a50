package bootstrap

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// needEngine skips the test when no Docker engine or image is available, or
// fails it when NOVADEV_E2E=1 says the integration tests are required.
func needEngine(t *testing.T, images ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	miss := func(format string, args ...any) {
		t.Helper()
		skipOrFail(t, format, args...)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		miss("no docker CLI on PATH")
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput(); err != nil {
		miss("no Docker engine reachable: %s", strings.TrimSpace(string(out)))
	}
	for _, img := range images {
		if out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", img).CombinedOutput(); err != nil {
			miss("image %s is missing (scripts/images/build.sh builds it): %s", img, strings.TrimSpace(string(out)))
		}
	}
}

// skipOrFail skips the test with the reason printed, or fails it when
// NOVADEV_E2E=1 says the integration tests are required (CI).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("NOVADEV_E2E") == "1" {
		t.Fatalf("NOVADEV_E2E=1 but %s", msg)
	}
	t.Skipf("skipping: %s (NOVADEV_E2E=1 makes this a failure)", msg)
}

// docker runs the docker CLI and returns its trimmed output.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// testLabel marks every container, network and volume these tests create.
const testLabel = "novadev.test=internal-bootstrap"

// run starts a detached container and removes it (and its volumes) when the
// test ends; on failure its last log lines are printed first.
func run(t *testing.T, args ...string) string {
	t.Helper()
	id := docker(t, append([]string{"run", "-d", "--label", testLabel}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "30", id).CombinedOutput()
			t.Logf("logs of %.12s:\n%s", id, out)
		}
		exec.Command("docker", "rm", "-f", "-v", id).Run()
	})
	return id
}

// network creates a user-defined bridge network removed at the end.
func network(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("novadev-test-%d", time.Now().UnixNano())
	docker(t, "network", "create", "--label", testLabel, name)
	t.Cleanup(func() { exec.Command("docker", "network", "rm", name).Run() })
	return name
}

// freePort returns a TCP port free on 127.0.0.1 right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// eventually polls f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := 20 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v", what, timeout, err)
		}
		time.Sleep(wait)
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

// logLines collects a step's log lines.
type logLines []string

func (l *logLines) log(format string, args ...any) { *l = append(*l, fmt.Sprintf(format, args...)) }

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
