package llamacpp

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
)

// Finish reasons, as the OpenAI protocol names them.
const (
	FinishStop   = "stop"   // an end-of-generation token or a stop string
	FinishLength = "length" // MaxTokens reached or the context is full
)

// GenerateOptions configures [Sequence.Generate].
type GenerateOptions struct {
	Sample sample.Params
	// MaxTokens bounds the generated tokens; 0 means until an
	// end-of-generation token, a stop string or a full context.
	MaxTokens int
	// Stop ends generation at the first occurrence of any of these strings;
	// the stop string itself is not part of the output.
	Stop []string
	// TopLogprobs, when > 0, reports each generated token's log-probability
	// and that many alternatives (under the raw model distribution, before
	// temperature and filtering).
	TopLogprobs int
	// Logprobs reports each token's log-probability without alternatives.
	Logprobs bool
	// Grammar, when set, constrains the output to this GBNF grammar
	// (see [SchemaToGrammar] for JSON schemas).
	Grammar string
}

// constraint masks the tokens a grammar forbids.
type constraint interface {
	mask(logits []float32)
	accept(tok int32)
	free()
}

// Token is one generated token and the text it completes. Text is what
// becomes visible with this token: it can be empty (a partial UTF-8
// sequence, or text held back because it may start a stop string) or hold
// text of earlier tokens.
type Token struct {
	ID       int32
	Text     string
	Logprob  *llm.TokenLogprob
	Position int
}

// Result summarises a generation.
type Result struct {
	Tokens       []int32
	Text         string
	FinishReason string
	// Usage counts the prompt and the generated tokens; an
	// end-of-generation token that ended the generation is counted,
	// though Tokens leaves it out.
	Usage llm.Usage
}

// Generate appends prompt to the sequence and samples up to
// opts.MaxTokens tokens, calling yield for each (yield may be nil). It
// checks ctx before every token, so cancellation stops it within one token.
// A prompt that does not fit the context is an error wrapping
// [ErrContextFull]; running out of context while generating ends with
// [FinishLength]. Afterwards the sequence holds the prompt and every
// generated token but the last, which was sampled but not decoded.
func (s *Sequence) Generate(ctx context.Context, prompt []int32, opts GenerateOptions, yield func(Token) error) (Result, error) {
	if err := opts.Sample.Validate(); err != nil {
		return Result{}, err
	}
	m := s.Model()
	if err := s.Append(ctx, prompt); err != nil {
		return Result{}, fmt.Errorf("evaluate prompt: %w", err)
	}
	if s.Logits() == nil {
		return Result{}, fmt.Errorf("generate: empty sequence and empty prompt")
	}
	res := Result{Usage: llm.Usage{PromptTokens: len(prompt)}}
	eog := 0 // 1 when an end-of-generation token ended the generation
	smp := sample.New(opts.Sample)
	var gram constraint
	var masked []float32
	if opts.Grammar != "" {
		g, err := m.newGrammar(opts.Grammar)
		if err != nil {
			return Result{}, err
		}
		defer g.free()
		gram = g
		masked = make([]float32, m.VocabSize())
	}
	var text strings.Builder // all visible text so far
	var pending []byte       // decoded but not yet visible
	hold := 0
	for _, st := range opts.Stop {
		hold = max(hold, len(st))
	}
	emit := func(tok int32, lp *llm.TokenLogprob, final bool) (stop bool, err error) {
		vis, rest, stopped := visible(pending, opts.Stop, hold, final)
		pending = rest
		text.WriteString(vis)
		if yield != nil {
			if err := yield(Token{ID: tok, Text: vis, Logprob: lp, Position: len(res.Tokens) - 1}); err != nil {
				return false, err
			}
		}
		return stopped, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			res.Text = text.String()
			return res, err
		}
		raw := s.Logits()
		logits := raw
		if gram != nil {
			copy(masked, logits)
			gram.mask(masked)
			if math.IsInf(float64(masked[sample.Argmax(masked)]), -1) {
				return res, fmt.Errorf("generate: grammar allows no token after %d tokens", len(res.Tokens))
			}
			logits = masked
		}
		tok := smp.Sample(logits)
		if gram != nil {
			gram.accept(tok)
		}
		var lp *llm.TokenLogprob
		if opts.Logprobs || opts.TopLogprobs > 0 {
			l, rank, top := logprobs(raw, tok, opts.TopLogprobs)
			lp = &llm.TokenLogprob{Token: tok, Logprob: l, Rank: rank, Top: top}
		}
		if m.IsEOG(tok) {
			res.FinishReason = FinishStop
			eog = 1
			if _, err := emit(tok, lp, true); err != nil {
				return res, err
			}
			break
		}
		res.Tokens = append(res.Tokens, tok)
		pending = m.AppendPiece(pending, tok)
		full := opts.MaxTokens > 0 && len(res.Tokens) >= opts.MaxTokens
		ctxFull := s.Len()+1 > m.ContextSize()
		stopped, err := emit(tok, lp, full || ctxFull)
		if err != nil {
			return res, err
		}
		if stopped {
			res.FinishReason = FinishStop
			break
		}
		if full || ctxFull {
			res.FinishReason = FinishLength
			break
		}
		if err := s.Append(ctx, []int32{tok}); err != nil {
			res.Text = text.String()
			return res, err
		}
	}
	res.Text = text.String()
	// The end-of-generation token was generated too: it is counted, as
	// OpenAI's and vLLM's servers count it, though Tokens leaves it out.
	res.Usage.CompletionTokens = len(res.Tokens) + eog
	res.Usage.TotalTokens = res.Usage.PromptTokens + res.Usage.CompletionTokens
	return res, nil
}

// visible splits pending output into the text that can be shown now and the
// rest to hold back: a stop string ends the output (stopped), a suffix that
// may begin a stop string or an incomplete UTF-8 sequence waits for more
// tokens, unless final.
func visible(pending []byte, stops []string, hold int, final bool) (vis string, rest []byte, stopped bool) {
	cut := -1
	for _, st := range stops {
		if st == "" {
			continue
		}
		if i := strings.Index(string(pending), st); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		return string(pending[:cut]), nil, true
	}
	if final {
		return string(pending), nil, false
	}
	n := len(pending)
	// Hold back a suffix that is a prefix of some stop string.
	for k := min(hold-1, n); k > 0; k-- {
		suffix := string(pending[n-k:])
		found := false
		for _, st := range stops {
			if strings.HasPrefix(st, suffix) {
				found = true
				break
			}
		}
		if found {
			n -= k
			break
		}
	}
	// Hold back an incomplete UTF-8 sequence.
	for k := 1; k <= 3 && k <= n; k++ {
		if utf8.RuneStart(pending[n-k]) {
			if !utf8.FullRune(pending[n-k : n]) {
				n -= k
			}
			break
		}
	}
	return string(pending[:n]), append([]byte(nil), pending[n:]...), false
}
