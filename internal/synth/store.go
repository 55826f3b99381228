package synth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cogenesis/cogenesis/internal/sqlitedb"
)

// Job statuses.
const (
	StatusPending = "pending"
	StatusDone    = "done"
	StatusFailed  = "failed"
)

// ErrConfigMismatch is returned when a store was made by a run with other
// parameters than the one that resumes it.
var ErrConfigMismatch = errors.New("job store holds a run with other parameters")

// Job is one row of the job store.
type Job struct {
	ID               string
	Step             string
	Portrait         int
	User             int
	Task             int
	Status           string
	Result           json.RawMessage
	Attempts         int
	Error            string
	PromptTokens     int64
	CompletionTokens int64
}

// Store is the SQLite job store. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

const storeSchema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
	id                TEXT PRIMARY KEY,
	step              TEXT NOT NULL,
	portrait_idx      INTEGER NOT NULL,
	user_idx          INTEGER NOT NULL,
	task_idx          INTEGER NOT NULL,
	status            TEXT NOT NULL DEFAULT 'pending',
	result            TEXT,
	attempts          INTEGER NOT NULL DEFAULT 0,
	error             TEXT NOT NULL DEFAULT '',
	prompt_tokens     INTEGER NOT NULL DEFAULT 0,
	completion_tokens INTEGER NOT NULL DEFAULT 0,
	updated           TEXT NOT NULL DEFAULT ''
);`

// OpenStore opens (or creates) the job store at path.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, storeSchema)
	if err != nil {
		return nil, fmt.Errorf("open job store %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// CheckConfig records the run's parameters in a new store, or checks them
// against those a previous run recorded.
func (s *Store) CheckConfig(ctx context.Context, params string) error {
	var old string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'params'`).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('params', ?)`, params)
		if err != nil {
			return fmt.Errorf("job store %s: record parameters: %w", s.path, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("job store %s: read parameters: %w", s.path, err)
	case old != params:
		return fmt.Errorf("job store %s: %w: stored %s, now %s", s.path, ErrConfigMismatch, old, params)
	}
	return nil
}

// Plan inserts the jobs that are not in the store yet, as pending.
func (s *Store) Plan(ctx context.Context, keys []Key) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO jobs (id, step, portrait_idx, user_idx, task_idx) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, k := range keys {
			if _, err := stmt.ExecContext(ctx, k.ID(), k.Step, k.Portrait, k.User, k.Task); err != nil {
				return err
			}
		}
		return nil
	})
}

// Get returns the job with id.
func (s *Store) Get(ctx context.Context, id string) (Job, error) {
	j := Job{ID: id}
	var result sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT step, portrait_idx, user_idx, task_idx, status, result, attempts, error, prompt_tokens, completion_tokens FROM jobs WHERE id = ?`, id).
		Scan(&j.Step, &j.Portrait, &j.User, &j.Task, &j.Status, &result, &j.Attempts, &j.Error, &j.PromptTokens, &j.CompletionTokens)
	if err != nil {
		return Job{}, fmt.Errorf("job store %s: get job %s: %w", s.path, id, err)
	}
	if result.Valid {
		j.Result = json.RawMessage(result.String)
	}
	return j, nil
}

// Jobs returns every job, ordered by id.
func (s *Store) Jobs(ctx context.Context) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, step, portrait_idx, user_idx, task_idx, status, result, attempts, error, prompt_tokens, completion_tokens FROM jobs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("job store %s: list jobs: %w", s.path, err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		var result sql.NullString
		if err := rows.Scan(&j.ID, &j.Step, &j.Portrait, &j.User, &j.Task, &j.Status, &result, &j.Attempts, &j.Error, &j.PromptTokens, &j.CompletionTokens); err != nil {
			return nil, fmt.Errorf("job store %s: list jobs: %w", s.path, err)
		}
		if result.Valid {
			j.Result = json.RawMessage(result.String)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("job store %s: list jobs: %w", s.path, err)
	}
	return out, nil
}

// attempt commits the end of one attempt of a job: its result when done,
// or its reason when the answer was rejected (status failed when it was
// the last attempt). It runs in one transaction.
func (s *Store) attempt(ctx context.Context, id string, n int, status string, result json.RawMessage, reason string, prompt, completion int64) error {
	// The commit must land even if the run is being cancelled: the call
	// it records was paid for.
	ctx = context.WithoutCancel(ctx)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var res any
		if result != nil {
			res = string(result)
		}
		r, err := tx.ExecContext(ctx, `UPDATE jobs SET status = ?, result = ?, attempts = ?, error = ?,
			prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, updated = ?
			WHERE id = ? AND status = 'pending'`,
			status, res, n, reason, prompt, completion, time.Now().UTC().Format(time.RFC3339Nano), id)
		if err != nil {
			return err
		}
		if k, err := r.RowsAffected(); err != nil || k != 1 {
			return fmt.Errorf("job %s is not pending (%d rows)", id, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("job store %s: commit job %s: %w", s.path, id, err)
	}
	return nil
}

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	return sqlitedb.Tx(ctx, s.db, f)
}

// Key identifies a job: its step and indices. Unused indices are 0.
type Key struct {
	Step     string
	Portrait int
	User     int
	Task     int
}

// Steps in pipeline order.
const (
	StepPortrait = "portrait"
	StepUser     = "user"
	StepTasks    = "tasks"
	StepText     = "text"
)

// ID is the job's deterministic id, e.g. "text/2/0/3".
func (k Key) ID() string {
	switch k.Step {
	case StepPortrait:
		return fmt.Sprintf("%s/%d", k.Step, k.Portrait)
	case StepUser, StepTasks:
		return fmt.Sprintf("%s/%d/%d", k.Step, k.Portrait, k.User)
	}
	return fmt.Sprintf("%s/%d/%d/%d", k.Step, k.Portrait, k.User, k.Task)
}
