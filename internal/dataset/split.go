package dataset

import (
	"cmp"
	"hash/fnv"
	"math"
	"slices"
)

// DefaultTrainRatio is the paper's train share: a 9:1 train/validation
// split (Appendix A.2).
const DefaultTrainRatio = 0.9

// SplitOptions configure [File.Split].
type SplitOptions struct {
	// Ratio is the share of users that go to train, in [0, 1]; 0 means
	// [DefaultTrainRatio].
	Ratio float64
	// Seed picks the split; the same seed and users give the same split.
	Seed uint64
}

// Splits are record indices into a [File]'s Records, in file order. The
// paper reuses the dev set as the test set, so a dev file as a whole is the
// test split.
type Splits struct {
	Train, Validation []int
}

// Split divides the file's records into train and validation by user (see
// [Record.User]), so that no user has records on both sides: round(Ratio
// × users) users go to train (at least one to each side when there are two
// users or more and 0 < Ratio < 1), the rest to validation.
//
// The split is deterministic: users are ordered by a hash of the seed and
// the user key, which depends on nothing else, so a user keeps its side
// when other users are added (the cut point may move).
func (f *File) Split(o SplitOptions) Splits {
	ratio := o.Ratio
	if ratio == 0 {
		ratio = DefaultTrainRatio
	}
	ratio = min(max(ratio, 0), 1)
	type user struct {
		key  string
		rank uint64
	}
	var users []user
	seen := map[string]bool{}
	for _, r := range f.Records {
		if k := r.User(); !seen[k] {
			seen[k] = true
			users = append(users, user{key: k, rank: userRank(o.Seed, k)})
		}
	}
	slices.SortFunc(users, func(a, b user) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.key, b.key))
	})
	n := len(users)
	nTrain := int(math.Round(ratio * float64(n)))
	if n >= 2 && ratio > 0 && ratio < 1 {
		nTrain = min(max(nTrain, 1), n-1)
	}
	train := map[string]bool{}
	for _, u := range users[:nTrain] {
		train[u.key] = true
	}
	var s Splits
	for i, r := range f.Records {
		if train[r.User()] {
			s.Train = append(s.Train, i)
		} else {
			s.Validation = append(s.Validation, i)
		}
	}
	return s
}

// userRank hashes a user key with the seed: FNV-1a of the key, mixed with
// the seed by SplitMix64's finalizer.
func userRank(seed uint64, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key)) // a hash.Hash never fails to write
	z := h.Sum64() ^ (seed * 0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
