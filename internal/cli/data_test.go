package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// The dataset package's hand-written fixtures.
var dataFixtures = filepath.Join("..", "dataset", "testdata")

func devData(t *testing.T, name string) string {
	t.Helper()
	p := enginetest.SharedPath("data", "cogenesis", name)
	if _, err := os.Stat(p); err != nil {
		deptest.Missing(t, "real dev data not available (%v): put the shared/ folder beside the repository to run this test", err)
	}
	return p
}

func runDataArgs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runData(t.Context(), args, &out, &errb)
	return out.String(), err
}

func TestDataValidateDevFiles(t *testing.T) {
	ctx, paper, wo := devData(t, "context_dev.json"), devData(t, "paper_dev.json"), devData(t, "paper_dev_wo.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"context", []string{"validate", ctx}, ctx + ": 150 records (context): no problems\n"},
		{"paper with pair", []string{"validate", "--wo", wo, paper}, paper + ": 161 records (paper), paired with " + wo + ": no problems\n"},
		{"flags after the file", []string{"validate", paper, "--kind", "paper", "--wo", wo}, paper + ": 161 records (paper), paired with " + wo + ": no problems\n"},
		{"without-context file", []string{"validate", wo}, wo + ": 161 records (paper, without context): no problems\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runDataArgs(t, tt.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDataValidateCorrupted is the acceptance check: a copy of
// context_dev.json with a missing field, a wrong type, an empty history
// and truncated JSON gets every defect reported with its record index,
// and the command fails.
func TestDataValidateCorrupted(t *testing.T) {
	b, err := os.ReadFile(devData(t, "context_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	tid := func(i int) string { return recs[i]["tid"].(string) }
	delete(recs[3], "conversations")       // missing field
	recs[7]["tid"] = 7                     // wrong type
	recs[11]["profile"] = []any{}          // empty history
	recs[12]["additional_profile"] = 1.5   // wrong type
	delete(recs[40], "additional_profile") // missing field

	var buf bytes.Buffer
	buf.WriteString("[")
	for i, r := range recs[:100] {
		if i > 0 {
			buf.WriteString(",")
		}
		rb, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(rb)
	}
	rb, err := json.Marshal(recs[100])
	if err != nil {
		t.Fatal(err)
	}
	buf.WriteString(",")
	buf.Write(rb[:len(rb)/3]) // truncated in the middle of record 100
	path := filepath.Join(t.TempDir(), "context_corrupt.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := runDataArgs(t, "validate", path)
	if err == nil {
		t.Fatal("validate succeeded on a corrupted file")
	}
	want := []string{
		fmt.Sprintf(`%s: record 3 (tid %s): field "conversations": missing field`, path, tid(3)),
		fmt.Sprintf(`%s: record 7: field "tid": want a string, got a number`, path),
		fmt.Sprintf(`%s: record 11 (tid %s): field "profile": empty writing history`, path, tid(11)),
		fmt.Sprintf(`%s: record 12 (tid %s): field "additional_profile": want a string, got a number`, path, tid(12)),
		fmt.Sprintf(`%s: record 40 (tid %s): field "additional_profile": missing field`, path, tid(40)),
		fmt.Sprintf(`%s: record 100: truncated JSON at byte %d`, path, buf.Len()),
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(out, "\n"), "\n")); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "6 problems") {
		t.Errorf("error %q does not count the 6 problems", err)
	}
}

func TestDataStats(t *testing.T) {
	small := filepath.Join(dataFixtures, "context_small.json")
	tests := []struct {
		name string
		args []string
		want []string // lines the output holds
	}{
		{"text", []string{"stats", small}, []string{"Total Users (one per tid)             3", "Distinct tid Prefixes (group_user)    2", "Records                               3"}},
		{"markdown", []string{"stats", "--markdown", small, filepath.Join(dataFixtures, "paper_small.json")},
			[]string{"| Dataset | context_small.json | paper_small.json |", "| Total Users (one per tid) | 3 | N/A |", "| Distinct Profiles | 3 | N/A |", "| Records | 3 | 2 |"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runDataArgs(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(out, "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || strings.TrimRight(l, " ") == w || strings.HasPrefix(l, w)
				}
				if !found {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestDataLaMP(t *testing.T) {
	q := filepath.Join(dataFixtures, "lamp", "paper_questions.json")
	o := filepath.Join(dataFixtures, "lamp", "paper_outputs.json")
	tests := []struct {
		name  string
		split string
		want  map[string]int // file → records
	}{
		// Two questions are kept (see the dataset package's tests); 9:1 of
		// two keeps one on each side.
		{"train", "train", map[string]int{"paper_train": 1, "paper_validation": 1}},
		{"dev as test", "dev", map[string]int{"paper_test": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out, err := runDataArgs(t, "lamp", "--questions", q, "--outputs", o, "--kind", "paper", "--out", dir, "--split", tt.split)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out, "5 questions: kept 2 (2.0 history items each); dropped 1 without gold output, 1 too short, 1 too long, 0 without history\n") {
				t.Errorf("unexpected report:\n%s", out)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2*len(tt.want) {
				t.Errorf("%d files written, want %d", len(entries), 2*len(tt.want))
			}
			for base, n := range tt.want {
				main, wo := filepath.Join(dir, base+".json"), filepath.Join(dir, base+"_wo.json")
				got, err := runDataArgs(t, "validate", "--wo", wo, main)
				if err != nil {
					t.Fatalf("validate %s: %v\n%s", base, err, got)
				}
				if want := fmt.Sprintf("%s: %d records (paper), paired with %s: no problems\n", main, n, wo); got != want {
					t.Errorf("validate: got %q, want %q", got, want)
				}
			}
		})
	}
}

func TestDataUsageErrors(t *testing.T) {
	small := filepath.Join(dataFixtures, "context_small.json")
	tests := []struct {
		name string
		args []string
	}{
		{"no subcommand", nil},
		{"unknown subcommand", []string{"frob"}},
		{"validate without a file", []string{"validate"}},
		{"validate two files", []string{"validate", small, small}},
		{"validate bad kind", []string{"validate", "--kind", "tweets", small}},
		{"stats without a file", []string{"stats"}},
		{"stats bad ratio", []string{"stats", "--ratio", "0", small}},
		{"lamp without flags", []string{"lamp"}},
		{"lamp bad kind", []string{"lamp", "--questions", "q", "--outputs", "o", "--out", "d", "--kind", "context"}},
		{"lamp bad split", []string{"lamp", "--questions", "q", "--outputs", "o", "--out", "d", "--kind", "paper", "--split", "test"}},
		{"unknown flag", []string{"validate", "--nope", small}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runDataArgs(t, tt.args...)
			if _, ok := errors.AsType[*UsageError](err); !ok {
				t.Errorf("got %v, want a *UsageError", err)
			}
		})
	}
}
