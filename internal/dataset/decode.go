package dataset

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/cogenesis/cogenesis/privacy"
)

// Problem is one defect of a dataset file. It names where the defect is
// and what is wrong, never the record's text.
type Problem struct {
	// Path is the file (or the name given to [NewDecoder]).
	Path string
	// Index is the record's index in the file, from 0; -1 for a problem of
	// the file as a whole.
	Index int
	// TID is the record's tid, when it has a readable one.
	TID string
	// Field is the JSON path of the bad field, such as "conversations[1].value";
	// empty for a problem of the whole record or file.
	Field string
	// Reason says what is wrong.
	Reason string
	// Offset is the byte offset where the record starts or, for broken
	// JSON, where the JSON broke; -1 when unknown.
	Offset int64
}

// String formats the problem on one line:
//
//	FILE: record N (tid X): field "F": reason
//
// leaving out the parts that are empty.
func (p Problem) String() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	if p.Index >= 0 {
		fmt.Fprintf(&b, "record %d", p.Index)
		if p.TID != "" {
			fmt.Fprintf(&b, " (tid %s)", p.TID)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		fmt.Fprintf(&b, "field %q: ", p.Field)
	}
	b.WriteString(p.Reason)
	return b.String()
}

// ProblemError reports the problems of one record or file.
type ProblemError struct {
	Problems []Problem
	// Fatal is true for a problem of the file that stopped decoding
	// (truncated or invalid JSON, not an array, trailing data, no
	// records); no record comes with it.
	Fatal bool
	// Warnings are what the file's records kept but report (see
	// [Decoder.Warnings]); they are not problems.
	Warnings []Problem
}

// Error returns the first problem and how many more there are.
func (e *ProblemError) Error() string {
	switch len(e.Problems) {
	case 0:
		return "dataset: no problems"
	case 1:
		return e.Problems[0].String()
	}
	return fmt.Sprintf("%s (and %d more problems)", e.Problems[0], len(e.Problems)-1)
}

func fileProblem(path, reason string) Problem {
	return Problem{Path: path, Index: -1, Reason: reason, Offset: -1}
}

// Decoder reads a dataset file's records one at a time, checking each
// strictly against its kind's format. It is not safe for concurrent use.
type Decoder struct {
	name    string
	kind    Kind
	without bool
	decided bool // kind and without are known
	arr     *arrayReader
	started bool
	done    bool
	seen    map[string]int // tid → index of its first record
	// warnings are what the records so far kept but report.
	warnings []Problem
}

// NewDecoder returns a decoder of the JSON array read from r. The name
// labels its problems (usually the file's path). An empty kind is detected
// from the first record: a record with profile fields is context-aware, a
// prompt with an email heading or task line is an email record, anything
// else a paper record.
func NewDecoder(r io.Reader, name string, kind Kind) *Decoder {
	return &Decoder{name: name, kind: kind, arr: newArrayReader(r, name), seen: map[string]int{}}
}

// Kind returns the kind of the records, as given or detected (empty before
// the first record when it is to be detected).
func (d *Decoder) Kind() Kind { return d.kind }

// WithoutContext reports whether the file is a "_wo" file: its user turns
// are task lines without context. It is known after the first record.
func (d *Decoder) WithoutContext() bool { return d.without }

// Warnings returns what the records decoded so far kept but report: a
// profile key the format does not know, or text before the first key,
// each kept as a private fact (see [privacy.ProfileFields]). A warning
// names the key, never the value.
func (d *Decoder) Warnings() []Problem { return d.warnings }

// All returns the records in order. A record that breaks the format comes
// with a [*ProblemError] listing all its problems, and decoding goes on
// with the next record. A problem of the file (broken JSON, not an array,
// trailing data, no records) comes with a [*ProblemError] whose Fatal is
// true and a zero Record, and ends the sequence. Broken JSON is located by
// its byte offset. All can be ranged over once.
func (d *Decoder) All() iter.Seq2[Record, error] {
	fatal := func(p Problem) error { return &ProblemError{Problems: []Problem{p}, Fatal: true} }
	return func(yield func(Record, error) bool) {
		if d.done {
			return
		}
		defer func() { d.done = true }()
		if !d.started {
			d.started = true
			if p := d.arr.open("records"); p != nil {
				yield(Record{}, fatal(*p))
				return
			}
		}
		for d.arr.more() {
			raw, off, p := d.arr.next()
			if p != nil {
				yield(Record{}, fatal(*p))
				return
			}
			rec, probs := d.check(raw, d.arr.index-1, off)
			var err error
			if len(probs) > 0 {
				err = &ProblemError{Problems: probs}
			}
			if !yield(rec, err) {
				return
			}
		}
		if p := d.arr.close(); p != nil {
			yield(Record{}, fatal(*p))
			return
		}
		if d.arr.index == 0 {
			yield(Record{}, fatal(fileProblem(d.name, "no records")))
		}
	}
}

// check decodes and checks one record with [privacy.DecodeRecord], the
// one decoder of the paper's records, and adds the conventions of a
// dataset file: a context-aware tid is group_user_task, and no tid comes
// twice.
func (d *Decoder) check(raw json.RawMessage, index int, off int64) (Record, []Problem) {
	if !d.decided {
		d.detect(raw)
	}
	dec := privacy.DecodeRecord(d.name, index, raw, d.kind)
	f := dec.Fields
	rec := Record{TID: f.TID, AdditionalProfile: f.AdditionalProfile, AdditionalTasks: f.AdditionalTasks}
	for _, t := range f.Conversations {
		rec.Conversations = append(rec.Conversations, Turn{From: t.From, Value: t.Value})
	}
	for _, h := range f.Profile {
		rec.Profile = append(rec.Profile, ProfileItem{Title: h.Title, Text: h.Text, ID: h.ID})
	}
	c := &recordCheck{d: d, index: index, tid: f.TID, off: off}
	for _, p := range dec.Problems {
		c.add(p.Field, "%s", p.Reason)
	}
	for _, w := range dec.Warnings {
		d.warnings = append(d.warnings, Problem{Path: d.name, Index: index, TID: f.TID, Field: w.Field, Reason: w.Reason, Offset: off})
	}
	if rec.TID != "" {
		if d.kind == KindContext {
			if parts := strings.Split(rec.TID, "_"); len(parts) != 3 || slices.Contains(parts, "") {
				c.add("tid", "want group_user_task")
			}
		}
		if first, dup := d.seen[rec.TID]; dup {
			c.add("tid", "duplicate tid (first at record %d)", first)
		} else {
			d.seen[rec.TID] = index
		}
	}
	if d.kind != KindContext {
		c.lampPrompt(rec)
	}
	return rec, c.probs
}

// recordCheck collects one record's problems.
type recordCheck struct {
	d     *Decoder
	index int
	tid   string
	off   int64
	probs []Problem
}

func (c *recordCheck) add(field, format string, args ...any) {
	c.probs = append(c.probs, Problem{Path: c.d.name, Index: c.index, TID: c.tid, Field: field, Reason: fmt.Sprintf(format, args...), Offset: c.off})
}

// detect decides the kind (when not given) and the without-context form
// from the first record.
func (d *Decoder) detect(raw json.RawMessage) {
	d.decided = true
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		if d.kind == "" {
			d.kind = KindPaper
		}
		return
	}
	var prompt string
	if convs, ok := m["conversations"]; ok {
		var turns []struct {
			Value string `json:"value"`
		}
		if json.Unmarshal(convs, &turns) == nil && len(turns) > 0 {
			prompt = turns[0].Value
		}
	}
	if d.kind == "" {
		_, p := m["profile"]
		_, ap := m["additional_profile"]
		_, at := m["additional_tasks"]
		switch {
		case p || ap || at:
			d.kind = KindContext
		case strings.Contains(prompt, templates[KindEmail].heading+"\n") || strings.HasPrefix(prompt, templates[KindEmail].taskPrefix):
			d.kind = KindEmail
		default:
			d.kind = KindPaper
		}
	}
	if d.kind != KindContext {
		t := templates[d.kind]
		d.without = strings.HasPrefix(prompt, t.taskPrefix)
	}
}

// lampPrompt checks a LaMP-derived record's user turn against the file's
// form (with or without context).
func (c *recordCheck) lampPrompt(rec Record) {
	if len(rec.Conversations) == 0 || rec.Conversations[0].From != RoleUser || strings.TrimSpace(rec.Prompt()) == "" {
		return // already reported
	}
	const field = "conversations[0].value"
	if c.d.without {
		if _, ok := ParseTask(c.d.kind, rec.Prompt()); !ok {
			c.add(field, "not a without-context %s task line", c.d.kind)
		}
		return
	}
	if _, err := ParsePrompt(c.d.kind, rec.Prompt()); err != nil {
		c.add(field, "%s prompt: %v", c.d.kind, err)
	}
}
