package eval

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoResults is matched by the error of a run that wrote its tables but
// produced none of an output it was asked for: every generated output is
// empty, or a judge prompt (or the pairwise comparison) has no rated
// output at all, so its column of the tables is empty.
var ErrNoResults = errors.New("evaluation produced no results")

// missing returns an error wrapping [ErrNoResults] that says which
// outputs the finished plan lacks entirely and how to get them, or nil
// when each kind of output has at least one result. Partly unrated
// columns are reported in the tables, not here.
func (p *plan) missing() error {
	cfg := p.cfg
	var problems []string
	empty := 0
	for _, g := range p.gens {
		if strings.TrimSpace(g.result.Text) == "" {
			empty++
		}
	}
	if len(p.gens) > 0 && empty == len(p.gens) {
		problems = append(problems, fmt.Sprintf("every generated output is empty (%d of %d; max_tokens %d)", empty, len(p.gens), cfg.MaxTokens))
	}
	refusedAll, seriesAll := 0, 0
	unrated := func(what string, jobs []*judgeJob) {
		n, rated, refused := 0, 0, 0
		for _, j := range jobs {
			n++
			if j.result == nil {
				continue
			}
			if j.result.Rating != nil || j.result.Verdict != "" {
				rated++
			}
			if j.result.Refused != "" {
				refused++
			}
		}
		if n > 0 && rated == 0 {
			problems = append(problems, fmt.Sprintf("the judge gave no %s: %d of %d request series unrated, %d refused by the judge", what, n, n, refused))
			refusedAll += refused
			seriesAll += n
		}
	}
	for _, kind := range cfg.Judge.kinds() {
		var jobs []*judgeJob
		for _, j := range p.judges {
			if j.kind == kind {
				jobs = append(jobs, j)
			}
		}
		unrated(kind.String()+" rating", jobs)
	}
	unrated("pairwise verdict", p.pairs)
	if len(problems) == 0 {
		return nil
	}
	var hint string
	switch {
	case seriesAll == 0:
	case refusedAll > 0:
		hint = " (the judge refused requests as they are, with HTTP 400, 413 or 422: are the prompts longer than its context?)"
	case !cfg.Judge.Grammar:
		hint = ` (set judge.grammar = true to make every answer end in "Rating: [[n]]", or raise judge.max_tokens)`
	default:
		hint = " (raise judge.max_tokens; the answers are in eval.db)"
	}
	return fmt.Errorf("%w: %s%s", ErrNoResults, strings.Join(problems, "; "), hint)
}
