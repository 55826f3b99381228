// Package audit is the egress audit log: an append-only JSON Lines file
// with one record per request that leaves the device, hash-chained so that
// an edited, removed, inserted or reordered record is detected
// ([Verify]), and the egress choke point ([Transport]) that checks and
// records every request before it is sent.
//
// Records hold the request body: it is public by construction (only
// guard-checked values reach the cloud client), and keeping it lets the
// person read exactly what left the device.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Verdicts of the guard, as recorded.
const (
	VerdictNone   = ""       // no guard configured
	VerdictAllow  = "allow"  // checked, nothing found
	VerdictRedact = "redact" // checked, the body was redacted before sending
	VerdictBlock  = "block"  // checked, not sent
)

// Record is one egress event.
type Record struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Strategy string    `json:"strategy,omitempty"`
	Host     string    `json:"host"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	SHA256   string    `json:"sha256"`
	Bytes    int       `json:"bytes"`
	Verdict  string    `json:"verdict"`
	Rules    []string  `json:"rules,omitempty"`
	// Body is what was sent; empty for a blocked request, whose body never
	// left and is not kept.
	Body string `json:"body,omitempty"`
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// zeroHash is the prev of the first record.
var zeroHash = strings.Repeat("0", 64)

// hash is the sha256 of the record's canonical JSON without its hash.
func (r Record) hash() string {
	r.Hash = ""
	b, _ := json.Marshal(r) // a Record always marshals
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Log appends records to an audit file. It is safe for concurrent use.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	path string
	seq  int
	last string
}

// Open opens the log at path for appending, creating it with mode 0600.
// An existing log is verified first and continued; a broken chain is an
// error (the file is left as it is for inspection).
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l := &Log{f: f, path: path, last: zeroHash}
	last, n, err := verify(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	if n > 0 {
		l.seq, l.last = last.Seq, last.Hash
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	return l, nil
}

// Path returns the log's file.
func (l *Log) Path() string { return l.path }

// Append fills in the record's sequence number, time (if zero), chain and
// hash, writes it as one line and syncs the file. It returns the record as
// written.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return r, errors.New("audit log closed")
	}
	if r.Strategy == "" {
		r.Strategy = StrategyFrom(ctx)
	}
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	r.Seq = l.seq + 1
	r.Prev = l.last
	r.Hash = r.hash()
	b, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("append audit record: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return r, fmt.Errorf("append audit record: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return r, fmt.Errorf("append audit record: %w", err)
	}
	l.seq, l.last = r.Seq, r.Hash
	return r, nil
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ChainError locates a broken record: its line (1-based) and the sequence
// number it claims (0 when unreadable).
type ChainError struct {
	Line   int
	Seq    int
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at line %d (seq %d): %s", e.Line, e.Seq, e.Reason)
}

// Verify reads a log and checks every record: it parses, its hash matches
// its content, its prev is the previous record's hash, and sequence numbers
// run 1, 2, 3, ... It returns the number of records, or a *ChainError for
// the first broken one. An edited, removed, inserted, reordered or
// truncated record is detected; removing records at the end is detected
// only against a known count or last hash (see [Summary]).
func Verify(r io.Reader) (int, error) {
	_, n, err := verify(r)
	return n, err
}

func verify(r io.Reader) (last Record, n int, err error) {
	br := bufio.NewReader(r)
	prev := zeroHash
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			return last, n, nil
		}
		if err != nil && err != io.EOF {
			return last, n, err
		}
		if !bytes.HasSuffix(b, []byte("\n")) {
			return last, n, &ChainError{Line: line, Reason: "last line is incomplete (truncated write)"}
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return last, n, &ChainError{Line: line, Reason: "not a valid record"}
		}
		switch {
		case rec.Seq != n+1:
			return last, n, &ChainError{Line: line, Seq: rec.Seq, Reason: fmt.Sprintf("sequence %d where %d was expected (a record removed, inserted or moved)", rec.Seq, n+1)}
		case rec.Prev != prev:
			return last, n, &ChainError{Line: line, Seq: rec.Seq, Reason: "prev does not match the previous record's hash"}
		case rec.Hash != rec.hash():
			return last, n, &ChainError{Line: line, Seq: rec.Seq, Reason: "hash does not match the record's content (edited)"}
		}
		canon, _ := json.Marshal(rec)
		if !bytes.Equal(bytes.TrimRight(b, "\n"), canon) {
			return last, n, &ChainError{Line: line, Seq: rec.Seq, Reason: "line is not in canonical form (edited)"}
		}
		prev, last, n = rec.Hash, rec, n+1
		if err == io.EOF {
			return last, n, nil
		}
	}
}

// Read returns every record of the log at path, verifying the chain.
func Read(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := Verify(bytes.NewReader(b)); err != nil {
		return nil, err
	}
	var out []Record
	for _, line := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Summary counts a log's records.
type Summary struct {
	Records    int
	Bytes      int
	ByHost     map[string]int
	ByStrategy map[string]int
	ByVerdict  map[string]int
	ByRule     map[string]int
	LastHash   string
}

// Summarize counts records by host, strategy, verdict and rule.
func Summarize(recs []Record) Summary {
	s := Summary{ByHost: map[string]int{}, ByStrategy: map[string]int{}, ByVerdict: map[string]int{}, ByRule: map[string]int{}, LastHash: zeroHash}
	for _, r := range recs {
		s.Records++
		s.Bytes += r.Bytes
		s.ByHost[r.Host]++
		s.ByStrategy[r.Strategy]++
		v := r.Verdict
		if v == "" {
			v = "unchecked"
		}
		s.ByVerdict[v]++
		for _, rule := range r.Rules {
			s.ByRule[rule]++
		}
		s.LastHash = r.Hash
	}
	return s
}

type strategyKey struct{}

// WithStrategy labels the requests made under ctx with a strategy name.
func WithStrategy(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, strategyKey{}, name)
}

// StrategyFrom returns the strategy label of ctx, or "".
func StrategyFrom(ctx context.Context) string {
	s, _ := ctx.Value(strategyKey{}).(string)
	return s
}
