package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/httpapi"
)

func TestRequireBearer(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	key := httpapi.NewKey("k-")
	if len(key) != 2+64 || !strings.HasPrefix(key, "k-") {
		t.Fatalf("NewKey = %q", key)
	}
	if key == httpapi.NewKey("k-") {
		t.Fatal("NewKey repeats")
	}
	h := httpapi.RequireBearer(key, ok)
	for _, tt := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Basic " + key, http.StatusUnauthorized},
		{"Bearer " + key[:len(key)-1], http.StatusUnauthorized},
		{"Bearer " + key, http.StatusNoContent},
	} {
		req := httptest.NewRequest("POST", "/v1/completions", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("Authorization %q: status %d, want %d", tt.auth, rec.Code, tt.want)
		}
		if rec.Code == http.StatusUnauthorized && !strings.Contains(rec.Body.String(), "authentication_error") {
			t.Errorf("401 body %s is not an OpenAI error", rec.Body)
		}
	}
	// No key: everything passes.
	rec := httptest.NewRecorder()
	httpapi.RequireBearer("", ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("no key: status %d", rec.Code)
	}
}

func TestCheckBind(t *testing.T) {
	for _, tt := range []struct {
		addr, key string
		ok        bool
	}{
		{"127.0.0.1:8088", "", true},
		{"localhost:8088", "", true},
		{"[::1]:8088", "", true},
		{"127.9.9.9:1", "", true},
		{"0.0.0.0:8088", "", false},
		{":8088", "", false},
		{"192.0.2.1:8088", "", false},
		{"[::]:8088", "", false},
		{"0.0.0.0:8088", "secret", true},
		{"nonsense", "", false},
	} {
		err := httpapi.CheckBind(tt.addr, tt.key, "pass --api-key")
		if (err == nil) != tt.ok {
			t.Errorf("CheckBind(%q, %q) = %v, want ok=%v", tt.addr, tt.key, err, tt.ok)
		}
		if err != nil && tt.addr != "nonsense" && !errors.Is(err, httpapi.ErrKeyRequired) {
			t.Errorf("CheckBind(%q): %v does not match ErrKeyRequired", tt.addr, err)
		}
	}
}

// A web page may send a request to a loopback server without asking it
// first only with no content type, text/plain or a form; Decode refuses
// all of them.
func TestDecodeWantsJSON(t *testing.T) {
	for _, tt := range []struct {
		ct   string
		want int // 0: decoded
	}{
		{"", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"text/plain;charset=UTF-8", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/jsonx", http.StatusUnsupportedMediaType},
		{"application/json", 0},
		{"application/json; charset=utf-8", 0},
		{"Application/JSON", 0},
	} {
		req := httptest.NewRequest("POST", "/v1/completions", strings.NewReader(`{"a":1}`))
		if tt.ct != "" {
			req.Header.Set("Content-Type", tt.ct)
		}
		var v struct{ A int }
		err := httpapi.Decode(req, &v)
		var he *httpapi.Error
		switch {
		case tt.want == 0 && (err != nil || v.A != 1):
			t.Errorf("content type %q: %v, decoded %+v", tt.ct, err, v)
		case tt.want != 0 && (!errors.As(err, &he) || he.Status != tt.want):
			t.Errorf("content type %q: err = %v, want status %d", tt.ct, err, tt.want)
		}
	}
}
