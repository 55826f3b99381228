package openaiapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name   string
		header func(now time.Time) string
		want   time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, 7 * time.Second},
		{"http date", func(now time.Time) string { return now.Add(9 * time.Second).UTC().Format(http.TimeFormat) }, 9 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var (
					mu    sync.Mutex
					times []time.Time
				)
				cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					times = append(times, time.Now())
					n := len(times)
					mu.Unlock()
					if n == 1 {
						w.Header().Set("Retry-After", tt.header(time.Now()))
						writeJSON(t, w, http.StatusTooManyRequests, ErrorResponse{Error: ErrorDetail{Message: "slow down", Type: "rate_limit_error"}})
						return
					}
					writeJSON(t, w, http.StatusOK, okChatResponse("hi"))
				}))
				c := mustNew(t, cfg)
				resp, err := c.Chat(t.Context(), chatReq())
				if err != nil {
					t.Fatalf("Chat: %v", err)
				}
				if got := resp.Choices[0].Message.Content; got != "hi" {
					t.Errorf("content = %q, want hi", got)
				}
				if len(times) != 2 {
					t.Fatalf("server saw %d requests, want 2", len(times))
				}
				if got := times[1].Sub(times[0]); got != tt.want {
					t.Errorf("retried after %v, want exactly the Retry-After %v", got, tt.want)
				}
				if got := c.Requests(); got != 2 {
					t.Errorf("Requests() = %d, want 2", got)
				}
				if diff := cmp.Diff(okChatResponse("").Usage, ptr(c.Usage())); diff != "" {
					t.Errorf("usage counts only the successful answer (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestRetryServerErrorThenSuccess(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int32
				cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if n.Add(1) <= 2 {
						w.WriteHeader(status)
						return
					}
					writeJSON(t, w, http.StatusOK, okChatResponse("ok"))
				}))
				start := time.Now()
				if _, err := mustNew(t, cfg).Chat(t.Context(), chatReq()); err != nil {
					t.Fatalf("Chat: %v", err)
				}
				if got := n.Load(); got != 3 {
					t.Errorf("server saw %d requests, want 3", got)
				}
				// Full jitter: each wait is at most MinBackoff << attempt.
				if el, max := time.Since(start), cfg.MinBackoff+2*cfg.MinBackoff; el > max {
					t.Errorf("retries took %v, backoff allows at most %v", el, max)
				}
			})
		})
	}
}

func TestRetryServerErrorForever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			writeJSON(t, w, http.StatusInternalServerError, ErrorResponse{Error: ErrorDetail{Message: "engine died", Type: "server_error", Code: "500"}})
		}))
		_, err := mustNew(t, cfg).Chat(t.Context(), chatReq())
		apiErr, ok := errors.AsType[*APIError](err)
		if !ok {
			t.Fatalf("err = %v, want an *APIError", err)
		}
		want := &APIError{Status: 500, Type: "server_error", Code: "500", Message: "engine died"}
		if diff := cmp.Diff(want, apiErr); diff != "" {
			t.Errorf("APIError (-want +got):\n%s", diff)
		}
		if got := n.Load(); got != 4 {
			t.Errorf("server saw %d requests, want 1 + MaxRetries(3)", got)
		}
		if !strings.Contains(err.Error(), "giving up after 4 attempts") {
			t.Errorf("err = %q, want it to say how many attempts", err)
		}
		if strings.Contains(err.Error(), promptMarker) {
			t.Errorf("error quotes the request: %q", err)
		}
	})
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int32
				cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n.Add(1)
					w.Header().Set("Retry-After", "1")
					writeJSON(t, w, status, ErrorResponse{Error: ErrorDetail{Message: "no", Type: "invalid_request_error"}})
				}))
				_, err := mustNew(t, cfg).Chat(t.Context(), chatReq())
				if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.Status != status {
					t.Errorf("err = %v, want *APIError with status %d", err, status)
				}
				if got := n.Load(); got != 1 {
					t.Errorf("server saw %d requests, want 1", got)
				}
			})
		})
	}
}

func TestRetryDroppedConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				_ = conn.Close() // drop the connection without an answer
				return
			}
			writeJSON(t, w, http.StatusOK, okChatResponse("ok"))
		}))
		if _, err := mustNew(t, cfg).Chat(t.Context(), chatReq()); err != nil {
			t.Fatalf("Chat: %v", err)
		}
		if got := n.Load(); got != 2 {
			t.Errorf("server saw %d requests, want 2", got)
		}
	})
}

func TestHangPastTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			readBody(t, r)       // the server notices a closed connection only after the body
			<-r.Context().Done() // hang until the client gives up
		}))
		cfg.MaxRetries = 2
		start := time.Now()
		_, err := mustNew(t, cfg).Chat(t.Context(), chatReq())
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if got := n.Load(); got != 3 {
			t.Errorf("server saw %d requests, want 3", got)
		}
		if el := time.Since(start); el < 3*cfg.Timeout {
			t.Errorf("gave up after %v, want at least 3 timeouts of %v", el, cfg.Timeout)
		}
	})
}

func TestRetryStopsAtContextDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := mustNew(t, cfg).Chat(ctx, chatReq())
		if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.Status != 503 {
			t.Errorf("err = %v, want the 503", err)
		}
		if el := time.Since(start); el != 0 {
			t.Errorf("waited %v although the deadline was before the Retry-After", el)
		}
		if got := n.Load(); got != 1 {
			t.Errorf("server saw %d requests, want 1", got)
		}
	})
}

func TestStreamRetriesBeforeFirstByteOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch n.Add(1) {
			case 1:
				w.WriteHeader(http.StatusServiceUnavailable)
			default:
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: "+`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`+"\n\n")
				// Then the connection drops: no retry may follow.
			}
		}))
		var text string
		var err error
		for chunk, e := range mustNew(t, cfg).ChatStream(t.Context(), chatReq()) {
			if e != nil {
				err = e
				break
			}
			text += chunk.Choices[0].Delta.Content
		}
		if text != "a" || !errors.Is(err, ErrStreamTruncated) {
			t.Errorf("text %q, err %v; want \"a\" then ErrStreamTruncated", text, err)
		}
		if got := n.Load(); got != 2 {
			t.Errorf("server saw %d requests, want 2 (one retry before the first byte, none after)", got)
		}
	})
}

func TestStreamIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			readBody(t, r)
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: "+`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`+"\n\n")
			_ = http.NewResponseController(w).Flush()
			<-r.Context().Done() // stall
		}))
		start := time.Now()
		var chunks int
		var err error
		for _, e := range mustNew(t, cfg).ChatStream(t.Context(), chatReq()) {
			if e != nil {
				err = e
				break
			}
			chunks++
		}
		if chunks != 1 || !errors.Is(err, ErrTimeout) {
			t.Errorf("%d chunks, err %v; want 1 chunk then ErrTimeout", chunks, err)
		}
		if el := time.Since(start); el != cfg.Timeout {
			t.Errorf("stalled stream ended after %v, want the idle timeout %v", el, cfg.Timeout)
		}
	})
}

func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu    sync.Mutex
			times []time.Time
		)
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			writeJSON(t, w, http.StatusOK, okChatResponse("ok"))
		}))
		cfg.RateLimit = 4 // one request every 250ms, burst 1
		c := mustNew(t, cfg)
		start := time.Now()
		for range 5 {
			if _, err := c.Chat(t.Context(), chatReq()); err != nil {
				t.Fatalf("Chat: %v", err)
			}
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < 250*time.Millisecond {
				t.Errorf("requests %d and %d %v apart, rate limit allows 250ms", i-1, i, gap)
			}
		}
		if el := time.Since(start); el != time.Second {
			t.Errorf("5 requests at 4/s took %v, want 1s", el)
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, calls = 2, 6
		var inFlight, peak atomic.Int32
		release := make(chan struct{})
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			inFlight.Add(-1)
			writeJSON(t, w, http.StatusOK, okChatResponse("ok"))
		}))
		cfg.Concurrency = limit
		c := mustNew(t, cfg)
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range calls {
			wg.Go(func() {
				_, err := c.Chat(t.Context(), chatReq())
				errs <- err
			})
		}
		synctest.Wait() // every call is either at the server or waiting for a slot
		if got := inFlight.Load(); got != limit {
			t.Errorf("%d requests in flight, want the limit %d", got, limit)
		}
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Chat: %v", err)
			}
		}
		if got := peak.Load(); got != limit {
			t.Errorf("peak in flight %d, want %d", got, limit)
		}
	})
}

func TestBackoffBounds(t *testing.T) {
	c := mustNew(t, Config{BaseURL: "http://x.test/v1", HTTPClient: &http.Client{}, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	tests := []struct {
		attempt int
		ceil    time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{60, time.Second},
	}
	for _, tt := range tests {
		var maxSeen time.Duration
		for range 2000 {
			d := c.backoff(tt.attempt)
			if d < 0 || d > tt.ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", tt.attempt, d, tt.ceil)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < tt.ceil/2 {
			t.Errorf("backoff(%d) never above %v in 2000 draws: no jitter up to %v", tt.attempt, maxSeen, tt.ceil)
		}
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "3", 3 * time.Second},
		{"fraction", "0.5", 500 * time.Millisecond},
		{"negative", "-4", 0},
		{"date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.header, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

// TestStreamSlowConsumer checks that the idle timeout counts only the wait
// for the server, not the time the consumer holds an event.
func TestStreamSlowConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		more := make(chan struct{})
		cfg := pipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			readBody(t, r)
			w.Header().Set("Content-Type", "text/event-stream")
			for i, s := range []string{"a", "b"} {
				if i > 0 {
					select {
					case <-more: // the consumer has finished with the last event
					case <-r.Context().Done():
						return
					}
				}
				_, _ = io.WriteString(w, "data: "+`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"`+s+`"},"finish_reason":null}]}`+"\n\n")
				_ = http.NewResponseController(w).Flush()
			}
			_, _ = io.WriteString(w, "data: [DONE]\n\n")
		}))
		var text string
		for chunk, err := range mustNew(t, cfg).ChatStream(t.Context(), chatReq()) {
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			text += chunk.Choices[0].Delta.Content
			if len(text) == 1 {
				<-time.After(2 * cfg.Timeout) // fake time: the consumer works longer than the timeout
				close(more)
			}
		}
		if text != "ab" {
			t.Errorf("text %q, want ab", text)
		}
	})
}
