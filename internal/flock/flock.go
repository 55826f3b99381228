// Package flock takes the exclusive advisory file locks that keep two
// cogen processes from writing the same thing at once (an audit log, a
// model download). The kernel drops a lock when its holder exits, so a
// crashed process never leaves a stale lock. A lock file stays in place
// after use: removing it would race with a process that has just opened
// it.
package flock

import "os"

// Lock is a held lock: its file, open, which the holder may write (a pid)
// and read.
type Lock struct {
	File *os.File
}

// Unlock releases the lock by closing its file.
func (l *Lock) Unlock() error { return l.File.Close() }
