// Package audit keeps the egress audit log: one record for every request
// that leaves the device, in an append-only, hash-chained JSON Lines file
// (DESIGN §7).
//
// # Records
//
// A [Record] holds the time, the strategy that caused the request, the
// destination host, method and path (never the query, which may hold
// credentials), the sha256 and length of the body, the guard's verdict and
// rules, and the body itself, so that the person can read exactly what left
// the device. Request bodies are public by construction: only text the
// privacy boundary let through is ever sent. A blocked request is recorded
// without its body.
//
// # Chain
//
// Each line is the canonical JSON encoding of its record. A record's Hash is
// the sha256 of its canonical encoding without the hash field, and its Prev
// is the sha256 of the previous line (64 zeros for the first). [Verify]
// therefore detects an edited, removed, inserted or reordered record and
// names the first broken line in a [*ChainError]. Removing records from the
// end of the file leaves a valid, shorter chain; compare the count [Verify]
// returns with one kept elsewhere to detect that.
//
// # Choke point
//
// [Transport] is the [net/http.RoundTripper] every cloud request goes
// through: it runs the guard, records the request, and only then sends it.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Verdicts of the privacy guard, as recorded.
const (
	// VerdictNone means no guard ran.
	VerdictNone = ""
	// VerdictAllow means the guard checked the body and found nothing.
	VerdictAllow = "allow"
	// VerdictRedact means the guard replaced the body before it was sent.
	VerdictRedact = "redact"
	// VerdictBlock means the guard refused: nothing was sent.
	VerdictBlock = "block"
	// VerdictPrivate means the guard found private text and the caller
	// had opted in to send it anyway (the llm-context baseline).
	VerdictPrivate = "private"
)

// ZeroHash is the Prev of the first record.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// BodyBase64 is the [Record.BodyEncoding] of a body that is not valid
// UTF-8 and is therefore stored in base64.
const BodyBase64 = "base64"

// Errors callers branch on.
var (
	// ErrChainBroken is matched by every [*ChainError].
	ErrChainBroken = errors.New("audit chain broken")
	// ErrBlocked is matched by the error [Transport] returns for a request
	// the guard refused.
	ErrBlocked = errors.New("egress blocked")
	// ErrClosed is returned by [Log.Append] after [Log.Close] or after a
	// failed write left the file in an unknown state.
	ErrClosed = errors.New("audit log closed")
)

// Record is one request that left the device, or that the guard blocked.
type Record struct {
	// Seq numbers records from 1.
	Seq int `json:"seq"`
	// Time is when the record was appended, in UTC.
	Time     time.Time `json:"time"`
	Strategy string    `json:"strategy"`
	Host     string    `json:"host"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	// User and Request name the vault user and the gateway request
	// (cogen serve) that caused the request; empty elsewhere. Both are
	// ids, never text.
	User    string `json:"user,omitempty"`
	Request string `json:"request,omitempty"`
	// SHA256 is the hex sha256 of the request body, Bytes its length.
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
	// Verdict is one of the Verdict constants.
	Verdict string   `json:"verdict"`
	Rules   []string `json:"rules"`
	// Body is the body that was sent; empty for a blocked request.
	Body string `json:"body"`
	// BodyEncoding is BodyBase64 when Body holds base64, and empty when
	// Body is the body's text.
	BodyEncoding string `json:"body_encoding,omitempty"`
	// Prev is the sha256 of the previous record's line.
	Prev string `json:"prev"`
	// Hash is the sha256 of this record's canonical encoding without Hash.
	Hash string `json:"hash,omitempty"`
}

// SetBody stores body in r (as text, or base64 when it is not valid UTF-8)
// and sets SHA256 and Bytes from it.
func (r *Record) SetBody(body []byte) {
	r.SHA256, r.Bytes = sum(body), len(body)
	if utf8.Valid(body) {
		r.Body, r.BodyEncoding = string(body), ""
		return
	}
	r.Body, r.BodyEncoding = base64.StdEncoding.EncodeToString(body), BodyBase64
}

// BodyBytes returns the stored body, decoding base64 if needed.
func (r Record) BodyBytes() ([]byte, error) {
	switch r.BodyEncoding {
	case "":
		return []byte(r.Body), nil
	case BodyBase64:
		return base64.StdEncoding.DecodeString(r.Body)
	}
	return nil, fmt.Errorf("unknown body encoding %q", r.BodyEncoding)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// encode returns the canonical encoding of r: encoding/json with HTML
// escaping off, no trailing newline.
func encode(r Record) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// hashOf returns the hash r must carry.
func hashOf(r Record) (string, error) {
	r.Hash = ""
	b, err := encode(r)
	if err != nil {
		return "", err
	}
	return sum(b), nil
}

// ChainError reports the first line of a log that breaks the chain. Line
// counts from 1; Seq is the record's seq as written, or 0 when the line
// could not be parsed. It matches [ErrChainBroken].
type ChainError struct {
	Line   int
	Seq    int
	Reason string
}

// Error returns "audit chain broken at line <n> (seq <s>): <reason>".
func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at line %d (seq %d): %s", e.Line, e.Seq, e.Reason)
}

// Unwrap returns [ErrChainBroken].
func (e *ChainError) Unwrap() error { return ErrChainBroken }

// Records reads a log and yields its records in order, verifying the chain
// as it goes. On the first broken line it yields a [*ChainError] and stops;
// on a read error it yields that error and stops.
func Records(r io.Reader) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		br := bufio.NewReader(r)
		prev := ZeroHash
		for line := 1; ; line++ {
			raw, err := br.ReadBytes('\n')
			if errors.Is(err, io.EOF) {
				if len(raw) > 0 {
					yield(Record{}, &ChainError{Line: line, Reason: "last line is truncated (no newline)"})
				}
				return
			}
			if err != nil {
				yield(Record{}, fmt.Errorf("read audit log line %d: %w", line, err))
				return
			}
			raw = raw[:len(raw)-1]
			rec, cerr := check(raw, line, prev)
			if cerr != nil {
				cerr.Line = line
				yield(Record{}, cerr)
				return
			}
			prev = sum(raw)
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// check verifies one line against the expected seq and prev hash.
func check(raw []byte, seq int, prev string) (Record, *ChainError) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return Record{}, &ChainError{Reason: "not a record: " + err.Error()}
	}
	bad := func(reason string) (Record, *ChainError) {
		return Record{}, &ChainError{Seq: rec.Seq, Reason: reason}
	}
	canon, err := encode(rec)
	if err != nil || !bytes.Equal(canon, raw) {
		return bad("line is not the canonical encoding of its record")
	}
	if rec.Seq != seq {
		return bad(fmt.Sprintf("seq is %d, want %d", rec.Seq, seq))
	}
	if rec.Prev != prev {
		return bad("prev does not match the previous record")
	}
	h, err := hashOf(rec)
	if err != nil || rec.Hash != h {
		return bad("hash does not match the record")
	}
	if rec.Body != "" || rec.BodyEncoding != "" {
		body, err := rec.BodyBytes()
		if err != nil {
			return bad("body: " + err.Error())
		}
		if sum(body) != rec.SHA256 || len(body) != rec.Bytes {
			return bad("body does not match sha256 and bytes")
		}
	}
	return rec, nil
}

// Verify reads a whole log and checks its chain. It returns the number of
// valid records before the first broken one, and a [*ChainError] naming
// that line, or nil when the whole log is intact.
func Verify(r io.Reader) (n int, err error) {
	for _, err := range Records(r) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Read returns the records of the log file at path. When the chain is
// broken it returns the records before the break and the [*ChainError].
func Read(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer f.Close()
	var recs []Record
	for rec, err := range Records(f) {
		if err != nil {
			return recs, fmt.Errorf("read audit log %s: %w", path, err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// Log is an open audit log file. Append is safe for concurrent use; one
// process at a time may hold a log open. The caller closes it.
type Log struct {
	// NoSync skips the fsync after each Append, trading durability (a
	// crash may lose the last records) for speed. Set it before the first
	// Append.
	NoSync bool

	mu   sync.Mutex
	f    *os.File
	path string
	seq  int
	prev string
	now  func() time.Time
}

// Open opens the log at path for appending. A missing file is created with
// mode 0600; an existing one is verified first and its chain continued.
// Open fails with a [*ChainError] when the existing chain is broken.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l := &Log{f: f, path: path, prev: ZeroHash, now: time.Now}
	var last []byte
	for rec, err := range Records(f) {
		if err != nil {
			_ = f.Close() // the verification error is the one to report
			return nil, fmt.Errorf("open audit log %s: %w", path, err)
		}
		l.seq = rec.Seq
		if last, err = encode(rec); err != nil {
			_ = f.Close() // the encoding error is the one to report
			return nil, fmt.Errorf("open audit log %s: %w", path, err)
		}
	}
	if last != nil {
		l.prev = sum(last)
	}
	return l, nil
}

// Path returns the log's file name.
func (l *Log) Path() string { return l.path }

// Append completes rec and writes it as the next record: it sets Seq, Prev
// and Hash, Time (to now, when zero; always in UTC), Strategy (from ctx,
// when empty), User and Request (from ctx, when both are empty), and
// SHA256 and Bytes from Body unless Body is empty and SHA256 is set (a
// blocked request, recorded without its body). It returns the record as
// written. The write is a single call, so concurrent
// Appends never interleave.
func (l *Log) Append(ctx context.Context, rec Record) (Record, error) {
	switch rec.Verdict {
	case VerdictNone, VerdictAllow, VerdictRedact, VerdictBlock, VerdictPrivate:
	default:
		return Record{}, fmt.Errorf("append audit record: unknown verdict %q", rec.Verdict)
	}
	if rec.Strategy == "" {
		rec.Strategy = StrategyFrom(ctx)
	}
	if rec.User == "" && rec.Request == "" {
		rec.User, rec.Request = OriginFrom(ctx)
	}
	if rec.Rules == nil {
		rec.Rules = []string{}
	}
	if rec.Body != "" || rec.SHA256 == "" {
		// The stored body decides SHA256 and Bytes, so that they can never
		// disagree; a record without a body (a blocked request) keeps the
		// caller's.
		body, err := rec.BodyBytes()
		if err != nil {
			return Record{}, fmt.Errorf("append audit record: %w", err)
		}
		rec.SetBody(body)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return Record{}, fmt.Errorf("append audit record: %w", ErrClosed)
	}
	if rec.Time.IsZero() {
		rec.Time = l.now()
	}
	rec.Time = rec.Time.UTC().Round(0)
	rec.Seq, rec.Prev, rec.Hash = l.seq+1, l.prev, ""
	h, err := hashOf(rec)
	if err != nil {
		return Record{}, fmt.Errorf("append audit record: %w", err)
	}
	rec.Hash = h
	line, err := encode(rec)
	if err != nil {
		return Record{}, fmt.Errorf("append audit record: %w", err)
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		l.fail()
		return Record{}, fmt.Errorf("append audit record %d: %w", rec.Seq, err)
	}
	if !l.NoSync {
		if err := l.f.Sync(); err != nil {
			l.fail()
			return Record{}, fmt.Errorf("sync audit record %d: %w", rec.Seq, err)
		}
	}
	l.seq, l.prev = rec.Seq, sum(line)
	return rec, nil
}

// fail closes the file after a write error, whose effect on the file is
// unknown; later Appends return ErrClosed. The caller holds l.mu.
func (l *Log) fail() {
	_ = l.f.Close() // the write error is the one reported
	l.f = nil
}

// Close closes the log file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	return nil
}

// Summary counts the records of a log, in total and per host, strategy,
// verdict and rule. Records without a guard count under the verdict
// "unchecked".
type Summary struct {
	Records    int
	Bytes      int
	ByHost     map[string]int
	ByStrategy map[string]int
	ByVerdict  map[string]int
	ByRule     map[string]int
	// First and Last are the times of the oldest and newest records.
	First, Last time.Time
	// LastHash is the Hash of the last record (ZeroHash for none): kept
	// elsewhere, it lets a later check notice records removed from the end.
	LastHash string
}

// Summarize returns the [Summary] of recs.
func Summarize(recs []Record) Summary {
	s := Summary{
		ByHost: map[string]int{}, ByStrategy: map[string]int{},
		ByVerdict: map[string]int{}, ByRule: map[string]int{}, LastHash: ZeroHash,
	}
	for _, r := range recs {
		s.Records++
		s.Bytes += r.Bytes
		s.ByHost[r.Host]++
		s.ByStrategy[r.Strategy]++
		v := r.Verdict
		if v == VerdictNone {
			v = "unchecked"
		}
		s.ByVerdict[v]++
		for _, rule := range r.Rules {
			s.ByRule[rule]++
		}
		if s.First.IsZero() || r.Time.Before(s.First) {
			s.First = r.Time
		}
		if r.Time.After(s.Last) {
			s.Last = r.Time
		}
		s.LastHash = r.Hash
	}
	return s
}

type strategyKey struct{}

// WithStrategy returns a context whose requests are recorded under the
// strategy name.
func WithStrategy(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, strategyKey{}, name)
}

type originKey struct{}

type origin struct{ user, request string }

// WithOrigin returns a context whose requests are recorded with the vault
// user and the gateway request id that caused them.
func WithOrigin(ctx context.Context, user, request string) context.Context {
	return context.WithValue(ctx, originKey{}, origin{user, request})
}

// OriginFrom returns the user and request ids [WithOrigin] stored in ctx,
// or empty strings.
func OriginFrom(ctx context.Context) (user, request string) {
	o, _ := ctx.Value(originKey{}).(origin)
	return o.user, o.request
}

// StrategyFrom returns the strategy name [WithStrategy] stored in ctx, or
// "".
func StrategyFrom(ctx context.Context) string {
	s, _ := ctx.Value(strategyKey{}).(string)
	return strings.TrimSpace(s)
}
