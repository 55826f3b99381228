package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// ErrKeyRequired is returned by [CheckBind] for an address beyond
// loopback without a key.
var ErrKeyRequired = errors.New("serving beyond loopback needs a bearer token")

// LoopbackHost reports whether host (a host name or IP, with or without a
// port) names this machine's loopback interface.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckBind refuses a listen address beyond loopback when key is empty:
// whoever reaches such an address could use the server. hint says how to
// set a key ("pass --api-key or set COGEN_CLOUD_API_KEY").
func CheckBind(addr, key, hint string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if key != "" || (host != "" && LoopbackHost(host)) {
		return nil
	}
	if host == "" {
		host = "every interface"
	}
	return fmt.Errorf("address %s (%s): %w; %s, or bind 127.0.0.1", addr, host, ErrKeyRequired, hint)
}

// NewKey returns a random bearer token of 32 bytes in hex, with prefix.
func NewKey(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return prefix + hex.EncodeToString(b[:])
}

// RequireBearer serves h only to requests whose Authorization header is
// "Bearer KEY"; others get a 401 in OpenAI's shape. An empty key requires
// nothing.
func RequireBearer(key string, h http.Handler) http.Handler {
	if key == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(key)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cogen"`)
			WriteError(w, http.StatusUnauthorized, "authentication_error", "missing or wrong bearer token (Authorization: Bearer KEY)")
			return
		}
		h.ServeHTTP(w, r)
	})
}
