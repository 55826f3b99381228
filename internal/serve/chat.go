package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// strategies returns the strategies this server offers.
func (s *Server) strategies() []collab.Strategy {
	var out []collab.Strategy
	for _, st := range collab.Strategies {
		switch {
		case st == collab.SLM:
		case s.Cloud == nil:
			continue
		case st == collab.LLMContext && s.Private == nil:
			continue
		}
		out = append(out, st)
	}
	return out
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	list := openaiapi.ModelList{Object: openaiapi.ObjectList, Data: []openaiapi.Model{}}
	for _, st := range s.strategies() {
		list.Data = append(list.Data, openaiapi.Model{
			ID: ModelPrefix + string(st), Object: openaiapi.ObjectModel, Created: s.Created.Unix(), OwnedBy: "cogenesis",
		})
	}
	httpapi.WriteJSON(w, http.StatusOK, list)
}

// strategy resolves a model id to an offered strategy.
func (s *Server) strategy(model string) (collab.Strategy, error) {
	name, ok := strings.CutPrefix(model, ModelPrefix)
	if ok {
		for _, st := range s.strategies() {
			if string(st) == name {
				return st, nil
			}
		}
	}
	return "", &httpapi.Error{Status: http.StatusNotFound, Type: "not_found_error", Message: fmt.Sprintf("the model %q does not exist: GET /v1/models lists the strategies offered (cogen-slm, cogen-sketch, ...)", model)}
}

// Extension is the "cogen" field the gateway adds to chat responses and
// chunks; OpenAI clients ignore it.
type Extension struct {
	// Request is the request id, which the audit records of the request
	// carry.
	Request  string `json:"request,omitempty"`
	User     string `json:"user,omitempty"`
	Strategy string `json:"strategy,omitempty"`
	// Ran names what ran in the strategy's place when it could not run
	// against this cloud ("speculative→logits"); in the last chunk.
	Ran string `json:"ran,omitempty"`
	// W is the small model's weight for this chunk's text (streaming);
	// Consulted whether the cloud contributed to it.
	W         *float64 `json:"w,omitempty"`
	Consulted bool     `json:"consulted,omitempty"`
	// Redactions counts the guard's findings removed from the public
	// instruction; CloudCalls the requests that left the device.
	Redactions *int `json:"redactions,omitempty"`
	CloudCalls *int `json:"cloud_calls,omitempty"`
	// Pieces are the text pieces with their weights (non-streaming).
	Pieces []Piece `json:"pieces,omitempty"`
}

// Piece is one piece of generated text and the small model's weight for
// it.
type Piece struct {
	Text      string  `json:"text"`
	W         float64 `json:"w"`
	Consulted bool    `json:"consulted,omitempty"`
}

// ChatResponse is a chat completion with the gateway's extension.
type ChatResponse struct {
	openaiapi.ChatCompletionResponse
	Cogen *Extension `json:"cogen,omitempty"`
}

// ChatChunk is a streaming chunk with the gateway's extension.
type ChatChunk struct {
	openaiapi.ChatCompletionChunk
	Cogen *Extension `json:"cogen,omitempty"`
}

// chatJob is a validated chat request.
type chatJob struct {
	id       string
	strategy collab.Strategy
	user     vault.User
	task     string
	opts     collab.Options
	req      *openaiapi.ChatCompletionRequest
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var body chatRequest
	if err := httpapi.Decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if err := body.unsupported(); err != nil {
		s.fail(w, err)
		return
	}
	req := body.ChatCompletionRequest
	if sc := scope(r); sc != "" {
		if req.User == "" {
			req.User = sc
		}
		if req.User != sc {
			s.fail(w, errScope)
			return
		}
	}
	job, err := s.prepare(r.Context(), &req)
	if err != nil {
		s.fail(w, err)
		return
	}
	select {
	case s.queue <- struct{}{}:
		defer func() { <-s.queue }()
	default:
		w.Header().Set("Retry-After", "1")
		httpapi.WriteError(w, http.StatusTooManyRequests, "rate_limit_error", fmt.Sprintf("%d requests are in progress; retry later", s.MaxQueue))
		return
	}
	log := s.logger().With(keyReq, job.id, keyUser, job.user.ID, keyStrategy, string(job.strategy))
	runner, err := s.runner(&job.user)
	if err != nil {
		log.Error("guard model", "err", err)
		httpapi.WriteError(w, http.StatusInternalServerError, "server_error", "the guard model could not start")
		return
	}
	task := collab.TaskFromVault(job.user.Vault(), privacy.SplitTask(job.task))
	ctx := audit.WithOrigin(r.Context(), job.user.ID, job.id)
	var res collab.Result
	if req.Stream {
		res, err = s.stream(ctx, w, job, runner, task)
	} else {
		res, err = s.complete(ctx, w, job, runner, task)
	}
	if err != nil {
		log.Info("chat failed", "err", err, "duration", time.Since(start))
		return
	}
	log.Info("chat", "ran", res.Label(), "task_len", len(job.task), "tokens", res.Usage.CompletionTokens, "cloud_calls", res.CloudCalls,
		"redactions", res.Redactions, "stream", req.Stream, "duration", time.Since(start))
}

// chatRequest is a chat request with the OpenAI fields the gateway
// refuses rather than ignore.
type chatRequest struct {
	openaiapi.ChatCompletionRequest
	// N asks for that many choices; the gateway writes one.
	N *int
}

// UnmarshalJSON decodes the request and n, so that a field's type error
// names the field as the client wrote it ("max_tokens").
func (c *chatRequest) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.ChatCompletionRequest); err != nil {
		return err
	}
	var extra struct {
		N *int `json:"n"`
	}
	if err := json.Unmarshal(b, &extra); err != nil {
		return err
	}
	c.N = extra.N
	return nil
}

// unsupported refuses what the gateway cannot honour: more than one
// choice, and log probabilities (the text of most strategies mixes two
// models, and the gateway returns no logprobs).
func (c *chatRequest) unsupported() error {
	if c.N != nil && *c.N != 1 {
		return httpapi.BadRequest("n %d: cogen serve writes one choice per request; want 1", *c.N)
	}
	if k := c.TopLogprobs; k < 0 || k > 20 {
		return httpapi.BadRequest("top_logprobs %d: want 0 to 20", k)
	}
	if c.Logprobs || c.TopLogprobs > 0 {
		return httpapi.BadRequest("logprobs: cogen serve returns no log probabilities")
	}
	return nil
}

// prepare validates a chat request and loads the user's vault.
func (s *Server) prepare(ctx context.Context, req *openaiapi.ChatCompletionRequest) (*chatJob, error) {
	st, err := s.strategy(req.Model)
	if err != nil {
		return nil, err
	}
	if req.User == "" {
		return nil, httpapi.BadRequest("user: name the vault user whose context the local model reads")
	}
	if err := vault.ValidID(req.User); err != nil {
		return nil, httpapi.BadRequest("user: %v", err)
	}
	task := ""
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		switch m.Role {
		case llm.RoleSystem, llm.RoleUser, llm.RoleAssistant:
		default:
			return nil, httpapi.BadRequest("messages[%d].role %q: want system, user or assistant", i, m.Role)
		}
		if m.Role == llm.RoleUser && task == "" {
			task = strings.TrimSpace(m.Content)
		}
	}
	if task == "" {
		return nil, httpapi.BadRequest("messages: the last user message (the task) is missing or empty")
	}
	limit := s.MaxTokens
	if limit <= 0 {
		limit = DefaultMaxTokens
	}
	maxTokens := limit
	if n := req.MaxCompletionTokens; n != nil {
		req.MaxTokens = n
	}
	if n := req.MaxTokens; n != nil {
		if *n < 1 || *n > limit {
			return nil, httpapi.BadRequest("max_tokens %d: want 1 to %d", *n, limit)
		}
		maxTokens = *n
	}
	params := sample.Params{}
	if t := req.Temperature; t != nil {
		if math.IsNaN(*t) || *t < 0 || *t > 2 {
			return nil, httpapi.BadRequest("temperature %v: want 0 to 2", *t)
		}
		params.Temperature = *t
	}
	if p := req.TopP; p != nil {
		if math.IsNaN(*p) || *p <= 0 || *p > 1 {
			return nil, httpapi.BadRequest("top_p %v: want (0, 1]", *p)
		}
		params.TopP = *p
	}
	if sd := req.Seed; sd != nil {
		params.Seed = uint64(*sd)
	}
	u, err := s.Store.Get(ctx, req.User)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, httpapi.NotFound("user %q: no such user in the vault", req.User)
	}
	if err != nil {
		return nil, err
	}
	return &chatJob{
		id: httpapi.NewID("chatcmpl-"), strategy: st, user: u, task: task, req: req,
		opts: collab.Options{Strategy: st, MaxTokens: maxTokens, Sample: params, CloudMaxTokens: s.CloudMaxTokens, PerTokenFallback: s.PerTokenFallback},
	}, nil
}

func finishReason(res collab.Result, o collab.Options) openaiapi.FinishReason {
	if res.Usage.CompletionTokens >= o.MaxTokens {
		return openaiapi.FinishLength
	}
	return openaiapi.FinishStop
}

func (s *Server) complete(ctx context.Context, w http.ResponseWriter, job *chatJob, runner *collab.Runner, task collab.Task) (collab.Result, error) {
	var pieces []Piece
	job.opts.OnToken = func(p collab.Piece) { pieces = append(pieces, Piece{Text: p.Text, W: p.W, Consulted: p.Consulted}) }
	res, err := runner.Run(ctx, task, job.opts)
	if err != nil {
		s.fail(w, err)
		return res, err
	}
	usage := res.Usage
	httpapi.WriteJSON(w, http.StatusOK, ChatResponse{
		ChatCompletionResponse: openaiapi.ChatCompletionResponse{
			ID: job.id, Object: openaiapi.ObjectChatCompletion, Created: time.Now().Unix(), Model: job.req.Model,
			Choices: []openaiapi.ChatChoice{{
				Message:      openaiapi.ChatMessage{Role: llm.RoleAssistant, Content: res.Text},
				FinishReason: finishReason(res, job.opts),
			}},
			Usage: &usage,
		},
		Cogen: &Extension{
			Request: job.id, User: job.user.ID, Strategy: string(job.strategy), Ran: ran(res),
			Redactions: &res.Redactions, CloudCalls: &res.CloudCalls, Pieces: pieces,
		},
	})
	return res, nil
}

// ran is the label of what ran in res.Strategy's place, or "".
func ran(res collab.Result) string {
	if res.Fallback == "" {
		return ""
	}
	return res.Label()
}

func (s *Server) stream(ctx context.Context, w http.ResponseWriter, job *chatJob, runner *collab.Runner, task collab.Task) (collab.Result, error) {
	ev := httpapi.StartSSE(w)
	created := time.Now().Unix()
	chunk := func(d openaiapi.ChatDelta, fin openaiapi.FinishReason, ext *Extension) ChatChunk {
		return ChatChunk{
			ChatCompletionChunk: openaiapi.ChatCompletionChunk{
				ID: job.id, Object: openaiapi.ObjectChatCompletionChunk, Created: created, Model: job.req.Model,
				Choices: []openaiapi.ChatChunkChoice{{Delta: d, FinishReason: fin}},
			},
			Cogen: ext,
		}
	}
	if err := ev.Send(chunk(openaiapi.ChatDelta{Role: llm.RoleAssistant}, "", &Extension{Request: job.id, User: job.user.ID, Strategy: string(job.strategy)})); err != nil {
		return collab.Result{}, err
	}
	// A failed write means the client left; the request's context ends
	// with it, which stops the run.
	var werr error
	job.opts.OnToken = func(p collab.Piece) {
		if werr != nil {
			return
		}
		wt := p.W
		werr = ev.Send(chunk(openaiapi.ChatDelta{Content: p.Text}, "", &Extension{W: &wt, Consulted: p.Consulted}))
	}
	res, err := runner.Run(ctx, task, job.opts)
	if err == nil {
		err = werr
	}
	if err != nil {
		failSSE(ev, err)
		return res, err
	}
	if err := ev.Send(chunk(openaiapi.ChatDelta{}, finishReason(res, job.opts), &Extension{
		Request: job.id, Redactions: &res.Redactions, CloudCalls: &res.CloudCalls, Ran: ran(res),
	})); err != nil {
		return res, err
	}
	if so := job.req.StreamOptions; so != nil && so.IncludeUsage {
		usage := res.Usage
		_ = ev.Send(ChatChunk{ChatCompletionChunk: openaiapi.ChatCompletionChunk{
			ID: job.id, Object: openaiapi.ObjectChatCompletionChunk, Created: created, Model: job.req.Model,
			Choices: []openaiapi.ChatChunkChoice{}, Usage: &usage,
		}})
	}
	ev.Done()
	return res, nil
}

// fail sends an error event in OpenAI's shape; the status is already sent.
func failSSE(e *httpapi.SSE, err error) {
	typ := "server_error"
	msg := err.Error()
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		msg = "request cancelled"
	case errors.Is(err, audit.ErrBlocked):
		typ = "permission_error"
	case errors.Is(err, openaiapi.ErrUnsupported):
		typ = "invalid_request_error"
	}
	_ = e.Send(openaiapi.ErrorResponse{Error: openaiapi.ErrorDetail{Message: msg, Type: typ, Code: openaiapi.ErrorCode("500")}})
}
