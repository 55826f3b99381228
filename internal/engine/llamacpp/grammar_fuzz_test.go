//go:build cgo

package llamacpp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/gbnf"
)

// workerEnv makes the test binary a grammar worker (grammarWorkerMain):
// it reads grammars from stdin and hands each to llama.cpp's grammar
// sampler, so that a grammar that crashes llama.cpp kills the worker, not
// the test.
const workerEnv = "COGEN_GRAMMAR_WORKER"

// FuzzGrammar feeds every grammar that gbnf.Sanitize accepts, as
// rewritten, to the real llama.cpp grammar init and a few sampling steps
// with the test model's vocabulary, in a worker process. The seeds in
// testdata/fuzz/FuzzGrammar hold the grammars (and the GBNF of the
// regexes) that crashed cogen cloud, and variations; a normal test run
// sends them all to one worker.
func FuzzGrammar(f *testing.F) {
	model := enginetest.SharedModel(f)
	w := &grammarWorker{model: model}
	f.Cleanup(w.stop)
	f.Fuzz(func(t *testing.T, src string) {
		safe, err := gbnf.Sanitize(src, gbnf.Options{VocabSize: 512})
		if err != nil {
			return
		}
		if err := w.check(safe); err != nil {
			t.Fatalf("llama.cpp on the sanitized grammar %q (from %q): %v", safe, src, err)
		}
	})
}

// grammarWorker is a running grammarWorkerMain process.
type grammarWorker struct {
	model string
	mu    sync.Mutex
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	errb  *bytes.Buffer
}

func (w *grammarWorker) start() error {
	cmd := exec.Command(os.Args[0], childArgs...)
	cmd.Env = append(os.Environ(), workerEnv+"="+w.model)
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	w.errb = &bytes.Buffer{}
	cmd.Stderr = w.errb
	if err := cmd.Start(); err != nil {
		return err
	}
	w.cmd, w.in, w.out = cmd, in, bufio.NewReader(out)
	return nil
}

func (w *grammarWorker) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd == nil {
		return
	}
	_ = w.in.Close() // the worker exits at EOF
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
	w.cmd = nil
}

// check sends one grammar; an error means llama.cpp rejected it, crashed
// or hung on it.
func (w *grammarWorker) check(g string) error {
	w.mu.Lock()
	if w.cmd == nil {
		if err := w.start(); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(g)))
	type reply struct {
		line string
		err  error
	}
	ch := make(chan reply, 1)
	go func() {
		if _, err := w.in.Write(append(hdr[:], g...)); err != nil {
			ch <- reply{err: err}
			return
		}
		line, err := w.out.ReadString('\n')
		ch <- reply{line, err}
	}()
	var r reply
	select {
	case r = <-ch:
	case <-time.After(20 * time.Second):
		_ = w.cmd.Process.Kill()
		r = <-ch
		r.err = errors.New("worker hung for 20s")
	}
	if r.err != nil {
		_ = w.cmd.Wait()
		tail := w.errb.String()
		w.cmd = nil
		w.mu.Unlock()
		return fmt.Errorf("worker died (%v): %s", r.err, lastBytes(tail, 2000))
	}
	w.mu.Unlock()
	if r.line != "ok\n" {
		return fmt.Errorf("llama.cpp: %s", r.line)
	}
	return nil
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// grammarWorkerMain is the worker side of FuzzGrammar, run by TestMain
// with workerEnv set to the model path. It reads grammars (a 4-byte
// little-endian length, then the text) from stdin until EOF and answers
// each with a line on stdout: "ok", or llama.cpp's error quoted.
func grammarWorkerMain(path string) int {
	m, err := Open(path, Options{ContextSize: 64, Threads: 1, Parallel: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "grammar worker:", err)
		return 1
	}
	defer m.Close()
	in := bufio.NewReader(os.Stdin)
	rng := rand.New(rand.NewPCG(1, 1))
	logits := make([]float32, m.VocabSize())
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(in, hdr[:]); err != nil {
			return 0 // EOF: done
		}
		buf := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(in, buf); err != nil {
			fmt.Fprintln(os.Stderr, "grammar worker:", err)
			return 1
		}
		g, err := m.initGrammar(string(buf))
		if err != nil {
			fmt.Printf("%q\n", err.Error())
			continue
		}
		// A few steps of constrained sampling: each runs llama.cpp's
		// stack expansion from the new position.
		for range 8 {
			for i := range logits {
				logits[i] = rng.Float32()
			}
			g.mask(logits)
			best := -1
			for i, l := range logits {
				if l >= 0 && (best < 0 || l > logits[best]) {
					best = i
				}
			}
			if best < 0 || m.IsEOG(int32(best)) {
				break
			}
			g.accept(int32(best))
		}
		g.free()
		fmt.Print("ok\n")
	}
}

// TestGrammarCrashUnsanitized shows why grammars go through gbnf.Sanitize:
// the probe grammars, handed to llama.cpp as they are, kill the process
// (here the worker); sanitized, they load.
func TestGrammarCrashUnsanitized(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a worker process")
	}
	w := &grammarWorker{model: enginetest.SharedModel(t)}
	t.Cleanup(w.stop)
	for _, src := range []string{`root ::= ("a"?)*`, `root ::= (("" | "a"))* "b"`} {
		if err := w.check(src); err == nil || !strings.Contains(err.Error(), "worker died") {
			t.Errorf("raw %q: %v, want the worker to die", src, err)
		}
		safe, err := gbnf.Sanitize(src, gbnf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.check(safe); err != nil {
			t.Errorf("sanitized %q: %v", safe, err)
		}
	}
}

// TestGrammarLlamaError checks that an error llama.cpp logs for a grammar
// (its left-recursion message ends without a newline) reaches the
// returned error, for a grammar that bypasses gbnf.Sanitize.
func TestGrammarLlamaError(t *testing.T) {
	m, err := Open(enginetest.SharedModel(t), Options{ContextSize: 64, Threads: 1, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.initGrammar("root ::= root \"a\" | \"b\"\n")
	if err == nil || !strings.Contains(err.Error(), "left recursion detected") {
		t.Errorf("initGrammar = %v, want llama.cpp's left-recursion message", err)
	}
	// Through the Go check, the error names the rule.
	err = m.CheckGrammar("root ::= root \"a\" | \"b\"\n")
	if err == nil || !strings.Contains(err.Error(), "left recursion: rule root") {
		t.Errorf("CheckGrammar = %v, want the rule named", err)
	}
}
