//go:build cgo

package llamacpp

/*
#include <stdlib.h>
#include <math.h>
#include "llama.h"
*/
import "C"

import (
	"fmt"
	"math"
	"unsafe"

	ollama "github.com/ollama/ollama/llama"
)

// SchemaToGrammar converts a JSON schema to a GBNF grammar with llama.cpp's
// converter, for constraining generation to JSON that validates.
func SchemaToGrammar(schema []byte) (string, error) {
	g := ollama.SchemaToGrammar(schema)
	if g == nil {
		return "", fmt.Errorf("json schema to grammar: invalid or unsupported schema (%d bytes)", len(schema))
	}
	return string(g), nil
}

// CheckGrammar reports whether gbnf is a GBNF grammar (with a root rule)
// that llama.cpp accepts for this model's vocabulary.
func (m *Model) CheckGrammar(gbnf string) error {
	g, err := m.newGrammar(gbnf)
	if err != nil {
		return err
	}
	g.free()
	return nil
}

// grammar constrains sampling to a GBNF grammar with llama.cpp's grammar
// sampler. It holds C memory: call free.
type grammar struct {
	smpl *C.struct_llama_sampler
	data []C.llama_token_data // C memory, one entry per vocabulary token
	cdat *C.llama_token_data
}

func (m *Model) newGrammar(gbnf string) (constraint, error) {
	cg := C.CString(gbnf)
	defer C.free(unsafe.Pointer(cg))
	root := C.CString("root")
	defer C.free(unsafe.Pointer(root))
	takeErrors()
	smpl := C.llama_sampler_init_grammar(m.vocab, cg, root)
	if smpl == nil {
		return nil, fmt.Errorf("parse grammar (%d bytes): %s", len(gbnf), orUnknown(takeErrors()))
	}
	cdat := (*C.llama_token_data)(C.malloc(C.size_t(m.nVoc) * C.size_t(unsafe.Sizeof(C.llama_token_data{}))))
	return &grammar{smpl: smpl, cdat: cdat, data: unsafe.Slice(cdat, m.nVoc)}, nil
}

// mask sets the logits of tokens the grammar forbids to -Inf in place.
func (g *grammar) mask(logits []float32) {
	for i, l := range logits {
		g.data[i] = C.llama_token_data{id: C.llama_token(i), logit: C.float(l)}
	}
	arr := C.llama_token_data_array{data: g.cdat, size: C.size_t(len(logits)), selected: -1, sorted: false}
	C.llama_sampler_apply(g.smpl, &arr)
	// The grammar sampler only lowers logits to -INFINITY; it neither
	// reorders nor resizes the array.
	for i := range logits {
		if math.IsInf(float64(g.data[i].logit), -1) {
			logits[g.data[i].id] = float32(math.Inf(-1))
		}
	}
}

func (g *grammar) accept(tok int32) { C.llama_sampler_accept(g.smpl, C.llama_token(tok)) }

func (g *grammar) free() {
	C.llama_sampler_free(g.smpl)
	C.free(unsafe.Pointer(g.cdat))
}
