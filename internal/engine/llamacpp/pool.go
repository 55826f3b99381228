package llamacpp

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/cogenesis/cogenesis/llm"
)

// Pool keeps finished sequences of a model for reuse, so that a prompt
// that extends or shares a prefix with an earlier one evaluates only the
// new tokens (automatic prefix caching, as vLLM has it). Scores of prompt
// positions are cached too. Each model has one, [Model.Pool]. A Pool is
// safe for concurrent use; at most Model.Parallel sequences are in use at
// once, and Acquire waits for one. An idle sequence gives its slot up when
// [Model.NewSequence] finds none free.
type Pool struct {
	model *Model

	busy chan struct{}
	mu   sync.Mutex
	idle []*Pooled // least recently used first
	live int
}

// Pooled is a sequence from a Pool with the scores of its first
// len(Scores) tokens.
type Pooled struct {
	Seq    *Sequence
	scores []llm.TokenLogprob
}

// errNoSlot reports that TryAcquire found every slot taken.
var errNoSlot = errors.New("no free sequence")

func newPool(m *Model) *Pool {
	return &Pool{model: m, busy: make(chan struct{}, max(m.Parallel(), 1))}
}

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// Acquire returns the idle sequence sharing the longest prefix with
// prompt (when that is at least half of what it holds, or no slot is
// free), else a new one while the model has free slots, else the least
// recently used idle one. Load it with the prompt; give it back with
// Release.
func (p *Pool) Acquire(ctx context.Context, prompt []int32) (*Pooled, error) {
	select {
	case p.busy <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return p.acquire(ctx, prompt, false)
}

// TryAcquire is Acquire that does not wait: it reports false when no
// sequence is free now.
func (p *Pool) TryAcquire(prompt []int32) (*Pooled, bool) {
	select {
	case p.busy <- struct{}{}:
	default:
		return nil, false
	}
	ps, err := p.acquire(context.Background(), prompt, true)
	return ps, err == nil
}

// acquire picks or opens a sequence once a busy token is held (and gives
// the token back on failure).
func (p *Pool) acquire(ctx context.Context, prompt []int32, try bool) (*Pooled, error) {
	p.mu.Lock()
	best, bestN := -1, 0
	for i, ps := range p.idle {
		if n := commonPrefix(ps.Seq.Tokens(), prompt); n > bestN {
			best, bestN = i, n
		}
	}
	full := p.live >= p.model.Parallel()
	if best >= 0 && !full && 2*bestN < p.idle[best].Seq.Len() {
		// Reusing it would throw most of its cache away while a slot is
		// free (every prompt shares the BOS token).
		best = -1
	}
	if best < 0 && len(p.idle) > 0 && full {
		best = 0
	}
	if best >= 0 {
		ps := p.idle[best]
		p.idle = slices.Delete(p.idle, best, best+1)
		p.mu.Unlock()
		return ps, nil
	}
	p.live++
	p.mu.Unlock()
	var seq *Sequence
	var err error
	if try {
		if seq = p.model.tryNewSequence(); seq == nil {
			err = errNoSlot
		}
	} else {
		seq, err = p.model.NewSequence(ctx)
	}
	if err != nil {
		p.mu.Lock()
		p.live--
		p.mu.Unlock()
		<-p.busy
		return nil, err
	}
	return &Pooled{Seq: seq}, nil
}

// Release gives a sequence back for reuse; one whose state is uncertain
// (ok false, after an error) is closed instead.
func (p *Pool) Release(ps *Pooled, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() { <-p.busy }()
	if !ok {
		ps.Seq.Close()
		p.live--
		return
	}
	p.idle = append(p.idle, ps)
}

// evict closes the least recently used idle sequence, freeing its slot.
func (p *Pool) evict() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if len(p.idle) == 0 {
		p.mu.Unlock()
		return
	}
	ps := p.idle[0]
	p.idle = slices.Delete(p.idle, 0, 1)
	p.live--
	p.mu.Unlock()
	ps.Seq.Close()
}

// Close closes every idle sequence.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ps := range p.idle {
		ps.Seq.Close()
		p.live--
	}
	p.idle = nil
}

// Load makes the sequence hold exactly prompt, evaluating only what is not
// already in it; afterwards Seq.Logits is the distribution after prompt.
// With scores it also returns the score of every prompt position (top k
// alternatives; entry 0 has none), reusing cached ones; use the same k
// for every Load of a pool.
func (ps *Pooled) Load(ctx context.Context, prompt []int32, scores bool, k int) ([]llm.TokenLogprob, error) {
	s := ps.Seq
	n := commonPrefix(s.Tokens(), prompt)
	if n == len(prompt) && n == s.Len() && (!scores || len(ps.scores) >= n) && s.Logits() != nil {
		if scores {
			return ps.scores[:n], nil
		}
		return nil, nil
	}
	if n == len(prompt) {
		n-- // evaluate at least one token so the logits are fresh
	}
	if scores && len(ps.scores) < n {
		n = len(ps.scores) // positions past the cached scores are scored again
	}
	n = max(n, 0)
	if err := s.Truncate(ctx, n); err != nil {
		return nil, err
	}
	ps.scores = ps.scores[:min(len(ps.scores), n)]
	if !scores {
		return nil, s.Append(ctx, prompt[n:])
	}
	more, err := s.Score(ctx, prompt[n:], k)
	if err != nil {
		ps.scores = ps.scores[:0]
		return nil, err
	}
	ps.scores = append(ps.scores, more...)
	return ps.scores, nil
}
