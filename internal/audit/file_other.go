//go:build !unix

package audit

// syncDir does nothing where directories cannot be synced.
func syncDir(dir string) error { return nil }
