package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// examples are each command's examples, by the name of its flag set
// ("generate", "data validate"), shown after its flags by -h, --help and
// "cogen help CMD". Paths are those of a checkout with shared/ beside it.
var examples = map[string]string{
	"generate": `  cogen generate --slm ../shared/models/aidreams260K.gguf --max-tokens 40 "Once upon a time"
  cogen generate --strategy logits --slm ../shared/models/aidreams260K.gguf --llm local:../shared/models/aidreams260K.gguf --user examples/user.toml "Write a toast for my sister's wedding"
  cogen generate --strategy sketch --slm MODEL --llm http://127.0.0.1:8088/v1 --dataset ../shared/data/cogenesis/context_dev.json --index 0 --trace trace.html`,
	"model info":    `  cogen model info ../shared/models/aidreams260K.gguf`,
	"bench engine":  `  cogen bench engine --model ../shared/models/aidreams260K.gguf --threads 2`,
	"bench collab":  `  cogen bench collab --slm ../shared/models/aidreams260K.gguf --llm local:../shared/models/aidreams260K.gguf --latency 50ms --tokens 64`,
	"bench threads": `  cogen bench threads --tiny ../shared/models/aidreams260K.gguf --markdown`,
	"cloud": `  cogen cloud --model ../shared/models/aidreams260K.gguf --addr 127.0.0.1:8088
  cogen cloud --model MODEL --api-key secret --latency 50ms`,
	"cloud check": `  cogen cloud check --llm http://127.0.0.1:8088/v1
  cogen cloud check --llm http://127.0.0.1:8080 --slm ../shared/models/aidreams260K.gguf`,
	"serve": `  cogen serve --slm ../shared/models/aidreams260K.gguf --llm local:../shared/models/aidreams260K.gguf --vault vault.db
  cogen serve --slm MODEL --llm http://127.0.0.1:8088/v1 --addr 127.0.0.1:9090 --guard-model local`,
	"vault import": `  cogen vault import --vault vault.db --dataset ../shared/data/cogenesis/context_dev.json
  cogen vault import --vault vault.db --dataset data.json --index 3 --user alice --skip-bad`,
	"vault list": `  cogen vault list --vault vault.db`,
	"vault export": `  cogen vault export --vault vault.db --out users.json
  cogen vault export --vault vault.db --user alice --format user --out alice.json`,
	"vault token": `  cogen vault token --vault vault.db --user alice`,
	"vault cache": `  cogen vault cache stats --vault vault.db
  cogen vault cache clear`,
	"audit show": `  cogen audit show cogen-audit.jsonl
  cogen audit show cogen-audit.jsonl --bodies`,
	"audit seen": `  cogen audit seen demo-out/audit.jsonl --slm ../shared/models/aidreams260K.gguf --user examples/user.toml
  cogen audit seen cogen-audit.jsonl --strategy speculative --slm MODEL --json`,
	"audit verify": `  cogen audit verify cogen-audit.jsonl`,
	"audit repair": `  cogen audit repair cogen-audit.jsonl`,
	"data validate": `  cogen data validate ../shared/data/cogenesis/context_dev.json
  cogen data validate --kind paper --wo ../shared/data/cogenesis/paper_dev_wo.json ../shared/data/cogenesis/paper_dev.json`,
	"data stats": `  cogen data stats ../shared/data/cogenesis/context_dev.json`,
	"data lamp":  `  cogen data lamp --kind paper --questions train_questions.json --outputs train_outputs.json --out lamp5`,
	"data sft": `  cogen data sft --data ../shared/data/cogenesis/context_dev.json --out sft.jsonl
  cogen data sft --data ../shared/data/cogenesis/context_dev.json --out sft.jsonl --with-sketch --llm local:MODEL`,
	"fusion extract": `  cogen fusion extract --slm MODEL --llm local:CLOUD --data ../shared/data/cogenesis/context_dev.json --out extract --records 0:20 --allow-private-egress`,
	"fusion train":   `  cogen fusion train --train extract --dev extract-dev --out comb.safetensors`,
	"fusion eval":    `  cogen fusion eval --data extract-dev --comb comb.safetensors --markdown`,
	"eval": `  cogen eval --config examples/eval.toml
  cogen eval --config examples/eval.toml --out eval-out
  cogen eval score --predictions preds.txt --references refs.txt`,
	"eval score": `  cogen eval score --predictions preds.txt --references refs.txt
  cogen eval score --predictions preds.jsonl --references refs.jsonl --json
  cogen eval score --predictions preds.txt --references refs-a.txt --references refs-b.txt`,
	"synth": `  cogen synth --llm local:../shared/models/aidreams260K.gguf --out synth.json --portraits 1 --users-per-portrait 1 --tasks-per-user 2`,
	"testmodel": `  cogen testmodel --arch qwen2 --shape tiny --type f32 --out tiny.gguf
  cogen testmodel --arch llama --shape 0.5b --type q8_0 --out small.gguf --tokenizer-from ../shared/models/ggml-vocab-llama-spm.gguf`,
	"guard check": `  cogen guard check --user examples/user.toml "Plan the dinner party I host every month"
  cogen guard check --dataset ../shared/data/cogenesis/context_dev.json --index 0
  echo "Call me on +1 305 555 0147" | cogen guard check --user examples/user.toml -`,
	"guard eval": `  cogen guard eval --pupa ../shared/data/pupa/PUPA_New.csv`,
}

// groups are the commands made of subcommands: their usage, shown by
// "cogen CMD -h" and "cogen help CMD".
var groups = map[string]string{
	"model":  "usage: cogen model info MODEL",
	"bench":  "usage: cogen bench engine|collab|threads [flags]\n\n  engine   prompt and decode speed of a model\n  collab   per-token against speculative fusion\n  threads  the default thread count against fixed ones",
	"vault":  vaultUsage,
	"audit":  auditUsage,
	"data":   dataUsage,
	"fusion": fusionUsage,
	"guard":  guardUsage,
}

// groupHelp prints a group's usage and its subcommands' examples.
func groupHelp(name string, w io.Writer) {
	fmt.Fprintln(w, groups[name])
	fmt.Fprintln(w, "\nExamples:")
	for _, sub := range strings.Fields(subcommands(name)) {
		if ex := examples[name+" "+sub]; ex != "" {
			fmt.Fprintln(w, ex)
		}
	}
	fmt.Fprintf(w, "\nRun \"cogen %s SUBCOMMAND -h\" for a subcommand's flags.\n", name)
}

// subcommands lists a group's subcommands, in the order of its usage.
func subcommands(group string) string {
	return map[string]string{
		"model": "info", "bench": "engine collab threads", "vault": "import list export token cache",
		"audit": "show seen verify repair", "data": "validate stats lamp sft", "fusion": "extract train eval",
		"guard": "check eval",
	}[group]
}

// setUsage makes fs's usage text: the command's usage lines, then its
// flags (parse adds the examples).
func setUsage(fs *flag.FlagSet, text string) {
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), text)
		fs.PrintDefaults()
	}
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// parse parses a subcommand's flags, which may come before, between or
// after its positional arguments ("--" ends them; fs.Args() is the
// positional arguments after). Flag errors become UsageErrors; -h prints
// the command's usage, flags and examples.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if ex := examples[fs.Name()]; ex != "" {
		usage := fs.Usage
		fs.Usage = func() {
			if usage != nil {
				usage()
			} else {
				fmt.Fprintf(fs.Output(), "usage: cogen %s [flags]\n", fs.Name())
				fs.PrintDefaults()
			}
			fmt.Fprintf(fs.Output(), "\nExamples:\n%s\n", ex)
		}
	}
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return &UsageError{Err: err}
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if n := len(rest) - len(left); n > 0 && rest[n-1] == "--" {
			pos = append(pos, left...)
			break
		}
		pos = append(pos, left[0])
		rest = left[1:]
	}
	// Leave the positional arguments, and only them, in fs.Args().
	return fs.Parse(append([]string{"--"}, pos...))
}

// version is "cogen VERSION (REVISION, TIME)" from the build information:
// the module version for an installed binary, the VCS revision for a
// build in a checkout ("+dirty" when the tree had changes).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "cogen (no build information)"
	}
	v := bi.Main.Version
	var rev, when string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	out := "cogen " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		out += " (" + rev
		if when != "" {
			out += ", " + when
		}
		out += ")"
	}
	return out + " " + bi.GoVersion
}
