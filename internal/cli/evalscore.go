package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cogenesis/cogenesis/internal/eval"
	"github.com/cogenesis/cogenesis/internal/eval/metrics"
)

const evalScoreUsage = `usage: cogen eval score --predictions FILE --references FILE [--references FILE ...] [--json]

BLEU and ROUGE-L of predictions against references, as Hugging Face evaluate
computes them: evaluate.load("bleu") with its defaults (corpus BLEU, 13a
tokenizer, max_order 4, no smoothing, the brevity penalty against each line's
shortest reference) and evaluate.load("rouge")'s rougeL (rouge_score's
tokenizer, no stemmer; with several references the best F). ROUGE-L is the
mean F over the lines: evaluate's use_aggregator=False gives the same per-line
values (--json lists them), its default bootstrap median is close to the mean
but random. Scores are in [0, 1]; the tables of "cogen eval" show them x 100.

A file named *.jsonl, *.ndjson or *.json is JSON Lines: predictions are a JSON
string or {"prediction": ...} (or {"text": ...}) per line; references a JSON
string, an array of strings (several references), or {"references": [...]}
(or {"reference": ...}, {"text": ...}). Any other file is plain text, one
text per line. Every file has one line per prediction; repeat --references
for several references per prediction, one file per reference set.`

// scoreResult is the output of cogen eval score --json. Its "bleu" object
// has the keys and values of evaluate's bleu.compute.
type scoreResult struct {
	Predictions int `json:"predictions"`
	BLEU        struct {
		BLEU              float64    `json:"bleu"`
		Precisions        [4]float64 `json:"precisions"`
		BrevityPenalty    float64    `json:"brevity_penalty"`
		LengthRatio       float64    `json:"length_ratio"`
		TranslationLength int        `json:"translation_length"`
		ReferenceLength   int        `json:"reference_length"`
	} `json:"bleu"`
	// ROUGEL is the mean rougeL F; ROUGELPerPrediction the F of each line,
	// as evaluate's rouge with use_aggregator=False.
	ROUGEL              float64   `json:"rougeL"`
	ROUGELPerPrediction []float64 `json:"rougeL_per_prediction"`
}

func runEvalScore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval score", flag.ContinueOnError)
	var refFiles stringList
	predFile := fs.String("predictions", "", "predictions: JSON Lines (*.jsonl, *.ndjson, *.json) or plain text, one per line")
	fs.Var(&refFiles, "references", "references, one line per prediction (repeat for several references per prediction)")
	asJSON := fs.Bool("json", false, "print the scores as JSON (evaluate's bleu keys, rougeL and the per-line rougeL F)")
	setUsage(fs, evalScoreUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	hint := "usage: cogen eval score --predictions FILE --references FILE [--json]"
	if *predFile == "" || len(refFiles) == 0 {
		return usagef(hint, "eval score needs --predictions and --references")
	}
	if fs.NArg() > 0 {
		return usagef(hint, "unexpected arguments %q", fs.Args())
	}
	preds, err := eval.ReadPredictions(*predFile)
	if err != nil {
		return err
	}
	if len(preds) == 0 {
		return fmt.Errorf("predictions %s: no lines", *predFile)
	}
	refs := make([][]string, len(preds))
	for _, f := range refFiles {
		r, err := eval.ReadReferences(f)
		if err != nil {
			return err
		}
		if len(r) != len(preds) {
			return fmt.Errorf("predictions %s has %d lines, references %s has %d: the files must align line by line", *predFile, len(preds), f, len(r))
		}
		for i := range r {
			refs[i] = append(refs[i], r[i]...)
		}
	}
	b, err := metrics.BLEU(preds, refs)
	if errors.Is(err, metrics.ErrZeroReferenceLength) {
		return fmt.Errorf("references %s: every line's shortest reference has no token, so BLEU is undefined (evaluate divides by zero): %w", strings.Join(refFiles, ", "), err)
	}
	if err != nil {
		return err
	}
	per, meanF, err := metrics.ROUGELCorpus(preds, refs)
	if err != nil {
		return err
	}
	var res scoreResult
	res.Predictions = len(preds)
	res.BLEU.BLEU, res.BLEU.Precisions, res.BLEU.BrevityPenalty, res.BLEU.LengthRatio = b.BLEU, b.Precisions, b.BrevityPenalty, b.LengthRatio
	res.BLEU.TranslationLength, res.BLEU.ReferenceLength = b.TranslationLength, b.ReferenceLength
	res.ROUGEL = meanF
	for _, s := range per {
		res.ROUGELPerPrediction = append(res.ROUGELPerPrediction, s.F)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	minRefs, maxRefs := len(refs[0]), len(refs[0])
	for _, r := range refs {
		minRefs, maxRefs = min(minRefs, len(r)), max(maxRefs, len(r))
	}
	nrefs := fmt.Sprint(minRefs)
	if maxRefs > minRefs {
		nrefs = fmt.Sprintf("%d to %d", minRefs, maxRefs)
	}
	fmt.Fprintf(stdout, "predictions: %d lines of %s (%s); references per line: %s, from %s\n",
		len(preds), *predFile, fileFormat(*predFile), nrefs, describeFiles(refFiles))
	fmt.Fprintf(stdout, "BLEU     %.4f  precisions %.4f/%.4f/%.4f/%.4f, brevity penalty %.4f, length ratio %.4f (%d tokens, reference length %d)\n",
		b.BLEU, b.Precisions[0], b.Precisions[1], b.Precisions[2], b.Precisions[3], b.BrevityPenalty, b.LengthRatio, b.TranslationLength, b.ReferenceLength)
	fmt.Fprintf(stdout, "ROUGE-L  %.4f  mean F over %d lines\n", meanF, len(preds))
	return nil
}

// fileFormat names how eval score reads path.
func fileFormat(path string) string {
	if eval.IsJSONLines(path) {
		return "JSON Lines"
	}
	return "plain text"
}

// describeFiles writes "a.txt (plain text), b.jsonl (JSON Lines)".
func describeFiles(paths []string) string {
	s := make([]string, len(paths))
	for i, p := range paths {
		s[i] = p + " (" + fileFormat(p) + ")"
	}
	return strings.Join(s, ", ")
}
