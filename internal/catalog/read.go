package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Size caps on every file the loader reads. They are far above anything a
// real platform needs (envs/nova.yaml is 13 KB) and low enough that a
// hostile or mistaken input (--catalog /dev/zero, a generated monster) is
// refused before it costs memory.
const (
	// MaxCatalogSize caps a catalog or environment file.
	MaxCatalogSize = 1 << 20
	// MaxProtoSize caps one proto file (and the recorded baseline).
	MaxProtoSize = 4 << 20
	// MaxMigrationSize caps one SQL migration file.
	MaxMigrationSize = 16 << 20
)

// ReadFile reads the regular file at name, refusing anything else before
// it is opened (a fifo would block, a device never ends, a directory is a
// mistake) and refusing files larger than limit without reading them
// whole. fsys nil means the operating system's files. It is what the
// loader, validation and renderers use for every file a catalog names.
func ReadFile(ctx context.Context, fsys fs.FS, name string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		info fs.FileInfo
		err  error
	)
	if fsys != nil {
		info, err = fs.Stat(fsys, fsPath(name))
	} else {
		info, err = os.Stat(name)
	}
	if err != nil {
		return nil, err
	}
	if err := regular(name, info, limit); err != nil {
		return nil, err
	}
	var f io.ReadCloser
	if fsys != nil {
		f, err = fsys.Open(fsPath(name))
	} else {
		f, err = openNoBlock(name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, ok := f.(interface{ Stat() (fs.FileInfo, error) }); ok {
		// the file may have been swapped between Stat and Open
		info, err := st.Stat()
		if err != nil {
			return nil, err
		}
		if err := regular(name, info, limit); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("larger than the %s cap", sizeString(limit))}
	}
	return data, nil
}

// ErrNotRegular is returned (wrapped) for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

func regular(name string, info fs.FileInfo, limit int64) error {
	m := info.Mode()
	if !m.IsRegular() {
		what := "a special file"
		switch {
		case m.IsDir():
			what = "a directory"
		case m&fs.ModeNamedPipe != 0:
			what = "a named pipe (fifo)"
		case m&fs.ModeDevice != 0 || m&fs.ModeCharDevice != 0:
			what = "a device"
		case m&fs.ModeSocket != 0:
			what = "a socket"
		}
		return &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: it is %s", ErrNotRegular, what)}
	}
	if info.Size() > limit {
		return &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%d bytes: larger than the %s cap", info.Size(), sizeString(limit))}
	}
	return nil
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func fsPath(name string) string { return filepath.ToSlash(filepath.Clean(name)) }
