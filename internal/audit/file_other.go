//go:build !unix

package audit

// lockFile does nothing on systems without flock: two processes appending
// to the same log are then not prevented, and the second breaks the chain.
func lockFile(path, log string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}

// syncDir does nothing where directories cannot be synced.
func syncDir(dir string) error { return nil }
