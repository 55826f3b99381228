package dataset_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

// A valid context-aware record and paper prompts to build cases from.
const (
	ctxOK = `{"tid":"1_2_3","conversations":[{"from":"user","value":"Task: do it."},{"from":"assistant","value":"Done."}],` +
		`"profile":[{"title":"T","text":"X","id":"0"}],"additional_profile":"Name: A\nAge: 3","additional_tasks":["Other: task."]}`
	paperPrompt = dataset.SystemPrompt + "\n\n## History Paper Abstracts\nTitle: A\nContent: B\n\n## Task\n" +
		"Compose an abstract for the title 'C' that matches the author's unique content, style and tone.\n"
	emailPrompt = dataset.SystemPrompt + "\n\n## History Emails\nTitle: A\nContent: B\n\n## Task\n" +
		"Compose an email for the subject 'C' that matches the author's unique style and tone.\n"
)

func lampRecord(tid, prompt, ref string) string {
	return `{"tid":"` + tid + `","conversations":[{"from":"user","value":` + quote(prompt) + `},{"from":"assistant","value":` + quote(ref) + `}]}`
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestDecoderProblems(t *testing.T) {
	if len(ctxOK) != 230 {
		t.Fatalf("ctxOK is %d bytes; the offsets below assume 230", len(ctxOK))
	}
	// p builds a wanted problem of the file "f".
	p := func(index int, tid, field, reason string) dataset.Problem {
		return dataset.Problem{Path: "f", Index: index, TID: tid, Field: field, Reason: reason}
	}
	tests := []struct {
		name     string
		kind     dataset.Kind
		in       string
		want     []dataset.Problem
		wantKind dataset.Kind
	}{
		{"valid context record", "", "[" + ctxOK + "]", nil, dataset.KindContext},
		{"valid paper record", "", "[" + lampRecord("0", paperPrompt, "R") + "]", nil, dataset.KindPaper},
		{"valid email record", "", "[" + lampRecord("0", emailPrompt, "R") + "]", nil, dataset.KindEmail},
		{"empty file", "", "", []dataset.Problem{p(-1, "", "", "empty file")}, ""},
		{"not an array", "", `{"tid":"1"}`, []dataset.Problem{p(-1, "", "", "want a JSON array of records")}, ""},
		{"no records", "", "[]", []dataset.Problem{p(-1, "", "", "no records")}, ""},
		{"array not closed", "", "[" + ctxOK, []dataset.Problem{p(-1, "", "", "truncated JSON at byte 231: the array is not closed")}, dataset.KindContext},
		// ctxOK is 230 bytes, so record 1 starts at byte 231 with ", ".
		{"invalid JSON", "", `[` + ctxOK + `, {"tid": x}]`, []dataset.Problem{p(1, "", "", "invalid JSON at byte 241")}, dataset.KindContext},
		{"missing comma", "", `[` + ctxOK + ` ` + ctxOK + `]`, []dataset.Problem{p(1, "", "", "invalid JSON at byte 232")}, dataset.KindContext},
		{"trailing comma", "", `[` + ctxOK + `,]`, []dataset.Problem{p(1, "", "", "invalid JSON at byte 232")}, dataset.KindContext},
		{"not JSON at all", "", `  x`, []dataset.Problem{p(-1, "", "", "invalid JSON at byte 2")}, ""},
		{"trailing data", "", "[" + ctxOK + "] []", []dataset.Problem{p(-1, "", "", "trailing data after the array, which ends at byte 232")}, dataset.KindContext},
		{"record not an object", dataset.KindContext, `["x"]`, []dataset.Problem{p(0, "", "", "record is not an object: want an object, got a string")}, dataset.KindContext},
		{"context tid not group_user_task", "", strings.Replace("["+ctxOK+"]", `"1_2_3"`, `"1_2"`, 1),
			[]dataset.Problem{p(0, "1_2", "tid", "want group_user_task")}, dataset.KindContext},
		{"tid with spaces", "", strings.Replace("["+ctxOK+"]", `"1_2_3"`, `"a b"`, 1),
			[]dataset.Problem{p(0, "", "tid", "want letters, digits, '_', '-' and '.' only (a 3-byte tid)")}, dataset.KindContext},
		{"three turns", "", strings.Replace("["+ctxOK+"]", `"Done."}]`, `"Done."},{"from":"user","value":"More?"}]`, 1),
			[]dataset.Problem{p(0, "1_2_3", "conversations", "has 3 turns, want 2 (user, assistant)"), p(0, "1_2_3", "conversations[2].from", `wrong role: want "assistant", got "user"`)}, dataset.KindContext},
		{"turn not an object", "", strings.Replace("["+ctxOK+"]", `{"from":"assistant","value":"Done."}`, `"Done."`, 1),
			[]dataset.Problem{p(0, "1_2_3", "conversations[1]", "want an object, got a string")}, dataset.KindContext},
		{"empty prompt", "", strings.Replace("["+ctxOK+"]", `"Task: do it."`, `"  "`, 1),
			[]dataset.Problem{p(0, "1_2_3", "conversations[0].value", "empty prompt")}, dataset.KindContext},
		{"profile item fields", "", strings.Replace("["+ctxOK+"]", `{"title":"T","text":"X","id":"0"}`, `{"title":"","text":null,"extra":1}`, 1),
			[]dataset.Problem{p(0, "1_2_3", "profile[0].text", "want a string, got null"), p(0, "1_2_3", "profile[0].id", "missing field"), p(0, "1_2_3", "profile[0].extra", "unknown field")}, dataset.KindContext},
		{"multi-line profile values", "", strings.Replace("["+ctxOK+"]", `Name: A\nAge: 3`, `Name: A\nWriting_style: terse;\n  warm\nSmart_device_usage: alarm at 07:30;\nKettle: on at 07:35`, 1), nil, dataset.KindContext},
		{"duplicate profile key", "", strings.Replace("["+ctxOK+"]", `Name: A\nAge: 3`, `Name: A\n\nName: B`, 1),
			[]dataset.Problem{p(0, "1_2_3", "additional_profile", "line 3: duplicate key (first on line 1)")}, dataset.KindContext},
		{"empty additional profile", "", strings.Replace("["+ctxOK+"]", `"Name: A\nAge: 3"`, `""`, 1),
			[]dataset.Problem{p(0, "1_2_3", "additional_profile", "empty profile")}, dataset.KindContext},
		{"additional task not a string", "", strings.Replace("["+ctxOK+"]", `["Other: task."]`, `["Other: task.", 5, ""]`, 1),
			[]dataset.Problem{p(0, "1_2_3", "additional_tasks[1]", "want a string, got a number"), p(0, "1_2_3", "additional_tasks[2]", "empty task")}, dataset.KindContext},
		{"missing context fields", dataset.KindContext, `[{"tid":"1_2_3","conversations":[{"from":"user","value":"a"},{"from":"assistant","value":"b"}]}]`,
			[]dataset.Problem{p(0, "1_2_3", "profile", "missing field"), p(0, "1_2_3", "additional_profile", "missing field")}, dataset.KindContext},
		{"paper without system prompt", dataset.KindPaper, "[" + lampRecord("0", strings.TrimPrefix(paperPrompt, dataset.SystemPrompt), "R") + "]",
			[]dataset.Problem{p(0, "0", "conversations[0].value", "paper prompt: does not start with the system prompt")}, dataset.KindPaper},
		{"paper without task section", "", "[" + lampRecord("0", strings.Replace(paperPrompt, "## Task", "## Job", 1), "R") + "]",
			[]dataset.Problem{p(0, "0", "conversations[0].value", `paper prompt: lacks the "## Task" section`)}, dataset.KindPaper},
		{"paper history item without content", "", "[" + lampRecord("0", strings.Replace(paperPrompt, "\nContent: B", "", 1), "R") + "]",
			[]dataset.Problem{p(0, "0", "conversations[0].value", `paper prompt: history item is not "Title: ...\nContent: ..."`)}, dataset.KindPaper},
		{"email prompt in a paper file", dataset.KindPaper, "[" + lampRecord("0", emailPrompt, "R") + "]",
			[]dataset.Problem{p(0, "0", "conversations[0].value", "paper prompt: lacks the history heading")}, dataset.KindPaper},
		{"paper empty reference", "", "[" + lampRecord("0", paperPrompt, "") + "]",
			[]dataset.Problem{p(0, "0", "conversations[1].value", "empty reference")}, dataset.KindPaper},
		{"without-context file with a full prompt", "", "[" + lampRecord("0", "Compose an abstract for the title 'C' that matches the author's unique content, style and tone.", "R") + "," + lampRecord("1", paperPrompt, "R") + "]",
			[]dataset.Problem{p(1, "1", "conversations[0].value", "not a without-context paper task line")}, dataset.KindPaper},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dataset.NewDecoder(strings.NewReader(tt.in), "f", tt.kind)
			var got []dataset.Problem
			for _, err := range d.All() {
				if err == nil {
					continue
				}
				pe, ok := errors.AsType[*dataset.ProblemError](err)
				if !ok {
					t.Fatalf("got %T %v, want a *ProblemError", err, err)
				}
				got = append(got, pe.Problems...)
			}
			if diff := cmp.Diff(tt.want, got, ignoreOffset); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if d.Kind() != tt.wantKind {
				t.Errorf("kind %q, want %q", d.Kind(), tt.wantKind)
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    dataset.Problem
		want string
	}{
		{"all parts", dataset.Problem{Path: "a.json", Index: 3, TID: "1_2_3", Field: "profile", Reason: "empty history"}, `a.json: record 3 (tid 1_2_3): field "profile": empty history`},
		{"no tid", dataset.Problem{Path: "a.json", Index: 7, Field: "tid", Reason: "want a string, got a number"}, `a.json: record 7: field "tid": want a string, got a number`},
		{"no field", dataset.Problem{Path: "a.json", Index: 100, Reason: "truncated JSON at byte 9"}, `a.json: record 100: truncated JSON at byte 9`},
		{"whole file", dataset.Problem{Path: "a.json", Index: -1, Reason: "no records"}, `a.json: no records`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadSmallFixtures(t *testing.T) {
	tests := []struct {
		name string
		path string
		opts dataset.Options
		want []string // tids
	}{
		{"context", filepath.Join("testdata", "context_small.json"), dataset.Options{}, []string{"1_0_0", "1_0_1", "1_1_0"}},
		{"paper pair", filepath.Join("testdata", "paper_small.json"), dataset.Options{Without: filepath.Join("testdata", "paper_small_wo.json")}, []string{"0", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := dataset.LoadWith(tt.path, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range f.Records {
				got = append(got, r.TID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	paperWithPaper := filepath.Join("testdata", "paper_small.json")
	short := filepath.Join(dir, "short.json")
	if err := os.WriteFile(short, []byte("["+lampRecord("0", paperPrompt, "R")+"]"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		opts dataset.Options
		want string
	}{
		{"missing file", filepath.Join(dir, "nope.json"), dataset.Options{}, filepath.Join(dir, "nope.json") + ": cannot open: no such file or directory"},
		{"unknown pair file", paperWithPaper, dataset.Options{Without: filepath.Join(dir, "nope_wo.json")}, filepath.Join(dir, "nope_wo.json") + ": cannot open: no such file or directory"},
		{"pair with context", paperWithPaper, dataset.Options{Without: paperWithPaper}, paperWithPaper + ": is not a without-context file: its prompts carry context"},
		{"context has no pair", filepath.Join("testdata", "context_small.json"), dataset.Options{Without: paperWithPaper}, paperWithPaper + ": a context-aware file has no paired without-context file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dataset.LoadWith(tt.path, tt.opts)
			pe, ok := errors.AsType[*dataset.ProblemError](err)
			if !ok {
				t.Fatalf("got %v, want a *ProblemError", err)
			}
			if got := pe.Problems[0].String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add("[" + ctxOK + "]")
	f.Add("[" + lampRecord("0", paperPrompt, "R") + "]")
	f.Add(`[{"tid":1,"conversations":{}}]`)
	f.Fuzz(func(t *testing.T, in string) {
		d := dataset.NewDecoder(strings.NewReader(in), "f", "")
		n := 0
		for _, err := range d.All() {
			n++
			if err == nil {
				continue
			}
			pe, ok := errors.AsType[*dataset.ProblemError](err)
			if !ok || len(pe.Problems) == 0 {
				t.Fatalf("got %v, want a *ProblemError with problems", err)
			}
			for _, p := range pe.Problems {
				if p.Reason == "" || p.Index < -1 || p.Path != "f" {
					t.Errorf("malformed problem %+v", p)
				}
			}
		}
		if n > len(in)+1 {
			t.Errorf("%d results from %d bytes", n, len(in))
		}
	})
}
