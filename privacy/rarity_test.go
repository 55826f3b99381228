package privacy

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

var updateRarity = flag.Bool("update-rarity", false, "rewrite data/rarity.tsv.gz from shared/data")

func sharedData(t testing.TB, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		deptest.Missing(t, "shared data not available (%v): put shared/ beside the repository", err)
	}
	return p
}

// rarityCorpus returns the public documents the rarity table counts.
func rarityCorpus(t testing.TB) []string {
	var docs []string
	f, err := os.Open(sharedData(t, "pupa/PUPA_New.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, rec[col["user_query"]], rec[col["target_response"]])
	}
	var papers []struct {
		Conversations []struct{ Value string } `json:"conversations"`
	}
	raw, err := os.ReadFile(sharedData(t, "cogenesis/paper_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &papers); err != nil {
		t.Fatal(err)
	}
	for _, p := range papers {
		docs = append(docs, p.Conversations[len(p.Conversations)-1].Value)
	}
	var ctx []struct {
		Tasks []string `json:"additional_tasks"`
	}
	raw, err = os.ReadFile(sharedData(t, "cogenesis/context_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range ctx {
		for _, task := range c.Tasks {
			docs = append(docs, SplitTask(task).General.UnsafeText())
		}
	}
	return docs
}

func buildRarity(docs []string) []byte {
	df := map[string]int{}
	for _, d := range docs {
		seen := map[string]bool{}
		for _, w := range words(d) {
			s := stem(w.text)
			if !seen[s] {
				seen[s] = true
				df[s]++
			}
		}
	}
	var keys []string
	for k, n := range df {
		if n >= 2 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# docs %d\n", len(docs))
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%d\n", k, df[k])
	}
	return b.Bytes()
}

// TestRarityTable rebuilds the rarity table from its public corpus and
// requires the embedded one to be the same, so that a change to folding,
// stemming or the corpus cannot leave the guard weighing words by a stale
// table.
func TestRarityTable(t *testing.T) {
	want := buildRarity(rarityCorpus(t))
	if *updateRarity {
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(want)
		zw.Close()
		if err := os.WriteFile("data/rarity.tsv.gz", gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(rarityFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("data/rarity.tsv.gz is stale (%d bytes, rebuilt %d): run go test ./privacy -run TestRarityTable -update-rarity", len(got), len(want))
	}
	tab := rarity()
	t.Logf("%d documents, %d stems", tab.docs, len(tab.df))
	// Weights order words as a reader would.
	for _, pair := range [][2]string{{"write", "shark"}, {"market", "nuptial"}, {"the", "loan"}} {
		if weight(stem(pair[0])) >= weight(stem(pair[1])) {
			t.Errorf("weight(%s) = %.2f, not below weight(%s) = %.2f", pair[0], weight(stem(pair[0])), pair[1], weight(stem(pair[1])))
		}
	}
}
