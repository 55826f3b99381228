package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// writeFile writes content to name in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadPredictions(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []string
	}{
		{"plain", "p.txt", "a b\n\nc\n", []string{"a b", "", "c"}},
		{"plain without final newline", "p.txt", "a\nb", []string{"a", "b"}},
		{"plain CRLF and BOM", "p", "\ufeffa\r\nb\r\n", []string{"a", "b"}},
		// A plain-text file is read as is, quotes and all.
		{"plain JSON-looking", "p.txt", `"a"` + "\n", []string{`"a"`}},
		{"one empty line", "p.txt", "\n", []string{""}},
		{"empty file", "p.txt", "", nil},
		{"jsonl strings", "p.jsonl", `"a \"q\"\nb"` + "\n" + `""` + "\n", []string{"a \"q\"\nb", ""}},
		{"jsonl objects", "p.ndjson", `{"id": 1, "prediction": "a"}` + "\n" + `{"text": "b"}` + "\n" + `{"prediction": "c", "text": "x"}`,
			[]string{"a", "b", "c"}},
		{"json extension", "P.JSON", ` "a" ` + "\r\n", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPredictions(writeFile(t, tt.file, tt.content))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadReferences(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                [][]string
	}{
		{"plain", "r.txt", "a\nb c\n", [][]string{{"a"}, {"b c"}}},
		{"jsonl forms", "r.jsonl", strings.Join([]string{
			`"a"`,
			`["b", "c"]`,
			`{"references": ["d", "e", ""]}`,
			`{"references": "f"}`,
			`{"reference": "g"}`,
			`{"text": "h"}`,
			`{"references": ["i"], "reference": "x", "text": "y"}`,
		}, "\n"), [][]string{{"a"}, {"b", "c"}, {"d", "e", ""}, {"f"}, {"g"}, {"h"}, {"i"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadReferences(writeFile(t, tt.file, tt.content))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadTextErrors: a bad JSON line is an error naming the file and the
// line, and never the line's text.
func TestReadTextErrors(t *testing.T) {
	const secret = "Dr Ruth Okafor"
	tests := []struct {
		name       string
		references bool
		content    string
		want       string // after "FILE:"
	}{
		{"bad JSON", false, `"ok"` + "\n" + `"` + secret + "\n", "2: unexpected end of JSON input"},
		{"trailing text", false, `"` + secret + `" x`, "1: invalid character 'x' after top-level value"},
		{"number", false, "42\n", `1: want a JSON string, or an object with a "prediction" or "text" string`},
		{"object without field", false, `{"answer": "` + secret + `"}`, `1: an object without a "prediction" or "text" string`},
		{"field of the wrong type", false, `{"prediction": ["` + secret + `"]}`, "1: json: cannot unmarshal array into Go struct field .prediction of type string"},
		{"empty line", false, `"a"` + "\n\n" + `"b"`, "2: an empty line (JSON Lines has one JSON value on every line)"},
		{"empty reference list", true, `"a"` + "\n[]\n", "2: an empty list of references"},
		{"empty references field", true, `{"references": []}`, "1: an empty list of references"},
		{"reference object without field", true, `{"ref": "` + secret + `"}`, `1: an object without "references", "reference" or "text"`},
		{"null", true, "null", `1: want a JSON string, an array of strings, or an object with "references", "reference" or "text"`},
		{"mixed array", true, `["a", 3]`, "1: json: cannot unmarshal number into Go value of type string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "f.jsonl", tt.content)
			var err error
			if tt.references {
				_, err = ReadReferences(path)
			} else {
				_, err = ReadPredictions(path)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if want := path + ":" + tt.want; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q holds the line's text", err)
			}
		})
	}
	if _, err := ReadPredictions(filepath.Join(t.TempDir(), "missing.txt")); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: %v", err)
	}
}
