package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cogenesis/cogenesis/internal/regfile"
	"github.com/cogenesis/cogenesis/privacy"
)

// Kind names a dataset format: the task kind of its records.
type Kind = privacy.TaskKind

// The dataset kinds.
// MaxFileBytes bounds a dataset file that is read whole (the paper's
// largest, LaMP's question files, are a few hundred MB).
const MaxFileBytes = 1 << 30

const (
	// KindContext is the paper's context-aware instruction format.
	KindContext = privacy.KindContext
	// KindPaper is LaMP's citation-network abstracts as the paper processed them.
	KindPaper = privacy.KindPaper
	// KindEmail is LaMP's Avocado emails as the paper processed them.
	KindEmail = privacy.KindEmail
)

// ParseKind parses "context", "paper" or "email"; the empty string means
// "detect from the file" and is returned as is.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case "", KindContext, KindPaper, KindEmail:
		return k, nil
	}
	return "", fmt.Errorf("dataset kind %q: want context, paper or email", s)
}

// Roles of the two conversation turns.
const (
	RoleUser      = privacy.RoleUser
	RoleAssistant = privacy.RoleAssistant
)

// Turn is one conversation turn.
type Turn struct {
	From  string `json:"from"`
	Value string `json:"value"`
}

// ProfileItem is one item of a user's writing history: an earlier task (or
// paper title, or email subject) and the text the user wrote for it.
type ProfileItem struct {
	Title string `json:"title"`
	Text  string `json:"text"`
	ID    string `json:"id,omitempty"`
}

// Field is one field of a context-aware record's additional_profile
// block, as [privacy.ProfileFields] reads it: the key as written (empty
// for a line of text before the first key) and the value, its
// continuation lines joined with spaces.
type Field struct {
	Key, Value string
}

// Record is one dataset record. Context-aware records fill every field;
// LaMP-derived records (paper, email) only TID and Conversations, their
// history being part of the prompt (see [Record.History]).
//
// A Record's text is private context: never log it or put it in an error.
type Record struct {
	TID           string `json:"tid"`
	Conversations []Turn `json:"conversations"`
	// Profile is the user's writing history (context-aware only).
	Profile []ProfileItem `json:"profile,omitempty"`
	// AdditionalProfile is the "Key: value" profile block (context-aware only).
	AdditionalProfile string `json:"additional_profile,omitempty"`
	// AdditionalTasks are the user's other tasks (context-aware only).
	AdditionalTasks []string `json:"additional_tasks,omitempty"`
}

// Prompt returns the user turn: the task (context-aware) or the complete
// prompt (LaMP-derived). It is empty when the record has no user turn.
func (r Record) Prompt() string { return r.turn(0) }

// Reference returns the assistant turn, the reference output.
func (r Record) Reference() string { return r.turn(1) }

func (r Record) turn(i int) string {
	if i < len(r.Conversations) {
		return r.Conversations[i].Value
	}
	return ""
}

// User returns the id of the record's user, [privacy.UserID] of its tid:
// the whole tid, as the vault's import makes users. In a dataset file no
// tid comes twice, so each record is its own user; records that share a
// tid's "group_user" prefix are different users (see [Record.TIDPrefix]).
func (r Record) User() string { return privacy.UserID(r.TID) }

// TIDPrefix returns the "group_user" prefix of a context-aware tid
// "group_user_task", or the whole tid when it has another form. The
// prefix names no user: in context_dev.json the records that share one
// have profiles of different people. `cogen data stats` counts the
// prefixes beside the users so that the two counts are not confused.
func (r Record) TIDPrefix() string {
	parts := strings.Split(r.TID, "_")
	if len(parts) == 3 {
		return parts[0] + "_" + parts[1]
	}
	return r.TID
}

// History returns the record's writing history: the profile items of a
// context-aware record, or the items of a LaMP-derived prompt's history
// section (none for a without-context prompt or one that does not parse).
func (r Record) History() []ProfileItem {
	if r.Profile != nil {
		return r.Profile
	}
	for _, k := range []Kind{KindPaper, KindEmail} {
		if p, err := ParsePrompt(k, r.Prompt()); err == nil {
			return p.History
		}
	}
	return nil
}

// Fields returns the fields of the additional_profile block in order, as
// the privacy boundary reads them (see [privacy.ProfileFields]): a value
// may go on over several lines, and nothing is left out.
func (r Record) Fields() []Field {
	var out []Field
	for _, f := range privacy.ProfileFields(r.AdditionalProfile) {
		// The dataset tools show the user's own file on the user's own
		// device.
		out = append(out, Field{Key: f.Key, Value: f.Value.UnsafeText()})
	}
	return out
}

// Context returns a context-aware record as the privacy boundary loads
// it, by [privacy.DecodeRecord] as every other path does: the user's
// vault, the task and the reference. File and index label errors. A
// record that is not a valid context-aware record fails with a
// [*privacy.LoadError] for each problem.
func (r Record) Context(file string, index int) (privacy.Record, error) {
	type item struct {
		Title string `json:"title"`
		Text  string `json:"text"`
		ID    string `json:"id"`
	}
	rec := struct {
		TID               string   `json:"tid"`
		Conversations     []Turn   `json:"conversations"`
		Profile           []item   `json:"profile"`
		AdditionalProfile string   `json:"additional_profile"`
		AdditionalTasks   []string `json:"additional_tasks"`
	}{TID: r.TID, Conversations: r.Conversations, Profile: []item{}, AdditionalProfile: r.AdditionalProfile, AdditionalTasks: r.AdditionalTasks}
	for _, p := range r.Profile {
		rec.Profile = append(rec.Profile, item(p))
	}
	if rec.AdditionalTasks == nil {
		rec.AdditionalTasks = []string{}
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		panic(fmt.Sprintf("dataset: marshal a record: %v", err)) // strings only
	}
	out, err := privacy.ParseContextRecord(file, index, raw)
	if err != nil {
		return privacy.Record{}, err
	}
	return out, nil
}

// File is a loaded dataset file.
type File struct {
	// Path is where the file was read from (empty for one built in memory).
	Path string
	Kind Kind
	// WithoutContext is true for a "_wo" file, whose user turns are the
	// task lines without context.
	WithoutContext bool
	Records        []Record
	// Without holds the paired without-context records, index for index,
	// when the file was loaded with [Options.Without]; nil otherwise.
	Without []Record
	// Indexes holds each record's index in the file when bad records were
	// skipped ([Options.SkipBad]); nil when Records are the file's records
	// in order. See [File.Index].
	Indexes []int
	// Skipped holds every problem of the records skipped as bad under
	// [Options.SkipBad], in file order.
	Skipped []Problem
	// Warnings are what the records kept but report: profile keys the
	// format does not know and text before the first key, each kept as a
	// private fact.
	Warnings []Problem
}

// Index returns the index in the file of Records[i].
func (f *File) Index(i int) int {
	if f.Indexes == nil {
		return i
	}
	return f.Indexes[i]
}

// SkippedRecords returns the indices of the records skipped as bad,
// ascending, each once.
func (f *File) SkippedRecords() []int {
	var out []int
	for _, p := range f.Skipped {
		if p.Index >= 0 {
			out = append(out, p.Index)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Subset returns a new File holding the records at the given indices (and
// their paired without-context records).
func (f *File) Subset(idx []int) *File {
	out := &File{Path: f.Path, Kind: f.Kind, WithoutContext: f.WithoutContext, Records: make([]Record, 0, len(idx))}
	if f.Without != nil {
		out.Without = make([]Record, 0, len(idx))
	}
	if f.Indexes != nil {
		out.Indexes = make([]int, 0, len(idx))
	}
	for _, i := range idx {
		out.Records = append(out.Records, f.Records[i])
		if f.Without != nil {
			out.Without = append(out.Without, f.Without[i])
		}
		if f.Indexes != nil {
			out.Indexes = append(out.Indexes, f.Indexes[i])
		}
	}
	return out
}

// Options configure [LoadWith] and [ValidateWith].
type Options struct {
	// Kind is the file's kind; empty detects it from the first record.
	Kind Kind
	// Without is the path of the paired "_wo" file of a paper or email
	// file. It must have as many records, the same tids and, at each
	// index, the task line of the main file's prompt.
	Without string
	// SkipBad loads the good records of a file that has bad ones: a
	// record with a problem (in either file of a pair) is left out, and
	// its problems go to [File.Skipped]. A problem of a whole file still
	// fails the load. Without it any problem fails the load.
	SkipBad bool
}

// Load reads a dataset file, detecting its kind. It fails with a
// [*ProblemError] listing every defect when the file breaks the format.
func Load(path string) (*File, error) {
	return LoadWith(path, Options{})
}

// LoadWith reads a dataset file as o says. It fails with a [*ProblemError]
// listing every defect when the file (or its paired "_wo" file) breaks the
// format.
func LoadWith(path string, o Options) (*File, error) {
	f, probs, fatal := load(path, o)
	if len(probs) == 0 {
		return f, nil
	}
	if !o.SkipBad || fatal || slices.ContainsFunc(probs, func(p Problem) bool { return p.Index < 0 }) {
		var warns []Problem
		if f != nil {
			warns = f.Warnings
		}
		return nil, &ProblemError{Problems: probs, Fatal: fatal, Warnings: warns}
	}
	bad := map[int]bool{}
	for _, p := range probs {
		bad[p.Index] = true
	}
	good := make([]int, 0, len(f.Records))
	for i := range f.Records {
		if !bad[i] {
			good = append(good, i)
		}
	}
	out := f.Subset(good)
	out.Indexes, out.Skipped, out.Warnings = good, probs, f.Warnings
	return out, nil
}

// Validate checks a dataset file, detecting its kind, and returns every
// problem found; none means the file is valid.
func Validate(path string) []Problem {
	return ValidateWith(path, Options{})
}

// ValidateWith checks a dataset file (and its paired "_wo" file) as o says
// and returns every problem found; none means the files are valid.
func ValidateWith(path string, o Options) []Problem {
	_, probs, _ := load(path, o)
	return probs
}

// load reads a file and its pair, returning every problem and whether
// one of them stopped decoding.
func load(path string, o Options) (*File, []Problem, bool) {
	f, probs, fatal := loadOne(path, o.Kind)
	if o.Without == "" || f == nil {
		return f, probs, fatal
	}
	if f.Kind == KindContext {
		return f, append(probs, fileProblem(o.Without, "a context-aware file has no paired without-context file")), fatal
	}
	wo, woProbs, woFatal := loadOne(o.Without, f.Kind)
	probs, fatal = append(probs, woProbs...), fatal || woFatal
	if wo == nil {
		return f, probs, fatal
	}
	f.Warnings = append(f.Warnings, wo.Warnings...)
	if !wo.WithoutContext {
		return f, append(probs, fileProblem(o.Without, "is not a without-context file: its prompts carry context")), fatal
	}
	probs = append(probs, pairProblems(f, wo)...)
	f.Without = wo.Records
	return f, probs, fatal
}

// pairProblems checks a file against its paired without-context file.
func pairProblems(f, wo *File) []Problem {
	var probs []Problem
	if len(wo.Records) != len(f.Records) {
		probs = append(probs, fileProblem(wo.Path, fmt.Sprintf("has %d records, want %d as in the paired file %s", len(wo.Records), len(f.Records), f.Path)))
	}
	for i := range min(len(f.Records), len(wo.Records)) {
		r, w := f.Records[i], wo.Records[i]
		p := Problem{Path: wo.Path, Index: i, TID: w.TID, Offset: -1}
		if r.TID != w.TID {
			p.Field, p.Reason = "tid", fmt.Sprintf("differs from the tid of record %d of the paired file", i)
			probs = append(probs, p)
		}
		pr, err := ParsePrompt(f.Kind, r.Prompt())
		if err != nil {
			continue // reported against the main file
		}
		if pr.Without() != w.Prompt() {
			p.Field, p.Reason = "conversations[0].value", fmt.Sprintf("is not the task line of record %d of the paired file", i)
			probs = append(probs, p)
		}
		if r.Reference() != w.Reference() {
			p.Field, p.Reason = "conversations[1].value", fmt.Sprintf("differs from the reference of record %d of the paired file", i)
			probs = append(probs, p)
		}
	}
	return probs
}

func loadOne(path string, kind Kind) (*File, []Problem, bool) {
	fh, err := regfile.Open(path)
	if err != nil {
		return nil, []Problem{fileProblem(path, "cannot open: "+pathErrorText(err))}, true
	}
	defer fh.Close()
	d := NewDecoder(fh, path, kind)
	f := &File{Path: path}
	var probs []Problem
	fatal := false
	for rec, err := range d.All() {
		if pe, ok := errors.AsType[*ProblemError](err); ok {
			probs = append(probs, pe.Problems...)
			if pe.Fatal {
				fatal = true
				continue // nothing decoded
			}
		}
		f.Records = append(f.Records, rec)
	}
	f.Kind, f.WithoutContext, f.Warnings = d.Kind(), d.WithoutContext(), d.Warnings()
	return f, probs, fatal
}

// pathErrorText returns an os error's text without the path, which the
// problem already names.
func pathErrorText(err error) string {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// words counts whitespace-separated words.
func words(s string) int { return len(strings.Fields(s)) }

// chars counts characters (runes).
func chars(s string) int { return utf8.RuneCountInString(s) }
