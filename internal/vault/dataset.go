package vault

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cogenesis/cogenesis/privacy"
)

// DatasetRecord is one record of the paper's context-aware format
// (context_dev.json), field for field.
type DatasetRecord struct {
	TID               string        `json:"tid"`
	Conversations     []Turn        `json:"conversations"`
	Profile           []ProfileItem `json:"profile"`
	AdditionalProfile string        `json:"additional_profile"`
	AdditionalTasks   []string      `json:"additional_tasks"`
}

// Turn is one conversation turn of a [DatasetRecord].
type Turn struct {
	From  string `json:"from"`
	Value string `json:"value"`
}

// ProfileItem is one writing-history item of a [DatasetRecord].
type ProfileItem struct {
	Title string `json:"title"`
	Text  string `json:"text"`
	ID    string `json:"id"`
}

// ImportOptions select what [Store.Import] takes from a dataset.
type ImportOptions struct {
	// Index, when not negative, imports only that record.
	Index int
	// User, when set, is the id the imported user gets instead of the
	// record's tid (with Index, for one record).
	User string
}

// ImportResult counts what an import did.
type ImportResult struct {
	Records  int      `json:"records"`
	Users    int      `json:"users"`
	Created  int      `json:"created"`
	Replaced int      `json:"replaced"`
	IDs      []string `json:"ids"`
}

// Import reads records in the context-aware format from data (file names
// them in errors) and stores their users: one user per tid, records that
// share a tid adding their task to the same user (their profiles must
// agree), an existing user with that id replaced. Nothing is stored when
// any record is invalid; the error names the record and the field
// ([*privacy.LoadError] or [*FieldError]).
func (s *Store) Import(ctx context.Context, file string, data []byte, o ImportOptions) (ImportResult, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return ImportResult{}, &privacy.LoadError{File: file, Record: -1, Reason: "not a JSON array of records"}
	}
	first, last := 0, len(raws)
	if o.Index >= 0 {
		if o.Index >= len(raws) {
			return ImportResult{}, fmt.Errorf("import %s: index %d: the file has %d records", file, o.Index, len(raws))
		}
		first, last = o.Index, o.Index+1
	}
	if o.User != "" {
		if err := ValidID(o.User); err != nil {
			return ImportResult{}, err
		}
	}
	var users []*User
	byID := map[string]int{} // user id → index in users
	from := map[string]int{} // user id → first record
	for i := first; i < last; i++ {
		u, err := userFromRecord(file, i, raws[i])
		if err != nil {
			return ImportResult{}, err
		}
		if o.User != "" {
			u.ID = o.User
		}
		if err := u.Validate(); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Record = i
			}
			return ImportResult{}, err
		}
		j, seen := byID[u.ID]
		if !seen {
			byID[u.ID], from[u.ID] = len(users), i
			users = append(users, u)
			continue
		}
		prev := users[j]
		if prev.Profile() != u.Profile() {
			return ImportResult{}, &FieldError{Record: i, Field: "additional_profile", Reason: fmt.Sprintf("user %q was read from record %d with another profile", u.ID, from[u.ID])}
		}
		if !slices.Equal(prev.History, u.History) {
			return ImportResult{}, &FieldError{Record: i, Field: "profile", Reason: fmt.Sprintf("user %q was read from record %d with another writing history", u.ID, from[u.ID])}
		}
		prev.Tasks = append(prev.Tasks, u.Tasks...)
		for _, t := range u.ExtraTasks {
			if !slices.Contains(prev.ExtraTasks, t) {
				prev.ExtraTasks = append(prev.ExtraTasks, t)
			}
		}
	}
	res := ImportResult{Records: last - first, Users: len(users)}
	now := s.now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, u := range users {
			var exists bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, u.ID).Scan(&exists); err != nil {
				return err
			}
			if exists {
				res.Replaced++
			} else {
				res.Created++
			}
			if err := put(ctx, tx, *u, modePut, now); err != nil {
				return err
			}
			res.IDs = append(res.IDs, u.ID)
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import %s: %w", file, err)
	}
	return res, nil
}

// userFromRecord builds the user of one dataset record. The record is
// validated by [privacy.ParseContextRecord]; the fields it does not keep
// (history item ids, additional tasks, the verbatim profile block) are
// read here.
func userFromRecord(file string, i int, raw []byte) (*User, error) {
	rec, err := privacy.ParseContextRecord(file, i, raw)
	if err != nil {
		return nil, err
	}
	var dr DatasetRecord
	if err := json.Unmarshal(raw, &dr); err != nil {
		return nil, &privacy.LoadError{File: file, Record: i, Reason: "invalid record"}
	}
	if dr.TID == "" {
		return nil, &privacy.LoadError{File: file, Record: i, Field: "tid", Reason: "empty"}
	}
	v := rec.Vault
	texts := func(ps []privacy.Private) []string {
		var out []string
		for _, p := range ps {
			// The store keeps the user's own text: this is its device-only
			// path.
			out = append(out, p.UnsafeText())
		}
		return out
	}
	u := &User{
		ID: dr.TID, Name: v.Name.UnsafeText(), Age: v.Age.UnsafeText(),
		Occupation: v.Occupation.UnsafeText(), Location: v.Location.UnsafeText(),
		Emails: texts(v.Emails), Phones: texts(v.Phones), Identifiers: texts(v.Identifiers),
		PersonalTraits: texts(v.PersonalTraits), WritingStyle: texts(v.WritingStyle),
		PrivateFacts: texts(v.PrivateFacts), ActivityLog: texts(v.ActivityLog), AIUsage: texts(v.AIUsage),
		Tasks:      []Task{{Task: dr.Conversations[0].Value, Reference: dr.Conversations[1].Value}},
		ExtraTasks: dr.AdditionalTasks,
	}
	for j, h := range dr.Profile {
		ref := h.ID
		if ref == strconv.Itoa(j) {
			ref = "" // the default, written back on export
		}
		u.History = append(u.History, History{Ref: ref, Title: h.Title, Text: h.Text})
	}
	if u.datasetProfile() != dr.AdditionalProfile {
		// Keep what the fields cannot say (other keys, other spacing).
		u.ProfileBlock = dr.AdditionalProfile
	}
	return u, nil
}

// Export returns the users with the given ids (all when none are given) as
// records of the context-aware format: one record per task. Users without
// a task cannot be written in that format; their ids are returned in
// skipped.
func (s *Store) Export(ctx context.Context, ids ...string) (recs []DatasetRecord, skipped []string, err error) {
	if len(ids) == 0 {
		if ids, err = s.IDs(ctx); err != nil {
			return nil, nil, err
		}
	}
	recs = []DatasetRecord{}
	for _, id := range ids {
		u, err := s.Get(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if len(u.Tasks) == 0 {
			skipped = append(skipped, id)
			continue
		}
		recs = append(recs, u.Records()...)
	}
	return recs, skipped, nil
}

// Records returns u as records of the context-aware format, one per task.
func (u *User) Records() []DatasetRecord {
	profile := make([]ProfileItem, len(u.History))
	for j, h := range u.History {
		ref := h.Ref
		if ref == "" {
			ref = strconv.Itoa(j)
		}
		profile[j] = ProfileItem{Title: h.Title, Text: h.Text, ID: ref}
	}
	extra := u.ExtraTasks
	if extra == nil {
		extra = []string{}
	}
	var out []DatasetRecord
	for _, t := range u.Tasks {
		out = append(out, DatasetRecord{
			TID:               u.ID,
			Conversations:     []Turn{{From: "user", Value: t.Task}, {From: "assistant", Value: t.Reference}},
			Profile:           profile,
			AdditionalProfile: u.datasetProfile(),
			AdditionalTasks:   extra,
		})
	}
	return out
}
