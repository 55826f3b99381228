// Package gguf reads and strictly validates GGUF model files (versions 2
// and 3, little-endian) in pure Go.
//
// The engine calls [Open] before any byte of a model reaches llama.cpp, so
// a missing, truncated or corrupt file yields a clear error instead of a
// crash inside C code. [Open] and [Read] decode the header, the metadata
// key-value pairs and the tensor table; they never read tensor data.
//
// # Validation
//
// Every length and count read from the file is checked against the bytes
// that remain before anything is allocated, so the memory and time used are
// bounded by the file size. Beyond the GGUF specification the reader also
// enforces the rules that llama.cpp's loader relies on without checking
// them itself: general.alignment is a uint32 power of two; tensor names are
// unique and shorter than 64 bytes; every tensor has 1 to 4 positive
// dimensions whose first is a multiple of its type's block size; tensor data
// is aligned, packed in table order and lies within the file; and the
// tokenizer arrays (tokens, scores, token types) have matching types and
// lengths.
//
// Validation failures are reported as [*FormatError], which names the file,
// the byte offset, the field and the problem. A missing file gives an error
// for which errors.Is(err, fs.ErrNotExist) holds. [Open] reads only regular
// files: a directory, named pipe (FIFO), device or socket is refused before
// it is opened, so it never blocks or reads without end.
//
// # Models
//
// [CheckModel] (and [OpenModel], which opens and checks) goes further for
// a file that is to run: its architecture must be one of [Architectures]
// (the one list of what cogenesis supports), and its hyperparameters and
// tensors must agree — block count and blk.N tensors, head counts and the
// embedding length, finite positive epsilons and rope bases, vocabulary and
// embedding shapes, and the other values llama.cpp asserts on rather than
// rejects. Its failures are [*ModelError] values naming the file and key.
//
// A [File] is immutable after reading and safe for concurrent use.
package gguf
