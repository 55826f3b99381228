//go:build cgo

package interop_test

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
	"github.com/cogenesis/cogenesis/tokmap"
)

// parityTol is the largest difference allowed between a log-probability a
// server reports and the engine's own for the same model and prefix.
const parityTol = 1e-3

// dial returns a cloud client for s built as the CLI builds one: through
// the egress, with the generic guard (a run brings its own) and an audit
// log in the test's directory, holding grant when it is not nil (for
// llm-context).
func dial(t testing.TB, s *server, detok func([]int32) string, grant *egress.Grant) (*collab.Cloud, *audit.Log) {
	t.Helper()
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: log, Guard: privacy.NewGuard(nil), Detokenize: detok, Private: grant},
		openaiapi.Config{BaseURL: s.url, Kind: s.kind, Model: s.model})
	if err != nil {
		t.Fatal(err)
	}
	return collab.NewCloud(c), log
}

// logSoftmax returns the log-probabilities of logits.
func logSoftmax(logits []float32) []float64 {
	z := sample.LogSumExp(logits)
	out := make([]float64, len(logits))
	for i, l := range logits {
		out[i] = float64(l) - z
	}
	return out
}

// parityPrefixes returns three token prefixes of the cloud model: two
// plain texts, and one after which the engine's most likely next token is
// a byte or partial UTF-8 token (the case llama-server withholds and Ollama
// renders as U+FFFD). It fails if the model has no such prefix among the
// texts tried.
func parityPrefixes(t *testing.T, m *llamacpp.Model, invalid []int32) [][]int32 {
	t.Helper()
	tok := func(s string) []int32 {
		ids, err := m.Tokenize(s, true, false)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	prefixes := [][]int32{tok("Once upon a time"), tok("The quick brown fox jumps over the lazy dog.")}
	seq, err := m.NewSequence(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	words := strings.Fields("Lily and her mom went to the park to see the big red ball and the little dog ran fast Zürich naïve café 東京 Tom had a cat named Max who liked to eat fish every day after school")
	var fallback []int32
	for n := 1; n <= len(words); n++ {
		for _, text := range []string{strings.Join(words[:n], " "), strings.Join(words[len(words)-n:], " ")} {
			ids := tok(text)
			if err := seq.Truncate(t.Context(), 0); err != nil {
				t.Fatal(err)
			}
			if err := seq.Append(t.Context(), ids); err != nil {
				t.Fatal(err)
			}
			top := seq.NextTopK(1)
			if len(top) != 1 || !slices.Contains(invalid, top[0].Token) {
				continue
			}
			piece := m.Piece(top[0].Token)
			if partialUTF8(piece) {
				t.Logf("prefix %q: the engine's most likely next token %d (%q) starts a multi-byte character it does not finish", text, top[0].Token, piece)
				return append(prefixes, ids)
			}
			if fallback == nil {
				fallback = ids
			}
		}
	}
	if fallback != nil {
		t.Logf("no prefix before a partial character; using one before an invalid byte")
		return append(prefixes, fallback)
	}
	t.Fatal("no prefix whose most likely next token is a partial UTF-8 token: the test lost its hard case")
	return nil
}

// partialUTF8 reports whether s ends in the lead of a multi-byte UTF-8
// sequence that it does not finish (what llama-server's validate_utf8
// withholds).
func partialUTF8(s string) bool {
	for i := 1; i <= 4 && i <= len(s); i++ {
		c := s[len(s)-i]
		switch {
		case c&0xE0 == 0xC0:
			return i < 2
		case c&0xF0 == 0xE0:
			return i < 3
		case c&0xF8 == 0xF0:
			return i < 4
		}
	}
	return false
}

// TestTopKParity compares the top-k log-probabilities that llama-server
// and Ollama report for three prefixes with the in-process engine's for the
// same GGUF, at the same KV cache type: F32 for llama-server (-ctk/-ctv
// f32) and the engine's precise mode; F16 for Ollama, which has no F32
// cache, and the engine with its default F16 cache. Flash attention is
// off on every side. Every candidate a
// server names must be within parityTol of the engine's log-probability of
// that token; Ollama's candidates that cannot be mapped to one id are
// counted, and their mass checked against the engine's on its top tokens
// that text cannot name.
func TestTopKParity(t *testing.T) {
	path := cloudModel(t)
	const k = 10
	for _, name := range []string{"llama-server", "ollama"} {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, name)
			o := llamacpp.Options{ContextSize: cloudContext, Threads: 1, Parallel: 1, Precise: s.kv == "f32", FlashAttention: "off"}
			m := engineModel(t, path, o)
			tm := tokmap.New(m)
			prefixes := parityPrefixes(t, m, tm.Invalid())
			c, log := dial(t, s, m.Detokenize, nil)
			c.UseVocab(collab.Engine(m))
			g := privacy.NewGuard(nil)
			seq, err := m.NewSequence(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer seq.Close()
			var worst float64
			for i, ids := range prefixes {
				if err := seq.Truncate(t.Context(), 0); err != nil {
					t.Fatal(err)
				}
				if err := seq.Append(t.Context(), ids); err != nil {
					t.Fatal(err)
				}
				want := logSoftmax(seq.Logits())
				pt, leak := g.PublicTokens(ids, m.Detokenize)
				if leak != nil {
					t.Fatal(leak)
				}
				before := c.Unmapped()
				got, err := c.NextTopK(t.Context(), pt, k)
				if err != nil {
					t.Fatalf("prefix %d: %v", i, err)
				}
				un := c.Unmapped()
				un.Unmapped -= before.Unmapped
				un.Mass -= before.Mass
				if len(got)+un.Unmapped != k {
					t.Errorf("prefix %d: %d candidates mapped + %d unmapped, want %d", i, len(got), un.Unmapped, k)
				}
				for _, cand := range got {
					d := math.Abs(cand.Logprob - want[cand.Token])
					worst = max(worst, d)
					if d > parityTol {
						t.Errorf("prefix %d token %d (%q): server %.6f, engine %.6f (|Δ| %.2g > %g)", i, cand.Token, m.Piece(cand.Token), cand.Logprob, want[cand.Token], d, parityTol)
					}
				}
				// The server's candidates are the engine's top k, up to
				// ties at the edge and the unmapped ones.
				eng := sample.TopK(nil, seq.Logits(), k)
				edge := want[eng[len(eng)-1].Token]
				var wantMass float64 // the engine's mass on its top tokens that text cannot name
				for _, e := range eng {
					id := e.Token
					in := slices.ContainsFunc(got, func(c2 llm.TopLogprob) bool { return c2.Token == id })
					switch {
					case in:
					case !tm.Named(id) && un.Unmapped > 0:
						wantMass += math.Exp(want[id])
					case math.Abs(want[id]-edge) <= parityTol:
					default:
						t.Errorf("prefix %d: the engine's top-%d token %d (%q, %.4f) is missing from the server's answer", i, k, id, m.Piece(id), want[id])
					}
				}
				if un.Unmapped > 0 {
					t.Logf("prefix %d: %d of %d candidates unmapped (byte tokens, shown as U+FFFD or as the character a regular token also has), mass %.4f (the engine's, on those of its top %d: %.4f)", i, un.Unmapped, k, un.Mass, k, wantMass)
					if math.Abs(un.Mass-wantMass) > 10*parityTol {
						t.Errorf("prefix %d: unmapped mass %.4f, but the engine gives its unnameable top tokens %.4f", i, un.Mass, wantMass)
					}
				}
			}
			t.Logf("%s (KV %s) vs engine: max |Δ logprob| %.2g over %d prefixes, top %d; unmapped so far: %+v", name, s.kv, worst, len(prefixes), k, c.Unmapped())
			checkAudit(t, log, len(prefixes))
		})
	}
}
