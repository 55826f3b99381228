package dataset_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

func TestStatsSmallFixture(t *testing.T) {
	f, err := dataset.Load(filepath.Join("testdata", "context_small.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Stats(dataset.SplitOptions{Ratio: 0.5})
	// Counted by hand from testdata/context_small.json:
	//
	//	record  history words (title+text)  chars    output words  chars  profile words  chars
	//	1_0_0   2+4 = 6                      8+23=31  5             22     4              17
	//	1_0_1   1+3+1+1 = 6                  1+13+1+4=19  1          7      4              17
	//	1_1_0   1+3 = 4                      4+15=19  6             29     4              16
	//
	// Means over 3 records: history 16/3 words, 69/3 = 23 chars; output
	// 12/3 = 4 words, 58/3 chars; profile 4 words, 50/3 chars. Three
	// users, one per tid, with three profiles (1_0_0 and 1_0_1 share the
	// profile block, not the history) and two tid prefixes, 1_0 and 1_1;
	// at 0.5, round(0.5 × 3) = 2 users to train, one to validation.
	want := dataset.Stats{
		Name: "context_small.json", Kind: dataset.KindContext,
		Users: 3, Profiles: 3, TIDPrefixes: 2, Records: 3,
		HistoryWords: 16.0 / 3, HistoryChars: 23,
		ProfileWords: 4, ProfileChars: 50.0 / 3,
		OutputWords: 4, OutputChars: 58.0 / 3,
		Train: 2, Validation: 1, TrainUsers: 2, ValidationUsers: 1,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestRender(t *testing.T) {
	stats := []dataset.Stats{
		{Name: "a.json", Kind: dataset.KindContext, Users: 2, Profiles: 2, TIDPrefixes: 1, Records: 3, HistoryWords: 5.25, HistoryChars: 23, ProfileWords: 4, ProfileChars: 16.66, OutputWords: 4, OutputChars: 19.35, Train: 2, Validation: 1, TrainUsers: 1, ValidationUsers: 1},
		{Name: "b|c.json", Kind: dataset.KindPaper, WithoutContext: true, Records: 10, OutputWords: 1.05, Train: 9, Validation: 1},
	}
	wantMD := `| Dataset | a.json | b\|c.json |
|---|---:|---:|
| Kind | context | paper (without context) |
| Total Users (one per tid) | 2 | N/A |
| Distinct Profiles | 2 | N/A |
| Distinct tid Prefixes (group_user) | 1 | N/A |
| Records | 3 | 10 |
| Avg Profile (History) Length, words | 5.2 | 0.0 |
| Avg Profile (History) Length, chars | 23.0 | 0.0 |
| Avg Additional Profile Length, words | 4.0 | N/A |
| Avg Additional Profile Length, chars | 16.7 | N/A |
| Output Length, words | 4.0 | 1.1 |
| Output Length, chars | 19.4 | 0.0 |
| Train Samples (split) | 2 (1 users) | 9 |
| Validation Samples (split) | 1 (1 users) | 1 |
`
	if diff := cmp.Diff(wantMD, dataset.RenderMarkdown(stats...)); diff != "" {
		t.Errorf("RenderMarkdown (-want +got):\n%s", diff)
	}
	wantText := `Dataset                               a.json       b|c.json
Kind                                  context      paper (without context)
Total Users (one per tid)             2            N/A
Distinct Profiles                     2            N/A
Distinct tid Prefixes (group_user)    1            N/A
Records                               3            10
Avg Profile (History) Length, words   5.2          0.0
Avg Profile (History) Length, chars   23.0         0.0
Avg Additional Profile Length, words  4.0          N/A
Avg Additional Profile Length, chars  16.7         N/A
Output Length, words                  4.0          1.1
Output Length, chars                  19.4         0.0
Train Samples (split)                 2 (1 users)  9
Validation Samples (split)            1 (1 users)  1
`
	if diff := cmp.Diff(wantText, dataset.RenderTable(stats...)); diff != "" {
		t.Errorf("RenderTable (-want +got):\n%s", diff)
	}
}

// TestStatsDevUsers counts the users of the paper's dev file: one per
// tid, 150, each with a profile of its own; the tids' 111 "group_user"
// prefixes name no user (78 records share 39 of them). The vault's import
// of the same file makes the same 150 users (internal/cli's
// TestDataStatsAndVaultAgree).
func TestStatsDevUsers(t *testing.T) {
	f, err := dataset.Load(sharedData(t, "context_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Stats(dataset.SplitOptions{})
	type counts struct{ Records, Users, Profiles, TIDPrefixes, TrainUsers, ValidationUsers int }
	want := counts{Records: 150, Users: 150, Profiles: 150, TIDPrefixes: 111, TrainUsers: 135, ValidationUsers: 15}
	if diff := cmp.Diff(want, counts{got.Records, got.Users, got.Profiles, got.TIDPrefixes, got.TrainUsers, got.ValidationUsers}); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}
