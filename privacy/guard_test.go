package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const marker = "ZebraMarkerSecret"

func testVault() *Vault {
	return &Vault{
		Name:         NewPrivate("Isabel Martinez"),
		Location:     NewPrivate("Miami, Florida"),
		Emails:       []Private{NewPrivate("isabel@example.org")},
		PrivateFacts: []Private{NewPrivate("Hosts a monthly dinner party to network with potential high-end clients"), NewPrivate("Loves sailing")},
		ActivityLog:  []Private{NewPrivate("Uses a smart thermostat that logs when the house is empty")},
		History:      []HistoryItem{{Title: NewPrivate("t"), Text: NewPrivate("Azure Retreat waterfront sanctuary unveiled today")}},
	}
}

func TestGuardCheck(t *testing.T) {
	g := NewGuard(testVault())
	tests := []struct {
		name string
		text string
		rule string // "" means no finding
	}{
		{"clean", "Write a marketing script for a dinner event.", ""},
		{"full name", "A note from Isabel Martinez about homes.", RuleName},
		{"name part possessive", "Isabel's newest listing", RuleName},
		{"city", "Homes in Miami are expensive", RuleLocation},
		{"fact reordered, inflected", "Plan the dinner parties she hosts every month for potential clients", RuleFact},
		{"fact owned", "highlights your monthly dinner party as a platform", RuleFact},
		{"fact topic, not owned", "Plan a monthly dinner party menu", ""},
		{"short fact phrase", "She loves sailing on weekends", RuleFact},
		{"activity reworded", "my smart thermostat logs when my house sits empty", RuleActivity},
		{"history words", "the Azure Retreat waterfront home", RuleHistory},
		{"vault email", "mail isabel@example.org now", RuleEmailVault},
		{"generic email", "mail jo.smith@corp.example now", RuleEmail},
		{"card", "card 4111-1111-1111-1111 please", RuleCard},
		{"not a card (Luhn)", "number 4111-1111-1111-1112 please", ""},
		{"iban", "pay DE89 3704 0044 0532 0130 00 today", RuleIBAN},
		{"ssn", "id 078-05-1120", RuleNationalID},
		{"phone", "call +1 305 555 0147 soon", RulePhone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := g.Check(tt.text)
			if tt.rule == "" {
				if len(fs) != 0 {
					t.Errorf("findings %v, want none", fs)
				}
				return
			}
			found := false
			for _, f := range fs {
				if f.Rule == tt.rule {
					found = true
				}
				if f.Start < 0 || f.End > len(tt.text) || f.Start >= f.End {
					t.Errorf("bad span %v", f)
				}
			}
			if !found {
				t.Errorf("findings %v, want rule %s", fs, tt.rule)
			}
		})
	}
}

func TestGuardPolicies(t *testing.T) {
	g := NewGuard(testVault())
	text := "Isabel Martinez hosts a monthly dinner party for high-end clients in Miami"
	_, _, err := g.Public(text, Block)
	le, ok := errors.AsType[*LeakError](err)
	if !ok || !errors.Is(err, ErrPrivateEgress) || le.RuleID != RuleName || le.Start != 0 {
		t.Fatalf("Block: err = %v", err)
	}
	if strings.Contains(err.Error(), "Isabel") || strings.Contains(err.Error(), "dinner") {
		t.Errorf("leak error quotes the text: %q", err)
	}
	pub, fs, err := g.Public(text, Redact)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pub.String(), "[NAME] [PRIVATE] a monthly [PRIVATE] for high-end [PRIVATE] in [LOCATION]"; got != want {
		t.Errorf("Redact = %q, want %q (findings %v)", got, want, fs)
	}
	clean, fs, err := g.Public("A general task about homes", Block)
	if err != nil || len(fs) != 0 || clean.String() != "A general task about homes" {
		t.Errorf("clean text: %q %v %v", clean.String(), fs, err)
	}
}

func TestGuardPublicTokens(t *testing.T) {
	g := NewGuard(testVault())
	texts := map[int32]string{1: "A note", 2: " for", 3: " Isabel"}
	detok := func(ids []int32) string {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(texts[id])
		}
		return b.String()
	}
	pt, leak := g.PublicTokens([]int32{1, 2}, detok)
	if leak != nil || pt.Len() != 2 {
		t.Fatalf("clean prefix: %v %v", pt, leak)
	}
	if _, leak := g.PublicTokens([]int32{1, 2, 3}, detok); leak == nil || leak.RuleID != RuleName {
		t.Errorf("prefix with the name: leak = %v", leak)
	}
}

func TestCheckEgress(t *testing.T) {
	g := NewGuard(testVault())
	detok := func(ids []int32) string {
		if len(ids) == 3 {
			return "your monthly dinner party"
		}
		return "hello"
	}
	tests := []struct {
		name string
		body string
		rule string
	}{
		{"clean chat", `{"messages":[{"role":"user","content":"Write about homes"}]}`, ""},
		{"chat with a fact", `{"messages":[{"role":"user","content":"my monthly dinner party"}]}`, RuleFact},
		{"token prompt with a fact", `{"prompt":[5,6,7],"max_tokens":1}`, RuleFact},
		{"token prompt clean", `{"prompt":[5,6],"max_tokens":1}`, ""},
		{"not json", `Isabel Martinez`, RuleName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := g.CheckEgress([]byte(tt.body), detok)
			if tt.rule == "" {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err == nil || len(rules) == 0 || rules[0] != tt.rule {
				t.Errorf("rules %v err %v, want %s", rules, err, tt.rule)
			}
		})
	}
}

func TestPrivateNeverPrints(t *testing.T) {
	p := NewPrivate(marker)
	type holder struct {
		P Private
		q Private
	}
	h := holder{P: p, q: p}
	var outs []string
	for _, f := range []string{"%s", "%v", "%q", "%+v", "%#v", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(f, p), fmt.Sprintf(f, h))
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "p", p, "h", h)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "p", p)
	outs = append(outs, buf.String())
	if b, err := json.Marshal(h); err == nil {
		outs = append(outs, string(b))
	}
	for _, o := range outs {
		if strings.Contains(o, marker) {
			t.Errorf("private text printed: %q", o)
		}
	}
}

func TestLoadVault(t *testing.T) {
	v, err := LoadVault(filepath.Join("..", "examples", "user.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Name.IsZero() || len(v.PrivateFacts) != 3 || len(v.ActivityLog) != 3 || len(v.History) != 2 {
		t.Errorf("loaded vault: %d facts, %d activities, %d history", len(v.PrivateFacts), len(v.ActivityLog), len(v.History))
	}
	dir := t.TempDir()
	bad := []struct {
		name, file, body, want string
	}{
		{"unknown key", "u.toml", "name = \"A\"\nnickname = \"" + marker + "\"\n[[history]]\ntext = \"x\"\n", `field "nickname": unknown key`},
		{"no name", "u.toml", "[[history]]\ntext = \"x\"\n", `field "name": required`},
		{"no history", "u.json", `{"name":"A"}`, `field "history"`},
		{"empty history text", "u.json", `{"name":"A","history":[{"title":"t","text":" "}]}`, `field "history[0].text": empty`},
		{"bad toml", "u.toml", "name = \"" + marker, "invalid TOML"},
		{"bad json", "u.json", `{"name": "` + marker, "JSON"},
		{"other extension", "u.yaml", "name: A", "want a .toml or .json file"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.file)
			if err := os.WriteFile(p, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadVault(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), marker) {
				t.Errorf("error quotes the file: %v", err)
			}
		})
	}
}

func TestParseContextRecordErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"no turns", `{"tid":"1","conversations":[],"profile":[{"title":"t","text":"x"}],"additional_profile":"Name: A"}`, `field "conversations"`},
		{"no name", `{"tid":"1","conversations":[{"from":"user","value":"a: b"},{"from":"assistant","value":"c"}],"profile":[{"title":"t","text":"x"}],"additional_profile":"Age: 41\n` + marker + `"}`, `no Name line`},
		{"empty history", `{"tid":"1","conversations":[{"from":"user","value":"a: b"},{"from":"assistant","value":"c"}],"profile":[],"additional_profile":"Name: A"}`, `field "profile": empty writing history`},
		{"wrong type", `{"tid":"1","conversations":"x"}`, `field "conversations"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseContextRecord("ctx.json", 7, []byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "record 7") {
				t.Errorf("err = %v, want record 7 and %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), marker) {
				t.Errorf("error quotes the record: %v", err)
			}
		})
	}
}

// FuzzGuardFindsInsertedSpan inserts a private fact or entity at a
// fuzzer-chosen place of fuzzer-chosen text: the guard always finds it.
func FuzzGuardFindsInsertedSpan(f *testing.F) {
	f.Add("Write a short note for the team.", 5, uint8(0))
	f.Add("", 0, uint8(2))
	f.Add("monthly dinner", 3, uint8(1))
	v := testVault()
	g := NewGuard(v)
	items := []string{v.Name.UnsafeText(), v.Location.UnsafeText(), v.PrivateFacts[0].UnsafeText(), v.PrivateFacts[1].UnsafeText(), v.ActivityLog[0].UnsafeText(), "isabel@example.org"}
	f.Fuzz(func(t *testing.T, text string, at int, which uint8) {
		item := items[int(which)%len(items)]
		if at < 0 {
			at = -at
		}
		at %= len(text) + 1
		for at > 0 && at < len(text) && !utf8RuneStart(text[at]) {
			at--
		}
		s := text[:at] + " " + item + " " + text[at:]
		if len(g.Check(s)) == 0 {
			t.Fatalf("inserted item %d not found", int(which)%len(items))
		}
	})
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// TestGuardDiscountsDeclaredConstants checks that a prompt template's own
// text never counts as a finding, while the same phrase written by the
// user, or a finding that crosses the template's edge, still does.
func TestGuardDiscountsDeclaredConstants(t *testing.T) {
	g := NewGuard(testVault())
	const tmpl = "Example task: write a script that highlights your monthly dinner party as a networking platform.\n"
	template := PublicConst(tmpl)
	if fs := g.Check(template.String() + "Now write a note for the garden club."); len(fs) != 0 {
		t.Errorf("template text flagged: %v", fs)
	}
	if fs := g.Check(template.String() + "Also mention our monthly dinner party for new clients."); len(fs) == 0 {
		t.Errorf("the user's own copy of the phrase was discounted")
	}
	// A near copy of the template is not the template.
	near := strings.Replace(tmpl, "Example", "Sample", 1)
	if fs := g.Check(near); len(fs) == 0 {
		t.Errorf("a modified copy of the template was discounted")
	}
	// The entity in user text right after the template still counts.
	if fs := g.Check(template.String() + "Isabel Martinez"); len(fs) == 0 {
		t.Errorf("an entity after the template was discounted")
	}
}
