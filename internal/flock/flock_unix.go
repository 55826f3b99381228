//go:build unix

package flock

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// Supported reports whether this system has file locks.
const Supported = true

// TryLock takes an exclusive flock on path (a regular file, created with
// perm if missing) without waiting. When another process, or another
// open file in this one, holds it, TryLock returns a nil Lock and the
// open file it tried, for reading what the holder wrote; the caller
// closes that file.
func TryLock(path string, perm os.FileMode) (held *Lock, busy *os.File, err error) {
	f, err := regfile.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return &Lock{File: f}, nil, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return nil, f, nil
	}
	_ = f.Close() // the lock error is the one to report
	return nil, nil, fmt.Errorf("lock %s: %w", path, err)
}
