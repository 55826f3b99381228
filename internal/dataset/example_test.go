package dataset_test

import (
	"fmt"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

func ExampleLoad() {
	f, err := dataset.Load("testdata/context_small.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range f.Records {
		fmt.Printf("%s: user %s, %d history items, %d profile fields\n", r.TID, r.User(), len(r.History()), len(r.Fields()))
	}
	// Output:
	// 1_0_0: user 1_0_0, 1 history items, 2 profile fields
	// 1_0_1: user 1_0_1, 2 history items, 2 profile fields
	// 1_1_0: user 1_1_0, 1 history items, 2 profile fields
}

func ExampleValidate() {
	for _, p := range dataset.Validate("testdata/context_broken.json") {
		fmt.Println(p)
	}
	// Output:
	// testdata/context_broken.json: record 0 (tid 1_0_0): field "conversations[1].value": empty reference
	// testdata/context_broken.json: record 0 (tid 1_0_0): field "profile": empty writing history
	// testdata/context_broken.json: record 0 (tid 1_0_0): field "additional_profile": line 2: duplicate key (first on line 1)
	// testdata/context_broken.json: record 1: field "tid": want a string, got a number
	// testdata/context_broken.json: record 2: truncated JSON at byte 771
}

func ExampleFile_Split() {
	f, err := dataset.Load("testdata/context_small.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	s := f.Split(dataset.SplitOptions{Ratio: 0.5, Seed: 1})
	fmt.Println("train + validation records:", len(s.Train)+len(s.Validation))
	// Output:
	// train + validation records: 3
}

func ExampleBM25() {
	m := dataset.NewBM25([]string{
		"Lunch on Friday",
		"Quarterly review agenda: budget first",
		"Review of the review process",
	})
	fmt.Println(m.Rank("review budget"))
	// Output:
	// [1 2 0]
}
