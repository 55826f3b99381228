package openaiapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/cogenesis/cogenesis/llm"
)

// Object names that OpenAI-protocol responses carry in their "object" field.
const (
	ObjectChatCompletion      = "chat.completion"
	ObjectChatCompletionChunk = "chat.completion.chunk"
	ObjectTextCompletion      = "text_completion"
	ObjectList                = "list"
	ObjectModel               = "model"
)

// Finish reasons as the OpenAI protocol names them.
const (
	FinishStop   FinishReason = "stop"
	FinishLength FinishReason = "length"
)

// Response format types for [ResponseFormat.Type].
const (
	ResponseFormatText       = "text"
	ResponseFormatJSONObject = "json_object"
	ResponseFormatJSONSchema = "json_schema"
)

// ChatCompletionRequest is the body of POST /v1/chat/completions.
//
// Pointer fields are optional: nil leaves the choice to the server.
type ChatCompletionRequest struct {
	Model               string          `json:"model"`
	Messages            []ChatMessage   `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	Logprobs            bool            `json:"logprobs,omitempty"`
	TopLogprobs         int             `json:"top_logprobs,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Stop                Stop            `json:"stop,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	User                string          `json:"user,omitempty"`
	// GuidedGrammar (vLLM extra_body) constrains the output to a grammar:
	// a GBNF grammar for cogen cloud and vLLM's xgrammar back end.
	GuidedGrammar string `json:"guided_grammar,omitempty"`
	// GuidedRegex (vLLM extra_body) constrains the whole output to match a
	// regular expression.
	GuidedRegex string `json:"guided_regex,omitempty"`
	// Grammar is the llama.cpp server's name for a GBNF grammar.
	Grammar string `json:"grammar,omitempty"`
	// LogitBias maps a token id, in decimal, to a bias added to its logit
	// (OpenAI: -100 to 100); llama.cpp's server also takes false, which
	// bans the token.
	LogitBias map[string]any `json:"logit_bias,omitempty"`
}

// StreamOptions configures a streaming response.
type StreamOptions struct {
	// IncludeUsage asks for a last chunk, with no choices, that carries the
	// usage of the whole request.
	IncludeUsage bool `json:"include_usage"`
}

// ResponseFormat constrains the output of a chat completion.
type ResponseFormat struct {
	// Type is one of ResponseFormatText, ResponseFormatJSONObject and
	// ResponseFormatJSONSchema.
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is the schema of a "json_schema" [ResponseFormat].
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      bool            `json:"strict,omitempty"`
}

// ChatMessage is one message of a chat request or response.
//
// On the wire, Content may be a string, null, or a list of content parts;
// decoding joins the text parts and rejects the other kinds (images, audio),
// which cogenesis does not use. Encoding always writes a string.
type ChatMessage struct {
	Role    llm.Role `json:"role"`
	Content string   `json:"content"`
	Name    string   `json:"name,omitempty"`
}

// UnmarshalJSON decodes a message whose content is a string, null, or a
// list of text parts.
func (m *ChatMessage) UnmarshalJSON(data []byte) error {
	var raw struct {
		Role    llm.Role        `json:"role"`
		Content json.RawMessage `json:"content"`
		Name    string          `json:"name"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	content, err := decodeContent(raw.Content)
	if err != nil {
		return err
	}
	*m = ChatMessage{Role: raw.Role, Content: content, Name: raw.Name}
	return nil
}

func decodeContent(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("message content: %w", err)
	}
	var b bytes.Buffer
	for i, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("message content part %d: unsupported type %q", i, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// ChatMessages converts shared messages to their wire form.
func ChatMessages(msgs []llm.Message) []ChatMessage {
	out := make([]ChatMessage, len(msgs))
	for i, m := range msgs {
		out[i] = ChatMessage{Role: m.Role, Content: m.Content}
	}
	return out
}

// Message returns the shared form of m.
func (m ChatMessage) Message() llm.Message {
	return llm.Message{Role: m.Role, Content: m.Content}
}

// Stop is a list of stop sequences. On the wire it is a string, a list of
// strings, or null; it is always encoded as a list.
type Stop []string

// UnmarshalJSON decodes a string, a list of strings or null.
func (s *Stop) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*s = nil
		return nil
	case len(data) > 0 && data[0] == '"':
		var one string
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return fmt.Errorf("stop: want a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

// FinishReason says why a choice stopped. The empty value means "not yet"
// (a streaming chunk before the last) and is encoded as null.
type FinishReason string

// MarshalJSON encodes the empty reason as null.
func (f FinishReason) MarshalJSON() ([]byte, error) {
	if f == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(f))
}

// UnmarshalJSON decodes a string or null.
func (f *FinishReason) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*f = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	*f = FinishReason(s)
	return nil
}

// ChatCompletionResponse is the body of a non-streaming chat completion.
type ChatCompletionResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []ChatChoice `json:"choices"`
	Usage             *llm.Usage   `json:"usage,omitempty"`
	SystemFingerprint string       `json:"system_fingerprint,omitempty"`
}

// ChatChoice is one choice of a [ChatCompletionResponse].
type ChatChoice struct {
	Index        int           `json:"index"`
	Message      ChatMessage   `json:"message"`
	Logprobs     *ChatLogprobs `json:"logprobs"`
	FinishReason FinishReason  `json:"finish_reason"`
}

// ChatLogprobs holds the log-probabilities of the generated tokens of a
// chat choice.
type ChatLogprobs struct {
	Content []ChatTokenLogprob `json:"content"`
}

// ChatTokenLogprob is one generated token with its log-probability and the
// most likely alternatives at its position.
type ChatTokenLogprob struct {
	Token       string           `json:"token"`
	Logprob     float64          `json:"logprob"`
	Bytes       []int            `json:"bytes"`
	TopLogprobs []ChatTopLogprob `json:"top_logprobs"`
}

// ChatTopLogprob is one alternative token of a [ChatTokenLogprob].
type ChatTopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// ChatCompletionChunk is one server-sent event of a streaming chat
// completion.
type ChatCompletionChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []ChatChunkChoice `json:"choices"`
	Usage   *llm.Usage        `json:"usage,omitempty"`
}

// ChatChunkChoice is one choice of a [ChatCompletionChunk].
type ChatChunkChoice struct {
	Index        int           `json:"index"`
	Delta        ChatDelta     `json:"delta"`
	Logprobs     *ChatLogprobs `json:"logprobs,omitempty"`
	FinishReason FinishReason  `json:"finish_reason"`
}

// ChatDelta is the part of a message that a [ChatChunkChoice] adds.
type ChatDelta struct {
	Role    llm.Role `json:"role,omitempty"`
	Content string   `json:"content,omitempty"`
}

// CompletionRequest is the body of POST /v1/completions (the legacy
// completions API, which vLLM, SGLang, the llama.cpp server and Ollama
// keep).
type CompletionRequest struct {
	Model  string `json:"model"`
	Prompt Prompt `json:"prompt"`
	Echo   bool   `json:"echo,omitempty"`
	// Logprobs asks for the top-N log-probabilities at each returned
	// position, in the legacy [CompletionLogprobs] shape.
	Logprobs *int `json:"logprobs,omitempty"`
	// PromptLogprobs (vLLM) asks for the top-N log-probabilities at each
	// prompt position, in the [PromptLogprobs] shape.
	PromptLogprobs *int           `json:"prompt_logprobs,omitempty"`
	MaxTokens      *int           `json:"max_tokens,omitempty"`
	Temperature    *float64       `json:"temperature,omitempty"`
	TopP           *float64       `json:"top_p,omitempty"`
	Seed           *int64         `json:"seed,omitempty"`
	Stop           Stop           `json:"stop,omitempty"`
	Stream         bool           `json:"stream,omitempty"`
	StreamOptions  *StreamOptions `json:"stream_options,omitempty"`
	User           string         `json:"user,omitempty"`
	// NProbs is the llama.cpp server's name for the number of
	// alternatives to return per position.
	NProbs int `json:"n_probs,omitempty"`
	// ReturnTokensAsTokenIDs (vLLM) makes every token string in
	// [CompletionLogprobs] read "token_id:<id>", so that token ids survive
	// the legacy logprobs shape.
	ReturnTokensAsTokenIDs bool `json:"return_tokens_as_token_ids,omitempty"`
	// GuidedGrammar, GuidedRegex and Grammar constrain the output as in
	// [ChatCompletionRequest].
	GuidedGrammar string `json:"guided_grammar,omitempty"`
	GuidedRegex   string `json:"guided_regex,omitempty"`
	Grammar       string `json:"grammar,omitempty"`
}

// Prompt is the prompt of a [CompletionRequest]: one of a string, a list of
// strings, a list of token ids, or a list of token-id lists. Exactly one
// field is meant to be set; the zero value is the empty string.
type Prompt struct {
	Text       string
	Texts      []string
	Tokens     []int32
	TokenBatch [][]int32
}

// TextPrompt returns a prompt of one string.
func TextPrompt(s string) Prompt { return Prompt{Text: s} }

// TokenPrompt returns a prompt of one token-id sequence.
func TokenPrompt(ids []int32) Prompt { return Prompt{Tokens: ids} }

// errPromptShape is returned for a prompt whose JSON is none of the four
// accepted shapes.
var errPromptShape = errors.New("prompt: want a string, a list of strings, a list of token ids or a list of token-id lists")

// MarshalJSON encodes the field that is set.
func (p Prompt) MarshalJSON() ([]byte, error) {
	switch {
	case p.Texts != nil:
		return json.Marshal(p.Texts)
	case p.Tokens != nil:
		return json.Marshal(p.Tokens)
	case p.TokenBatch != nil:
		return json.Marshal(p.TokenBatch)
	}
	return json.Marshal(p.Text)
}

// UnmarshalJSON decodes any of the four prompt shapes.
func (p *Prompt) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	*p = Prompt{}
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil
	}
	switch data[0] {
	case '"':
		return json.Unmarshal(data, &p.Text)
	case '[':
	default:
		return errPromptShape
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		return fmt.Errorf("%w: %w", errPromptShape, err)
	}
	if len(elems) == 0 {
		p.Texts = []string{}
		return nil
	}
	var err error
	switch first := bytes.TrimSpace(elems[0]); {
	case len(first) > 0 && first[0] == '"':
		err = json.Unmarshal(data, &p.Texts)
	case len(first) > 0 && first[0] == '[':
		err = json.Unmarshal(data, &p.TokenBatch)
	default:
		err = json.Unmarshal(data, &p.Tokens)
	}
	if err != nil {
		*p = Prompt{}
		return fmt.Errorf("%w: %w", errPromptShape, err)
	}
	return nil
}

// CompletionResponse is the body of a non-streaming completion, and also
// the shape of each event of a streaming one.
type CompletionResponse struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	Choices           []CompletionChoice `json:"choices"`
	Usage             *llm.Usage         `json:"usage,omitempty"`
	SystemFingerprint string             `json:"system_fingerprint,omitempty"`
}

// CompletionChoice is one choice of a [CompletionResponse].
type CompletionChoice struct {
	Index        int                 `json:"index"`
	Text         string              `json:"text"`
	Logprobs     *CompletionLogprobs `json:"logprobs"`
	FinishReason FinishReason        `json:"finish_reason"`
	// PromptLogprobs is vLLM's answer to [CompletionRequest.PromptLogprobs].
	PromptLogprobs PromptLogprobs `json:"prompt_logprobs,omitempty"`
}

// CompletionLogprobs is the legacy (OpenAI completions, vLLM) logprobs
// shape: parallel lists, one entry per returned token. With echo, the first
// entry of TokenLogprobs and TopLogprobs is null (nil here), because the
// first token has no context to be scored in.
type CompletionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []*float64           `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// PromptLogprobs is vLLM's prompt_logprobs shape: one entry per prompt
// token, the first always null (nil here), each other a map from token id
// (a decimal string on the wire) to that token's [PromptLogprob]. Each map
// holds the top-N tokens and, when it is not among them, the prompt token
// itself.
type PromptLogprobs []map[int32]PromptLogprob

// PromptLogprob is one entry of [PromptLogprobs].
type PromptLogprob struct {
	Logprob float64 `json:"logprob"`
	// Rank is 1 for the most likely token.
	Rank         int    `json:"rank"`
	DecodedToken string `json:"decoded_token"`
}

// ModelList is the body of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

// Model describes one model a server offers.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// Root and MaxModelLen are vLLM extensions.
	Root        string `json:"root,omitempty"`
	MaxModelLen int    `json:"max_model_len,omitempty"`
}

// TokenizeRequest is the body of vLLM's POST /tokenize.
type TokenizeRequest struct {
	Model  string `json:"model,omitempty"`
	Prompt string `json:"prompt"`
	// AddSpecialTokens defaults to true on the server when nil.
	AddSpecialTokens *bool `json:"add_special_tokens,omitempty"`
}

// TokenizeResponse is the answer of vLLM's POST /tokenize.
type TokenizeResponse struct {
	Tokens      []int32 `json:"tokens"`
	Count       int     `json:"count"`
	MaxModelLen int     `json:"max_model_len"`
}

// DetokenizeRequest is the body of vLLM's POST /detokenize.
type DetokenizeRequest struct {
	Model  string  `json:"model,omitempty"`
	Tokens []int32 `json:"tokens"`
}

// DetokenizeResponse is the answer of vLLM's POST /detokenize.
type DetokenizeResponse struct {
	Prompt string `json:"prompt"`
}

// ErrorResponse is the OpenAI error envelope: {"error": {...}}.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the body of an [ErrorResponse].
type ErrorDetail struct {
	Message string    `json:"message"`
	Type    string    `json:"type"`
	Param   *string   `json:"param"`
	Code    ErrorCode `json:"code"`
	// NPromptTokens and NCtx come with llama.cpp's
	// exceed_context_size_error: the request's size and the slot's
	// context, both in tokens.
	NPromptTokens int `json:"n_prompt_tokens,omitempty"`
	NCtx          int `json:"n_ctx,omitempty"`
}

// ErrorCode is the "code" of an [ErrorDetail]. OpenAI sends a string or
// null, vLLM and llama.cpp send the HTTP status as a number; both decode
// here. A code made of digits only is encoded as a number, the empty code
// as null.
type ErrorCode string

// MarshalJSON encodes a numeric code as a number and the empty code as
// null.
func (c ErrorCode) MarshalJSON() ([]byte, error) {
	if c == "" {
		return []byte("null"), nil
	}
	if _, err := strconv.ParseUint(string(c), 10, 64); err == nil {
		return []byte(c), nil
	}
	return json.Marshal(string(c))
}

// UnmarshalJSON decodes a string, a number or null.
func (c *ErrorCode) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*c = ""
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*c = ErrorCode(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("error code: %w", err)
	}
	*c = ErrorCode(n.String())
	return nil
}
