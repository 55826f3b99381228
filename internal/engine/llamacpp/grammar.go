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

	"github.com/cogenesis/cogenesis/internal/gbnf"
)

// SchemaToGrammar converts a JSON schema to a GBNF grammar with llama.cpp's
// converter, for constraining generation to JSON that validates. The
// schema must be at most 256 KiB long and nest at most 64 objects and
// arrays deep: llama.cpp's converter grows super-linearly with
// depth (4,000 nested arrays took 1.9 GB).
func SchemaToGrammar(schema []byte) (string, error) {
	if err := checkSchema(schema); err != nil {
		return "", err
	}
	g := ollama.SchemaToGrammar(schema)
	if g == nil {
		return "", fmt.Errorf("json schema to grammar: invalid or unsupported schema (%d bytes)", len(schema))
	}
	// ollama's wrapper cuts the grammar at its buffer size without saying
	// so; a cut grammar means something else.
	if len(g) >= max(32768, min(1024*1024, len(schema)*4))-1 {
		return "", fmt.Errorf("json schema to grammar: the grammar of this schema (%d bytes) is too large", len(schema))
	}
	return string(g), nil
}

// CheckGrammar reports whether gbnf is a GBNF grammar (with a root rule)
// that llama.cpp accepts for this model's vocabulary. Like generation
// with a grammar, it first checks and rewrites the grammar in Go
// ([gbnf.Sanitize]), so that no grammar reaches llama.cpp that would crash
// it; its errors then name the rule or the limit at fault.
func (m *Model) CheckGrammar(gbnf string) error {
	g, err := m.newGrammar(gbnf)
	if err != nil {
		return err
	}
	g.free()
	return nil
}

// sanitizeGrammar checks and rewrites src for llama.cpp (see
// [gbnf.Sanitize]), resolving token names with this model's vocabulary.
func (m *Model) sanitizeGrammar(src string) (string, error) {
	return gbnf.Sanitize(src, gbnf.Options{
		VocabSize: m.nVoc,
		Token: func(name string) (int32, bool) {
			toks, err := m.Tokenize(name, false, true)
			if err != nil || len(toks) != 1 {
				return 0, false
			}
			return toks[0], true
		},
	})
}

// grammar constrains sampling to a GBNF grammar with llama.cpp's grammar
// sampler. It holds C memory: call free.
type grammar struct {
	smpl *C.struct_llama_sampler
	data []C.llama_token_data // C memory, one entry per vocabulary token
	cdat *C.llama_token_data
}

func (m *Model) newGrammar(src string) (constraint, error) {
	safe, err := m.sanitizeGrammar(src)
	if err != nil {
		return nil, fmt.Errorf("parse grammar (%d bytes): %w", len(src), err)
	}
	g, err := m.initGrammar(safe)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// initGrammar hands a grammar that gbnf.Sanitize printed to llama.cpp.
func (m *Model) initGrammar(gbnf string) (*grammar, error) {
	cg := C.CString(gbnf)
	defer C.free(unsafe.Pointer(cg))
	root := C.CString("root")
	defer C.free(unsafe.Pointer(root))
	takeErrors()
	smpl := C.llama_sampler_init_grammar(m.vocab, cg, root)
	if smpl == nil {
		// llama.cpp prints parse errors to stderr (gbnf.Parse reports
		// the same ones first); other errors go to its log.
		return nil, fmt.Errorf("parse grammar (%d bytes): llama.cpp rejected it: %s", len(gbnf), orUnknown(takeErrors()))
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

// Limits of a JSON schema given to SchemaToGrammar. llama.cpp's
// converter makes one rule per nesting level with a name as long as the
// path to it, so its time and memory grow with the square of the depth.
// At the limits a schema converts in a few milliseconds and a few MB.
const (
	maxSchemaBytes = 256 << 10
	maxSchemaDepth = 64
)

// checkSchema enforces the schema limits before a byte reaches C.
func checkSchema(schema []byte) error {
	if len(schema) > maxSchemaBytes {
		return fmt.Errorf("json schema is %d bytes; the limit is %d", len(schema), maxSchemaBytes)
	}
	depth, inString, escaped := 0, false, false
	for _, c := range schema {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > maxSchemaDepth {
				return fmt.Errorf("json schema nests deeper than %d objects and arrays", maxSchemaDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
