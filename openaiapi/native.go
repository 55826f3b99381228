package openaiapi

// LlamaCompletionRequest is the body of the llama.cpp server's native POST
// /completion.
type LlamaCompletionRequest struct {
	// Prompt is a string or a list of token ids.
	Prompt      Prompt   `json:"prompt"`
	NPredict    int      `json:"n_predict"`
	NProbs      int      `json:"n_probs,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
	Stream      bool     `json:"stream"`
	// CachePrompt lets the server reuse the KV cache of a previous request
	// that shares a prefix, which next-token queries over a growing prefix
	// benefit from.
	CachePrompt bool `json:"cache_prompt,omitempty"`
	// PostSamplingProbs asks for probabilities after the sampler chain
	// ("prob", "top_probs") instead of log-probabilities of the raw
	// distribution ("logprob", "top_logprobs").
	PostSamplingProbs bool `json:"post_sampling_probs,omitempty"`
	// ReturnTokens asks for the ids of the sampled tokens ("tokens"),
	// including one the server withholds from the text and the
	// probabilities because it ends in an incomplete UTF-8 sequence.
	ReturnTokens bool `json:"return_tokens,omitempty"`
	// LogitBias pairs a token id with a bias, or with false to ban the
	// token. It acts in the sampler chain only: the raw probabilities
	// reported without PostSamplingProbs do not change.
	LogitBias [][2]any `json:"logit_bias,omitempty"`
}

// LlamaCompletionResponse is the answer of the llama.cpp server's native
// POST /completion.
type LlamaCompletionResponse struct {
	Content                 string           `json:"content"`
	Tokens                  []int32          `json:"tokens,omitempty"`
	CompletionProbabilities []LlamaTokenProb `json:"completion_probabilities,omitempty"`
	TokensEvaluated         int              `json:"tokens_evaluated"`
	TokensPredicted         int              `json:"tokens_predicted"`
	Stop                    bool             `json:"stop"`
	StopType                string           `json:"stop_type,omitempty"`
}

// LlamaTokenProb is one generated position of a llama.cpp completion, or one
// alternative at such a position. The server sends Logprob and TopLogprobs,
// or Prob and TopProbs when post-sampling probabilities were asked for.
type LlamaTokenProb struct {
	ID          int32            `json:"id"`
	Token       string           `json:"token"`
	Bytes       []int            `json:"bytes,omitempty"`
	Logprob     *float64         `json:"logprob,omitempty"`
	Prob        *float64         `json:"prob,omitempty"`
	TopLogprobs []LlamaTokenProb `json:"top_logprobs,omitempty"`
	TopProbs    []LlamaTokenProb `json:"top_probs,omitempty"`
}

// LlamaTokenizeRequest is the body of the llama.cpp server's POST /tokenize.
type LlamaTokenizeRequest struct {
	Content    string `json:"content"`
	AddSpecial bool   `json:"add_special,omitempty"`
}

// LlamaTokenizeResponse is the answer of the llama.cpp server's POST
// /tokenize.
type LlamaTokenizeResponse struct {
	Tokens []int32 `json:"tokens"`
}

// LlamaDetokenizeRequest is the body of the llama.cpp server's POST
// /detokenize.
type LlamaDetokenizeRequest struct {
	Tokens []int32 `json:"tokens"`
}

// LlamaDetokenizeResponse is the answer of the llama.cpp server's POST
// /detokenize.
type LlamaDetokenizeResponse struct {
	Content string `json:"content"`
}

// OllamaGenerateRequest is the body of Ollama's POST /api/generate, limited
// to the fields cogenesis uses. Logprobs need Ollama 0.12.11 or later.
type OllamaGenerateRequest struct {
	Model  string `json:"model"`
	Prompt string `json:"prompt"`
	// Raw skips the model's prompt template, so that the prompt is
	// continued exactly as given.
	Raw         bool  `json:"raw,omitempty"`
	Stream      *bool `json:"stream,omitempty"`
	Logprobs    bool  `json:"logprobs,omitempty"`
	TopLogprobs int   `json:"top_logprobs,omitempty"`
	// Truncate false makes a prompt longer than the context an error;
	// Ollama otherwise drops its middle silently.
	Truncate *bool         `json:"truncate,omitempty"`
	Options  OllamaOptions `json:"options,omitzero"`
}

// OllamaOptions are the model options of an [OllamaGenerateRequest].
type OllamaOptions struct {
	NumPredict  int      `json:"num_predict,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
}

// OllamaGenerateResponse is the answer of a non-streaming Ollama POST
// /api/generate.
type OllamaGenerateResponse struct {
	Model           string          `json:"model"`
	CreatedAt       string          `json:"created_at"`
	Response        string          `json:"response"`
	Done            bool            `json:"done"`
	DoneReason      string          `json:"done_reason,omitempty"`
	PromptEvalCount int             `json:"prompt_eval_count,omitempty"`
	EvalCount       int             `json:"eval_count,omitempty"`
	Logprobs        []OllamaLogprob `json:"logprobs,omitempty"`
}

// OllamaLogprob is one generated token of an Ollama response with its
// alternatives. Ollama names tokens by their text only, never by id.
type OllamaLogprob struct {
	Token       string               `json:"token"`
	Logprob     float64              `json:"logprob"`
	Bytes       []int                `json:"bytes,omitempty"`
	TopLogprobs []OllamaTokenLogprob `json:"top_logprobs,omitempty"`
}

// OllamaTokenLogprob is one alternative of an [OllamaLogprob].
type OllamaTokenLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes,omitempty"`
}

// OllamaShowRequest is the body of Ollama's POST /api/show.
type OllamaShowRequest struct {
	Model string `json:"model"`
	// Verbose adds the long metadata arrays, such as the tokenizer's
	// tokens, to ModelInfo.
	Verbose bool `json:"verbose,omitempty"`
}

// OllamaShowResponse is the part of Ollama's POST /api/show answer that
// cogenesis reads: the model's GGUF metadata.
type OllamaShowResponse struct {
	ModelInfo map[string]any `json:"model_info"`
}

// OllamaChatRequest is the body of Ollama's POST /api/chat, limited to the
// fields cogenesis uses.
type OllamaChatRequest struct {
	Model    string          `json:"model"`
	Messages []OllamaMessage `json:"messages"`
	Stream   *bool           `json:"stream,omitempty"`
	// Truncate false makes a conversation longer than the context an
	// error; Ollama otherwise drops messages, or the middle of the prompt,
	// silently.
	Truncate *bool          `json:"truncate,omitempty"`
	Options  map[string]any `json:"options,omitempty"`
}

// OllamaMessage is one message of an [OllamaChatRequest] or its answer.
type OllamaMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// OllamaChatResponse is the answer of a non-streaming Ollama POST
// /api/chat.
type OllamaChatResponse struct {
	Model           string        `json:"model"`
	CreatedAt       string        `json:"created_at"`
	Message         OllamaMessage `json:"message"`
	Done            bool          `json:"done"`
	DoneReason      string        `json:"done_reason,omitempty"`
	PromptEvalCount int           `json:"prompt_eval_count,omitempty"`
	EvalCount       int           `json:"eval_count,omitempty"`
}
