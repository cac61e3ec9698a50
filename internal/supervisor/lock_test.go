package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInstanceLock(t *testing.T) {
	path := LockPath(t.TempDir(), "docker", "nova-ci")
	ctx := context.Background()
	first, err := AcquireLock(ctx, path, "up nova-ci", nil)
	require.NoError(t, err)

	// refused at once, naming the holder
	_, err = AcquireLock(ctx, path, "up nova-ci", nil)
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	require.Equal(t, os.Getpid(), busy.Holder.PID)
	require.Contains(t, err.Error(), "novadev up nova-ci (pid "+strconv.Itoa(os.Getpid())+", started ")

	// or waited for, told who once, until the holder lets go
	told := make(chan Holder, 4)
	got := make(chan error, 1)
	go func() {
		l, err := AcquireLock(ctx, path, "down nova-ci", func(h Holder) { told <- h })
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	h := <-told
	require.Equal(t, "up nova-ci", h.Command)
	select {
	case err := <-got:
		t.Fatalf("acquired while held: %v", err)
	case <-time.After(150 * time.Millisecond):
	}
	require.NoError(t, first.Release())
	require.NoError(t, <-got)
	require.Empty(t, told, "told once")

	// a waiter gives up when its context ends
	first, err = AcquireLock(ctx, path, "up nova-ci", nil)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = AcquireLock(cctx, path, "up nova-ci", func(Holder) {})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, first.Release())
}

// A crashed holder leaves its file behind but not its flock: the next
// novadev takes the lock at once.
func TestInstanceLockAfterACrash(t *testing.T) {
	path := LockPath(t.TempDir(), "docker", "nova-ci")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(`{"pid":999999,"started":"2026-01-01T00:00:00Z","command":"up nova-ci"}`), 0o600))
	start := time.Now()
	l, err := AcquireLock(context.Background(), path, "up nova-ci", nil)
	require.NoError(t, err)
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, os.Getpid(), readHolder(path).PID, "the new holder wrote its name")
	require.NoError(t, l.Release())
}
