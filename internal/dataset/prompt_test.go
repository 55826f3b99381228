package dataset_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

func TestPromptRender(t *testing.T) {
	tests := []struct {
		name        string
		p           dataset.Prompt
		want, wantW string
	}{
		{
			name: "paper",
			p:    dataset.Prompt{Kind: dataset.KindPaper, Target: "Joins at scale", History: []dataset.ProfileItem{{Title: "Fast joins", Text: "We make joins fast."}, {Title: "Slow joins", Text: "We study why joins are slow."}}},
			want: "You are now a helpful personal AI assistant. You should emulate the author's style and tone based on provided history content. Your responses should be detailed and informative, matching the author's unique writing approach. Aim for insightful and high-quality solutions that make users satisfied." +
				"\n\n## History Paper Abstracts\nTitle: Fast joins\nContent: We make joins fast.\n\nTitle: Slow joins\nContent: We study why joins are slow." +
				"\n\n## Task\nCompose an abstract for the title 'Joins at scale' that matches the author's unique content, style and tone.\n",
			wantW: "Compose an abstract for the title 'Joins at scale' that matches the author's unique content, style and tone.",
		},
		{
			name: "email",
			p:    dataset.Prompt{Kind: dataset.KindEmail, Target: "Lunch", History: []dataset.ProfileItem{{Title: "Re: lunch", Text: "Friday works.\nSee you."}}},
			want: dataset.SystemPrompt +
				"\n\n## History Emails\nTitle: Re: lunch\nContent: Friday works.\nSee you." +
				"\n\n## Task\nCompose an email for the subject 'Lunch' that matches the author's unique style and tone.\n",
			wantW: "Compose an email for the subject 'Lunch' that matches the author's unique style and tone.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.p.String()); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantW, tt.p.Without()); diff != "" {
				t.Errorf("Without (-want +got):\n%s", diff)
			}
			back, err := dataset.ParsePrompt(tt.p.Kind, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.p, back); diff != "" {
				t.Errorf("ParsePrompt (-want +got):\n%s", diff)
			}
			target, ok := dataset.ParseTask(tt.p.Kind, tt.wantW)
			if !ok || target != tt.p.Target {
				t.Errorf("ParseTask = %q, %v; want %q, true", target, ok, tt.p.Target)
			}
		})
	}
}

func TestParseTaskRejects(t *testing.T) {
	tests := []struct {
		name string
		kind dataset.Kind
		line string
	}{
		{"email line as paper", dataset.KindPaper, "Compose an email for the subject 'Lunch' that matches the author's unique style and tone."},
		{"empty target", dataset.KindPaper, "Compose an abstract for the title ' ' that matches the author's unique content, style and tone."},
		{"trailing newline", dataset.KindEmail, "Compose an email for the subject 'Lunch' that matches the author's unique style and tone.\n"},
		{"context kind", dataset.KindContext, "Write a note: now."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if target, ok := dataset.ParseTask(tt.kind, tt.line); ok {
				t.Errorf("ParseTask accepted the line (target %q)", target)
			}
		})
	}
}

func TestRecordHistory(t *testing.T) {
	f, err := dataset.LoadWith("testdata/paper_small.json", dataset.Options{Without: "testdata/paper_small_wo.json"})
	if err != nil {
		t.Fatal(err)
	}
	want := []dataset.ProfileItem{{Title: "Fast joins", Text: "We make joins fast."}, {Title: "Slow joins", Text: "We study why joins are slow."}}
	if diff := cmp.Diff(want, f.Records[0].History()); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	if got := f.Without[0].History(); got != nil {
		t.Errorf("a without-context record has history %v", got)
	}
}
