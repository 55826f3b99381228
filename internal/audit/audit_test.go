package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock returns a deterministic now for a Log: one second per record.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func testRecord(i int) Record {
	r := Record{
		Host: "cloud.example:8000", Method: "POST", Path: "/v1/completions",
		Verdict: VerdictAllow, Body: fmt.Sprintf(`{"model":"m","prompt":[1,2,%d],"note":"<&>"}`, i),
	}
	switch i % 4 {
	case 1:
		r.Verdict, r.Rules = VerdictRedact, []string{"entity:name"}
	case 2:
		r.Verdict, r.Rules, r.Body, r.SHA256, r.Bytes = VerdictBlock, []string{"fact:shingle", "pii:email"}, "", strings.Repeat("ab", 32), 99
	case 3:
		r.Verdict, r.Path = VerdictNone, "/v1/chat/completions"
	}
	return r
}

// writeLog appends n test records to a new log and returns its path and
// its lines (each with its newline).
func writeLog(t testing.TB, n int) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	l.now, l.NoSync = clock(), true
	ctx := WithStrategy(t.Context(), "sketch")
	for i := range n {
		if _, err := l.Append(ctx, testRecord(i)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return path, bytes.SplitAfter(b, []byte("\n"))[:n]
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestAppendAndRead(t *testing.T) {
	path, lines := writeLog(t, 5)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("log mode %v, want 0600", mode)
	}
	recs, err := Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(recs) != 5 {
		t.Fatalf("read %d records, want 5", len(recs))
	}
	for i, r := range recs {
		in := testRecord(i)
		if r.Seq != i+1 || r.Strategy != "sketch" || r.Host != in.Host || r.Verdict != in.Verdict || r.Body != in.Body {
			t.Errorf("record %d = %+v, want seq %d and the appended fields", i, r, i+1)
		}
		if r.Time.Location() != time.UTC {
			t.Errorf("record %d time %v is not UTC", i, r.Time)
		}
		wantPrev := ZeroHash
		if i > 0 {
			wantPrev = hexSum(bytes.TrimSuffix(lines[i-1], []byte("\n")))
		}
		if r.Prev != wantPrev {
			t.Errorf("record %d prev %s, want sha256 of the previous line %s", i, r.Prev, wantPrev)
		}
		if in.Body != "" && (r.SHA256 != hexSum([]byte(in.Body)) || r.Bytes != len(in.Body)) {
			t.Errorf("record %d sha256/bytes %s/%d do not describe its body", i, r.SHA256, r.Bytes)
		}
		if in.Verdict == VerdictBlock && (r.Body != "" || r.SHA256 != in.SHA256 || r.Bytes != in.Bytes) {
			t.Errorf("blocked record %d = %+v, want no body and the caller's sha256 and length", i, r)
		}
	}
	// The body is stored as readable text, not escaped for HTML.
	if !bytes.Contains(lines[0], []byte(`<&>`)) {
		t.Errorf("line %s escapes the body", lines[0])
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(lines[0], &fields); err != nil {
		t.Fatalf("line is not JSON: %v", err)
	}
	if _, ok := fields["hash"]; !ok {
		t.Errorf("line has no hash field: %s", lines[0])
	}
}

// tamper returns a copy of lines with f applied.
func tamper(lines [][]byte, f func([][]byte) [][]byte) []byte {
	cp := make([][]byte, len(lines))
	for i, l := range lines {
		cp[i] = bytes.Clone(l)
	}
	return bytes.Join(f(cp), nil)
}

// editField decodes line i, lets f change the record, and writes it back in
// canonical form (so only the hash and chain checks can catch it).
func editField(i int, f func(*Record)) func([][]byte) [][]byte {
	return func(lines [][]byte) [][]byte {
		var r Record
		if err := json.Unmarshal(lines[i], &r); err != nil {
			panic(err)
		}
		f(&r)
		b, err := encode(r)
		if err != nil {
			panic(err)
		}
		lines[i] = append(b, '\n')
		return lines
	}
}

// reseal recomputes line i's hash after an edit, as a forger would.
func reseal(i int, f func(*Record)) func([][]byte) [][]byte {
	return editField(i, func(r *Record) {
		f(r)
		h, err := hashOf(*r)
		if err != nil {
			panic(err)
		}
		r.Hash = h
	})
}

func TestVerifyDetectsTampering(t *testing.T) {
	_, lines := writeLog(t, 6)
	if n, err := Verify(bytes.NewReader(bytes.Join(lines, nil))); err != nil || n != 6 {
		t.Fatalf("intact log: Verify = %d, %v; want 6, nil", n, err)
	}
	forged := func(lines [][]byte) [][]byte {
		// A well-formed record 3 with the right seq, prev and hash,
		// inserted before the real record 3.
		r := Record{Seq: 3, Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Host: "evil.example", Method: "POST", Path: "/x", Rules: []string{},
			Verdict: VerdictAllow, Prev: hexSum(bytes.TrimSuffix(lines[1], []byte("\n")))}
		r.SetBody([]byte("{}"))
		r.Hash, _ = hashOf(r)
		b, _ := encode(r)
		return append(lines[:2], append([][]byte{append(b, '\n')}, lines[2:]...)...)
	}
	tests := []struct {
		name     string
		mutate   func([][]byte) [][]byte
		line     int
		wantN    int
		inReason string
	}{
		{"seq", editField(2, func(r *Record) { r.Seq = 9 }), 3, 2, "seq"},
		{"time", editField(2, func(r *Record) { r.Time = r.Time.Add(time.Nanosecond) }), 3, 2, "hash"},
		{"strategy", editField(2, func(r *Record) { r.Strategy = "llm" }), 3, 2, "hash"},
		{"host", editField(0, func(r *Record) { r.Host = "other.example" }), 1, 0, "hash"},
		{"method", editField(2, func(r *Record) { r.Method = "GET" }), 3, 2, "hash"},
		{"path", editField(2, func(r *Record) { r.Path = "/v1/models" }), 3, 2, "hash"},
		{"sha256", editField(2, func(r *Record) { r.SHA256 = strings.Repeat("0", 64) }), 3, 2, "hash"},
		{"bytes", editField(2, func(r *Record) { r.Bytes++ }), 3, 2, "hash"},
		{"verdict", editField(2, func(r *Record) { r.Verdict = VerdictAllow }), 3, 2, "hash"},
		{"rules", editField(2, func(r *Record) { r.Rules = r.Rules[:1] }), 3, 2, "hash"},
		{"rules emptied to null", editField(1, func(r *Record) { r.Rules = nil }), 2, 1, "hash"},
		{"body", editField(4, func(r *Record) { r.Body = strings.Replace(r.Body, "1,2", "1,3", 1) }), 5, 4, "hash"},
		{"body encoding", editField(4, func(r *Record) { r.BodyEncoding = BodyBase64 }), 5, 4, "hash"},
		{"prev", editField(3, func(r *Record) { r.Prev = ZeroHash }), 4, 3, "prev"},
		{"hash", editField(3, func(r *Record) { r.Hash = strings.Repeat("f", 64) }), 4, 3, "hash"},
		{"body resealed", reseal(4, func(r *Record) { r.Body = strings.Replace(r.Body, "1,2", "1,3", 1) }), 5, 4, "body"},
		{"body and sha resealed", reseal(4, func(r *Record) { r.SetBody([]byte(`{"other":1}`)) }), 6, 5, "prev"},
		{"whitespace", func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`,"host"`), []byte(`, "host"`), 1)
			return l
		}, 2, 1, "canonical"},
		{"unknown field", func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`{"seq"`), []byte(`{"x":1,"seq"`), 1)
			return l
		}, 2, 1, "unknown field"},
		{"key case", func(l [][]byte) [][]byte { l[1] = bytes.Replace(l[1], []byte(`"host"`), []byte(`"Host"`), 1); return l }, 2, 1, "canonical"},
		{"delete first", func(l [][]byte) [][]byte { return l[1:] }, 1, 0, "seq"},
		{"delete middle", func(l [][]byte) [][]byte { return append(l[:3], l[4:]...) }, 4, 3, "seq"},
		{"swap", func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, 2, 1, "seq"},
		{"duplicate", func(l [][]byte) [][]byte { return append(l[:3], append([][]byte{l[2]}, l[3:]...)...) }, 4, 3, "seq"},
		{"forged insert", forged, 4, 3, "seq"},
		{"truncated last line", func(l [][]byte) [][]byte { l[5] = l[5][:len(l[5])/2]; return l }, 6, 5, "truncated"},
		{"newline removed at end", func(l [][]byte) [][]byte { l[5] = bytes.TrimSuffix(l[5], []byte("\n")); return l }, 6, 5, "truncated"},
		{"blank line", func(l [][]byte) [][]byte { return append(l[:2], append([][]byte{[]byte("\n")}, l[2:]...)...) }, 3, 2, "not a record"},
		{"garbage", func(l [][]byte) [][]byte { l[0] = []byte("{not json}\n"); return l }, 1, 0, "not a record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Verify(bytes.NewReader(tamper(lines, tt.mutate)))
			ce, ok := errors.AsType[*ChainError](err)
			if !ok || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("Verify = %d, %v; want a *ChainError", n, err)
			}
			if ce.Line != tt.line || n != tt.wantN {
				t.Errorf("broken at line %d after %d good records (%v), want line %d after %d", ce.Line, n, err, tt.line, tt.wantN)
			}
			if !strings.Contains(ce.Reason, tt.inReason) {
				t.Errorf("reason %q, want it to mention %q", ce.Reason, tt.inReason)
			}
		})
	}
}

func TestChainErrorNamesSeq(t *testing.T) {
	_, lines := writeLog(t, 4)
	_, err := Verify(bytes.NewReader(tamper(lines, editField(2, func(r *Record) { r.Host = "x" }))))
	want := &ChainError{Line: 3, Seq: 3, Reason: "hash does not match the record"}
	if diff := cmp.Diff(want, err); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestTruncationAtLineBoundaryLeavesValidPrefix(t *testing.T) {
	// Documented limit: dropping whole records from the end is not
	// detectable from the file alone; its head file is (see
	// TestTailDeletionFinding5).
	_, lines := writeLog(t, 5)
	n, err := Verify(bytes.NewReader(bytes.Join(lines[:3], nil)))
	if err != nil || n != 3 {
		t.Errorf("Verify of a 3-record prefix = %d, %v; want 3, nil", n, err)
	}
}

func TestReopenContinuesChain(t *testing.T) {
	path, _ := writeLog(t, 3)
	l, err := Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	l.NoSync = true
	var got []int
	for i := range 2 {
		r, err := l.Append(t.Context(), testRecord(i))
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		got = append(got, r.Seq)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if diff := cmp.Diff([]int{4, 5}, got); diff != "" {
		t.Errorf("seqs after reopen (-want +got):\n%s", diff)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	if n, err := Verify(f); err != nil || n != 5 {
		t.Errorf("Verify = %d, %v; want 5, nil", n, err)
	}
}

func TestOpenRefusesBrokenChain(t *testing.T) {
	path, lines := writeLog(t, 3)
	if err := os.WriteFile(path, tamper(lines, func(l [][]byte) [][]byte { return append(l[:1], l[2:]...) }), 0o600); err != nil {
		t.Fatalf("write: %v", err)
	}
	_, err := Open(path)
	if ce, ok := errors.AsType[*ChainError](err); !ok || ce.Line != 2 {
		t.Errorf("Open = %v, want a chain error at line 2", err)
	}
	b, _ := os.ReadFile(path) // the file is left as it was for inspection
	if len(bytes.Split(bytes.TrimSpace(b), []byte("\n"))) != 2 {
		t.Errorf("Open modified a broken log")
	}
}

func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	l.NoSync = true
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if _, err := l.Append(t.Context(), testRecord(g*25+i)); err != nil {
					t.Errorf("Append: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	if n, err := Verify(f); err != nil || n != 200 {
		t.Errorf("Verify = %d, %v; want 200, nil", n, err)
	}
}

func TestAppendErrors(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := l.Append(t.Context(), Record{Verdict: "maybe"}); err == nil {
		t.Errorf("Append accepted an unknown verdict")
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := l.Append(t.Context(), testRecord(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

func TestBinaryBodyStoredAsBase64(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	body := []byte{0xff, 0xfe, 'a', 0x00}
	r := Record{Host: "h", Method: "POST", Path: "/"}
	r.SetBody(body)
	if _, err := l.Append(t.Context(), r); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	recs, err := Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	got, err := recs[0].BodyBytes()
	if err != nil || !bytes.Equal(got, body) || recs[0].BodyEncoding != BodyBase64 {
		t.Errorf("body %q (%s, %v), want %q in base64", got, recs[0].BodyEncoding, err, body)
	}
}

func TestSummarize(t *testing.T) {
	path, _ := writeLog(t, 6)
	recs, err := Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	s := Summarize(recs)
	bodyBytes := 0
	for _, r := range recs {
		bodyBytes += r.Bytes
	}
	want := Summary{
		Records:    6,
		Bytes:      bodyBytes,
		ByHost:     map[string]int{"cloud.example:8000": 6},
		ByStrategy: map[string]int{"sketch": 6},
		ByVerdict:  map[string]int{VerdictAllow: 2, VerdictRedact: 2, VerdictBlock: 1, "unchecked": 1},
		ByRule:     map[string]int{"entity:name": 2, "fact:shingle": 1, "pii:email": 1},
		First:      recs[0].Time,
		Last:       recs[5].Time,
		LastHash:   recs[5].Hash,
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Summary (-want +got):\n%s", diff)
	}
	// A repair record is the log's own, not a request.
	rep := Record{Seq: 7, Strategy: RepairStrategy, Bytes: 99, Hash: "h7"}
	if got := Summarize(append(recs, rep)); got.Records != 6 || got.Repairs != 1 || got.Bytes != bodyBytes || got.LastHash != "h7" {
		t.Errorf("with a repair record: %d records, %d repairs, %d bytes, last hash %q", got.Records, got.Repairs, got.Bytes, got.LastHash)
	}
	if empty := Summarize(nil); empty.Records != 0 || empty.LastHash != ZeroHash {
		t.Errorf("empty summary %+v", empty)
	}
}

func TestStrategyContext(t *testing.T) {
	if got := StrategyFrom(t.Context()); got != "" {
		t.Errorf("StrategyFrom(plain) = %q", got)
	}
	if got := StrategyFrom(WithStrategy(t.Context(), "logits")); got != "logits" {
		t.Errorf("StrategyFrom = %q, want logits", got)
	}
}

// FuzzVerifyTamper applies one fuzzer-chosen mutation to a valid log:
// Verify must fail, unless the mutation changed nothing or only dropped
// whole records from the end (which leaves a valid prefix, see
// TestTruncationAtLineBoundaryLeavesValidPrefix). Seeds are in
// testdata/fuzz/FuzzVerifyTamper.
func FuzzVerifyTamper(f *testing.F) {
	_, lines := writeLog(f, 5)
	orig := bytes.Join(lines, nil)
	f.Add(uint8(0), uint8(2), uint16(10), byte('x'))
	f.Fuzz(func(t *testing.T, op, rec uint8, pos uint16, val byte) {
		i := int(rec) % len(lines)
		ls := make([][]byte, len(lines))
		for j, l := range lines {
			ls[j] = bytes.Clone(l)
		}
		p := int(pos) % len(ls[i])
		switch op % 6 {
		case 0: // overwrite a byte
			ls[i][p] = val
		case 1: // insert a byte
			ls[i] = append(ls[i][:p], append([]byte{val}, ls[i][p:]...)...)
		case 2: // delete a byte
			ls[i] = append(ls[i][:p], ls[i][p+1:]...)
		case 3: // delete the record
			ls = append(ls[:i], ls[i+1:]...)
		case 4: // swap with the next record
			j := (i + 1) % len(ls)
			ls[i], ls[j] = ls[j], ls[i]
		case 5: // truncate the file inside record i
			ls = append(ls[:i], ls[i][:p])
		}
		mutated := bytes.Join(ls, nil)
		n, err := Verify(bytes.NewReader(mutated))
		switch {
		case bytes.Equal(mutated, orig):
			if err != nil || n != len(lines) {
				t.Fatalf("unchanged log: Verify = %d, %v", n, err)
			}
		case bytes.HasPrefix(orig, mutated) && (len(mutated) == 0 || mutated[len(mutated)-1] == '\n'):
			if want := bytes.Count(mutated, []byte("\n")); err != nil || n != want {
				t.Fatalf("whole-record prefix: Verify = %d, %v; want %d, nil", n, err, want)
			}
		default:
			if _, ok := errors.AsType[*ChainError](err); !ok {
				t.Fatalf("mutation op %d on record %d at %d (%q) not detected: Verify = %d, %v", op%6, i, p, val, n, err)
			}
		}
	})
}

// TestOriginRecordedAndChained checks that the user and request ids of
// the context are recorded, covered by the hash chain, and left out of
// records made without them (so older logs keep verifying).
func TestOriginRecordedAndChained(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithOrigin(WithStrategy(t.Context(), "sketch"), "3_7_4", "req-1")
	if _, err := l.Append(ctx, Record{Host: "h", Body: "{}", Verdict: VerdictAllow}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), Record{Host: "h", Body: "{}", Verdict: VerdictAllow}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	recs, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].User != "3_7_4" || recs[0].Request != "req-1" || recs[1].User != "" || recs[1].Request != "" {
		t.Errorf("origins %q/%q and %q/%q", recs[0].User, recs[0].Request, recs[1].User, recs[1].Request)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	if bytes.Contains(lines[1], []byte(`"user"`)) {
		t.Errorf("a record without origin encodes a user field: %s", lines[1])
	}
	edited := bytes.Replace(raw, []byte(`"user":"3_7_4"`), []byte(`"user":"3_7_5"`), 1)
	if _, err := Verify(bytes.NewReader(edited)); !errors.Is(err, ErrChainBroken) {
		t.Errorf("editing the user id: Verify = %v, want a broken chain", err)
	}
	if u, r := OriginFrom(t.Context()); u != "" || r != "" {
		t.Errorf("OriginFrom(plain) = %q, %q", u, r)
	}
}
