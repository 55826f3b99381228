package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cogenesis/cogenesis/internal/audit"
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: cogen audit show|verify FILE", "no audit subcommand")
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	bodies := fs.Bool("bodies", false, "show: print each request body")
	if err := parse(fs, rest, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: cogen audit show|verify FILE", "want one audit file, got %d", fs.NArg())
	}
	path := fs.Arg(0)
	switch sub {
	case "verify":
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := audit.Verify(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(stdout, "%s: %d records, chain intact\n", path, n)
		return nil
	case "show":
		recs, err := audit.Read(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tSTRATEGY\tHOST\tPATH\tBYTES\tVERDICT\tRULES")
		for _, r := range recs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Seq, r.Time.Format("2006-01-02 15:04:05"), r.Strategy, r.Host, r.Path, r.Bytes, orDash(r.Verdict), orDash(strings.Join(r.Rules, ",")))
		}
		tw.Flush()
		if *bodies {
			for _, r := range recs {
				fmt.Fprintf(stdout, "\n#%d %s %s\n%s\n", r.Seq, r.Method, r.Path, r.Body)
			}
		}
		s := audit.Summarize(recs)
		fmt.Fprintf(stdout, "\n%d requests left the device, %d bytes; by verdict: %s; by strategy: %s\n", s.Records, s.Bytes, counts(s.ByVerdict), counts(s.ByStrategy))
		return nil
	}
	return usagef("usage: cogen audit show|verify FILE", "unknown audit subcommand %q", sub)
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
