package audit

import (
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkAppend measures one Append of a 2 KiB body (a typical cloud
// request), with the fsync each record gets by default ("sync") and without
// it ("nosync", which isolates the encoding and write cost).
func BenchmarkAppend(b *testing.B) {
	body := `{"model":"m","prompt":"` + strings.Repeat("word ", 400) + `","max_tokens":64}`
	for _, tt := range []struct {
		name   string
		noSync bool
	}{{"sync", false}, {"nosync", true}} {
		b.Run(tt.name, func(b *testing.B) {
			l, err := Open(filepath.Join(b.TempDir(), "audit.jsonl"))
			if err != nil {
				b.Fatalf("Open: %v", err)
			}
			l.NoSync = tt.noSync
			ctx := WithStrategy(b.Context(), "sketch")
			rec := Record{Host: "cloud.example:8000", Method: "POST", Path: "/v1/completions", Verdict: VerdictAllow, Body: body}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Append(ctx, rec); err != nil {
					b.Fatalf("Append: %v", err)
				}
			}
			b.StopTimer()
			if err := l.Close(); err != nil {
				b.Fatalf("Close: %v", err)
			}
		})
	}
}
