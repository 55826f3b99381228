package openaiapi

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/cogenesis/cogenesis/llm"
)

// These tests show wire compatibility with the official openai-go v3
// client: the JSON it sends decodes with this package's request types
// (unknown fields rejected), and this package's responses decode in it.

func officialClient(t *testing.T, h http.Handler) openai.Client {
	t.Helper()
	cfg := loopServer(t, KindVLLM, h)
	return openai.NewClient(
		option.WithBaseURL(cfg.BaseURL+"/"),
		option.WithAPIKey("test-key"),
		option.WithMaxRetries(0),
	)
}

func TestOpenAIGoChatRequestDecodes(t *testing.T) {
	var got ChatCompletionRequest
	resp := okChatResponse("Paris")
	resp.Choices[0].Logprobs = &ChatLogprobs{Content: []ChatTokenLogprob{{
		Token: "Paris", Logprob: -0.01, Bytes: []int{80, 97, 114, 105, 115},
		TopLogprobs: []ChatTopLogprob{{Token: "Paris", Logprob: -0.01}, {Token: "Lyon", Logprob: -4.6}},
	}}}
	client := officialClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := decodeStrict(readBody(t, r), &got); err != nil {
			t.Errorf("openai-go chat request does not decode strictly: %v", err)
		}
		writeJSON(t, w, http.StatusOK, resp)
	}))
	schema := map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}
	out, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
		Model:               "m",
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("capital of France?")},
		Logprobs:            openai.Bool(true),
		TopLogprobs:         openai.Int(5),
		Seed:                openai.Int(42),
		Temperature:         openai.Float(0.25),
		TopP:                openai.Float(0.5),
		MaxTokens:           openai.Int(10),
		MaxCompletionTokens: openai.Int(20),
		Stop:                openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"\n", "END"}},
		User:                openai.String("u1"),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "answer", Schema: schema, Strict: openai.Bool(true)},
		}},
	})
	if err != nil {
		t.Fatalf("openai-go chat: %v", err)
	}
	schemaJSON, _ := json.Marshal(schema) // a map of strings always encodes
	want := ChatCompletionRequest{
		Model:    "m",
		Messages: []ChatMessage{{Role: llm.RoleSystem, Content: "be brief"}, {Role: llm.RoleUser, Content: "capital of France?"}},
		Logprobs: true, TopLogprobs: 5, Seed: ptr(int64(42)), Temperature: ptr(0.25), TopP: ptr(0.5),
		MaxTokens: ptr(10), MaxCompletionTokens: ptr(20), Stop: Stop{"\n", "END"}, User: "u1",
		ResponseFormat: &ResponseFormat{Type: ResponseFormatJSONSchema, JSONSchema: &JSONSchema{Name: "answer", Schema: schemaJSON, Strict: true}},
	}
	if diff := cmp.Diff(want, got, cmp.Transformer("json", compactJSON)); diff != "" {
		t.Errorf("decoded openai-go request (-want +got):\n%s", diff)
	}
	if out.Choices[0].Message.Content != "Paris" || out.Usage.TotalTokens != 4 {
		t.Errorf("openai-go read content %q, usage %d", out.Choices[0].Message.Content, out.Usage.TotalTokens)
	}
	if lp := out.Choices[0].Logprobs.Content; len(lp) != 1 || len(lp[0].TopLogprobs) != 2 || lp[0].TopLogprobs[1].Token != "Lyon" {
		t.Errorf("openai-go read logprobs %+v", lp)
	}
}

// TestOpenAIGoCompletionWithPromptLogprobs shows that openai-go v3 can
// carry vLLM's prompt_logprobs: the request field through
// option.WithJSONSet, the answer through the choice's JSON.ExtraFields.
func TestOpenAIGoCompletionWithPromptLogprobs(t *testing.T) {
	var got CompletionRequest
	client := officialClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := decodeStrict(readBody(t, r), &got); err != nil {
			t.Errorf("openai-go completion request does not decode strictly: %v", err)
		}
		writeJSON(t, w, http.StatusOK, CompletionResponse{
			ID: "c", Object: ObjectTextCompletion, Created: 1, Model: "m",
			Choices: []CompletionChoice{{
				Text: "!", FinishReason: FinishLength,
				Logprobs:       &CompletionLogprobs{Tokens: []string{"!"}, TokenLogprobs: []*float64{ptr(-0.5)}, TopLogprobs: []map[string]float64{{"!": -0.5}}, TextOffset: []int{0}},
				PromptLogprobs: PromptLogprobs{nil, {2: {Logprob: -1.25, Rank: 1, DecodedToken: "b"}}},
			}},
		})
	}))
	out, err := client.Completions.New(t.Context(), openai.CompletionNewParams{
		Model:     "m",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{1, 2}},
		Echo:      openai.Bool(true),
		Logprobs:  openai.Int(3),
		MaxTokens: openai.Int(1),
		Seed:      openai.Int(7),
	}, option.WithJSONSet("prompt_logprobs", 3), option.WithJSONSet("return_tokens_as_token_ids", true))
	if err != nil {
		t.Fatalf("openai-go completion: %v", err)
	}
	want := CompletionRequest{
		Model: "m", Prompt: TokenPrompt([]int32{1, 2}), Echo: true, Logprobs: ptr(3), MaxTokens: ptr(1), Seed: ptr(int64(7)),
		PromptLogprobs: ptr(3), ReturnTokensAsTokenIDs: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded openai-go request (-want +got):\n%s", diff)
	}
	field, ok := out.Choices[0].JSON.ExtraFields["prompt_logprobs"]
	if !ok {
		t.Fatalf("openai-go dropped prompt_logprobs; extra fields %v", out.Choices[0].JSON.ExtraFields)
	}
	var pl PromptLogprobs
	if err := json.Unmarshal([]byte(field.Raw()), &pl); err != nil {
		t.Fatalf("decode prompt_logprobs from openai-go: %v", err)
	}
	if diff := cmp.Diff(PromptLogprobs{nil, {2: {Logprob: -1.25, Rank: 1, DecodedToken: "b"}}}, pl); diff != "" {
		t.Errorf("prompt_logprobs via openai-go (-want +got):\n%s", diff)
	}
}

func TestOpenAIGoReadsOurStream(t *testing.T) {
	chunks := []ChatCompletionChunk{
		{ID: "c", Object: ObjectChatCompletionChunk, Created: 1, Model: "m", Choices: []ChatChunkChoice{{Delta: ChatDelta{Role: llm.RoleAssistant, Content: "Hel"}}}},
		{ID: "c", Object: ObjectChatCompletionChunk, Created: 1, Model: "m", Choices: []ChatChunkChoice{{Delta: ChatDelta{Content: "lo"}, FinishReason: FinishStop}}},
		{ID: "c", Object: ObjectChatCompletionChunk, Created: 1, Model: "m", Choices: []ChatChunkChoice{}, Usage: &llm.Usage{PromptTokens: 2, CompletionTokens: 2, TotalTokens: 4}},
	}
	var got ChatCompletionRequest
	client := officialClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := decodeStrict(readBody(t, r), &got); err != nil {
			t.Errorf("openai-go stream request does not decode strictly: %v", err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range chunks {
			b, err := json.Marshal(c)
			if err != nil {
				t.Errorf("encode chunk: %v", err)
			}
			_, _ = io.WriteString(w, "data: "+string(b)+"\n\n")
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	stream := client.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{
		Model:         "m",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("openai-go stream: %v", err)
	}
	if !got.Stream || got.StreamOptions == nil || !got.StreamOptions.IncludeUsage {
		t.Errorf("decoded stream request %+v", got)
	}
	if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "Hello" || acc.Choices[0].FinishReason != "stop" || acc.Usage.TotalTokens != 4 {
		t.Errorf("openai-go accumulated %+v", acc.ChatCompletion)
	}
}
