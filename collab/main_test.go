//go:build cgo

package collab_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
)

// The package's models are opened once and shared by its tests (each has
// an 8192-token context; opening them for every test cost minutes), and
// the random-weight models are written once.
var shared struct {
	mu     sync.Mutex
	dir    string
	models map[string]*llamacpp.Model
	files  map[string]string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "collab-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	shared.models = map[string]*llamacpp.Model{}
	shared.files = map[string]string{}
	code := m.Run()
	for _, mod := range shared.models {
		mod.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// openShared returns the model at path opened with opts, opening it on
// first use; it stays open until the package's tests end.
func openShared(t testing.TB, path string, opts llamacpp.Options) *llamacpp.Model {
	t.Helper()
	key := fmt.Sprintf("%s %+v", path, opts)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if m, ok := shared.models[key]; ok {
		return m
	}
	m, err := llamacpp.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	shared.models[key] = m
	return m
}

// writeShared writes a random-weight model named name once and returns
// its path.
func writeShared(t testing.TB, name string, o enginetest.Options) string {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if p, ok := shared.files[name]; ok {
		return p
	}
	p := filepath.Join(shared.dir, name)
	if err := enginetest.Write(p, o); err != nil {
		t.Fatal(err)
	}
	shared.files[name] = p
	return p
}
