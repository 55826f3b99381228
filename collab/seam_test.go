package collab_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// chatOnly is a cloud that only chats, recording what it was sent.
type chatOnly struct{ system, user []string }

func (c *chatOnly) Chat(_ context.Context, system, user privacy.Public, _ collab.ChatOptions) (string, error) {
	c.system, c.user = append(c.system, system.String()), append(c.user, user.String())
	return "A poem about the sea.", nil
}

func (c *chatOnly) NextTopK(context.Context, privacy.PublicTokens, int) ([]llm.TopLogprob, error) {
	return nil, errors.New("chat only")
}

func (c *chatOnly) ScoreWithNext(context.Context, privacy.PublicTokens, int) ([]llm.TokenLogprob, []llm.TopLogprob, error) {
	return nil, nil, errors.New("chat only")
}

func (c *chatOnly) Tokenize(context.Context, privacy.Public) ([]int32, error) {
	return nil, errors.New("chat only")
}

func (c *chatOnly) Can(cp openaiapi.Capability) error {
	if cp == openaiapi.CapChat {
		return nil
	}
	return openaiapi.ErrUnsupported
}

// TestLLMStrategyThroughChatSeam runs the llm strategy against a cloud
// given as an interface (no engine, no HTTP): the cloud gets the paper's
// system prompt and the public instruction with the user's name redacted.
func TestLLMStrategyThroughChatSeam(t *testing.T) {
	v := &privacy.Vault{Name: privacy.NewPrivate("Ada Quill")}
	cloud := &chatOnly{}
	r := &collab.Runner{Cloud: cloud, Guard: privacy.NewGuard(v)}
	task := collab.TaskFromVault(v, privacy.SplitTask("Write a poem for Ada Quill: about the sea"))
	res, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.LLM})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "A poem about the sea." || res.CloudCalls != 1 || len(cloud.user) != 1 {
		t.Fatalf("text %q, %d calls, %d chats", res.Text, res.CloudCalls, len(cloud.user))
	}
	if strings.Contains(cloud.user[0], "Quill") || res.Redactions == 0 {
		t.Errorf("the cloud got %q (%d redactions): the name was not redacted", cloud.user[0], res.Redactions)
	}
	if !strings.Contains(cloud.system[0], "helpful personal AI assistant") {
		t.Errorf("system prompt %q is not the paper's", cloud.system[0])
	}
	// Without a guard nothing is sent.
	r.Guard = nil
	if _, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.LLM}); err == nil || len(cloud.user) != 1 {
		t.Errorf("without a guard: err %v, %d chats", err, len(cloud.user))
	}
}

// byteModel is a local model whose tokens are the bytes of the text (no
// engine): its sequences record what they hold and "write" a fixed answer.
type byteModel struct{ seqs []*byteSeq }

func (byteModel) IsEOG(int32) bool                              { return false }
func (byteModel) IsBOS(int32) bool                              { return false }
func (byteModel) VocabSize() int                                { return 256 }
func (byteModel) Piece(t int32) string                          { return string(rune(t)) }
func (byteModel) AppendPiece(dst []byte, t int32) []byte        { return append(dst, byte(t)) }
func (byteModel) ContextSize() int                              { return 1 << 16 }
func (byteModel) Detokenize(toks []int32) string                { return string(bytesOf(toks)) }
func (byteModel) Tokenize(s string, _, _ bool) ([]int32, error) { return tokensOf(s), nil }

func (byteModel) RenderChat(msgs []llm.Message, _ bool) (string, error) {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<" + string(m.Role) + ">" + m.Content + "\n")
	}
	return b.String() + "<assistant>", nil
}

func (m *byteModel) Load(_ context.Context, prompt []int32, _ bool) (collab.LocalSequence, func(bool), int, bool, error) {
	s := &byteSeq{tokens: slices.Clone(prompt)}
	m.seqs = append(m.seqs, s)
	return s, func(bool) {}, len(prompt), true, nil
}

func bytesOf(toks []int32) []byte {
	b := make([]byte, len(toks))
	for i, t := range toks {
		b[i] = byte(t)
	}
	return b
}

func tokensOf(s string) []int32 {
	out := make([]int32, len(s))
	for i := range len(s) {
		out[i] = int32(s[i])
	}
	return out
}

type byteSeq struct{ tokens []int32 }

func (s *byteSeq) Logits() []float32 { return make([]float32, 256) }
func (s *byteSeq) Len() int          { return len(s.tokens) }
func (s *byteSeq) Append(_ context.Context, t []int32) error {
	s.tokens = append(s.tokens, t...)
	return nil
}
func (s *byteSeq) Truncate(_ context.Context, n int) error { s.tokens = s.tokens[:n]; return nil }
func (s *byteSeq) ScoreFunc(context.Context, []int32, func(int, []float32)) error {
	return errors.New("not scored")
}

func (s *byteSeq) Generate(_ context.Context, prompt []int32, _ llamacpp.GenerateOptions, yield func(llamacpp.Token) error) (llamacpp.Result, error) {
	s.tokens = append(s.tokens, prompt...)
	if yield != nil {
		if err := yield(llamacpp.Token{Text: "A local poem."}); err != nil {
			return llamacpp.Result{}, err
		}
	}
	return llamacpp.Result{Text: "A local poem.", Tokens: tokensOf("A local poem.")}, nil
}

// TestSketchThroughSeams runs the sketch strategy on a local model and a
// cloud given as interfaces: the cloud's outline request holds the
// redacted public instruction only; the local model's prompt holds the
// private context and the outline.
func TestSketchThroughSeams(t *testing.T) {
	v := &privacy.Vault{
		Name:         privacy.NewPrivate("Ada Quill"),
		PrivateFacts: []privacy.Private{privacy.NewPrivate("keeps bees on the roof of the old mill")},
		History:      []privacy.HistoryItem{{Title: privacy.NewPrivate("A note"), Text: privacy.NewPrivate("Echoes of vectors unfold.")}},
	}
	slm, cloud := &byteModel{}, &chatOnly{}
	r := &collab.Runner{SLM: slm, Cloud: cloud, Guard: privacy.NewGuard(v)}
	task := collab.TaskFromVault(v, privacy.SplitTask("Write a poem for Ada Quill: about the sea"))
	res, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.Sketch})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "A local poem." || res.Sketch != "A poem about the sea." || len(cloud.user) != 1 {
		t.Fatalf("text %q, sketch %q, %d chats", res.Text, res.Sketch, len(cloud.user))
	}
	if strings.Contains(cloud.user[0], "Quill") || strings.Contains(cloud.user[0], "bees") {
		t.Errorf("the outline request holds private text: %q", cloud.user[0])
	}
	local := slm.Detokenize(slm.seqs[len(slm.seqs)-1].tokens)
	for _, want := range []string{"A poem about the sea.", "Echoes of vectors unfold.", "Ada Quill"} {
		if !strings.Contains(local, want) {
			t.Errorf("the local prompt lacks %q", want)
		}
	}
}
