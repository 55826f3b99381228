package openaiapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cogenesis/cogenesis/llm"
)

// NoToken is the Token of an [llm.TopLogprob] whose id the server did not
// report; only its Text is known. Ollama names tokens by text only, and so
// does SGLang's legacy logprobs shape. The caller, which shares the
// server's tokenizer, maps the text back to an id.
const NoToken int32 = -1

// tokenIDPrefix starts the token strings vLLM returns when asked for
// return_tokens_as_token_ids.
const tokenIDPrefix = "token_id:"

var (
	epNextTopK    = endpoint{op: "next-token top-k", method: http.MethodPost, path: "/completions"}
	epScore       = endpoint{op: "score sequence", method: http.MethodPost, path: "/completions"}
	epLlamaNext   = endpoint{op: "next-token top-k", method: http.MethodPost, path: "/completion", native: true}
	epOllamaNext  = endpoint{op: "next-token top-k", method: http.MethodPost, path: "/api/generate", native: true}
	epTokenize    = endpoint{op: "tokenize", method: http.MethodPost, path: "/tokenize", native: true}
	epOllamaShow  = endpoint{op: "vocabulary", method: http.MethodPost, path: "/api/show", native: true}
	epDetokenize  = endpoint{op: "detokenize", method: http.MethodPost, path: "/detokenize", native: true}
	errEmptyInput = errors.New("empty prompt")
)

// NextTokenTopK returns the k most likely next tokens after prompt, given
// as token ids and continued verbatim (no chat template), best first.
//
// vLLM and SGLang answer through /v1/completions with a token-id prompt,
// max_tokens 1 and logprobs k; the llama.cpp server through its native
// /completion with n_probs k. Ollama accepts text only: use
// [Client.NextTokenTopKText]. OpenAI cannot continue a given prefix.
// Tokens reported by text only carry [NoToken].
func (c *Client) NextTokenTopK(ctx context.Context, prompt []int32, k int) ([]llm.TopLogprob, error) {
	if err := c.kind.Require(CapNextTokenTopK); err != nil {
		return nil, fmt.Errorf("%s: %w", epNextTopK.op, err)
	}
	if err := c.kind.Require(CapTokenIDPrompt); err != nil {
		return nil, fmt.Errorf("%s: %w (use NextTokenTopKText)", epNextTopK.op, err)
	}
	if len(prompt) == 0 {
		return nil, fmt.Errorf("%s: %w", epNextTopK.op, errEmptyInput)
	}
	return c.nextTopK(ctx, TokenPrompt(prompt), k)
}

// NextTokenTopKText is [Client.NextTokenTopK] for a prefix given as text,
// which the server tokenizes itself. It is the only form Ollama (0.12.11 or
// later) serves: /api/generate with raw, logprobs and top_logprobs.
func (c *Client) NextTokenTopKText(ctx context.Context, prompt string, k int) ([]llm.TopLogprob, error) {
	if prompt == "" {
		return nil, fmt.Errorf("%s: %w", epNextTopK.op, errEmptyInput)
	}
	return c.nextTopK(ctx, TextPrompt(prompt), k)
}

func (c *Client) nextTopK(ctx context.Context, prompt Prompt, k int) ([]llm.TopLogprob, error) {
	op := epNextTopK.op
	if err := c.kind.Require(CapNextTokenTopK); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if k < 1 {
		return nil, fmt.Errorf("%s: top-k %d is below 1", op, k)
	}
	if err := c.checkTopK(k); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	zero := 0.0
	switch c.kind {
	case KindLlamaCpp:
		return c.llamaNextTopK(ctx, prompt, k)
	case KindOllama:
		return c.ollamaNextTopK(ctx, prompt.Text, k)
	}
	// vLLM and SGLang.
	one := 1
	req := CompletionRequest{
		Model: c.model, Prompt: prompt, MaxTokens: &one, Logprobs: &k, Temperature: &zero,
		ReturnTokensAsTokenIDs: c.kind == KindVLLM,
	}
	var resp CompletionResponse
	if err := c.doJSON(ctx, epNextTopK, req, &resp); err != nil {
		return nil, err
	}
	c.countUsage(resp.Usage)
	if len(resp.Choices) == 0 || resp.Choices[0].Logprobs == nil || len(resp.Choices[0].Logprobs.TopLogprobs) == 0 {
		return nil, fmt.Errorf("%s: response has no logprobs", op)
	}
	top, err := c.legacyTop(resp.Choices[0].Logprobs.TopLogprobs[0], k)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return top, nil
}

// ScoreSequence scores a given token sequence in one request: for each
// position i >= 1 it returns the log-probability of tokens[i] given
// tokens[:i] and the top k tokens at that position, best first. The result
// has len(tokens)-1 entries; entry j describes position j+1.
//
// vLLM answers through prompt_logprobs (token ids exact); SGLang through
// echo with logprobs, whose alternatives are named by text only and carry
// [NoToken] (the scored token itself keeps its id, known from the input).
// Other kinds fail with an [*UnsupportedError].
func (c *Client) ScoreSequence(ctx context.Context, tokens []int32, k int) ([]llm.TokenLogprob, error) {
	scored, _, err := c.score(ctx, tokens, k, false)
	return scored, err
}

// ScoreWithNext is [Client.ScoreSequence] that also returns the top k
// tokens after the whole sequence, from the same request (speculative
// fusion: score the draft and get the next distribution in one round
// trip). k must be at least 1.
func (c *Client) ScoreWithNext(ctx context.Context, tokens []int32, k int) ([]llm.TokenLogprob, []llm.TopLogprob, error) {
	if k < 1 {
		return nil, nil, fmt.Errorf("%s: top-k %d is below 1", epScore.op, k)
	}
	return c.score(ctx, tokens, k, true)
}

func (c *Client) score(ctx context.Context, tokens []int32, k int, next bool) ([]llm.TokenLogprob, []llm.TopLogprob, error) {
	op := epScore.op
	if err := c.kind.Require(CapSequenceTopK); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(tokens) < 2 {
		return nil, nil, fmt.Errorf("%s: need at least 2 tokens, got %d", op, len(tokens))
	}
	if err := c.checkTopK(k); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	one, zero := 1, 0.0
	req := CompletionRequest{Model: c.model, Prompt: TokenPrompt(tokens), MaxTokens: &one, Temperature: &zero}
	switch c.kind {
	case KindVLLM:
		req.PromptLogprobs = &k
		req.ReturnTokensAsTokenIDs = true
		if next {
			req.Logprobs = &k
		}
	default: // SGLang
		req.Echo = true
		req.Logprobs = &k
	}
	var resp CompletionResponse
	if err := c.doJSON(ctx, epScore, req, &resp); err != nil {
		return nil, nil, err
	}
	c.countUsage(resp.Usage)
	if len(resp.Choices) == 0 {
		return nil, nil, fmt.Errorf("%s: response has no choices", op)
	}
	ch := resp.Choices[0]
	var (
		scored []llm.TokenLogprob
		nextLP map[string]float64
		err    error
	)
	if c.kind == KindVLLM {
		scored, err = promptScores(ch.PromptLogprobs, tokens, k)
		if next {
			if ch.Logprobs == nil || len(ch.Logprobs.TopLogprobs) == 0 {
				return nil, nil, fmt.Errorf("%s: response has no logprobs for the next token", op)
			}
			nextLP = ch.Logprobs.TopLogprobs[0]
		}
	} else {
		scored, err = c.echoScores(ch.Logprobs, tokens, k)
		if next {
			if ch.Logprobs == nil || len(ch.Logprobs.TopLogprobs) <= len(tokens) {
				return nil, nil, fmt.Errorf("%s: response has no logprobs for the next token", op)
			}
			nextLP = ch.Logprobs.TopLogprobs[len(tokens)]
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if !next {
		return scored, nil, nil
	}
	top, err := c.legacyTop(nextLP, k)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: next token: %w", op, err)
	}
	return scored, top, nil
}

// promptScores turns vLLM's prompt_logprobs into per-position scores.
func promptScores(pl PromptLogprobs, tokens []int32, k int) ([]llm.TokenLogprob, error) {
	if len(pl) != len(tokens) {
		return nil, fmt.Errorf("prompt_logprobs has %d entries for %d tokens", len(pl), len(tokens))
	}
	out := make([]llm.TokenLogprob, 0, len(tokens)-1)
	for i := 1; i < len(tokens); i++ {
		m := pl[i]
		self, ok := m[tokens[i]]
		if !ok {
			return nil, fmt.Errorf("prompt_logprobs at position %d lack the scored token", i)
		}
		top := make([]llm.TopLogprob, 0, len(m))
		ranks := make(map[int32]int, len(m))
		for id, lp := range m {
			top = append(top, llm.TopLogprob{Token: id, Text: lp.DecodedToken, Logprob: lp.Logprob})
			ranks[id] = lp.Rank
		}
		slices.SortFunc(top, func(a, b llm.TopLogprob) int {
			return cmp.Or(cmp.Compare(ranks[a.Token], ranks[b.Token]), cmp.Compare(b.Logprob, a.Logprob), cmp.Compare(a.Token, b.Token))
		})
		out = append(out, llm.TokenLogprob{
			Token: tokens[i], Text: self.DecodedToken, Logprob: self.Logprob,
			Top: top[:min(k, len(top))],
		})
	}
	return out, nil
}

// echoScores turns a legacy echo+logprobs answer into per-position scores.
func (c *Client) echoScores(lp *CompletionLogprobs, tokens []int32, k int) ([]llm.TokenLogprob, error) {
	if lp == nil || len(lp.TokenLogprobs) < len(tokens) || len(lp.TopLogprobs) < len(tokens) {
		return nil, fmt.Errorf("echoed logprobs do not cover the %d prompt tokens", len(tokens))
	}
	out := make([]llm.TokenLogprob, 0, len(tokens)-1)
	for i := 1; i < len(tokens); i++ {
		if lp.TokenLogprobs[i] == nil {
			return nil, fmt.Errorf("echoed logprob at position %d is null", i)
		}
		top, err := c.legacyTop(lp.TopLogprobs[i], k)
		if err != nil {
			return nil, fmt.Errorf("position %d: %w", i, err)
		}
		var text string
		if i < len(lp.Tokens) && !strings.HasPrefix(lp.Tokens[i], tokenIDPrefix) {
			text = lp.Tokens[i]
		}
		out = append(out, llm.TokenLogprob{Token: tokens[i], Text: text, Logprob: *lp.TokenLogprobs[i], Top: top})
	}
	return out, nil
}

// legacyTop turns a legacy top_logprobs map into the k best candidates.
// Keys of the form "token_id:<id>" carry the id; other keys are token text
// and get [NoToken], which vLLM (asked for ids) must never send.
func (c *Client) legacyTop(m map[string]float64, k int) ([]llm.TopLogprob, error) {
	top := make([]llm.TopLogprob, 0, len(m))
	for key, lp := range m {
		t := llm.TopLogprob{Token: NoToken, Text: key, Logprob: lp}
		if rest, ok := strings.CutPrefix(key, tokenIDPrefix); ok {
			id, err := strconv.ParseInt(rest, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad token id in logprobs key: %w", err)
			}
			t = llm.TopLogprob{Token: int32(id), Logprob: lp}
		} else if c.kind == KindVLLM {
			return nil, errors.New("server returned token text instead of ids (vLLM too old for return_tokens_as_token_ids?)")
		}
		top = append(top, t)
	}
	slices.SortFunc(top, func(a, b llm.TopLogprob) int {
		return cmp.Or(cmp.Compare(b.Logprob, a.Logprob), cmp.Compare(a.Token, b.Token), strings.Compare(a.Text, b.Text))
	})
	return top[:min(k, len(top))], nil
}

// llamaTop turns one llama.cpp completion_probabilities entry into the k
// best candidates.
func llamaTop(p LlamaTokenProb, k int) ([]llm.TopLogprob, error) {
	src := p.TopLogprobs
	if len(src) == 0 {
		src = p.TopProbs
	}
	top := make([]llm.TopLogprob, 0, len(src))
	for _, t := range src {
		var lp float64
		switch {
		case t.Logprob != nil:
			lp = *t.Logprob
		case t.Prob != nil:
			lp = math.Log(*t.Prob)
		default:
			return nil, fmt.Errorf("candidate %d has neither logprob nor prob", t.ID)
		}
		top = append(top, llm.TopLogprob{Token: t.ID, Text: t.Token, Logprob: lp})
	}
	slices.SortStableFunc(top, func(a, b llm.TopLogprob) int { return cmp.Compare(b.Logprob, a.Logprob) })
	return top[:min(k, len(top))], nil
}

// ollamaTries are the sampling settings of successive one-token attempts
// at an Ollama next-token query (see ollamaNextTopK): greedy, then eight
// seeded samples at temperature 1 and eight at 100.
var ollamaTries = func() []OllamaOptions {
	zero := 0.0
	tries := []OllamaOptions{{NumPredict: 1, Temperature: &zero, Seed: new(int64)}}
	for _, temp := range []float64{1, 100} {
		for i := range int64(8) {
			seed := i + 1
			tries = append(tries, OllamaOptions{NumPredict: 1, Temperature: &temp, Seed: &seed})
		}
	}
	return tries
}()

// ollamaNextTopK asks Ollama's /api/generate (raw, so that the prompt is
// continued as given) for the top k after prompt. Ollama computes them
// from the raw logits, whatever it samples, but reports them only with
// text it sends: it holds back a token whose text is incomplete UTF-8
// until the text is whole, drops what never becomes whole, and reports
// nothing for an end-of-generation token (runner/llamarunner/runner.go,
// flushPending and processBatch); a lone invalid byte never becomes whole,
// so generating on does not help. So one greedy token is tried first, and
// when it brings no log-probabilities (the likeliest token was such a
// token), seeded samples of one token at temperature 1, then at 100
// (nearly uniform), until one draws a token Ollama reports. Every answer
// is of the one position after the prompt.
func (c *Client) ollamaNextTopK(ctx context.Context, prompt string, k int) ([]llm.TopLogprob, error) {
	op := epOllamaNext.op
	no := false
	for _, opts := range ollamaTries {
		req := OllamaGenerateRequest{
			Model: c.model, Prompt: prompt, Raw: true, Stream: &no,
			Logprobs: true, TopLogprobs: k, Truncate: &no, Options: opts,
		}
		var resp OllamaGenerateResponse
		if err := c.doJSON(ctx, epOllamaNext, req, &resp); err != nil {
			return nil, err
		}
		c.addUsage(resp.PromptEvalCount, resp.EvalCount)
		if len(resp.Logprobs) == 0 {
			continue
		}
		top := make([]llm.TopLogprob, 0, k)
		for _, t := range resp.Logprobs[0].TopLogprobs {
			top = append(top, llm.TopLogprob{Token: NoToken, Text: t.Token, Logprob: t.Logprob})
		}
		slices.SortStableFunc(top, func(a, b llm.TopLogprob) int { return cmp.Compare(b.Logprob, a.Logprob) })
		return top[:min(k, len(top))], nil
	}
	return nil, fmt.Errorf("%s: ollama sent no logprobs in %d tries (older than 0.12.11, or every try ended generation at once)", op, len(ollamaTries))
}

// maxWithheld bounds the retries of one llama.cpp next-token query, each
// of which bans one more withheld token.
const maxWithheld = 32

// llamaNextTopK asks llama.cpp's /completion for the top k after prompt.
// The server answers by sampling one token, here greedily so that the
// answer is deterministic, and reports the raw distribution of that
// position. But it withholds a sampled token whose text ends in an
// incomplete UTF-8 sequence (a byte token, a piece of a multi-byte
// character), and with it the probabilities ("tokens": [] and no
// completion_probabilities; tools/server/server-context.cpp,
// process_token). return_tokens names the withheld token anyway; the
// query is then sent again with that token banned through logit_bias,
// which changes which token is sampled but not the reported probabilities
// (they come from the logits, before the sampler chain). Banned tokens are
// remembered, so later queries ban them from the start.
func (c *Client) llamaNextTopK(ctx context.Context, prompt Prompt, k int) ([]llm.TopLogprob, error) {
	op := epLlamaNext.op
	zero := 0.0
	for range maxWithheld + 1 {
		req := LlamaCompletionRequest{
			Prompt: prompt, NPredict: 1, NProbs: k, Temperature: &zero,
			CachePrompt: true, ReturnTokens: true, LogitBias: c.withheld.bias(),
		}
		var resp LlamaCompletionResponse
		if err := c.doJSON(ctx, epLlamaNext, req, &resp); err != nil {
			return nil, err
		}
		c.addUsage(resp.TokensEvaluated, resp.TokensPredicted)
		if len(resp.CompletionProbabilities) > 0 {
			top, err := llamaTop(resp.CompletionProbabilities[0], k)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			return top, nil
		}
		if len(resp.Tokens) == 0 || !c.withheld.add(resp.Tokens[0]) {
			return nil, fmt.Errorf("%s: response has no completion_probabilities (tokens %v, stop type %q)", op, resp.Tokens, resp.StopType)
		}
		c.logger.Debug("next-token top-k: the server withheld a partial UTF-8 token; asking again with it banned", logKeyOp, op, "token", resp.Tokens[0])
	}
	return nil, fmt.Errorf("%s: the server withheld %d sampled tokens in a row as incomplete UTF-8", op, maxWithheld)
}

// bannedTokens is the set of tokens a llama.cpp server withheld, as a
// logit_bias that bans them.
type bannedTokens struct {
	mu  sync.Mutex
	ids []int32
}

// add adds id and reports whether it was new.
func (b *bannedTokens) add(id int32) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.Contains(b.ids, id) {
		return false
	}
	b.ids = append(b.ids, id)
	return true
}

// BanTokens bans ids from a llama.cpp server's sampling, in next-token
// queries and chat completions, through logit_bias. Give it the tokens
// whose text alone is not valid UTF-8 (tokmap.Map.Invalid): the server
// withholds such a token's probabilities, and its output parser (since
// late 2025) fails with HTTP 500 on generated text that ends inside one.
// A ban changes what the server samples, never the log-probabilities a
// next-token query reports; a chat completion can then no longer write a
// character that only byte tokens spell. Other kinds ignore it.
func (c *Client) BanTokens(ids []int32) {
	for _, id := range ids {
		c.withheld.add(id)
	}
}

func (b *bannedTokens) biasMap() map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ids) == 0 {
		return nil
	}
	out := make(map[string]any, len(b.ids))
	for _, id := range b.ids {
		out[strconv.Itoa(int(id))] = false
	}
	return out
}

func (b *bannedTokens) bias() [][2]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ids) == 0 {
		return nil
	}
	out := make([][2]any, len(b.ids))
	for i, id := range b.ids {
		out[i] = [2]any{id, false}
	}
	return out
}

// Vocabulary returns the text of every token of the server's model, by id,
// as the GGUF stores it (tokenizer.ggml.tokens: "▁the", "<0x44>"). Only
// Ollama offers it (POST /api/show, verbose); it is how its tokenizer is
// checked, having no tokenize endpoint.
func (c *Client) Vocabulary(ctx context.Context) ([]string, error) {
	op := epOllamaShow.op
	if err := c.kind.Require(CapVocabulary); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var resp OllamaShowResponse
	if err := c.doJSON(ctx, epOllamaShow, OllamaShowRequest{Model: c.model, Verbose: true}, &resp); err != nil {
		return nil, err
	}
	list, ok := resp.ModelInfo["tokenizer.ggml.tokens"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: the answer has no tokenizer.ggml.tokens", op)
	}
	out := make([]string, len(list))
	for i, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: token %d is not a string", op, i)
		}
		out[i] = s
	}
	return out, nil
}

// Tokenize returns the token ids of text (vLLM and SGLang /tokenize, or
// the llama.cpp server's /tokenize). addSpecial adds the model's special
// tokens, such as BOS.
func (c *Client) Tokenize(ctx context.Context, text string, addSpecial bool) ([]int32, error) {
	if err := c.kind.Require(CapTokenize); err != nil {
		return nil, fmt.Errorf("%s: %w", epTokenize.op, err)
	}
	if c.kind == KindLlamaCpp {
		var resp LlamaTokenizeResponse
		if err := c.doJSON(ctx, epTokenize, LlamaTokenizeRequest{Content: text, AddSpecial: addSpecial}, &resp); err != nil {
			return nil, err
		}
		return resp.Tokens, nil
	}
	var resp TokenizeResponse
	req := TokenizeRequest{Model: c.model, Prompt: text, AddSpecialTokens: &addSpecial}
	if err := c.doJSON(ctx, epTokenize, req, &resp); err != nil {
		return nil, err
	}
	return resp.Tokens, nil
}

// Detokenize returns the text of token ids (vLLM and SGLang /detokenize,
// or the llama.cpp server's /detokenize).
func (c *Client) Detokenize(ctx context.Context, tokens []int32) (string, error) {
	if err := c.kind.Require(CapTokenize); err != nil {
		return "", fmt.Errorf("%s: %w", epDetokenize.op, err)
	}
	if c.kind == KindLlamaCpp {
		var resp LlamaDetokenizeResponse
		if err := c.doJSON(ctx, epDetokenize, LlamaDetokenizeRequest{Tokens: tokens}, &resp); err != nil {
			return "", err
		}
		return resp.Content, nil
	}
	var resp DetokenizeResponse
	if err := c.doJSON(ctx, epDetokenize, DetokenizeRequest{Model: c.model, Tokens: tokens}, &resp); err != nil {
		return "", err
	}
	return resp.Prompt, nil
}
