package vault

import (
	"fmt"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/privacy"
)

// User is one user's private context as the store holds it: the profile,
// the list fields (private facts and activity log among them), the writing
// history, and writing tasks with their reference answers.
//
// A User holds private text as plain strings, because it is the user's
// own data on its way between the store, the user's files and the user's
// own screen. None of it may reach a logger, an error, or a cloud client:
// strategies get it through [User.Vault] as [privacy.Private] values.
type User struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Age            string   `json:"age,omitempty"`
	Occupation     string   `json:"occupation,omitempty"`
	Location       string   `json:"location,omitempty"`
	Emails         []string `json:"emails,omitempty"`
	Phones         []string `json:"phones,omitempty"`
	Identifiers    []string `json:"identifiers,omitempty"`
	PersonalTraits []string `json:"personal_traits,omitempty"`
	WritingStyle   []string `json:"writing_style,omitempty"`
	// PrivateFacts are the paper's Privacy_info items.
	PrivateFacts []string `json:"private_facts,omitempty"`
	// ActivityLog are the paper's Smart_device_usage items.
	ActivityLog []string `json:"activity_log,omitempty"`
	// AIUsage are the Ai_assistant_usage items.
	AIUsage []string  `json:"ai_usage,omitempty"`
	History []History `json:"history,omitempty"`
	// Tasks are writing tasks with reference answers (the dataset's
	// conversations); ExtraTasks are the dataset's additional_tasks.
	Tasks      []Task   `json:"tasks,omitempty"`
	ExtraTasks []string `json:"extra_tasks,omitempty"`
	// ProfileBlock is an imported additional_profile block kept verbatim
	// because the fields do not render back to it; empty otherwise. Any
	// update through the store's CRUD methods clears it.
	ProfileBlock string `json:"profile_block,omitempty"`
	// Created and Updated are set by the store.
	Created time.Time `json:"created,omitzero"`
	Updated time.Time `json:"updated,omitzero"`
}

// History is one earlier writing of the user.
type History struct {
	// Ref is the dataset's item id ("0", "1", ...); empty for items
	// written by hand.
	Ref   string `json:"ref,omitempty"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Task is a writing task and, when known, the user's own answer.
type Task struct {
	Task      string `json:"task"`
	Reference string `json:"reference,omitempty"`
}

// FieldError is invalid input: the record (a dataset index, -1 for none),
// the field and the reason. It never holds the field's text.
type FieldError struct {
	Record int
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Record >= 0 {
		return fmt.Sprintf("record %d: field %q: %s", e.Record, e.Field, e.Reason)
	}
	return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
}

// MaxIDLen bounds a user id.
const MaxIDLen = 64

// ValidID reports why id cannot name a user, or nil. Ids appear in URLs,
// logs and the audit log, so they are short and plain: letters, digits,
// '_', '-' and '.', not starting with '.'.
func ValidID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return &FieldError{Record: -1, Field: "id", Reason: fmt.Sprintf("want 1 to %d characters", MaxIDLen)}
	}
	if id[0] == '.' {
		return &FieldError{Record: -1, Field: "id", Reason: "must not start with '.'"}
	}
	for i, r := range id {
		ok := r == '_' || r == '-' || r == '.' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		if !ok {
			return &FieldError{Record: -1, Field: "id", Reason: fmt.Sprintf("character %d: want letters, digits, '_', '-' or '.'", i)}
		}
	}
	return nil
}

// Validate checks u as the store needs it: a valid id, a name, and no
// empty history text or task. The error is a [*FieldError].
func (u *User) Validate() error {
	if err := ValidID(u.ID); err != nil {
		return err
	}
	if strings.TrimSpace(u.Name) == "" {
		return &FieldError{Record: -1, Field: "name", Reason: "required"}
	}
	for i, h := range u.History {
		if strings.TrimSpace(h.Text) == "" {
			return &FieldError{Record: -1, Field: fmt.Sprintf("history[%d].text", i), Reason: "empty"}
		}
	}
	for i, t := range u.Tasks {
		if strings.TrimSpace(t.Task) == "" {
			return &FieldError{Record: -1, Field: fmt.Sprintf("tasks[%d].task", i), Reason: "empty"}
		}
	}
	for _, l := range u.lists() {
		for i, s := range *l.items {
			if strings.TrimSpace(s) == "" {
				return &FieldError{Record: -1, Field: fmt.Sprintf("%s[%d]", l.kind, i), Reason: "empty"}
			}
			if strings.Contains(s, ";") || strings.Contains(s, "\n") {
				// The profile block separates items with ";" and fields
				// with new lines.
				return &FieldError{Record: -1, Field: fmt.Sprintf("%s[%d]", l.kind, i), Reason: "must not contain ';' or a line break"}
			}
		}
	}
	for _, f := range []struct{ name, v string }{{"name", u.Name}, {"age", u.Age}, {"occupation", u.Occupation}, {"location", u.Location}} {
		if strings.Contains(f.v, "\n") {
			return &FieldError{Record: -1, Field: f.name, Reason: "must not contain a line break"}
		}
	}
	return nil
}

// list is one list-valued field: its kind (the JSON name, also the
// store's items.kind) and its items.
type list struct {
	kind  string
	items *[]string
}

// lists returns the list fields in a fixed order.
func (u *User) lists() []list {
	return []list{
		{"emails", &u.Emails},
		{"phones", &u.Phones},
		{"identifiers", &u.Identifiers},
		{"personal_traits", &u.PersonalTraits},
		{"writing_style", &u.WritingStyle},
		{"private_facts", &u.PrivateFacts},
		{"activity_log", &u.ActivityLog},
		{"ai_usage", &u.AIUsage},
	}
}

// Profile renders the profile block as the paper's prompts show it: one
// "Key: value" line per field, list items joined by "; ". An imported
// block kept verbatim (ProfileBlock) is returned as it is.
func (u *User) Profile() string {
	if u.ProfileBlock != "" {
		return u.ProfileBlock
	}
	var lines []string
	line := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			lines = append(lines, k+": "+v)
		}
	}
	line("Age", u.Age)
	line("Name", u.Name)
	line("Occupation", u.Occupation)
	line("Location", u.Location)
	line("Personal_traits", strings.Join(u.PersonalTraits, "; "))
	line("Writing_style", strings.Join(u.WritingStyle, "; "))
	line("Privacy_info", strings.Join(u.PrivateFacts, "; "))
	line("Smart_device_usage", strings.Join(u.ActivityLog, "; "))
	line("Ai_assistant_usage", strings.Join(u.AIUsage, "; "))
	return strings.Join(lines, "\n")
}

// datasetProfile is the additional_profile block of an exported record:
// the prompt profile, plus e-mail and phone lines, which the dataset
// parser reads back.
func (u *User) datasetProfile() string {
	p := u.Profile()
	if u.ProfileBlock != "" {
		return p
	}
	if len(u.Emails) > 0 {
		p += "\nEmail: " + strings.Join(u.Emails, "; ")
	}
	if len(u.Phones) > 0 {
		p += "\nPhone: " + strings.Join(u.Phones, "; ")
	}
	return p
}

// Vault returns the user's context as the strategies and the guard take
// it, every field private.
func (u *User) Vault() *privacy.Vault {
	list := func(ss []string) []privacy.Private {
		var out []privacy.Private
		for _, s := range ss {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, privacy.NewPrivate(s))
			}
		}
		return out
	}
	v := &privacy.Vault{
		ID:   u.ID,
		Name: privacy.NewPrivate(u.Name), Age: privacy.NewPrivate(u.Age),
		Occupation: privacy.NewPrivate(u.Occupation), Location: privacy.NewPrivate(u.Location),
		Emails: list(u.Emails), Phones: list(u.Phones), Identifiers: list(u.Identifiers),
		PersonalTraits: list(u.PersonalTraits), WritingStyle: list(u.WritingStyle),
		PrivateFacts: list(u.PrivateFacts), ActivityLog: list(u.ActivityLog), AIUsage: list(u.AIUsage),
		Profile: privacy.NewPrivate(u.Profile()),
	}
	for _, h := range u.History {
		v.History = append(v.History, privacy.HistoryItem{Title: privacy.NewPrivate(h.Title), Text: privacy.NewPrivate(h.Text)})
	}
	return v
}

// File returns u in the user-file schema of [privacy.LoadVault]: what
// `cogen vault export --format user` writes, so that
// `cogen generate --user FILE.json` reads it.
func (u *User) File() privacy.UserFile {
	f := privacy.UserFile{
		Name: u.Name, Age: u.Age, Occupation: u.Occupation, Location: u.Location,
		Emails: u.Emails, Phones: u.Phones, Identifiers: u.Identifiers,
		PersonalTraits: u.PersonalTraits, WritingStyle: u.WritingStyle,
		PrivateFacts: u.PrivateFacts, ActivityLog: u.ActivityLog, AIUsage: u.AIUsage,
		History: []privacy.UserFileHistory{},
	}
	for _, h := range u.History {
		f.History = append(f.History, privacy.UserFileHistory{Title: h.Title, Text: h.Text})
	}
	return f
}

// UserFromFile is the user of a user file ([privacy.LoadUserFile]) under
// id: what `cogen vault import` stores for a TOML or JSON user file.
func UserFromFile(id string, f privacy.UserFile) User {
	u := User{
		ID: id, Name: f.Name, Age: f.Age, Occupation: f.Occupation, Location: f.Location,
		Emails: f.Emails, Phones: f.Phones, Identifiers: f.Identifiers,
		PersonalTraits: f.PersonalTraits, WritingStyle: f.WritingStyle,
		PrivateFacts: f.PrivateFacts, ActivityLog: f.ActivityLog, AIUsage: f.AIUsage,
	}
	for _, h := range f.History {
		u.History = append(u.History, History{Title: h.Title, Text: h.Text})
	}
	return u
}
