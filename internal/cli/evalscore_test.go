//go:build cgo

package cli_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogenesis/cogenesis/internal/cli"
)

// scoreFiles writes the files of a cogen eval score run into a temporary
// directory and returns their paths, by name.
func scoreFiles(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, content := range files {
		paths[name] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[name], []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

type scoreJSON struct {
	Predictions int `json:"predictions"`
	BLEU        struct {
		BLEU              float64    `json:"bleu"`
		Precisions        [4]float64 `json:"precisions"`
		BrevityPenalty    float64    `json:"brevity_penalty"`
		LengthRatio       float64    `json:"length_ratio"`
		TranslationLength int        `json:"translation_length"`
		ReferenceLength   int        `json:"reference_length"`
	} `json:"bleu"`
	ROUGEL              float64   `json:"rougeL"`
	ROUGELPerPrediction []float64 `json:"rougeL_per_prediction"`
}

// TestEvalScore scores, end to end, three predictions (one empty) against
// references from two files, a plain-text one and a JSON Lines one with
// several references on a line, against values worked out by hand.
func TestEvalScore(t *testing.T) {
	f := scoreFiles(t, map[string]string{
		"preds.txt": "the cat sat on the mat\n\na b c d e\n",
		"refs-a.txt": "the cat sat on the mat\n" +
			"one two three four\n" +
			"a b c x e f g h\n",
		"refs-b.jsonl": `["the cat sat on the mat and more", "the cat sat on a rug today"]` + "\n" +
			`{"reference": "one two three four five"}` + "\n" +
			`{"references": "a b x"}` + "\n",
	})
	// BLEU. Line 1 is all in refs-a: 6/6 unigrams, 5/5, 4/4, 3/3.
	// Line 2 is empty. Line 3 "a b c d e" against "a b c x e f g h" (and
	// "a b x"): unigrams a b c e (4/5), bigrams a-b b-c (2/4), trigram
	// a-b-c (1/3), no 4-gram (0/2). Corpus precisions 10/11, 7/9, 5/7, 3/5,
	// geometric mean (1050/3465)^(1/4) = (10/33)^(1/4).
	// Lengths: 6 + 0 + 5 = 11 tokens; the shortest references 6 (not 7
	// or 8), 4 (not 5) and 3 ("a b x", not 8): 13. Ratio 11/13, brevity
	// penalty exp(1 - 13/11) = exp(-2/11).
	//
	// ROUGE-L. Line 1: F 1. Line 2: empty, F 0. Line 3: LCS with refs-a is
	// a b c e (4): P 4/5, R 4/8, F 8/13; with "a b x" LCS 2: P 2/5, R 2/3,
	// F 1/2; the best is 8/13. Mean (1 + 0 + 8/13) / 3 = 7/13.
	var want scoreJSON
	want.Predictions = 3
	want.BLEU.BLEU = math.Pow(10.0/33, 0.25) * math.Exp(-2.0/11)
	want.BLEU.Precisions = [4]float64{10.0 / 11, 7.0 / 9, 5.0 / 7, 3.0 / 5}
	want.BLEU.BrevityPenalty = math.Exp(-2.0 / 11)
	want.BLEU.LengthRatio = 11.0 / 13
	want.BLEU.TranslationLength, want.BLEU.ReferenceLength = 11, 13
	want.ROUGEL = 7.0 / 13
	want.ROUGELPerPrediction = []float64{1, 0, 8.0 / 13}

	out, _, err := run(t, "eval", "score", "--predictions", f["preds.txt"], "--references", f["refs-a.txt"], "--references", f["refs-b.jsonl"], "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got scoreJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}

	// The text output, flags after the subcommand in any order.
	out, _, err = run(t, "eval", "score", "--references", f["refs-a.txt"], "--predictions", f["preds.txt"], "--references", f["refs-b.jsonl"])
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"predictions: 3 lines of " + f["preds.txt"] + " (plain text); references per line: 2 to 3, from " +
			f["refs-a.txt"] + " (plain text), " + f["refs-b.jsonl"] + " (JSON Lines)\n",
		"BLEU     0.6186  precisions 0.9091/0.7778/0.7143/0.6000, brevity penalty 0.8338, length ratio 0.8462 (11 tokens, reference length 13)\n",
		"ROUGE-L  0.5385  mean F over 3 lines\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestEvalScoreErrors(t *testing.T) {
	f := scoreFiles(t, map[string]string{
		"p.txt":     "a b c d\ne f g h\n",
		"r1.txt":    "a b c d\n",
		"r2.jsonl":  `"a b c d"` + "\n" + `{"ref": 1}` + "\n",
		"r3.jsonl":  `"a b c d"` + "\n" + `["x", ` + "\n",
		"r4.txt":    "\n\n",
		"empty.txt": "",
	})
	tests := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"line counts", []string{"--predictions", f["p.txt"], "--references", f["r1.txt"]},
			"predictions " + f["p.txt"] + " has 2 lines, references " + f["r1.txt"] + " has 1: the files must align line by line", false},
		{"object without references", []string{"--predictions", f["p.txt"], "--references", f["r2.jsonl"]},
			f["r2.jsonl"] + `:2: an object without "references", "reference" or "text"`, false},
		{"bad JSON line", []string{"--predictions", f["p.txt"], "--references", f["r3.jsonl"]},
			f["r3.jsonl"] + ":2: unexpected end of JSON input", false},
		{"empty references", []string{"--predictions", f["p.txt"], "--references", f["r4.txt"]},
			"every line's shortest reference has no token", false},
		{"no predictions", []string{"--predictions", f["empty.txt"], "--references", f["r1.txt"]},
			"predictions " + f["empty.txt"] + ": no lines", false},
		{"missing file", []string{"--predictions", f["p.txt"] + ".gone", "--references", f["r1.txt"]}, "p.txt.gone", false},
		{"no references", []string{"--predictions", f["p.txt"]}, "eval score needs --predictions and --references", true},
		{"extra argument", []string{"--predictions", f["p.txt"], "--references", f["r1.txt"], "more"}, `unexpected arguments ["more"]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, append([]string{"eval", "score"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if _, usage := errors.AsType[*cli.UsageError](err); usage != tt.usage {
				t.Errorf("err = %v: usage error %v, want %v", err, usage, tt.usage)
			}
		})
	}
}

// TestEvalScoreHelp: the subcommand's help in every form exits 0 with an
// example, and "cogen eval -h" points to it.
func TestEvalScoreHelp(t *testing.T) {
	for _, args := range [][]string{
		{"eval", "score", "-h"}, {"eval", "score", "--help"}, {"help", "eval", "score"},
		{"eval", "-h"}, {"eval", "--help"}, {"help", "eval"},
	} {
		out, errOut, err := run(t, args...)
		if err != nil {
			t.Errorf("%q: %v", args, err)
			continue
		}
		if text := out + errOut; !strings.Contains(text, "Examples:\n  cogen eval") || !strings.Contains(text, "cogen eval score --predictions") {
			t.Errorf("%q shows no eval score example:\n%s", args, text)
		}
	}
}
