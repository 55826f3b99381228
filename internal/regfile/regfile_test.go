//go:build unix

package regfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

func TestSpecialFilesRefusedAtOnce(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, kind string }{
		{fifo, "named pipe"},
		{"/dev/zero", "character device"},
		{"/dev/null", "character device"},
		{dir, "directory"},
	} {
		done := make(chan error, 2)
		go func() {
			_, err := regfile.Open(tt.path)
			done <- err
			_, err = regfile.ReadFile(tt.path, 1<<20)
			done <- err
		}()
		for range 2 {
			select {
			case err := <-done:
				if !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), tt.kind) || !strings.Contains(err.Error(), tt.path) {
					t.Errorf("%s: err = %v, want ErrNotRegular naming the path and %q", tt.path, err, tt.kind)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: open blocked", tt.path)
			}
		}
	}
}

func TestReadFileCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := regfile.ReadFile(path, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("ReadFile at the cap = %q, %v", b, err)
	}
	if _, err := regfile.ReadFile(path, 9); !errors.Is(err, regfile.ErrTooLarge) || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadFile past the cap: err = %v, want ErrTooLarge naming the file", err)
	}
	if _, err := regfile.ReadFile(filepath.Join(t.TempDir(), "missing"), 9); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}
