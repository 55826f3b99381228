//go:build cgo

package llamacpp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/gguf"
)

// The load tests run llama.cpp in a child process, the test binary run
// again with childEnv set to a file that lists the models to load, so that
// an abort inside C code fails a test instead of killing the test binary.
const (
	childEnv     = "COGEN_LLAMACPP_LOAD_CHILD"
	childRawEnv  = "COGEN_LLAMACPP_LOAD_RAW"   // "1": skip validation (load, not Open)
	childKeepEnv = "COGEN_LLAMACPP_KEEP_TRACE" // "1": unset GGML_NO_BACKTRACE after init
)

// loadChild is the child side, run by TestMain with childEnv set to list:
// it loads each listed model, decodes one token (llama.cpp asserts on some
// values only at the first decode) and prints "start I", then "ok I" or
// "error I: MESSAGE", on stdout.
func loadChild(list string) int {
	b, err := os.ReadFile(list)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		return 1
	}
	open := Open
	if os.Getenv(childRawEnv) == "1" {
		open = load
	}
	opts := Options{ContextSize: 32, Threads: 1, Parallel: 1, BatchSize: 32, Logger: slog.New(slog.DiscardHandler)}
	for i, path := range strings.Fields(string(b)) {
		fmt.Printf("start %d\n", i)
		if os.Getenv(childKeepEnv) == "1" {
			initBackend()
			os.Unsetenv(noBacktraceEnv)
		}
		// The parent kills the child (on its timeout), it never cancels.
		if err := loadAndDecode(context.Background(), open, path, opts); err != nil {
			fmt.Printf("error %d: %s\n", i, strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Printf("ok %d\n", i)
	}
	return 0
}

func loadAndDecode(ctx context.Context, open func(string, Options) (*Model, error), path string, opts Options) error {
	m, err := open(path, opts)
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.NewSequence(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Append(ctx, []int32{int32(min(1, m.VocabSize()-1))})
}

// childResult is what happened to one model in a child process.
type childResult struct {
	state string // "ok", "error" or "crash" (the child died on it)
	msg   string // the error, or the child's output for a crash
}

// gdbLine matches what a debugger or ggml's fallback backtrace prints: gdb
// banners and frames ("#0  0x... in f ()"), and backtrace_symbols lines
// ("/path/lib.so(+0x1234) [0x5678]").
var gdbLine = regexp.MustCompile(`(?m)(\bgdb\b|\blldb\b|^#\d+\s+0x|\(\+0x[0-9a-f]+\)\s*\[0x|ptrace|Inferior \d)`)

// runChild loads every file of paths in one child process (restarting it
// after a crash) and returns what happened to each; env adds variables
// for the child, such as childRawEnv=1 to skip validation.
func runChild(t testing.TB, paths []string, env ...string) []childResult {
	t.Helper()
	out := make([]childResult, len(paths))
	for next := 0; next < len(paths); {
		list := filepath.Join(t.TempDir(), "list")
		if err := os.WriteFile(list, []byte(strings.Join(paths[next:], "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, os.Args[0], childArgs...)
		cmd.Env = append(os.Environ(), childEnv+"="+list)
		cmd.Env = append(cmd.Env, env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		last := -1
		var other strings.Builder // stdout lines that are not ours (gdb writes there)
		sc := bufio.NewScanner(&stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 3)
			if len(f) < 2 || (f[0] != "start" && f[0] != "ok" && f[0] != "error") {
				other.WriteString(sc.Text() + "\n")
				continue
			}
			i, aerr := strconv.Atoi(strings.TrimSuffix(f[1], ":"))
			if aerr != nil || next+i >= len(paths) {
				continue
			}
			switch f[0] {
			case "start":
				last = i
			case "ok":
				out[next+i] = childResult{state: "ok"}
				last = -1
			case "error":
				if len(f) == 3 {
					out[next+i] = childResult{state: "error", msg: f[2]}
				}
				last = -1
			}
		}
		if err == nil {
			break
		}
		if last < 0 {
			t.Fatalf("load child failed outside a model: %v\n%s%s", err, stdout.String(), tail(stderr.String()))
		}
		out[next+last] = childResult{state: "crash", msg: fmt.Sprintf("%v\nstdout:\n%sstderr:\n%s", err, other.String(), stderr.String())}
		next += last + 1
	}
	return out
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// fuzzShape is a model small enough to mutate quickly: embedding 8, one
// block, 2 heads, the smallest synthesized vocabulary.
var fuzzShape = enginetest.Shape{Vocab: 262, Hidden: 8, Layers: 1, Heads: 2, KVHeads: 1, FFN: 16, Context: 64, Tied: true}

// validSeeds writes small valid models of every supported architecture.
func validSeeds(t testing.TB) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	out := map[string][]byte{}
	for _, arch := range gguf.Architectures() {
		for _, typ := range []string{"f32", "q8_0"} {
			shape := fuzzShape
			if typ != "f32" {
				shape.Hidden, shape.FFN, shape.Heads = 32, 32, 4
			}
			p := filepath.Join(dir, arch+typ+".gguf")
			if err := enginetest.Write(p, enginetest.Options{Arch: arch, Shape: shape, Type: typ, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[arch+"/"+typ] = b
		}
	}
	return out
}

// crafted is a model edited into one llama.cpp mishandles, and the key
// the validator must name.
type crafted struct {
	name    string
	key     string
	aborts  bool // llama.cpp aborts on it (without validation)
	edits   []enginetest.Edit
	fromKey string // the base seed, default "llama/f32"
}

func craftedModels() []crafted {
	f32 := func(x float32) gguf.Value { return gguf.Value{Type: gguf.TypeFloat32, Data: x} }
	u32 := func(n uint32) gguf.Value { return gguf.Value{Type: gguf.TypeUint32, Data: n} }
	set := enginetest.SetKV
	return []crafted{
		{name: "block_count 0", key: "llama.block_count", aborts: true, edits: []enginetest.Edit{set("llama.block_count", u32(0))}},
		{name: "NaN eps", key: "llama.attention.layer_norm_rms_epsilon", aborts: true, edits: []enginetest.Edit{set("llama.attention.layer_norm_rms_epsilon", f32(float32(math.NaN())))}},
		{name: "qwen2 NaN eps", key: "qwen2.attention.layer_norm_rms_epsilon", aborts: true, fromKey: "qwen2/f32", edits: []enginetest.Edit{set("qwen2.attention.layer_norm_rms_epsilon", f32(float32(math.NaN())))}},
		{name: "head_count as float array", key: "llama.attention.head_count", aborts: true, edits: []enginetest.Edit{set("llama.attention.head_count", gguf.Value{Type: gguf.TypeArray, Elem: gguf.TypeFloat32, Data: []float32{2}})}},
		{name: "unknown rope scaling", key: "llama.rope.scaling.type", aborts: true, edits: []enginetest.Edit{set("llama.rope.scaling.type", gguf.Value{Type: gguf.TypeString, Data: "warp"})}},
		{name: "qwen2 odd rope dims", key: "qwen2.rope.dimension_count", aborts: true, fromKey: "qwen2/f32", edits: []enginetest.Edit{set("qwen2.rope.dimension_count", u32(3))}},
		{name: "used experts without experts", key: "llama.expert_used_count", aborts: true, edits: []enginetest.Edit{set("llama.expert_used_count", u32(2))}},
		{name: "huge head count", key: "llama.attention.head_count", edits: []enginetest.Edit{set("llama.attention.head_count", u32(1<<31))}},
		{name: "huge kv head count", key: "llama.attention.head_count_kv", edits: []enginetest.Edit{set("llama.attention.head_count_kv", u32(1<<30))}},
		{name: "block_count 2 with 1 block", key: "llama.block_count", edits: []enginetest.Edit{set("llama.block_count", u32(2))}},
		{name: "vocab_size mismatch", key: "llama.vocab_size", edits: []enginetest.Edit{set("llama.vocab_size", u32(300))}},
		{name: "tokens mismatch embedding", key: "token_embd.weight", edits: []enginetest.Edit{
			enginetest.DeleteKV("llama.vocab_size"),
			enginetest.DeleteKV("tokenizer.ggml.scores"),
			enginetest.DeleteKV("tokenizer.ggml.token_type"),
			func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
				for i := range kv {
					if kv[i].Key == "tokenizer.ggml.tokens" {
						toks := kv[i].Value.Data.([]string)
						kv[i].Value.Data = append(toks[:len(toks):len(toks)], "extra")
					}
				}
				return kv, ts
			},
		}},
		{name: "unsupported architecture", key: "general.architecture", edits: []enginetest.Edit{set("general.architecture", gguf.Value{Type: gguf.TypeString, Data: "gpt2"})}},
		{name: "eps infinite", key: "llama.attention.layer_norm_rms_epsilon", edits: []enginetest.Edit{set("llama.attention.layer_norm_rms_epsilon", f32(float32(math.Inf(1))))}},
		{name: "rope freq_base NaN", key: "llama.rope.freq_base", edits: []enginetest.Edit{set("llama.rope.freq_base", f32(float32(math.NaN())))}},
	}
}

// craft builds the crafted models from the seeds.
func craft(t testing.TB, seeds map[string][]byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, c := range craftedModels() {
		from := c.fromKey
		if from == "" {
			from = "llama/f32"
		}
		b, err := enginetest.Craft(seeds[from], c.edits...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out[c.name] = b
	}
	return out
}

// check is the validator the fuzz target trusts: Read and CheckModel.
func check(b []byte) error {
	f, err := gguf.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	return gguf.CheckModel(f)
}

// TestCraftedModels checks that the validator rejects each crafted model
// with an error naming the key, and shows what it prevents: loaded without
// validation in a child process, the ones marked aborts kill llama.cpp (the
// regression "before"), and the crash prints no debugger output.
func TestCraftedModels(t *testing.T) {
	if testing.Short() {
		t.Skip("loads models in child processes")
	}
	models := craft(t, validSeeds(t))
	dir := t.TempDir()
	var names, paths []string
	for _, c := range craftedModels() {
		b := models[c.name]
		err := check(b)
		me, ok := errors.AsType[*gguf.ModelError](err)
		if !ok || me.Key != c.key {
			t.Errorf("%s: validator error = %v, want a *gguf.ModelError for %s", c.name, err, c.key)
		}
		p := filepath.Join(dir, fmt.Sprintf("crafted%d.gguf", len(paths)))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		names, paths = append(names, c.name), append(paths, p)
	}
	// Through Open every one is an error naming the file, in one child.
	for i, r := range runChild(t, paths) {
		if r.state != "error" || !strings.Contains(r.msg, paths[i]) || !strings.Contains(r.msg, craftedModels()[i].key) {
			t.Errorf("%s: Open gave %s %q, want an error naming the file and %s", names[i], r.state, r.msg, craftedModels()[i].key)
		}
	}
	// Without validation llama.cpp aborts on some (or, on later versions,
	// may reject them itself): never with a debugger's backtrace.
	for i, r := range runChild(t, paths, childRawEnv+"=1") {
		c := craftedModels()[i]
		if r.state == "crash" {
			t.Logf("%s: unvalidated load aborts llama.cpp: %s", c.name, firstLine(r.msg, ".cpp:"))
			if gdbLine.MatchString(r.msg) {
				t.Errorf("%s: the abort printed debugger output:\n%s", c.name, tail(r.msg))
			}
		}
		if c.aborts && r.state != "crash" {
			// The table records what this llama.cpp version does; after
			// an upgrade that fixes it, clear aborts.
			t.Errorf("%s: unvalidated load gave %s %q, want an abort", c.name, r.state, r.msg)
		}
	}
}

// firstLine returns the first line of s that contains sub, or "".
func firstLine(s, sub string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// TestBacktraceControl shows that the debugger check of TestCraftedModels
// can fail: with GGML_NO_BACKTRACE removed after initialization, ggml's
// crash handler prints a backtrace (through gdb, on stdout, when gdb is
// installed; else through backtrace_symbols).
func TestBacktraceControl(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a model in a child process")
	}
	seeds := validSeeds(t)
	b, err := enginetest.Craft(seeds["llama/f32"], enginetest.SetKV("llama.block_count", gguf.Value{Type: gguf.TypeUint32, Data: uint32(0)}))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "zero.gguf")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runChild(t, []string{p}, childRawEnv+"=1", childKeepEnv+"=1")[0]
	head := r.msg[:min(len(r.msg), 3000)]
	if r.state != "crash" || !gdbLine.MatchString(r.msg) {
		t.Errorf("without GGML_NO_BACKTRACE: %s, no backtrace seen:\n%s", r.state, head)
	}

}

// FuzzLoad checks that every file the validator (gguf.Read and
// gguf.CheckModel) accepts loads in llama.cpp and decodes a token without
// aborting. Loading happens in a child process; a crash there fails the
// input. Without -fuzz the accepted seeds load in one child process.
func FuzzLoad(f *testing.F) {
	seeds := validSeeds(f)
	for _, b := range seeds {
		f.Add(b)
	}
	for _, b := range craft(f, seeds) {
		f.Add(b)
	}
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	var (
		mu    sync.Mutex
		batch [][]byte
	)
	if !fuzzing {
		f.Cleanup(func() {
			if len(batch) == 0 {
				return
			}
			dir := f.TempDir()
			paths := make([]string, len(batch))
			for i, b := range batch {
				paths[i] = filepath.Join(dir, inputName(b)+".gguf")
				if err := os.WriteFile(paths[i], b, 0o600); err != nil {
					f.Fatal(err)
				}
			}
			f.Logf("loading %d accepted inputs in one child process", len(paths))
			for i, r := range runChild(f, paths) {
				if r.state == "crash" {
					f.Errorf("input %s passed validation but crashed llama.cpp:\n%s", inputName(batch[i]), tail(r.msg))
				}
			}
		})
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if check(b) != nil {
			return
		}
		if !fuzzing {
			mu.Lock()
			batch = append(batch, b)
			mu.Unlock()
			return
		}
		p := filepath.Join(t.TempDir(), "model.gguf")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := runChild(t, []string{p})[0]; r.state == "crash" {
			t.Fatalf("input %s passed validation but crashed llama.cpp:\n%s", inputName(b), tail(r.msg))
		}
	})
}

// hparamKeys are the keys FuzzHParams sets, with {arch} for the
// architecture.
var hparamKeys = []string{
	"{arch}.block_count", "{arch}.context_length", "{arch}.embedding_length",
	"{arch}.feed_forward_length", "{arch}.attention.head_count", "{arch}.attention.head_count_kv",
	"{arch}.attention.key_length", "{arch}.attention.value_length", "{arch}.rope.dimension_count",
	"{arch}.attention.layer_norm_rms_epsilon", "{arch}.attention.layer_norm_epsilon",
	"{arch}.rope.freq_base", "{arch}.rope.scaling.factor", "{arch}.rope.scaling.attn_factor",
	"{arch}.rope.scaling.original_context_length", "{arch}.vocab_size", "{arch}.expert_count",
	"{arch}.expert_used_count", "{arch}.pooling_type", "{arch}.attention.sliding_window",
	"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
}

// FuzzHParams is FuzzLoad aimed at the hyperparameters: it sets up to two
// keys of a valid model to fuzzed uint32 or float32 values (as a scalar or
// a one-entry array), so far more of its inputs pass the validator than
// random byte mutations do. Whatever passes must load and decode a token
// in a child process without aborting.
func FuzzHParams(f *testing.F) {
	seeds := validSeeds(f)
	f.Add(uint8(0), uint8(0), uint32(0), float32(0), uint8(1), uint32(1), float32(1), uint8(0))
	f.Add(uint8(1), uint8(9), uint32(0), float32(math.NaN()), uint8(4), uint32(3), float32(0), uint8(1))
	f.Add(uint8(0), uint8(4), uint32(1), float32(0), uint8(5), uint32(1), float32(0), uint8(2))
	f.Fuzz(func(t *testing.T, arch, k1 uint8, u1 uint32, x1 float32, k2 uint8, u2 uint32, x2 float32, form uint8) {
		a := gguf.Architectures()[int(arch)%len(gguf.Architectures())]
		value := func(u uint32, x float32, form uint8) gguf.Value {
			switch form % 4 {
			case 1:
				return gguf.Value{Type: gguf.TypeFloat32, Data: x}
			case 2:
				return gguf.Value{Type: gguf.TypeArray, Elem: gguf.TypeUint32, Data: []uint32{u}}
			case 3:
				return gguf.Value{Type: gguf.TypeArray, Elem: gguf.TypeInt32, Data: []int32{int32(u)}}
			}
			return gguf.Value{Type: gguf.TypeUint32, Data: u}
		}
		key := func(k uint8) string { return strings.ReplaceAll(hparamKeys[int(k)%len(hparamKeys)], "{arch}", a) }
		// Float keys get floats unless form asks otherwise.
		f1, f2 := form, form>>2
		if strings.Contains(key(k1), "eps") || strings.Contains(key(k1), "freq") || strings.Contains(key(k1), "factor") {
			f1 ^= 1
		}
		if strings.Contains(key(k2), "eps") || strings.Contains(key(k2), "freq") || strings.Contains(key(k2), "factor") {
			f2 ^= 1
		}
		b, err := enginetest.Craft(seeds[a+"/f32"], enginetest.SetKV(key(k1), value(u1, x1, f1)), enginetest.SetKV(key(k2), value(u2, x2, f2)))
		if err != nil {
			t.Fatal(err)
		}
		if check(b) != nil {
			return
		}
		p := filepath.Join(t.TempDir(), "model.gguf")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := runChild(t, []string{p})[0]; r.state == "crash" {
			t.Fatalf("%s=%v, %s=%v passed validation but crashed llama.cpp:\n%s", key(k1), value(u1, x1, f1).Data, key(k2), value(u2, x2, f2).Data, tail(r.msg))
		}
	})
}

// inputName identifies a fuzz input by a hash prefix.
func inputName(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}
