//go:build cgo

package interop_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/deptest"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// cell is one strategy configuration of the matrix.
type cell struct {
	name     string
	strategy collab.Strategy
	fusion   fusion.Method
}

var cells = []cell{
	{"llm", collab.LLM, ""},
	{"sketch", collab.Sketch, ""},
	{"sketch-full", collab.SketchFull, ""},
	{"logits (mean)", collab.Logits, fusion.Mean},
	{"logits (max)", collab.Logits, fusion.Max},
	{"speculative", collab.Speculative, ""},
	{"llm-context (opt-in)", collab.LLMContext, ""},
}

// wantUnsupported is the matrix's expectation: the cells that must be
// unsupported, with the capability they must name. Every other cell must
// be ok.
var wantUnsupported = map[string]map[string]openaiapi.Capability{
	"llama-server": {"speculative": openaiapi.CapSequenceTopK},
	"ollama":       {"speculative": openaiapi.CapSequenceTopK},
}

// TestMatrix runs every strategy against every server kind on dev records,
// through the egress with the record's guard, and checks the audit log
// after each run. A cell is ok, or unsupported with the missing capability
// named before any request was sent; any other error fails the test. The
// table is logged, and written to $COGEN_INTEROP_MATRIX when set.
func TestMatrix(t *testing.T) {
	recs := devRecords(t)
	slm := engineModel(t, enginetest.SharedModel(t), llamacpp.Options{ContextSize: 8192, Threads: 1, Parallel: 2})
	results := map[string]map[string]string{}
	for _, name := range serverNames {
		results[name] = map[string]string{}
		t.Run(name, func(t *testing.T) {
			s := startServer(t, name)
			grant := egress.AllowPrivate("test: llm-context cell")
			cloud, log := dial(t, s, slm.Detokenize, grant)
			for _, c := range cells {
				results[name][c.name] = runCell(t, s, cloud, log, grant, slm, recs, c)
			}
			if un := cloud.Unmapped(); un.Queries > 0 {
				t.Logf("%s: %d next-token queries answered by text; %d of %d candidates unmapped (mass %.2f), %d prefixes retokenized differently",
					name, un.Queries, un.Unmapped, un.Candidates, un.Mass, un.Retokenized)
			}
		})
	}
	table := renderMatrix(results)
	t.Logf("server × strategy (%d dev record(s) per cell):\n%s", matrixRecords, table)
	if out := os.Getenv("COGEN_INTEROP_MATRIX"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// devRecords returns the records of context_dev.json.
func devRecords(t testing.TB) []privacy.Record {
	t.Helper()
	recs, err := privacy.LoadContextFile(enginetest.SharedPath("data", "cogenesis", "context_dev.json"))
	if err != nil {
		deptest.Missing(t, "dev data not available: %v", err)
	}
	return recs
}

// devRecord returns one dev record.
func devRecord(t testing.TB) privacy.Record { return devRecords(t)[3] }

// runCell runs c on matrixRecords dev records and returns the cell's
// entry: "ok", or "unsupported: CAPABILITY".
func runCell(t *testing.T, s *server, cloud *collab.Cloud, log *audit.Log, grant *egress.Grant, slm *llamacpp.Model, recs []privacy.Record, c cell) string {
	t.Helper()
	result := "ok"
	for i := range matrixRecords {
		rec := recs[i*len(recs)/matrixRecords]
		r := &collab.Runner{SLM: collab.Engine(slm), Cloud: cloud, Guard: privacy.NewGuard(rec.Vault)}
		if c.strategy == collab.LLMContext {
			r.Private = grant
		}
		before := len(readRecords(t, log))
		res, err := r.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{
			Strategy: c.strategy, Fusion: c.fusion, MaxTokens: 8, CloudMaxTokens: 8, TopK: 10,
			Sample: sample.Params{Temperature: 0.8, Seed: uint64(i + 1)},
		})
		after := readRecords(t, log)
		sent := after[before:]
		var un *openaiapi.UnsupportedError
		switch {
		case err == nil:
		case errors.As(err, &un):
			if len(sent) != 0 {
				t.Errorf("%s / %s: unsupported (%v) after %d requests: it must be known before any", s.name, c.name, err, len(sent))
			}
			if want := wantUnsupported[s.name][c.name]; want != un.Capability {
				t.Errorf("%s / %s: unsupported %q, want %q", s.name, c.name, un.Capability, orOK(want))
			}
			return "unsupported: " + string(un.Capability)
		default:
			t.Errorf("%s / %s record %d: %v", s.name, c.name, i, err)
			return "FAIL: " + firstLine(err.Error())
		}
		if want := wantUnsupported[s.name][c.name]; want != "" {
			t.Errorf("%s / %s: ran, but the matrix says unsupported: %s", s.name, c.name, want)
		}
		if res.CloudCalls == 0 || len(sent) == 0 {
			t.Errorf("%s / %s: %d cloud calls, %d audit records: the cloud was not used", s.name, c.name, res.CloudCalls, len(sent))
		}
		verdicts := []string{audit.VerdictAllow, audit.VerdictRedact}
		if c.strategy == collab.LLMContext {
			verdicts = []string{audit.VerdictPrivate}
		}
		checkRecords(t, sent, string(c.strategy), verdicts...)
		if strings.TrimSpace(res.Text) == "" && c.strategy != collab.LLM && c.strategy != collab.LLMContext {
			t.Logf("%s / %s record %d: empty text (random-weight models may end at once)", s.name, c.name, i)
		}
	}
	if _, err := audit.VerifyFile(log.Path()); err != nil {
		t.Errorf("%s / %s: audit log: %v", s.name, c.name, err)
	}
	return result
}

func readRecords(t testing.TB, log *audit.Log) []audit.Record {
	t.Helper()
	recs, err := audit.Read(log.Path())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func orOK(c openaiapi.Capability) string {
	if c == "" {
		return "ok"
	}
	return string(c)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// renderMatrix renders the results as a Markdown table, servers as rows.
func renderMatrix(results map[string]map[string]string) string {
	var b strings.Builder
	b.WriteString("| server |")
	for _, c := range cells {
		fmt.Fprintf(&b, " %s |", c.name)
	}
	b.WriteString("\n|---|")
	for range cells {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, name := range serverNames {
		fmt.Fprintf(&b, "| %s |", name)
		for _, c := range cells {
			v := results[name][c.name]
			if v == "" {
				v = "not run"
			}
			fmt.Fprintf(&b, " %s |", v)
		}
		b.WriteString("\n")
	}
	return b.String()
}
