//go:build cgo

package cli_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

// TestBenchEngineThreads checks that cogen bench engine reports the
// threads the engine ran on: the count --threads set, or the default the
// engine chose, never the flag's 0 that means "choose".
func TestBenchEngineThreads(t *testing.T) {
	model := enginetest.SharedModel(t)
	tests := []struct {
		name string
		args []string
		want *regexp.Regexp // the threads line
	}{
		{"default", nil, regexp.MustCompile(`^threads [1-9][0-9]*(-[1-9][0-9]*)? \(the default for a .* model on [1-9][0-9]* physical cores; --threads N sets it\), 1 runs each, median$`)},
		{"--threads", []string{"--threads", "2"}, regexp.MustCompile(`^threads 2 \(--threads\), 1 runs each, median$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, append([]string{"bench", "engine", "--model", model, "--reps", "1", "--prompt", "8", "--decode", "4"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(out, "\n")
			if len(lines) < 2 || !tt.want.MatchString(lines[1]) {
				t.Errorf("output:\n%s\nwant a second line matching %s", out, tt.want)
			}
		})
	}
}
