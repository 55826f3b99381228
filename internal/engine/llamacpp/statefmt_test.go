package llamacpp

import (
	"encoding/binary"
	"errors"
	"testing"
)

// craftSeqState writes a llama.cpp sequence state as
// llama_kv_cache::state_write does: streams KV streams of which stream at
// holds cells cells (positions in reverse order), layers layers with K
// rows of kRow bytes and V rows of vRow bytes (or, transposed, vRow
// elements of 2 bytes per cell).
func craftSeqState(streams, at, cells, layers int, vTrans bool, kRow, vRow int) []byte {
	u32 := func(b []byte, v int) []byte { return binary.LittleEndian.AppendUint32(b, uint32(v)) }
	b := u32(nil, streams)
	for s := range streams {
		if s != at {
			b = u32(b, 0)
			continue
		}
		b = u32(b, cells)
		for i := range cells {
			b = u32(b, cells-1-i) // position
			b = u32(b, 1)         // one sequence id
			b = u32(b, 5)         // the sequence id
		}
		b = u32(b, map[bool]int{false: 0, true: 1}[vTrans])
		b = u32(b, layers)
		for range layers {
			b = u32(b, 1) // F16
			b = binary.LittleEndian.AppendUint64(b, uint64(kRow))
			b = append(b, make([]byte, kRow*cells)...)
		}
		for range layers {
			b = u32(b, 1)
			if vTrans {
				b = u32(b, 2)
				b = u32(b, vRow)
				b = append(b, make([]byte, 2*vRow*cells)...)
			} else {
				b = binary.LittleEndian.AppendUint64(b, uint64(vRow))
				b = append(b, make([]byte, vRow*cells)...)
			}
		}
	}
	return b
}

var craftShape = seqStateShape{streams: 3, cells: 4, layers: 2}

func TestCheckSeqState(t *testing.T) {
	for _, vTrans := range []bool{false, true} {
		good := craftSeqState(3, 1, 4, 2, vTrans, 8, 8)
		if err := checkSeqState(good, craftShape); err != nil {
			t.Fatalf("v_trans %v: a well-formed state: %v", vTrans, err)
		}
		for n := range len(good) {
			if err := checkSeqState(good[:n], craftShape); !errors.Is(err, ErrStateMismatch) {
				t.Fatalf("v_trans %v: truncated to %d of %d bytes: %v", vTrans, n, len(good), err)
			}
		}
		if err := checkSeqState(append(good, 0), craftShape); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("v_trans %v: a trailing byte: %v", vTrans, err)
		}
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"other stream count", craftSeqState(2, 1, 4, 2, false, 8, 8)},
		{"other cell count", craftSeqState(3, 1, 5, 2, false, 8, 8)},
		{"other layer count", craftSeqState(3, 1, 4, 3, false, 8, 8)},
		{"no cells", craftSeqState(3, -1, 4, 2, false, 8, 8)},
	}
	for _, tt := range tests {
		if err := checkSeqState(tt.b, craftShape); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("%s: %v, want ErrStateMismatch", tt.name, err)
		}
	}
}

// FuzzCheckSeqState feeds arbitrary bytes to the state walker: it never
// panics, and what it accepts has the shape asked for.
func FuzzCheckSeqState(f *testing.F) {
	f.Add(craftSeqState(3, 1, 4, 2, false, 8, 8))
	f.Add(craftSeqState(3, 0, 4, 2, true, 8, 4))
	f.Add(craftSeqState(3, 2, 4, 2, false, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkSeqState(b, craftShape) != nil {
			return
		}
		if n := binary.LittleEndian.Uint32(b); n != 3 {
			t.Errorf("accepted %d streams", n)
		}
	})
}
