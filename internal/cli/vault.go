package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/BurntSushi/toml"
	"github.com/cogenesis/cogenesis/internal/atomicfile"
	"github.com/cogenesis/cogenesis/internal/dataset"
	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/privacy"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

const vaultUsage = `usage: cogen vault import --vault PATH --dataset FILE [--index N] [--user ID] [--skip-bad]
       cogen vault list --vault PATH
       cogen vault export --vault PATH [--user ID] [--format dataset|user] [--out FILE]
       cogen vault token --vault PATH --user ID   (a bearer token for cogen serve confined to that user)
       cogen vault cache stats|clear [--vault PATH]   (the users' saved context states beside the vault)

import reads a dataset in the paper's format or a user file (.toml, or
JSON holding one object: the --user file of cogen generate), stored under
--user or the file's base name; export writes JSON, or TOML for a user to
a .toml file.`

func runVault(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef(vaultUsage, "no vault subcommand")
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("vault "+sub, flag.ContinueOnError)
	path := fs.String("vault", "", "vault file (default: vault.db in the per-user data directory)")
	var (
		dataset, user, format, out *string
		index                      *int
		skipBad                    *bool
	)
	switch sub {
	case "import":
		dataset = fs.String("dataset", "", "dataset file in the paper's context-aware format (context_dev.json)")
		index = fs.Int("index", -1, "import only this record (default: all)")
		user = fs.String("user", "", "store the record's user under this id (with --index)")
		skipBad = fs.Bool("skip-bad", false, skipBadHelp)
	case "list":
	case "cache":
		// cache stats|clear: the subcommand is the first argument.
	case "token":
		user = fs.String("user", "", "the user the token is bound to")
	case "export":
		user = fs.String("user", "", "export only this user")
		format = fs.String("format", "dataset", "dataset (context-aware records, one per task) or user (the --user file of cogen generate; needs --user)")
		out = fs.String("out", "", "write here, mode 0600 (default: stdout)")
	default:
		return usagef(vaultUsage, "unknown vault subcommand %q", sub)
	}
	setUsage(fs, vaultUsage)
	if err := parse(fs, rest, stderr); err != nil {
		return err
	}
	if sub == "cache" {
		if fs.NArg() != 1 || fs.Arg(0) != "stats" && fs.Arg(0) != "clear" {
			return usagef(vaultUsage, "vault cache needs stats or clear")
		}
		return vaultCache(*path, fs.Arg(0), stdout)
	}
	if fs.NArg() != 0 {
		return usagef(vaultUsage, "unexpected argument %q", fs.Arg(0))
	}
	vp, err := defaultPath(*path, "vault.db")
	if err != nil {
		return err
	}
	store, err := vault.Open(ctx, vp)
	if err != nil {
		return err
	}
	defer store.Close()

	switch sub {
	case "import":
		if *dataset == "" {
			return usagef(vaultUsage, "vault import needs --dataset FILE")
		}
		if isUserFile(*dataset) {
			// A user file (the --user file of cogen generate): one user,
			// under --user or the file's base name.
			f, err := privacy.LoadUserFile(*dataset)
			if err != nil {
				return err
			}
			id := *user
			if id == "" {
				id = strings.TrimSuffix(filepath.Base(*dataset), filepath.Ext(*dataset))
			}
			u, err := store.Put(ctx, vault.UserFromFile(id, f))
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "imported user %s from a user file into %s\n", u.ID, vp)
			return nil
		}
		if *user != "" && *index < 0 {
			return usagef(vaultUsage, "--user names one record's user: pass --index N too")
		}
		data, err := regfile.ReadFile(*dataset, maxDatasetFile)
		if err != nil {
			return err
		}
		res, err := store.Import(ctx, *dataset, data, vault.ImportOptions{Index: *index, User: *user, SkipBad: *skipBad})
		if err != nil {
			return skipBadHint(err, *dataset)
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		printSkipped(stderr, *dataset, res.Records+len(res.Skipped), res.Skipped)
		fmt.Fprintf(stdout, "imported %d records: %d users (%d new, %d replaced) into %s\n", res.Records, res.Users, res.Created, res.Replaced, vp)
		if *user == "" {
			fmt.Fprintln(stdout, usersNote(res.IDs))
		}
		return nil
	case "token":
		if *user == "" {
			return usagef(vaultUsage, "vault token needs --user ID")
		}
		tok, err := store.CreateToken(ctx, *user)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
		fmt.Fprintf(stderr, "a bearer token for cogen serve, confined to user %s (shown once; deleting the user revokes it)\n", *user)
		return nil
	case "list":
		list, err := store.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tFACTS\tACTIVITY\tHISTORY\tTASKS\tUPDATED")
		for _, u := range list {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", u.ID, u.Name, u.Facts, u.Activity, u.History, u.Tasks, u.Updated.Format("2006-01-02 15:04"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%d users in %s\n", len(list), vp)
		return nil
	}

	// export
	var v any
	switch *format {
	case "dataset":
		var ids []string
		if *user != "" {
			ids = []string{*user}
		}
		recs, skipped, err := store.Export(ctx, ids...)
		if err != nil {
			return err
		}
		for _, id := range skipped {
			fmt.Fprintf(stderr, "user %s has no task, so no dataset record: export it with --format user --user %s\n", id, id)
		}
		v = recs
	case "user":
		if *user == "" {
			return usagef(vaultUsage, "--format user exports one user: pass --user ID")
		}
		u, err := store.Get(ctx, *user)
		if err != nil {
			return err
		}
		v = u.File()
	default:
		return usagef(vaultUsage, "--format %q: want dataset or user", *format)
	}
	var b []byte
	if strings.EqualFold(filepath.Ext(*out), ".toml") {
		// The format the file's name says: TOML for a user file.
		f, ok := v.(privacy.UserFile)
		if !ok {
			return usagef(vaultUsage, "--out %s: a dataset is JSON; TOML is for --format user", filepath.Base(*out))
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(f); err != nil {
			return err
		}
		b = buf.Bytes()
	} else {
		var err error
		if b, err = json.MarshalIndent(v, "", "  "); err != nil {
			return err
		}
		b = append(b, '\n')
	}
	if *out == "" {
		_, err = stdout.Write(b)
		return err
	}
	return atomicfile.Write(*out, b, 0o600)
}

// isUserFile reports whether path is a user file rather than a dataset:
// a .toml file, or JSON whose first value is an object, not an array.
func isUserFile(path string) bool {
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := f.Read(head)
	t := bytes.TrimLeft(head[:n], " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

// usersNote says what a user of an imported dataset is, as `cogen data
// stats` says it: one per tid ([privacy.UserID]), and how many distinct
// "group_user" tid prefixes the users' tids have, which name no user.
func usersNote(ids []string) string {
	prefixes := map[string]bool{}
	for _, id := range ids {
		prefixes[dataset.Record{TID: id}.TIDPrefix()] = true
	}
	return fmt.Sprintf("users: one per tid, as cogen data stats counts them (the %d tids have %d distinct group_user prefixes, which name no user)", len(ids), len(prefixes))
}
