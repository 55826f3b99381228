// Package llm holds the value types that every part of cogenesis shares:
// chat messages, per-token log-probabilities and usage counts.
//
// It has no behaviour and no dependencies, so that the engine, the cloud
// client, the strategies and the server can exchange values without
// importing one another.
package llm

// Role is the author of a chat message.
type Role string

// The roles of a chat conversation, as the OpenAI wire protocol names them.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a chat conversation.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// TopLogprob is one candidate token with its log-probability.
type TopLogprob struct {
	Token   int32   `json:"token"`
	Text    string  `json:"text,omitempty"`
	Logprob float64 `json:"logprob"`
}

// TokenLogprob describes one position of a sequence: the token that stands
// there, its log-probability under the model (given everything before it),
// and the model's top candidates for that position, best first.
type TokenLogprob struct {
	Token   int32   `json:"token"`
	Text    string  `json:"text,omitempty"`
	Logprob float64 `json:"logprob"`
	// Rank is the token's rank under the model at its position, 1 for the
	// most likely; 0 when unknown.
	Rank int          `json:"rank,omitempty"`
	Top  []TopLogprob `json:"top,omitempty"`
}

// Usage counts the tokens a model call consumed.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Add returns the sum of two usages.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + v.PromptTokens,
		CompletionTokens: u.CompletionTokens + v.CompletionTokens,
		TotalTokens:      u.TotalTokens + v.TotalTokens,
	}
}
