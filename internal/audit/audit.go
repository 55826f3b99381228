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
	"io/fs"
	"iter"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cogenesis/cogenesis/internal/regfile"
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
	// VerdictSynthetic means the guard's detectors matched text of a
	// synthetic-data run (made-up people, no vault), and the request was
	// sent under that policy.
	VerdictSynthetic = "synthetic"
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
	// ErrInUse is matched by every [*InUseError].
	ErrInUse = errors.New("audit log in use")
	// ErrNoHead is matched by the error [Open] and [VerifyFile] return for
	// a non-empty log without its head file.
	ErrNoHead = errors.New("no head file")
	// ErrHeadMismatch is matched by every [*HeadError].
	ErrHeadMismatch = errors.New("audit log does not match its head")
)

// MaxLine is the longest line, newline included, a log may hold: 64 MiB,
// far above any request body the strategies send (a few hundred KiB at
// most), so that reading a file that is not a log (a device, a huge file
// without newlines) ends with an error instead of exhausting memory.
const MaxLine = 64 << 20

// Record is one request that left the device, or that the guard blocked.
type Record struct {
	// Seq numbers records from 1.
	Seq int `json:"seq"`
	// Time is when the record was appended, in UTC.
	Time     time.Time `json:"time"`
	Strategy string    `json:"strategy"`
	// Policy names the egress policy the request was sent under (user,
	// judge, synthetic, download: see internal/egress); empty in logs
	// written before policies were recorded.
	Policy string `json:"policy,omitempty"`
	Host   string `json:"host"`
	Method string `json:"method"`
	Path   string `json:"path"`
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
// on a read error it yields that error and stops. A line longer than
// [MaxLine] is a broken line.
func Records(r io.Reader) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		s := scan(r, 0, func(rec Record) bool { return yield(rec, nil) })
		if s.err != nil {
			yield(Record{}, s.err)
		}
	}
}

// scanned is what scan found in a log.
type scanned struct {
	n        int    // valid records before the first broken line
	lastHash string // Hash of the last valid record; ZeroHash for none
	prevLine string // sha256 of the last valid line: the next record's Prev
	end      int64  // length of the valid prefix, in bytes
	hashAt   string // Hash of the record whose seq was asked for, if present
	err      error  // the first broken line (*ChainError), or a read error
	// torn is set when err is a torn last line: a final line without its
	// newline, or one that is not JSON at all. It holds the line's bytes.
	torn    []byte
	stopped bool // yield returned false
}

// scan reads a log, verifying its chain, and calls yield (when not nil) for
// each valid record until it returns false. at is a seq whose record's Hash
// scan keeps in hashAt (ZeroHash for 0).
func scan(r io.Reader, at int, yield func(Record) bool) scanned {
	s := scanned{lastHash: ZeroHash, prevLine: ZeroHash}
	if at == 0 {
		s.hashAt = ZeroHash
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		raw, err := readLine(br)
		switch {
		case errors.Is(err, io.EOF):
			if len(raw) > 0 {
				s.err = &ChainError{Line: line, Reason: "last line is truncated (no newline)"}
				s.torn = raw
			}
			return s
		case errors.Is(err, errLineTooLong):
			s.err = &ChainError{Line: line, Reason: fmt.Sprintf("line is longer than %d bytes: not an audit log", MaxLine)}
			return s
		case err != nil:
			s.err = fmt.Errorf("read audit log line %d: %w", line, err)
			return s
		}
		body := raw[:len(raw)-1]
		rec, cerr := check(body, line, s.prevLine)
		if cerr != nil {
			cerr.Line = line
			s.err = cerr
			if _, perr := br.Peek(1); errors.Is(perr, io.EOF) && !json.Valid(body) {
				s.torn = raw
			}
			return s
		}
		s.n, s.lastHash, s.prevLine = rec.Seq, rec.Hash, sum(body)
		s.end += int64(len(raw))
		if rec.Seq == at {
			s.hashAt = rec.Hash
		}
		if yield != nil && !yield(rec) {
			s.stopped = true
			return s
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line of br with its newline, like
// ReadBytes('\n'), but fails with errLineTooLong past MaxLine bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > MaxLine {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
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
	f, err := regfile.OpenFile(path, os.O_RDONLY, 0)
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
// Log at a time, in any process, may hold a log open (see [Open]). The
// caller closes it.
type Log struct {
	// NoSync skips the fdatasync of log and head after each Append,
	// trading durability (a crash may lose the last records, after which
	// Open refuses the log as shorter than its head) for speed. Set it
	// before the first Append.
	NoSync bool

	mu     sync.Mutex
	f      *os.File
	head   *os.File // PATH.head, rewritten in place after each record
	unlock func() error
	path   string
	seq    int
	prev   string
	now    func() time.Time
}

// Open opens the log at path for appending. A missing file is created with
// mode 0600, with its head file PATH.head; an existing one is verified
// first and its chain continued.
//
// Open takes the writer's lock (PATH.lock) first, and fails with an
// [*InUseError] naming the holder's pid when another Log holds it. It
// fails with a [*ChainError] when the existing chain is broken (naming
// "cogen audit repair" when the break is a torn last line, see [Repair]),
// with a [*HeadError] when the log is shorter than its head file says or
// does not match it, and with an error matching [ErrNoHead] when a
// non-empty log has no head file. A log longer than its head (a crash
// between writing a record and its head) is accepted and its head
// rewritten. Open never modifies the log itself.
func Open(path string) (*Log, error) {
	l, st, err := openLocked(path, true)
	if _, ok := errors.AsType[*InUseError](err); ok {
		return nil, err // it names the log already
	}
	if err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	if st.err != nil {
		err = st.err
		if st.torn != nil {
			err = fmt.Errorf("%w: run \"cogen audit repair %s\" to cut it", err, path)
		}
	} else {
		err = l.checkHead(st)
	}
	if err != nil {
		_ = l.Close() // the open error is the one to report
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	return l, nil
}

// openLocked takes the lock of the log at path, reads its head file, opens
// the log (creating it when create is set) and scans it. The Log it returns
// continues the valid prefix of the chain; its head file is not open yet.
// The caller closes the Log, also when st.err is set.
func openLocked(path string, create bool) (*Log, state, error) {
	flag := os.O_RDWR | os.O_APPEND
	if create {
		flag |= os.O_CREATE
	}
	if f, err := regfile.Open(path); err == nil {
		_ = f.Close() // only checked: the lock comes first
	} else if !create || !errors.Is(err, fs.ErrNotExist) {
		return nil, state{}, err
	}
	unlock, err := lockFile(path+".lock", path)
	if err != nil {
		return nil, state{}, err
	}
	l := &Log{unlock: unlock, path: path, prev: ZeroHash, now: time.Now}
	if l.f, err = regfile.OpenFile(path, flag, 0o600); err != nil {
		_ = l.Close() // the open error is the one to report
		return nil, state{}, err
	}
	st := state{}
	st.head, st.headErr = readHead(path)
	st.scanned = scan(l.f, st.head.Seq, nil)
	l.seq, l.prev = st.n, st.prevLine
	return l, st, nil
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
	case VerdictNone, VerdictAllow, VerdictRedact, VerdictBlock, VerdictPrivate, VerdictSynthetic:
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
	if len(line)+1 > MaxLine {
		return Record{}, fmt.Errorf("append audit record: %d bytes, more than the %d a line may hold", len(line)+1, MaxLine)
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		l.fail()
		return Record{}, fmt.Errorf("append audit record %d: %w", rec.Seq, err)
	}
	if !l.NoSync {
		if err := datasync(l.f); err != nil {
			l.fail()
			return Record{}, fmt.Errorf("sync audit record %d: %w", rec.Seq, err)
		}
	}
	// The head follows the record only once the record is on disk, so it
	// is never ahead of the log. It is written but not flushed: a flush
	// doubles the cost of an append (2.9 ms to 5.9 ms per record measured
	// here), and the page cache already shows it to every reader. After a
	// power loss the head may lag the log by the records of the last
	// seconds; Open accepts a log ahead of its head and rewrites it, so
	// only records removed from that lagging tail go unnoticed.
	if err := writeHead(l.head, Head{Seq: rec.Seq, Hash: rec.Hash}, false); err != nil {
		l.fail()
		return Record{}, fmt.Errorf("append audit record %d: %w", rec.Seq, err)
	}
	l.seq, l.prev = rec.Seq, sum(line)
	return rec, nil
}

// fail closes the log after a write error, whose effect on the files is
// unknown; later Appends return ErrClosed. The lock stays held until Close.
// The caller holds l.mu.
func (l *Log) fail() {
	_ = l.f.Close() // the write error is the one reported
	l.f = nil
}

// Close closes the log and its head file and releases the writer's lock.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	if l.f != nil {
		errs = append(errs, l.f.Close())
		l.f = nil
	}
	if l.head != nil {
		errs = append(errs, l.head.Close())
		l.head = nil
	}
	if l.unlock != nil {
		errs = append(errs, l.unlock())
		l.unlock = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	return nil
}

// Summary counts the records of a log, in total and per host, strategy,
// verdict and rule. Records without a guard count under the verdict
// "unchecked".
type Summary struct {
	// Records counts the requests; Repairs the log's own repair records
	// (cogen audit repair), which are not requests.
	Records    int
	Repairs    int
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
		s.LastHash = r.Hash
		if r.Strategy == RepairStrategy {
			s.Repairs++ // the log's own record: nothing left the device
			continue
		}
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
