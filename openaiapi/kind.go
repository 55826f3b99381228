package openaiapi

import (
	"fmt"
	"slices"
)

// Kind names the server software behind a [Client]'s base URL. It decides
// which requests the client may make (DESIGN §6).
type Kind string

// The kinds of server cogenesis knows.
const (
	KindOpenAI   Kind = "openai"
	KindVLLM     Kind = "vllm"
	KindSGLang   Kind = "sglang"
	KindLlamaCpp Kind = "llamacpp"
	KindOllama   Kind = "ollama"

	// KindAuto is not a server: it asks [ResolveKind] to detect the kind
	// with [Client.Detect]. A [Client] always has one of the kinds above.
	KindAuto Kind = "auto"
)

// Kinds returns every known kind.
func Kinds() []Kind {
	return []Kind{KindOpenAI, KindVLLM, KindSGLang, KindLlamaCpp, KindOllama}
}

// Valid reports whether k is a known kind of server. [KindAuto] is not
// one: a client needs a real kind (see [ParseKind] for user input).
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }

// ParseKind parses a kind a user gave (a flag or a config value): one of
// [Kinds], or "auto" ([KindAuto]) to detect it. An empty string is auto.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	switch {
	case k == "" || k == KindAuto:
		return KindAuto, nil
	case k.Valid():
		return k, nil
	}
	return "", fmt.Errorf("unknown server kind %q: want auto, openai, vllm, sglang, llamacpp or ollama", s)
}

// Capability is something a collaboration strategy may need from a cloud
// server.
type Capability string

// The capabilities of DESIGN §6.
const (
	// CapChat is plain chat text (strategies llm, sketch).
	CapChat Capability = "chat"
	// CapNextTokenTopK is the top-K next tokens after a given prefix that
	// the server continues verbatim (strategy logits).
	CapNextTokenTopK Capability = "next-token top-k"
	// CapTokenIDPrompt is a prompt given as token ids rather than text.
	CapTokenIDPrompt Capability = "token-id prompts"
	// CapSequenceTopK is the top-K at every position of a given sequence
	// in one request (CombModel training, speculative fusion).
	CapSequenceTopK Capability = "top-k at every position of a sequence"
	// CapPromptLogprobs is vLLM's prompt_logprobs request field.
	CapPromptLogprobs Capability = "prompt_logprobs"
	// CapTokenize is a tokenize and detokenize endpoint.
	CapTokenize Capability = "tokenize"
	// CapVocabulary is the model's vocabulary as a list of token texts
	// (Ollama's /api/show, verbose), for checking a tokenizer where there
	// is no tokenize endpoint.
	CapVocabulary Capability = "vocabulary listing"
)

var capabilities = map[Kind][]Capability{
	KindOpenAI:   {CapChat},
	KindVLLM:     {CapChat, CapNextTokenTopK, CapTokenIDPrompt, CapSequenceTopK, CapPromptLogprobs, CapTokenize},
	KindSGLang:   {CapChat, CapNextTokenTopK, CapTokenIDPrompt, CapSequenceTopK, CapTokenize},
	KindLlamaCpp: {CapChat, CapNextTokenTopK, CapTokenIDPrompt, CapTokenize},
	KindOllama:   {CapChat, CapNextTokenTopK, CapVocabulary},
}

// Supports reports whether a server of kind k offers c.
func (k Kind) Supports(c Capability) bool {
	return slices.Contains(capabilities[k], c)
}

// Require returns nil if k supports c, and otherwise an
// [*UnsupportedError] naming both.
func (k Kind) Require(c Capability) error {
	if k.Supports(c) {
		return nil
	}
	return &UnsupportedError{Kind: k, Capability: c}
}

// DefaultMaxTopK returns the largest top-K a server of kind k answers by
// default, or 0 when it has no fixed limit. vLLM's limit is its
// --max-logprobs flag (20 by default); [Config.MaxTopK] overrides it.
func (k Kind) DefaultMaxTopK() int {
	switch k {
	case KindVLLM, KindSGLang, KindOllama, KindOpenAI:
		return 20
	}
	return 0
}

// UnsupportedError reports a request that the client's kind of server
// cannot serve. It matches [ErrUnsupported].
type UnsupportedError struct {
	Kind       Kind
	Capability Capability
	// Detail says more, such as the limit a top-K exceeded.
	Detail string
}

// Error returns "<kind> does not support <capability>[: detail]".
func (e *UnsupportedError) Error() string {
	s := fmt.Sprintf("%s does not support %s", e.Kind, e.Capability)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns [ErrUnsupported].
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }
