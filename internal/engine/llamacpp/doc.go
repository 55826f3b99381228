// Package llamacpp is cogenesis's in-process engine: llama.cpp, linked
// through cgo from github.com/ollama/ollama/llama, exposed as Go values.
//
// It gives what a chat server never gives: the full next-token logits of a
// sequence, batched scoring of a given token sequence ([Sequence.Score]),
// KV-cache rollback ([Sequence.Truncate]) and several sequences decoded
// together in one batch. Generation ([Sequence.Generate]) samples in Go with
// package sample, so it is seeded and reproducible.
//
// # Safety
//
// [Open] validates the GGUF header, metadata and tensor table in pure Go
// (package gguf) before a byte of the file reaches C, so a missing,
// truncated or corrupt file is an error naming the file and the problem,
// never a crash. It also refuses what is not a regular file (a FIFO never
// blocks it), an architecture other than gguf.Architectures, and
// hyperparameters llama.cpp would abort on (see gguf.CheckModel), such as
// a block count of 0 or a NaN epsilon.
//
// Should llama.cpp abort all the same, ggml's crash handler would fork gdb
// to print a backtrace; the package sets GGML_NO_BACKTRACE before the
// backend starts (unless the environment already has it), so an abort
// prints ggml's one-line message and nothing from a debugger.
//
// A [Model] is safe for concurrent use. A [Sequence] is not: one goroutine
// drives it, while other sequences of the same model run beside it and are
// batched into the same llama_decode calls.
//
// # Build
//
// This is the only package with import "C". Without cgo the package still
// compiles, and [Open] returns [ErrEngineUnavailable]. The real build needs
// the flags the repository's Makefile sets (optimisation, the CPU repack
// path, and the include directory with the headers the module zip lacks).
//
// # Logging
//
// llama.cpp's log hook is process-wide. The package routes everything it
// prints to the logger given in the most recent [Options.Logger] (default
// slog.Default()) at Debug level, so a user's terminal stays clean; the
// last error lines of a failed load are put into the returned error.
package llamacpp
