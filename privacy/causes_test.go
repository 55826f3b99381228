package privacy

import (
	"strings"
	"testing"
)

// TestGuardCauses has one regression test for each cause of a miss or a
// needless redaction that issue 17 lists.
func TestGuardCauses(t *testing.T) {
	v := &Vault{
		Name:     NewPrivate("Dana Whitfield"),
		Location: NewPrivate("Leeds, UK"),
		PrivateFacts: []Private{
			NewPrivate("Writes a new product description email for the shop every Monday"),
			NewPrivate("Leads historical re-enactment projects at the castle"),
			NewPrivate("Owes forty grand to a loan shark named Vinnie Marbles"),
			NewPrivate("Her sister Odalys works at Brightwater Logistics"),
			NewPrivate("Has contributed to digital marketing strategies for small businesses since 2015"),
		},
	}
	g := NewGuard(v)
	tests := []struct {
		name, text string
		want       string // the rule of a finding, "" for none
	}{
		// Words the old stop list dropped carry this fact.
		{"fact of stop-list words", "Draft the new product description email for the shop", RuleFact},
		// Plural and inflected forms.
		{"inflection", "Photos from the castle's historical re-enactments that she leads", RuleFact},
		// Word order.
		{"reordered", "Vinnie Marbles, the loan shark to whom I owe forty grand", RuleFact},
		{"reordered without the name", "the loan shark to whom I owe forty grand", RuleFact},
		// A person's name inside a fact is an entity of its own.
		{"name inside a fact", "A birthday card for Odalys", RuleFactEntity},
		{"organisation inside a fact", "A cover letter for Brightwater Logistics", RuleFactEntity},
		// A generic topic that shares common words with a fact stays.
		{"generic topic", "Write a blog post on contemporary digital marketing strategies", ""},
		// Dates and amounts are not phone numbers.
		{"date range", "She worked there from Jun 2015-Dec 2016 and 2019-2022", ""},
		{"amount", "The budget is $1,200.00 and the GPA 3.69 of 4", ""},
		{"years", "Sales in 2021 2022 2023 grew", ""},
		{"phone", "Call her on +44 113 496 0000", RulePhone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := g.Check(tt.text)
			if tt.want == "" {
				if len(fs) > 0 {
					t.Errorf("findings %v, want none", fs)
				}
				return
			}
			for _, f := range fs {
				if f.Rule == tt.want {
					return
				}
			}
			t.Errorf("findings %v, want one of rule %s", fs, tt.want)
		})
	}
	// A redaction removes the fact's telling words, not the whole task.
	pub, _, err := g.Public("Write a thank-you note to the loan shark I owe forty grand", Redact)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"shark", "forty"} { // the rarest
		if strings.Contains(pub.String(), w) {
			t.Errorf("redacted %q keeps %q", pub.String(), w)
		}
	}
	if !strings.HasPrefix(pub.String(), "Write a thank-you note") {
		t.Errorf("redacted %q lost the task", pub.String())
	}
}
