package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// Head is the end of a log's chain as its head file records it: the seq
// and Hash of the last record (0 and [ZeroHash] for an empty log).
type Head struct {
	Seq  int
	Hash string
}

// headSize is the length of every head file: one fixed-size line, so that
// it is rewritten in place by a single write that never changes its size.
var headSize = len(formatHead(Head{Hash: ZeroHash}))

// formatHead returns the head file's line: the head and the first 16 hex
// digits of the sha256 of what precedes them, which catch a torn write.
func formatHead(h Head) []byte {
	b := fmt.Appendf(nil, "cogen-audit-head v1 seq %020d hash %s", h.Seq, h.Hash)
	return fmt.Appendf(b, " sum %s\n", sum(b)[:16])
}

// readHead reads the head file of the log at path. It returns ErrNoHead
// when there is none.
func readHead(path string) (Head, error) {
	f, err := regfile.OpenFile(path+".head", os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return Head{}, ErrNoHead
	}
	if err != nil {
		return Head{}, fmt.Errorf("read head file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(headSize)+1))
	if err != nil {
		return Head{}, fmt.Errorf("read head file: %w", err)
	}
	var h Head
	if fields := strings.Fields(string(b)); len(fields) == 8 {
		h.Seq, _ = strconv.Atoi(fields[3])
		h.Hash = fields[5]
	}
	if !bytes.Equal(formatHead(h), b) {
		return Head{}, fmt.Errorf("head file %s.head is unreadable (%d bytes, not a head written by cogen)", path, len(b))
	}
	return h, nil
}

// writeHead rewrites the head file f in place, and flushes it to disk when
// sync is set.
func writeHead(f *os.File, h Head, sync bool) error {
	if _, err := f.WriteAt(formatHead(h), 0); err != nil {
		return fmt.Errorf("write head file: %w", err)
	}
	if sync {
		if err := datasync(f); err != nil {
			return fmt.Errorf("sync head file: %w", err)
		}
	}
	return nil
}

// state is what openLocked found: the log's valid prefix and its head.
type state struct {
	scanned
	head    Head
	headErr error // ErrNoHead, an unreadable head, or nil
}

// compare returns a [*HeadError] when the log does not reach its head or
// its record at the head's seq is not the one the head names.
func (st state) compare(path string) error {
	if st.head.Seq > st.n || st.hashAt != st.head.Hash {
		e := &HeadError{Path: path, Head: st.head, Records: st.n, Hash: st.hashAt}
		if st.head.Seq > st.n {
			e.Hash = st.lastHash
		}
		return e
	}
	return nil
}

// checkHead checks the log's head for Open and opens the head file,
// rewriting it when it is behind the log or missing beside an empty log.
func (l *Log) checkHead(st state) error {
	switch {
	case errors.Is(st.headErr, ErrNoHead) && st.n > 0:
		return fmt.Errorf("%w for its %d records: tail deletion cannot be detected; if the log is complete, run \"cogen audit repair %s\" to anchor it", ErrNoHead, st.n, l.path)
	case errors.Is(st.headErr, ErrNoHead):
	case st.headErr != nil:
		return fmt.Errorf("%w: run \"cogen audit repair %s\" to rewrite it", st.headErr, l.path)
	default:
		if err := st.compare(l.path); err != nil {
			return err
		}
	}
	return l.openHead(st)
}

// openHead opens (or creates) the head file, and rewrites it unless it
// already names the log's last record.
func (l *Log) openHead(st state) error {
	created := errors.Is(st.headErr, ErrNoHead)
	f, err := regfile.OpenFile(l.path+".head", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open head file: %w", err)
	}
	l.head = f
	if st.headErr == nil && st.head.Seq == st.n {
		return nil
	}
	if err := f.Truncate(int64(headSize)); err != nil {
		return fmt.Errorf("write head file: %w", err)
	}
	if err := writeHead(f, Head{Seq: st.n, Hash: st.lastHash}, true); err != nil {
		return err
	}
	if created {
		// Make the new names (log and head) durable too.
		if err := syncDir(filepath.Dir(l.path)); err != nil {
			return fmt.Errorf("sync directory of %s: %w", l.path, err)
		}
	}
	return nil
}

// InUseError reports a log that another [Log], in this process or
// another, holds open. PID is the holder's process id, or 0 when unknown.
// It matches [ErrInUse].
type InUseError struct {
	Path string
	PID  int
}

// Error returns "audit log PATH is in use by pid N".
func (e *InUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("audit log %s is in use by another process", e.Path)
	}
	return fmt.Sprintf("audit log %s is in use by pid %d", e.Path, e.PID)
}

// Unwrap returns [ErrInUse].
func (e *InUseError) Unwrap() error { return ErrInUse }

// HeadError reports a log that does not reach its head file (records were
// removed from its end) or whose record at the head's seq is not the one
// the head names (the log was replaced). Records is the number of valid
// records in the log; Hash is the Hash of the log's record Head.Seq, or of
// its last record when it has fewer. It matches [ErrHeadMismatch].
type HeadError struct {
	Path    string
	Head    Head
	Records int
	Hash    string
}

// Error says what the head file expects and what the log has.
func (e *HeadError) Error() string {
	if e.Records < e.Head.Seq {
		return fmt.Sprintf("audit log %s lost records at its end: head file says %d records ending in hash %s; the log has %d", e.Path, e.Head.Seq, e.Head.Hash, e.Records)
	}
	return fmt.Sprintf("audit log %s does not match its head: head file says record %d has hash %s; the log's has hash %s", e.Path, e.Head.Seq, e.Head.Hash, e.Hash)
}

// Unwrap returns [ErrHeadMismatch].
func (e *HeadError) Unwrap() error { return ErrHeadMismatch }

// Status is what [VerifyFile] found.
type Status struct {
	// Records is the number of valid records, LastHash the Hash of the
	// last ([ZeroHash] for none).
	Records  int
	LastHash string
	// Head is the head file's content; nil when there is no head file or
	// it is unreadable.
	Head *Head
}

// VerifyFile checks the log at path: its chain, and its end against its
// head file. It returns the [Status] and nil when the chain is intact and
// reaches the head (the log may be ahead of its head: records appended by
// a writer still running, or one record written before a crash). It
// returns an error wrapping a [*ChainError] for a broken chain, a
// [*HeadError] when records were removed from the end, and an error
// matching [ErrNoHead] for a non-empty log without a head file. An empty
// log without a head file is not an error: it recorded nothing.
//
// VerifyFile takes no lock; it reads the head before the log, so that a
// writer appending meanwhile only moves the log ahead of the head read.
// path must be a regular file; others are refused without being opened.
func VerifyFile(path string) (Status, error) {
	head, headErr := readHead(path)
	f, err := regfile.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return Status{}, fmt.Errorf("verify audit log: %w", err)
	}
	defer f.Close()
	st := state{scanned: scan(f, head.Seq, nil), head: head, headErr: headErr}
	out := Status{Records: st.n, LastHash: st.lastHash}
	if headErr == nil {
		out.Head = &head
	}
	if st.err != nil {
		err := st.err
		if st.torn != nil {
			err = fmt.Errorf("%w: run \"cogen audit repair %s\" to cut it", err, path)
		}
		return out, fmt.Errorf("verify audit log %s: %w", path, err)
	}
	switch {
	case errors.Is(headErr, ErrNoHead) && st.n == 0:
		return out, nil
	case errors.Is(headErr, ErrNoHead):
		return out, fmt.Errorf("audit log %s: %w: tail deletion cannot be detected (if the log is complete, run \"cogen audit repair %s\" to anchor it)", path, ErrNoHead, path)
	case headErr != nil:
		return out, fmt.Errorf("verify audit log %s: %w", path, headErr)
	}
	return out, st.compare(path)
}

// RepairStrategy is the Strategy of the record [Repair] appends.
const RepairStrategy = "audit-repair"

// Rules of a repair record: what [Repair] did.
const (
	// RuleTornLine means a torn last line was cut; the record's SHA256 and
	// Bytes describe the bytes cut, which are not kept.
	RuleTornLine = "repair:torn-line"
	// RuleHeadMissing means the log had no head file and one was written.
	RuleHeadMissing = "repair:head-missing"
	// RuleHeadUnreadable means the head file was unreadable and rewritten.
	RuleHeadUnreadable = "repair:head-unreadable"
)

// Repaired is what [Repair] did.
type Repaired struct {
	// Line is the number of the torn line cut, Cut its length and
	// CutSHA256 its sha256; all zero when none was cut.
	Line      int
	Cut       int
	CutSHA256 string
	// Rules are the repair rules applied (RuleTornLine and the like).
	Rules []string
	// Record is the repair record appended; nil when there was nothing
	// to repair.
	Record *Record
}

// Repair mends the log at path so that [Open] accepts it again, and records
// what it did in a record of its own (Strategy [RepairStrategy], no
// verdict, the applied rules in Rules) at the end of the chain. It cuts a
// torn last line — a final line without its newline, or one that is not
// JSON, as a crash or a full disk leaves — recording only its length and
// sha256, and writes a missing or unreadable head file.
//
// Repair refuses anything else: a chain broken before its last line, or a
// log shorter than its head, stays an error for a person to look at (a
// person who accepts the loss can remove PATH.head and repair again, which
// records that the head was missing). Like [Open], it takes the writer's
// lock, and it refuses a path that is not a regular file. A log with
// nothing to repair is left as it is.
func Repair(ctx context.Context, path string) (r Repaired, err error) {
	l, st, err := openLocked(path, false)
	if _, ok := errors.AsType[*InUseError](err); ok {
		return Repaired{}, err // it names the log already
	}
	if err != nil {
		return Repaired{}, fmt.Errorf("repair audit log %s: %w", path, err)
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("repair audit log %s: %w", path, cerr)
		}
	}()
	if st.err != nil {
		if st.torn == nil {
			return Repaired{}, fmt.Errorf("repair audit log %s: %w: repair cuts only a torn last line; a break before it needs a person", path, st.err)
		}
		ce, _ := errors.AsType[*ChainError](st.err)
		r.Line, r.Cut, r.CutSHA256 = ce.Line, len(st.torn), sum(st.torn)
		r.Rules = append(r.Rules, RuleTornLine)
	}
	switch {
	case errors.Is(st.headErr, ErrNoHead):
		if st.n > 0 {
			r.Rules = append(r.Rules, RuleHeadMissing)
		}
	case st.headErr != nil:
		r.Rules = append(r.Rules, RuleHeadUnreadable)
	default:
		if err := st.compare(path); err != nil {
			return Repaired{}, fmt.Errorf("repair audit log %s: %w: repair does not restore lost records", path, err)
		}
	}
	if r.Cut > 0 {
		if err := l.f.Truncate(st.end); err != nil {
			return Repaired{}, fmt.Errorf("repair audit log %s: cut line %d: %w", path, r.Line, err)
		}
		if err := datasync(l.f); err != nil {
			return Repaired{}, fmt.Errorf("repair audit log %s: %w", path, err)
		}
	}
	if err := l.openHead(st); err != nil {
		return Repaired{}, fmt.Errorf("repair audit log %s: %w", path, err)
	}
	if len(r.Rules) == 0 {
		return r, nil
	}
	rec, err := l.Append(WithStrategy(ctx, RepairStrategy), Record{
		Strategy: RepairStrategy, Verdict: VerdictNone, Rules: r.Rules,
		SHA256: sum(st.torn), Bytes: len(st.torn),
	})
	if err != nil {
		return Repaired{}, fmt.Errorf("repair audit log %s: %w", path, err)
	}
	r.Record = &rec
	return r, nil
}
