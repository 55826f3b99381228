package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cogenesis/cogenesis/internal/atomicfile"
	"github.com/cogenesis/cogenesis/privacy"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// Length bounds and history budget of the LaMP processing (paper Appendix
// A.2).
const (
	// MinPaperChars is the shortest abstract kept.
	MinPaperChars = 128
	// MinEmailChars is the shortest email body kept.
	MinEmailChars = 64
	// MaxOutputChars is the longest abstract or email body kept.
	MaxOutputChars = 1024
	// DefaultHistoryBudget is the default most characters of a prompt's
	// history section: about the median of paper_dev.json (6,536).
	DefaultHistoryBudget = 6500
)

// lampTasks are the LaMP task names and input prefixes of each kind:
// LaMP-5 generates a paper's title from its abstract, LaMP-6 an email's
// subject from its body. The paper turns them around: the title or subject
// is the task, the abstract or body the reference.
var lampTasks = map[Kind]struct{ task, prefix string }{
	KindPaper: {"LaMP_5", "Generate a title for the following abstract of a paper: "},
	KindEmail: {"LaMP_6", "Generate a subject for the following email: "},
}

// LaMPOptions configure [ProcessLaMP].
type LaMPOptions struct {
	// Kind is KindPaper (LaMP-5, citation network) or KindEmail (LaMP-6,
	// Avocado emails).
	Kind Kind
	// K is the most history items per prompt; 0 takes as many as Budget
	// allows.
	K int
	// Budget is the most characters of a prompt's history section (items
	// as rendered, with their separators); 0 means [DefaultHistoryBudget].
	// Items are taken best BM25 score first, skipping any that would
	// overflow the budget.
	Budget int
	// MinChars and MaxChars bound the reference's length in characters; 0
	// means the paper's bound for the kind ([MinPaperChars] or
	// [MinEmailChars], and [MaxOutputChars]), a negative value no bound.
	MinChars, MaxChars int
}

// LaMPReport counts what [ProcessLaMP] kept and dropped.
type LaMPReport struct {
	// Questions counts the questions read.
	Questions int
	// NoGold counts questions without a (non-empty) gold output.
	NoGold int
	// TooShort and TooLong count references outside the length bounds.
	TooShort, TooLong int
	// NoHistory counts questions with no profile item that fits the budget.
	NoHistory int
	// Kept counts the records made; HistoryItems the items in their
	// histories.
	Kept, HistoryItems int
}

// lampID is a LaMP id, written as a string or a number.
type lampID string

// UnmarshalJSON accepts a JSON string or number.
func (id *lampID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*id = lampID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("want a string or a number")
	}
	*id = lampID(n)
	return nil
}

type lampItem struct {
	ID       lampID `json:"id"`
	Title    string `json:"title"`
	Abstract string `json:"abstract"`
	Text     string `json:"text"`
}

type lampQuestion struct {
	ID      lampID     `json:"id"`
	Input   string     `json:"input"`
	Profile []lampItem `json:"profile"`
}

type lampOutputs struct {
	Task  string `json:"task"`
	Golds []struct {
		ID     lampID `json:"id"`
		Output string `json:"output"`
	} `json:"golds"`
}

// ProcessLaMP turns a LaMP questions file and its outputs file into the
// paper's processed form: a [File] of the kind's records with context
// (Records) and the paired records without context (Without), index for
// index, tids being the LaMP ids. The questions file is read as a stream.
//
// For each question, the gold output (title or subject, whitespace
// collapsed) becomes the target, and the input less its LaMP prefix the
// reference. Questions without a gold output or whose reference falls
// outside the length bounds are dropped. The history is the profile items
// closest to the target by [BM25] (items with an empty title or text, the
// target itself, or text that would break the prompt's layout are left
// out) within o.K and o.Budget.
//
// A broken file fails with a [*ProblemError] naming the file, record and
// field; a LaMP file of the other kind fails likewise.
func ProcessLaMP(ctx context.Context, questionsPath, outputsPath string, o LaMPOptions) (*File, LaMPReport, error) {
	var rep LaMPReport
	task, ok := lampTasks[o.Kind]
	if !ok {
		return nil, rep, fmt.Errorf("lamp: kind %q: want paper or email", o.Kind)
	}
	o = o.withDefaults()
	golds, err := readLaMPOutputs(outputsPath, task.task)
	if err != nil {
		return nil, rep, err
	}
	fh, err := regfile.Open(questionsPath)
	if err != nil {
		return nil, rep, fmt.Errorf("lamp: open questions: %w", err)
	}
	defer fh.Close()
	arr := newArrayReader(fh, questionsPath)
	fail := func(index int, id lampID, field, reason string, off int64) error {
		return &ProblemError{Problems: []Problem{{Path: questionsPath, Index: index, TID: safeID(id), Field: field, Reason: reason, Offset: off}}}
	}
	fatal := func(p *Problem) error { return &ProblemError{Problems: []Problem{*p}, Fatal: true} }
	if p := arr.open("questions"); p != nil {
		return nil, rep, fatal(p)
	}
	f := &File{Kind: o.Kind}
	seen := map[lampID]int{}
	for i := 0; arr.more(); i++ {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, rep, err
			}
		}
		raw, off, p := arr.next()
		if p != nil {
			return nil, rep, fatal(p)
		}
		var q lampQuestion
		if err := json.Unmarshal(raw, &q); err != nil {
			field := ""
			if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
				field = te.Field
			}
			return nil, rep, fail(i, "", field, "wrong type", off)
		}
		rep.Questions++
		if first, dup := seen[q.ID]; dup {
			return nil, rep, fail(i, q.ID, "id", fmt.Sprintf("duplicate id (first at record %d)", first), off)
		}
		seen[q.ID] = i
		ref, ok := strings.CutPrefix(q.Input, task.prefix)
		if !ok {
			return nil, rep, fail(i, q.ID, "input", fmt.Sprintf("lacks the %s input prefix: a question of another LaMP task", task.task), off)
		}
		ref = strings.TrimSpace(ref)
		target := strings.Join(strings.Fields(golds[q.ID]), " ")
		n := chars(ref)
		switch {
		case target == "":
			rep.NoGold++
			continue
		case o.MinChars > 0 && n < o.MinChars:
			rep.TooShort++
			continue
		case o.MaxChars > 0 && n > o.MaxChars:
			rep.TooLong++
			continue
		}
		hist := selectHistory(o, q.Profile, target, ref)
		if len(hist) == 0 {
			rep.NoHistory++
			continue
		}
		pr := Prompt{Kind: o.Kind, History: hist, Target: target}
		tid := string(q.ID)
		f.Records = append(f.Records, Record{TID: tid, Conversations: []Turn{{RoleUser, pr.String()}, {RoleAssistant, ref}}})
		f.Without = append(f.Without, Record{TID: tid, Conversations: []Turn{{RoleUser, pr.Without()}, {RoleAssistant, ref}}})
		rep.Kept++
		rep.HistoryItems += len(hist)
	}
	if p := arr.close(); p != nil {
		return nil, rep, fatal(p)
	}
	return f, rep, nil
}

func (o LaMPOptions) withDefaults() LaMPOptions {
	if o.Budget == 0 {
		o.Budget = DefaultHistoryBudget
	}
	if o.MinChars == 0 {
		o.MinChars = MinPaperChars
		if o.Kind == KindEmail {
			o.MinChars = MinEmailChars
		}
	}
	if o.MaxChars == 0 {
		o.MaxChars = MaxOutputChars
	}
	return o
}

// safeID returns a LaMP id fit for a problem: ids are short identifiers.
func safeID(id lampID) string {
	if privacy.Quotable(string(id)) {
		return string(id)
	}
	return ""
}

// selectHistory picks the profile items closest to the target by BM25,
// best first, within o.K items and o.Budget characters.
func selectHistory(o LaMPOptions, profile []lampItem, target, ref string) []ProfileItem {
	var items []ProfileItem
	for _, it := range profile {
		text := it.Abstract
		if o.Kind == KindEmail {
			text = it.Text
		}
		title := strings.Join(strings.Fields(it.Title), " ")
		text = strings.TrimSpace(text)
		switch {
		case title == "" || text == "":
			continue
		case strings.EqualFold(title, target) || text == ref:
			continue // the target itself
		case strings.Contains(text, itemSep+titleLabel) || strings.Contains(text, "\n## "):
			continue // would break the prompt's layout
		}
		items = append(items, ProfileItem{Title: title, Text: text, ID: string(it.ID)})
	}
	docs := make([]string, len(items))
	for i, it := range items {
		docs[i] = it.Title + " " + it.Text
	}
	var out []ProfileItem
	used := 0
	for _, i := range NewBM25(docs).Rank(target) {
		cost := chars(renderItem(items[i]))
		if len(out) > 0 {
			cost += len(itemSep)
		}
		if used+cost > o.Budget {
			continue
		}
		used += cost
		out = append(out, ProfileItem{Title: items[i].Title, Text: items[i].Text})
		if o.K > 0 && len(out) == o.K {
			break
		}
	}
	return out
}

func readLaMPOutputs(path, task string) (map[lampID]string, error) {
	b, err := regfile.ReadFile(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("lamp: read outputs: %w", err)
	}
	var out lampOutputs
	if err := json.Unmarshal(b, &out); err != nil {
		p := fileProblem(path, "want {\"task\", \"golds\": [{\"id\", \"output\"}]}")
		if syn, ok := errors.AsType[*json.SyntaxError](err); ok {
			p.Offset = syn.Offset - 1 // Offset counts the bad byte
			p.Reason = fmt.Sprintf("invalid JSON at byte %d", p.Offset)
			if syn.Offset >= int64(len(b)) {
				p.Offset, p.Reason = int64(len(b)), fmt.Sprintf("truncated JSON at byte %d", len(b))
			}
		}
		return nil, &ProblemError{Problems: []Problem{p}, Fatal: true}
	}
	if out.Task != "" && out.Task != task {
		return nil, &ProblemError{Problems: []Problem{fileProblem(path, fmt.Sprintf("outputs of task %s, want %s", safeID(lampID(out.Task)), task))}, Fatal: true}
	}
	golds := make(map[lampID]string, len(out.Golds))
	for _, g := range out.Golds {
		golds[g.ID] = g.Output
	}
	return golds, nil
}

// WriteRecords writes records as a JSON array in the layout of the
// paper's files (two-space indent, no HTML escaping). It writes a
// temporary file beside path and renames it, so path is never half
// written.
func WriteRecords(path string, recs []Record) error {
	if recs == nil {
		recs = []Record{}
	}
	return atomicfile.WriteJSON(path, recs, 0o644)
}
