package judge_test

import (
	"fmt"
	"strings"

	"github.com/cogenesis/cogenesis/internal/eval/judge"
)

func ExampleParseRating() {
	answer := `The format is "[[rating]]", for example: "Rating: [[5]]".
The response follows the user's style closely.

Rating: [[8]]`
	r, err := judge.ParseRating(answer)
	fmt.Println(r, err)
	// Output: 8 <nil>
}

func ExamplePrompt() {
	system, user := judge.Prompt(judge.OverallNoProfile, judge.Input{
		Question: "Write a haiku about rain.",
		Answer:   "Soft rain on the roof...",
	})
	fmt.Println(system)
	// Print from the question on; the instruction paragraph comes first.
	fmt.Println(user[strings.Index(user, "[Question]"):])
	// Output:
	// You are a helpful assistant.
	// [Question]
	// Write a haiku about rain.
	//
	// [The Start of Assistant's Answer]
	// Soft rain on the roof...
	// [The End of Assistant's Answer]
}

func ExampleCompare() {
	fmt.Println(judge.Compare(8, 7), judge.Compare(7, 7), judge.Compare(6.5, 7))
	// Output: win tie lose
}
