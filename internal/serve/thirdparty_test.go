//go:build cgo

package serve_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	openai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cogenesis/cogenesis/internal/serve"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// TestOfficialGoClient drives cogen serve with the official openai-go
// client, unchanged: the model list, a completion and a stream, with the
// vault user in the user field and the bearer token as the API key.
func TestOfficialGoClient(t *testing.T) {
	f := start(t, options{token: "k3y"})
	user := f.small[0].ID
	c := openai.NewClient(option.WithBaseURL(f.srv.URL+"/v1"), option.WithAPIKey("k3y"), option.WithMaxRetries(0))
	models, err := c.Models.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	if !strings.Contains(strings.Join(ids, " "), "cogen-sketch") {
		t.Errorf("models %v lack cogen-sketch", ids)
	}
	params := openai.ChatCompletionNewParams{
		Model: "cogen-sketch",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Anything here is ignored."),
			openai.UserMessage("Write a note on my week: keep it short."),
		},
		User:        openai.String(user),
		MaxTokens:   openai.Int(16),
		Temperature: openai.Float(0.8),
		Seed:        openai.Int(1),
	}
	chat, err := c.Chat.Completions.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(chat.Choices) != 1 || chat.Choices[0].Message.Content == "" || chat.Model != "cogen-sketch" {
		t.Fatalf("chat = %s", chat.RawJSON())
	}

	stream := c.Chat.Completions.NewStreaming(t.Context(), params)
	var acc openai.ChatCompletionAccumulator
	weights := 0
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		var ext struct {
			Cogen *serve.Extension `json:"cogen"`
		}
		if err := json.Unmarshal([]byte(ch.RawJSON()), &ext); err == nil && ext.Cogen != nil && ext.Cogen.W != nil {
			weights++
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != chat.Choices[0].Message.Content {
		t.Errorf("streamed %q, non-streamed %q", got, chat.Choices[0].Message.Content)
	}
	if weights == 0 {
		t.Errorf("no chunk carried the small model's weight")
	}

	// Errors reach the client as OpenAI errors.
	bad := params
	bad.User = openai.String("nobody")
	_, err = c.Chat.Completions.New(t.Context(), bad)
	var apiErr *openai.Error
	if !errorsAs(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Errorf("unknown user: %v, want a 404 openai.Error", err)
	}
	wrongKey := openai.NewClient(option.WithBaseURL(f.srv.URL+"/v1"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	if _, err := wrongKey.Models.List(t.Context()); !errorsAs(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("wrong key: %v, want a 401 openai.Error", err)
	}
}

// TestOfficialNodeClient drives cogen serve with the npm openai package.
// make test installs the package into .cache/node.
func TestOfficialNodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		deptest.Missing(t, "node is not installed")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(wd, "..", "..")
	mods := filepath.Join(root, ".cache", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "openai")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm openai package missing at %s (make test installs it)", mods)
		}
		deptest.Missing(t, "npm openai package not installed (run make test, or npm install --prefix .cache/node openai): %v", err)
	}
	f := start(t, options{token: "k3y"})
	cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "openai_client.mjs"), f.srv.URL+"/v1", "k3y", f.small[0].ID)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, out)
	}
	for _, want := range []string{"models ok", "chat ok", "stream ok", "weights ok", "error ok"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("node output lacks %q:\n%s", want, out)
		}
	}
}
