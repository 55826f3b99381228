package privacy

import (
	"encoding/json"
	"os"
	"testing"
)

// TestAdversarialRewordings runs the fixture of rewordings of dev users'
// facts and names (homoglyphs, zero-width characters, fullwidth letters,
// soft hyphens, inflection, reordering, paraphrase), written by hand from
// the dev data, against the guard of the user each came from. The log
// names the items missed by index and kind, never by text.
func TestAdversarialRewordings(t *testing.T) {
	recs := devRecords(t)
	raw, err := os.ReadFile("testdata/adversarial.json")
	if err != nil {
		t.Fatal(err)
	}
	var items []struct {
		Record int    `json:"record"`
		How    string `json:"how"`
		Text   string `json:"text"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		t.Fatal(err)
	}
	if len(items) < 30 {
		t.Fatalf("%d items, want at least 30", len(items))
	}
	caught := 0
	for i, it := range items {
		if len(NewGuard(recs[it.Record].Vault).Check(it.Text)) > 0 {
			caught++
		} else {
			t.Logf("item %d (record %d, %s): missed", i, it.Record, it.How)
		}
	}
	t.Logf("caught %d of %d rewordings", caught, len(items))
	if caught*10 < len(items)*9 {
		t.Errorf("caught %d of %d, want at least 90%%", caught, len(items))
	}
}
