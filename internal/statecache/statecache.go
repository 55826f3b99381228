package statecache

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cogenesis/cogenesis/internal/atomicfile"
	"github.com/cogenesis/cogenesis/internal/regfile"
)

// ErrTooLarge is returned by [Cache.Put] for a state that alone exceeds
// the cache's size bound.
var ErrTooLarge = errors.New("state larger than the cache")

// Log attribute keys.
const (
	attrUser    = "user"    // a prefix of the user directory's hash
	attrEntry   = "entry"   // a prefix of the entry's key hash
	attrOutcome = "outcome" // an Outcome
	attrBytes   = "bytes"
	attrErr     = "err"
)

// KeySize is the size of the cache's key, in bytes.
const KeySize = 32

// DefaultMaxBytes is the default size bound: 2 GiB, the states of about
// 80 prefixes of 2,000 tokens of Qwen2-0.5B (F16 KV cache).
const DefaultMaxBytes = 2 << 30

// staleTemp is the age after which a temporary file (of a write that
// crashed) is removed.
const staleTemp = time.Hour

// Options configures [Open]. Zero fields take the documented defaults.
type Options struct {
	// MaxBytes bounds the size of all files (default DefaultMaxBytes).
	MaxBytes int64
	// Key is the 32-byte key. When nil it is read from KeyFile, which is
	// created (mode 0600, 32 random bytes) if it does not exist.
	Key []byte
	// KeyFile is the key's file (default "key" in the cache directory).
	// A key file others may read is refused.
	KeyFile string
	// Logger receives a line for every rejected file (default
	// slog.Default()).
	Logger *slog.Logger
	// Now is the clock that dates last uses (default time.Now).
	Now func() time.Time
}

// Cache is a directory of encrypted saved states. It is safe for
// concurrent use, and several processes may share a directory. It holds
// no open files and needs no closing.
type Cache struct {
	dir      string
	maxBytes int64
	aead     cipher.AEAD
	nameKey  []byte
	check    [checkLen]byte
	logger   *slog.Logger
	now      func() time.Time

	mu                               sync.Mutex // serializes writes and evictions
	hits, misses, rejects, evictions atomic.Int64
}

// Stats describes a cache: its files now, and what happened since [Open].
type Stats struct {
	Users int   // user directories
	Files int   // saved states
	Bytes int64 // their total size
	// Counts since Open, in this process. Misses include rejects.
	Hits, Misses, Rejects, Evictions int64
}

// Open opens the cache in dir, creating it (mode 0700; an existing
// directory is set to 0700) and, unless o.Key is set, its key file.
func Open(dir string, o Options) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open state cache: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open state cache: %w", err)
	}
	key := o.Key
	if key == nil {
		var err error
		if key, err = loadKey(cmp.Or(o.KeyFile, filepath.Join(dir, "key"))); err != nil {
			return nil, fmt.Errorf("open state cache: %w", err)
		}
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("open state cache: key of %d bytes, want %d", len(key), KeySize)
	}
	derive := func(info string, n int) []byte {
		b, err := hkdf.Key(sha256.New, key, nil, "cogenesis statecache v1 "+info, n)
		if err != nil {
			panic(err) // only for lengths past 255 hashes
		}
		return b
	}
	block, err := aes.NewCipher(derive("encryption", 32))
	if err != nil {
		return nil, fmt.Errorf("open state cache: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("open state cache: %w", err)
	}
	c := &Cache{
		dir:      dir,
		maxBytes: o.MaxBytes,
		aead:     aead,
		nameKey:  derive("names", 32),
		check:    [checkLen]byte(derive("key check", checkLen)),
		logger:   cmp.Or(o.Logger, slog.Default()),
		now:      o.Now,
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxBytes
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// loadKey reads the key file at path, or creates it: a temporary file
// linked into place, so that of two processes creating it at once one
// wins and the other reads the winner's key.
func loadKey(path string) ([]byte, error) {
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key = make([]byte, KeySize)
	rand.Read(key) // never fails (crypto/rand)
	f, err := os.CreateTemp(filepath.Dir(path), ".key.tmp*")
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // the link, if made, keeps the key
	_, err = f.Write(key)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path)
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return readKey(path)
	case err != nil:
		return nil, fmt.Errorf("create key file %s: %w", path, err)
	}
	return key, nil
}

func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("key file %s has mode %04o: others may read it (want 0600)", path, fi.Mode().Perm())
	case fi.Size() != KeySize:
		return nil, fmt.Errorf("key file %s holds %d bytes, want %d", path, fi.Size(), KeySize)
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	return key, nil
}

func (c *Cache) entryPath(k Key) (string, keyHash) {
	h := c.hashKey(k)
	return filepath.Join(c.dir, c.userDir(k.User), hex.EncodeToString(h[:])), h
}

// Get returns the state saved under k and Hit, or nil and why there is
// none. It never fails: an unusable file is a miss, never an error that
// stops the caller. A file that is truncated, corrupt, written under
// another key or moved from another entry's name is deleted (and logged,
// by hashes); evaluate the prefix again and Put its state. A hit makes the
// entry the most recently used.
func (c *Cache) Get(k Key) ([]byte, Outcome) {
	if k.check() != nil {
		c.misses.Add(1)
		return nil, Absent
	}
	path, name := c.entryPath(k)
	file, err := regfile.ReadFile(path, c.maxBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.misses.Add(1)
		return nil, Absent
	case errors.Is(err, regfile.ErrTooLarge):
		// Larger than the bound (lowered since it was written): it could
		// not stay anyway.
		c.misses.Add(1)
		if os.Remove(path) == nil {
			c.evictions.Add(1)
		}
		return nil, Absent
	case err != nil:
		c.misses.Add(1)
		c.logger.Warn("state cache: unreadable entry", attrUser, c.userDir(k.User)[:8], attrEntry, entryID(name), attrErr, err)
		return nil, Unreadable
	}
	state, o := c.open(file, name)
	if o != Hit {
		return nil, c.reject(path, name, o, len(file))
	}
	now := c.now()
	_ = os.Chtimes(path, now, now) // a failure only makes the entry look older
	c.hits.Add(1)
	return state, Hit
}

func (c *Cache) reject(path string, name keyHash, o Outcome, size int) Outcome {
	c.misses.Add(1)
	c.rejects.Add(1)
	c.logger.Warn("state cache: rejected entry", attrUser, filepath.Base(filepath.Dir(path))[:8], attrEntry, entryID(name), attrOutcome, o.String(), attrBytes, size)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.logger.Warn("state cache: remove rejected entry", attrEntry, entryID(name), attrErr, err)
	}
	return o
}

func entryID(h keyHash) string { return hex.EncodeToString(h[:6]) }

// Put saves state under k, replacing what was there, then evicts the
// least recently used entries (never this one) while the cache exceeds
// its bound. A state larger than the bound alone is [ErrTooLarge].
func (c *Cache) Put(k Key, state []byte) error {
	if err := k.check(); err != nil {
		return err
	}
	if size := int64(headerSize + len(state) + sealedExtra); size > c.maxBytes {
		return fmt.Errorf("statecache: put %d bytes, bound %d: %w", size, c.maxBytes, ErrTooLarge)
	}
	path, name := c.entryPath(k)
	file := c.seal(state, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("statecache: put: %w", err)
	}
	if err := atomicfile.Write(path, file, 0o600); err != nil {
		return fmt.Errorf("statecache: put: %w", err)
	}
	now := c.now()
	if err := os.Chtimes(path, now, now); err != nil {
		return fmt.Errorf("statecache: put: %w", err)
	}
	return c.evict(path)
}

// entry is a file of the cache.
type entry struct {
	path string
	size int64
	used time.Time
}

// evict removes the least recently used entries but keep while the cache
// exceeds its bound; c.mu is held.
func (c *Cache) evict(keep string) error {
	entries, _, err := c.scan()
	if err != nil {
		return err
	}
	var total int64
	for _, e := range entries {
		total += e.size
	}
	if total <= c.maxBytes {
		return nil
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(a.used.Compare(b.used), strings.Compare(a.path, b.path))
	})
	for _, e := range entries {
		if total <= c.maxBytes {
			break
		}
		if e.path == keep {
			continue
		}
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("statecache: evict: %w", err)
		}
		total -= e.size
		c.evictions.Add(1)
	}
	return nil
}

// scan lists the entries and counts the user directories, removing
// temporary files left by writes that crashed.
func (c *Cache) scan() ([]entry, int, error) {
	users, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, 0, fmt.Errorf("statecache: scan: %w", err)
	}
	var out []entry
	n := 0
	for _, u := range users {
		if !u.IsDir() || !isHex(u.Name(), userHashLen) {
			continue
		}
		n++
		udir := filepath.Join(c.dir, u.Name())
		files, err := os.ReadDir(udir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			return nil, 0, fmt.Errorf("statecache: scan: %w", err)
		}
		for _, f := range files {
			fi, err := f.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue // gone meanwhile, or not ours
			}
			p := filepath.Join(udir, f.Name())
			switch {
			case isHex(f.Name(), 2*len(keyHash{})):
				out = append(out, entry{path: p, size: fi.Size(), used: fi.ModTime()})
			case strings.HasPrefix(f.Name(), ".") && strings.Contains(f.Name(), ".tmp") && c.now().Sub(fi.ModTime()) > staleTemp:
				_ = os.Remove(p) // a crashed write's leftover; retried at the next scan
			}
		}
	}
	return out, n, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// Remove deletes the entry of k, if any: for a state the engine refused
// to restore.
func (c *Cache) Remove(k Key) error {
	if k.check() != nil {
		return nil
	}
	path, _ := c.entryPath(k)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("statecache: remove: %w", err)
	}
	return nil
}

// Delete deletes every entry of user: their whole directory.
func (c *Cache) Delete(user string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.RemoveAll(filepath.Join(c.dir, c.userDir(user))); err != nil {
		return fmt.Errorf("statecache: delete user: %w", err)
	}
	return nil
}

// Clear deletes every entry of every user; the key stays.
func (c *Cache) Clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	users, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("statecache: clear: %w", err)
	}
	for _, u := range users {
		if u.IsDir() && isHex(u.Name(), userHashLen) {
			if err := os.RemoveAll(filepath.Join(c.dir, u.Name())); err != nil {
				return fmt.Errorf("statecache: clear: %w", err)
			}
		}
	}
	return nil
}

// Stats counts the cache's files and what happened since Open.
func (c *Cache) Stats() (Stats, error) {
	entries, users, err := c.scan()
	if err != nil {
		return Stats{}, err
	}
	s := Stats{
		Users:     users,
		Files:     len(entries),
		Hits:      c.hits.Load(),
		Misses:    c.misses.Load(),
		Rejects:   c.rejects.Load(),
		Evictions: c.evictions.Load(),
	}
	for _, e := range entries {
		s.Bytes += e.size
	}
	return s, nil
}
