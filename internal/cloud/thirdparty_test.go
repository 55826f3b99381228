//go:build cgo

package cloud_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	openai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// TestOfficialGoClient drives cogen cloud with the official openai-go
// client: chat, streaming, logprobs, completions.
func TestOfficialGoClient(t *testing.T) {
	f := start(t, 2)
	c := openai.NewClient(option.WithBaseURL(f.srv.URL+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	chat, err := c.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
		Model:       "tiny",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me about the nodes")},
		MaxTokens:   openai.Int(16),
		Seed:        openai.Int(1),
		Logprobs:    openai.Bool(true),
		TopLogprobs: openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(chat.Choices) != 1 || chat.Choices[0].Message.Content == "" || len(chat.Choices[0].Logprobs.Content) == 0 {
		t.Fatalf("chat = %+v", chat)
	}
	if got := len(chat.Choices[0].Logprobs.Content[0].TopLogprobs); got != 2 {
		t.Errorf("%d top logprobs, want 2", got)
	}

	stream := c.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{
		Model:     "tiny",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me about the nodes")},
		MaxTokens: openai.Int(16),
		Seed:      openai.Int(1),
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != chat.Choices[0].Message.Content {
		t.Errorf("streamed %q, non-streamed %q", got, chat.Choices[0].Message.Content)
	}

	comp, err := c.Completions.New(t.Context(), openai.CompletionNewParams{
		Model:     "tiny",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1, 100, 200}},
		MaxTokens: openai.Int(4),
		Logprobs:  openai.Int(3),
		Echo:      openai.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	// openai-go's typed top_logprobs cannot hold the null first entry that
	// echo produces (as OpenAI's and vLLM's servers send it), so check the
	// raw list length instead.
	lp := comp.Choices[0].Logprobs
	var rawTop []map[string]float64
	if err := json.Unmarshal([]byte(lp.JSON.TopLogprobs.Raw()), &rawTop); err != nil {
		t.Fatal(err)
	}
	if n := 3 + int(comp.Usage.CompletionTokens); len(lp.Tokens) != n || len(lp.TokenLogprobs) != n || len(rawTop) != n || rawTop[0] != nil || len(rawTop[1]) != 3 {
		t.Errorf("completion logprobs do not cover %d tokens: %s", n, lp.RawJSON())
	}
}

// TestOfficialNodeClient drives cogen cloud with the npm openai package run
// by Node. make test installs the package into .cache/node.
func TestOfficialNodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		deptest.Missing(t, "node is not installed")
	}
	root := repoRoot(t)
	mod := filepath.Join(root, ".cache", "node", "node_modules", "openai")
	if _, err := os.Stat(mod); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm openai package missing at %s (make test installs it)", mod)
		}
		deptest.Missing(t, "npm openai package not installed (run make test, or npm install --prefix .cache/node openai): %v", err)
	}
	f := start(t, 2)
	cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "openai_client.mjs"), f.srv.URL+"/v1")
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(root, ".cache", "node", "node_modules"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, out)
	}
	for _, want := range []string{"chat ok", "stream ok", "logprobs ok", "completion ok"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("node output lacks %q:\n%s", want, out)
		}
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}
