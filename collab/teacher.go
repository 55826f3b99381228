package collab

import (
	"context"
	"errors"
	"fmt"

	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// teacherForcing labels the cloud requests of CombModel extraction in the
// audit log.
const teacherForcing = "teacher-forcing"

// TeacherStats describes one teacher-forced record.
type TeacherStats struct {
	// Reference is the number of reference tokens; SLMTokens the tokens
	// the local model evaluated (prompt not already cached, plus the
	// reference).
	Reference, SLMTokens int
	// Redactions counts the guard's findings in the public instruction.
	Redactions int
}

// TeacherForce scores reference, the task's reference response, under both
// prompts of per-token fusion: the local model with context, in process,
// and the cloud without, in one request that echoes the log-probabilities
// of every position. It returns one stored position per reference token,
// with features for a CombModel of top-K size k.
//
// The reference was written with the private context, so the cloud's
// request holds private text: unless the guard finds nothing in it,
// TeacherForce refuses without the runner's grant (Runner.Private, made by
// --allow-private-egress), which the egress client must hold too.
func (r *Runner) TeacherForce(ctx context.Context, task Task, reference privacy.Private, k int) ([]fusion.Position, TeacherStats, error) {
	var st TeacherStats
	if r.SLM == nil || r.Cloud == nil {
		return nil, st, errors.New("teacher forcing needs a local and a cloud model")
	}
	if k < 1 || k > fusion.MaxK {
		return nil, st, fmt.Errorf("teacher forcing: k %d outside [1, %d]", k, fusion.MaxK)
	}
	if err := r.Cloud.Can(openaiapi.CapSequenceTopK); err != nil {
		return nil, st, fmt.Errorf("teacher forcing scores the reference in one request: %w", err)
	}
	if r.Guard == nil {
		return nil, st, errNoGuard
	}
	ctx = egress.WithGuard(audit.WithStrategy(ctx, teacherForcing), r.Guard)
	if err := r.sameTokenizer(ctx); err != nil {
		return nil, st, err
	}
	public, redactions, err := r.publicInstruction(ctx, task)
	if err != nil {
		return nil, st, err
	}
	st.Redactions = redactions
	slmPrompt, err := r.chatTokens(systemFor(task.Kind), task.privateInstruction())
	if err != nil {
		return nil, st, err
	}
	cloudPrompt, err := r.publicChatTokens(privacy.PublicConst(systemWithout), public)
	if err != nil {
		return nil, st, err
	}
	ref, err := r.SLM.Tokenize(reference.UnsafeText(), false, false)
	if err != nil {
		return nil, st, err
	}
	if len(ref) == 0 {
		return nil, st, errors.New("teacher forcing: empty reference")
	}
	st.Reference = len(ref)
	if n := len(slmPrompt) + len(ref); n > r.SLM.ContextSize() {
		return nil, st, fmt.Errorf("teacher forcing: prompt and reference are %d tokens, the local context %d (raise --ctx)", n, r.SLM.ContextSize())
	}

	ids := append(append([]int32(nil), cloudPrompt.IDs()...), ref...)
	pt, leak := r.Guard.PublicTokens(ids, r.SLM.Detokenize)
	if leak != nil {
		if r.Private == nil {
			return nil, st, fmt.Errorf("the reference response holds private content (%w); extraction shows it to the cloud only with --allow-private-egress", leak)
		}
		pt = privacy.DeclassifyTokensForTeacherForcing(ids)
		ctx = egress.WithGrant(ctx, r.Private)
	}

	// The cloud request and the local scoring run at once.
	type cloudAnswer struct {
		scored []llm.TokenLogprob
		err    error
	}
	cloud := make(chan cloudAnswer, 1)
	go func() {
		scored, _, err := r.Cloud.ScoreWithNext(ctx, pt, k)
		cloud <- cloudAnswer{scored, err}
	}()

	qs := make([][]float64, len(ref))
	seq, release, before, _, err := r.SLM.Load(ctx, slmPrompt, true)
	if err == nil {
		err = seq.ScoreFunc(ctx, ref, func(i int, logits []float32) {
			qs[i] = fusion.Softmax(nil, logits)
		})
		release(err == nil)
	}
	ans := <-cloud
	if err != nil {
		return nil, st, fmt.Errorf("local scoring: %w", err)
	}
	if ans.err != nil {
		return nil, st, fmt.Errorf("cloud scoring: %w", ans.err)
	}
	st.SLMTokens = before + len(ref)
	L := cloudPrompt.Len()
	// Entry i of the cloud's answer scores token i+1.
	if len(ans.scored) != len(ids)-1 {
		return nil, st, fmt.Errorf("cloud scored %d positions of %d tokens, want %d", len(ans.scored), len(ids), len(ids)-1)
	}
	out := make([]fusion.Position, len(ref))
	var pl, feat []float64
	for j, y := range ref {
		c := ans.scored[L+j-1]
		if c.Token != y {
			return nil, st, fmt.Errorf("reference token %d: the cloud scored token %d, the local model %d (tokenizers differ)", j, c.Token, y)
		}
		if qs[j] == nil {
			return nil, st, fmt.Errorf("reference token %d: no local distribution", j)
		}
		if pl, err = fusion.Complete(pl, qs[j], c.Top); err != nil {
			return nil, st, fmt.Errorf("reference token %d: %w", j, err)
		}
		out[j], feat = fusion.NewPosition(y, qs[j], pl, c.Top, k, j, feat)
	}
	return out, st, nil
}
