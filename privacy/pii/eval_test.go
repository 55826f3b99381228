package pii

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// literalDetector finds every occurrence of a few literals, each with a
// fixed kind: a detector whose findings the tests can count by hand.
func literalDetector(text string) []Span {
	var out []Span
	for _, l := range []struct {
		lit  string
		kind Kind
	}{{"Alice", Person}, {"Acme", Organization}, {"tea", Name}, {"PERSON", Person}, {"Zed", Person}, {"bul", Place}} {
		for i := 0; ; {
			j := strings.Index(text[i:], l.lit)
			if j < 0 {
				break
			}
			out = append(out, Span{Kind: l.kind, Start: i + j, End: i + j + len(l.lit)})
			i += j + len(l.lit)
		}
	}
	return out
}

// TestEvalPUPA checks the counts on testdata/pupa_small.csv against
// counts worked out by hand from the definitions in [Tally]:
//
//   - 0abc (even): units "alice smith" (listed twice, counted once) and
//     "acme corp" occur, "bob" is absent. Findings: the first "Alice" and
//     "Acme" are true; the second "Alice" is true as a mention of "alice
//     smith" (false under the strict definition); "tea" is false.
//   - 1def (odd): two placeholder units, both overlapped by "PERSON",
//     which is a finding on a placeholder; "zed hq" is absent (the text
//     has "ZED-HQ"), but "Zed" is a word of it: a mention.
//   - 2aaa (even): "istanbul" occurs as "İstanbul" (two bytes for İ) and
//     "bul" overlaps it; "john" occurs as "JOHN" and is missed.
func TestEvalPUPA(t *testing.T) {
	f, err := os.Open("testdata/pupa_small.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := EvalPUPA(f, literalDetector)
	if err != nil {
		t.Fatalf("EvalPUPA: %v", err)
	}
	q1 := "My name is Alice Smith and I work at Acme Corp. Alice likes tea."
	q2 := "Hi <PRESIDIO_ANONYMIZED_PERSON>, call Zed at ZED-HQ."
	q3 := "Nothing here.\nİstanbul trip with JOHN, \"quoted\"."
	even := Tally{
		Prompts: 2, Units: 4, UnitsRecalled: 3, AbsentUnits: 1,
		Findings: 5, TrueFindings: 4, FalseFindings: 1, Mentions: 1, Flagged: 2,
		TextBytes: len(q1) + len(q3), FlaggedBytes: 5 + 4 + 5 + 3 + 3,
		ByKind: map[Kind]KindTally{
			Person:       {Findings: 2, True: 2, Mentions: 1, Recalled: 1},
			Organization: {Findings: 1, True: 1, Recalled: 1},
			Name:         {Findings: 1, False: 1},
			Place:        {Findings: 1, True: 1, Recalled: 1},
		},
	}
	odd := Tally{
		Prompts: 1, AbsentUnits: 1, PlaceholderUnits: 2, PlaceholdersRecalled: 2,
		Findings: 2, TrueFindings: 1, Mentions: 1, PlaceholderFindings: 1, Flagged: 1,
		TextBytes: len(q2), FlaggedBytes: 6 + 3,
		ByKind: map[Kind]KindTally{Person: {Findings: 2, True: 1, Mentions: 1}},
	}
	all := Tally{
		Prompts: 3, Units: 4, UnitsRecalled: 3, AbsentUnits: 2, PlaceholderUnits: 2, PlaceholdersRecalled: 2,
		Findings: 7, TrueFindings: 5, FalseFindings: 1, Mentions: 2, PlaceholderFindings: 1, Flagged: 3,
		TextBytes: len(q1) + len(q2) + len(q3), FlaggedBytes: 29,
		ByKind: map[Kind]KindTally{
			Person:       {Findings: 4, True: 3, Mentions: 2, Recalled: 1},
			Organization: {Findings: 1, True: 1, Recalled: 1},
			Name:         {Findings: 1, False: 1},
			Place:        {Findings: 1, True: 1, Recalled: 1},
		},
	}
	want := Report{Tally: all, Even: even, Odd: odd}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("EvalPUPA (-want +got):\n%s", diff)
	}
	if got := rep.Recall(); got != 0.75 {
		t.Errorf("Recall = %v, want 0.75", got)
	}
	if got := rep.FalsePerPrompt(); got != 1.0/3 {
		t.Errorf("FalsePerPrompt = %v, want 1/3", got)
	}
	if got := rep.StrictFalsePerPrompt(); got != 1 {
		t.Errorf("StrictFalsePerPrompt = %v, want 1", got)
	}
	if got := rep.Odd.Recall(); got != 0 {
		t.Errorf("Recall with no units = %v, want 0", got)
	}
}

// TestEvalPUPABadSpans checks that spans out of bounds or reversed are
// counted, not a panic.
func TestEvalPUPABadSpans(t *testing.T) {
	f, err := os.Open("testdata/pupa_small.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := EvalPUPA(f, func(s string) []Span {
		return []Span{{Kind: Name, Start: -5, End: 3}, {Kind: Name, Start: len(s) + 10, End: len(s) + 20}, {Kind: Name, Start: 8, End: 2}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Findings != 9 || rep.TrueFindings+rep.FalseFindings+rep.PlaceholderFindings != 9 {
		t.Errorf("findings %d (true %d, false %d, placeholder %d), want 9 in all", rep.Findings, rep.TrueFindings, rep.FalseFindings, rep.PlaceholderFindings)
	}
}

// TestEvalPUPAFlagAll checks that a detector flagging whole prompts
// recalls every unit and shows it in FlaggedBytes.
func TestEvalPUPAFlagAll(t *testing.T) {
	f, err := os.Open("testdata/pupa_small.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := EvalPUPA(f, func(s string) []Span { return []Span{{Kind: Name, Start: 0, End: len(s)}} })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recall() != 1 || rep.FlaggedBytes != rep.TextBytes || rep.FalseFindings != 0 {
		t.Errorf("flag all: recall %v, flagged %d of %d bytes, false %d", rep.Recall(), rep.FlaggedBytes, rep.TextBytes, rep.FalseFindings)
	}
}

func TestEvalPUPAErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv, want string
	}{
		{"no column", "conversation_hash,user_query\nab,secret text\n", "pupa header: no column pii_units"},
		{"empty", "", "pupa header: EOF"},
		{"bad hash", "conversation_hash,user_query,pii_units\nab,x,y\nzz,secret text,y\n",
			"pupa record 2 (line 3) field conversation_hash: not a hex hash (2 bytes)"},
		{"bad utf-8", "conversation_hash,user_query,pii_units\nab,secret \xff text,y\n",
			"pupa record 1 (line 2) field user_query: invalid UTF-8"},
		{"bad quote", "conversation_hash,user_query,pii_units\nab,\"secret text,y\n", "pupa record 1: "},
		{"short record", "conversation_hash,user_query,pii_units\nab,secret text\n", "pupa record 1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EvalPUPA(strings.NewReader(tc.csv), Detect)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want prefix %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q contains the prompt", err)
			}
		})
	}
}

func TestFoldWithOffsets(t *testing.T) {
	text := "İstanbul ΣΊΣΥΦΟΣ JOHN"
	folded, off := foldWithOffsets(text)
	for _, tc := range []struct {
		unit string
		want [][2]int
	}{
		{"istanbul", [][2]int{{0, len("İstanbul")}}},
		{"john", [][2]int{{len(text) - 4, len(text)}}},
		{"σύσ", nil},
		{"ς", nil},
	} {
		got := occurrences(folded, off, tc.unit)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("occurrences(%q) (-want +got):\n%s", tc.unit, diff)
		}
	}
}
