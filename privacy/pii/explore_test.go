package pii

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestExploreDump(t *testing.T) {
	if os.Getenv("PII_EXPLORE") == "" {
		t.Skip()
	}
	data := readPUPA(t)
	cr := csv.NewReader(bytes.NewReader(data))
	hdr, _ := cr.Read()
	col := map[string]int{}
	for i, h := range hdr {
		col[h] = i
	}
	out, _ := os.Create(os.Getenv("PII_EXPLORE"))
	defer out.Close()
	for {
		row, err := cr.Read()
		if err != nil {
			break
		}
		h, _ := hexDigit(row[col["conversation_hash"]])
		q := row[col["user_query"]]
		tr := newTruth(q, row[col["pii_units"]])
		for _, c := range (Detector{}).detect(q) {
			v := tr.judge(c.Span)
			ctx := q[max(0, c.Start-30):c.Start] + "[[" + q[c.Start:c.End] + "]]" + q[c.End:min(len(q), c.End+30)]
			ctx = strings.ReplaceAll(ctx, "\n", " ")
			fmt.Fprintf(out, "%d\t%s\t%d\t%s\t%s\t%s\n", h%2, row[col["conversation_hash"]][:6], v, c.Kind, c.rule, ctx)
		}
	}
}
