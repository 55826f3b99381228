package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
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

// jsonType names the JSON type of a raw value.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
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

// str decodes a string field, reporting a wrong type.
func (c *recordCheck) str(field string, raw json.RawMessage) (string, bool) {
	if t := jsonType(raw); t != "a string" {
		c.add(field, "want a string, got %s", t)
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		c.add(field, "invalid string")
		return "", false
	}
	return s, true
}

// object decodes an object into its fields, reporting a wrong type.
func (c *recordCheck) object(field string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	if t := jsonType(raw); t != "an object" {
		c.add(field, "want an object, got %s", t)
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		c.add(field, "invalid object")
		return nil, false
	}
	return m, true
}

// array decodes an array into its elements, reporting a wrong type.
func (c *recordCheck) array(field string, raw json.RawMessage) ([]json.RawMessage, bool) {
	if t := jsonType(raw); t != "an array" {
		c.add(field, "want an array, got %s", t)
		return nil, false
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		c.add(field, "invalid array")
		return nil, false
	}
	return a, true
}

// unknown reports the fields of m that are not in known. A field name
// is quoted only when it looks like an identifier, never as free text.
func (c *recordCheck) unknown(prefix string, m map[string]json.RawMessage, known ...string) {
	var names []string
	for k := range m {
		if !slices.Contains(known, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		if identifier(k) {
			c.add(prefix+k, "unknown field")
		} else {
			c.add(strings.TrimSuffix(prefix, "."), "unknown field with a %d-byte name", len(k))
		}
	}
}

func identifier(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

var contextFields = []string{"tid", "conversations", "profile", "additional_profile", "additional_tasks"}

// check decodes and checks one record.
func (d *Decoder) check(raw json.RawMessage, index int, off int64) (Record, []Problem) {
	c := &recordCheck{d: d, index: index, off: off}
	m, ok := c.object("", raw)
	if !ok {
		c.probs[0].Reason = "record is not an object: " + c.probs[0].Reason
		if !d.decided && d.kind == "" {
			d.kind = KindPaper
		}
		d.decided = true
		return Record{}, c.probs
	}
	if !d.decided {
		d.detect(m)
	}
	var rec Record
	// The tid first, so that the other problems carry it.
	if raw, ok := m["tid"]; !ok {
		c.add("tid", "missing field")
	} else if s, ok := c.str("tid", raw); ok {
		switch {
		case strings.TrimSpace(s) == "":
			c.add("tid", "empty")
		case !identifier(s):
			c.add("tid", "want letters, digits, '_' and '-' only (a %d-byte tid)", len(s))
		default:
			rec.TID, c.tid = s, s
			if first, dup := d.seen[s]; dup {
				c.add("tid", "duplicate tid (first at record %d)", first)
			} else {
				d.seen[s] = c.index
			}
		}
	}
	if raw, ok := m["conversations"]; !ok {
		c.add("conversations", "missing field")
	} else {
		rec.Conversations = c.conversations(raw)
	}
	if d.kind == KindContext {
		c.contextFields(m, &rec)
		c.unknown("", m, contextFields...)
	} else {
		c.lampPrompt(rec)
		c.unknown("", m, "tid", "conversations")
	}
	return rec, c.probs
}

// detect decides the kind (when not given) and the without-context form
// from the first record.
func (d *Decoder) detect(m map[string]json.RawMessage) {
	d.decided = true
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

// conversations checks the [user, assistant] turns.
func (c *recordCheck) conversations(raw json.RawMessage) []Turn {
	items, ok := c.array("conversations", raw)
	if !ok {
		return nil
	}
	switch len(items) {
	case 0:
		c.add("conversations", "empty conversations")
		return nil
	case 1:
		c.add("conversations", "has 1 turn, want 2 (user, assistant)")
	case 2:
	default:
		c.add("conversations", "has %d turns, want 2 (user, assistant)", len(items))
	}
	turns := make([]Turn, 0, len(items))
	for i, it := range items {
		field := "conversations[" + strconv.Itoa(i) + "]"
		var t Turn
		m, ok := c.object(field, it)
		if !ok {
			turns = append(turns, t)
			continue
		}
		if raw, ok := m["from"]; !ok {
			c.add(field+".from", "missing field")
		} else if s, ok := c.str(field+".from", raw); ok {
			t.From = s
			want := RoleAssistant
			if i == 0 {
				want = RoleUser
			}
			if s != want {
				got := "an unknown role"
				if s == RoleUser || s == RoleAssistant || s == "system" {
					got = strconv.Quote(s)
				}
				c.add(field+".from", "wrong role: want %q, got %s", want, got)
			}
		}
		if raw, ok := m["value"]; !ok {
			c.add(field+".value", "missing field")
		} else if s, ok := c.str(field+".value", raw); ok {
			t.Value = s
			if strings.TrimSpace(s) == "" {
				what := "empty reference"
				if i == 0 {
					what = "empty prompt"
				}
				c.add(field+".value", "%s", what)
			}
		}
		c.unknown(field+".", m, "from", "value")
		turns = append(turns, t)
	}
	return turns
}

// contextFields checks the context-aware fields besides tid and
// conversations.
func (c *recordCheck) contextFields(m map[string]json.RawMessage, rec *Record) {
	if rec.TID != "" {
		if parts := strings.Split(rec.TID, "_"); len(parts) != 3 || slices.Contains(parts, "") {
			c.add("tid", "want group_user_task")
		}
	}
	if raw, ok := m["profile"]; !ok {
		c.add("profile", "missing field")
	} else if items, ok := c.array("profile", raw); ok {
		if len(items) == 0 {
			c.add("profile", "empty history")
		}
		for i, it := range items {
			field := "profile[" + strconv.Itoa(i) + "]"
			im, ok := c.object(field, it)
			if !ok {
				continue
			}
			var p ProfileItem
			for _, name := range []string{"title", "text", "id"} {
				raw, ok := im[name]
				if !ok {
					c.add(field+"."+name, "missing field")
					continue
				}
				s, ok := c.str(field+"."+name, raw)
				if !ok {
					continue
				}
				if strings.TrimSpace(s) == "" {
					c.add(field+"."+name, "empty")
				}
				switch name {
				case "title":
					p.Title = s
				case "text":
					p.Text = s
				case "id":
					p.ID = s
				}
			}
			c.unknown(field+".", im, "title", "text", "id")
			rec.Profile = append(rec.Profile, p)
		}
	}
	if raw, ok := m["additional_profile"]; !ok {
		c.add("additional_profile", "missing field")
	} else if s, ok := c.str("additional_profile", raw); ok {
		rec.AdditionalProfile = s
		if strings.TrimSpace(s) == "" {
			c.add("additional_profile", "empty profile")
		}
		seen := map[string]int{}
		n := 0
		for line := range strings.Lines(s) {
			n++
			if strings.TrimSpace(line) == "" {
				continue
			}
			k, _, ok := profileLine(line)
			if !ok {
				c.add("additional_profile", "line %d: want \"Key: value\"", n)
				continue
			}
			if first, dup := seen[k]; dup {
				c.add("additional_profile", "line %d: duplicate key (first on line %d)", n, first)
			} else {
				seen[k] = n
			}
		}
	}
	if raw, ok := m["additional_tasks"]; !ok {
		c.add("additional_tasks", "missing field")
	} else if items, ok := c.array("additional_tasks", raw); ok {
		rec.AdditionalTasks = []string{}
		for i, it := range items {
			field := "additional_tasks[" + strconv.Itoa(i) + "]"
			if s, ok := c.str(field, it); ok {
				if strings.TrimSpace(s) == "" {
					c.add(field, "empty task")
				}
				rec.AdditionalTasks = append(rec.AdditionalTasks, s)
			}
		}
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
