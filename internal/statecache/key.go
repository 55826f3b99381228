package statecache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Key says which state an entry holds. Two keys name the same entry only
// when every field is equal, so a state is found again only for the same
// user, the same model and adapter files, the same engine settings and
// exactly the same prefix tokens.
type Key struct {
	// User is the user whose context the prefix holds. Each user has a
	// directory of their own, which [Cache.Delete] removes.
	User string
	// Model identifies the model file by content: [FileID] of it.
	Model string
	// LoRA identifies the LoRA adapter file the same way; "" for none.
	LoRA string
	// Template is the chat template the prefix was rendered with.
	Template string
	// Settings are the engine settings a saved state depends on:
	// llamacpp's Model.StateSettings (context size, parallel sequences,
	// batch size, KV cache type, flash attention, LoRA scale, llama.cpp
	// build).
	Settings string
	// Tokens is the exact prefix whose state is saved.
	Tokens []int32
}

func (k Key) check() error {
	switch {
	case k.User == "":
		return errors.New("statecache: key has no user")
	case k.Model == "":
		return errors.New("statecache: key has no model identity")
	case k.Settings == "":
		return errors.New("statecache: key has no engine settings")
	case len(k.Tokens) == 0:
		return errors.New("statecache: key has no tokens")
	}
	return nil
}

// encode writes every field, length-prefixed, after a domain tag.
func (k Key) encode() []byte {
	b := []byte("cogenesis statecache key v1\x00")
	for _, s := range []string{k.User, k.Model, k.LoRA, k.Template, k.Settings} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(k.Tokens)))
	for _, t := range k.Tokens {
		b = binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	return b
}

// keyHash is the HMAC that names an entry and sits in its header.
type keyHash [sha256.Size]byte

func (c *Cache) hashKey(k Key) keyHash {
	m := hmac.New(sha256.New, c.nameKey)
	m.Write(k.encode())
	return keyHash(m.Sum(nil))
}

// userDir is the name of a user's directory: a truncated HMAC of the id.
func (c *Cache) userDir(user string) string {
	m := hmac.New(sha256.New, c.nameKey)
	m.Write([]byte("cogenesis statecache user v1\x00"))
	m.Write([]byte(user))
	return hex.EncodeToString(m.Sum(nil)[:userHashLen/2])
}

const userHashLen = 32 // hex digits of a user directory's name

// FileID identifies a file by its content: "sha256:" and the hex SHA-256
// of its bytes. It reads the whole file, checking ctx between megabytes:
// at the 1 GB/s of SHA-256 with SHA extensions a model of 500 MB takes
// half a second, so compute it once per process. Unlike the path, size
// and modification time, it stays when the file is moved or copied, and
// it changes whenever the weights do.
func FileID(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("identify %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("identify %s: %w", path, err)
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("identify %s: %w", path, err)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
