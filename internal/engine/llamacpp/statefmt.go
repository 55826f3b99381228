package llamacpp

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrStateMismatch means a saved state cannot be restored into a sequence
// of this model: it is malformed, or was saved for other tokens, another
// model or other settings. Callers drop the state and evaluate the tokens
// instead.
var ErrStateMismatch = errors.New("saved state does not fit")

// A saved state ([Sequence.SaveState]) is, little-endian:
//
//	magic "CGST" | version u32 | tokens u32 | vocabulary u32 |
//	digest [32]byte | logits [vocabulary]float32 | llama.cpp state
//
// The digest is a sha256 of the model's [Model.StateSettings] and shape;
// the llama.cpp state is llama_state_seq_get_data's output for the
// sequence (its KV cells: position, sequence id, and the K and V rows of
// every layer).
const (
	stateMagic      = "CGST"
	stateVersion    = 1
	stateHeaderSize = 4 + 4 + 4 + 4 + sha256.Size
)

type stateHeader struct {
	tokens, vocab int
	digest        [sha256.Size]byte
}

// put writes the header and logits to the start of buf, which has room
// for them.
func (h stateHeader) put(buf []byte, logits []float32) {
	copy(buf, stateMagic)
	binary.LittleEndian.PutUint32(buf[4:], stateVersion)
	binary.LittleEndian.PutUint32(buf[8:], uint32(h.tokens))
	binary.LittleEndian.PutUint32(buf[12:], uint32(h.vocab))
	copy(buf[16:], h.digest[:])
	for i, v := range logits {
		binary.LittleEndian.PutUint32(buf[stateHeaderSize+4*i:], math.Float32bits(v))
	}
}

// stateLogits are a saved state's logits as stored.
type stateLogits []byte

func (l stateLogits) at(i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(l[4*i:]))
}

// splitState checks a saved state's header against want and returns its
// logits and its llama.cpp part.
func splitState(data []byte, want stateHeader) (stateLogits, []byte, error) {
	if len(data) < stateHeaderSize || string(data[:4]) != stateMagic {
		return nil, nil, fmt.Errorf("not a saved state (%d bytes): %w", len(data), ErrStateMismatch)
	}
	if v := binary.LittleEndian.Uint32(data[4:]); v != stateVersion {
		return nil, nil, fmt.Errorf("saved state format %d, want %d: %w", v, stateVersion, ErrStateMismatch)
	}
	if n := binary.LittleEndian.Uint32(data[8:]); uint64(n) != uint64(want.tokens) {
		return nil, nil, fmt.Errorf("state saved for %d tokens: %w", n, ErrStateMismatch)
	}
	if n := binary.LittleEndian.Uint32(data[12:]); uint64(n) != uint64(want.vocab) {
		return nil, nil, fmt.Errorf("state saved with a vocabulary of %d, the model has %d: %w", n, want.vocab, ErrStateMismatch)
	}
	if [sha256.Size]byte(data[16:stateHeaderSize]) != want.digest {
		return nil, nil, fmt.Errorf("state saved for another model or other settings: %w", ErrStateMismatch)
	}
	end := stateHeaderSize + 4*want.vocab
	if len(data) < end {
		return nil, nil, fmt.Errorf("saved state truncated in its logits (%d bytes): %w", len(data), ErrStateMismatch)
	}
	return stateLogits(data[stateHeaderSize:end]), data[end:], nil
}

// digestOf is a sha256 of parts, each length-prefixed.
func digestOf(parts ...string) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// seqStateShape is what a sequence's llama.cpp state must hold to be
// restored into a sequence of a model: the model's number of KV streams
// (one per parallel sequence), cells (one per token, positions 0 to
// cells-1) and layers.
type seqStateShape struct {
	streams, cells, layers int
}

// checkSeqState walks the output of llama_state_seq_get_data (format
// version 2, written by llama_kv_cache::state_write; the architectures the
// engine accepts all have that cache) and checks that it has want's shape
// and that every length in it adds up to exactly len(b), so llama.cpp
// never reads past the data or allocates for a count the data cannot
// hold. The types and row sizes of K and V are llama.cpp's to check.
func checkSeqState(b []byte, want seqStateShape) error {
	r := stateReader{b: b}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("llama.cpp state: "+format+": %w", append(args, ErrStateMismatch)...)
	}
	streams := r.u32()
	if r.err == nil && uint64(streams) != uint64(want.streams) {
		return bad("%d KV streams, the model has %d", streams, want.streams)
	}
	found := false
	for range streams {
		cells := r.u32()
		if r.err != nil {
			break
		}
		if cells == 0 {
			continue
		}
		if found {
			return bad("cells in more than one stream")
		}
		found = true
		if uint64(cells) != uint64(want.cells) {
			return bad("%d cells for %d tokens", cells, want.cells)
		}
		seen := make([]bool, cells)
		for range cells {
			pos, nSeq := r.i32(), r.u32()
			r.skip(4) // the sequence id, replaced by the one restored into
			if r.err != nil {
				break
			}
			if nSeq != 1 {
				return bad("a cell of %d sequences", nSeq)
			}
			if pos < 0 || uint64(pos) >= uint64(cells) || seen[pos] {
				return bad("positions are not 0 to %d", cells-1)
			}
			seen[pos] = true
		}
		vTrans, layers := r.u32(), r.u32()
		if r.err != nil {
			break
		}
		if vTrans > 1 {
			return bad("V transposition flag %d", vTrans)
		}
		if uint64(layers) != uint64(want.layers) {
			return bad("%d layers, the model has %d", layers, want.layers)
		}
		for range layers { // K: type, row size, one row per cell
			r.skip(4)
			r.rows(r.u64(), uint64(cells))
		}
		for range layers { // V: likewise, or transposed: element size, rows
			r.skip(4)
			if vTrans == 0 {
				r.rows(r.u64(), uint64(cells))
			} else {
				el, embd := r.u32(), r.u32()
				r.rows(uint64(el)*uint64(embd), uint64(cells))
			}
		}
	}
	switch {
	case r.err != nil:
		return bad("%v", r.err)
	case !found:
		return bad("no cells")
	case r.off != len(b):
		return bad("%d bytes past its end", len(b)-r.off)
	}
	return nil
}

// stateReader reads little-endian values; the first read past the end
// sets err, and reads after it return 0.
type stateReader struct {
	b   []byte
	off int
	err error
}

func (r *stateReader) skip(n uint64) {
	if r.err != nil {
		return
	}
	if n > uint64(len(r.b)-r.off) {
		r.err = fmt.Errorf("truncated at byte %d (%d more wanted, %d left)", r.off, n, len(r.b)-r.off)
		return
	}
	r.off += int(n)
}

// rows skips n rows of size bytes, checking the product for overflow.
func (r *stateReader) rows(size, n uint64) {
	if r.err == nil && n > 0 && size > uint64(len(r.b)-r.off)/n {
		r.err = fmt.Errorf("truncated at byte %d (%d rows of %d bytes wanted, %d bytes left)", r.off, n, size, len(r.b)-r.off)
		return
	}
	r.skip(size * n)
}

func (r *stateReader) next(n int) []byte {
	start := r.off
	r.skip(uint64(n))
	if r.err != nil {
		return nil
	}
	return r.b[start:r.off]
}

func (r *stateReader) u32() uint32 {
	if b := r.next(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *stateReader) i32() int32 { return int32(r.u32()) }

func (r *stateReader) u64() uint64 {
	if b := r.next(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}
