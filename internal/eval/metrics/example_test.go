package metrics_test

import (
	"fmt"

	"github.com/cogenesis/cogenesis/internal/eval/metrics"
)

func ExampleBLEU() {
	s, err := metrics.BLEU(
		[]string{"the cat sat on the mat"},
		[][]string{{"the cat sat on the mat"}},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("BLEU %.2f, bp %.2f, %d/%d tokens\n", s.BLEU, s.BrevityPenalty, s.TranslationLength, s.ReferenceLength)
	// Output: BLEU 1.00, bp 1.00, 6/6 tokens
}

func ExampleROUGEL() {
	// LCS "the cat on mat" = 4 tokens: P = 4/5, R = 4/6.
	s := metrics.ROUGEL("The cat on a mat.", "the cat sat on the mat")
	fmt.Printf("P %.3f R %.3f F %.3f\n", s.Precision, s.Recall, s.F)
	// Output: P 0.800 R 0.667 F 0.727
}

func ExampleTokenize13a() {
	fmt.Printf("%q\n", metrics.Tokenize13a("Hello, world! It costs $3.50."))
	// Output: ["Hello" "," "world" "!" "It" "costs" "$" "3.50" "."]
}
