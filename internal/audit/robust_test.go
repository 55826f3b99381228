package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// appendTorn appends b to the log at path, as a crash mid-write leaves it.
func appendTorn(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTwoWritersFinding4: a second writer fails at once, naming the pid
// that holds the log, until the first closes it.
func TestTwoWritersFinding4(t *testing.T) {
	path, _ := writeLog(t, 2)
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, err = Open(path)
	want := &InUseError{Path: path, PID: os.Getpid()}
	if diff := cmp.Diff(want, err); diff != "" || !errors.Is(err, ErrInUse) {
		t.Errorf("second Open error (-want +got):\n%s", diff)
	}
	if _, err := Repair(t.Context(), path); !errors.Is(err, ErrInUse) {
		t.Errorf("Repair of a log in use = %v, want ErrInUse", err)
	}
	if _, err := l.Append(t.Context(), testRecord(0)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l, err = Open(path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer l.Close()
	if l.seq != 3 {
		t.Errorf("reopened at seq %d, want 3", l.seq)
	}
}

// TestTornLastLineFinding4: Open refuses a torn last line, naming the file,
// the line and the repair command; Repair cuts it, records only its length
// and sha256, and the log opens and verifies again.
func TestTornLastLineFinding4(t *testing.T) {
	tests := []struct {
		name string
		torn func(last []byte) []byte
	}{
		{"half a record", func(last []byte) []byte { return last[:len(last)/2] }},
		{"no newline", func(last []byte) []byte { return bytes.TrimSuffix(last, []byte("\n")) }},
		{"zeros", func([]byte) []byte { return make([]byte, 4096) }},
		{"garbage line", func([]byte) []byte { return []byte("{\"seq\":4,\"ti\n") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, lines := writeLog(t, 4)
			// A log of 3 records whose 4th write was torn.
			if err := os.WriteFile(path, bytes.Join(lines[:3], nil), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".head", formatHead(Head{Seq: 3, Hash: hexHash(t, lines[2])}), 0o600); err != nil {
				t.Fatal(err)
			}
			torn := tt.torn(lines[3])
			appendTorn(t, path, torn)

			_, err := Open(path)
			if _, ok := errors.AsType[*ChainError](err); !ok {
				t.Fatalf("Open = %v, want a chain error", err)
			}
			for _, want := range []string{path, "line 4", `run "cogen audit repair ` + path + `"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open error %q does not mention %q", err, want)
				}
			}

			r, err := Repair(t.Context(), path)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if r.Line != 4 || r.Cut != len(torn) || r.CutSHA256 != hexSum(torn) || r.Record == nil {
				t.Fatalf("Repair = %+v, want line 4 cut, %d bytes", r, len(torn))
			}
			l, err := Open(path)
			if err != nil {
				t.Fatalf("Open after Repair: %v", err)
			}
			l.Close()
			st, err := VerifyFile(path)
			if err != nil || st.Records != 4 || st.Head == nil || st.Head.Seq != 4 {
				t.Fatalf("VerifyFile after Repair = %+v, %v; want 4 records and head 4", st, err)
			}
			recs, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			got := recs[3]
			want := Record{Seq: 4, Time: got.Time, Strategy: RepairStrategy, Rules: []string{RuleTornLine},
				SHA256: hexSum(torn), Bytes: len(torn), Prev: hexSum(bytes.TrimSuffix(lines[2], []byte("\n"))), Hash: got.Hash}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("repair record (-want +got):\n%s", diff)
			}
			if b, _ := os.ReadFile(path); len(torn) > 8 && bytes.Contains(b, torn) {
				t.Errorf("the cut bytes are still in the log")
			}
		})
	}
}

// hexHash returns the Hash of the record on line.
func hexHash(t *testing.T, line []byte) string {
	t.Helper()
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatal(err)
	}
	return r.Hash
}

// TestRepairRefusesFinding4: Repair cuts only a torn last line; a broken
// chain before it, a last line that is a well-formed but wrong record, a
// log shorter than its head, are left untouched for a person.
func TestRepairRefusesFinding4(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(lines [][]byte) []byte
		want   error
	}{
		{"middle record edited", func(l [][]byte) []byte { return tamper(l, editField(1, func(r *Record) { r.Host = "x" })) }, ErrChainBroken},
		{"last record edited", func(l [][]byte) []byte { return tamper(l, editField(3, func(r *Record) { r.Host = "x" })) }, ErrChainBroken},
		{"middle line torn", func(l [][]byte) []byte {
			return tamper(l, func(l [][]byte) [][]byte { l[1] = append(l[1][:20], '\n'); return l })
		}, ErrChainBroken},
		{"tail deleted", func(l [][]byte) []byte { return bytes.Join(l[:2], nil) }, ErrHeadMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, lines := writeLog(t, 4)
			b := tt.mutate(lines)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Repair(t.Context(), path); !errors.Is(err, tt.want) {
				t.Errorf("Repair = %v, want %v", err, tt.want)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
				t.Errorf("Repair changed a log it refused")
			}
		})
	}
}

// TestTailDeletionFinding5: VerifyFile and Open compare the log with its
// head file.
func TestTailDeletionFinding5(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(t *testing.T, path string, lines [][]byte)
		records  int
		verify   error // nil, or what VerifyFile's error matches
		openErr  error // nil, or what Open's error matches
		headSeq  int   // -1 for no head
		inVerify string
	}{
		{"intact", func(*testing.T, string, [][]byte) {}, 4, nil, nil, 4, ""},
		{"last record deleted", func(t *testing.T, path string, l [][]byte) { write(t, path, bytes.Join(l[:3], nil)) }, 3, ErrHeadMismatch, ErrHeadMismatch, 4, "head file says 4 records ending in hash"},
		{"emptied", func(t *testing.T, path string, l [][]byte) { write(t, path, nil) }, 0, ErrHeadMismatch, ErrHeadMismatch, 4, "the log has 0"},
		{"replaced", func(t *testing.T, path string, l [][]byte) {
			other := filepath.Join(t.TempDir(), "other.jsonl")
			ol, err := Open(other)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if _, err := ol.Append(t.Context(), testRecord(i+1)); err != nil {
					t.Fatal(err)
				}
			}
			ol.Close()
			b, _ := os.ReadFile(other)
			write(t, path, b)
		}, 5, ErrHeadMismatch, ErrHeadMismatch, 4, "does not match its head"},
		{"no head file", func(t *testing.T, path string, l [][]byte) { remove(t, path+".head") }, 4, ErrNoHead, ErrNoHead, -1, "tail deletion cannot be detected"},
		{"no head file, empty log", func(t *testing.T, path string, l [][]byte) { remove(t, path+".head"); write(t, path, nil) }, 0, nil, nil, -1, ""},
		{"head unreadable", func(t *testing.T, path string, l [][]byte) {
			b, _ := os.ReadFile(path + ".head")
			b[30]++
			write(t, path+".head", b)
		}, 4, errAny, errAny, -1, "unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, lines := writeLog(t, 4)
			tt.prepare(t, path, lines)
			st, err := VerifyFile(path)
			if !matches(err, tt.verify) || !strings.Contains(errString(err), tt.inVerify) {
				t.Errorf("VerifyFile error %v, want %v mentioning %q", err, tt.verify, tt.inVerify)
			}
			if st.Records != tt.records || (st.Head == nil) != (tt.headSeq < 0) || (st.Head != nil && st.Head.Seq != tt.headSeq) {
				t.Errorf("VerifyFile = %+v, want %d records and head %d", st, tt.records, tt.headSeq)
			}
			l, err := Open(path)
			if !matches(err, tt.openErr) {
				t.Errorf("Open = %v, want %v", err, tt.openErr)
			}
			if err == nil {
				l.Close()
			}
		})
	}
}

// TestLogDeletedFinding5: a log deleted while its head remains is not
// recreated as a fresh, empty log.
func TestLogDeletedFinding5(t *testing.T) {
	path, _ := writeLog(t, 2)
	remove(t, path)
	if _, err := Open(path); !errors.Is(err, ErrHeadMismatch) {
		t.Errorf("Open of a deleted log = %v, want ErrHeadMismatch", err)
	}
}

// TestCrashBetweenRecordAndHeadFinding5: a head one record behind its log
// (a crash after the record's fsync, before the head's) is accepted, and
// Open brings it up to date.
func TestCrashBetweenRecordAndHeadFinding5(t *testing.T) {
	path, _ := writeLog(t, 2)
	before, err := os.ReadFile(path + ".head")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), testRecord(2)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	write(t, path+".head", before) // the head write never reached the disk

	st, err := VerifyFile(path)
	if err != nil || st.Records != 3 || st.Head.Seq != 2 {
		t.Fatalf("VerifyFile = %+v, %v; want 3 records, head 2", st, err)
	}
	l, err = Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	l.Close()
	if st, err := VerifyFile(path); err != nil || st.Head.Seq != 3 || st.Head.Hash != st.LastHash {
		t.Errorf("after Open: VerifyFile = %+v, %v; want the head at record 3", st, err)
	}
}

// TestHeadFile checks the head file's format: fixed size, mode 0600,
// written with each record, and a changed byte is caught.
func TestHeadFile(t *testing.T) {
	path, _ := writeLog(t, 3)
	b, err := os.ReadFile(path + ".head")
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := Read(path)
	if want := formatHead(Head{Seq: 3, Hash: recs[2].Hash}); !bytes.Equal(b, want) || len(b) != 136 {
		t.Errorf("head file %q, want %q (136 bytes)", b, want)
	}
	if !strings.HasPrefix(string(b), "cogen-audit-head v1 seq 00000000000000000003 hash "+recs[2].Hash+" sum ") {
		t.Errorf("head file %q", b)
	}
	for _, name := range []string{path + ".head", path + ".lock"} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode())
		}
	}
}

// errAny matches any non-nil error.
var errAny = errors.New("any error")

func matches(err, want error) bool {
	switch want {
	case nil:
		return err == nil
	case errAny:
		return err != nil
	}
	return errors.Is(err, want)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
