//go:build cgo

package llamacpp

/*
#cgo CFLAGS: -std=c11
#cgo CPPFLAGS: -I${SRCDIR}/../../../build/llama-include -I${SRCDIR}/../../../build/ggml-include
#include <stdlib.h>
#include <string.h>
#include "llama.h"
#include "ggml-cpu.h"

extern void cogenLlamaLog(int level, char *text, void *user_data);

static void cogen_log_set(void) {
	llama_log_set((ggml_log_callback)cogenLlamaLog, NULL);
}

// cogen_threadpool_new makes a threadpool of n threads whose idle workers
// spin for the given polling level (0: not at all) before they sleep.
static struct ggml_threadpool *cogen_threadpool_new(int n, unsigned poll) {
	struct ggml_threadpool_params p = ggml_threadpool_params_default(n);
	p.poll = poll;
	return ggml_threadpool_new(&p);
}
*/
import "C"

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cogenesis/cogenesis/internal/gguf"
	"github.com/cogenesis/cogenesis/llm"

	// The llama.cpp sources, compiled by this module's cgo build.
	_ "github.com/ollama/ollama/llama"
)

// Model is a loaded GGUF model with one llama.cpp context that serves up
// to Options.Parallel sequences. It is safe for concurrent use. Close it
// when done; sequences must be closed first.
type Model struct {
	path  string
	opts  Options
	model *C.struct_llama_model
	vocab *C.struct_llama_vocab
	lctx  *C.struct_llama_context
	tp    *C.struct_ggml_threadpool
	nVoc  int
	nCtx  int // per sequence

	info         Info
	infoOnce     sync.Once
	fallbackOnce sync.Once

	// threads is the thread count assigned by the process's budget;
	// nThreads (under mu) is the one the context was last set to.
	threads  atomic.Int32
	nThreads int
	claim    *claim

	slots chan int // free sequence ids
	pool  *Pool    // finished sequences kept for prefix reuse

	// mu serializes every call into the llama.cpp context.
	mu     sync.Mutex
	batch  C.struct_llama_batch
	bTok   []C.llama_token
	bPos   []C.llama_pos
	bNSeq  []C.int32_t
	bSeq   []*C.llama_seq_id
	bLogit []C.int8_t

	reqs   chan *decodeReq
	quit   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
}

var backendOnce sync.Once

// logger receives llama.cpp's log lines; see the package doc.
var (
	logger   atomic.Pointer[slog.Logger]
	logMu    sync.Mutex
	logLine  strings.Builder
	logErr   bool // logLine began at error level
	lastErrs []string
)

//export cogenLlamaLog
func cogenLlamaLog(level C.int, text *C.char, _ unsafe.Pointer) {
	s := C.GoString(text)
	logMu.Lock()
	defer logMu.Unlock()
	if logLine.Len() == 0 {
		logErr = level == C.GGML_LOG_LEVEL_ERROR
	}
	logLine.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		// Some messages (llama.cpp's grammar errors) end without a
		// newline; takeErrors collects them.
		return
	}
	line := strings.TrimSpace(logLine.String())
	logLine.Reset()
	if line == "" {
		return
	}
	if level == C.GGML_LOG_LEVEL_ERROR || logErr {
		lastErrs = append(lastErrs, line)
		if len(lastErrs) > 4 {
			lastErrs = lastErrs[1:]
		}
	}
	if l := logger.Load(); l != nil {
		l.Debug("llama.cpp", "level", int(level), "msg", line)
	}
}

func takeErrors() string {
	logMu.Lock()
	defer logMu.Unlock()
	if logErr && logLine.Len() > 0 {
		lastErrs = append(lastErrs, strings.TrimSpace(logLine.String()))
		logLine.Reset()
	}
	s := strings.Join(lastErrs, "; ")
	lastErrs = nil
	return s
}

// Open validates the GGUF file at path and loads it. A missing,
// truncated or corrupt file, one that is not a regular file, and a model
// of an unsupported architecture or with inconsistent hyperparameters
// (see gguf.CheckModel) give an error naming the file and the problem
// before llama.cpp sees a byte of it.
func Open(path string, opts Options) (*Model, error) {
	if _, err := gguf.OpenModel(path); err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	return load(path, opts)
}

// initBackend initializes llama.cpp once per process. Before that it sets
// GGML_NO_BACKTRACE (unless the user set it): on an abort, ggml's crash
// handler would otherwise fork gdb to attach to this process and print its
// backtrace on the terminal.
func initBackend() {
	backendOnce.Do(func() {
		if _, set := os.LookupEnv(noBacktraceEnv); !set {
			// With cgo, os.Setenv also sets the C environment that
			// ggml's getenv reads.
			_ = os.Setenv(noBacktraceEnv, "1") // cannot fail for this name and value
		}
		C.cogen_log_set()
		C.llama_backend_init()
	})
}

// noBacktraceEnv is the variable ggml_print_backtrace (ggml.c) checks:
// when it is set, to any value, no debugger is started.
const noBacktraceEnv = "GGML_NO_BACKTRACE"

// load loads path into llama.cpp without validating it; only Open, after
// validation, and tests that show what validation prevents call it.
func load(path string, opts Options) (*Model, error) {
	opts = opts.withDefaults()
	logger.Store(opts.Logger)
	initBackend()
	takeErrors()

	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	mp := C.llama_model_default_params()
	mp.n_gpu_layers = 0
	mp.use_mmap = true
	model := C.llama_model_load_from_file(cpath, mp)
	if model == nil {
		return nil, fmt.Errorf("open model %s: llama.cpp could not load it: %s", path, orUnknown(takeErrors()))
	}
	m := &Model{path: path, opts: opts, model: model, vocab: C.llama_model_get_vocab(model)}
	m.nVoc = int(C.llama_vocab_n_tokens(m.vocab))
	poolSize := m.claimThreads(uint64(C.llama_model_size(model)))
	m.nThreads = int(m.threads.Load())

	// A context past the training length is allowed (llama.cpp warns):
	// quality may suffer, but the caller asked for it.
	nctx := opts.ContextSize
	if train := int(C.llama_model_n_ctx_train(model)); train > 0 && nctx > train {
		opts.Logger.Debug("context size exceeds the model's training context", "context", nctx, "train", train)
	}
	cp := C.llama_context_default_params()
	cp.n_ctx = C.uint32_t(nctx * opts.Parallel)
	cp.n_batch = C.uint32_t(opts.BatchSize)
	cp.n_ubatch = C.uint32_t(opts.BatchSize)
	cp.n_seq_max = C.uint32_t(opts.Parallel)
	cp.n_threads = C.int32_t(m.nThreads)
	cp.n_threads_batch = C.int32_t(m.nThreads)
	cp.no_perf = true
	cp.kv_unified = false
	switch opts.FlashAttention {
	case "on":
		cp.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_ENABLED
	case "off":
		cp.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
	case "", "auto":
	default:
		m.free()
		return nil, fmt.Errorf("open model %s: flash attention %q: want auto, on or off", path, opts.FlashAttention)
	}
	if opts.Precise {
		cp.type_k = C.GGML_TYPE_F32
		cp.type_v = C.GGML_TYPE_F32
		cp.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
	}
	m.lctx = C.llama_init_from_model(model, cp)
	if m.lctx == nil {
		m.free()
		return nil, fmt.Errorf("open model %s: create context (%d tokens x %d sequences): %s", path, nctx, opts.Parallel, orUnknown(takeErrors()))
	}
	m.nCtx = int(C.llama_n_ctx_seq(m.lctx))
	// A threadpool of our own: its workers live as long as the context
	// (instead of being made for every llama_decode) and sleep when idle.
	m.tp = C.cogen_threadpool_new(C.int(poolSize), poll)
	if m.tp == nil {
		m.free()
		return nil, fmt.Errorf("open model %s: create threadpool of %d threads", path, poolSize)
	}
	C.llama_attach_threadpool(m.lctx, m.tp, m.tp)

	if opts.LoRA != "" {
		if err := m.applyLoRA(opts.LoRA, opts.LoRAScale); err != nil {
			m.free()
			return nil, err
		}
	}

	// llama.cpp caps the batch at the context size.
	n := int(min(C.llama_n_batch(m.lctx), C.llama_n_ubatch(m.lctx)))
	m.batch = C.llama_batch_init(C.int32_t(n), 0, 1)
	m.bTok = unsafe.Slice(m.batch.token, n)
	m.bPos = unsafe.Slice(m.batch.pos, n)
	m.bNSeq = unsafe.Slice(m.batch.n_seq_id, n)
	m.bSeq = unsafe.Slice(m.batch.seq_id, n)
	m.bLogit = unsafe.Slice(m.batch.logits, n)

	m.slots = make(chan int, opts.Parallel)
	for i := range opts.Parallel {
		m.slots <- i
	}
	m.pool = newPool(m)
	m.reqs = make(chan *decodeReq, opts.Parallel)
	m.quit = make(chan struct{})
	m.wg.Add(1)
	go m.decodeLoop()
	return m, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown error (run with --log-level=debug for llama.cpp's output)"
	}
	return s
}

func (m *Model) applyLoRA(path string, scale float32) error {
	if _, err := gguf.Open(path); err != nil {
		return fmt.Errorf("open lora adapter: %w", err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	ad := C.llama_adapter_lora_init(m.model, cpath)
	if ad == nil {
		return fmt.Errorf("open lora adapter %s: %s", path, orUnknown(takeErrors()))
	}
	if rc := C.llama_set_adapter_lora(m.lctx, ad, C.float(scale)); rc != 0 {
		return fmt.Errorf("apply lora adapter %s: code %d", path, int(rc))
	}
	return nil
}

// claimThreads registers the model with the process's thread budget and
// returns the most threads it will ever use (its threadpool's size).
func (m *Model) claimThreads(size uint64) int {
	c := &claim{size: size, set: func(n int) { m.threads.Store(int32(n)) }}
	cores := physicalCores("/")
	busy, sensed := 0, false
	if m.opts.Threads > 0 {
		c.want, c.fixed = m.opts.Threads, true
	} else {
		c.want = wantThreads(size, cores)
		if c.want > 1 {
			busy, sensed = senseBusy("/", loadSample), true
			m.opts.Logger.Debug("threads: load sensed", "physical_cores", cores, "busy_cores", busy)
		}
	}
	procBudget.add(c, cores, busy, sensed)
	m.claim = c
	m.opts.Logger.Debug("threads", "want", c.want, "threads", m.threads.Load(), "fixed", c.fixed)
	return c.want
}

// setThreads applies the budget's current thread count to the context;
// mu must be held.
func (m *Model) setThreads() {
	if n := int(m.threads.Load()); n != m.nThreads && n > 0 {
		C.llama_set_n_threads(m.lctx, C.int32_t(n), C.int32_t(n))
		m.nThreads = n
	}
}

// Threads returns the number of threads the model decodes with: the
// Options.Threads it was opened with, or the default, which changes as
// other models of the process open and close and as the load of other
// processes changes (see Options.Threads).
func (m *Model) Threads() int { return int(m.threads.Load()) }

func (m *Model) free() {
	if m.claim != nil {
		procBudget.remove(m.claim)
		m.claim = nil
	}
	if m.lctx != nil {
		C.llama_free(m.lctx)
		m.lctx = nil
	}
	if m.tp != nil {
		C.ggml_threadpool_free(m.tp)
		m.tp = nil
	}
	if m.model != nil {
		C.llama_model_free(m.model)
		m.model = nil
	}
}

// Close stops the decode loop and frees the model. Open sequences become
// unusable. Close is idempotent.
func (m *Model) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.pool.Close()
	close(m.quit)
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	C.llama_batch_free(m.batch)
	m.free()
	return nil
}

// Path returns the file the model was loaded from.
func (m *Model) Path() string { return m.path }

// LoRA returns the LoRA adapter file applied to the model ("" for none).
func (m *Model) LoRA() string { return m.opts.LoRA }

// VocabSize returns the number of tokens in the vocabulary, which is the
// length of every logits slice.
func (m *Model) VocabSize() int { return m.nVoc }

// Parallel returns how many sequences can be open at once.
func (m *Model) Parallel() int { return m.opts.Parallel }

// ContextSize returns the context of each sequence, in tokens.
func (m *Model) ContextSize() int { return m.nCtx }

// Info describes the model. The vocabulary fingerprint is computed on the
// first call.
func (m *Model) Info() Info {
	m.infoOnce.Do(func() {
		buf := make([]byte, 256)
		desc := int(C.llama_model_desc(m.model, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
		d := string(buf[:max(0, min(desc, len(buf)-1))])
		m.info = Info{
			Path:          m.path,
			Architecture:  m.meta("general.architecture"),
			Description:   d,
			Parameters:    uint64(C.llama_model_n_params(m.model)),
			SizeBytes:     uint64(C.llama_model_size(m.model)),
			Quantization:  quantization(d),
			ContextLength: int(C.llama_model_n_ctx_train(m.model)),
			Embedding:     int(C.llama_model_n_embd(m.model)),
			Layers:        int(C.llama_model_n_layer(m.model)),
			ChatTemplate:  m.chatTemplate(),
			Vocab:         m.vocabInfo(),
		}
	})
	return m.info
}

// quantization takes the file type from llama.cpp's description
// ("llama ?B all F32", "qwen2 1B Q8_0").
func quantization(desc string) string {
	f := strings.Fields(desc)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

func (m *Model) meta(key string) string {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	buf := make([]byte, 512)
	n := int(C.llama_model_meta_val_str(m.model, ck, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
	if n < 0 {
		return ""
	}
	if n >= len(buf) {
		buf = make([]byte, n+1)
		n = int(C.llama_model_meta_val_str(m.model, ck, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
	}
	return string(buf[:n])
}

func (m *Model) chatTemplate() string {
	t := C.llama_model_chat_template(m.model, nil)
	if t == nil {
		return ""
	}
	return C.GoString(t)
}

var vocabTypes = map[C.enum_llama_vocab_type]string{
	C.LLAMA_VOCAB_TYPE_NONE: "none",
	C.LLAMA_VOCAB_TYPE_SPM:  "spm",
	C.LLAMA_VOCAB_TYPE_BPE:  "bpe",
	C.LLAMA_VOCAB_TYPE_WPM:  "wpm",
	C.LLAMA_VOCAB_TYPE_UGM:  "ugm",
	C.LLAMA_VOCAB_TYPE_RWKV: "rwkv",
}

func (m *Model) vocabInfo() Vocab {
	v := Vocab{
		Size:   m.nVoc,
		Type:   vocabTypes[C.llama_vocab_type(m.vocab)],
		BOS:    int32(C.llama_vocab_bos(m.vocab)),
		EOS:    int32(C.llama_vocab_eos(m.vocab)),
		EOT:    int32(C.llama_vocab_eot(m.vocab)),
		PAD:    int32(C.llama_vocab_pad(m.vocab)),
		AddBOS: bool(C.llama_vocab_get_add_bos(m.vocab)),
	}
	h := sha256.New()
	var num [8]byte
	put := func(x int64) {
		binary.LittleEndian.PutUint64(num[:], uint64(x))
		h.Write(num[:])
	}
	h.Write([]byte(v.Type))
	for _, x := range []int32{int32(v.Size), v.BOS, v.EOS, v.EOT, v.PAD} {
		put(int64(x))
	}
	for i := range m.nVoc {
		t := C.llama_vocab_get_text(m.vocab, C.llama_token(i))
		n := C.strlen(t)
		put(int64(n))
		h.Write(unsafe.Slice((*byte)(unsafe.Pointer(t)), int(n)))
		put(int64(C.llama_vocab_get_attr(m.vocab, C.llama_token(i))))
	}
	v.Fingerprint = hex.EncodeToString(h.Sum(nil))
	return v
}

// Tokenize converts text to tokens. With addSpecial the tokenizer adds BOS
// (and whatever else the model asks for); with parseSpecial, special token
// texts such as "<|im_start|>" become their tokens instead of plain text.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	out := make([]int32, len(text)+8)
	for range 2 {
		n := C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)),
			(*C.llama_token)(unsafe.Pointer(unsafe.SliceData(out))), C.int32_t(len(out)),
			C.bool(addSpecial), C.bool(parseSpecial))
		if n >= 0 {
			return out[:n], nil
		}
		if int(-n) <= len(out) {
			break
		}
		out = make([]int32, -n)
	}
	return nil, fmt.Errorf("tokenize %d bytes: llama.cpp failed", len(text))
}

// Piece returns the text of one token, special tokens rendered as text.
// A piece may be a partial UTF-8 sequence (byte tokens); join pieces before
// treating them as text.
func (m *Model) Piece(tok int32) string {
	return string(m.AppendPiece(nil, tok))
}

// AppendPiece appends the text of tok to dst and returns it.
func (m *Model) AppendPiece(dst []byte, tok int32) []byte {
	if tok < 0 || int(tok) >= m.nVoc {
		return dst
	}
	var buf [64]byte
	n := C.llama_token_to_piece(m.vocab, C.llama_token(tok), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, true)
	if n >= 0 {
		return append(dst, buf[:n]...)
	}
	big := make([]byte, -n)
	n = C.llama_token_to_piece(m.vocab, C.llama_token(tok), (*C.char)(unsafe.Pointer(&big[0])), C.int32_t(len(big)), 0, true)
	return append(dst, big[:max(n, 0)]...)
}

// Detokenize converts tokens back to text. Special tokens are rendered as
// text; BOS/EOS added by the tokenizer are kept as they are.
func (m *Model) Detokenize(tokens []int32) string {
	var b []byte
	for _, t := range tokens {
		b = m.AppendPiece(b, t)
	}
	return string(b)
}

// TokenText returns tok's text as the vocabulary stores it ("▁the",
// "<0x44>"), not as it renders.
func (m *Model) TokenText(tok int32) string {
	if tok < 0 || int(tok) >= m.nVoc {
		return ""
	}
	return C.GoString(C.llama_vocab_get_text(m.vocab, C.llama_token(tok)))
}

// IsBOS reports whether tok is the beginning-of-sequence token.
func (m *Model) IsBOS(tok int32) bool {
	return tok == int32(C.llama_vocab_bos(m.vocab))
}

// IsEOG reports whether tok ends generation (EOS, EOT and the like).
func (m *Model) IsEOG(tok int32) bool {
	return bool(C.llama_vocab_is_eog(m.vocab, C.llama_token(tok)))
}

// IsControl reports whether tok is a control token (BOS, chat markers).
func (m *Model) IsControl(tok int32) bool {
	return bool(C.llama_vocab_is_control(m.vocab, C.llama_token(tok)))
}

// Sequence is one token sequence in the model's KV cache. It is not safe
// for concurrent use. Close it to free its slot.
type Sequence struct {
	m      *Model
	id     int
	tokens []int32
	logits []float32 // next-token logits after tokens; valid when hasLog
	hasLog bool
	req    decodeReq
	closed bool
}

// NewSequence opens an empty sequence, waiting for a free slot when
// Options.Parallel sequences are already open.
func (m *Model) NewSequence(ctx context.Context) (*Sequence, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	var id int
	select {
	case id = <-m.slots:
		return m.newSequence(id), nil
	default:
	}
	// Every slot is taken: an idle sequence the pool keeps for its prefix
	// gives its slot up.
	m.pool.evict()
	select {
	case id = <-m.slots:
		return m.newSequence(id), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a free sequence: %w", ctx.Err())
	case <-m.quit:
		return nil, ErrClosed
	}
}

// tryNewSequence is NewSequence that does not wait; nil when every slot
// is taken (after asking the pool to give an idle one up).
func (m *Model) tryNewSequence() *Sequence {
	if m.closed.Load() {
		return nil
	}
	for range 2 {
		select {
		case id := <-m.slots:
			return m.newSequence(id)
		default:
		}
		m.pool.evict()
	}
	return nil
}

func (m *Model) newSequence(id int) *Sequence {
	s := &Sequence{m: m, id: id, logits: make([]float32, m.nVoc)}
	s.req.done = make(chan error, 1)
	m.mu.Lock()
	C.llama_memory_seq_rm(C.llama_get_memory(m.lctx), C.llama_seq_id(id), -1, -1)
	m.mu.Unlock()
	return s
}

// Pool returns the model's sequence pool, shared by everything that uses
// the model: prompts that share a prefix with an earlier one evaluate only
// the new tokens.
func (m *Model) Pool() *Pool { return m.pool }

// Close clears the sequence from the KV cache and frees its slot.
func (s *Sequence) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if !s.m.closed.Load() {
		s.m.mu.Lock()
		C.llama_memory_seq_rm(C.llama_get_memory(s.m.lctx), C.llama_seq_id(s.id), -1, -1)
		s.m.mu.Unlock()
	}
	s.m.slots <- s.id
}

// Model returns the model the sequence belongs to.
func (s *Sequence) Model() *Model { return s.m }

// Len returns the number of tokens in the sequence.
func (s *Sequence) Len() int { return len(s.tokens) }

// Tokens returns the tokens in the sequence. The slice is the sequence's
// own; do not modify it.
func (s *Sequence) Tokens() []int32 { return s.tokens }

// Logits returns the next-token logits after the sequence's last token, one
// per vocabulary entry, or nil for an empty sequence. The slice is reused by
// the next Append, Score or Truncate; copy it to keep it.
func (s *Sequence) Logits() []float32 {
	if !s.hasLog {
		return nil
	}
	return s.logits
}

// Append decodes tokens at the end of the sequence; afterwards Logits holds
// the next-token logits.
func (s *Sequence) Append(ctx context.Context, tokens []int32) error {
	return s.decode(ctx, tokens, nil)
}

// Score appends tokens and returns, for each of them, its log-probability
// given everything before it and the k most likely tokens at its position
// (log-probabilities, best first), all from batched evaluation. The first
// entry uses the logits the sequence held before the call; on an empty
// sequence nothing predicts the first token, so its entry has Logprob 0 and
// no Top (like the null first entry of vLLM's prompt_logprobs). Afterwards
// Logits holds the distribution after the last token.
func (s *Sequence) Score(ctx context.Context, tokens []int32, k int) ([]llm.TokenLogprob, error) {
	out := make([]llm.TokenLogprob, len(tokens))
	for i, t := range tokens {
		out[i].Token = t
	}
	if len(tokens) == 0 {
		return out, nil
	}
	if s.hasLog {
		out[0].Logprob, out[0].Rank, out[0].Top = logprobs(s.logits, tokens[0], k)
	}
	rows := &scoreRows{k: k, tokens: tokens, out: out}
	if err := s.decode(ctx, tokens, rows); err != nil {
		return nil, err
	}
	return out, nil
}

// NextTopK returns the k most likely next tokens after the sequence, with
// log-probabilities, best first; nil for an empty sequence.
func (s *Sequence) NextTopK(k int) []llm.TopLogprob {
	if !s.hasLog {
		return nil
	}
	_, _, top := logprobs(s.logits, -1, k)
	return top
}

// ScoreFunc evaluates tokens in batches, as Score does, and calls fn with
// the full next-token logits that predict tokens[i] for every position i;
// i = 0 only when the sequence held logits before the call. logits is
// valid during the call only. Afterwards Logits holds the distribution
// after the last token.
func (s *Sequence) ScoreFunc(ctx context.Context, tokens []int32, fn func(i int, logits []float32)) error {
	if len(tokens) == 0 {
		return nil
	}
	if s.hasLog {
		fn(0, s.logits)
	}
	return s.decode(ctx, tokens, &scoreRows{tokens: tokens, each: fn})
}

// scoreRows receives the logits of every position of a scored request.
type scoreRows struct {
	k      int
	tokens []int32
	out    []llm.TokenLogprob
	each   func(i int, logits []float32) // instead of out, when set
}

// row handles the logits after tokens[i]: they predict tokens[i+1].
func (r *scoreRows) row(i int, logits []float32) {
	if r.each != nil {
		if i+1 < len(r.tokens) {
			r.each(i+1, logits)
		}
		return
	}
	if i+1 < len(r.tokens) {
		e := &r.out[i+1]
		e.Logprob, e.Rank, e.Top = logprobs(logits, r.tokens[i+1], r.k)
	}
}

// Truncate rolls the sequence back to its first n tokens, dropping the rest
// from the KV cache. The next-token logits are recomputed, so afterwards
// Logits equals what a fresh sequence of those n tokens would give.
func (s *Sequence) Truncate(ctx context.Context, n int) error {
	if n < 0 || n > len(s.tokens) {
		return fmt.Errorf("truncate to %d: sequence has %d tokens", n, len(s.tokens))
	}
	if n == len(s.tokens) {
		return nil
	}
	if s.m.closed.Load() || s.closed {
		return ErrClosed
	}
	keep := max(n-1, 0)
	s.m.mu.Lock()
	C.llama_memory_seq_rm(C.llama_get_memory(s.m.lctx), C.llama_seq_id(s.id), C.llama_pos(keep), -1)
	s.m.mu.Unlock()
	last := s.tokens[keep:n]
	s.tokens = s.tokens[:keep]
	s.hasLog = false
	if len(last) == 0 {
		return nil
	}
	// Re-decode the last kept token to recover its logits.
	return s.decode(ctx, slices.Clone(last), nil)
}

// decodeReq is one request to the decode loop.
type decodeReq struct {
	ctx    context.Context
	seq    *Sequence
	tokens []int32
	next   int // tokens[:next] are decoded
	rows   *scoreRows
	done   chan error
}

func (s *Sequence) decode(ctx context.Context, tokens []int32, rows *scoreRows) error {
	if s.closed || s.m.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(tokens) == 0 {
		return nil
	}
	if have := len(s.tokens); have+len(tokens) > s.m.nCtx {
		return &ContextFullError{Have: have, Adding: len(tokens), Limit: s.m.nCtx}
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= s.m.nVoc {
			return fmt.Errorf("decode: token %d out of vocabulary range [0, %d)", t, s.m.nVoc)
		}
	}
	r := &s.req
	r.ctx, r.seq, r.tokens, r.next, r.rows = ctx, s, tokens, 0, rows
	select {
	case s.m.reqs <- r:
	case <-s.m.quit:
		return ErrClosed
	}
	var err error
	select {
	case err = <-r.done:
	case <-s.m.quit:
		return ErrClosed
	}
	r.ctx, r.tokens, r.rows = nil, nil, nil
	return err
}

// decodeLoop owns all decoding: it gathers pending requests from every
// sequence into one batch per llama_decode call.
func (m *Model) decodeLoop() {
	defer m.wg.Done()
	var pending []*decodeReq
	for {
		if len(pending) == 0 {
			select {
			case r := <-m.reqs:
				pending = append(pending, r)
			case <-m.quit:
				return
			}
		}
	drain:
		for {
			select {
			case r := <-m.reqs:
				pending = append(pending, r)
			default:
				break drain
			}
		}
		pending = m.step(pending)
	}
}

type span struct {
	r          *decodeReq
	start, end int // tokens[start:end] are in the batch
	at         int // batch index of tokens[start]
}

// step decodes one batch from the pending requests and returns those still
// unfinished. Finished requests are told only after all bookkeeping, since
// their owners reuse the request value as soon as they hear back.
func (m *Model) step(pending []*decodeReq) []*decodeReq {
	type result struct {
		r   *decodeReq
		err error
	}
	var finished []result
	defer func() {
		for _, f := range finished {
			f.r.done <- f.err
		}
	}()
	rest := pending[:0]
	// Drop cancelled requests before spending compute on them.
	for _, r := range pending {
		if err := r.ctx.Err(); err != nil {
			m.rollback(r)
			finished = append(finished, result{r, err})
			continue
		}
		rest = append(rest, r)
	}
	pending = rest
	if len(pending) == 0 {
		return pending
	}
	procBudget.resense(time.Now())

	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	var spans []span
	for _, r := range pending {
		if n == len(m.bTok) {
			break
		}
		take := min(len(r.tokens)-r.next, len(m.bTok)-n)
		sp := span{r: r, start: r.next, end: r.next + take, at: n}
		pos := len(r.seq.tokens)
		for i := sp.start; i < sp.end; i++ {
			m.bTok[n] = C.llama_token(r.tokens[i])
			m.bPos[n] = C.llama_pos(pos + i - sp.start)
			m.bNSeq[n] = 1
			*m.bSeq[n] = C.llama_seq_id(r.seq.id)
			m.bLogit[n] = 0
			if r.rows != nil || i == len(r.tokens)-1 {
				m.bLogit[n] = 1
			}
			n++
		}
		spans = append(spans, sp)
	}
	m.batch.n_tokens = C.int32_t(n)
	m.setThreads()
	rc := C.llama_decode(m.lctx, m.batch)
	if rc != 0 {
		err := fmt.Errorf("llama_decode: code %d (%d tokens in batch)", int(rc), n)
		if rc == 1 {
			err = fmt.Errorf("llama_decode: no KV cache slot for %d tokens: %w", n, ErrContextFull)
		}
		failed := make(map[*decodeReq]bool, len(spans))
		for _, sp := range spans {
			// Remove what this batch may have written for the sequence.
			C.llama_memory_seq_rm(C.llama_get_memory(m.lctx), C.llama_seq_id(sp.r.seq.id), C.llama_pos(len(sp.r.seq.tokens)), -1)
			m.rollbackLocked(sp.r)
			failed[sp.r] = true
			finished = append(finished, result{sp.r, err})
		}
		return keep(pending, failed)
	}
	done := make(map[*decodeReq]bool, len(spans))
	for _, sp := range spans {
		r := sp.r
		s := r.seq
		for i := sp.start; i < sp.end; i++ {
			if m.bLogit[sp.at+i-sp.start] == 0 {
				continue
			}
			p := C.llama_get_logits_ith(m.lctx, C.int32_t(sp.at+i-sp.start))
			row := unsafe.Slice((*float32)(unsafe.Pointer(p)), m.nVoc)
			if r.rows != nil {
				r.rows.row(i, row)
			}
			if i == len(r.tokens)-1 {
				copy(s.logits, row)
			}
		}
		s.tokens = append(s.tokens, r.tokens[sp.start:sp.end]...)
		r.next = sp.end
		if r.next == len(r.tokens) {
			s.hasLog = true
			done[r] = true
			finished = append(finished, result{r, nil})
		}
	}
	return keep(pending, done)
}

// keep returns the pending requests not in drop.
func keep(pending []*decodeReq, drop map[*decodeReq]bool) []*decodeReq {
	out := pending[:0]
	for _, r := range pending {
		if !drop[r] {
			out = append(out, r)
		}
	}
	return out
}

// rollback undoes a partly decoded request, so a failed or cancelled
// Append leaves the sequence as it was.
func (m *Model) rollback(r *decodeReq) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollbackLocked(r)
}

func (m *Model) rollbackLocked(r *decodeReq) {
	s := r.seq
	if r.next > 0 {
		keep := len(s.tokens) - r.next
		C.llama_memory_seq_rm(C.llama_get_memory(m.lctx), C.llama_seq_id(s.id), C.llama_pos(keep), -1)
		s.tokens = s.tokens[:keep]
	}
}
