//go:build !cgo

package llamacpp

import (
	"context"

	"github.com/cogenesis/cogenesis/llm"
)

// Model is a loaded model. Without cgo it cannot be made: [Open] returns
// [ErrEngineUnavailable].
type Model struct{}

// Open returns ErrEngineUnavailable: this binary was built without cgo.
func Open(path string, opts Options) (*Model, error) { return nil, ErrEngineUnavailable }

// Close does nothing.
func (m *Model) Close() error { return nil }

// Path returns "".
func (m *Model) Path() string { return "" }

// LoRA returns "".
func (m *Model) LoRA() string { return "" }

// VocabSize returns 0.
func (m *Model) VocabSize() int { return 0 }

// Parallel returns 0.
func (m *Model) Parallel() int { return 0 }

// TokenText returns "".
func (m *Model) TokenText(tok int32) string { return "" }

// IsBOS returns false.
func (m *Model) IsBOS(tok int32) bool { return false }

// Threads returns 0.
func (m *Model) Threads() int { return 0 }

// ContextSize returns 0.
func (m *Model) ContextSize() int { return 0 }

// Info returns the zero Info.
func (m *Model) Info() Info { return Info{} }

// Tokenize returns ErrEngineUnavailable.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	return nil, ErrEngineUnavailable
}

// Piece returns "".
func (m *Model) Piece(tok int32) string { return "" }

// AppendPiece returns dst.
func (m *Model) AppendPiece(dst []byte, tok int32) []byte { return dst }

// Detokenize returns "".
func (m *Model) Detokenize(tokens []int32) string { return "" }

// IsEOG returns false.
func (m *Model) IsEOG(tok int32) bool { return false }

// IsControl returns false.
func (m *Model) IsControl(tok int32) bool { return false }

// Pool returns nil.
func (m *Model) Pool() *Pool { return nil }

func (m *Model) tryNewSequence() *Sequence { return nil }

// NewSequence returns ErrEngineUnavailable.
func (m *Model) NewSequence(ctx context.Context) (*Sequence, error) { return nil, ErrEngineUnavailable }

// Sequence is a token sequence; without cgo none can be made.
type Sequence struct{}

// Close does nothing.
func (s *Sequence) Close() {}

// Model returns nil.
func (s *Sequence) Model() *Model { return nil }

// Len returns 0.
func (s *Sequence) Len() int { return 0 }

// Tokens returns nil.
func (s *Sequence) Tokens() []int32 { return nil }

// Logits returns nil.
func (s *Sequence) Logits() []float32 { return nil }

// Append returns ErrEngineUnavailable.
func (s *Sequence) Append(ctx context.Context, tokens []int32) error { return ErrEngineUnavailable }

// Score returns ErrEngineUnavailable.
func (s *Sequence) Score(ctx context.Context, tokens []int32, k int) ([]llm.TokenLogprob, error) {
	return nil, ErrEngineUnavailable
}

// ScoreFunc returns ErrEngineUnavailable.
func (s *Sequence) ScoreFunc(ctx context.Context, tokens []int32, fn func(i int, logits []float32)) error {
	return ErrEngineUnavailable
}

// NextTopK returns nil.
func (s *Sequence) NextTopK(k int) []llm.TopLogprob { return nil }

// Truncate returns ErrEngineUnavailable.
func (s *Sequence) Truncate(ctx context.Context, n int) error { return ErrEngineUnavailable }

// RenderChat returns ErrEngineUnavailable.
func (m *Model) RenderChat(msgs []llm.Message, addGenerationPrompt bool) (string, error) {
	return "", ErrEngineUnavailable
}

// SchemaToGrammar returns ErrEngineUnavailable.
func SchemaToGrammar(schema []byte) (string, error) { return "", ErrEngineUnavailable }

func (m *Model) newGrammar(gbnf string) (constraint, error) { return nil, ErrEngineUnavailable }

// CheckGrammar returns ErrEngineUnavailable.
func (m *Model) CheckGrammar(gbnf string) error { return ErrEngineUnavailable }

// SaveState returns ErrEngineUnavailable.
func (s *Sequence) SaveState() ([]byte, error) { return nil, ErrEngineUnavailable }

// RestoreState returns ErrEngineUnavailable.
func (s *Sequence) RestoreState(ctx context.Context, data []byte, tokens []int32) error {
	return ErrEngineUnavailable
}

// StateSettings returns "".
func (m *Model) StateSettings() string { return "" }
