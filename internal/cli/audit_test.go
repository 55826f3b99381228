//go:build unix

package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cli"
)

// auditCmd runs "cogen audit ARGS" in process, failing the test if it has
// not returned after 10 seconds (a FIFO must never block it).
func auditCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- cli.Run(ctx, append([]string{"audit"}, args...), &out, &errb) }()
	select {
	case err = <-done:
		return out.String(), errb.String(), err
	case <-ctx.Done():
		t.Fatalf("cogen audit %s did not return within 10s", strings.Join(args, " "))
		return "", "", nil
	}
}

// auditLog writes n records to a new log with the audit package and
// returns its path and its lines (each with its newline).
func auditLog(t *testing.T, n int) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := audit.WithStrategy(t.Context(), "sketch")
	for i := range n {
		if _, err := l.Append(ctx, audit.Record{Host: "cloud.example", Method: "POST", Path: "/v1/completions", Verdict: audit.VerdictAllow, Body: fmt.Sprintf(`{"prompt":"p%d"}`, i)}); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, bytes.SplitAfter(b, []byte("\n"))[:n]
}

// TestAuditVerifyFinding5 checks what "cogen audit verify" says, and its
// exit status (an error is a non-zero exit), for a complete log, a log
// whose last records were removed, a log without its head file and an
// empty log.
func TestAuditVerifyFinding5(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T) string
		wantErr bool
		want    string // in stdout, or in the error when wantErr
	}{
		{"intact", func(t *testing.T) string {
			path, _ := auditLog(t, 3)
			return path
		}, false, "3 records, chain intact, head matches"},
		{"tail deleted", func(t *testing.T) string {
			path, lines := auditLog(t, 3)
			if err := os.WriteFile(path, bytes.Join(lines[:2], nil), 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}, true, "head file says 3 records ending in hash"},
		{"all deleted", func(t *testing.T) string {
			path, _ := auditLog(t, 3)
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			return path
		}, true, "the log has 0"},
		{"no head file", func(t *testing.T) string {
			path, _ := auditLog(t, 3)
			if err := os.Remove(path + ".head"); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			return path
		}, true, "no head file: tail deletion cannot be detected"},
		{"empty file", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}, false, "empty log, nothing recorded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.prepare(t)
			out, _, err := auditCmd(t, "verify", path)
			switch {
			case tt.wantErr && err == nil:
				t.Errorf("verify succeeded (%q), want an error mentioning %q", out, tt.want)
			case tt.wantErr && !strings.Contains(err.Error(), tt.want):
				t.Errorf("verify error %q, want it to mention %q", err, tt.want)
			case !tt.wantErr && err != nil:
				t.Errorf("verify: %v", err)
			case !tt.wantErr && !strings.Contains(out, tt.want):
				t.Errorf("verify said %q, want %q", out, tt.want)
			}
			if strings.Contains(out, "chain intact") && tt.wantErr {
				t.Errorf("verify said %q for a log it cannot vouch for", out)
			}
		})
	}
}

// TestAuditRepairFinding4 cuts a torn last line (a crash mid-write): Open
// refuses the log naming the file, the line and the repair command;
// "cogen audit repair" cuts the line and records that it did; the log then
// opens and verifies.
func TestAuditRepairFinding4(t *testing.T) {
	path, lines := auditLog(t, 3)
	torn := lines[2][:len(lines[2])/2]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn); err != nil {
		t.Fatal(err)
	}
	f.Close()

	_, err = audit.Open(path)
	if err == nil {
		t.Fatalf("Open accepted a log with a torn last line")
	}
	for _, want := range []string{path, "line 4", "cogen audit repair " + path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not mention %q", err, want)
		}
	}

	out, _, err := auditCmd(t, "repair", path)
	if err != nil {
		t.Fatalf("repair: %v", err)
	}
	if want := fmt.Sprintf("cut a torn last line of %d bytes", len(torn)); !strings.Contains(out, want) {
		t.Errorf("repair said %q, want %q", out, want)
	}
	l, err := audit.Open(path)
	if err != nil {
		t.Fatalf("Open after repair: %v", err)
	}
	l.Close()
	out, _, err = auditCmd(t, "verify", path)
	if err != nil || !strings.Contains(out, "4 records, chain intact, head matches") {
		t.Errorf("verify after repair = %q, %v; want 4 records intact", out, err)
	}
	out, _, err = auditCmd(t, "show", path)
	if err != nil || !strings.Contains(out, "audit-repair") {
		t.Errorf("show after repair = %q, %v; want the repair record", out, err)
	}

	// Nothing left to repair: no record is added.
	if out, _, err := auditCmd(t, "repair", path); err != nil || !strings.Contains(out, "nothing to repair") {
		t.Errorf("second repair = %q, %v; want nothing to repair", out, err)
	}
}

// TestAuditSpecialFilesFinding7 refuses paths that are not regular files,
// and garbage without newlines, quickly and without reading it all.
func TestAuditSpecialFilesFinding7(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"verify", "show", "repair"} {
		for _, path := range []string{fifo, "/dev/zero"} {
			t.Run(sub+" "+path, func(t *testing.T) {
				_, _, err := auditCmd(t, sub, path)
				if err == nil || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("audit %s %s = %v, want a not-a-regular-file error", sub, path, err)
				}
			})
		}
	}
}

// TestAuditHelp prints the usage for -h instead of failing.
func TestAuditHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "help"} {
		out, errb, err := auditCmd(t, arg)
		if err != nil {
			t.Errorf("cogen audit %s: %v", arg, err)
		}
		if !strings.Contains(out+errb, "repair FILE") {
			t.Errorf("cogen audit %s printed %q, want the usage", arg, out+errb)
		}
	}
}
