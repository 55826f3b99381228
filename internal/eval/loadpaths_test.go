package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/dataset"
	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/privacy"
)

// loadedFacts is what a path made of a record: every private field of the
// vault, the task and the reference.
type loadedFacts struct {
	Name, Age, Occupation, Location                    string
	Traits, Style, Facts, Activity, AI, Emails, Phones []string
	History                                            []string
	Profile, Task, Reference                           string
}

func factsOf(r privacy.Record) loadedFacts {
	v := r.Vault
	list := func(ps []privacy.Private) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.UnsafeText())
		}
		return out
	}
	f := loadedFacts{
		Name: v.Name.UnsafeText(), Age: v.Age.UnsafeText(), Occupation: v.Occupation.UnsafeText(), Location: v.Location.UnsafeText(),
		Traits: list(v.PersonalTraits), Style: list(v.WritingStyle), Facts: list(v.PrivateFacts), Activity: list(v.ActivityLog),
		AI: list(v.AIUsage), Emails: list(v.Emails), Phones: list(v.Phones), History: []string{},
		Profile: v.Profile.UnsafeText(), Task: r.Task.Full.UnsafeText(), Reference: r.Reference.UnsafeText(),
	}
	for _, h := range v.History {
		f.History = append(f.History, h.Title.UnsafeText()+"\n"+h.Text.UnsafeText())
	}
	return f
}

// TestLoadPathsAgree loads each load fixture, and the paper's dev file,
// through every path that reads the context-aware format: the loader of
// generate --dataset, fusion and sft (privacy.LoadContext), eval's dataset
// loading, `cogen data validate` (internal/dataset, whose records the
// boundary reads with Record.Context) and `cogen vault import`. Every path
// skips the same bad records and gives every good record the same private
// facts.
func TestLoadPathsAgree(t *testing.T) {
	paths := []string{"multiline_style.json", "activity_colons.json", "unknown_key.json", "one_bad.json"}
	for i, p := range paths {
		paths[i] = filepath.Join("..", "..", "privacy", "testdata", "load", p)
	}
	dev := filepath.Join("..", "..", "..", "shared", "data", "cogenesis", "context_dev.json")
	if _, err := os.Stat(dev); err == nil {
		paths = append(paths, dev)
	} else {
		t.Logf("dev data not available: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			// generate --dataset, fusion extract, data sft.
			f, err := privacy.LoadContext(path, privacy.LoadOptions{SkipBad: true})
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]loadedFacts{}
			for _, r := range f.Records {
				want[r.Index] = factsOf(r)
			}

			// eval.
			c := &Config{Datasets: []Dataset{{Name: "d", Path: path, Kind: "context", SkipBad: true}}}
			recs, _, err := c.loadDataset(0)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int]loadedFacts{}
			for _, r := range recs {
				got[r.index] = factsOf(r.rec)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("eval (-generate +eval):\n%s", diff)
			}

			// data validate.
			df, err := dataset.LoadWith(path, dataset.Options{SkipBad: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f.SkippedRecords(), df.SkippedRecords()); diff != "" {
				t.Errorf("skipped records (-generate +validate):\n%s", diff)
			}
			got = map[int]loadedFacts{}
			for i, r := range df.Records {
				pr, err := r.Context(path, df.Index(i))
				if err != nil {
					t.Fatal(err)
				}
				got[df.Index(i)] = factsOf(pr)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("validate (-generate +validate):\n%s", diff)
			}

			// vault import.
			s, err := vault.Open(t.Context(), filepath.Join(t.TempDir(), "vault.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Import(t.Context(), path, data, vault.ImportOptions{Index: -1, SkipBad: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f.SkippedRecords(), res.Skipped); diff != "" {
				t.Errorf("skipped records (-generate +import):\n%s", diff)
			}
			got = map[int]loadedFacts{}
			for k, r := range f.Records {
				u, err := s.Get(t.Context(), f.Fields()[k].TID)
				if err != nil {
					t.Fatal(err)
				}
				if len(u.Tasks) != 1 {
					t.Fatalf("user %s has %d tasks", u.ID, len(u.Tasks))
				}
				got[r.Index] = factsOf(privacy.Record{Vault: u.Vault(), Task: privacy.SplitTask(u.Tasks[0].Task), Reference: privacy.NewPrivate(u.Tasks[0].Reference)})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("vault import (-generate +import):\n%s", diff)
			}
		})
	}
}

// TestLoadDatasetSkipBad: eval names the skipped records once, keeps the
// file's record numbers, and without skip_bad fails with a hint.
func TestLoadDatasetSkipBad(t *testing.T) {
	path := filepath.Join("..", "..", "privacy", "testdata", "load", "one_bad.json")
	c := &Config{Datasets: []Dataset{{Name: "mixed", Path: path, Kind: "context", Records: "1:"}}}
	_, _, err := c.loadDataset(0)
	if err == nil || !strings.Contains(err.Error(), "set skip_bad = true") || !strings.Contains(err.Error(), "one_bad.json: 1 bad record of 4: 2") {
		t.Errorf("without skip_bad: %v", err)
	}
	c.Datasets[0].SkipBad = true
	recs, notes, err := c.loadDataset(0)
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for _, r := range recs {
		idx = append(idx, r.index)
	}
	if diff := cmp.Diff([]int{1, 3}, idx); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	want := []string{"datasets[0] (mixed): skipped 1 bad record of 4: 2 (see `cogen data validate " + path + "`)"}
	if diff := cmp.Diff(want, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}
