//go:build cgo

package statecache_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/statecache"
)

// TestEngineRoundTrip runs the cache as the engine's caller will, on the
// real tiny model: a miss evaluates the private prefix and puts its
// state; a hit restores it, and the sequence then has the logits and
// generates the tokens the evaluated one did. The file holds neither the
// private text nor the prefix's token ids; other engine settings miss; a
// damaged file is rejected and rebuilt.
func TestEngineRoundTrip(t *testing.T) {
	const secret = "Ms Okonkwo keeps the spare key under the blue flowerpot"
	path := enginetest.SharedModel(t)
	opts := llamacpp.Options{ContextSize: 256, Threads: 2, Parallel: 2}
	m, err := llamacpp.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prefix, err := m.Tokenize("Private context of the user: "+secret+". Write about the garden.", true, false)
	if err != nil {
		t.Fatal(err)
	}
	id, err := statecache.FileID(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	k := statecache.Key{User: "alice", Model: id, Template: m.Info().ChatTemplate, Settings: m.StateSettings(), Tokens: prefix}
	dir := t.TempDir()
	c := open(t, dir, statecache.Options{})
	gen := llamacpp.GenerateOptions{MaxTokens: 16}

	// A miss: evaluate, save, put.
	if _, o := c.Get(k); o != statecache.Absent {
		t.Fatalf("first Get: %v", o)
	}
	s, err := m.NewSequence(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(t.Context(), prefix); err != nil {
		t.Fatal(err)
	}
	state, err := s.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, k, state)
	logits := append([]float32(nil), s.Logits()...)
	want, err := s.Generate(t.Context(), nil, gen, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The file: no private text, no token ids.
	file := mustRead(t, entryFile(t, dir))
	raw := make([]byte, 0, 4*len(prefix))
	dec := make([]string, len(prefix))
	for i, tk := range prefix {
		raw = binary.LittleEndian.AppendUint32(raw, uint32(tk))
		dec[i] = strconv.Itoa(int(tk))
	}
	js, _ := json.Marshal(prefix)
	for name, n := range map[string][]byte{
		"secret": []byte(secret), "a word of it": []byte("Okonkwo"),
		"tokens as int32": raw, "tokens in decimal": []byte(strings.Join(dec, " ")),
		"tokens in JSON": js,
	} {
		if bytes.Contains(file, n) {
			t.Errorf("the cache file holds the %s", name)
		}
	}

	// A hit: restore.
	restore := func() {
		t.Helper()
		data, o := c.Get(k)
		if o != statecache.Hit {
			t.Fatalf("Get: %v", o)
		}
		r, err := m.NewSequence(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.RestoreState(t.Context(), data, prefix); err != nil {
			t.Fatal(err)
		}
		for i, l := range r.Logits() {
			if math.Float32bits(l) != math.Float32bits(logits[i]) {
				t.Fatalf("restored logit %d: %g, want %g", i, l, logits[i])
			}
		}
		got, err := r.Generate(t.Context(), nil, gen, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.Tokens, got.Tokens); diff != "" {
			t.Errorf("generated after restoring (-evaluated +restored):\n%s", diff)
		}
	}
	restore()

	// Other settings are another key.
	precise, err := llamacpp.Open(path, llamacpp.Options{ContextSize: 256, Threads: 2, Parallel: 2, Precise: true})
	if err != nil {
		t.Fatal(err)
	}
	kp := k
	kp.Settings = precise.StateSettings()
	precise.Close()
	if _, o := c.Get(kp); o != statecache.Absent {
		t.Errorf("Get with Precise settings: %v, want absent", o)
	}

	// A damaged file is rejected; the caller evaluates again and puts.
	file[len(file)/2] ^= 1
	if err := os.WriteFile(entryFile(t, dir), file, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, o := c.Get(k); o != statecache.Corrupt {
		t.Fatalf("Get of the damaged file: %v, want corrupt", o)
	}
	mustPut(t, c, k, state)
	restore()
}
