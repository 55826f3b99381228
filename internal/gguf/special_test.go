//go:build unix

package gguf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// TestOpenSpecialFiles checks that Open refuses what is not a regular
// file, at once: a FIFO (which blocks an ordinary open until a writer
// comes) and /dev/zero (which never ends).
func TestOpenSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.gguf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		deptest.Missing(t, "mkfifo: %v", err)
	}
	tests := []struct {
		name string
		path string
		what string
	}{
		{"fifo", fifo, "named pipe (FIFO)"},
		{"dev zero", "/dev/zero", "character device"},
		{"directory", dir, "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				deptest.Missing(t, "%s: %v", tt.path, err)
			}
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := Open(tt.path)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				// Unblock the open so the goroutine ends.
				if w, werr := os.OpenFile(tt.path, os.O_WRONLY|syscall.O_NONBLOCK, 0); werr == nil {
					w.Close()
				}
				t.Fatalf("Open(%s) still blocked after 5s", tt.path)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Open(%s) took %v", tt.path, d)
			}
			fe, ok := errors.AsType[*FormatError](err)
			if !ok || fe.Path != tt.path || !strings.Contains(err.Error(), tt.what) {
				t.Errorf("Open(%s) error = %v, want a *FormatError naming the path and %q", tt.path, err, tt.what)
			}
		})
	}
}
