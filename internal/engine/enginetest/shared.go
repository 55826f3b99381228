package enginetest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// SharedModelName is the real pretrained tiny model that ../shared/models
// beside the repository holds.
const SharedModelName = "aidreams260K.gguf"

// SharedModel returns the path of ../shared/models/aidreams260K.gguf beside
// the repository, or skips t with a clear message when it is absent (a
// fresh checkout has no ../shared).
func SharedModel(t testing.TB) string {
	t.Helper()
	p := SharedPath("models", SharedModelName)
	if _, err := os.Stat(p); err != nil {
		deptest.Missing(t, "real test model not available (%v): put the shared/ folder beside the repository to run this test", err)
	}
	return p
}

// SharedPath returns the path of a file under ../shared beside the
// repository root.
func SharedPath(elem ...string) string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	return filepath.Join(append([]string{root, "..", "shared"}, elem...)...)
}
