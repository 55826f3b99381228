package openaiapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
)

func ExampleClient_Chat() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}`)
	}))
	defer srv.Close()

	c, err := openaiapi.New(openaiapi.Config{BaseURL: srv.URL + "/v1", Kind: openaiapi.KindVLLM, Model: "m", HTTPClient: srv.Client()})
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := c.Chat(context.Background(), openaiapi.ChatCompletionRequest{
		Messages: openaiapi.ChatMessages([]llm.Message{{Role: llm.RoleUser, Content: "Say hello."}}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Choices[0].Message.Content, c.Usage().TotalTokens)
	// Output: Hello! 6
}

func ExampleClient_NextTokenTopK() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// vLLM's answer to /v1/completions with a token-id prompt,
		// max_tokens 1, logprobs 2 and return_tokens_as_token_ids.
		_, _ = io.WriteString(w, `{"choices":[{"index":0,"text":" the","finish_reason":"length",
			"logprobs":{"tokens":["token_id:279"],"token_logprobs":[-0.4],
			"top_logprobs":[{"token_id:279":-0.4,"token_id:264":-1.6}],"text_offset":[0]}}]}`)
	}))
	defer srv.Close()

	c, err := openaiapi.New(openaiapi.Config{BaseURL: srv.URL + "/v1", Kind: openaiapi.KindVLLM, Model: "m", HTTPClient: srv.Client()})
	if err != nil {
		fmt.Println(err)
		return
	}
	top, err := c.NextTokenTopK(context.Background(), []int32{791, 6864, 315}, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range top {
		fmt.Printf("%d %.1f\n", t.Token, t.Logprob)
	}
	// Output:
	// 279 -0.4
	// 264 -1.6
}

func ExampleKind_Require() {
	err := openaiapi.KindOpenAI.Require(openaiapi.CapNextTokenTopK)
	fmt.Println(err)
	// Output: openai does not support next-token top-k
}
