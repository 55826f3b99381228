package statecache

import (
	"crypto/hmac"
	"encoding/binary"
	"math"
)

// Outcome says what [Cache.Get] found.
type Outcome uint8

// Outcomes of [Cache.Get]. Truncated, Corrupt, WrongKey and Foreign are
// rejections: Get deletes the file.
const (
	Hit        Outcome = iota // the state, authenticated
	Absent                    // no entry for the key
	Unreadable                // the file could not be read; it is left in place
	Truncated                 // the file is shorter than its header says
	Corrupt                   // bytes changed, or not an entry at all
	WrongKey                  // written under another encryption key
	Foreign                   // written for another key, then moved to this name
)

var outcomeNames = [...]string{"hit", "absent", "unreadable", "truncated", "corrupt", "wrong key", "foreign"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Rejected reports whether the outcome is a file Get deleted as invalid.
func (o Outcome) Rejected() bool { return o >= Truncated }

const (
	magic       = "CGKV"
	version     = 1
	checkLen    = 8
	headerSize  = len(magic) + 1 + checkLen + len(keyHash{}) + 8
	sealedExtra = 12 + 16 // GCM nonce and tag
)

// seal returns the file for state under name.
func (c *Cache) seal(state []byte, name keyHash) []byte {
	buf := make([]byte, headerSize, headerSize+len(state)+sealedExtra)
	copy(buf, magic)
	buf[4] = version
	copy(buf[5:], c.check[:])
	copy(buf[5+checkLen:], name[:])
	binary.LittleEndian.PutUint64(buf[5+checkLen+len(name):], uint64(len(state)))
	return c.aead.Seal(buf, nil, state, buf[:headerSize])
}

// open returns the state in file, which should be the entry named name.
func (c *Cache) open(file []byte, name keyHash) ([]byte, Outcome) {
	switch {
	case len(file) >= len(magic) && string(file[:len(magic)]) != magic:
		return nil, Corrupt
	case len(file) < headerSize:
		return nil, Truncated
	case file[4] != version:
		return nil, Corrupt
	case !hmac.Equal(file[5:5+checkLen], c.check[:]):
		return nil, WrongKey
	case !hmac.Equal(file[5+checkLen:5+checkLen+len(name)], name[:]):
		return nil, Foreign
	}
	n := binary.LittleEndian.Uint64(file[headerSize-8:])
	if n > math.MaxInt-uint64(headerSize+sealedExtra) {
		return nil, Corrupt
	}
	switch want := headerSize + int(n) + sealedExtra; {
	case len(file) < want:
		return nil, Truncated
	case len(file) > want:
		return nil, Corrupt
	}
	state, err := c.aead.Open(nil, nil, file[headerSize:], file[:headerSize])
	if err != nil {
		return nil, Corrupt
	}
	return state, Hit
}
