package statecache_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/statecache"
)

// clock is a settable clock for last-use times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
}

func open(t *testing.T, dir string, o statecache.Options) *statecache.Cache {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	c, err := statecache.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func key(user string, tokens ...int32) statecache.Key {
	return statecache.Key{
		User:     user,
		Model:    "sha256:0123",
		Template: "{{ messages }}",
		Settings: "ctx=4096 kv=f16",
		Tokens:   tokens,
	}
}

// entryFile returns the one entry file under dir.
func entryFile(t *testing.T, dir string) string {
	t.Helper()
	files := entryFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d entry files, want 1: %v", len(files), files)
	}
	return files[0]
}

// entryFiles lists the files in the user directories under dir.
func entryFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func mustGet(t *testing.T, c *statecache.Cache, k statecache.Key, want []byte) {
	t.Helper()
	got, o := c.Get(k)
	if o != statecache.Hit {
		t.Fatalf("Get: %v, want a hit", o)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get returned %d bytes, not the %d put", len(got), len(want))
	}
}

func mustPut(t *testing.T, c *statecache.Cache, k statecache.Key, state []byte) {
	t.Helper()
	if err := c.Put(k, state); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, statecache.Options{})
	k := key("alice", 1, 2, 3)
	if _, o := c.Get(k); o != statecache.Absent {
		t.Fatalf("Get before Put: %v, want absent", o)
	}
	state := bytes.Repeat([]byte("state "), 1000)
	mustPut(t, c, k, state)
	mustGet(t, c, k, state)
	// Put replaces.
	mustPut(t, c, k, state[:10])
	mustGet(t, c, k, state[:10])
	// Another Cache on the directory reads the key file.
	mustGet(t, open(t, dir, statecache.Options{}), k, state[:10])

	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := statecache.Stats{Users: 1, Files: 1, Bytes: st.Bytes, Hits: 2, Misses: 1}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(entryFile(t, dir)); err != nil || fi.Size() != st.Bytes {
		t.Errorf("stats bytes %d, file %v %v", st.Bytes, fi, err)
	}
}

func TestFileModes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cache")
	// An existing directory others may read is made owner-only.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := open(t, dir, statecache.Options{})
	mustPut(t, c, key("alice", 1), []byte("x"))
	entry := entryFile(t, dir)
	for _, tt := range []struct {
		path string
		want fs.FileMode
	}{
		{dir, fs.ModeDir | 0o700},
		{filepath.Join(dir, "key"), 0o600},
		{filepath.Dir(entry), fs.ModeDir | 0o700},
		{entry, 0o600},
	} {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tt.want {
			t.Errorf("%s: mode %v, want %v", strings.TrimPrefix(tt.path, root), fi.Mode(), tt.want)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "key")); fi.Size() != statecache.KeySize {
		t.Errorf("key file of %d bytes", fi.Size())
	}

	// A key file others may read is refused, and so is one of another size.
	loose := filepath.Join(root, "loose")
	if err := os.WriteFile(loose, make([]byte, 32), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	short := filepath.Join(root, "short")
	if err := os.WriteFile(short, make([]byte, 31), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kf := range []string{loose, short} {
		if _, err := statecache.Open(filepath.Join(root, "other"), statecache.Options{KeyFile: kf}); err == nil {
			t.Errorf("key file %s accepted", filepath.Base(kf))
		}
	}
	if _, err := statecache.Open(filepath.Join(root, "other"), statecache.Options{Key: make([]byte, 16)}); err == nil {
		t.Errorf("16-byte key accepted")
	}
}

// TestRejects checks that a file that is not the entry it is named as is
// a miss, deleted, counted, and that the entry can be put again.
func TestRejects(t *testing.T) {
	state := bytes.Repeat([]byte{7}, 300)
	const (
		header = 53 // magic, version, key check, key hash, length
		nonce  = 12
	)
	flip := func(at int) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if at < 0 {
				at += len(b)
			}
			b[at] ^= 0x20
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cut := func(n int) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if n < 0 {
				n += len(b)
			}
			if err := os.WriteFile(path, b[:n], 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   statecache.Outcome
	}{
		{"flipped magic", flip(0), statecache.Corrupt},
		{"flipped version", flip(4), statecache.Corrupt},
		{"flipped key check", flip(5), statecache.WrongKey},
		{"flipped key hash", flip(13), statecache.Foreign},
		{"flipped length, smaller", flip(header - 8), statecache.Corrupt}, // 300 ^ 0x20
		{"flipped length, larger", flip(header - 1), statecache.Truncated},
		{"flipped nonce", flip(header), statecache.Corrupt},
		{"flipped ciphertext", flip(header + nonce + 100), statecache.Corrupt},
		{"flipped tag", flip(-1), statecache.Corrupt},
		{"truncated by one", cut(-1), statecache.Truncated},
		{"truncated in the header", cut(20), statecache.Truncated},
		{"truncated to nothing", cut(0), statecache.Truncated},
		{"appended byte", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte{0}); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}, statecache.Corrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var log bytes.Buffer
			c := open(t, dir, statecache.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			k := key("alice", 1, 2, 3)
			mustPut(t, c, k, state)
			path := entryFile(t, dir)
			tt.damage(t, path)
			got, o := c.Get(k)
			if o != tt.want || got != nil {
				t.Errorf("Get: %v (%d bytes), want %v", o, len(got), tt.want)
			}
			if !o.Rejected() {
				t.Errorf("%v is not a rejection", o)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("rejected file not deleted: %v", err)
			}
			if !strings.Contains(log.String(), "outcome=") || strings.Contains(log.String(), "alice") {
				t.Errorf("log of the rejection: %q, want its outcome, and no user id", log.String())
			}
			if st, _ := c.Stats(); st.Rejects != 1 || st.Misses != 1 || st.Files != 0 {
				t.Errorf("stats %+v, want one reject, one miss, no file", st)
			}
			// Rebuilt: the caller evaluates the prefix and puts it again.
			mustPut(t, c, k, state)
			mustGet(t, c, k, state)
		})
	}
}

// TestWrongKey puts a file written under one key where another key
// expects its entry, as a cache directory whose key file was lost and
// made again would hold it.
func TestWrongKey(t *testing.T) {
	k := key("alice", 1, 2, 3)
	dirA, dirB := t.TempDir(), t.TempDir()
	mustPut(t, open(t, dirA, statecache.Options{Key: bytes.Repeat([]byte{1}, 32)}), k, []byte("state"))
	b := open(t, dirB, statecache.Options{Key: bytes.Repeat([]byte{2}, 32)})
	mustPut(t, b, k, []byte("state"))
	mine := entryFile(t, dirB)
	if err := os.WriteFile(mine, mustRead(t, entryFile(t, dirA)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, o := b.Get(k); o != statecache.WrongKey {
		t.Errorf("Get: %v, want wrong key", o)
	}
	if _, err := os.Stat(mine); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rejected file not deleted: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestForeign moves an entry's file onto the name of another entry, of
// the same user and of another user: each is rejected as foreign.
func TestForeign(t *testing.T) {
	for _, other := range []string{"alice", "bob"} {
		t.Run(other, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, statecache.Options{})
			a, b := key("alice", 1, 2, 3), key(other, 1, 2, 4)
			mustPut(t, c, a, []byte("state of a"))
			pa := entryFile(t, dir)
			mustPut(t, c, b, []byte("state of b"))
			var pb string
			for _, f := range entryFiles(t, dir) {
				if f != pa {
					pb = f
				}
			}
			if err := os.Rename(pa, pb); err != nil {
				t.Fatal(err)
			}
			if got, o := c.Get(b); o != statecache.Foreign {
				t.Errorf("Get of the renamed file: %v (%q), want foreign", o, got)
			}
			if _, o := c.Get(a); o != statecache.Absent {
				t.Errorf("Get of the moved entry: %v, want absent", o)
			}
		})
	}
}

// TestUnreadable checks that an entry that cannot be read is a miss and
// is left alone.
func TestUnreadable(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, statecache.Options{})
	k := key("alice", 1)
	mustPut(t, c, k, []byte("x"))
	path := entryFile(t, dir)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil { // a directory in its place
		t.Fatal(err)
	}
	if _, o := c.Get(k); o != statecache.Unreadable {
		t.Errorf("Get: %v, want unreadable", o)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("unreadable entry removed: %v", err)
	}
}

// TestNoPlaintext puts a state that holds a secret and the prefix's token
// ids in every simple encoding, and scans the cache's files and names:
// none holds any of them.
func TestNoPlaintext(t *testing.T) {
	const secret = "my diagnosis is Wegener's granulomatosis; PIN 4921"
	const user = "alice.okonkwo@example.org"
	tokens := []int32{15043, 29892, 590, 22668, 338, 399, 387, 264, 261, 29915}
	raw := make([]byte, 0, 4*len(tokens))
	dec := make([]string, len(tokens))
	for i, tk := range tokens {
		raw = binary.LittleEndian.AppendUint32(raw, uint32(tk))
		dec[i] = strconv.Itoa(int(tk))
	}
	js, err := json.Marshal(tokens)
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{
		"secret":          []byte(secret),
		"secret's words":  []byte("granulomatosis"),
		"user":            []byte(user),
		"int32 LE":        raw,
		"int32 LE, first": raw[:12],
		"decimal, spaces": []byte(strings.Join(dec, " ")),
		"decimal, commas": []byte(strings.Join(dec, ",")),
		"JSON":            js,
	}
	// The worst case: every needle in the state itself, several times.
	var state []byte
	for range 50 {
		for _, n := range needles {
			state = append(state, n...)
		}
	}

	dir := t.TempDir()
	c := open(t, dir, statecache.Options{})
	k := key(user, tokens...)
	k.Template = secret // whatever the key holds stays out of names too
	mustPut(t, c, k, state)
	mustGet(t, c, k, state)

	var scanned int
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		for name, n := range needles {
			if bytes.Contains([]byte(rel), n) {
				t.Errorf("path %s holds the %s", rel, name)
			}
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned += len(b)
		for name, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds the %s", rel, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < len(state) {
		t.Fatalf("scanned %d bytes, less than the %d-byte state", scanned, len(state))
	}
}

// fileSize is the size of the file of a state of n bytes: a 53-byte
// header, a 12-byte nonce and a 16-byte tag around the ciphertext.
func fileSize(n int) int64 { return int64(53 + 12 + n + 16) }

func TestEvictLeastRecentlyUsed(t *testing.T) {
	const n = 1000
	clk := newClock()
	dir := t.TempDir()
	c := open(t, dir, statecache.Options{MaxBytes: 3 * fileSize(n), Now: clk.now})
	a, b, cc, d := key("alice", 1), key("bob", 2), key("alice", 3), key("carol", 4)
	state := func(k statecache.Key) []byte { return bytes.Repeat([]byte{byte(k.Tokens[0])}, n) }
	for _, k := range []statecache.Key{a, b, cc} {
		mustPut(t, c, k, state(k))
		clk.advance()
	}
	mustGet(t, c, a, state(a)) // a is used again: b is now the oldest
	clk.advance()
	mustPut(t, c, d, state(d))
	if _, o := c.Get(b); o != statecache.Absent {
		t.Errorf("least recently used entry: %v, want evicted", o)
	}
	for _, k := range []statecache.Key{a, cc, d} {
		mustGet(t, c, k, state(k))
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Evictions != 1 || st.Bytes != 3*fileSize(n) {
		t.Errorf("stats %+v, want 3 files of %d bytes, 1 eviction", st, 3*fileSize(n))
	}

	// A bigger state evicts as many as it needs, and never itself.
	big := bytes.Repeat([]byte{9}, 2*n)
	mustPut(t, c, key("dave", 5), big)
	if st, _ := c.Stats(); st.Files != 2 || st.Bytes > 3*fileSize(n) {
		t.Errorf("after a double-size put: %+v", st)
	}
	mustGet(t, c, key("dave", 5), big)
	// A cache opened with a lower bound drops what no longer fits when
	// it is read.
	small := open(t, dir, statecache.Options{MaxBytes: fileSize(n), Now: clk.now})
	if _, o := small.Get(key("dave", 5)); o != statecache.Absent {
		t.Errorf("Get of an entry larger than the bound: %v, want absent", o)
	}
	if st, _ := small.Stats(); st.Files != 1 || st.Evictions != 1 || st.Rejects != 0 {
		t.Errorf("after reading an entry larger than the bound: %+v", st)
	}
	// One larger than the bound is refused.
	if err := c.Put(key("erin", 6), make([]byte, 4*n)); !errors.Is(err, statecache.ErrTooLarge) {
		t.Errorf("Put of a state larger than the cache: %v, want ErrTooLarge", err)
	}
}

func TestDeleteAndClear(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, statecache.Options{})
	state := []byte("state")
	for _, k := range []statecache.Key{key("alice", 1), key("alice", 2), key("bob", 1)} {
		mustPut(t, c, k, state)
	}
	if err := c.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []statecache.Key{key("alice", 1), key("alice", 2)} {
		if _, o := c.Get(k); o != statecache.Absent {
			t.Errorf("deleted user's entry %v: %v", k.Tokens, o)
		}
	}
	mustGet(t, c, key("bob", 1), state)
	if st, _ := c.Stats(); st.Users != 1 || st.Files != 1 {
		t.Errorf("after Delete: %+v, want one user with one file", st)
	}
	if err := c.Delete("nobody"); err != nil {
		t.Errorf("Delete of a user without entries: %v", err)
	}

	if err := c.Clear(); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Stats(); st.Users != 0 || st.Files != 0 || st.Bytes != 0 {
		t.Errorf("after Clear: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "key")); err != nil {
		t.Errorf("Clear removed the key: %v", err)
	}
	mustPut(t, c, key("bob", 1), state)
	mustGet(t, c, key("bob", 1), state)
	if err := c.Remove(key("bob", 1)); err != nil {
		t.Fatal(err)
	}
	if _, o := c.Get(key("bob", 1)); o != statecache.Absent {
		t.Errorf("removed entry: %v", o)
	}
}

// TestKeyParts checks that changing any part of the key misses.
func TestKeyParts(t *testing.T) {
	c := open(t, t.TempDir(), statecache.Options{})
	base := key("alice", 1, 2, 3, 4)
	base.LoRA = "sha256:abcd"
	mustPut(t, c, base, []byte("state"))
	tests := []struct {
		name   string
		change func(k *statecache.Key)
	}{
		{"user", func(k *statecache.Key) { k.User = "bob" }},
		{"model", func(k *statecache.Key) { k.Model = "sha256:0124" }},
		{"lora", func(k *statecache.Key) { k.LoRA = "" }},
		{"template", func(k *statecache.Key) { k.Template += " " }},
		{"settings", func(k *statecache.Key) { k.Settings = "ctx=8192 kv=f16" }},
		{"a token", func(k *statecache.Key) { k.Tokens = []int32{1, 2, 3, 5} }},
		{"one more token", func(k *statecache.Key) { k.Tokens = []int32{1, 2, 3, 4, 5} }},
		{"one token less", func(k *statecache.Key) { k.Tokens = []int32{1, 2, 3} }},
		{"fields shifted", func(k *statecache.Key) { k.Model, k.LoRA = k.Model+k.LoRA, "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := base
			k.Tokens = append([]int32(nil), base.Tokens...)
			tt.change(&k)
			if _, o := c.Get(k); o != statecache.Absent {
				t.Errorf("Get: %v, want absent", o)
			}
		})
	}
	mustGet(t, c, base, []byte("state"))
}

func TestInvalidKey(t *testing.T) {
	c := open(t, t.TempDir(), statecache.Options{})
	for name, k := range map[string]statecache.Key{
		"no user":     {Model: "m", Settings: "s", Tokens: []int32{1}},
		"no model":    {User: "u", Settings: "s", Tokens: []int32{1}},
		"no settings": {User: "u", Model: "m", Tokens: []int32{1}},
		"no tokens":   {User: "u", Model: "m", Settings: "s"},
	} {
		if err := c.Put(k, []byte("x")); err == nil {
			t.Errorf("%s: Put accepted", name)
		}
		if _, o := c.Get(k); o != statecache.Absent {
			t.Errorf("%s: Get: %v", name, o)
		}
	}
}

// TestSharedKeyFile opens one directory from two caches at once, as two
// processes would: both end with the same key.
func TestSharedKeyFile(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	caches := make([]*statecache.Cache, 8)
	errs := make([]error, len(caches))
	for i := range caches {
		wg.Go(func() { caches[i], errs[i] = statecache.Open(dir, statecache.Options{}) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, caches[0], key("alice", 1), []byte("x"))
	for _, c := range caches[1:] {
		mustGet(t, c, key("alice", 1), []byte("x"))
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".key*")); len(m) != 0 {
		t.Errorf("temporary key files left: %v", m)
	}
}

// TestConcurrentUse puts and gets from several goroutines under a bound
// that keeps evicting: every Get is a hit with the right state or a miss,
// never a rejection.
func TestConcurrentUse(t *testing.T) {
	c := open(t, t.TempDir(), statecache.Options{MaxBytes: 4 * fileSize(500)})
	state := func(user, tok int) []byte { return bytes.Repeat([]byte{byte(user*16 + tok)}, 500) }
	var wg sync.WaitGroup
	for u := range 4 {
		wg.Go(func() {
			for i := range 30 {
				tok := i % 3
				k := key(fmt.Sprint("user", u), int32(tok))
				if err := c.Put(k, state(u, tok)); err != nil {
					t.Error(err)
					return
				}
				got, o := c.Get(k)
				switch {
				case o == statecache.Hit && !bytes.Equal(got, state(u, tok)):
					t.Errorf("user %d token %d: wrong state", u, tok)
				case o != statecache.Hit && o != statecache.Absent:
					t.Errorf("user %d token %d: %v", u, tok, o)
				}
			}
		})
	}
	wg.Wait()
	if st, _ := c.Stats(); st.Rejects != 0 || st.Bytes > 4*fileSize(500) {
		t.Errorf("stats %+v", st)
	}
}

func TestFileID(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	data := bytes.Repeat([]byte("weights "), 300000) // over a megabyte
	a := write("a.gguf", data)
	b := write("copy.gguf", data)
	data[len(data)-1] ^= 1
	c := write("other.gguf", data)
	id := func(p string) string {
		s, err := statecache.FileID(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if id(a) != id(b) {
		t.Errorf("copies differ: %s %s", id(a), id(b))
	}
	if id(a) == id(c) {
		t.Errorf("files one byte apart have the same id %s", id(a))
	}
	if !strings.HasPrefix(id(a), "sha256:") || len(id(a)) != 7+64 {
		t.Errorf("id %q", id(a))
	}
	if _, err := statecache.FileID(t.Context(), filepath.Join(dir, "missing")); err == nil {
		t.Errorf("missing file identified")
	}
}

// BenchmarkGet reads and decrypts the state of a 2,000-token prefix of
// Qwen2-0.5B (24 MiB: 12 KiB of F16 KV cache per token).
func BenchmarkGet(b *testing.B) {
	c, err := statecache.Open(b.TempDir(), statecache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	k := key("alice", 1, 2, 3)
	state := make([]byte, 2000*12<<10)
	if err := c.Put(k, state); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(state)))
	for b.Loop() {
		if _, o := c.Get(k); o != statecache.Hit {
			b.Fatal(o)
		}
	}
}
