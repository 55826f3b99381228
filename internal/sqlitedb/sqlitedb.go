// Package sqlitedb opens the project's SQLite files (the vault, the
// synthesis and evaluation job stores) one way: owner-only, durable, and
// with one writer.
package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Open opens or creates the SQLite file at path and executes schema (when
// not empty). The file gets mode 0600, and an existing file readable by
// others is narrowed to it: these files hold private context or text
// written from it (SQLite gives its -wal and -shm files the same mode).
// The journal is WAL with synchronous FULL, so a committed transaction
// survives a crash; foreign keys are enforced; the pool has one
// connection, so writes are serialized without lock contention.
func Open(ctx context.Context, path, schema string) (*sql.DB, error) {
	if err := restrict(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if schema != "" {
		if _, err := db.ExecContext(ctx, schema); err != nil {
			_ = db.Close() // the schema error is the one to report
			return nil, err
		}
	}
	return db, nil
}

// restrict creates path with mode 0600, or narrows an existing file to it.
func restrict(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("restrict to mode 0600: %w", err)
		}
	}
	return nil
}

// Tx runs f in a transaction, committed when f returns nil and rolled
// back otherwise.
func Tx(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback() // f's error is the one to report
		return err
	}
	return tx.Commit()
}
