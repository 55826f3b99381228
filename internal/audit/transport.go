package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
)

// Verdict is a check's decision on one request.
type Verdict struct {
	// Verdict is VerdictAllow or VerdictRedact (VerdictBlock comes from an
	// error).
	Verdict string
	Rules   []string
	// Body, when set, replaces the request body (redaction).
	Body []byte
}

// Transport is the egress choke point: every request the cloud client
// sends passes through it. It reads the body, runs Check (the privacy
// guard), appends a record to Log and only then sends. A Check error fails
// closed: the request is not sent, a "block" record without the body is
// appended, and the error is returned wrapped. Transport is safe for
// concurrent use.
type Transport struct {
	Base  http.RoundTripper
	Log   *Log
	// Check decides on a request; on error, the Verdict's Rules say which
	// rules blocked it.
	Check func(ctx context.Context, req *http.Request, body []byte) (Verdict, error)
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip checks, records and sends req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("egress: read request body: %w", err)
		}
		body = b
	}
	v := Verdict{Verdict: VerdictNone}
	if t.Check != nil {
		var err error
		v, err = t.Check(req.Context(), req, body)
		if err != nil {
			if t.Log != nil {
				sum := sha256.Sum256(body)
				if _, lerr := t.Log.Append(req.Context(), Record{
					Host: req.URL.Host, Method: req.Method, Path: req.URL.Path,
					SHA256: hex.EncodeToString(sum[:]), Bytes: len(body),
					Verdict: VerdictBlock, Rules: v.Rules,
				}); lerr != nil {
					return nil, fmt.Errorf("egress blocked (%w); audit: %v", err, lerr)
				}
			}
			return nil, fmt.Errorf("egress blocked: %w", err)
		}
		if v.Verdict == "" {
			v.Verdict = VerdictAllow
		}
		if v.Body != nil {
			body = v.Body
		}
	}
	if t.Log != nil {
		sum := sha256.Sum256(body)
		if _, err := t.Log.Append(req.Context(), Record{
			Host: req.URL.Host, Method: req.Method, Path: req.URL.Path,
			SHA256: hex.EncodeToString(sum[:]), Bytes: len(body),
			Verdict: v.Verdict, Rules: v.Rules, Body: string(body),
		}); err != nil {
			// Nothing leaves unrecorded.
			return nil, fmt.Errorf("egress not sent: %w", err)
		}
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}
