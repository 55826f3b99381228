//go:build unix

package audit

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// lockFile takes an exclusive, non-blocking flock on path (creating it with
// mode 0600) and writes this process's pid into it. When another process,
// or another open Log in this one, holds the lock it returns an
// [*InUseError] naming the pid found in the file. The kernel drops the lock
// when its holder exits, so a crashed writer never leaves a stale lock; the
// file itself stays in place, since removing it would race with a process
// that has just opened it.
func lockFile(path, log string) (unlock func() error, err error) {
	f, err := regfile.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	fd := int(f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK):
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0) // a holder that has not written its pid yet is named "another process"
		_ = f.Close()          // the lock error is the one to report
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
		return nil, &InUseError{Path: log, PID: pid}
	case err != nil:
		_ = f.Close() // the lock error is the one to report
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil {
		_ = f.Close() // closing releases the lock; the write error is the one to report
		return nil, fmt.Errorf("write lock file %s: %w", path, err)
	}
	return f.Close, nil // closing the file releases the lock
}

// syncDir flushes the directory dir, making the names of files just
// created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
