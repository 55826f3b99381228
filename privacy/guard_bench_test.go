package privacy

import (
	"strings"
	"testing"
)

// bigVault merges dev users' private contexts, longest first, until it
// holds at least minWords words: 4,600 words is about 6,000 tokens of a
// LLaMA tokenizer (1.3 tokens a word on this data), the size of a dev
// record's with-context prompt.
func bigVault(tb testing.TB, minWords int) (*Vault, int) {
	recs := devRecords(tb)
	v := &Vault{Name: recs[117].Vault.Name, Location: recs[117].Vault.Location}
	n := 0
	for i := 117; n < minWords; i = (i + 1) % len(recs) {
		u := recs[i].Vault
		v.PrivateFacts = append(v.PrivateFacts, u.PrivateFacts...)
		v.ActivityLog = append(v.ActivityLog, u.ActivityLog...)
		v.History = append(v.History, u.History...)
		for _, f := range append(u.PrivateFacts, u.ActivityLog...) {
			n += len(strings.Fields(f.UnsafeText()))
		}
		for _, h := range u.History {
			n += len(strings.Fields(h.Text.UnsafeText()))
		}
	}
	return v, n
}

// BenchmarkGuardCheck is one check of a request against a vault of a
// 6,000-token private context (the target is at most 1 ms): a task of
// the dev data, the same disguised, and a 200-word request.
func BenchmarkGuardCheck(b *testing.B) {
	v, n := bigVault(b, 4600)
	g := NewGuard(v)
	recs := devRecords(b)
	task := recs[117].Task.Full.UnsafeText()
	disguised := strings.ReplaceAll(strings.ReplaceAll(task, "a", "ａ"), "e", "e\u200b")
	var long strings.Builder
	for i := 0; len(strings.Fields(long.String())) < 200; i++ {
		long.WriteString(recs[i].Task.Full.UnsafeText() + " ")
	}
	b.Logf("vault: %d words, %d facts", n, g.Facts())
	for _, c := range []struct{ name, text string }{{"task", task}, {"disguised", disguised}, {"200words", long.String()}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				g.Check(c.text)
			}
		})
	}
}

// BenchmarkNewGuard is the cost of building that guard (once per user and
// vault change).
func BenchmarkNewGuard(b *testing.B) {
	v, _ := bigVault(b, 4600)
	for b.Loop() {
		NewGuard(v)
	}
}
