package vault

import (
	"context"
	"database/sql"
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
	// SkipBad imports the good records of a file that has bad ones and
	// lists the bad ones in ImportResult.Skipped. Without it a bad record
	// imports nothing (see [privacy.LoadOptions]).
	SkipBad bool
}

// ImportResult counts what an import did.
type ImportResult struct {
	Records  int      `json:"records"`
	Users    int      `json:"users"`
	Created  int      `json:"created"`
	Replaced int      `json:"replaced"`
	IDs      []string `json:"ids"`
	// Skipped are the indices of the bad records left out under
	// ImportOptions.SkipBad.
	Skipped []int `json:"skipped,omitempty"`
	// Warnings are what the imported records kept but report: profile
	// keys the format does not know, kept as private facts (the key's
	// name, never its value).
	Warnings []string `json:"warnings,omitempty"`
}

// Import reads records in the context-aware format from data (file names
// them in errors) and stores their users: one user per tid, records that
// share a tid adding their task to the same user (their profiles must
// agree), an existing user with that id replaced. Records are read by
// [privacy.DecodeContext], the decoder every other path uses, so a user
// holds the same private facts as the guard of a generate run on the same
// record. Nothing is stored when any record is bad, unless o.SkipBad is
// set; the error names every bad record and field ([*privacy.BadRecordsError],
// [*privacy.LoadError] or [*FieldError]).
func (s *Store) Import(ctx context.Context, file string, data []byte, o ImportOptions) (ImportResult, error) {
	cf, err := privacy.DecodeContext(file, data, privacy.LoadOptions{SkipBad: o.SkipBad})
	if err != nil {
		return ImportResult{}, err
	}
	if o.User != "" {
		if err := ValidID(o.User); err != nil {
			return ImportResult{}, err
		}
	}
	recs, fields := cf.Records, cf.Fields()
	res := ImportResult{Skipped: cf.SkippedRecords()}
	if o.Index >= 0 {
		if o.Index >= cf.Total {
			return ImportResult{}, fmt.Errorf("import %s: index %d: the file has %d records", file, o.Index, cf.Total)
		}
		j := slices.IndexFunc(recs, func(r privacy.Record) bool { return r.Index == o.Index })
		if j < 0 {
			return ImportResult{}, &privacy.LoadError{File: file, Record: o.Index, Reason: "a bad record, skipped"}
		}
		recs, fields, res.Skipped = recs[j:j+1], fields[j:j+1], nil
	}
	for _, w := range cf.Warnings {
		if o.Index < 0 || w.Record == o.Index {
			res.Warnings = append(res.Warnings, w.String())
		}
	}
	var users []*User
	byID := map[string]int{} // user id → index in users
	from := map[string]int{} // user id → first record
	for k, rec := range recs {
		i := rec.Index
		u := userFromRecord(rec, fields[k])
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
	res.Records, res.Users = len(recs), len(users)
	now := s.now()
	err = s.tx(ctx, func(tx *sql.Tx) error {
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

// userFromRecord builds the user of one good dataset record: the private
// fields from its vault, the rest (history item ids, other tasks, the
// verbatim profile block) from its fields as written.
func userFromRecord(rec privacy.Record, f privacy.RecordFields) *User {
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
		ID: privacy.UserID(f.TID), Name: v.Name.UnsafeText(), Age: v.Age.UnsafeText(),
		Occupation: v.Occupation.UnsafeText(), Location: v.Location.UnsafeText(),
		Emails: texts(v.Emails), Phones: texts(v.Phones), Identifiers: texts(v.Identifiers),
		PersonalTraits: texts(v.PersonalTraits), WritingStyle: texts(v.WritingStyle),
		PrivateFacts: texts(v.PrivateFacts), ActivityLog: texts(v.ActivityLog), AIUsage: texts(v.AIUsage),
		Tasks:      []Task{{Task: f.Conversations[0].Value, Reference: f.Conversations[1].Value}},
		ExtraTasks: f.AdditionalTasks,
	}
	for j, h := range f.Profile {
		ref := h.ID
		if ref == strconv.Itoa(j) {
			ref = "" // the default, written back on export
		}
		u.History = append(u.History, History{Ref: ref, Title: h.Title, Text: h.Text})
	}
	if u.datasetProfile() != f.AdditionalProfile {
		// Keep what the fields cannot say (other keys, other spacing).
		u.ProfileBlock = f.AdditionalProfile
	}
	return u
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
