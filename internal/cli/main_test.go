package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/cogenesis/cogenesis/internal/cli"
)

// Some tests run the test binary again as a child process, with one of
// these variables set; TestMain then runs the child's code instead of the
// tests and exits with its status.
const (
	// synthHelperEnv=1 runs cli.Run with the JSON-encoded arguments in
	// synthArgsEnv (the child of TestSynthResumeAfterSIGKILL).
	synthHelperEnv = "COGEN_SYNTH_HELPER"
	synthArgsEnv   = "COGEN_SYNTH_ARGS"
	// evalHelperEnv=1 runs "cogen eval --config" with the config file in
	// evalConfigEnv (the child of TestEvalResumeAfterSIGKILL).
	evalHelperEnv = "COGEN_EVAL_HELPER"
	evalConfigEnv = "COGEN_EVAL_CONFIG"
)

// childArgs are the test flags of a child process: TestMain takes the
// child's path before any test runs, and should it not, no test matches.
var childArgs = []string{"-test.run=^$", "-test.count=1"}

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(synthHelperEnv) == "1":
		os.Exit(synthChild())
	case os.Getenv(evalHelperEnv) == "1":
		os.Exit(evalChild())
	}
	// Nothing a test runs writes to the real per-user data directory
	// (the vault, the saved context states): each package run gets its
	// own, which child processes inherit.
	dir, err := os.MkdirTemp("", "cogen-cli-data-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// synthChild is the child of TestSynthResumeAfterSIGKILL: one cli.Run.
func synthChild() int {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(synthArgsEnv)), &args); err != nil {
		fmt.Fprintf(os.Stderr, "synth child: %s: %v\n", synthArgsEnv, err)
		return 1
	}
	return runChild(args)
}

// evalChild is the child of TestEvalResumeAfterSIGKILL.
func evalChild() int {
	return runChild([]string{"eval", "--config", os.Getenv(evalConfigEnv)})
}

// runChild runs the command line; the parent kills the process or lets it
// finish, it never cancels it.
func runChild(args []string) int {
	if err := cli.Run(context.Background(), args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "child %v: %v\n", args, err)
		return 1
	}
	return 0
}
