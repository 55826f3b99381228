package sqlitedb

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenModeAndTx(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	// An existing file readable by others is narrowed.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	db, err := Open(ctx, path, `CREATE TABLE IF NOT EXISTS t (v INTEGER NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode %v, want 0600", perm)
	}
	errStop := errors.New("stop")
	err = Tx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (1)`); err != nil {
			return err
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Tx: %v, want f's error", err)
	}
	if err := Tx(ctx, db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (2)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var n, sum int
	if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(v), 0) FROM t`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 1 || sum != 2 {
		t.Errorf("rows %d sum %d: want only the committed row (2)", n, sum)
	}
	for _, name := range []string{path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(name); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

func TestOpenBadSchema(t *testing.T) {
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), `CREATE TABLE (`); err == nil {
		t.Fatal("a bad schema opened")
	}
}
