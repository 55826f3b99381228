package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/cogenesis/cogenesis/internal/statecache"
)

// statesFlag is --context-cache-mb: the size bound of the saved-state
// cache, 0 for none.
type statesFlag struct{ mb int64 }

func (f *statesFlag) register(fs *flag.FlagSet) {
	fs.Int64Var(&f.mb, "context-cache-mb", statecache.DefaultMaxBytes>>20,
		"keep each user's evaluated context (KV state, encrypted) beside the vault, up to this many MiB, so that later requests evaluate only the task (0: off)")
}

// statesDir is where the saved states of the vault at vaultPath live:
// beside it, with the same protection (a 0700 directory of 0600 files,
// AES-256-GCM under a key file of its own).
func statesDir(vaultPath string) string { return vaultPath + ".states" }

// open opens the cache of the vault at vaultPath (default: the per-user
// data directory's); nil when it is off.
func (f statesFlag) open(vaultPath string) (*statecache.Cache, error) {
	if f.mb <= 0 {
		return nil, nil
	}
	vp, err := defaultPath(vaultPath, "vault.db")
	if err != nil {
		return nil, err
	}
	return statecache.Open(statesDir(vp), statecache.Options{MaxBytes: f.mb << 20, Logger: slog.Default().With("component", "statecache")})
}

// vaultCache runs "cogen vault cache stats|clear".
func vaultCache(vaultPath, sub string, stdout io.Writer) error {
	vp, err := defaultPath(vaultPath, "vault.db")
	if err != nil {
		return err
	}
	c, err := statecache.Open(statesDir(vp), statecache.Options{})
	if err != nil {
		return err
	}
	if sub == "clear" {
		st, err := c.Stats()
		if err != nil {
			return err
		}
		if err := c.Clear(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: removed %s (%s)\n", statesDir(vp), statesText(st), mib(st.Bytes))
		return nil
	}
	st, err := c.Stats()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s, %s\n", statesDir(vp), statesText(st), mib(st.Bytes))
	return nil
}

func statesText(st statecache.Stats) string {
	return fmt.Sprintf("%d saved %s of %d %s", st.Files, plural(st.Files, "state"), st.Users, plural(st.Users, "user"))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
