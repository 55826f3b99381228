// Package hub turns a model reference into a local GGUF file path.
//
// A reference is either a local path or a Hugging Face file written
// hf://OWNER/REPO/FILE.gguf, optionally pinned with @REVISION (default
// "main"). [Resolve] checks that a local path exists, and downloads a Hugging
// Face file once into a cache directory:
//
//   - the transfer goes to FILE.partial and resumes with an HTTP Range
//     request after an interruption, within one call and across runs;
//   - when the server names the file's sha256 (the X-Linked-Etag or ETag
//     header of Hugging Face LFS files) the whole file is verified, a
//     mismatch deletes the partial, and the verified sum is stored beside
//     the file as FILE.sha256 in sha256sum format;
//   - a progress bar is drawn on [Options.Progress];
//   - the finished file is renamed into place atomically, and a file lock
//     keeps two processes from downloading the same file at once.
//
// A host that cannot be reached fails within seconds with an error that
// matches [ErrUnreachable], so the caller can suggest a local path instead.
//
// Only the reference and the optional token leave the device; the token is
// sent as a bearer header and never appears in errors or output.
package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Errors that callers branch on. Errors from [Resolve] wrap them; inspect
// them with errors.Is.
var (
	// ErrUnreachable reports that the download host could not be reached:
	// DNS failure, connection refused, no route or a dial timeout.
	ErrUnreachable = errors.New("host unreachable")
	// ErrNotFound reports a local path that does not exist or a remote file
	// that the hub does not have (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized reports HTTP 401 or 403: a gated or private
	// repository that needs a token, or a token without access.
	ErrUnauthorized = errors.New("access denied")
	// ErrChecksum reports a downloaded file whose sha256 differs from the
	// one the server announced.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrInvalidRef reports a malformed hf:// reference.
	ErrInvalidRef = errors.New("invalid model reference")
)

const (
	// Scheme prefixes a Hugging Face model reference.
	Scheme = "hf://"
	// DefaultBaseURL is the Hugging Face endpoint used when
	// [Options.BaseURL] is empty.
	DefaultBaseURL = "https://huggingface.co"
	// DefaultRevision is the revision used when a reference names none.
	DefaultRevision = "main"
	// DefaultStallTimeout is how long a download may receive no data before
	// it is abandoned and resumed, when [Options.StallTimeout] is zero.
	DefaultStallTimeout = time.Minute
	// dialTimeout bounds connecting (DNS included) with the default client,
	// so that a machine without network fails fast.
	dialTimeout = 5 * time.Second
)

// Options configures [Resolve]. The zero value downloads from Hugging Face
// into the user cache directory without progress output.
type Options struct {
	// CacheDir holds downloaded models as OWNER/REPO/REVISION/FILE. Empty
	// means os.UserCacheDir()/cogenesis/models.
	CacheDir string
	// BaseURL is the hub endpoint. Files are fetched from
	// BASE/OWNER/REPO/resolve/REVISION/FILE. Empty means [DefaultBaseURL].
	BaseURL string
	// HTTPClient sends the requests; a download needs one. cogenesis
	// builds it with internal/egress (policy download), which records
	// every request in an audit log; it should fail fast when the network
	// is down and have no overall timeout (downloads can be long).
	HTTPClient *http.Client
	// Progress receives the progress bar, usually os.Stderr. Nil means no
	// output.
	Progress io.Writer
	// Token is a Hugging Face access token for gated or private
	// repositories. The caller reads it from the environment. It is sent
	// only as an Authorization header and never printed.
	Token string
	// StallTimeout abandons and resumes a transfer that receives no data
	// for this long. Zero means [DefaultStallTimeout].
	StallTimeout time.Duration
}

// Ref is a parsed hf://OWNER/REPO/FILE@REVISION reference.
type Ref struct {
	// Owner is the user or organisation, such as "Qwen".
	Owner string
	// Repo is the repository name, such as "Qwen2.5-0.5B-Instruct-GGUF".
	Repo string
	// File is the path of the file inside the repository; it may contain
	// slashes.
	File string
	// Revision is a branch, tag or commit; [ParseRef] fills in
	// [DefaultRevision] when the reference names none.
	Revision string
}

// IsRemote reports whether ref is a Hugging Face reference rather than a
// local path.
func IsRemote(ref string) bool {
	return strings.HasPrefix(ref, Scheme)
}

// ParseRef parses hf://OWNER/REPO/FILE or hf://OWNER/REPO/FILE@REVISION.
// Errors wrap [ErrInvalidRef].
func ParseRef(ref string) (Ref, error) {
	rest, ok := strings.CutPrefix(ref, Scheme)
	if !ok {
		return Ref{}, fmt.Errorf("parse %q: %w: want %sOWNER/REPO/FILE.gguf", ref, ErrInvalidRef, Scheme)
	}
	rev := DefaultRevision
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest, rev = rest[:i], rest[i+1:]
		if !validPath(rev) {
			return Ref{}, fmt.Errorf("parse %q: %w: bad revision", ref, ErrInvalidRef)
		}
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 3 || parts[2] == "" {
		return Ref{}, fmt.Errorf("parse %q: %w: want %sOWNER/REPO/FILE.gguf", ref, ErrInvalidRef, Scheme)
	}
	r := Ref{Owner: parts[0], Repo: parts[1], File: parts[2], Revision: rev}
	if !validName(r.Owner) || !validName(r.Repo) {
		return Ref{}, fmt.Errorf("parse %q: %w: bad owner or repository name", ref, ErrInvalidRef)
	}
	if !validPath(r.File) {
		return Ref{}, fmt.Errorf("parse %q: %w: bad file path", ref, ErrInvalidRef)
	}
	return r, nil
}

// validName reports whether s is a usable owner or repository name.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// validPath reports whether s is a relative slash-separated path that stays
// inside its directory.
func validPath(s string) bool {
	if s == "" || strings.ContainsAny(s, "\\\x00") {
		return false
	}
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// String returns the reference in hf:// form, omitting the default
// revision.
func (r Ref) String() string {
	s := Scheme + r.Owner + "/" + r.Repo + "/" + r.File
	if r.Revision != "" && r.Revision != DefaultRevision {
		s += "@" + r.Revision
	}
	return s
}

// URL returns the download URL of r under base, such as
// https://huggingface.co/OWNER/REPO/resolve/REVISION/FILE.
func (r Ref) URL(base string) string {
	segs := []string{r.Owner, r.Repo, "resolve", url.PathEscape(r.Revision)}
	for seg := range strings.SplitSeq(r.File, "/") {
		segs = append(segs, url.PathEscape(seg))
	}
	return strings.TrimRight(base, "/") + "/" + path.Join(segs...)
}

// cachePath returns where r is stored under dir. A revision with slashes
// (refs/pr/1) becomes one escaped directory name.
func (r Ref) cachePath(dir string) string {
	return filepath.Join(dir, r.Owner, r.Repo, url.PathEscape(r.Revision), filepath.FromSlash(r.File))
}

// CacheDir returns the model cache directory: dir, or when empty
// os.UserCacheDir()/cogenesis/models.
func CacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache directory: %w", err)
	}
	return filepath.Join(base, "cogenesis", "models"), nil
}

// Resolve returns the local path of the model named by ref. A local path is
// returned as given after checking that it is a file. An hf:// reference is
// downloaded into the cache unless it is already there; a cache hit makes no
// network request. Resolve is safe for concurrent use, also across
// processes sharing a cache directory.
func Resolve(ctx context.Context, ref string, opts Options) (string, error) {
	if !IsRemote(ref) {
		return resolveLocal(ref)
	}
	r, err := ParseRef(ref)
	if err != nil {
		return "", err
	}
	dir, err := CacheDir(opts.CacheDir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", r, err)
	}
	final := r.cachePath(dir)
	if ok, err := isFile(final); err != nil {
		return "", fmt.Errorf("resolve %s: %w", r, err)
	} else if ok {
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("resolve %s: create cache directory: %w", r, err)
	}
	unlock, err := lockFile(ctx, final+".lock", func() {
		_, _ = fmt.Fprintf(progressWriter(opts), "%s: waiting for another process to finish downloading it\n", r)
	})
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", r, err)
	}
	defer unlock()
	// Another process may have finished while we waited for the lock.
	if ok, err := isFile(final); err != nil {
		return "", fmt.Errorf("resolve %s: %w", r, err)
	} else if ok {
		return final, nil
	}
	if opts.HTTPClient == nil {
		return "", fmt.Errorf("download %s: no HTTP client (downloads go through internal/egress, which records them)", r)
	}
	d := newDownload(r, final, opts)
	if err := d.run(ctx); err != nil {
		return "", fmt.Errorf("download %s: %w", r, err)
	}
	return final, nil
}

// resolveLocal checks that a local model path is a regular file.
func resolveLocal(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("resolve model: %w: empty path", ErrInvalidRef)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("model %s: %w (no such file; a Hugging Face model is written %sOWNER/REPO/FILE.gguf)", p, ErrNotFound, Scheme)
	case err != nil:
		return "", fmt.Errorf("model %s: %w", p, err)
	case fi.IsDir():
		return "", fmt.Errorf("model %s: is a directory, want a GGUF file", p)
	}
	return p, nil
}

// isFile reports whether p exists as a regular file.
func isFile(p string) (bool, error) {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s exists but is not a regular file", p)
	}
	return true, nil
}

// progressWriter returns where progress goes.
func progressWriter(opts Options) io.Writer {
	if opts.Progress == nil {
		return io.Discard
	}
	return opts.Progress
}

// HTTPError reports an unexpected HTTP status from the hub. It matches
// [ErrUnauthorized] for 401 and 403 and [ErrNotFound] for 404.
type HTTPError struct {
	// StatusCode is the HTTP status code, such as 404.
	StatusCode int
	// Status is the status line text, such as "404 Not Found".
	Status string
}

// Error describes the status and, for the common cases, what to do.
func (e *HTTPError) Error() string {
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("HTTP %s: %v: the repository is gated, private or missing; accept its license on the hub and set an HF token", e.Status, ErrUnauthorized)
	case http.StatusNotFound:
		return fmt.Sprintf("HTTP %s: %v: no such file at this revision; check owner, repository, file name and revision", e.Status, ErrNotFound)
	default:
		return "HTTP " + e.Status
	}
}

// Is matches [ErrUnauthorized] and [ErrNotFound] by status code.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

// UnreachableError reports a host that could not be reached. It matches
// [ErrUnreachable].
type UnreachableError struct {
	// Host is the host and optional port that failed, such as
	// "huggingface.co".
	Host string
	// Err is the network error.
	Err error
}

// Error names the host and the network error.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s unreachable (no network?): %v", e.Host, e.Err)
}

// Unwrap returns the network error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is matches [ErrUnreachable].
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// ChecksumError reports a sha256 mismatch. It matches [ErrChecksum].
type ChecksumError struct {
	// Want is the sha256 the server announced, in lower-case hex.
	Want string
	// Got is the sha256 of the downloaded bytes, in lower-case hex.
	Got string
}

// Error shows both sums.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%v: sha256 %s, want %s (partial download deleted)", ErrChecksum, e.Got, e.Want)
}

// Is matches [ErrChecksum].
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }
