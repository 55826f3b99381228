package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// HistoryItem is one earlier writing of the user: the task and the text
// they wrote for it.
type HistoryItem struct {
	Title Private
	Text  Private
}

// Vault is one user's private context. Every field is private; nothing in
// a Vault leaves the device.
type Vault struct {
	ID             string
	Name           Private
	Age            Private
	Occupation     Private
	Location       Private
	PersonalTraits []Private
	WritingStyle   []Private
	// PrivateFacts are the paper's Privacy_info items.
	PrivateFacts []Private
	// ActivityLog are the paper's Smart_device_usage items.
	ActivityLog []Private
	// AIUsage are the Ai_assistant_usage items.
	AIUsage []Private
	// Emails, Phones and Identifiers are entities matched exactly.
	Emails      []Private
	Phones      []Private
	Identifiers []Private
	History     []HistoryItem
	// Profile is the profile block as the paper's prompts show it
	// ("Key: value" lines); built from the fields when not loaded.
	Profile Private
}

// LoadError is a problem in a vault or dataset file: the file, the record
// index (-1 for a single-user file), the field and the reason. It never
// holds the file's text.
type LoadError struct {
	File   string
	Record int
	Field  string
	Reason string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(filepath.Base(e.File))
	if e.Record >= 0 {
		fmt.Fprintf(&b, ": record %d", e.Record)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// contextRecord is one record of the paper's context_dev.json.
type contextRecord struct {
	TID           string `json:"tid"`
	Conversations []struct {
		From  string `json:"from"`
		Value string `json:"value"`
	} `json:"conversations"`
	Profile []struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"profile"`
	AdditionalProfile string   `json:"additional_profile"`
	AdditionalTasks   []string `json:"additional_tasks"`
}

// Record is one loaded context-aware record: the user's vault, the task and
// the reference answer.
type Record struct {
	Vault     *Vault
	Task      Task
	Reference Private
}

// Task is a writing task split at the first ": " into its general section
// (the candidate for the cloud, still unchecked: the guard decides what of
// it may leave) and its personal section (never sent).
type Task struct {
	Full     Private
	General  Private
	Personal Private
}

// SplitTask splits a task as the paper's data does: the text before the
// first ": " is the general section.
func SplitTask(s string) Task {
	g, p, ok := strings.Cut(s, ": ")
	if !ok {
		return Task{Full: NewPrivate(s), General: NewPrivate(s)}
	}
	return Task{Full: NewPrivate(s), General: NewPrivate(g), Personal: NewPrivate(p)}
}

// Caps on the files read whole: a dataset of the paper's format, and one
// user's file.
const (
	maxContextFile = 1 << 30
	maxUserFile    = 16 << 20
)

// LoadContextFile loads every record of a file in the paper's
// context-aware format (context_dev.json). Errors name the file, record
// index and field.
func LoadContextFile(path string) ([]Record, error) {
	data, err := regfile.ReadFile(path, maxContextFile)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, &LoadError{File: path, Record: -1, Reason: "not a JSON array of records: " + jsonReason(err)}
	}
	out := make([]Record, 0, len(raws))
	for i, raw := range raws {
		r, err := parseContextRecord(path, i, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ParseContextRecord parses one context-aware record; file and index only
// label errors.
func ParseContextRecord(file string, index int, raw []byte) (Record, error) {
	return parseContextRecord(file, index, raw)
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "malformed JSON at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: want %s", te.Field, te.Type)
	}
	return "invalid JSON"
}

func parseContextRecord(file string, index int, raw []byte) (Record, error) {
	fail := func(field, reason string) (Record, error) {
		return Record{}, &LoadError{File: file, Record: index, Field: field, Reason: reason}
	}
	var r contextRecord
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fail(te.Field, "want "+te.Type.String())
		}
		return fail("", jsonReason(err))
	}
	if len(r.Conversations) < 2 {
		return fail("conversations", fmt.Sprintf("want a user and an assistant turn, got %d turns", len(r.Conversations)))
	}
	if r.Conversations[0].Value == "" {
		return fail("conversations[0].value", "empty task")
	}
	if r.AdditionalProfile == "" {
		return fail("additional_profile", "empty")
	}
	v, err := parseProfile(file, index, r.AdditionalProfile)
	if err != nil {
		return Record{}, err
	}
	v.ID = r.TID
	if len(r.Profile) == 0 {
		return fail("profile", "empty writing history")
	}
	for i, h := range r.Profile {
		if h.Text == "" {
			return fail(fmt.Sprintf("profile[%d].text", i), "empty")
		}
		v.History = append(v.History, HistoryItem{Title: NewPrivate(h.Title), Text: NewPrivate(h.Text)})
	}
	return Record{Vault: v, Task: SplitTask(r.Conversations[0].Value), Reference: NewPrivate(r.Conversations[1].Value)}, nil
}

// parseProfile reads the additional_profile block: one "Key: value" line
// per field, list fields separated by ";".
// profileKeys are the keys of the paper's additional_profile block.
var profileKeys = map[string]bool{
	"name": true, "age": true, "occupation": true, "location": true,
	"personal_traits": true, "writing_style": true, "privacy_info": true,
	"smart_device_usage": true, "ai_assistant_usage": true, "email": true, "phone": true,
}

// profileField is one key of a profile block with the lines of its value.
type profileField struct {
	key   string
	lines []string
}

func parseProfile(file string, index int, block string) (*Vault, error) {
	v := &Vault{Profile: NewPrivate(block)}
	items := func(s string) []Private {
		var out []Private
		for _, it := range strings.Split(s, ";") {
			if it = strings.TrimSpace(it); it != "" {
				out = append(out, NewPrivate(it))
			}
		}
		return out
	}
	// A value may continue over several lines, as the paper's data writes
	// them: a line belongs to the key before it unless it starts a known
	// key, whether or not it holds a ':' of its own. Nothing is dropped:
	// lines before the first known key are kept as private facts.
	var fields []profileField
	var orphans []string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if key, val, ok := strings.Cut(line, ":"); ok && profileKeys[strings.ToLower(strings.TrimSpace(key))] {
			fields = append(fields, profileField{key: strings.ToLower(strings.TrimSpace(key)), lines: []string{strings.TrimSpace(val)}})
			continue
		}
		if len(fields) == 0 {
			orphans = append(orphans, line)
			continue
		}
		f := &fields[len(fields)-1]
		f.lines = append(f.lines, line)
	}
	for _, f := range fields {
		// Scalars join their lines with spaces; lists take each line as
		// items too.
		val := strings.Join(f.lines, " ")
		list := strings.Join(f.lines, ";")
		switch f.key {
		case "name":
			v.Name = NewPrivate(val)
		case "age":
			v.Age = NewPrivate(val)
		case "occupation":
			v.Occupation = NewPrivate(val)
		case "location":
			v.Location = NewPrivate(val)
		case "personal_traits":
			v.PersonalTraits = append(v.PersonalTraits, items(list)...)
		case "writing_style":
			v.WritingStyle = append(v.WritingStyle, items(list)...)
		case "privacy_info":
			v.PrivateFacts = append(v.PrivateFacts, items(list)...)
		case "smart_device_usage":
			v.ActivityLog = append(v.ActivityLog, items(list)...)
		case "ai_assistant_usage":
			v.AIUsage = append(v.AIUsage, items(list)...)
		case "email":
			v.Emails = append(v.Emails, items(list)...)
		case "phone":
			v.Phones = append(v.Phones, items(list)...)
		}
	}
	for _, o := range orphans {
		v.PrivateFacts = append(v.PrivateFacts, NewPrivate(o))
	}
	if v.Name.IsZero() {
		return nil, &LoadError{File: file, Record: index, Field: "additional_profile", Reason: "no Name line"}
	}
	return v, nil
}

// UserFile is the schema of a user file (TOML or JSON), documented on
// [LoadVault]. Like a [Vault] it is private through and through, but as
// plain strings: it exists only to be read from and written to the user's
// own files.
type UserFile struct {
	Name           string            `json:"name" toml:"name"`
	Age            string            `json:"age,omitempty" toml:"age"`
	Occupation     string            `json:"occupation,omitempty" toml:"occupation"`
	Location       string            `json:"location,omitempty" toml:"location"`
	Emails         []string          `json:"emails,omitempty" toml:"emails"`
	Phones         []string          `json:"phones,omitempty" toml:"phones"`
	Identifiers    []string          `json:"identifiers,omitempty" toml:"identifiers"`
	PersonalTraits []string          `json:"personal_traits,omitempty" toml:"personal_traits"`
	WritingStyle   []string          `json:"writing_style,omitempty" toml:"writing_style"`
	PrivateFacts   []string          `json:"private_facts,omitempty" toml:"private_facts"`
	ActivityLog    []string          `json:"activity_log,omitempty" toml:"activity_log"`
	AIUsage        []string          `json:"ai_usage,omitempty" toml:"ai_usage"`
	History        []UserFileHistory `json:"history" toml:"history"`
}

// UserFileHistory is one earlier writing in a [UserFile].
type UserFileHistory struct {
	Title string `json:"title" toml:"title"`
	Text  string `json:"text" toml:"text"`
}

// LoadVault loads a user file in TOML (.toml) or JSON (.json):
//
//	name = "Ada Example"            # required
//	age = "41"
//	occupation = "Bridge engineer"
//	location = "Lyon, France"
//	emails = ["ada@example.org"]
//	phones = ["+33 6 12 34 56 78"]
//	identifiers = ["employee 4711"]
//	personal_traits = ["patient", "precise"]
//	writing_style = ["short sentences"]
//	private_facts = ["Holds a patent on a cable-stayed joint"]   # never leaves
//	activity_log = ["Cycles to the office every Tuesday"]       # never leaves
//	ai_usage = ["Drafts reports"]
//
//	[[history]]                      # earlier writings, at least one
//	title = "Write a note on ..."
//	text = "..."
//
// Unknown keys are errors. Errors name the file and field, never text.
func LoadVault(path string) (*Vault, error) {
	data, err := regfile.ReadFile(path, maxUserFile)
	if err != nil {
		return nil, err
	}
	var u UserFile
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		md, err := toml.Decode(string(data), &u)
		if err != nil {
			var pe toml.ParseError
			if errors.As(err, &pe) {
				return nil, &LoadError{File: path, Record: -1, Reason: fmt.Sprintf("line %d: invalid TOML", pe.Position.Line)}
			}
			return nil, &LoadError{File: path, Record: -1, Reason: "invalid TOML"}
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, &LoadError{File: path, Record: -1, Field: und[0].String(), Reason: "unknown key"}
		}
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&u); err != nil {
			if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return nil, &LoadError{File: path, Record: -1, Field: strings.Trim(f, `"`), Reason: "unknown key"}
			}
			return nil, &LoadError{File: path, Record: -1, Reason: jsonReason(err)}
		}
	default:
		return nil, &LoadError{File: path, Record: -1, Reason: "want a .toml or .json file"}
	}
	if strings.TrimSpace(u.Name) == "" {
		return nil, &LoadError{File: path, Record: -1, Field: "name", Reason: "required"}
	}
	if len(u.History) == 0 {
		return nil, &LoadError{File: path, Record: -1, Field: "history", Reason: "at least one earlier writing is required"}
	}
	list := func(ss []string) []Private {
		var out []Private
		for _, s := range ss {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, NewPrivate(s))
			}
		}
		return out
	}
	v := &Vault{
		ID:   strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		Name: NewPrivate(u.Name), Age: NewPrivate(u.Age), Occupation: NewPrivate(u.Occupation), Location: NewPrivate(u.Location),
		Emails: list(u.Emails), Phones: list(u.Phones), Identifiers: list(u.Identifiers),
		PersonalTraits: list(u.PersonalTraits), WritingStyle: list(u.WritingStyle),
		PrivateFacts: list(u.PrivateFacts), ActivityLog: list(u.ActivityLog), AIUsage: list(u.AIUsage),
	}
	for i, h := range u.History {
		if strings.TrimSpace(h.Text) == "" {
			return nil, &LoadError{File: path, Record: -1, Field: fmt.Sprintf("history[%d].text", i), Reason: "empty"}
		}
		v.History = append(v.History, HistoryItem{Title: NewPrivate(h.Title), Text: NewPrivate(h.Text)})
	}
	v.Profile = NewPrivate(v.profileBlock())
	return v, nil
}

// profileBlock renders the profile in the paper's "Key: value" form.
func (v *Vault) profileBlock() string {
	var b strings.Builder
	line := func(k string, p Private) {
		if !p.IsZero() {
			fmt.Fprintf(&b, "%s: %s\n", k, p.UnsafeText())
		}
	}
	join := func(k string, ps []Private) {
		if len(ps) == 0 {
			return
		}
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = p.UnsafeText()
		}
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(s, "; "))
	}
	line("Age", v.Age)
	line("Name", v.Name)
	line("Occupation", v.Occupation)
	line("Location", v.Location)
	join("Personal_traits", v.PersonalTraits)
	join("Writing_style", v.WritingStyle)
	join("Privacy_info", v.PrivateFacts)
	join("Smart_device_usage", v.ActivityLog)
	join("Ai_assistant_usage", v.AIUsage)
	return strings.TrimSpace(b.String())
}

// HistoryText renders the writing history for the paper's prompts: each
// item as "Title: ...\nContent: ...", separated by blank lines.
func (v *Vault) HistoryText() Private {
	var b strings.Builder
	for i, h := range v.History {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("Title: " + h.Title.UnsafeText() + "\nContent: " + h.Text.UnsafeText())
	}
	return NewPrivate(b.String())
}

// jsonString encodes s as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // marshaling a string cannot fail
	return b
}
