# cogenesis build entry point. `make demo` runs the main job, `make test`
# runs the test suite; both install what is missing first (see README).
#
# The engine is llama.cpp compiled through cgo from github.com/ollama/ollama.
# Its speed depends on these flags: Go's default -O2 without -march gives
# 3-10x slower inference.

SHELL := /bin/bash
GO ?= go
ARCH_FLAGS ?= -march=native
OLLAMA_MOD := github.com/ollama/ollama
MODULE := github.com/cogenesis/cogenesis
MODEL ?= hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf
TEST_FLAGS ?= -timeout 30m

# The race detector runs on the packages whose tests drive concurrent Go
# code: the servers (cogen cloud's batching, cogen serve's queue), the
# client, the audit log, the stores and the rest. It is off for the three
# packages whose test time is llama.cpp inference (cgo code the detector
# does not instrument, but whose Go side - sampling, fusion, per-token
# loops - it slows several-fold): collab, the engine, the CLI's
# end-to-end runs and the conformance suite against real servers. Their concurrent parts (the sequence pool, the local
# cloud, the gateway) are raced in internal/cloud and internal/serve.
NORACE_PKGS := ./collab ./internal/engine/llamacpp ./internal/cli ./interop

# The module's source directory (downloaded on first use); its llama.cpp and
# ggml headers are what the engine package includes.
OLLAMA_DIR = $(shell $(GO) mod download -json $(OLLAMA_MOD) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p')

export CGO_ENABLED := 1
export CGO_CFLAGS := -O3 $(ARCH_FLAGS)
export CGO_CXXFLAGS := -O3 $(ARCH_FLAGS)
# The project's stand-in for miniaudio.h (build/include), copied by deps.sh
# to a place outside the clone: the flags are part of the Go build cache's
# key for the llama.cpp package, so a path inside the clone would make every
# fresh clone at a new path compile llama.cpp again (about ten minutes).
export STUB_INCLUDE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/cogenesis/include
export CGO_CPPFLAGS = -I$(STUB_INCLUDE) -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/ml/backend/ggml/ggml/include -DGGML_USE_CPU_REPACK

.PHONY: all build demo test test-long newcomer vet deps env clean servers

all: build

deps:
	@./build/deps.sh

# build prints one line per stage with its time; the go command's output
# goes to .cache/build.log (build/build.sh).
build:
	@GO="$(GO)" ./build/build.sh

# demo first checks MODEL (and CLOUD), so that a missing file or an
# unreachable hub stops it before the long first build.
demo:
	@./build/precheck.sh "$(MODEL)"
	@GO="$(GO)" ./build/build.sh
	./build/demo.sh "$(MODEL)"

vet: deps
	$(GO) vet ./...

# test is what CI runs (.ci/run, CI=true: a test that lacks a dependency
# fails instead of skipping). test-long adds the long sweeps (-tags long:
# all 150 dev records through every strategy, more draws in the
# distribution tests, the soak test).
test:
	@./build/deps.sh test
	@$(MAKE) -s servers
	$(GO) vet ./...
	$(GO) vet -tags long ./collab ./internal/cloud ./interop
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test $(TEST_FLAGS) -race $$($(GO) list ./... | grep -v -x -F $(patsubst ./%,-e $(MODULE)/%,$(NORACE_PKGS)))
	$(GO) test $(TEST_FLAGS) $(NORACE_PKGS)

test-long: TEST_FLAGS += -tags long -timeout 90m
test-long: test newcomer

# newcomer walks a newcomer's first hour on a fresh clone of HEAD (with
# ../shared beside it): MODEL=aidreams260K make demo, then the README's
# commands, checking exit statuses, promised files, the heat maps against
# their traces and what the cloud saw (internal/newcomer).
newcomer:
	$(GO) test -tags newcomer -count=1 -timeout 60m -v ./internal/newcomer

# servers builds the real servers the conformance suite (interop/) runs
# against, once per machine, into ~/.cache/cogenesis: llama.cpp's
# llama-server from ../shared/thirdparty (about 8 minutes on 2 cores) and
# Ollama from the engine's Go module (about 1.5 minutes). Outside CI a
# failed build is reported and the suite skips; under CI=true it fails.
servers:
	@./build/llama-server.sh >/dev/null || [ "$$CI" != true ]
	@./build/ollama.sh >/dev/null || [ "$$CI" != true ]

# env prints the cgo flags, for running go commands by hand:
#   eval "$(make -s env)"; go test ./internal/engine/...
env:
	@echo "export CGO_ENABLED=1 CGO_CFLAGS='$(CGO_CFLAGS)' CGO_CXXFLAGS='$(CGO_CXXFLAGS)' CGO_CPPFLAGS='$(CGO_CPPFLAGS)'"

clean:
	rm -rf bin
