// Package regfile opens the files a user names (models, datasets, user
// files, audit logs) only when they are regular files: a named pipe would
// block the open forever, and a device such as /dev/zero would feed a
// reader without end. Files read whole are read with a size cap.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is matched by the error for a path that names a
// directory, a named pipe, a socket or a device.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is matched by the error [ReadFile] returns for a file past
// its cap.
var ErrTooLarge = errors.New("file too large")

// Open opens path for reading; see [OpenFile].
func Open(path string) (*os.File, error) { return OpenFile(path, os.O_RDONLY, 0) }

// OpenFile is [os.OpenFile] for regular files only. It checks the path
// before opening it and the opened file again (the path may have been
// replaced in between), and opens without blocking, so a named pipe gives
// an error at once instead of waiting for a writer. A path that does not
// exist is left to os.OpenFile (and flag's O_CREATE).
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi.Mode())
	}
	f, err := os.OpenFile(path, flag|oNonblock, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(path, fi.Mode())
	}
	if err != nil {
		_ = f.Close() // the stat error is the one to report
		return nil, err
	}
	return f, nil
}

// ReadFile reads the regular file at path whole, refusing one larger than
// max bytes with an error matching [ErrTooLarge] that names the file, its
// size and the cap.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed: %w", path, fi.Size(), max, ErrTooLarge)
	}
	// The size may change while reading; the cap holds all the same.
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than the %d bytes allowed: %w", path, max, ErrTooLarge)
	}
	return b, nil
}

func notRegular(path string, mode fs.FileMode) error {
	kind := "a special file"
	switch {
	case mode.IsDir():
		kind = "a directory"
	case mode&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		kind = "a socket"
	case mode&fs.ModeCharDevice != 0:
		kind = "a character device"
	case mode&fs.ModeDevice != 0:
		kind = "a block device"
	}
	return fmt.Errorf("%s is %s, %w", path, kind, ErrNotRegular)
}
