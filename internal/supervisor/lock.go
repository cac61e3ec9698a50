package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Holder is who holds an instance lock: written into the lock file by the
// holder, read by whoever waits for it.
type Holder struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Command string    `json:"command"`
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "another novadev"
	}
	return fmt.Sprintf("novadev %s (pid %d, started %s)", h.Command, h.PID, h.Started.Format(time.TimeOnly))
}

// Lock is an instance lock: one `up` or `down` of an instance at a time.
// It is an flock(2) on a file under the user's state directory, so the
// kernel releases it when its holder exits, crashed or not: a stale file
// after a crash is simply locked again.
type Lock struct {
	f *os.File
}

// LockPath is where the lock of an instance lives: dir/<target>-<instance>.lock.
func LockPath(dir, target, instance string) string {
	return filepath.Join(dir, "locks", target+"-"+instance+".lock")
}

// AcquireLock takes the lock at path for command. When another process
// holds it, waiting is told who (once), and AcquireLock waits until the
// lock is free or ctx ends; with waiting nil it refuses at once, naming the
// holder.
func AcquireLock(ctx context.Context, path, command string, waiting func(Holder)) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("instance lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance lock: %w", err)
	}
	told := false
	// how long a holder may take to write its name after taking the flock
	// (it does so at once; the bound is for a loaded machine)
	nameBy := time.Now().Add(time.Second)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("instance lock %s: %w", path, err)
		}
		h := readHolder(path)
		if !h.alive() && time.Now().Before(nameBy) {
			// the holder got the lock a moment ago and has not written
			// its name yet: the file is empty, or still names a holder
			// that has exited (one that crashed, so never cleared it).
			// Read again rather than name the wrong process.
			select {
			case <-ctx.Done():
				f.Close()
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if !h.alive() {
			h = Holder{}
		}
		if waiting == nil {
			f.Close()
			return nil, &BusyError{Holder: h, Path: path}
		}
		if !told {
			waiting(h)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", h, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Started: time.Now(), Command: command})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(b, 0)
	}
	return &Lock{f: f}, nil
}

// alive says whether h names a process that exists. The zero Holder, and
// one whose process has exited, are not alive.
func (h Holder) alive() bool {
	if h.PID <= 0 {
		return false
	}
	err := syscall.Kill(h.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func readHolder(path string) Holder {
	var h Holder
	b, err := os.ReadFile(path)
	if err == nil {
		_ = json.Unmarshal([]byte(strings.TrimSpace(string(b))), &h)
	}
	return h
}

// BusyError says the instance is locked by another novadev.
type BusyError struct {
	Holder Holder
	Path   string
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s is already working on this environment (lock %s); wait for it to finish", e.Holder, e.Path)
}

// Release gives the lock up. It clears the holder's name first, while it
// still holds the lock, so that whoever takes the lock next is never
// mistaken for this holder by a third process that reads the file in
// between.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}
