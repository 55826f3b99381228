package audit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// Verdict is the guard's decision on one request.
type Verdict struct {
	// Verdict is VerdictAllow (the default when empty), VerdictRedact,
	// VerdictPrivate or VerdictBlock. A Check that returns VerdictBlock
	// without an error blocks all the same.
	Verdict string
	// Rules names the guard rules that matched (never the matched text).
	Rules []string
	// Body, when not nil, is sent instead of the request's body (the
	// redacted body).
	Body []byte
}

// Transport is the egress choke point: an [http.RoundTripper] that every
// cloud request passes through. For each request it reads the whole body,
// runs Check, appends a [Record] to Log, and only then sends the request,
// with Check's replacement body if it gave one, through Base. A nil Base
// sends nothing: the request fails (internal/egress gives the network).
//
// It fails closed: when Check returns an error (or a VerdictBlock), the
// request is not sent, a VerdictBlock record holding only the body's sha256
// and length is appended, and the returned error matches [ErrBlocked] and
// wraps Check's error. When the record cannot be appended, the request is
// not sent either. A nil Log records nothing (tests and benchmarks only); a
// nil Check records VerdictNone.
//
// Transport is safe for concurrent use if Base and Check are.
type Transport struct {
	Base  http.RoundTripper
	Log   *Log
	Check func(ctx context.Context, req *http.Request, body []byte) (Verdict, error)
	// Policy is written in every record (Record.Policy).
	Policy string
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip checks, records and sends req. It never modifies req and
// always closes its body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close() // the read error, if any, is the one to report
		if err != nil {
			return nil, fmt.Errorf("egress to %s: read request body: %w", req.URL.Host, err)
		}
		body = b
	} else if req.Body != nil {
		_ = req.Body.Close() // http.NoBody cannot fail
	}
	if t.Base == nil {
		return nil, fmt.Errorf("egress to %s not sent: no base transport", req.URL.Host)
	}
	rec := Record{Host: req.URL.Host, Method: req.Method, Path: req.URL.EscapedPath(), Policy: t.Policy}

	send := body
	if t.Check != nil {
		v, err := t.Check(ctx, req, body)
		if err == nil && v.Verdict == VerdictBlock {
			err = ErrBlocked
		}
		if err != nil {
			rec.Verdict, rec.Rules = VerdictBlock, v.Rules
			rec.SHA256, rec.Bytes = sum(body), len(body)
			if t.Log != nil {
				if _, lerr := t.Log.Append(ctx, rec); lerr != nil {
					return nil, fmt.Errorf("egress to %s: %w: %w (and the block was not recorded: %w)", req.URL.Host, ErrBlocked, err, lerr)
				}
			}
			return nil, fmt.Errorf("egress to %s: %w: %w", req.URL.Host, ErrBlocked, err)
		}
		rec.Verdict, rec.Rules = v.Verdict, v.Rules
		if rec.Verdict == "" {
			rec.Verdict = VerdictAllow
		}
		if v.Body != nil {
			send = v.Body
		}
	}
	rec.SetBody(send)
	if t.Log != nil {
		if _, err := t.Log.Append(ctx, rec); err != nil {
			// Nothing leaves unrecorded.
			return nil, fmt.Errorf("egress to %s not sent: %w", req.URL.Host, err)
		}
	}

	out := req.Clone(ctx)
	out.ContentLength = int64(len(send))
	switch {
	case req.Body == nil && len(send) == 0:
		out.Body, out.GetBody = nil, nil
	case req.Body == http.NoBody && len(send) == 0:
		out.Body, out.GetBody = http.NoBody, nil
	default:
		out.Body = io.NopCloser(bytes.NewReader(send))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(send)), nil }
	}
	return t.Base.RoundTrip(out)
}
