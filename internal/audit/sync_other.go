//go:build !linux

package audit

import "os"

// datasync flushes f to stable storage (fsync; fdatasync is Linux only).
func datasync(f *os.File) error { return f.Sync() }
