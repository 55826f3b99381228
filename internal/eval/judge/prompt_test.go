package judge

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// table9 reads testdata/table9.txt, an unedited excerpt of the paper's
// Table 9 (lines 552-584 of the paper's text), and returns each prompt's
// text keyed by its heading.
func table9(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("testdata/table9.txt")
	if err != nil {
		t.Fatalf("read table 9: %v", err)
	}
	sections := make(map[string]string)
	var head string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "EVALUATION INSTRUCTION FOR ") {
			head = line
			continue
		}
		if head != "" {
			sections[head] += line + "\n"
		}
	}
	return sections
}

// words collapses all white space, since the paper's text is extracted from
// a PDF whose line breaks became spaces.
func words(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestPromptMatchesTable9(t *testing.T) {
	sections := table9(t)
	in := Input{Question: "QQQ", Answer: "AAA", Profile: "PPP", WritingHistory: "WWW"}
	fill := strings.NewReplacer("{question}", "QQQ", "{answer}", "AAA",
		"{profile_info}", "PPP", "{writing_history}", "WWW")
	tests := []struct {
		kind    Kind
		heading string
	}{
		{Overall, "EVALUATION INSTRUCTION FOR OVERALL QUALITY OF GENERATED CONTENT."},
		{Personalization, "EVALUATION INSTRUCTION FOR CONSISTENCY BETWEEN GENERATED CONTENT AND PERSONAL PROFILE."},
		{OverallNoProfile, "EVALUATION INSTRUCTION FOR OVERALL QUALITY OF GENERATED CONTENT WITHOUT PROFILE."},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			paper, ok := sections[tt.heading]
			if !ok {
				t.Fatalf("table 9 has no section %q", tt.heading)
			}
			// The excerpt ends with the table caption; drop it.
			paper, _, _ = strings.Cut(paper, "Table 9:")
			system, user := Prompt(tt.kind, in)
			if system != SystemPrompt {
				t.Errorf("system = %q, want %q", system, SystemPrompt)
			}
			if diff := cmp.Diff(words(fill.Replace(paper)), words(user)); diff != "" {
				t.Errorf("prompt words differ from Table 9 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPromptLayout(t *testing.T) {
	in := Input{Question: "Q1", Answer: "A1", Profile: "P1", WritingHistory: "W1"}
	// MT-Bench single-v1 layout: headers on their own lines, sections
	// separated by blank lines, the answer between its delimiters.
	tail := "\n\n[Question]\nQ1\n\n[The Start of Assistant's Answer]\nA1\n[The End of Assistant's Answer]"
	profile := "\n\n[User Profile and Writing History]\nP1\nW1" + tail
	tests := []struct {
		kind       Kind
		wantSuffix string
		hasProfile bool
	}{
		{Overall, profile, true},
		{Personalization, profile, true},
		{OverallNoProfile, tail, false},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			_, user := Prompt(tt.kind, in)
			if !strings.HasPrefix(user, "[Instruction]\nPlease act as an impartial ") {
				t.Errorf("prompt does not start with the instruction header: %q", user[:min(60, len(user))])
			}
			if !strings.HasSuffix(user, tt.wantSuffix) {
				t.Errorf("prompt does not end with %q:\n%s", tt.wantSuffix, user)
			}
			if got := strings.Contains(user, "P1") || strings.Contains(user, "W1"); got != tt.hasProfile {
				t.Errorf("profile present = %v, want %v", got, tt.hasProfile)
			}
		})
	}
}

func TestPromptNoPlaceholderInjection(t *testing.T) {
	in := Input{
		Question:       "write {answer} here",
		Answer:         "my {question} and {profile_info} {instruction}",
		Profile:        "{writing_history}",
		WritingHistory: "h",
	}
	_, user := Prompt(Overall, in)
	for _, want := range []string{
		"\n[Question]\nwrite {answer} here\n",
		"\nmy {question} and {profile_info} {instruction}\n[The End",
		"\n[User Profile and Writing History]\n{writing_history}\nh\n",
	} {
		if !strings.Contains(user, want) {
			t.Errorf("prompt lacks literal %q:\n%s", want, user)
		}
	}
}

func TestPromptInvalidKindPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Prompt(Kind(0)) did not panic")
		}
	}()
	Prompt(Kind(0), Input{})
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind Kind
		want string
	}{
		{Overall, "Ovl.(w)"},
		{Personalization, "Per."},
		{OverallNoProfile, "Ovl.(w/o)"},
		{Kind(9), "Kind(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.kind.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
	if diff := cmp.Diff([]Kind{Overall, Personalization, OverallNoProfile}, Kinds()); diff != "" {
		t.Errorf("Kinds() mismatch (-want +got):\n%s", diff)
	}
}
