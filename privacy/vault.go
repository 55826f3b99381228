package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
// index (-1 for a single-user file or the file as a whole), the field and
// the reason. It never holds the file's text.
type LoadError struct {
	File   string
	Record int
	Field  string
	Reason string
}

func (e *LoadError) Error() string { return loadText(e.File, e.Record, e.Field, e.Reason) }

// LoadWarning is something a load kept that the user should hear about,
// such as a profile key the paper's format does not know, whose value was
// kept as a private fact. Like a [LoadError] it names the file, the record,
// the field and what happened, never the text.
type LoadWarning struct {
	File   string
	Record int
	Field  string
	Reason string
}

// String formats the warning on one line, as [LoadError.Error] does.
func (w *LoadWarning) String() string { return loadText(w.File, w.Record, w.Field, w.Reason) }

// loadText formats "FILE: record N: field "F": reason", leaving out the
// parts that are empty.
func loadText(file string, record int, field, reason string) string {
	var b strings.Builder
	b.WriteString(filepath.Base(file))
	if record >= 0 {
		fmt.Fprintf(&b, ": record %d", record)
	}
	if field != "" {
		fmt.Fprintf(&b, ": field %q", field)
	}
	b.WriteString(": " + reason)
	return b.String()
}

// BadRecordsError reports a file with bad records: every problem of every
// bad record, in file order. A load that fails with it loaded nothing; see
// [LoadOptions.SkipBad]. It unwraps to the [*LoadError]s, and like them
// never holds the file's text.
type BadRecordsError struct {
	File string
	// Total is the number of records in the file, good and bad.
	Total    int
	Problems []*LoadError
}

// maxListed bounds the record indices and problems a [BadRecordsError]
// spells out in its text; all of them are in its fields.
const maxListed = 20

func (e *BadRecordsError) Error() string {
	idx := e.Records()
	var b strings.Builder
	noun := "records"
	if len(idx) == 1 {
		noun = "record"
	}
	fmt.Fprintf(&b, "%s: %d bad %s of %d: %s", filepath.Base(e.File), len(idx), noun, e.Total, listInts(idx, maxListed))
	for i, p := range e.Problems {
		if i == maxListed {
			fmt.Fprintf(&b, "\n(and %d more problems)", len(e.Problems)-maxListed)
			break
		}
		b.WriteString("\n" + p.Error())
	}
	return b.String()
}

// Unwrap returns the problems.
func (e *BadRecordsError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// Records returns the indices of the bad records, ascending, each once.
func (e *BadRecordsError) Records() []int { return recordsOf(e.Problems) }

func recordsOf(probs []*LoadError) []int {
	var out []int
	for _, p := range probs {
		if p.Record >= 0 {
			out = append(out, p.Record)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listInts writes "3, 41, 97", cut after limit numbers with a count of
// all.
func listInts(ns []int, limit int) string {
	s := make([]string, 0, min(len(ns), limit))
	for i, n := range ns {
		if i == limit {
			return strings.Join(s, ", ") + fmt.Sprintf(", … (%d in all)", len(ns))
		}
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ", ")
}

// Record is one loaded context-aware record: the user's vault, the task and
// the reference answer.
type Record struct {
	// Index is the record's position in its file, from 0; records skipped
	// as bad keep their numbers, so Index is the number `cogen data
	// validate` shows.
	Index     int
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

// LoadOptions configure [LoadContext] and [DecodeContext].
type LoadOptions struct {
	// SkipBad loads the good records of a file that has bad ones and lists
	// the bad ones in [ContextFile.Skipped]. Without it a bad record fails
	// the whole load with a [*BadRecordsError], and nothing is loaded.
	SkipBad bool
}

// ContextFile is a loaded file of the paper's context-aware format.
type ContextFile struct {
	Path string
	// Total is the number of records in the file, good and bad.
	Total int
	// Records are the good records in file order; each one's Index is its
	// position in the file.
	Records []Record
	// Skipped holds every problem of the bad records left out under
	// [LoadOptions.SkipBad], in file order (a record may have several).
	Skipped []*LoadError
	// Warnings are what the load kept but the user should hear about:
	// profile keys the format does not know and text before the first
	// key, each kept as a private fact. They come from good and bad
	// records alike.
	Warnings []*LoadWarning
	// fields are the good records as written, index for index with
	// Records.
	fields []RecordFields
}

// SkippedRecords returns the indices of the skipped bad records,
// ascending, each once.
func (f *ContextFile) SkippedRecords() []int { return recordsOf(f.Skipped) }

// Fields returns the good records' fields as written in the file, index
// for index with Records. They are the user's own text in the clear, for
// the device-only paths that store or rewrite it (the vault store, the
// dataset tools); everything else takes Records.
func (f *ContextFile) Fields() []RecordFields { return f.fields }

// LoadContext loads a file in the paper's context-aware format
// (context_dev.json). Every record is decoded and checked by
// [DecodeRecord]; when some are bad the load fails with a
// [*BadRecordsError] naming all of them, unless o.SkipBad is set. A file
// that is not a JSON array fails with a [*LoadError].
func LoadContext(path string, o LoadOptions) (*ContextFile, error) {
	data, err := regfile.ReadFile(path, maxContextFile)
	if err != nil {
		return nil, err
	}
	return DecodeContext(path, data, o)
}

// DecodeContext is [LoadContext] for a file already read: file names it
// in errors and warnings.
func DecodeContext(file string, data []byte, o LoadOptions) (*ContextFile, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, &LoadError{File: file, Record: -1, Reason: "not a JSON array of records: " + jsonReason(err)}
	}
	f := &ContextFile{Path: file, Total: len(raws)}
	var bad []*LoadError
	for i, raw := range raws {
		d := DecodeRecord(file, i, raw, KindContext)
		f.Warnings = append(f.Warnings, d.Warnings...)
		if len(d.Problems) > 0 {
			bad = append(bad, d.Problems...)
			continue
		}
		f.Records = append(f.Records, d.Record)
		f.fields = append(f.fields, d.Fields)
	}
	if len(bad) > 0 && !o.SkipBad {
		return nil, &BadRecordsError{File: file, Total: len(raws), Problems: bad}
	}
	f.Skipped = bad
	return f, nil
}

// LoadContextFile loads every record of a file in the paper's
// context-aware format: [LoadContext] without options, less the warnings.
// A bad record fails the load with a [*BadRecordsError] that names every
// bad record, file, index and field.
func LoadContextFile(path string) ([]Record, error) {
	f, err := LoadContext(path, LoadOptions{})
	if err != nil {
		return nil, err
	}
	return f.Records, nil
}

// ParseContextRecord parses one context-aware record with [DecodeRecord];
// file and index only label errors. The error joins a [*LoadError] for
// each problem.
func ParseContextRecord(file string, index int, raw []byte) (Record, error) {
	d := DecodeRecord(file, index, raw, KindContext)
	if len(d.Problems) > 0 {
		errs := make([]error, len(d.Problems))
		for i, p := range d.Problems {
			errs[i] = p
		}
		return Record{}, errors.Join(errs...)
	}
	return d.Record, nil
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

// Turn is one conversation turn of a dataset record.
type Turn struct {
	From  string
	Value string
}

// HistoryFields is one writing-history item of a dataset record as
// written: an earlier task, the text the user wrote for it, and its id.
type HistoryFields struct {
	Title string
	Text  string
	ID    string
}

// RecordFields are the fields of a dataset record as written in the file,
// the user's own text in the clear (see [ContextFile.Fields]). A field
// that is missing or has the wrong type is empty; AdditionalTasks is
// non-nil when the record has the field.
type RecordFields struct {
	TID           string
	Conversations []Turn
	// Profile, AdditionalProfile and AdditionalTasks are the
	// context-aware fields: the writing history, the profile block and
	// the user's other tasks.
	Profile           []HistoryFields
	AdditionalProfile string
	AdditionalTasks   []string
}

// UserID returns the id of the user a dataset record with this tid
// belongs to: the whole tid. It is the one definition of a dataset's user,
// shared by the vault's import (one user per tid), `cogen data stats` and
// the train/validation split. Records that share a tid are one user and
// must share a profile. The paper's tids read "group_user_task", but the
// "group_user" prefix names no user: in context_dev.json, 78 of the 150
// records share 39 prefixes, each record with a profile (name, age,
// history) of its own.
func UserID(tid string) string { return tid }

// DecodedRecord is one record as [DecodeRecord] read it.
type DecodedRecord struct {
	Fields RecordFields
	// Record is the loaded record: set for a context-aware record without
	// problems, zero otherwise.
	Record   Record
	Problems []*LoadError
	Warnings []*LoadWarning
}

// The roles of a record's two conversation turns.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// contextFields are the fields of a context-aware record.
var contextFields = []string{"tid", "conversations", "profile", "additional_profile", "additional_tasks"}

// DecodeRecord decodes and checks one record of the paper's dataset
// formats. It is the one decoder of those records: `cogen data validate`,
// the loaders of generate, eval, fusion and sft, and the vault's import
// all read records through it, so a record gives the same verdict and the
// same private facts on every path. File and index only label what it
// reports.
//
// Every record has a "tid" (letters, digits, '_', '-' and '.') and two
// "conversations" turns, the user's task then the assistant's reference,
// neither empty. A context-aware record (kind [KindContext]) also has a
// non-empty writing history ("profile": items with a "title", a non-empty
// "text" and an "id"), a profile block ("additional_profile", read as
// [ProfileFields] says; it must have a Name) and a list of other tasks
// ("additional_tasks"). Other fields are problems. The conventions of the
// paper's dataset files that concern the file as a whole (tids of the
// form group_user_task, each once) are checked by internal/dataset, not
// here: the vault's export writes one record per task under the user's
// id.
//
// DecodeRecord reports every problem of the record, each naming the field
// and never the text; for a context-aware record without problems it
// builds the [Record].
func DecodeRecord(file string, index int, raw []byte, kind TaskKind) DecodedRecord {
	c := &recordCheck{file: file, index: index}
	m, ok := c.object("", raw)
	if !ok {
		c.probs[0].Reason = "record is not an object: " + c.probs[0].Reason
		return DecodedRecord{Problems: c.probs}
	}
	var f RecordFields
	if raw, ok := m["tid"]; !ok {
		c.add("tid", "missing field")
	} else if s, ok := c.str("tid", raw); ok {
		switch {
		case strings.TrimSpace(s) == "":
			c.add("tid", "empty")
		case !plainID(s):
			c.add("tid", "want letters, digits, '_', '-' and '.' only (a %d-byte tid)", len(s))
		default:
			f.TID = s
		}
	}
	if raw, ok := m["conversations"]; !ok {
		c.add("conversations", "missing field")
	} else {
		f.Conversations = c.conversations(raw)
	}
	if kind != KindContext {
		c.unknown("", m, "tid", "conversations")
		return DecodedRecord{Fields: f, Problems: c.probs}
	}
	c.contextFields(m, &f)
	c.unknown("", m, contextFields...)
	var v *Vault
	if f.AdditionalProfile != "" {
		v = c.profile(f.AdditionalProfile)
	}
	d := DecodedRecord{Fields: f, Problems: c.probs, Warnings: c.warns}
	if len(c.probs) > 0 {
		return d
	}
	v.ID = UserID(f.TID)
	for _, h := range f.Profile {
		v.History = append(v.History, HistoryItem{Title: NewPrivate(h.Title), Text: NewPrivate(h.Text)})
	}
	d.Record = Record{Index: index, Vault: v, Task: SplitTask(f.Conversations[0].Value), Reference: NewPrivate(f.Conversations[1].Value)}
	return d
}

// recordCheck collects one record's problems and warnings.
type recordCheck struct {
	file  string
	index int
	probs []*LoadError
	warns []*LoadWarning
}

func (c *recordCheck) add(field, format string, args ...any) {
	c.probs = append(c.probs, &LoadError{File: c.file, Record: c.index, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (c *recordCheck) warn(field, format string, args ...any) {
	c.warns = append(c.warns, &LoadWarning{File: c.file, Record: c.index, Field: field, Reason: fmt.Sprintf(format, args...)})
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
		if Quotable(k) {
			c.add(prefix+k, "unknown field")
		} else {
			c.add(strings.TrimSuffix(prefix, "."), "unknown field with a %d-byte name", len(k))
		}
	}
}

// Quotable reports whether s is a short name of letters, digits, '_' and
// '-': a field name or an id that an error or a report may quote, unlike
// free text, which may be private.
func Quotable(s string) bool {
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

// plainID reports whether s can be a tid: 1 to 64 letters, digits, '_',
// '-' and '.', not starting with '.' (a vault user id).
func plainID(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
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
func (c *recordCheck) contextFields(m map[string]json.RawMessage, f *RecordFields) {
	if raw, ok := m["profile"]; !ok {
		c.add("profile", "missing field")
	} else if items, ok := c.array("profile", raw); ok {
		if len(items) == 0 {
			c.add("profile", "empty writing history")
		}
		for i, it := range items {
			field := "profile[" + strconv.Itoa(i) + "]"
			im, ok := c.object(field, it)
			if !ok {
				continue
			}
			var h HistoryFields
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
				// A title may be empty (the vault keeps untitled
				// writings); a text and an id may not.
				if name != "title" && strings.TrimSpace(s) == "" {
					c.add(field+"."+name, "empty")
				}
				switch name {
				case "title":
					h.Title = s
				case "text":
					h.Text = s
				case "id":
					h.ID = s
				}
			}
			c.unknown(field+".", im, "title", "text", "id")
			f.Profile = append(f.Profile, h)
		}
	}
	if raw, ok := m["additional_profile"]; !ok {
		c.add("additional_profile", "missing field")
	} else if s, ok := c.str("additional_profile", raw); ok {
		if strings.TrimSpace(s) == "" {
			c.add("additional_profile", "empty profile")
		} else {
			f.AdditionalProfile = s
		}
	}
	// additional_tasks lists the user's other tasks: it may be missing
	// or null (a user with one task, as cogen synth writes it).
	if raw, ok := m["additional_tasks"]; ok && jsonType(raw) != "null" {
		items, ok := c.array("additional_tasks", raw)
		if !ok {
			return
		}
		f.AdditionalTasks = []string{}
		for i, it := range items {
			field := "additional_tasks[" + strconv.Itoa(i) + "]"
			if s, ok := c.str(field, it); ok {
				if strings.TrimSpace(s) == "" {
					c.add(field, "empty task")
				}
				f.AdditionalTasks = append(f.AdditionalTasks, s)
			}
		}
	}
}

// profileKeys are the keys of the paper's additional_profile block, lower
// case.
var profileKeys = map[string]bool{
	"name": true, "age": true, "occupation": true, "location": true,
	"personal_traits": true, "writing_style": true, "privacy_info": true,
	"smart_device_usage": true, "ai_assistant_usage": true, "email": true, "phone": true,
}

// ProfileField is one field of a profile block as [ProfileFields] reads
// it.
type ProfileField struct {
	// Key is the key as written: one of the paper's (Known), another one,
	// or empty for a line of text before the first key.
	Key   string
	Known bool
	// Line is the line of the block, from 1, where the field starts.
	Line int
	// Value is the value, its continuation lines joined with spaces.
	Value Private
}

// ProfileFields splits a profile block (a record's additional_profile)
// into its fields, as the paper's data writes them:
//
//   - A line that starts with one of the paper's keys and ':' (Name, Age,
//     Occupation, Location, Personal_traits, Writing_style, Privacy_info,
//     Smart_device_usage, Ai_assistant_usage, Email, Phone; in any case)
//     starts that field.
//   - A line "Key: value" with another key (up to three words of letters,
//     digits, '_' and '-', the first starting with a letter) starts a field
//     of that unknown key, unless it is indented or the line before it ends
//     with ';' (a list going on): then it continues the field before it.
//   - Any other line continues the field before it, whether or not it
//     holds a ':' of its own ("Fitness tracker: logs a run at 07:30;").
//     Lines before the first key are fields of their own with no key.
//
// Nothing is dropped. The [Vault] of a record takes list fields (and
// unknown keys and keyless lines, which become private facts) as items
// separated by ';'.
func ProfileFields(block string) []ProfileField {
	out := []ProfileField{}
	for _, f := range splitProfile(block) {
		out = append(out, ProfileField{Key: f.key, Known: f.known, Line: f.line, Value: NewPrivate(f.value())})
	}
	return out
}

// profileField is one field of a profile block with the lines of its
// value.
type profileField struct {
	key   string // as written; empty for text before the first key
	known bool
	line  int
	lines []string
}

func (f profileField) value() string { return strings.Join(f.lines, " ") }

// splitProfile is [ProfileFields] with the values as lines.
func splitProfile(block string) []profileField {
	var fields []profileField
	open := false // the line before ends with ';': a list goes on
	for n, raw := range strings.Split(block, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		indented := raw[0] == ' ' || raw[0] == '\t'
		key, val, isKey := profileKey(line)
		switch {
		case isKey && profileKeys[strings.ToLower(key)]:
			fields = append(fields, profileField{key: key, known: true, line: n + 1, lines: []string{val}})
		case isKey && !indented && !open:
			fields = append(fields, profileField{key: key, line: n + 1, lines: []string{val}})
		case len(fields) == 0 || fields[len(fields)-1].key == "":
			// Text before the first key: each line a fact of its own.
			fields = append(fields, profileField{line: n + 1, lines: []string{line}})
		default:
			f := &fields[len(fields)-1]
			f.lines = append(f.lines, line)
		}
		open = strings.HasSuffix(line, ";")
	}
	return fields
}

// profileKey splits a line "Key: value" whose key has the shape of a
// profile key: up to three words of letters, digits, '_' and '-', the
// first starting with a letter, followed by ':' and a space or the end of
// the line (so that "07:30" and "https://" are not keys). A known key may
// be followed by ':' alone.
func profileKey(line string) (key, value string, ok bool) {
	k, v, found := strings.Cut(line, ":")
	k = strings.TrimSpace(k)
	if !found || k == "" || len(k) > 40 {
		return "", "", false
	}
	if !profileKeys[strings.ToLower(k)] && v != "" && v[0] != ' ' && v[0] != '\t' {
		return "", "", false
	}
	words := strings.Fields(k)
	if len(words) > 3 || !(k[0] >= 'a' && k[0] <= 'z' || k[0] >= 'A' && k[0] <= 'Z') {
		return "", "", false
	}
	for _, w := range words {
		if !Quotable(w) {
			return "", "", false
		}
	}
	return strings.Join(words, " "), strings.TrimSpace(v), true
}

// profile builds the vault of a profile block, reporting a duplicate key
// or a missing name as a problem and a field kept as a private fact as a
// warning.
func (c *recordCheck) profile(block string) *Vault {
	const field = "additional_profile"
	v := &Vault{Profile: NewPrivate(block)}
	items := func(s string) []Private {
		var out []Private
		for it := range strings.SplitSeq(s, ";") {
			if it = strings.TrimSpace(it); it != "" {
				out = append(out, NewPrivate(it))
			}
		}
		return out
	}
	seen := map[string]int{} // known key → its line
	for _, f := range splitProfile(block) {
		val := f.value()
		if !f.known {
			text := val
			if f.key == "" {
				c.warn(field, "line %d: text before the first key, kept as a private fact", f.line)
			} else {
				c.warn(field, "line %d: unknown key %q, kept as a private fact", f.line, f.key)
				text = f.key + ": " + val
			}
			v.PrivateFacts = append(v.PrivateFacts, items(text)...)
			continue
		}
		key := strings.ToLower(f.key)
		if first, dup := seen[key]; dup {
			c.add(field, "line %d: duplicate key (first on line %d)", f.line, first)
			continue
		}
		seen[key] = f.line
		switch key {
		case "name":
			v.Name = NewPrivate(val)
			if val == "" {
				c.add(field, "line %d: empty Name", f.line)
			}
		case "age":
			v.Age = NewPrivate(val)
		case "occupation":
			v.Occupation = NewPrivate(val)
		case "location":
			v.Location = NewPrivate(val)
		case "personal_traits":
			v.PersonalTraits = items(val)
		case "writing_style":
			v.WritingStyle = items(val)
		case "privacy_info":
			v.PrivateFacts = append(v.PrivateFacts, items(val)...)
		case "smart_device_usage":
			v.ActivityLog = items(val)
		case "ai_assistant_usage":
			v.AIUsage = items(val)
		case "email":
			v.Emails = items(val)
		case "phone":
			v.Phones = items(val)
		}
	}
	if _, ok := seen["name"]; !ok {
		c.add(field, "no Name line")
	}
	return v
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
	u, err := LoadUserFile(path)
	if err != nil {
		return nil, err
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
	for _, h := range u.History {
		v.History = append(v.History, HistoryItem{Title: NewPrivate(h.Title), Text: NewPrivate(h.Text)})
	}
	v.Profile = v.ProfileText()
	return v, nil
}

// LoadUserFile reads and checks a user file (see [LoadVault]) without
// making a vault of it: what `cogen vault import` stores.
func LoadUserFile(path string) (UserFile, error) {
	data, err := regfile.ReadFile(path, maxUserFile)
	if err != nil {
		return UserFile{}, err
	}
	var u UserFile
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		md, err := toml.Decode(string(data), &u)
		if err != nil {
			var pe toml.ParseError
			if errors.As(err, &pe) {
				return UserFile{}, &LoadError{File: path, Record: -1, Reason: fmt.Sprintf("line %d: invalid TOML", pe.Position.Line)}
			}
			return UserFile{}, &LoadError{File: path, Record: -1, Reason: "invalid TOML"}
		}
		if und := md.Undecoded(); len(und) > 0 {
			return UserFile{}, &LoadError{File: path, Record: -1, Field: und[0].String(), Reason: "unknown key"}
		}
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&u); err != nil {
			if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return UserFile{}, &LoadError{File: path, Record: -1, Field: strings.Trim(f, `"`), Reason: "unknown key"}
			}
			return UserFile{}, &LoadError{File: path, Record: -1, Reason: jsonReason(err)}
		}
	default:
		return UserFile{}, &LoadError{File: path, Record: -1, Reason: "want a .toml or .json file"}
	}
	if strings.TrimSpace(u.Name) == "" {
		return UserFile{}, &LoadError{File: path, Record: -1, Field: "name", Reason: "required"}
	}
	if len(u.History) == 0 {
		return UserFile{}, &LoadError{File: path, Record: -1, Field: "history", Reason: "at least one earlier writing is required"}
	}
	for i, h := range u.History {
		if strings.TrimSpace(h.Text) == "" {
			return UserFile{}, &LoadError{File: path, Record: -1, Field: fmt.Sprintf("history[%d].text", i), Reason: "empty"}
		}
	}
	return u, nil
}

// ProfileText is the profile block as the paper's prompts show it: the
// loaded one, or one rendered from the fields in the paper's "Key: value"
// form when there is none.
func (v *Vault) ProfileText() Private {
	if !v.Profile.IsZero() {
		return v.Profile
	}
	var b strings.Builder
	for _, f := range []struct {
		key string
		ps  []Private
	}{
		{"Age", []Private{v.Age}}, {"Name", []Private{v.Name}}, {"Occupation", []Private{v.Occupation}},
		{"Location", []Private{v.Location}}, {"Personal_traits", v.PersonalTraits},
		{"Writing_style", v.WritingStyle}, {"Privacy_info", v.PrivateFacts},
		{"Smart_device_usage", v.ActivityLog}, {"Ai_assistant_usage", v.AIUsage},
	} {
		writeField(&b, f.key, f.ps)
	}
	return NewPrivate(strings.TrimSpace(b.String()))
}

// writeField writes a "Key: a; b" line of the non-empty values, none
// when there are none.
func writeField(b *strings.Builder, key string, ps []Private) {
	var s []string
	for _, p := range ps {
		if !p.IsZero() {
			s = append(s, p.UnsafeText())
		}
	}
	if len(s) > 0 {
		fmt.Fprintf(b, "%s: %s\n", key, strings.Join(s, "; "))
	}
}

// ContextText is the whole private context as one text, for an on-device
// model that reads it: the earlier writings first, then the profile, then
// the name, location and identifiers once more, least needed first, so
// that a context cut from the front to fit a model loses those last.
func (v *Vault) ContextText() Private {
	var b strings.Builder
	for _, h := range v.History {
		fmt.Fprintf(&b, "Earlier writing: %s\n%s\n\n", h.Title.UnsafeText(), h.Text.UnsafeText())
	}
	b.WriteString(v.ProfileText().UnsafeText() + "\n")
	writeField(&b, "Name", []Private{v.Name})
	writeField(&b, "Location", []Private{v.Location})
	writeField(&b, "E-mail", v.Emails)
	writeField(&b, "Phone", v.Phones)
	writeField(&b, "Identifiers", v.Identifiers)
	return NewPrivate(strings.TrimSpace(b.String()))
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
