package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Portrait is a group portrait (step 1).
type Portrait struct {
	Group       string   `json:"group"`
	Description string   `json:"description"`
	Occupations []string `json:"occupations"`
}

// User is a user profile (step 2).
type User struct {
	Name           string   `json:"name"`
	Age            int      `json:"age"`
	Occupation     string   `json:"occupation"`
	Location       string   `json:"location"`
	PersonalTraits []string `json:"personal_traits"`
	WritingStyle   []string `json:"writing_style"`
	PrivateFacts   []string `json:"private_facts"`
	ActivityLog    []string `json:"activity_log"`
	AIUsage        []string `json:"ai_usage"`
}

// TaskList is a user's writing tasks (step 3).
type TaskList struct {
	Tasks []TaskItem `json:"tasks"`
}

// TaskItem is one writing task: a general title and a personal detail,
// joined as "Title: detail" in the dataset.
type TaskItem struct {
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// String is the task as the dataset writes it.
func (t TaskItem) String() string { return t.Title + ": " + t.Detail }

// Text is a user's text for one task (step 4).
type Text struct {
	Text string `json:"text"`
}

// Limits bound the generated fields. The schemas sent to the cloud and
// the validation of its answers use the same limits.
type Limits struct {
	// ItemChars bounds a short field or list item (name, fact, title).
	ItemChars int
	// TextChars bounds a text; a text needs at least a fifth of it.
	TextChars int
}

// DefaultLimits suit a real cloud model.
var DefaultLimits = Limits{ItemChars: 160, TextChars: 4000}

// Counts of list items that a user profile must have.
const (
	minFacts, maxFacts   = 5, 10
	minTraits, maxTraits = 2, 6
	minOccupations       = 2
	maxOccupations       = 5
	minAge, maxAge       = 18, 99
)

func (l Limits) detailChars() int { return 2 * l.ItemChars }
func (l Limits) minText() int     { return max(1, l.TextChars/5) }

// InvalidError says why an answer was rejected. It names a field and a
// reason, never the text.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func str(minLen, maxLen int) map[string]any {
	return map[string]any{"type": "string", "minLength": minLen, "maxLength": maxLen}
}

func list(item map[string]any, minItems, maxItems int) map[string]any {
	return map[string]any{"type": "array", "items": item, "minItems": minItems, "maxItems": maxItems}
}

func object(props map[string]any, order ...string) map[string]any {
	return map[string]any{"type": "object", "properties": props, "required": order, "additionalProperties": false}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // schemas are built from maps of plain values
	}
	return b
}

func portraitSchema(l Limits) json.RawMessage {
	return mustJSON(object(map[string]any{
		"group":       str(1, l.ItemChars),
		"description": str(1, l.detailChars()),
		"occupations": list(str(1, l.ItemChars), minOccupations, maxOccupations),
	}, "group", "description", "occupations"))
}

func userSchema(l Limits) json.RawMessage {
	item := str(1, l.ItemChars)
	return mustJSON(object(map[string]any{
		"name":            item,
		"age":             map[string]any{"type": "integer", "minimum": minAge, "maximum": maxAge},
		"occupation":      item,
		"location":        item,
		"personal_traits": list(item, minTraits, maxTraits),
		"writing_style":   list(item, minTraits, maxTraits),
		"private_facts":   list(item, minFacts, maxFacts),
		"activity_log":    list(item, minFacts, maxFacts),
		"ai_usage":        list(item, minTraits, maxTraits),
	}, "name", "age", "occupation", "location", "personal_traits", "writing_style", "private_facts", "activity_log", "ai_usage"))
}

// tasksSchema asks for n tasks and up to two spares, which cover
// near-duplicates.
func tasksSchema(l Limits, n int) json.RawMessage {
	task := object(map[string]any{
		"title":  str(1, l.ItemChars),
		"detail": str(1, l.detailChars()),
	}, "title", "detail")
	return mustJSON(object(map[string]any{"tasks": list(task, n, n+2)}, "tasks"))
}

func textSchema(l Limits) json.RawMessage {
	return mustJSON(object(map[string]any{"text": str(l.minText(), l.TextChars)}, "text"))
}

// decode parses an answer strictly: one JSON object, no unknown fields.
func decode(raw string, v any) error {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return invalid(te.Field, "want %s", te.Type)
		case errors.As(err, &se):
			return invalid("", "malformed JSON at byte %d of %d", se.Offset, len(raw))
		case strings.Contains(err.Error(), "unknown field"):
			return invalid("", "unknown field")
		}
		return invalid("", "not a complete JSON object (%d bytes)", len(raw))
	}
	if dec.More() {
		return invalid("", "trailing data after the JSON object")
	}
	return nil
}

// line normalizes a short field: whitespace runs become one space.
func line(s string) string { return strings.Join(strings.Fields(s), " ") }

func checkLine(field string, s *string, maxLen int, banned string) error {
	*s = line(*s)
	switch n := utf8.RuneCountInString(*s); {
	case n == 0:
		return invalid(field, "empty")
	case n > maxLen:
		return invalid(field, "%d characters, want at most %d", n, maxLen)
	}
	if banned != "" && strings.ContainsAny(*s, banned) {
		return invalid(field, "contains one of %q", banned)
	}
	return nil
}

func checkList(field string, items []string, minN, maxN, maxLen int) error {
	if n := len(items); n < minN || n > maxN {
		return invalid(field, "%d items, want %d to %d", n, minN, maxN)
	}
	seen := map[string]int{}
	for i := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		// ';' separates items in the profile block.
		if err := checkLine(f, &items[i], maxLen, ";"); err != nil {
			return err
		}
		k := strings.ToLower(items[i])
		if j, dup := seen[k]; dup {
			return invalid(f, "repeats item %d", j)
		}
		seen[k] = i
	}
	return nil
}

func (p *Portrait) validate(l Limits) error {
	if err := checkLine("group", &p.Group, l.ItemChars, ""); err != nil {
		return err
	}
	if err := checkLine("description", &p.Description, l.detailChars(), ""); err != nil {
		return err
	}
	return checkList("occupations", p.Occupations, minOccupations, maxOccupations, l.ItemChars)
}

func (u *User) validate(l Limits) error {
	for _, f := range []struct {
		name string
		s    *string
	}{{"name", &u.Name}, {"occupation", &u.Occupation}, {"location", &u.Location}} {
		if err := checkLine(f.name, f.s, l.ItemChars, ";"); err != nil {
			return err
		}
	}
	if u.Age < minAge || u.Age > maxAge {
		return invalid("age", "%d, want %d to %d", u.Age, minAge, maxAge)
	}
	for _, f := range []struct {
		name       string
		items      []string
		minN, maxN int
	}{
		{"personal_traits", u.PersonalTraits, minTraits, maxTraits},
		{"writing_style", u.WritingStyle, minTraits, maxTraits},
		{"private_facts", u.PrivateFacts, minFacts, maxFacts},
		{"activity_log", u.ActivityLog, minFacts, maxFacts},
		{"ai_usage", u.AIUsage, minTraits, maxTraits},
	} {
		if err := checkList(f.name, f.items, f.minN, f.maxN, l.ItemChars); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the tasks, drops near-duplicates and keeps the first n.
func (t *TaskList) validate(l Limits, n int) error {
	if len(t.Tasks) < n || len(t.Tasks) > n+2 {
		return invalid("tasks", "%d tasks, want %d to %d", len(t.Tasks), n, n+2)
	}
	for i := range t.Tasks {
		f := fmt.Sprintf("tasks[%d]", i)
		// A ':' in the title would move the dataset's general/personal split.
		if err := checkLine(f+".title", &t.Tasks[i].Title, l.ItemChars, ":"); err != nil {
			return err
		}
		if err := checkLine(f+".detail", &t.Tasks[i].Detail, l.detailChars(), ""); err != nil {
			return err
		}
	}
	kept, dropped := dedupTasks(t.Tasks, nearDuplicate)
	if len(kept) < n {
		return invalid("tasks", "%d distinct tasks after dropping %d near-duplicates, want %d", len(kept), dropped, n)
	}
	t.Tasks = kept[:n]
	return nil
}

// refusals are phrases of a model declining or breaking character.
var refusals = []string{"as an ai", "i cannot", "i can't", "i'm sorry", "i am sorry", "language model"}

func (t *Text) validate(l Limits) error {
	t.Text = strings.TrimSpace(t.Text)
	n := utf8.RuneCountInString(t.Text)
	if n < l.minText() || n > l.TextChars {
		return invalid("text", "%d characters, want %d to %d", n, l.minText(), l.TextChars)
	}
	low := strings.ToLower(t.Text)
	for _, r := range refusals {
		if strings.Contains(low, r) {
			return invalid("text", "reads as a refusal")
		}
	}
	if words := strings.Fields(low); len(words) >= 20 {
		distinct := map[string]bool{}
		for _, w := range words {
			distinct[w] = true
		}
		if len(distinct)*5 < len(words) {
			return invalid("text", "repetitive: %d distinct of %d words", len(distinct), len(words))
		}
	}
	return nil
}
