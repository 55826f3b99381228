package hub

import (
	"context"
	"fmt"
	"time"

	"github.com/cogenesis/cogenesis/internal/flock"
)

// lockPoll is how often a waiting process retries the download lock.
const lockPoll = 250 * time.Millisecond

// lockFile takes an exclusive flock on path, creating the file if needed,
// waiting while another process holds it and calling onWait once if it
// must wait. On systems without flock concurrent downloads of the same
// file by two processes are not prevented.
func lockFile(ctx context.Context, path string, onWait func()) (unlock func(), err error) {
	waited := false
	for {
		l, busy, err := flock.TryLock(path, 0o644)
		if err != nil {
			return nil, err
		}
		if l != nil {
			return func() { _ = l.Unlock() }, nil // closing releases the lock; nothing to do about an error
		}
		_ = busy.Close() // only its holder matters
		if !waited {
			waited = true
			onWait()
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for download lock: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
}
