package collab

import (
	"context"
	"errors"
	"fmt"

	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
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
func (c *Cloud) NextTopK(ctx context.Context, prefix privacy.PublicTokens, k int) ([]llm.TopLogprob, error) {
	return c.client.NextTokenTopK(ctx, prefix.IDs(), k)
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

// Tokenize asks the cloud to tokenize public text (vLLM's /tokenize).
func (c *Cloud) Tokenize(ctx context.Context, text privacy.Public) ([]int32, error) {
	return c.client.Tokenize(ctx, text.String(), true)
}
