//go:build unix

package flock_test

import (
	"path/filepath"
	"testing"

	"github.com/cogenesis/cogenesis/internal/flock"
)

func TestTryLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, busy, err := flock.TryLock(path, 0o600)
	if err != nil || l == nil || busy != nil {
		t.Fatalf("first TryLock = %v, %v, %v", l, busy, err)
	}
	if _, err := l.File.WriteString("42\n"); err != nil {
		t.Fatal(err)
	}
	// A second open file description, even in this process, is refused
	// and can read what the holder wrote.
	l2, busy, err := flock.TryLock(path, 0o600)
	if err != nil || l2 != nil || busy == nil {
		t.Fatalf("second TryLock = %v, %v, %v; want busy", l2, busy, err)
	}
	b := make([]byte, 8)
	n, _ := busy.ReadAt(b, 0)
	busy.Close()
	if string(b[:n]) != "42\n" {
		t.Errorf("holder's content %q", b[:n])
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l3, _, err := flock.TryLock(path, 0o600)
	if err != nil || l3 == nil {
		t.Fatalf("TryLock after Unlock = %v, %v", l3, err)
	}
	l3.Unlock()
}
