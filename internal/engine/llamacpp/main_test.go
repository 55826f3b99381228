//go:build cgo

package llamacpp

import (
	"os"
	"testing"
)

// Some tests run llama.cpp in a child process, the test binary run again
// with an environment variable set; TestMain then runs the child's code
// instead of the tests and exits with its status:
//
//   - childEnv: loadChild, for the load tests (gguf_fuzz_test.go);
//   - workerEnv: grammarWorkerMain, for FuzzGrammar and
//     TestGrammarCrashUnsanitized (grammar_fuzz_test.go).
func TestMain(m *testing.M) {
	if list := os.Getenv(childEnv); list != "" {
		os.Exit(loadChild(list))
	}
	if path := os.Getenv(workerEnv); path != "" {
		os.Exit(grammarWorkerMain(path))
	}
	os.Exit(m.Run())
}

// childArgs are the test flags of a child process: TestMain takes the
// child's path before any test runs, and should it not, no test matches.
var childArgs = []string{"-test.run=^$", "-test.count=1"}
