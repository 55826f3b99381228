//go:build unix

package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockPoll is how often a waiting process retries the download lock.
const lockPoll = 250 * time.Millisecond

// lockFile takes an exclusive flock on path, creating the file if needed,
// and calls onWait once if another process holds it. The kernel drops the
// lock when its holder exits, so a crashed download never leaves a stale
// lock. The lock file itself stays in place: removing it would race with
// a process that has just opened it.
func lockFile(ctx context.Context, path string, onWait func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	fd := int(f.Fd())
	waited := false
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return func() {
				// Closing the file releases the lock even if LOCK_UN fails.
				_ = syscall.Flock(fd, syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			_ = f.Close() // the lock error is the one to report
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !waited {
			waited = true
			onWait()
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close() // the context error is the one to report
			return nil, fmt.Errorf("wait for download lock: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
}
