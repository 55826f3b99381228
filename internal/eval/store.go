package eval

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cogenesis/cogenesis/internal/sqlitedb"
)

// store is the evaluation's cache and job store: one SQLite file in the
// output directory. Every finished job is one committed row, keyed by the
// content hash of everything that determines its result, so a rerun or a
// run resumed after a kill repeats no finished job. Rows hold generated
// text and judge answers (private context): the file stays on the device.
// It is safe for concurrent use.
type store struct {
	db   *sql.DB
	path string
}

const storeSchema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gen (
	key     TEXT PRIMARY KEY,
	result  TEXT NOT NULL,
	created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS judged (
	key     TEXT PRIMARY KEY,
	result  TEXT NOT NULL,
	created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
	seq   INTEGER PRIMARY KEY AUTOINCREMENT,
	phase TEXT NOT NULL,
	key   TEXT NOT NULL,
	time  TEXT NOT NULL
);`

func openStore(ctx context.Context, path string) (*store, error) {
	db, err := sqlitedb.Open(ctx, path, storeSchema)
	if err != nil {
		return nil, fmt.Errorf("open eval store %s: %w", path, err)
	}
	return &store{db: db, path: path}, nil
}

func (s *store) Close() error { return s.db.Close() }

// get decodes the row of key in table into v; ok is false when there is
// none.
func (s *store) get(ctx context.Context, table, key string, v any) (bool, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT result FROM `+table+` WHERE key = ?`, key).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("eval store %s: read %s %s: %w", s.path, table, key, err)
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return false, fmt.Errorf("eval store %s: decode %s %s: %w", s.path, table, key, err)
	}
	return true, nil
}

// put commits the result of a finished job. A cancelled run still commits
// the job it finished.
func (s *store) put(ctx context.Context, table, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("eval store: encode %s %s: %w", table, key, err)
	}
	_, err = s.db.ExecContext(context.WithoutCancel(ctx), `INSERT OR REPLACE INTO `+table+` (key, result, created) VALUES (?, ?, ?)`,
		key, string(raw), time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("eval store %s: write %s %s: %w", s.path, table, key, err)
	}
	return nil
}

// started records in the journal that a job started: the record of which
// jobs ran, in order, across runs (tests check that resumed runs repeat no
// finished job).
func (s *store) started(ctx context.Context, phase, key string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO journal (phase, key, time) VALUES (?, ?, ?)`,
		phase, key, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("eval store %s: journal: %w", s.path, err)
	}
	return nil
}

// meta returns the value of a meta key, or "".
func (s *store) meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("eval store %s: read meta: %w", s.path, err)
	}
	return v, nil
}

func (s *store) setMeta(ctx context.Context, key, value string) error {
	if _, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, key, value); err != nil {
		return fmt.Errorf("eval store %s: write meta: %w", s.path, err)
	}
	return nil
}

// JournalEntry is one started job of the journal.
type JournalEntry struct {
	Phase, Key string
}

// ReadJournal returns the journal of the store at path: every job started,
// in order, across runs.
func ReadJournal(ctx context.Context, path string) ([]JournalEntry, error) {
	s, err := openStore(ctx, path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows, err := s.db.QueryContext(ctx, `SELECT phase, key FROM journal ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("eval store %s: journal: %w", path, err)
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		var e JournalEntry
		if err := rows.Scan(&e.Phase, &e.Key); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DoneKeys returns the keys of the finished jobs of a phase ("gen" or
// "judged") in the store at path.
func DoneKeys(ctx context.Context, path, table string) ([]string, error) {
	if table != "gen" && table != "judged" {
		return nil, fmt.Errorf("eval store: no table %q", table)
	}
	s, err := openStore(ctx, path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM `+table+` ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("eval store %s: list %s: %w", path, table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
