package audit

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cogenesis/cogenesis/internal/flock"
)

// lockFile takes the writer's lock of log: an exclusive, non-blocking
// flock on path (created with mode 0600) holding this process's pid. When
// another process, or another open Log in this one, holds it, it returns an
// [*InUseError] naming the pid found in the file. On systems without flock
// nothing keeps two writers apart, and the second breaks the chain.
func lockFile(path, log string) (unlock func() error, err error) {
	l, busy, err := flock.TryLock(path, 0o600)
	if err != nil {
		return nil, err
	}
	if busy != nil {
		b := make([]byte, 32)
		n, _ := busy.ReadAt(b, 0) // a holder that has not written its pid yet is named "another process"
		_ = busy.Close()          // the lock error is the one to report
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
		return nil, &InUseError{Path: log, PID: pid}
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := l.File.Truncate(0); err == nil {
		_, err = l.File.WriteAt(pid, 0)
	}
	if err != nil {
		_ = l.Unlock() // the write error is the one to report
		return nil, fmt.Errorf("write lock file %s: %w", path, err)
	}
	return l.Unlock, nil
}
