package cloud

import (
	"net/http"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// completionBody is a completions request with the OpenAI fields that
// openaiapi.CompletionRequest leaves out and cogen cloud must not ignore.
type completionBody struct {
	openaiapi.CompletionRequest
	N *int `json:"n"`
	// ResponseFormat constrains the output as on chat completions (vLLM
	// accepts it on completions too).
	ResponseFormat *openaiapi.ResponseFormat `json:"response_format"`
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var body completionBody
	if err := httpapi.Decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if err := checkN(body.N); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.runCompletion(w, r, &body.CompletionRequest, body.ResponseFormat); err != nil {
		s.fail(w, err)
	}
}

// promptTokens resolves the prompt: one string (tokenized with BOS and
// special tokens, as vLLM does) or one token-id list.
func (s *Server) promptTokens(p openaiapi.Prompt) ([]int32, error) {
	switch {
	case p.Tokens != nil:
		if err := s.checkTokens(p.Tokens); err != nil {
			return nil, err
		}
		return p.Tokens, nil
	case p.TokenBatch != nil:
		if len(p.TokenBatch) != 1 {
			return nil, httpapi.BadRequest("prompt: %d token lists; send one prompt per request", len(p.TokenBatch))
		}
		return s.promptTokens(openaiapi.Prompt{Tokens: p.TokenBatch[0]})
	case p.Texts != nil:
		if len(p.Texts) != 1 {
			return nil, httpapi.BadRequest("prompt: %d strings; send one prompt per request", len(p.Texts))
		}
		return s.promptTokens(openaiapi.Prompt{Text: p.Texts[0]})
	}
	return s.Model.Tokenize(p.Text, true, true)
}

// runCompletion returns an error only before the response has started.
func (s *Server) runCompletion(w http.ResponseWriter, r *http.Request, req *openaiapi.CompletionRequest, rf *openaiapi.ResponseFormat) error {
	ctx := r.Context()
	if err := s.checkModel(req.Model); err != nil {
		return err
	}
	prompt, err := s.promptTokens(req.Prompt)
	if err != nil {
		return err
	}
	if len(prompt) == 0 {
		return httpapi.BadRequest("prompt: empty")
	}
	if req.Logprobs != nil && *req.Logprobs < 0 {
		return httpapi.BadRequest("logprobs %d: must be in [0, %d]", *req.Logprobs, MaxTopLogprobs)
	}
	if req.NProbs < 0 {
		return httpapi.BadRequest("n_probs %d: must be in [0, %d]", req.NProbs, MaxTopLogprobs)
	}
	lpK := -1 // no logprobs
	if req.Logprobs != nil {
		lpK = *req.Logprobs
	} else if req.NProbs > 0 {
		lpK = req.NProbs
	}
	if err := checkTopK("logprobs", max(lpK, 0)); err != nil {
		return err
	}
	plK := -1
	if req.PromptLogprobs != nil {
		plK = *req.PromptLogprobs
		if err := checkTopK("prompt_logprobs", plK); err != nil {
			return err
		}
	}
	params, err := samplingParams(req.Temperature, req.TopP, req.Seed)
	if err != nil {
		return err
	}
	gram, err := constraintFor(rf, req.GuidedGrammar, req.GuidedRegex, req.Grammar)
	if err != nil {
		return err
	}
	if err := s.checkGrammar(gram); err != nil {
		return err
	}
	maxNew, err := s.maxNew(req.MaxTokens, defaultCompletionMaxTokens, len(prompt))
	if err != nil {
		return err
	}
	if err := s.wait(ctx); err != nil {
		return err
	}
	cs, err := s.prefix().Acquire(ctx, prompt)
	if err != nil {
		return err
	}
	ok := false
	defer func() { s.prefix().Release(cs, ok) }()
	seq := cs.Seq
	// Score the prompt (reusing cached positions) when any prompt position
	// is asked for.
	scored, err := cs.Load(ctx, prompt, (req.Echo && lpK >= 0) || plK >= 0, MaxTopLogprobs)
	if err != nil {
		return err
	}

	asID := req.ReturnTokensAsTokenIDs
	lp := &openaiapi.CompletionLogprobs{Tokens: []string{}, TokenLogprobs: []*float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	offset := 0
	add := func(tok int32, logprob *float64, top []llm.TopLogprob) {
		text := s.tokenText(tok, asID)
		lp.Tokens = append(lp.Tokens, text)
		lp.TokenLogprobs = append(lp.TokenLogprobs, logprob)
		if logprob == nil {
			lp.TopLogprobs = append(lp.TopLogprobs, nil)
		} else {
			lp.TopLogprobs = append(lp.TopLogprobs, s.legacyTop(top, asID))
		}
		lp.TextOffset = append(lp.TextOffset, offset)
		if !s.Model.IsControl(tok) {
			offset += len(s.Model.Piece(tok))
		}
	}
	var echoText string
	if req.Echo {
		echoText = req.Prompt.Text
		if req.Prompt.Text == "" {
			echoText = s.visibleText(prompt)
		}
		if lpK >= 0 {
			for i, e := range scored {
				if i == 0 {
					add(e.Token, nil, nil)
					continue
				}
				v := e.Logprob
				add(e.Token, &v, e.Top[:min(lpK, len(e.Top))])
			}
		}
	}
	var promptLP openaiapi.PromptLogprobs
	if plK >= 0 {
		promptLP = s.promptLogprobs(scored, plK)
	}
	opts := llamacpp.GenerateOptions{Sample: params, Stop: req.Stop, Grammar: gram, Logprobs: lpK >= 0, TopLogprobs: max(lpK, 0)}
	id, created := httpapi.NewID("cmpl-"), time.Now().Unix()

	if !req.Stream {
		res, err := s.generate(ctx, seq, nil, len(prompt), opts, maxNew, func(t llamacpp.Token) error {
			if t.Logprob != nil {
				v := t.Logprob.Logprob
				add(t.ID, &v, t.Logprob.Top)
			}
			return nil
		})
		if err != nil {
			return err
		}
		ok = true
		choice := openaiapi.CompletionChoice{Text: echoText + res.Text, FinishReason: openaiapi.FinishReason(res.FinishReason), PromptLogprobs: promptLP}
		if lpK >= 0 {
			choice.Logprobs = lp
		}
		httpapi.WriteJSON(w, http.StatusOK, openaiapi.CompletionResponse{
			ID: id, Object: "text_completion", Created: created, Model: s.Name,
			Choices: []openaiapi.CompletionChoice{choice}, Usage: &res.Usage,
		})
		return nil
	}

	ev := httpapi.StartSSE(w)
	send := func(text string, fin string, withLP bool, pl openaiapi.PromptLogprobs) error {
		c := openaiapi.CompletionChoice{Text: text, FinishReason: openaiapi.FinishReason(fin), PromptLogprobs: pl}
		if withLP && lpK >= 0 {
			c.Logprobs = lp
		}
		return ev.Send(openaiapi.CompletionResponse{ID: id, Object: "text_completion", Created: created, Model: s.Name, Choices: []openaiapi.CompletionChoice{c}})
	}
	if req.Echo || promptLP != nil {
		if err := send(echoText, "", len(lp.Tokens) > 0, promptLP); err != nil {
			return nil
		}
	}
	res, err := s.generate(ctx, seq, nil, len(prompt), opts, maxNew, func(t llamacpp.Token) error {
		lp.Tokens, lp.TokenLogprobs, lp.TopLogprobs, lp.TextOffset = lp.Tokens[:0], lp.TokenLogprobs[:0], lp.TopLogprobs[:0], lp.TextOffset[:0]
		if t.Logprob != nil {
			v := t.Logprob.Logprob
			add(t.ID, &v, t.Logprob.Top)
		}
		if t.Text == "" && t.Logprob == nil {
			return nil
		}
		return send(t.Text, "", t.Logprob != nil, nil)
	})
	if err != nil {
		failSSE(ev, err)
		return nil
	}
	ok = true
	if err := send("", res.FinishReason, false, nil); err != nil {
		return nil
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		_ = ev.Send(openaiapi.CompletionResponse{ID: id, Object: "text_completion", Created: created, Model: s.Name, Choices: []openaiapi.CompletionChoice{}, Usage: &res.Usage})
	}
	ev.Done()
	return nil
}

// promptLogprobs builds vLLM's prompt_logprobs: null first, then for each
// position the top k tokens and the prompt token itself, with ranks.
func (s *Server) promptLogprobs(scored []llm.TokenLogprob, k int) openaiapi.PromptLogprobs {
	out := make(openaiapi.PromptLogprobs, len(scored))
	for i, e := range scored {
		if i == 0 {
			continue
		}
		m := make(map[int32]openaiapi.PromptLogprob, k+1)
		for r, t := range e.Top[:min(k, len(e.Top))] {
			m[t.Token] = openaiapi.PromptLogprob{Logprob: t.Logprob, Rank: r + 1, DecodedToken: s.Model.Piece(t.Token)}
		}
		if _, ok := m[e.Token]; !ok {
			m[e.Token] = openaiapi.PromptLogprob{Logprob: e.Logprob, Rank: e.Rank, DecodedToken: s.Model.Piece(e.Token)}
		}
		out[i] = m
	}
	return out
}

// visibleText detokenizes without control tokens such as BOS, as vLLM's
// skip_special_tokens does.
func (s *Server) visibleText(toks []int32) string {
	var b []byte
	for _, t := range toks {
		if !s.Model.IsControl(t) {
			b = s.Model.AppendPiece(b, t)
		}
	}
	return string(b)
}
