package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cogenesis/cogenesis/internal/audit"
)

const auditUsage = `usage: cogen audit show [--bodies] FILE | seen FILE [--slm MODEL] [--user FILE] [--strategy S] [--json] | verify FILE | repair FILE

  show FILE     list the requests in the egress audit log FILE
  seen FILE     what the cloud saw: per strategy, the exact texts the requests
                carried (token-id prompts decoded with --slm) and the tokens
                sent; with --user (or --dataset F --index N), each private item
                of that user and whether a request carried it (exit status 1
                when one did without the llm-context grant)
  verify FILE   check FILE's hash chain, and its end against FILE.head
                (exit status 1 when the chain is broken, records are missing
                from the end, or FILE.head is missing beside a non-empty log)
  repair FILE   cut a torn last line (a crash or a full disk cut the last
                write short) and rewrite a missing or unreadable FILE.head,
                recording the repair in the log; anything else is refused`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef(auditUsage, "no audit subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, auditUsage)
		return nil
	case "show", "verify", "repair":
	case "seen":
		return auditSeen(ctx, rest, stdout, stderr)
	default:
		return usagef(auditUsage, "unknown audit subcommand %q", sub)
	}
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	setUsage(fs, auditUsage)
	bodies := fs.Bool("bodies", false, "show: print each request body")
	if err := parse(fs, rest, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(auditUsage, "want one audit file, got %d", fs.NArg())
	}
	path := fs.Arg(0)
	switch sub {
	case "verify":
		return auditVerify(path, stdout)
	case "repair":
		r, err := audit.Repair(ctx, path)
		if err != nil {
			return err
		}
		if r.Record == nil {
			fmt.Fprintf(stdout, "%s: nothing to repair\n", path)
			return nil
		}
		if r.Cut > 0 {
			fmt.Fprintf(stdout, "%s: cut a torn last line of %d bytes (line %d, sha256 %s)\n", path, r.Cut, r.Line, r.CutSHA256)
		}
		for _, rule := range r.Rules {
			switch rule {
			case audit.RuleHeadMissing:
				fmt.Fprintf(stdout, "%s: wrote the missing head file %s.head (records removed from the end before now cannot be detected)\n", path, path)
			case audit.RuleHeadUnreadable:
				fmt.Fprintf(stdout, "%s: rewrote the unreadable head file %s.head\n", path, path)
			}
		}
		fmt.Fprintf(stdout, "%s: recorded the repair as record %d (hash %s)\n", path, r.Record.Seq, r.Record.Hash)
		return nil
	}
	recs, err := audit.Read(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tPOLICY\tSTRATEGY\tHOST\tPATH\tBYTES\tVERDICT\tRULES")
	for _, r := range recs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Seq, r.Time.Format("2006-01-02 15:04:05"), orDash(r.Policy), orDash(r.Strategy), r.Host, r.Path, r.Bytes, orDash(r.Verdict), orDash(strings.Join(r.Rules, ",")))
	}
	tw.Flush()
	if *bodies {
		for _, r := range recs {
			fmt.Fprintf(stdout, "\n#%d %s %s\n%s\n", r.Seq, r.Method, r.Path, r.Body)
		}
	}
	s := audit.Summarize(recs)
	fmt.Fprintf(stdout, "\n%d requests left the device, %d bytes; by verdict: %s; by strategy: %s\n", s.Records, s.Bytes, counts(s.ByVerdict), counts(s.ByStrategy))
	if s.Repairs > 0 {
		fmt.Fprintf(stdout, "%d repairs of the log itself (cogen audit repair)\n", s.Repairs)
	}
	return nil
}

// auditVerify prints what audit.VerifyFile found. Every finding that means
// the log cannot be vouched for is an error (exit status 1), including a
// missing head file beside a non-empty log: without it records removed
// from the end go unnoticed, and since every writer keeps one, its absence
// is itself a sign that files were removed or replaced.
func auditVerify(path string, stdout io.Writer) error {
	st, err := audit.VerifyFile(path)
	switch {
	case err != nil:
		return err
	case st.Records == 0:
		fmt.Fprintf(stdout, "%s: empty log, nothing recorded\n", path)
	case st.Head.Seq == st.Records:
		fmt.Fprintf(stdout, "%s: %d records, chain intact, head matches (seq %d, hash %s)\n", path, st.Records, st.Head.Seq, st.Head.Hash)
	default:
		fmt.Fprintf(stdout, "%s: %d records, chain intact, head at seq %d (hash %s) matches; the last %d were appended after the head was written (a writer still running, or a crash between record and head)\n",
			path, st.Records, st.Head.Seq, st.Head.Hash, st.Records-st.Head.Seq)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", orDash(k), m[k]))
	}
	return strings.Join(parts, ", ")
}
