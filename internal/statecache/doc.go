// Package statecache keeps users' saved engine states on disk, encrypted,
// so that a user's private context is evaluated once and restored after
// that. A state is what llamacpp's Sequence.SaveState returns: the KV
// cache (and next-token logits) of a prompt prefix that holds the user's
// profile, history and facts. A [Cache] stores one file per (user, [Key])
// and hands the state back to Sequence.RestoreState.
//
// # What never leaves the device
//
// Nothing in the package talks to the network. Every file holds
// AES-256-GCM ciphertext under a random nonce; a file name is an HMAC of
// its key and a directory name an HMAC of the user id, so neither the
// text, nor a token id, nor a user id appears on disk in the clear. Errors
// and log lines name entries by a prefix of their hashes, never by their
// content.
//
// # Layout
//
//	dir/                   0700
//	dir/key                0600: 32 random bytes, made on first use
//	                       (unless [Options.Key] or [Options.KeyFile])
//	dir/<user hash>/       0700: one per user (32 hex digits)
//	dir/<user hash>/<key hash>  0600: one saved state (64 hex digits)
//
// Files are written atomically (package atomicfile). A file's
// modification time is its last use: [Cache.Put] and a hit of [Cache.Get]
// set it, and Put evicts the least recently used files while the files
// together exceed [Options.MaxBytes]. The files are the only index, so
// several processes may share a directory.
//
// # File format
//
//	magic "CGKV" | version 1 | key check [8] | key hash [32] |
//	state length u64 (little-endian) | nonce [12] | ciphertext | tag [16]
//
// The header (everything before the nonce) is the additional data the
// tag authenticates. The key check is derived from the cache key, so a
// file written under another key is told apart ([WrongKey]) from one
// whose bytes changed ([Corrupt]); the key hash is the HMAC the file is
// named by, so a file moved onto another entry's name is [Foreign]. The
// encryption key, the name key and the key check are derived from the 32
// key bytes with HKDF-SHA256.
package statecache
