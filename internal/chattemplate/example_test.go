package chattemplate_test

import (
	"fmt"

	"github.com/cogenesis/cogenesis/internal/chattemplate"
	"github.com/cogenesis/cogenesis/llm"
)

func ExampleRenderOrChatML() {
	msgs := []llm.Message{
		{Role: llm.RoleSystem, Content: "Be brief."},
		{Role: llm.RoleUser, Content: "What is {{ 6*7 }}?"},
	}
	// The model ships no template, so ChatML is used.
	prompt, fallback, err := chattemplate.RenderOrChatML("", msgs, chattemplate.Options{AddGenerationPrompt: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("fallback:", fallback)
	fmt.Print(prompt)
	// Output:
	// fallback: true
	// <|im_start|>system
	// Be brief.<|im_end|>
	// <|im_start|>user
	// What is {{ 6*7 }}?<|im_end|>
	// <|im_start|>assistant
}
