package privacy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// devLabel is one record's spans in testdata/dev_leak_labels.json: an
// annotator's independent judgement, made from the data alone, of which
// words of each dev user's general section reveal something of their
// private context (fact, name, place, identifier) and which only share
// words with it (topic). Labels whose reason starts with "borderline:"
// are ones the annotator was unsure of.
type devLabel struct {
	TID   string `json:"tid"`
	Index int    `json:"index"`
	Spans []struct {
		Start    int    `json:"start"`
		End      int    `json:"end"`
		Category string `json:"category"`
		Why      string `json:"why"`
	} `json:"spans"`
}

func devLabels(t *testing.T) []devLabel {
	raw, err := os.ReadFile("testdata/dev_leak_labels.json")
	if err != nil {
		t.Fatal(err)
	}
	var ls []devLabel
	if err := json.Unmarshal(raw, &ls); err != nil {
		t.Fatal(err)
	}
	return ls
}

// coveredWords counts the content words of text[start:end] that lie
// inside a finding, and the content words in all.
func coveredWords(text string, start, end int, fs []Finding) (in, all int) {
	for _, w := range contentWords(text[start:end]) {
		all++
		ws, we := start+w.start, start+w.end
		for _, f := range fs {
			if f.Start <= ws && we <= f.End {
				in++
				break
			}
		}
	}
	return in, all
}

// TestDevLeakLabels measures the guard on the dev users' general sections
// against the annotator's labels: every clear name, place or identifier
// must be caught (all its content words redacted), facts are counted as
// caught when at least half of their content words are redacted, and the
// guard may remove at most half the share of words the shingle guard
// removed (15.3% of 950 words, measured at 73a8a60).
func TestDevLeakLabels(t *testing.T) {
	recs := devRecords(t)
	type tally struct{ caught, total int }
	var clear, clearFacts, borderline, topics tally
	var missed []string
	words, removed := 0, 0
	labels := map[int]devLabel{}
	for _, l := range devLabels(t) {
		if recs[l.Index].Vault.ID != l.TID {
			t.Fatalf("label for record %d names tid %s, the record is %s", l.Index, l.TID, recs[l.Index].Vault.ID)
		}
		labels[l.Index] = l
	}
	for i, r := range recs {
		general := r.Task.General.UnsafeText()
		g := NewGuard(r.Vault)
		_, fs, err := g.Public(general, Redact)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		n := len(strings.Fields(general))
		words += n
		for _, f := range fs {
			removed += len(strings.Fields(general[f.Start:f.End]))
		}
		for _, s := range labels[i].Spans {
			in, all := coveredWords(general, s.Start, s.End, fs)
			var caught bool
			switch s.Category {
			case "topic":
				topics.total++
				if in > 0 {
					topics.caught++
				}
				continue
			case "fact":
				caught = 2*in >= all && in > 0
			default:
				caught = in == all
			}
			tl := &clear
			if strings.HasPrefix(s.Why, "borderline") {
				tl = &borderline
			}
			tl.total++
			if caught {
				tl.caught++
			} else if tl == &clear {
				missed = append(missed, s.Category+" in record "+r.Vault.ID)
				if s.Category != "fact" {
					t.Errorf("record %s: a %s passed the guard", r.Vault.ID, s.Category)
				}
			}
			if tl == &clear && s.Category == "fact" {
				clearFacts.total++
				if caught {
					clearFacts.caught++
				}
			}
		}
	}
	share := float64(removed) / float64(words)
	t.Logf("clear reveals caught: %d of %d; borderline: %d of %d; topic overlaps redacted: %d of %d",
		clear.caught, clear.total, borderline.caught, borderline.total, topics.caught, topics.total)
	t.Logf("words removed from general sections: %d of %d (%.1f%%; the shingle guard: 145, 15.3%%)", removed, words, 100*share)
	for _, m := range missed {
		t.Logf("missed: %s", m)
	}
	if share > 0.153/2 {
		t.Errorf("removed %.1f%% of words, want at most half of 15.3%%", 100*share)
	}
	// The facts missed are reveals without a shared rare word ("your
	// journey to a leadership role" for "recently promoted to manager"):
	// paraphrase beyond the rules, which the model check (guardmodel) is
	// for. The floor is today's figure, so that a change that loses one
	// fails here.
	if clearFacts.caught < 5 {
		t.Errorf("caught %d of %d clear fact reveals, want at least 5", clearFacts.caught, clearFacts.total)
	}
}
