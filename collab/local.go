package collab

import (
	"context"
	"fmt"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
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
	return engineModel{m}
}

type engineModel struct{ *llamacpp.Model }

func (m engineModel) Load(ctx context.Context, prompt []int32, wait bool) (LocalSequence, func(ok bool), int, bool, error) {
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
	evaluated := len(prompt) - commonPrefix(ps.Seq.Tokens(), prompt)
	release := func(ok bool) { pool.Release(ps, ok) }
	if _, err := ps.Load(ctx, prompt, false, 0); err != nil {
		release(false)
		return nil, nil, 0, true, fmt.Errorf("evaluate private prompt: %w", err)
	}
	return ps.Seq, release, evaluated, true, nil
}
