package cloud

import (
	"context"
	"net/http"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// chatBody is a chat request with the OpenAI fields that
// openaiapi.ChatCompletionRequest leaves out and cogen cloud must not
// ignore.
type chatBody struct {
	openaiapi.ChatCompletionRequest
	N *int `json:"n"`
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var body chatBody
	if err := httpapi.Decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if err := checkN(body.N); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.runChat(w, r, &body.ChatCompletionRequest); err != nil {
		s.fail(w, err)
	}
}

// runChat returns an error only before the response has started.
func (s *Server) runChat(w http.ResponseWriter, r *http.Request, req *openaiapi.ChatCompletionRequest) error {
	ctx := r.Context()
	if err := s.checkModel(req.Model); err != nil {
		return err
	}
	if len(req.Messages) == 0 {
		return httpapi.BadRequest("messages: at least one message is required")
	}
	msgs := make([]llm.Message, len(req.Messages))
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleSystem, llm.RoleUser, llm.RoleAssistant:
		default:
			return httpapi.BadRequest("messages[%d].role %q: want system, user or assistant", i, m.Role)
		}
		msgs[i] = m.Message()
	}
	if err := checkTopK("top_logprobs", req.TopLogprobs); err != nil {
		return err
	}
	params, err := samplingParams(req.Temperature, req.TopP, req.Seed)
	if err != nil {
		return err
	}
	gram, err := constraintFor(req.ResponseFormat, req.GuidedGrammar, req.GuidedRegex, req.Grammar)
	if err != nil {
		return err
	}
	if err := s.checkGrammar(gram); err != nil {
		return err
	}
	text, err := s.Model.RenderChat(msgs, true)
	if err != nil {
		return err
	}
	prompt, err := s.Model.Tokenize(text, false, true)
	if err != nil {
		return err
	}
	limit := req.MaxCompletionTokens
	if limit == nil {
		limit = req.MaxTokens
	}
	maxNew, err := s.maxNew(limit, 0, len(prompt))
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
	if _, err := cs.Load(ctx, prompt, false, 0); err != nil {
		return err
	}
	seq := cs.Seq

	opts := llamacpp.GenerateOptions{
		Sample: params, MaxTokens: maxNew, Stop: req.Stop, Grammar: gram,
		Logprobs: req.Logprobs || req.TopLogprobs > 0,
	}
	if opts.Logprobs {
		opts.TopLogprobs = req.TopLogprobs
	}
	id, created := httpapi.NewID("chatcmpl-"), time.Now().Unix()
	if !req.Stream {
		var lps []openaiapi.ChatTokenLogprob
		res, err := s.generate(ctx, seq, nil, len(prompt), opts, maxNew, func(t llamacpp.Token) error {
			if t.Logprob != nil {
				lps = append(lps, s.chatLogprob(t.Logprob))
			}
			return nil
		})
		if err != nil {
			return err
		}
		ok = true
		choice := openaiapi.ChatChoice{
			Message:      openaiapi.ChatMessage{Role: llm.RoleAssistant, Content: res.Text},
			FinishReason: openaiapi.FinishReason(res.FinishReason),
		}
		if opts.Logprobs {
			choice.Logprobs = &openaiapi.ChatLogprobs{Content: lps}
		}
		httpapi.WriteJSON(w, http.StatusOK, openaiapi.ChatCompletionResponse{
			ID: id, Object: "chat.completion", Created: created, Model: s.Name,
			Choices: []openaiapi.ChatChoice{choice}, Usage: &res.Usage,
		})
		return nil
	}

	ev := httpapi.StartSSE(w)
	chunk := func(d openaiapi.ChatDelta, lp *openaiapi.ChatLogprobs, fin string) openaiapi.ChatCompletionChunk {
		return openaiapi.ChatCompletionChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: s.Name,
			Choices: []openaiapi.ChatChunkChoice{{Delta: d, Logprobs: lp, FinishReason: openaiapi.FinishReason(fin)}},
		}
	}
	if err := ev.Send(chunk(openaiapi.ChatDelta{Role: llm.RoleAssistant}, nil, "")); err != nil {
		return nil
	}
	res, err := s.generate(ctx, seq, nil, len(prompt), opts, maxNew, func(t llamacpp.Token) error {
		var lp *openaiapi.ChatLogprobs
		if t.Logprob != nil {
			lp = &openaiapi.ChatLogprobs{Content: []openaiapi.ChatTokenLogprob{s.chatLogprob(t.Logprob)}}
		}
		if t.Text == "" && lp == nil {
			return nil
		}
		return ev.Send(chunk(openaiapi.ChatDelta{Content: t.Text}, lp, ""))
	})
	if err != nil {
		failSSE(ev, err)
		return nil
	}
	ok = true
	if err := ev.Send(chunk(openaiapi.ChatDelta{}, nil, res.FinishReason)); err != nil {
		return nil
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		_ = ev.Send(openaiapi.ChatCompletionChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: s.Name,
			Choices: []openaiapi.ChatChunkChoice{}, Usage: &res.Usage,
		})
	}
	ev.Done()
	return nil
}

// generate appends prompt to seq (which may already hold the first
// promptLen-len(prompt) prompt tokens) and generates up to maxNew tokens;
// maxNew 0 generates nothing.
func (s *Server) generate(ctx context.Context, seq *llamacpp.Sequence, prompt []int32, promptLen int, opts llamacpp.GenerateOptions, maxNew int, yield func(llamacpp.Token) error) (llamacpp.Result, error) {
	var res llamacpp.Result
	var err error
	if maxNew == 0 {
		err = seq.Append(ctx, prompt)
		res.FinishReason = llamacpp.FinishLength
	} else {
		opts.MaxTokens = maxNew
		res, err = seq.Generate(ctx, prompt, opts, yield)
	}
	res.Usage = llm.Usage{PromptTokens: promptLen, CompletionTokens: res.Usage.CompletionTokens, TotalTokens: promptLen + res.Usage.CompletionTokens}
	return res, err
}
