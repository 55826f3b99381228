package collab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
	"github.com/cogenesis/cogenesis/tokmap"
)

// CloudModel is the cloud as the strategies use it: a chat completer (llm,
// sketch), a scorer of public token sequences (logits, speculative,
// teacher forcing) and a tokenizer check. Everything it takes is public.
// *Cloud, over an OpenAI-protocol client built by internal/egress, is the
// one cogenesis uses; tests may give their own.
type CloudModel interface {
	scorer
	Chat(ctx context.Context, system, user privacy.Public, o ChatOptions) (string, error)
	Tokenize(ctx context.Context, text privacy.Public) ([]int32, error)
	// Can reports, as an error naming what is missing, whether the cloud
	// offers a capability (such as openaiapi.CapSequenceTopK).
	Can(c openaiapi.Capability) error
}

var _ CloudModel = (*Cloud)(nil)

// Cloud is the cloud model as the strategies reach it. It accepts only
// public values: text the guard passed or constants, and token prefixes the
// guard passed. What a Cloud sends is all that leaves the device (the
// egress choke point in its HTTP client checks and records it again).
type Cloud struct {
	client *openaiapi.Client

	vocabOnce  sync.Once
	vocab      LocalModel
	tokensOnce sync.Once
	tokens     *tokmap.Map // built on first need: a pass over the whole vocabulary

	mu       sync.Mutex
	unmapped Unmapped
}

// Unmapped counts the cloud's top-k candidates that named a token by text
// only (Ollama) and could not be mapped to one local token id: a
// byte-fallback or partial-UTF-8 token, which the server renders as U+FFFD,
// or a text several tokens share. They are left out of the top k, so
// their probability mass joins the tail that fusion completes (DESIGN §4).
type Unmapped struct {
	Queries int // next-token queries answered by text
	// Retokenized counts prefixes sent as text that the server tokenizes
	// differently from the local ids (its answer is for that tokenization).
	Retokenized int
	Candidates  int     // candidates received by text
	Unmapped    int     // of them, left out
	Mass        float64 // their total probability
}

// Unmapped returns the counts so far.
func (c *Cloud) Unmapped() Unmapped {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unmapped
}

// vocabUser is a cloud that needs the local vocabulary, which both models
// share: to name tokens a server reports by text, to send a prefix as text
// to a server that takes no token ids, and to keep a llama.cpp server from
// sampling tokens it cannot report.
type vocabUser interface{ UseVocab(LocalModel) }

// UseVocab gives the cloud the local vocabulary, which both models share
// (the first call wins). [Runner.Run] calls it; a caller that uses a Cloud
// outside a Runner calls it before the first next-token query.
func (c *Cloud) UseVocab(v LocalModel) {
	c.vocabOnce.Do(func() {
		c.vocab = v
		if c.client.Kind() == openaiapi.KindLlamaCpp {
			c.client.BanTokens(c.tokenMap().Invalid())
		}
	})
}

// tokenMap returns the map of the local vocabulary's token texts, built on
// first use (only clouds that name tokens by text or need the ban list of
// a llama.cpp server use it), or nil without a vocabulary.
func (c *Cloud) tokenMap() *tokmap.Map {
	if c.vocab == nil {
		return nil
	}
	c.tokensOnce.Do(func() { c.tokens = tokmap.New(c.vocab) })
	return c.tokens
}

// NewCloud wraps an OpenAI-protocol client. Build the client with the
// egress choke point (audit.Transport with the guard's check) as its
// transport.
func NewCloud(c *openaiapi.Client) *Cloud { return &Cloud{client: c} }

// Client returns the underlying client (for usage counts).
func (c *Cloud) Client() *openaiapi.Client { return c.client }

// ChatOptions are the sampling options of a cloud chat request.
type ChatOptions struct {
	MaxTokens   int
	Temperature float64
	Seed        *int64
}

// Chat sends a system and a user message and returns the answer text.
func (c *Cloud) Chat(ctx context.Context, system, user privacy.Public, o ChatOptions) (string, error) {
	req := openaiapi.ChatCompletionRequest{
		Messages: []openaiapi.ChatMessage{
			{Role: llm.RoleSystem, Content: system.String()},
			{Role: llm.RoleUser, Content: user.String()},
		},
		Temperature: &o.Temperature,
		Seed:        o.Seed,
	}
	if o.MaxTokens > 0 {
		req.MaxTokens = &o.MaxTokens
	}
	resp, err := c.client.Chat(ctx, req)
	if err != nil {
		return "", fmt.Errorf("cloud chat: %w", err)
	}
	if len(resp.Choices) == 0 {
		return "", errors.New("cloud chat: no choices in the response")
	}
	return resp.Choices[0].Message.Content, nil
}

// NextTopK returns the cloud's top-k next tokens after a public token
// prefix.
//
// A server that takes no token-id prompt (Ollama) gets the prefix as text,
// which it tokenizes itself, and names the candidates by text; they are
// mapped back to local ids, and those that cannot be are left out and
// counted (see [Unmapped]). The prefix's text is public: the guard passed
// it as text.
func (c *Cloud) NextTopK(ctx context.Context, prefix privacy.PublicTokens, k int) ([]llm.TopLogprob, error) {
	if c.client.Kind().Supports(openaiapi.CapTokenIDPrompt) {
		top, err := c.client.NextTokenTopK(ctx, prefix.IDs(), k)
		if err != nil {
			return nil, err
		}
		return c.mapTokens(top, false)
	}
	if c.vocab == nil {
		return nil, fmt.Errorf("next-token top-k: a %s cloud takes the prefix as text, and no local vocabulary was given to render it", c.client.Kind())
	}
	top, err := c.client.NextTokenTopKText(ctx, c.textOf(prefix.IDs()), k)
	if err != nil {
		return nil, err
	}
	return c.mapTokens(top, true)
}

// textOf renders a token prefix as the text a server that tokenizes it
// itself (Ollama: adding the beginning-of-sequence token when the model's
// tokenizer does, and parsing special tokens) turns back into the same
// ids after its own beginning-of-sequence token. A tokenizer that puts a
// space before the first word (SentencePiece) renders that space, and
// would put a second one; it is dropped. A prefix no text gives back
// (sampling can make a token sequence the tokenizer would not) is sent as
// its plain rendering and counted in Unmapped.Retokenized: the answer is
// then for the server's tokenization of the same text.
func (c *Cloud) textOf(ids []int32) string {
	body := c.withoutBOS(ids)
	text := c.vocab.Detokenize(body)
	for _, t := range []string{text, strings.TrimPrefix(text, " ")} {
		if back, err := c.vocab.Tokenize(t, true, true); err == nil && slices.Equal(c.withoutBOS(back), body) {
			return t
		}
	}
	c.mu.Lock()
	c.unmapped.Retokenized++
	c.mu.Unlock()
	return text
}

func (c *Cloud) withoutBOS(ids []int32) []int32 {
	if len(ids) > 0 && c.vocab.IsBOS(ids[0]) {
		return ids[1:]
	}
	return ids
}

// mapTokens gives candidates named by text only their local ids.
func (c *Cloud) mapTokens(top []llm.TopLogprob, byText bool) ([]llm.TopLogprob, error) {
	if !byText && !slices.ContainsFunc(top, func(t llm.TopLogprob) bool { return t.Token == openaiapi.NoToken }) {
		return top, nil
	}
	tm := c.tokenMap()
	if tm == nil {
		return nil, errors.New("next-token top-k: the cloud named tokens by text only, and no local vocabulary was given to map them")
	}
	m := tm.Apply(top)
	c.mu.Lock()
	c.unmapped.Queries++
	c.unmapped.Candidates += len(top)
	c.unmapped.Unmapped += m.Unmapped
	c.unmapped.Mass += m.UnmappedMass
	c.mu.Unlock()
	return m.Top, nil
}

// ScoreWithNext scores a public token sequence in one request: the
// log-probability and top k at every position after the first, and the
// top k after the last token.
func (c *Cloud) ScoreWithNext(ctx context.Context, seq privacy.PublicTokens, k int) ([]llm.TokenLogprob, []llm.TopLogprob, error) {
	return c.client.ScoreWithNext(ctx, seq.IDs(), k)
}

// Can reports whether the cloud's kind offers capability.
func (c *Cloud) Can(capability openaiapi.Capability) error {
	return c.client.Kind().Require(capability)
}

// Vocabulary returns the cloud model's vocabulary, token texts by id
// (Ollama only; see openaiapi.Client.Vocabulary).
func (c *Cloud) Vocabulary(ctx context.Context) ([]string, error) {
	return c.client.Vocabulary(ctx)
}

// Tokenize asks the cloud to tokenize public text (vLLM's /tokenize).
func (c *Cloud) Tokenize(ctx context.Context, text privacy.Public) ([]int32, error) {
	return c.client.Tokenize(ctx, text.String(), true)
}
