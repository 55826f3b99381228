package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/privacy"
	"github.com/cogenesis/cogenesis/privacy/guardmodel"
	"github.com/cogenesis/cogenesis/privacy/pii"
)

const guardUsage = `usage: cogen guard check (--user FILE | --dataset FILE --index N | --vault PATH --user-id ID) [--json] [--guard-model local --slm PATH] [TEXT | -]
       cogen guard eval --pupa FILE.csv [--json]

check: the guard's findings in TEXT (- reads standard input; without TEXT,
the general section of the --dataset record) against one user's private
context, and the text as it would leave the device (redacted).
eval: the generic detector (e-mail, phone, card, IBAN, national ID, URL,
names of people, organisations and places ...) on PUPA-format prompts:
recall over the annotated PII units, prompts flagged, false findings.`

func runGuard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef(guardUsage, "guard needs a subcommand: check or eval")
	}
	switch args[0] {
	case "check":
		return runGuardCheck(ctx, args[1:], stdout, stderr)
	case "eval":
		return runGuardEval(args[1:], stdout, stderr)
	}
	return usagef(guardUsage, "unknown guard subcommand %q", args[0])
}

func runGuardCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guard check", flag.ContinueOnError)
	var (
		user       = fs.String("user", "", "user file (TOML or JSON) with the private context")
		dataset    = fs.String("dataset", "", "context-aware dataset file (the paper's context_dev.json format)")
		index      = fs.Int("index", 0, "record index in --dataset")
		vaultPath  = fs.String("vault", "", "vault database")
		userID     = fs.String("user-id", "", "the user in --vault")
		asJSON     = fs.Bool("json", false, "print the findings and the public text as JSON")
		guardModel = fs.String("guard-model", "off", "off, or local: also ask the local model (--slm) which spans reveal the context")
		slm        = fs.String("slm", "", "local model (GGUF) for --guard-model local")
	)
	var ef engineFlags
	ef.register(fs)
	setUsage(fs, guardUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	v, text, err := guardVault(ctx, *user, *dataset, *index, *vaultPath, *userID, stderr)
	if err != nil {
		return err
	}
	switch arg := strings.Join(fs.Args(), " "); {
	case arg == "-":
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		text = string(b)
	case arg != "":
		text = arg
	case text == "":
		return usagef(guardUsage, "no text to check: give TEXT, - for standard input, or a --dataset record")
	}
	g := privacy.NewGuard(v)
	var extra []privacy.Finding
	var stats *guardmodel.Stats
	switch *guardModel {
	case "off":
	case "local":
		if *slm == "" {
			return usagef(guardUsage, "--guard-model local needs --slm PATH")
		}
		m, err := openModel(ctx, *slm, ef, stderr)
		if err != nil {
			return err
		}
		defer m.Close()
		c, err := guardmodel.New(m, v, guardmodel.Options{})
		if err != nil {
			return err
		}
		fs, st, err := c.Check(ctx, text)
		if err != nil {
			return err
		}
		extra, stats = fs, &st
	default:
		return usagef(guardUsage, "--guard-model %q: want off or local", *guardModel)
	}
	pub, findings, err := g.PublicWith(text, privacy.Redact, extra)
	if err != nil {
		return err
	}
	if *asJSON {
		type finding struct {
			Rule       string `json:"rule"`
			Start, End int
			Text       string `json:"text"`
		}
		out := struct {
			Findings []finding         `json:"findings"`
			Public   string            `json:"public"`
			Model    *guardmodel.Stats `json:"model,omitempty"`
		}{Findings: []finding{}, Public: pub.String(), Model: stats}
		for _, f := range findings {
			out.Findings = append(out.Findings, finding{f.Rule, f.Start, f.End, text[f.Start:f.End]})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(findings) == 0 {
		fmt.Fprintln(stdout, "no findings: the text may leave the device as it is")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tBYTES\tTEXT")
	for _, f := range findings {
		fmt.Fprintf(tw, "%s\t[%d,%d)\t%q\n", f.Rule, f.Start, f.End, text[f.Start:f.End])
	}
	tw.Flush()
	if stats != nil {
		fmt.Fprintf(stdout, "\nguard model: %d prompt tokens (%d evaluated), %d generated, %d spans (%d not in the text), %v\n",
			stats.PromptTokens, stats.EvaluatedTokens, stats.GeneratedTokens, stats.Spans, stats.Dropped, stats.Duration.Round(1e6))
	}
	fmt.Fprintf(stdout, "\nas it would leave the device:\n%s\n", pub.String())
	return nil
}

// guardVault loads one user's private context from a user file, a dataset
// record or the vault; with a dataset record it also returns the record's
// general section, the text a run would send.
func guardVault(ctx context.Context, user, dataset string, index int, vaultPath, userID string, stderr io.Writer) (*privacy.Vault, string, error) {
	n := 0
	for _, s := range []string{user, dataset, vaultPath} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, "", usagef(guardUsage, "give one of --user, --dataset or --vault")
	}
	switch {
	case user != "":
		v, err := privacy.LoadVault(user)
		return v, "", err
	case dataset != "":
		f, err := loadContext(dataset, false, stderr)
		if err != nil {
			return nil, "", err
		}
		rec, err := recordAt(f, index)
		if err != nil {
			return nil, "", err
		}
		return rec.Vault, rec.Task.General.UnsafeText(), nil
	}
	if userID == "" {
		return nil, "", usagef(guardUsage, "--vault needs --user-id ID")
	}
	store, err := vault.Open(ctx, vaultPath)
	if err != nil {
		return nil, "", err
	}
	defer store.Close()
	u, err := store.Get(ctx, userID)
	if err != nil {
		return nil, "", err
	}
	return u.Vault(), "", nil
}

func runGuardEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guard eval", flag.ContinueOnError)
	var (
		pupa   = fs.String("pupa", "", "PUPA-format CSV (conversation_hash, user_query, pii_units, ...)")
		asJSON = fs.Bool("json", false, "print the report as JSON")
	)
	setUsage(fs, guardUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *pupa == "" {
		return usagef(guardUsage, "guard eval needs --pupa FILE.csv")
	}
	f, err := os.Open(*pupa)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := pii.EvalPUPA(f, privacy.GenericSpans)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tprompts\tunits\trecalled\trecall\tflagged\tfindings\tfalse\tfalse/prompt\t")
	row := func(name string, t pii.Tally) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t%d\t%d\t%.3f\t\n", name, t.Prompts, t.Units, t.UnitsRecalled, 100*t.Recall(),
			100*t.FlaggedShare(), t.Findings, t.FalseFindings, t.FalsePerPrompt())
	}
	row("all", rep.Tally)
	row("hash even", rep.Even)
	row("hash odd", rep.Odd)
	tw.Flush()
	fmt.Fprintf(stdout, "\nunits absent from their prompt: %d; Presidio placeholders (not counted): %d\n", rep.AbsentUnits, rep.PlaceholderUnits)
	kinds := make([]pii.Kind, 0, len(rep.ByKind))
	for k := range rep.ByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(stdout)
	fmt.Fprintln(tw, "kind\tfindings\ton a unit\tfalse\tunits recalled\t")
	for _, k := range kinds {
		kt := rep.ByKind[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", k, kt.Findings, kt.True, kt.False, kt.Recalled)
	}
	return tw.Flush()
}
