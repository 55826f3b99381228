package collab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// logits is per-token fusion (DESIGN §4): at every step the local model's
// full distribution q (with context) is fused with the cloud's completed
// top-K distribution p_l (public prompt + tokens so far), and the next
// token is drawn from p_c.
func (r *Runner) logits(ctx context.Context, res Result, public privacy.Public, system, private string, o Options) (Result, error) {
	return r.fuse(ctx, res, public, system, private, o, false)
}

// fuse runs logit fusion, per token or (blocks) speculative, through the
// fuser.
func (r *Runner) fuse(ctx context.Context, res Result, public privacy.Public, system, private string, o Options, blocks bool) (Result, error) {
	if err := r.sameTokenizer(ctx); err != nil {
		return res, err
	}
	slmPrompt, prefix, err := r.privateTokens(system, private)
	if err != nil {
		return res, err
	}
	cloudPrompt, err := r.publicChatTokens(privacy.PublicConst(systemWithout), public)
	if err != nil {
		return res, err
	}
	seq, release, err := r.loaded(ctx, slmPrompt, prefix)
	if err != nil {
		return res, err
	}
	ok := false
	defer func() { release(ok) }()

	f := newFuser(o)
	f.seq, f.cloud, f.guard, f.voc, f.prompt, f.log = seq, r.Cloud, r.Guard, r.SLM, cloudPrompt, r.logger()
	f.pick = seeded{sample.New(o.Sample)}
	f.blocks = blocks
	if blocks && !o.NoProxy {
		// The local stand-in for the cloud: the local model on the public
		// prompt. Drafting from the fusion of q with it, rather than from
		// q alone, brings the draft close to p_c when the cloud resembles
		// the local model; exactness holds for any draft distribution.
		p, releaseProxy, _, got, err := r.SLM.Load(ctx, cloudPrompt.IDs(), false)
		if err != nil {
			return res, err
		}
		if got {
			f.proxy = p
			defer func() { releaseProxy(ok) }()
		} else {
			r.logger().Debug("speculative fusion: no second local sequence for the cloud stand-in; drafting from the local model alone")
		}
	}
	name := Logits
	if blocks {
		name = Speculative
	}
	var tr *Trace
	if o.Trace {
		tr = &Trace{Strategy: string(name), Fusion: string(o.Fusion), Schedule: o.Schedule.String(), CloudStopped: -1}
		res.Trace = tr
	}
	st := newStreamer(o.OnToken)
	var piece []byte
	f.emit = func(e emitted) {
		if tr != nil {
			e.Text = r.SLM.Piece(e.Token)
			e.SLM = r.topChoices(e.q, 3)
			for i, t := range e.top {
				if i == 3 {
					break
				}
				e.Cloud = append(e.Cloud, Choice{Token: t.Token, Text: r.SLM.Piece(t.Token), Prob: math.Exp(t.Logprob)})
			}
			tr.Steps = append(tr.Steps, e.Step)
		}
		if st != nil {
			piece = r.SLM.AppendPiece(piece[:0], e.Token)
			st.bytes(piece, e.W, e.Consulted)
		}
	}
	err = f.run(ctx)
	res.CloudCalls = f.calls
	if tr != nil {
		tr.CloudCalls, tr.CloudStopped = f.calls, f.stoppedAt
	}
	if err != nil {
		return res, err
	}
	st.flush()
	res.Text = strings.TrimSpace(r.SLM.Detokenize(f.generated))
	res.Tokens = f.generated
	if blocks {
		res.Spec = &f.stats
	}
	ok = true
	res.Usage = llm.Usage{PromptTokens: len(slmPrompt), CompletionTokens: len(f.generated), TotalTokens: len(slmPrompt) + len(f.generated)}
	return res, nil
}

// maxWeight reports the share of the max-fused mass that comes from the
// local model, for the trace.
func maxWeight(q, pl []float64) float64 {
	var fromQ, total float64
	for i := range q {
		m := max(q[i], pl[i])
		total += m
		if q[i] >= pl[i] {
			fromQ += m
		}
	}
	return fromQ / total
}

func (r *Runner) topChoices(p []float64, n int) []Choice {
	f := make([]float32, len(p))
	for i, x := range p {
		f[i] = float32(x)
	}
	var out []Choice
	for _, c := range sample.TopK(nil, f, n) {
		out = append(out, Choice{Token: c.Token, Text: r.SLM.Piece(c.Token), Prob: float64(c.Score)})
	}
	return out
}

// publicChatTokens renders a public system and user turn with the chat
// template both models share and tokenizes it; the result is public.
func (r *Runner) publicChatTokens(system, user privacy.Public) (privacy.PublicTokens, error) {
	text, err := r.SLM.RenderChat([]llm.Message{{Role: llm.RoleSystem, Content: system.String()}, {Role: llm.RoleUser, Content: user.String()}}, true)
	if err != nil {
		return privacy.PublicTokens{}, err
	}
	ids, err := r.SLM.Tokenize(text, false, true)
	if err != nil {
		return privacy.PublicTokens{}, err
	}
	pt, leak := r.Guard.PublicTokens(ids, r.SLM.Detokenize)
	if leak != nil {
		return privacy.PublicTokens{}, fmt.Errorf("public prompt: %w", leak)
	}
	return pt, nil
}

// tokenizerProbe is public text with letters, digits, accents, CJK and an
// emoji, for checking that two tokenizers agree.
const tokenizerProbe = "The quick brown fox jumps over the lazy dog. 0123456789 Zürich naïve 東京 🙂\n\tEnd."

// sameTokenizer checks, once per runner, that the cloud tokenizes like the
// local model (see [CheckTokenizer]); a cloud it cannot check is trusted
// with a logged notice.
func (r *Runner) sameTokenizer(ctx context.Context) error {
	r.tokOnce.Do(func() {
		checked, err := CheckTokenizer(ctx, r.Cloud, r.SLM)
		switch {
		case errors.Is(err, ErrTokenizerMismatch):
			r.tokErr = err
		case !checked:
			reason := "the cloud has no tokenize endpoint or vocabulary listing"
			if err != nil {
				reason = err.Error()
			}
			r.logger().Info("cannot check the cloud's tokenizer; assuming it matches the local model's", "reason", reason)
		}
	})
	return r.tokErr
}

// ErrTokenizerMismatch is matched by the error of a cloud whose tokenizer
// is not the local model's.
var ErrTokenizerMismatch = errors.New("logit fusion needs one tokenizer")

// CheckTokenizer reports whether the cloud's tokenizer is the local
// model's, as logit fusion needs: it adds distributions over token ids,
// which is meaningless across tokenizers. A cloud with a tokenize endpoint
// tokenizes a public probe text; one that lists its vocabulary instead
// (Ollama) is compared token by token. checked is false when the cloud
// offers neither (a nil error) or the check could not be made (the error
// says why). A mismatch is an error matching [ErrTokenizerMismatch] that
// says where the two differ.
func CheckTokenizer(ctx context.Context, cloud CloudModel, slm LocalModel) (checked bool, err error) {
	if cloud.Can(openaiapi.CapVocabulary) == nil {
		l, ok1 := cloud.(vocabLister)
		t, ok2 := slm.(tokenTexter)
		if ok1 && ok2 {
			remote, err := l.Vocabulary(ctx)
			if err != nil {
				return false, fmt.Errorf("check the cloud's tokenizer: %w", err)
			}
			return true, sameVocabulary(remote, t, slm.VocabSize())
		}
	}
	if cloud.Can(openaiapi.CapTokenize) != nil {
		return false, nil
	}
	remote, err := cloud.Tokenize(ctx, privacy.PublicConst(tokenizerProbe))
	if err != nil {
		return false, fmt.Errorf("check the cloud's tokenizer: %w", err)
	}
	local, err := slm.Tokenize(tokenizerProbe, true, false)
	if err != nil {
		return false, err
	}
	if !slices.Equal(local, remote) {
		return true, fmt.Errorf("%w: the cloud tokenizes a probe text into %d tokens, the local model into %d (first difference at token %d)", ErrTokenizerMismatch, len(remote), len(local), commonPrefix(local, remote))
	}
	return true, nil
}

// vocabularies are a cloud that lists its vocabulary and a local model
// that gives its tokens' stored texts.
type (
	vocabLister interface {
		Vocabulary(ctx context.Context) ([]string, error)
	}
	tokenTexter interface{ TokenText(tok int32) string }
)

// sameVocabulary compares the cloud's vocabulary with the local model's
// n tokens, token by token.
func sameVocabulary(remote []string, t tokenTexter, n int) error {
	for i := range max(n, len(remote)) {
		if i >= n || i >= len(remote) || remote[i] != t.TokenText(int32(i)) {
			return fmt.Errorf("%w: the cloud's vocabulary has %d tokens, the local model's %d, and they differ from token %d on", ErrTokenizerMismatch, len(remote), n, i)
		}
	}
	return nil
}

// weigher gives the small model's fusion weight for one step: 0.5 for
// mean, the CombModel's output for learned.
type weigher struct {
	fusion fusion.Method
	comb   *fusion.CombModel
	feat   []float64
}

func newWeigher(o Options) *weigher { return &weigher{fusion: o.Fusion, comb: o.Comb} }

// fuse writes the fused distribution of q and pl into dst and returns it
// with the small model's weight in it: the fusion weight, or for max the
// share of the fused mass that comes from the small model.
func (w *weigher) fuse(dst, q, pl []float64, top []llm.TopLogprob, step int) ([]float64, float64) {
	wt := w.weight(q, pl, top, step)
	dst = fusion.Fuse(dst, q, pl, w.fusion, wt)
	if w.fusion == fusion.Max {
		wt = maxWeight(q, pl)
	}
	return dst, wt
}

func (w *weigher) weight(q, pl []float64, top []llm.TopLogprob, step int) float64 {
	if w.fusion != fusion.Learned {
		return 0.5
	}
	w.feat = fusion.Features(w.feat, q, pl, top, w.comb.K(), step)
	return w.comb.Weight(w.feat)
}
