package hub_test

import (
	"fmt"

	"github.com/cogenesis/cogenesis/internal/hub"
)

func ExampleParseRef() {
	r, err := hub.ParseRef("hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf@main")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Owner, r.Repo, r.File, r.Revision)
	fmt.Println(r.URL(hub.DefaultBaseURL))
	// Output:
	// Qwen Qwen2.5-0.5B-Instruct-GGUF qwen2.5-0.5b-instruct-q4_k_m.gguf main
	// https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf
}
