//go:build cgo

package cli_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/gguf"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// cogen cloud has no users of its own: beyond loopback it needs a key, and
// the refusal comes before the model is loaded.
func TestCloudRefusesOpenBindWithoutKey(t *testing.T) {
	t.Setenv("COGEN_CLOUD_API_KEY", "")
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		_, _, err := run(t, "cloud", "--model", "/nonexistent.gguf", "--addr", addr)
		if !errors.Is(err, httpapi.ErrKeyRequired) {
			t.Errorf("--addr %s without a key: err = %v, want ErrKeyRequired", addr, err)
		}
	}
}

// startCloud runs cogen cloud with the shared model on a free loopback
// port and the given flags, and returns its base URL (…/v1) and the two
// lines it prints on starting. The server stops with the test.
func startCloud(t *testing.T, args ...string) (string, []string) {
	t.Helper()
	model := enginetest.SharedModel(t)
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, append([]string{"cloud", "--model", model, "--addr", "127.0.0.1:0", "--threads", "1", "--parallel", "1"}, args...), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cogen cloud: %v", err)
		}
	})
	br := bufio.NewReader(pr)
	var lines []string
	for range 2 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("cogen cloud's line %d: %v (so far %q)", len(lines)+1, err, lines)
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	go func() { _, _ = io.Copy(io.Discard, br) }()
	m := regexp.MustCompile(`on (http://\S+/v1) `).FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("first line %q names no URL", lines[0])
	}
	return m[1], lines
}

func TestCloudAPIKey(t *testing.T) {
	t.Setenv("COGEN_CLOUD_API_KEY", "from-the-environment")
	url, lines := startCloud(t)
	if !strings.Contains(lines[0], "bearer token required") {
		t.Fatalf("first line %q does not say a token is required", lines[0])
	}
	get := func(auth string) int {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/models", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(""); got != http.StatusUnauthorized {
		t.Errorf("no key: status %d, want 401", got)
	}
	if got := get("from-the-environment"); got != http.StatusOK {
		t.Errorf("the key from COGEN_CLOUD_API_KEY: status %d, want 200", got)
	}
}

// TestCloudMaxModelLen serves the shared model, whose GGUF says it was
// trained on a context of 128 tokens, and checks that cogen cloud serves
// and reports that context by default (as vLLM derives max_model_len),
// refuses a longer request with vLLM's message, and serves more only when
// --max-model-len asks, saying that this exceeds the training context.
func TestCloudMaxModelLen(t *testing.T) {
	t.Setenv("COGEN_CLOUD_API_KEY", "")
	g, err := gguf.Open(enginetest.SharedModel(t))
	if err != nil {
		t.Fatal(err)
	}
	n, ok := g.ContextLength()
	trained := int(n)
	if !ok || trained != 128 {
		t.Fatalf("the shared model's training context: %d (%v), want 128", n, ok)
	}
	tests := []struct {
		name     string
		args     []string
		want     int    // max_model_len
		note     string // in the second line
		prompt   int    // a prompt of this many tokens
		maxTok   int    // and this max_tokens
		wantCode int
		wantMsg  string // in the error
	}{
		{"default: the training context", nil, trained, "is the model's training context", 120, 8, 200, ""},
		{"default refuses past it", nil, trained, "is the model's training context", 120, 16, 400,
			"This model's maximum context length is 128 tokens. However, you requested 136 tokens (120 in the messages, 16 in the completion)."},
		{"default refuses a long prompt", nil, trained, "is the model's training context", 200, 0, 400,
			"This model's maximum context length is 128 tokens. However, you requested 200 tokens (200 in the messages, 0 in the completion)."},
		{"--max-model-len beyond it", []string{"--max-model-len", "512"}, 512, "exceeds the model's training context of 128 tokens", 200, 16, 200, ""},
		{"--max-model-len within it", []string{"--max-model-len", "64"}, 64, "is within the model's training context of 128 tokens", 60, 8, 400,
			"This model's maximum context length is 64 tokens. However, you requested 68 tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, lines := startCloud(t, tt.args...)
			if want := fmt.Sprintf("max_model_len %d,", tt.want); !strings.Contains(lines[0], want) {
				t.Errorf("first line %q lacks %q", lines[0], want)
			}
			if !strings.Contains(lines[1], tt.note) {
				t.Errorf("second line %q lacks %q", lines[1], tt.note)
			}
			c, err := openaiapi.New(openaiapi.Config{BaseURL: url, Kind: openaiapi.KindVLLM, MaxRetries: -1, Timeout: time.Minute, HTTPClient: http.DefaultClient})
			if err != nil {
				t.Fatal(err)
			}
			ml, err := c.Models(t.Context())
			if err != nil || len(ml.Data) != 1 || ml.Data[0].MaxModelLen != tt.want {
				t.Errorf("GET /v1/models: %+v, %v; want max_model_len %d", ml, err, tt.want)
			}
			prompt := make([]int32, tt.prompt)
			for i := range prompt {
				prompt[i] = int32(100 + i%200)
			}
			_, err = c.Complete(t.Context(), openaiapi.CompletionRequest{Prompt: openaiapi.TokenPrompt(prompt), MaxTokens: &tt.maxTok, Temperature: new(0.0)})
			if tt.wantCode == 200 {
				if err != nil {
					t.Errorf("%d prompt + %d tokens: %v", tt.prompt, tt.maxTok, err)
				}
				return
			}
			ae, ok := errors.AsType[*openaiapi.APIError](err)
			if !ok || ae.Status != tt.wantCode || !strings.Contains(ae.Message, tt.wantMsg) {
				t.Fatalf("%d prompt + %d tokens: %v, want %d %q", tt.prompt, tt.maxTok, err, tt.wantCode, tt.wantMsg)
			}
			if !errors.Is(err, openaiapi.ErrContextExceeded) || ae.ContextSize != tt.want {
				t.Errorf("the client reads no context error of %d tokens from %+v", tt.want, ae)
			}
		})
	}
}

func TestCloudMaxModelLenUsage(t *testing.T) {
	t.Setenv("COGEN_CLOUD_API_KEY", "")
	for _, args := range [][]string{{"--max-model-len", "1024", "--ctx", "512"}, {"--max-model-len", "-1"}} {
		_, _, err := run(t, append([]string{"cloud", "--model", "/nonexistent.gguf"}, args...)...)
		if _, ok := errors.AsType[*cli.UsageError](err); !ok {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}
