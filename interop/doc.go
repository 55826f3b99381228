// Package interop holds the conformance suite that runs cogenesis against
// real cloud servers, not the project's own emulation alone: llama.cpp's
// llama-server built from the source snapshot in ../shared/thirdparty
// (build/llama-server.sh), Ollama built from the Go module the engine uses
// (build/ollama.sh), and cogen cloud. The tests start each server on a
// free loopback port with a random-weight model that shares the local
// model's tokenizer, and stop it when they end.
//
// It checks three things: every strategy against every server kind ends
// ok, or unsupported with the missing capability named before any request
// (never a failure mid-generation), with the audit log checked after each
// run; the top-k log-probabilities each server reports for a prefix equal
// the in-process engine's for the same model; and kind detection against
// the live servers.
//
//	make test                          # builds the servers once, runs the suite
//	go test ./interop -run Matrix -v   # the matrix alone (after eval "$(make -s env)")
//
// The package has no code outside its tests.
package interop
