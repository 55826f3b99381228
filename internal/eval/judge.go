package eval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/eval/judge"
	"github.com/cogenesis/cogenesis/internal/progress"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// minGrammarTokens is the room a grammar-constrained judge answer needs
// after its explanation for the verdict.
const minGrammarTokens = 24

// judgeJob is one judge request series: a rating of one output with one
// prompt and repeat, or one presentation order of a pairwise comparison.
type judgeJob struct {
	gen    *genJob
	kind   judge.Kind // 0 for pairwise
	repeat int
	// base and order are set for pairwise: the baseline's output and
	// whether the system is presented second.
	base    *genJob
	swapped bool
	key     string
	result  *judgeResult
}

// judgeResult is a finished judge job, as stored. Rating is nil and
// Verdict empty when no attempt gave one: the job is unrated.
type judgeResult struct {
	Rating           *float64 `json:"rating,omitempty"`
	Verdict          string   `json:"verdict,omitempty"`
	Attempts         int      `json:"attempts"`
	Answers          []string `json:"answers"`
	PromptTokens     int      `json:"prompt_tokens"`
	CompletionTokens int      `json:"completion_tokens"`
	// Refused holds the status of a request the judge refused (400, 413,
	// 422): the job is unrated. Never the server's message.
	Refused string `json:"refused,omitempty"`
}

// judgeQuestion is the {question} of the judge prompts: the task as the
// user wrote it, or for paper and email records the task line of the
// paper's prompts.
func judgeQuestion(t collab.Task) string {
	switch t.Kind {
	case collab.KindPaper:
		return "Compose an abstract for the title '" + t.Instruction.UnsafeText() + "' that matches the author's unique content, style and tone."
	case collab.KindEmail:
		return "Compose an email for the subject '" + t.Instruction.UnsafeText() + "' that matches the author's unique style and tone."
	}
	return t.Instruction.UnsafeText()
}

// judgeAll runs the pending rating and pairwise jobs with bounded
// concurrency.
func (r *runner) judgeAll(ctx context.Context, p *plan) error {
	all := append(append([]*judgeJob(nil), p.judges...), p.pairs...)
	var pending []*judgeJob
	for _, j := range all {
		var res judgeResult
		ok, err := r.st.get(ctx, "judged", j.key, &res)
		if err != nil {
			return err
		}
		if ok {
			j.result = &res
		} else {
			pending = append(pending, j)
		}
	}
	// Prompt by prompt and record by record: consecutive requests share
	// the long prefix (instruction, profile, history, question), which a
	// server with prefix caching evaluates once.
	slices.SortStableFunc(pending, func(a, b *judgeJob) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.gen.rec.ds, b.gen.rec.ds), cmp.Compare(a.gen.rec.index, b.gen.rec.index))
	})
	if len(pending) == 0 {
		fmt.Fprintf(r.out, "judge: %d request series (%d ratings, %d pairwise), %d cached, 0 to run: skipped\n",
			len(all), len(p.judges), len(p.pairs), len(all))
		return nil
	}
	fmt.Fprintf(r.out, "judge: %d request series (%d ratings, %d pairwise), %d cached, %d to run\n",
		len(all), len(p.judges), len(p.pairs), len(all)-len(pending), len(pending))
	client, closeLog, err := r.judgeClient(ctx)
	if err != nil {
		fmt.Fprintln(r.out, "judge: failed before the first request")
		return err
	}
	defer closeLog()
	est := newJudgeEstimate(r.out, len(pending), r.cfg.Judge.Concurrency, time.Now)
	bar := progress.New(r.out, "judge", int64(len(pending)))
	defer bar.Done()
	guards := map[*record]*privacy.Guard{}
	for _, j := range pending {
		if guards[j.gen.rec] == nil {
			guards[j.gen.rec] = privacy.NewGuard(j.gen.rec.rec.Vault)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.Judge.Concurrency)
	for _, j := range pending {
		g.Go(func() error {
			if err := r.st.started(gctx, "judge", j.key); err != nil {
				return err
			}
			res, err := r.judgeOne(r.withJudgeGuard(gctx, guards[j.gen.rec]), client, j)
			if err != nil {
				bar.Fail(1)
				return fmt.Errorf("judge %s: %w", p.label(j.gen), err)
			}
			if err := r.st.put(gctx, "judged", j.key, res); err != nil {
				return err
			}
			j.result = res
			if res.Rating == nil && res.Verdict == "" {
				bar.Fail(1) // unrated: the series ran but gave nothing to count
			} else {
				bar.Add(1)
			}
			est.observe()
			return nil
		})
	}
	err = g.Wait()
	bar.Done()
	var done, rated, refused int
	for _, j := range pending {
		if j.result == nil {
			continue
		}
		done++
		if j.result.Rating != nil || j.result.Verdict != "" {
			rated++
		}
		if j.result.Refused != "" {
			refused++
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(r.out, "judge: %s after %d of %d request series\n", failure(ctx), done, len(pending))
	case rated == 0:
		fmt.Fprintf(r.out, "judge: failed: none of the %d request series gave a rating or verdict (%d refused by the judge)\n", done, refused)
	default:
		fmt.Fprintf(r.out, "judge: %d of %d request series rated, %d unrated (%d refused by the judge)\n", rated, done, done-rated, refused)
	}
	return err
}

// refused reports whether an HTTP status says the request itself is
// unacceptable, so that a retry cannot help.
func refused(status int) bool {
	return status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge || status == http.StatusUnprocessableEntity
}

// ratingGrammar is the GBNF grammar of a rating answer: an explanation
// without brackets of at most n characters, then "Rating: [[r]]" with r
// from 1 to 10. Any answer it admits has exactly one rating, which
// judge.ParseRating reads.
func ratingGrammar(n int) string {
	return `root ::= expl "Rating: [[" rating "]]"` + "\n" +
		`expl ::= [^\[\]]{0,` + strconv.Itoa(n) + `}` + "\n" +
		`rating ::= "10" | [1-9]` + "\n"
}

// verdictGrammar is the GBNF grammar of a pairwise answer.
func verdictGrammar(n int) string {
	return `root ::= expl "[[" ("A" | "B" | "C") "]]"` + "\n" +
		`expl ::= [^\[\]]{0,` + strconv.Itoa(n) + `}` + "\n"
}

// judgeOne asks the judge until its answer holds a rating (or verdict), at
// most 1 + max_retries times, with a different seed each time. An answer
// that never holds one is recorded as unrated: never guessed.
func (r *runner) judgeOne(ctx context.Context, c *openaiapi.Client, j *judgeJob) (*judgeResult, error) {
	cfg := r.cfg.Judge
	task := j.gen.rec.task
	in := judge.Input{
		Question: judgeQuestion(task), Answer: j.gen.result.Text,
		Profile: task.Profile.UnsafeText(), WritingHistory: task.History.UnsafeText(),
	}
	var system, user, gram string
	strategy := "judge:" + j.kind.String()
	if j.base == nil {
		system, user = judge.Prompt(j.kind, in)
		gram = ratingGrammar(cfg.MaxTokens - minGrammarTokens)
	} else {
		a, b := j.gen.result.Text, j.base.result.Text
		if j.swapped {
			a, b = b, a
		}
		system, user = judge.PairPrompt(judge.PairInput{Question: in.Question, Profile: in.Profile, WritingHistory: in.WritingHistory, AnswerA: a, AnswerB: b})
		gram = verdictGrammar(cfg.MaxTokens - minGrammarTokens)
		strategy = "judge:pairwise"
	}
	ctx = audit.WithStrategy(ctx, strategy)
	res := &judgeResult{Answers: []string{}}
	for attempt := 0; attempt <= cfg.MaxRetries; attempt++ {
		seed := int64(j.repeat) + int64(attempt)*1000
		temp, maxTok := cfg.Temperature, cfg.MaxTokens
		req := openaiapi.ChatCompletionRequest{
			Messages:    []openaiapi.ChatMessage{{Role: llm.RoleSystem, Content: system}, {Role: llm.RoleUser, Content: user}},
			Temperature: &temp, MaxTokens: &maxTok, Seed: &seed,
		}
		if cfg.Grammar {
			if c.Kind() == openaiapi.KindLlamaCpp {
				req.Grammar = gram
			} else {
				req.GuidedGrammar = gram
			}
		}
		r.judgeRequests.Add(1)
		resp, err := c.Chat(ctx, req)
		if ae, ok := errors.AsType[*openaiapi.APIError](err); ok && refused(ae.Status) {
			// The judge refuses this request as it is (too long for its
			// context, say): asking again would fail again. Unrated.
			res.Attempts++
			res.Refused = fmt.Sprintf("status %d %s", ae.Status, ae.Type)
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		res.Attempts++
		if resp.Usage != nil {
			res.PromptTokens += resp.Usage.PromptTokens
			res.CompletionTokens += resp.Usage.CompletionTokens
		}
		answer := ""
		if len(resp.Choices) > 0 {
			answer = resp.Choices[0].Message.Content
		}
		res.Answers = append(res.Answers, answer)
		if j.base == nil {
			if v, err := judge.ParseRating(answer); err == nil {
				res.Rating = &v
				return res, nil
			}
		} else if v, err := judge.ParseVerdict(answer); err == nil {
			res.Verdict = v.String()
			return res, nil
		}
	}
	return res, nil
}
