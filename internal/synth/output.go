package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cogenesis/cogenesis/internal/atomicfile"
	"github.com/cogenesis/cogenesis/internal/dataset"
)

// Record is one record of the paper's context-aware format
// (context_dev.json), the one internal/dataset reads and validates.
type Record = dataset.Record

// assemble builds the records from the store: for user u of portrait p,
// record k ("p_u_k") is task History+k with its text; the texts of the
// first History tasks are the profile. An expected record that cannot be
// built is a Failure naming the job that failed.
func assemble(ctx context.Context, st *Store, cfg Config) (*Report, error) {
	jobs, err := st.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]Job, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	rep := &Report{}
	for _, j := range jobs {
		rep.TotalPromptTokens += j.PromptTokens
		rep.TotalCompletionTokens += j.CompletionTokens
	}
	// done decodes job k's result into v, or says why it has none.
	done := func(k Key, v any) (reason string, err error) {
		j, ok := byID[k.ID()]
		switch {
		case !ok:
			return "not planned", nil
		case j.Status == StatusFailed:
			return j.Error, nil
		case j.Status != StatusDone:
			return "not run", nil
		}
		if err := json.Unmarshal(j.Result, v); err != nil {
			return "", fmt.Errorf("job %s: stored result: %w", k.ID(), err)
		}
		return "", nil
	}
	for p := range cfg.Portraits {
		for u := range cfg.UsersPerPortrait {
			fail := func(k Key, reason string) {
				for t := range cfg.TasksPerUser {
					rep.Failures = append(rep.Failures, Failure{TID: tid(p, u, t), Job: k.ID(), Reason: reason})
				}
			}
			var user User
			var tl TaskList
			var reason string
			var failed Key
			for _, d := range []struct {
				k Key
				v any
			}{
				{Key{Step: StepPortrait, Portrait: p}, &Portrait{}},
				{Key{Step: StepUser, Portrait: p, User: u}, &user},
				{Key{Step: StepTasks, Portrait: p, User: u}, &tl},
			} {
				r, err := done(d.k, d.v)
				if err != nil {
					return nil, err
				}
				if r != "" {
					reason, failed = r, d.k
					break
				}
			}
			if reason != "" {
				fail(failed, reason)
				continue
			}
			var history []dataset.ProfileItem
			for i := range cfg.History {
				k := Key{Step: StepText, Portrait: p, User: u, Task: i}
				var t Text
				r, err := done(k, &t)
				if err != nil {
					return nil, err
				}
				if r == "" {
					history = append(history, dataset.ProfileItem{Title: tl.Tasks[i].String(), Text: t.Text, ID: strconv.Itoa(i)})
				}
			}
			if len(history) == 0 {
				fail(Key{Step: StepText, Portrait: p, User: u, Task: 0}, "no writing history: every history text failed")
				continue
			}
			profile := user.profileBlock()
			for t := range cfg.TasksPerUser {
				i := cfg.History + t
				k := Key{Step: StepText, Portrait: p, User: u, Task: i}
				var text Text
				r, err := done(k, &text)
				if err != nil {
					return nil, err
				}
				if r != "" {
					rep.Failures = append(rep.Failures, Failure{TID: tid(p, u, t), Job: k.ID(), Reason: r})
					continue
				}
				others := []string{}
				for o := cfg.History; o < cfg.History+cfg.TasksPerUser; o++ {
					if o != i {
						others = append(others, tl.Tasks[o].String())
					}
				}
				rep.Records = append(rep.Records, Record{
					TID: tid(p, u, t),
					Conversations: []dataset.Turn{
						{From: "user", Value: tl.Tasks[i].String()},
						{From: "assistant", Value: text.Text},
					},
					Profile:           history,
					AdditionalProfile: profile,
					AdditionalTasks:   others,
				})
			}
		}
	}
	return rep, nil
}

func tid(p, u, t int) string { return fmt.Sprintf("%d_%d_%d", p, u, t) }

// WriteFile writes the records as a JSON array to path atomically: to a
// temporary file in the same directory, synced, then renamed over path.
func WriteFile(path string, recs []Record) error {
	if recs == nil {
		recs = []Record{}
	}
	return atomicfile.WriteJSON(path, recs, 0o644)
}
