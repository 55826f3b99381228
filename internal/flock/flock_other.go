//go:build !unix

package flock

import (
	"os"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// Supported reports whether this system has file locks.
const Supported = false

// TryLock opens path and takes no lock where the system has no flock: two
// processes are then not kept apart.
func TryLock(path string, perm os.FileMode) (held *Lock, busy *os.File, err error) {
	f, err := regfile.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, nil, err
	}
	return &Lock{File: f}, nil, nil
}
