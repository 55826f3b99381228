package collab_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// chatOnly is a cloud that only chats, recording what it was sent.
type chatOnly struct{ system, user []string }

func (c *chatOnly) Chat(_ context.Context, system, user privacy.Public, _ collab.ChatOptions) (string, error) {
	c.system, c.user = append(c.system, system.String()), append(c.user, user.String())
	return "A poem about the sea.", nil
}

func (c *chatOnly) NextTopK(context.Context, privacy.PublicTokens, int) ([]llm.TopLogprob, error) {
	return nil, errors.New("chat only")
}

func (c *chatOnly) ScoreWithNext(context.Context, privacy.PublicTokens, int) ([]llm.TokenLogprob, []llm.TopLogprob, error) {
	return nil, nil, errors.New("chat only")
}

func (c *chatOnly) Tokenize(context.Context, privacy.Public) ([]int32, error) {
	return nil, errors.New("chat only")
}

func (c *chatOnly) Can(openaiapi.Capability) error { return openaiapi.ErrUnsupported }

// TestLLMStrategyThroughChatSeam runs the llm strategy against a cloud
// given as an interface (no engine, no HTTP): the cloud gets the paper's
// system prompt and the public instruction with the user's name redacted.
func TestLLMStrategyThroughChatSeam(t *testing.T) {
	v := &privacy.Vault{Name: privacy.NewPrivate("Ada Quill")}
	cloud := &chatOnly{}
	r := &collab.Runner{Cloud: cloud, Guard: privacy.NewGuard(v)}
	task := collab.TaskFromVault(v, privacy.SplitTask("Write a poem for Ada Quill: about the sea"))
	res, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.LLM})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "A poem about the sea." || res.CloudCalls != 1 || len(cloud.user) != 1 {
		t.Fatalf("text %q, %d calls, %d chats", res.Text, res.CloudCalls, len(cloud.user))
	}
	if strings.Contains(cloud.user[0], "Quill") || res.Redactions == 0 {
		t.Errorf("the cloud got %q (%d redactions): the name was not redacted", cloud.user[0], res.Redactions)
	}
	if !strings.Contains(cloud.system[0], "helpful personal AI assistant") {
		t.Errorf("system prompt %q is not the paper's", cloud.system[0])
	}
	// Without a guard nothing is sent.
	r.Guard = nil
	if _, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.LLM}); err == nil || len(cloud.user) != 1 {
		t.Errorf("without a guard: err %v, %d chats", err, len(cloud.user))
	}
}
