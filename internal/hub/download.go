package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/internal/progress"
)

// maxAttempts bounds how often one call resumes an interrupted transfer.
const maxAttempts = 5

// errStalled is the cancel cause of a transfer that received no data for
// the stall timeout.
var errStalled = errors.New("transfer stalled")

// download fetches one file into the cache.
type download struct {
	ref      Ref
	url      string
	final    string
	partial  string
	client   *http.Client
	progress io.Writer
	token    string
	stall    time.Duration
}

// newDownload prepares the download of r to final.
func newDownload(r Ref, final string, opts Options) *download {
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	client := opts.HTTPClient
	stall := opts.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	return &download{
		ref:      r,
		url:      r.URL(base),
		final:    final,
		partial:  final + ".partial",
		client:   client,
		progress: progressWriter(opts),
		token:    opts.Token,
		stall:    stall,
	}
}

// retryError marks a failure after which the transfer can be resumed.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// run downloads the file, resuming interrupted transfers up to maxAttempts
// times, and moves it into place.
func (d *download) run(ctx context.Context) error {
	err := d.retry(ctx)
	if err != nil {
		// Keep a partial file only if it holds bytes worth resuming.
		if fi, serr := os.Stat(d.partial); serr == nil && fi.Size() == 0 {
			_ = os.Remove(d.partial) // best effort: an empty file is harmless
		}
	}
	return err
}

// retry runs attempts until one succeeds, fails for good, or maxAttempts
// is reached.
func (d *download) retry(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := d.attempt(ctx)
		if err == nil {
			return nil
		}
		re, ok := errors.AsType[*retryError](err)
		if !ok {
			return err
		}
		if attempt >= maxAttempts || ctx.Err() != nil {
			return re.err
		}
	}
}

// attempt makes one request, appending to the partial file, and on success
// verifies and installs the file.
func (d *download) attempt(ctx context.Context) error {
	f, err := os.OpenFile(d.partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open partial file: %w", err)
	}
	defer f.Close() // a second close after the explicit one is harmless
	sum := sha256.New()
	offset, err := io.Copy(sum, f) // leaves the offset at the end of the file
	if err != nil {
		return fmt.Errorf("read partial file: %w", err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(d.stall, func() { cancel(errStalled) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", "cogenesis")
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return d.requestError(ctx, err)
	}
	defer resp.Body.Close()

	size := int64(-1)
	switch {
	case resp.StatusCode == http.StatusOK:
		if offset > 0 {
			// The server ignored the range and sends the whole file.
			if err := restart(f, sum); err != nil {
				return err
			}
			offset = 0
		}
		size = resp.ContentLength
	case resp.StatusCode == http.StatusPartialContent:
		start, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != offset {
			// Resume is not possible from what the server sent: drop the
			// partial so the next attempt starts over.
			if err := restart(f, sum); err != nil {
				return err
			}
			return &retryError{fmt.Errorf("server answered range %q for a resume at byte %d", resp.Header.Get("Content-Range"), offset)}
		}
		size = total
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && offset > 0:
		// The partial file is as long as the file or longer: start over.
		if err := restart(f, sum); err != nil {
			return err
		}
		return &retryError{fmt.Errorf("server rejected resume at byte %d", offset)}
	default:
		return &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	want := expectedSHA256(resp)

	bar := progress.New(d.progress, d.ref.String(), max(size, 0), progress.Bytes(), progress.Initial(offset))
	body := &watchedReader{r: resp.Body, watchdog: watchdog, stall: d.stall}
	n, err := io.CopyBuffer(io.MultiWriter(f, sum, bar.Writer(io.Discard)), body, make([]byte, 1<<20))
	bar.Done()
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
			return &retryError{fmt.Errorf("%w: no data for %v", errStalled, d.stall)}
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if body.err != nil {
			return &retryError{fmt.Errorf("read body after %d bytes: %w", offset+n, body.err)}
		}
		return fmt.Errorf("write partial file: %w", err)
	}
	if size >= 0 && offset+n != size {
		return &retryError{fmt.Errorf("body ended at byte %d of %d", offset+n, size)}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync partial file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close partial file: %w", err)
	}
	got := hex.EncodeToString(sum.Sum(nil))
	if want != "" {
		if got != want {
			// A corrupt partial must not be resumed: delete it.
			if err := os.Remove(d.partial); err != nil {
				return fmt.Errorf("%w; remove partial file: %w", &ChecksumError{Want: want, Got: got}, err)
			}
			return &ChecksumError{Want: want, Got: got}
		}
		line := got + "  " + filepath.Base(d.final) + "\n"
		if err := writeFileAtomic(d.final+".sha256", []byte(line)); err != nil {
			return err
		}
	}
	if err := os.Rename(d.partial, d.final); err != nil {
		return fmt.Errorf("install downloaded file: %w", err)
	}
	return nil
}

// requestError classifies an error from sending the request.
func (d *download) requestError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
		return &retryError{fmt.Errorf("%w: no response for %v", errStalled, d.stall)}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	host := ""
	inner := err
	if ue, ok := errors.AsType[*url.Error](err); ok {
		inner = ue.Err
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
	}
	if host == "" {
		if u, perr := url.Parse(d.url); perr == nil {
			host = u.Host
		}
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return &UnreachableError{Host: host, Err: inner}
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && (oe.Op == "dial" || oe.Op == "proxyconnect") {
		return &UnreachableError{Host: host, Err: inner}
	}
	return err
}

// restart empties the partial file and the running hash.
func restart(f *os.File, sum hash.Hash) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate partial file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind partial file: %w", err)
	}
	sum.Reset()
	return nil
}

// parseContentRange parses "bytes START-END/TOTAL" and returns START and
// TOTAL, with TOTAL -1 when the server wrote "*".
func parseContentRange(s string) (start, total int64, err error) {
	spec, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("bad content-range %q", s)
	}
	rng, tot, ok := strings.Cut(spec, "/")
	if !ok {
		return 0, 0, fmt.Errorf("bad content-range %q", s)
	}
	first, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, fmt.Errorf("bad content-range %q", s)
	}
	start, err = strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("bad content-range %q: %w", s, err)
	}
	if tot == "*" {
		return start, -1, nil
	}
	total, err = strconv.ParseInt(tot, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("bad content-range %q: %w", s, err)
	}
	return start, total, nil
}

// expectedSHA256 returns the sha256 the hub announced for the file, or "".
// Hugging Face puts it in X-Linked-Etag on the resolve redirect of an LFS
// file, and some servers in the ETag; both are quoted 64-digit hex. The
// response and every redirect before it are searched, X-Linked-Etag first.
func expectedSHA256(resp *http.Response) string {
	for _, key := range []string{"X-Linked-Etag", "Etag"} {
		for r := resp; r != nil; {
			if sum, ok := parseSHA256Etag(r.Header.Get(key)); ok {
				return sum
			}
			if r.Request == nil {
				break
			}
			r = r.Request.Response
		}
	}
	return ""
}

// parseSHA256Etag returns the lower-case hex sum in a strong etag holding
// a sha256.
func parseSHA256Etag(v string) (string, bool) {
	if strings.HasPrefix(v, "W/") {
		return "", false // a weak etag is not a content hash
	}
	v = strings.Trim(v, `"`)
	if len(v) != sha256.Size*2 {
		return "", false
	}
	if _, err := hex.DecodeString(v); err != nil {
		return "", false
	}
	return strings.ToLower(v), true
}

// writeFileAtomic writes data to a temporary file beside name and renames
// it into place.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(name), err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("install %s: %w", filepath.Base(name), err)
	}
	return nil
}

// watchedReader records read errors and pushes back the stall watchdog on
// every read that returns data.
type watchedReader struct {
	r        io.Reader
	watchdog *time.Timer
	stall    time.Duration
	err      error
}

// Read reads from the body.
func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.watchdog.Reset(w.stall)
	}
	if err != nil && err != io.EOF {
		w.err = err
	}
	return n, err
}
