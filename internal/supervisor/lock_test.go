package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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

// A holder that has let go leaves no name behind: a process that finds the
// lock taken by the next holder, before that one has written its name,
// must not name the one that left. (CI once saw an `up` report that it
// waited for the `down` that had ended just before.)
func TestInstanceLockNamesTheHolderNotTheOneBefore(t *testing.T) {
	path := LockPath(t.TempDir(), "docker", "nova-ci")
	ctx := context.Background()
	down, err := AcquireLock(ctx, path, "down nova-ci", nil)
	require.NoError(t, err)
	require.NoError(t, down.Release())
	require.Equal(t, Holder{}, readHolder(path), "released: no name left in the file")

	// the next holder has the flock but has not written its name yet,
	// and the file still names a process that has exited
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
	require.NoError(t, os.WriteFile(path, []byte(`{"pid":999999,"started":"2026-01-01T00:00:00Z","command":"down nova-ci"}`), 0o600))
	go func() {
		time.Sleep(60 * time.Millisecond)
		b := []byte(`{"pid":` + strconv.Itoa(os.Getpid()) + `,"started":"2026-01-01T00:00:00Z","command":"up nova-ci"}`)
		_ = os.WriteFile(path, b, 0o600)
	}()
	_, err = AcquireLock(ctx, path, "up nova-ci", nil)
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	require.Equal(t, "up nova-ci", busy.Holder.Command, "named the holder that has the lock, not the one that exited")

	// a holder that never writes its name is "another novadev", never a
	// dead process's name
	require.NoError(t, os.WriteFile(path, []byte(`{"pid":999999,"started":"2026-01-01T00:00:00Z","command":"down nova-ci"}`), 0o600))
	_, err = AcquireLock(ctx, path, "up nova-ci", nil)
	require.ErrorAs(t, err, &busy)
	require.Equal(t, Holder{}, busy.Holder)
	require.Contains(t, err.Error(), "another novadev is already working")
}
