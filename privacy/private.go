package privacy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// Private is text from the user's private context. It never leaves the
// device: it has no String method, fmt and log/slog print only its length
// and a hash prefix, and JSON and text marshaling refuse it.
//
// The zero value is the empty text. A Private is immutable and safe for
// concurrent use.
type Private struct {
	// The text sits behind a pointer so that printing a struct that holds a
	// Private in an unexported field (where fmt cannot call Format) shows an
	// address, not the text.
	v *privateText
}

// privateText holds the text masked (XORed with the process key), so that
// even fmt's fallback printing of an unexported field, which cannot call
// Format, shows no private byte.
type privateText struct{ masked []byte }

func maskBytes(b []byte) []byte {
	k := processKey()
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ k[i%len(k)]
	}
	return out
}

// NewPrivate marks s as private. Anything may be made private; only the
// reverse direction is controlled.
func NewPrivate(s string) Private {
	if s == "" {
		return Private{}
	}
	return Private{v: &privateText{masked: maskBytes([]byte(s))}}
}

// UnsafeText returns the private text. Call it only on the device-only
// path: to build a prompt for the local model, to feed a [Guard], or to
// write the user's own files. Never pass its result to a cloud client, a
// logger, an error or an audit record.
func (p Private) UnsafeText() string {
	if p.v == nil {
		return ""
	}
	return string(maskBytes(p.v.masked))
}

// Len reports the length of the text in bytes.
func (p Private) Len() int {
	if p.v == nil {
		return 0
	}
	return len(p.v.masked)
}

// IsZero reports whether the text is empty.
func (p Private) IsZero() bool { return p.Len() == 0 }

// Equal reports whether p and q hold the same text. go-cmp uses it.
func (p Private) Equal(q Private) bool { return p.UnsafeText() == q.UnsafeText() }

// redacted is the only rendering of a Private that exists.
func (p Private) redacted() string {
	return fmt.Sprintf("private(len=%d sha=%s)", p.Len(), fingerprint(p.UnsafeText()))
}

// Format implements [fmt.Formatter]. Every verb, flag and width prints the
// same placeholder, private(len=N sha=xxxxxxxx), never the text.
func (p Private) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte(p.redacted())) // fmt.State writes do not fail meaningfully
}

// LogValue implements [slog.LogValuer] with the same placeholder as Format.
func (p Private) LogValue() slog.Value { return slog.StringValue(p.redacted()) }

// errMarshalPrivate is returned by Private's marshal methods.
var errMarshalPrivate = errors.New("privacy: refusing to marshal private text")

// MarshalJSON implements [json.Marshaler] by refusing: private context is
// never serialized by accident. Encode the user's own files from
// UnsafeText explicitly.
func (p Private) MarshalJSON() ([]byte, error) { return nil, errMarshalPrivate }

// MarshalText implements [encoding.TextMarshaler] by refusing, for the same
// reason as MarshalJSON (TOML, YAML and map-key encoders use it).
func (p Private) MarshalText() ([]byte, error) { return nil, errMarshalPrivate }

// processKey is a random key drawn once per process. Hash prefixes are
// keyed so that a log reader cannot invert short private values (an age, a
// city) by hashing candidates, while one process still prints the same
// prefix for the same text, so log lines can be correlated.
var processKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never returns an error
	return k
})

// fingerprint returns the first 8 hex digits of HMAC-SHA256(processKey, s).
func fingerprint(s string) string {
	h := hmac.New(sha256.New, processKey())
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// Public is text that may leave the device. Only this package makes one:
// from a [Guard] check that passed, from redaction, or from a constant in
// the program source ([PublicConst]). Cloud clients accept only Public.
//
// The zero value is the empty text. A Public is immutable and safe for
// concurrent use.
type Public struct{ s string }

// String returns the text.
func (p Public) String() string { return p.s }

// Len reports the length of the text in bytes.
func (p Public) Len() int { return len(p.s) }

// IsZero reports whether the text is empty.
func (p Public) IsZero() bool { return p.s == "" }

// MarshalJSON encodes the text as a JSON string. There is deliberately no
// UnmarshalJSON: decoding must not mint a Public.
func (p Public) MarshalJSON() ([]byte, error) { return jsonString(p.s), nil }

// constant is the parameter type of [PublicConst]. It is unexported, so
// outside this package only an untyped string constant converts to it
// implicitly: a string variable, a function result or a concatenation that
// involves a variable does not compile.
type constant string

// PublicConst makes a Public from a string constant written in the program
// source, such as a system prompt or a prompt template. The compiler
// enforces that s is a constant (see the unexported parameter type), so
// user-derived text cannot reach the cloud this way; it must pass a
// [Guard]. Every call site is greppable for audit.
//
//	sys := privacy.PublicConst("You are now a helpful personal AI assistant.")
func PublicConst(s constant) Public {
	declare(string(s))
	return Public{s: string(s)}
}

// minDeclared is the shortest declared constant the guard discounts;
// shorter ones (newlines, separators) hold no finding and would only cost
// searches.
const minDeclared = 4

// declared holds the program's own constant texts (those passed to
// [PublicConst]) long enough to matter. The guard discounts a finding
// that lies wholly inside a verbatim copy of one in the checked text: a
// prompt template's few-shot example that happens to share a phrase with
// the user's private history tells the cloud nothing about the user.
var declared sync.Map // string → struct{}

func declare(s string) {
	if len(s) >= minDeclared {
		declared.LoadOrStore(s, struct{}{})
	}
}

// declaredSpans returns the byte ranges of text that are verbatim copies of
// declared constants.
func declaredSpans(text string) [][2]int {
	var spans [][2]int
	declared.Range(func(k, _ any) bool {
		c := k.(string)
		for off := 0; ; {
			i := strings.Index(text[off:], c)
			if i < 0 {
				break
			}
			spans = append(spans, [2]int{off + i, off + i + len(c)})
			off += i + 1
		}
		return true
	})
	return spans
}

// Concat joins public texts. The result is public; the egress check
// ([Guard.CheckEgress]) still scans the final request as a backstop for
// private phrases that span the joins.
func Concat(parts ...Public) Public {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.s)
	}
	return Public{s: b.String()}
}
