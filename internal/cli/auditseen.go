package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/privacy"
)

// errSeen is audit seen's failure: a private item of the user was in a
// request sent without the user's grant.
var errSeen = errors.New("private context left the device")

// seenPart is one text of a request body as the cloud read it: a chat
// message ("user: ..."), a prompt, or a prompt of token ids, decoded.
type seenPart struct {
	Label  string `json:"label"`
	Text   string `json:"text"`
	Tokens int    `json:"tokens"` // -1: unknown (no --slm to count with)
}

// seenRequest is one audited request, or a run of requests of one
// strategy each of whose texts extends the one before (fusion's growing
// prefixes), shown once by its longest.
type seenRequest struct {
	Seq     []int      `json:"seq"`
	Path    string     `json:"path"`
	Verdict string     `json:"verdict"`
	Parts   []seenPart `json:"parts"`
	// Tokens is the sum over the requests of the tokens sent (-1:
	// unknown).
	Tokens int `json:"tokens"`
	// First is the length in bytes of the first request's last part:
	// in a run, what came after it was written during the run.
	First int `json:"first"`
}

// seenStrategy is what one strategy's requests carried.
type seenStrategy struct {
	Strategy string        `json:"strategy"`
	Requests int           `json:"requests"`
	Bytes    int           `json:"bytes"`
	Tokens   int           `json:"tokens"`
	Sent     []seenRequest `json:"sent"`
}

// seenItem is one item of the user's private context and the requests it
// was found in.
type seenItem struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// SeenIn are the requests the guard found it in; Granted those of
	// them sent under the user's grant (llm-context).
	SeenIn  []int `json:"seen_in,omitempty"`
	Granted []int `json:"granted,omitempty"`
}

type seenReport struct {
	Log        string         `json:"log"`
	Strategies []seenStrategy `json:"strategies"`
	Private    []seenItem     `json:"private,omitempty"`
}

// auditSeen prints what the cloud saw: per strategy, the exact texts of
// the requests in the audit log (token-id prompts decoded with --slm) and
// the tokens sent; with a user, each item of the user's private context
// and whether any request carried it.
func auditSeen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit seen", flag.ContinueOnError)
	var (
		slm      = fs.String("slm", "", "model (GGUF or hf://) whose tokenizer decodes token-id prompts and counts tokens")
		user     = fs.String("user", "", "user file (TOML or JSON): list its private items and check each request for them")
		dataset  = fs.String("dataset", "", "or a context-aware dataset file and --index")
		index    = fs.Int("index", 0, "record index in --dataset")
		strategy = fs.String("strategy", "", "only this strategy's requests")
		asJSON   = fs.Bool("json", false, "print the report as JSON")
	)
	var ef engineFlags
	ef.register(fs)
	setUsage(fs, auditUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(auditUsage, "want one audit file, got %d", fs.NArg())
	}
	path := fs.Arg(0)
	recs, err := audit.Read(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var v *privacy.Vault
	if *user != "" || *dataset != "" {
		if v, _, err = guardVault(ctx, *user, *dataset, *index, "", "", stderr); err != nil {
			return err
		}
	}
	var tok seenTokenizer
	if *slm != "" {
		m, err := openModel(ctx, *slm, ef, stderr)
		if err != nil {
			return err
		}
		defer m.Close()
		tok = m
	}
	rep := seenReport{Log: path}
	items := privateItems(v)
	for _, r := range recs {
		if r.Method != "POST" || r.Body == "" || (*strategy != "" && r.Strategy != *strategy) {
			continue
		}
		body, err := r.BodyBytes()
		if err != nil {
			return fmt.Errorf("%s: record %d: %w", path, r.Seq, err)
		}
		parts := requestParts(body, tok)
		rep.add(r, parts)
		for i := range items {
			if items[i].in(parts) {
				if r.Verdict == audit.VerdictPrivate {
					items[i].Granted = append(items[i].Granted, r.Seq)
				} else {
					items[i].SeenIn = append(items[i].SeenIn, r.Seq)
				}
			}
		}
	}
	for _, it := range items {
		rep.Private = append(rep.Private, it.seenItem)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(stdout, tok != nil, *user+*dataset)
	}
	for _, it := range rep.Private {
		if len(it.SeenIn) > 0 {
			return errSeen
		}
	}
	return nil
}

// seenTokenizer decodes and counts tokens; *llamacpp.Model is one.
type seenTokenizer interface {
	Detokenize(toks []int32) string
	Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error)
}

// requestParts returns the texts of a request body: chat messages as
// "role" parts, and the strings or token ids under the prompt-like keys
// (prompt, content, system, input, text) anywhere in the body. Parameters
// (model, temperature, ...) are left out. A body that is not JSON is one
// part.
func requestParts(body []byte, tok seenTokenizer) []seenPart {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []seenPart{textPart("body", string(body), tok)}
	}
	var parts []seenPart
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			if msgs, ok := x["messages"].([]any); ok {
				for _, m := range msgs {
					if mm, ok := m.(map[string]any); ok {
						role, _ := mm["role"].(string)
						if s, ok := mm["content"].(string); ok {
							parts = append(parts, textPart(role, s, tok))
						} else {
							walk(mm["content"], "content")
						}
					}
				}
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				if k != "messages" {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(x[k], k)
			}
		case []any:
			if ids, ok := privacy.TokenIDs(x); ok && promptKey(key) {
				p := seenPart{Label: key + " (token ids)", Tokens: len(ids)}
				if tok != nil {
					p.Text = tok.Detokenize(ids)
				} else {
					p.Text = fmt.Sprintf("[%d token ids; pass --slm MODEL to decode]", len(ids))
				}
				parts = append(parts, p)
				return
			}
			for _, e := range x {
				walk(e, key)
			}
		case string:
			if promptKey(key) {
				parts = append(parts, textPart(key, x, tok))
			}
		}
	}
	walk(v, "")
	return parts
}

func promptKey(k string) bool {
	switch k {
	case "prompt", "content", "system", "input", "text", "tokens", "input_ids":
		return true
	}
	return false
}

func textPart(label, text string, tok seenTokenizer) seenPart {
	p := seenPart{Label: label, Text: text, Tokens: -1}
	if tok != nil {
		if ids, err := tok.Tokenize(text, false, true); err == nil {
			p.Tokens = len(ids)
		}
	}
	return p
}

func partsTokens(parts []seenPart) int {
	n := 0
	for _, p := range parts {
		if p.Tokens < 0 {
			return -1
		}
		n += p.Tokens
	}
	return n
}

// extends reports whether b's parts are a's with the last one extended
// (or equal): the next request of a fusion run.
func extends(a, b []seenPart) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i].Label != b[i].Label {
			return false
		}
		if i < len(a)-1 && a[i].Text != b[i].Text {
			return false
		}
	}
	return strings.HasPrefix(b[len(b)-1].Text, a[len(a)-1].Text)
}

func (rep *seenReport) add(r audit.Record, parts []seenPart) {
	i := slices.IndexFunc(rep.Strategies, func(s seenStrategy) bool { return s.Strategy == r.Strategy })
	if i < 0 {
		rep.Strategies = append(rep.Strategies, seenStrategy{Strategy: r.Strategy})
		i = len(rep.Strategies) - 1
	}
	s := &rep.Strategies[i]
	n := partsTokens(parts)
	s.Requests++
	s.Bytes += r.Bytes
	s.Tokens = addTokens(s.Tokens, n)
	if k := len(s.Sent) - 1; k >= 0 && s.Sent[k].Path == r.Path && s.Sent[k].Verdict == r.Verdict && extends(s.Sent[k].Parts, parts) {
		last := &s.Sent[k]
		last.Seq = append(last.Seq, r.Seq)
		last.Parts = parts
		last.Tokens = addTokens(last.Tokens, n)
		return
	}
	first := 0
	if len(parts) > 0 {
		first = len(parts[len(parts)-1].Text)
	}
	s.Sent = append(s.Sent, seenRequest{Seq: []int{r.Seq}, Path: r.Path, Verdict: r.Verdict, Parts: parts, Tokens: n, First: first})
}

// addTokens adds n to sum; -1 (unknown) in either makes it unknown.
func addTokens(sum, n int) int {
	if sum < 0 || n < 0 {
		return -1
	}
	return sum + n
}

func (rep *seenReport) print(w io.Writer, decoded bool, userFile string) {
	fmt.Fprintf(w, "What the cloud saw (%s)\n", rep.Log)
	if len(rep.Strategies) == 0 {
		fmt.Fprintln(w, "\nNo request carried a body: the cloud saw nothing.")
	}
	for _, s := range rep.Strategies {
		fmt.Fprintf(w, "\n== %s: %s, %d bytes, %s sent\n", orDash(s.Strategy), fmt.Sprintf("%d %s", s.Requests, plural(s.Requests, "request")), s.Bytes, tokensText(s.Tokens))
		for _, q := range s.Sent {
			head := fmt.Sprintf("#%d POST %s", q.Seq[0], q.Path)
			if n := len(q.Seq); n > 1 {
				head = fmt.Sprintf("#%d-#%d POST %s (%d requests, each extending the one before; the last one shown)", q.Seq[0], q.Seq[n-1], q.Path, n)
			}
			if q.Verdict == audit.VerdictPrivate {
				head += " [sent with your private context: the llm-context baseline you allowed]"
			}
			if strings.HasSuffix(q.Path, "/tokenize") {
				head += " (the tokenizer check: a fixed public sentence)"
			}
			fmt.Fprintf(w, "  %s, %s\n", head, tokensText(q.Tokens))
			for i, p := range q.Parts {
				fmt.Fprintf(w, "    %s:\n", p.Label)
				if i == len(q.Parts)-1 && len(q.Seq) > 1 && q.First < len(p.Text) {
					printLines(w, p.Text[:q.First])
					fmt.Fprintln(w, "    then the text written so far (each request added the tokens drawn since the one before):")
					printLines(w, p.Text[q.First:])
					continue
				}
				printLines(w, p.Text)
			}
		}
	}
	if !decoded {
		fmt.Fprintln(w, "\n(token counts need --slm MODEL, which also decodes token-id prompts)")
	}
	if userFile == "" {
		return
	}
	fmt.Fprintf(w, "\nThe private context of %s, checked in every request above:\n", userFile)
	var seen int
	for _, it := range rep.Private {
		status := "not sent"
		switch {
		case len(it.SeenIn) > 0:
			seen++
			status = "SENT in " + seqList(it.SeenIn)
		case len(it.Granted) > 0:
			status = "sent only with your grant (llm-context) in " + seqList(it.Granted)
		}
		fmt.Fprintf(w, "  %-10s %-10s %s\n", it.Kind, status, it.Text)
	}
	if seen == 0 {
		fmt.Fprintf(w, "None of the %d private items was in a request sent without your grant.\n", len(rep.Private))
	} else {
		fmt.Fprintf(w, "%d of the %d private items were sent without your grant.\n", seen, len(rep.Private))
	}
}

// printLines prints text indented behind a bar, a run of three or more
// empty lines as one line that counts them.
func printLines(w io.Writer, text string) {
	empty := 0
	flush := func() {
		if empty >= 3 {
			fmt.Fprintf(w, "      | (%d empty lines)\n", empty)
		} else {
			for range empty {
				fmt.Fprintln(w, "      |")
			}
		}
		empty = 0
	}
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == "" {
			empty++
			continue
		}
		flush()
		fmt.Fprintf(w, "      | %s\n", line)
	}
	flush()
}

func tokensText(n int) string {
	if n < 0 {
		return "? tokens"
	}
	return fmt.Sprintf("%d %s", n, plural(n, "token"))
}

func seqList(seqs []int) string {
	s := make([]string, len(seqs))
	for i, q := range seqs {
		s[i] = fmt.Sprintf("#%d", q)
	}
	return strings.Join(s, ",")
}

// privateItem is one item of the private context with a guard that knows
// only it, so that a finding names the item.
type privateItem struct {
	seenItem
	guard *privacy.Guard
}

func (it privateItem) in(parts []seenPart) bool {
	for _, p := range parts {
		for _, f := range it.guard.Check(p.Text) {
			// The generic detectors (pii.*: any e-mail, phone, card ...)
			// say nothing about this item.
			if !strings.HasPrefix(f.Rule, "pii.") {
				return true
			}
		}
	}
	return false
}

// privateItems lists v's private items that the guard protects: name,
// location, e-mails, phones, identifiers, private facts and the activity
// log.
func privateItems(v *privacy.Vault) []privateItem {
	if v == nil {
		return nil
	}
	var items []privateItem
	add := func(kind string, p privacy.Private, only privacy.Vault) {
		if strings.TrimSpace(p.UnsafeText()) == "" {
			return
		}
		items = append(items, privateItem{seenItem{Kind: kind, Text: p.UnsafeText()}, onlyGuard(only)})
	}
	add("name", v.Name, privacy.Vault{Name: v.Name})
	add("location", v.Location, privacy.Vault{Location: v.Location})
	for _, p := range v.Emails {
		add("email", p, privacy.Vault{Emails: []privacy.Private{p}})
	}
	for _, p := range v.Phones {
		add("phone", p, privacy.Vault{Phones: []privacy.Private{p}})
	}
	for _, p := range v.Identifiers {
		add("identifier", p, privacy.Vault{Identifiers: []privacy.Private{p}})
	}
	for _, p := range v.PrivateFacts {
		add("fact", p, privacy.Vault{PrivateFacts: []privacy.Private{p}})
	}
	for _, p := range v.ActivityLog {
		add("activity", p, privacy.Vault{ActivityLog: []privacy.Private{p}})
	}
	return items
}

func onlyGuard(v privacy.Vault) *privacy.Guard { return privacy.NewGuard(&v) }
