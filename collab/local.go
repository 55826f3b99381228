package collab

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/statecache"
	"github.com/cogenesis/cogenesis/llm"
)

// LocalModel is the small model as the strategies use it: the tokenizer
// both models share, the chat template, and sequences that hold prompts.
// [Engine] adapts the in-process engine; tests may give their own.
type LocalModel interface {
	vocab
	VocabSize() int
	IsBOS(tok int32) bool
	Piece(tok int32) string
	AppendPiece(dst []byte, tok int32) []byte
	RenderChat(msgs []llm.Message, addGenerationPrompt bool) (string, error)
	Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error)
	ContextSize() int
	// Load returns a sequence holding prompt, reusing the longest prefix a
	// free sequence already holds, and how many prompt tokens it had to
	// evaluate. With wait false it returns ok false at once when no
	// sequence is free. release returns the sequence; its argument says
	// whether the sequence is in a known state.
	Load(ctx context.Context, prompt []int32, wait bool) (seq LocalSequence, release func(ok bool), evaluated int, ok bool, err error)
}

// LocalSequence is a sequence of the local model: fusion drives it token
// by token; the local strategies generate with it; teacher forcing scores
// a reference through it.
type LocalSequence interface {
	localSeq
	Generate(ctx context.Context, prompt []int32, o llamacpp.GenerateOptions, yield func(llamacpp.Token) error) (llamacpp.Result, error)
	ScoreFunc(ctx context.Context, toks []int32, fn func(i int, logits []float32)) error
}

// Engine returns the in-process engine's model m as a LocalModel (nil for
// a nil m).
func Engine(m *llamacpp.Model) LocalModel {
	if m == nil {
		return nil
	}
	return engineModel{Model: m}
}

// StateStore keeps saved engine states of users' context prefixes;
// *statecache.Cache is one. Get reports a miss for anything it cannot
// vouch for, never an error.
type StateStore interface {
	Get(k statecache.Key) ([]byte, statecache.Outcome)
	Put(k statecache.Key, state []byte) error
	Remove(k statecache.Key) error
}

// EngineWithStates is [Engine] whose runs evaluate a user's context
// prefix once: the first run saves the state of the prompt up to the task
// (system, profile, history) in states, and later runs with the same
// prefix, model, adapter, chat template and engine settings restore it
// and evaluate only the task. With a nil states it is Engine.
func EngineWithStates(m *llamacpp.Model, states StateStore) LocalModel {
	if m == nil {
		return nil
	}
	if states == nil {
		return engineModel{Model: m}
	}
	return engineModel{Model: m, states: &userStates{store: states}}
}

type engineModel struct {
	*llamacpp.Model
	states *userStates
}

// userStates is an engine model's state store and what its keys hold
// besides the tokens, worked out once on first use: the model's and the
// adapter's file hashes, the chat template and the engine settings.
type userStates struct {
	store StateStore
	once  sync.Once
	key   statecache.Key // without User and Tokens
	err   error
}

// keyFor returns the key of user's context prefix on m.
func (u *userStates) keyFor(ctx context.Context, m *llamacpp.Model, user string, prefix []int32) (statecache.Key, error) {
	u.once.Do(func() {
		u.key.Template, u.key.Settings = m.Info().ChatTemplate, m.StateSettings()
		if u.key.Model, u.err = statecache.FileID(ctx, m.Path()); u.err != nil {
			return
		}
		if m.LoRA() != "" {
			u.key.LoRA, u.err = statecache.FileID(ctx, m.LoRA())
		}
	})
	k := u.key
	k.User, k.Tokens = user, prefix
	return k, u.err
}

func (m engineModel) Load(ctx context.Context, prompt []int32, wait bool) (LocalSequence, func(ok bool), int, bool, error) {
	return m.LoadUser(ctx, prompt, "", 0, wait)
}

// LoadUser is Load for a prompt whose first prefix tokens are user's
// context: with a state store, they are restored from a saved state when
// the sequence does not hold them already, or evaluated in a call of
// their own and saved. Either way the prefix is its own decode call, so a
// run gives the same logits whether the state was restored or not.
func (m engineModel) LoadUser(ctx context.Context, prompt []int32, user string, prefix int, wait bool) (LocalSequence, func(ok bool), int, bool, error) {
	pool := m.Pool()
	var ps *llamacpp.Pooled
	if wait {
		var err error
		if ps, err = pool.Acquire(ctx, prompt); err != nil {
			return nil, nil, 0, false, err
		}
	} else {
		var ok bool
		if ps, ok = pool.TryAcquire(prompt); !ok {
			return nil, nil, 0, false, nil
		}
	}
	release := func(ok bool) { pool.Release(ps, ok) }
	held := commonPrefix(ps.Seq.Tokens(), prompt)
	evaluated := len(prompt) - held
	if m.states != nil && user != "" && prefix > 0 && prefix <= len(prompt) && held < prefix {
		n, err := m.loadPrefix(ctx, ps, user, prompt[:prefix])
		if err != nil {
			release(false)
			return nil, nil, 0, true, fmt.Errorf("evaluate private prompt: %w", err)
		}
		evaluated = n + len(prompt) - prefix
	}
	if _, err := ps.Load(ctx, prompt, false, 0); err != nil {
		release(false)
		return nil, nil, 0, true, fmt.Errorf("evaluate private prompt: %w", err)
	}
	return ps.Seq, release, evaluated, true, nil
}

// loadPrefix puts prefix into ps: restored from the store, or evaluated
// and saved there. It returns how many tokens it evaluated. A state the
// engine refuses is removed and rebuilt; a store that cannot save is
// logged and the run goes on.
func (m engineModel) loadPrefix(ctx context.Context, ps *llamacpp.Pooled, user string, prefix []int32) (int, error) {
	k, err := m.states.keyFor(ctx, m.Model, user, prefix)
	if err != nil {
		return 0, err
	}
	if data, out := m.states.store.Get(k); out == statecache.Hit {
		if err := ps.RestoreState(ctx, data, prefix); err == nil {
			return 0, nil
		}
		m.states.store.Remove(k)
	}
	if _, err := ps.Load(ctx, prefix, false, 0); err != nil {
		return 0, err
	}
	state, err := ps.Seq.SaveState()
	if err == nil {
		err = m.states.store.Put(k, state)
	}
	if err != nil {
		slog.Warn("context cache: state not saved", "err", err)
	}
	return len(prefix), nil
}
