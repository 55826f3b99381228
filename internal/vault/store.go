// Package vault is the on-device store of users' private context: a SQLite
// file (mode 0600) holding users, their profile fields, writing history,
// private facts, activity logs and writing tasks. It imports the paper's
// context-aware dataset format and exports it again (or the user-file
// format of [privacy.LoadVault]).
//
// # What never leaves the device
//
// Everything in the store is private. The store hands it out as a [User]
// (plain strings, for the user's own files and screen) or as a
// [privacy.Vault] (for the strategies and the guard). Errors name users,
// records and fields, never text.
package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/internal/sqlitedb"
)

// Errors callers branch on.
var (
	// ErrNotFound is returned for a user id the store does not hold.
	ErrNotFound = errors.New("no such user")
	// ErrExists is returned by Create for a user id already in use.
	ErrExists = errors.New("user already exists")
)

// Store is an open vault file. It is safe for concurrent use; the caller
// closes it.
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time
}

// migrations are the schema versions; PRAGMA user_version counts the ones
// applied.
var migrations = []string{
	`CREATE TABLE users (
		id            TEXT PRIMARY KEY,
		name          TEXT NOT NULL,
		age           TEXT NOT NULL DEFAULT '',
		occupation    TEXT NOT NULL DEFAULT '',
		location      TEXT NOT NULL DEFAULT '',
		profile_block TEXT NOT NULL DEFAULT '',
		created       TEXT NOT NULL,
		updated       TEXT NOT NULL
	);
	-- List-valued profile fields, private facts and activity log among
	-- them (kind: the User JSON name).
	CREATE TABLE items (
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		kind    TEXT NOT NULL,
		pos     INTEGER NOT NULL,
		text    TEXT NOT NULL,
		PRIMARY KEY (user_id, kind, pos)
	);
	CREATE TABLE history (
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		pos     INTEGER NOT NULL,
		ref     TEXT NOT NULL DEFAULT '',
		title   TEXT NOT NULL,
		text    TEXT NOT NULL,
		PRIMARY KEY (user_id, pos)
	);
	-- Writing tasks: extra = 0 for a task with its reference answer,
	-- 1 for the dataset's additional_tasks.
	CREATE TABLE tasks (
		user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		extra     INTEGER NOT NULL,
		pos       INTEGER NOT NULL,
		task      TEXT NOT NULL,
		reference TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (user_id, extra, pos)
	);`,
	// Bearer tokens bound to one user (sha256 of the token).
	`CREATE TABLE tokens (
		hash    TEXT PRIMARY KEY,
		user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		created TEXT NOT NULL
	);`,
}

// Open opens the vault at path, creating it with mode 0600 when missing,
// and brings its schema up to date. An existing file readable by others
// is narrowed to 0600.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, "")
	if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close() // the migration error is the one to report
		return nil, fmt.Errorf("open vault %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this program's %d", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
		}
	}
	return nil
}

// Path returns the vault's file name.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	return sqlitedb.Tx(ctx, s.db, f)
}

// Summary describes one user without private text beyond the name.
type Summary struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Counts of the user's entries.
	Facts    int       `json:"private_facts"`
	Activity int       `json:"activity_log"`
	History  int       `json:"history"`
	Tasks    int       `json:"tasks"`
	Updated  time.Time `json:"updated"`
}

// List returns every user, in the order they were added.
func (s *Store) List(ctx context.Context) ([]Summary, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT u.id, u.name, u.updated,
			(SELECT count(*) FROM items i WHERE i.user_id = u.id AND i.kind = 'private_facts'),
			(SELECT count(*) FROM items i WHERE i.user_id = u.id AND i.kind = 'activity_log'),
			(SELECT count(*) FROM history h WHERE h.user_id = u.id),
			(SELECT count(*) FROM tasks t WHERE t.user_id = u.id)
		FROM users u ORDER BY u.rowid`)
	if err != nil {
		return nil, fmt.Errorf("list vault users: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var sm Summary
		var upd string
		if err := rows.Scan(&sm.ID, &sm.Name, &upd, &sm.Facts, &sm.Activity, &sm.History, &sm.Tasks); err != nil {
			return nil, fmt.Errorf("list vault users: %w", err)
		}
		sm.Updated = parseTime(upd)
		out = append(out, sm)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list vault users: %w", err)
	}
	return out, nil
}

// IDs returns every user id, in the order they were added.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM users ORDER BY rowid`)
	if err != nil {
		return nil, fmt.Errorf("list vault users: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list vault users: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

const timeFormat = time.RFC3339Nano

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s) // written by this package; a bad value reads as zero
	return t
}

// Get returns the user with the given id, or an error matching
// [ErrNotFound].
func (s *Store) Get(ctx context.Context, id string) (User, error) {
	var u User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = get(ctx, tx, id)
		return err
	})
	return u, err
}

func get(ctx context.Context, tx *sql.Tx, id string) (User, error) {
	u := User{ID: id}
	var created, updated string
	err := tx.QueryRowContext(ctx, `SELECT name, age, occupation, location, profile_block, created, updated FROM users WHERE id = ?`, id).
		Scan(&u.Name, &u.Age, &u.Occupation, &u.Location, &u.ProfileBlock, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %q: %w", id, err)
	}
	u.Created, u.Updated = parseTime(created), parseTime(updated)
	rows, err := tx.QueryContext(ctx, `SELECT kind, text FROM items WHERE user_id = ? ORDER BY kind, pos`, id)
	if err != nil {
		return User{}, fmt.Errorf("read user %q: %w", id, err)
	}
	lists := map[string]*[]string{}
	for _, l := range u.lists() {
		lists[l.kind] = l.items
	}
	for rows.Next() {
		var kind, text string
		if err := rows.Scan(&kind, &text); err != nil {
			rows.Close()
			return User{}, fmt.Errorf("read user %q: %w", id, err)
		}
		if l, ok := lists[kind]; ok {
			*l = append(*l, text)
		}
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT ref, title, text FROM history WHERE user_id = ? ORDER BY pos`, id)
	if err != nil {
		return User{}, fmt.Errorf("read user %q history: %w", id, err)
	}
	for rows.Next() {
		var h History
		if err := rows.Scan(&h.Ref, &h.Title, &h.Text); err != nil {
			rows.Close()
			return User{}, fmt.Errorf("read user %q history: %w", id, err)
		}
		u.History = append(u.History, h)
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT extra, task, reference FROM tasks WHERE user_id = ? ORDER BY extra, pos`, id)
	if err != nil {
		return User{}, fmt.Errorf("read user %q tasks: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var extra bool
		var t Task
		if err := rows.Scan(&extra, &t.Task, &t.Reference); err != nil {
			return User{}, fmt.Errorf("read user %q tasks: %w", id, err)
		}
		if extra {
			u.ExtraTasks = append(u.ExtraTasks, t.Task)
		} else {
			u.Tasks = append(u.Tasks, t)
		}
	}
	return u, rows.Err()
}

// Create adds a new user; an id in use is an error matching [ErrExists].
// It returns the user as stored.
func (s *Store) Create(ctx context.Context, u User) (User, error) {
	return s.write(ctx, u, modeCreate)
}

// Update replaces an existing user's fields; an unknown id is an error
// matching [ErrNotFound]. It clears an imported verbatim profile block.
func (s *Store) Update(ctx context.Context, u User) (User, error) {
	u.ProfileBlock = ""
	return s.write(ctx, u, modeUpdate)
}

// Put creates the user or replaces it.
func (s *Store) Put(ctx context.Context, u User) (User, error) {
	return s.write(ctx, u, modePut)
}

type writeMode int

const (
	modeCreate writeMode = iota
	modeUpdate
	modePut
)

func (s *Store) write(ctx context.Context, u User, mode writeMode) (User, error) {
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	var out User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := put(ctx, tx, u, mode, s.now()); err != nil {
			return err
		}
		var err error
		out, err = get(ctx, tx, u.ID)
		return err
	})
	return out, err
}

// put writes u inside tx. The user's row keeps its rowid (and so its place
// in List) when replaced.
func put(ctx context.Context, tx *sql.Tx, u User, mode writeMode, now time.Time) error {
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, u.ID).Scan(&exists); err != nil {
		return fmt.Errorf("write user %q: %w", u.ID, err)
	}
	switch {
	case exists && mode == modeCreate:
		return fmt.Errorf("user %q: %w", u.ID, ErrExists)
	case !exists && mode == modeUpdate:
		return fmt.Errorf("user %q: %w", u.ID, ErrNotFound)
	}
	ts := now.UTC().Format(timeFormat)
	if exists {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET name = ?, age = ?, occupation = ?, location = ?, profile_block = ?, updated = ? WHERE id = ?`,
			u.Name, u.Age, u.Occupation, u.Location, u.ProfileBlock, ts, u.ID); err != nil {
			return fmt.Errorf("write user %q: %w", u.ID, err)
		}
		for _, t := range []string{"items", "history", "tasks"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE user_id = ?`, u.ID); err != nil {
				return fmt.Errorf("write user %q: %w", u.ID, err)
			}
		}
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, age, occupation, location, profile_block, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.Age, u.Occupation, u.Location, u.ProfileBlock, ts, ts); err != nil {
		return fmt.Errorf("write user %q: %w", u.ID, err)
	}
	for _, l := range u.lists() {
		for i, text := range *l.items {
			if _, err := tx.ExecContext(ctx, `INSERT INTO items (user_id, kind, pos, text) VALUES (?, ?, ?, ?)`, u.ID, l.kind, i, strings.TrimSpace(text)); err != nil {
				return fmt.Errorf("write user %q %s: %w", u.ID, l.kind, err)
			}
		}
	}
	for i, h := range u.History {
		if _, err := tx.ExecContext(ctx, `INSERT INTO history (user_id, pos, ref, title, text) VALUES (?, ?, ?, ?, ?)`, u.ID, i, h.Ref, h.Title, h.Text); err != nil {
			return fmt.Errorf("write user %q history: %w", u.ID, err)
		}
	}
	for i, t := range u.Tasks {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tasks (user_id, extra, pos, task, reference) VALUES (?, 0, ?, ?, ?)`, u.ID, i, t.Task, t.Reference); err != nil {
			return fmt.Errorf("write user %q tasks: %w", u.ID, err)
		}
	}
	for i, t := range u.ExtraTasks {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tasks (user_id, extra, pos, task) VALUES (?, 1, ?, ?)`, u.ID, i, t); err != nil {
			return fmt.Errorf("write user %q tasks: %w", u.ID, err)
		}
	}
	return nil
}

// Delete removes a user and everything stored for them; an unknown id is
// an error matching [ErrNotFound].
func (s *Store) Delete(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	return nil
}
