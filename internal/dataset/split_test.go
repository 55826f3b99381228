package dataset_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

// fileOf builds a File with records of the given tids.
func fileOf(tids ...string) *dataset.File {
	f := &dataset.File{Kind: dataset.KindContext}
	for _, id := range tids {
		f.Records = append(f.Records, dataset.Record{TID: id})
	}
	return f
}

func TestRecordUser(t *testing.T) {
	tests := []struct{ tid, user, prefix string }{
		{"3_7_4", "3_7_4", "3_7"},
		{"12_0_10", "12_0_10", "12_0"},
		{"161", "161", "161"},
		{"a_b", "a_b", "a_b"},
	}
	for _, tt := range tests {
		t.Run(tt.tid, func(t *testing.T) {
			r := dataset.Record{TID: tt.tid}
			if got := r.User(); got != tt.user {
				t.Errorf("User() = %q, want %q", got, tt.user)
			}
			if got := r.TIDPrefix(); got != tt.prefix {
				t.Errorf("TIDPrefix() = %q, want %q", got, tt.prefix)
			}
		})
	}
}

func TestSplitSmall(t *testing.T) {
	tests := []struct {
		name            string
		f               *dataset.File
		o               dataset.SplitOptions
		wantTrain, wVal int // records
	}{
		// 3 users: round(0.9 × 3) = 3 is clamped to 2 so validation is not empty.
		{"three users, 9:1", fileOf("1_0_0", "1_0_1", "1_1_0"), dataset.SplitOptions{}, 2, 1},
		{"two users, 9:1", fileOf("1_0_0", "1_1_0"), dataset.SplitOptions{}, 1, 1},
		{"everything to train", fileOf("1_0_0", "1_0_1", "1_1_0"), dataset.SplitOptions{Ratio: 1}, 3, 0},
		{"one user stays in train", fileOf("1_0_0"), dataset.SplitOptions{}, 1, 0},
		// A user's records (a tid that comes twice, which only a File
		// built in code can hold) stay on one side.
		{"a user's records together", fileOf("1_0_0", "1_0_0", "1_1_0"), dataset.SplitOptions{}, -1, -1},
		{"no records", fileOf(), dataset.SplitOptions{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.f.Split(tt.o)
			if tt.wantTrain >= 0 && (len(s.Train) != tt.wantTrain || len(s.Validation) != tt.wVal) {
				t.Errorf("split %d/%d records, want %d/%d", len(s.Train), len(s.Validation), tt.wantTrain, tt.wVal)
			}
			if tt.wantTrain < 0 {
				// One user on each side: user 1_0_0 has 2 records, 1_1_0 one.
				users := func(idx []int) map[string]bool {
					m := map[string]bool{}
					for _, i := range idx {
						m[tt.f.Records[i].User()] = true
					}
					return m
				}
				if len(users(s.Train)) != 1 || len(users(s.Validation)) != 1 {
					t.Errorf("train users %v, validation users %v; want one each", users(s.Train), users(s.Validation))
				}
			}
		})
	}
}

func TestSplitDevByUser(t *testing.T) {
	f, err := dataset.Load(sharedData(t, "context_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]bool{}
	for _, r := range f.Records {
		users[r.User()] = true
	}
	a := f.Split(dataset.SplitOptions{Seed: 7})
	if diff := cmp.Diff(a, f.Split(dataset.SplitOptions{Seed: 7})); diff != "" {
		t.Errorf("same seed, different split (-first +second):\n%s", diff)
	}
	if cmp.Equal(a, f.Split(dataset.SplitOptions{Seed: 8})) {
		t.Error("seeds 7 and 8 give the same split")
	}
	all := slices.Concat(a.Train, a.Validation)
	slices.Sort(all)
	for i, j := range all {
		if i != j {
			t.Fatalf("train and validation do not partition the records: index %d holds %d", i, j)
		}
	}
	side := map[string]string{}
	for name, idx := range map[string][]int{"train": a.Train, "validation": a.Validation} {
		for _, i := range idx {
			u := f.Records[i].User()
			if s, ok := side[u]; ok && s != name {
				t.Errorf("user %s is in both train and validation", u)
			}
			side[u] = name
		}
	}
	nTrain := 0
	for _, s := range side {
		if s == "train" {
			nTrain++
		}
	}
	// 9:1 by users: round(0.9 × users) go to train.
	if want := (9*len(users) + 5) / 10; nTrain != want {
		t.Errorf("%d train users of %d, want %d", nTrain, len(users), want)
	}

	// A user keeps its side when the file shrinks: drop a validation user.
	gone := f.Records[a.Validation[0]].User()
	var keep []int
	for i, r := range f.Records {
		if r.User() != gone {
			keep = append(keep, i)
		}
	}
	sub := f.Subset(keep)
	b := sub.Split(dataset.SplitOptions{Seed: 7})
	for _, i := range b.Train {
		if side[sub.Records[i].User()] != "train" {
			t.Errorf("user %s moved to train after another user left", sub.Records[i].User())
		}
	}
}
