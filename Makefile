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
MODEL ?= hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf
TEST_FLAGS ?= -race -timeout 45m

# The module's source directory (downloaded on first use); its llama.cpp and
# ggml headers are what the engine package includes.
OLLAMA_DIR = $(shell $(GO) mod download -json $(OLLAMA_MOD) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p')

export CGO_ENABLED := 1
export CGO_CFLAGS := -O3 $(ARCH_FLAGS)
export CGO_CXXFLAGS := -O3 $(ARCH_FLAGS)
export CGO_CPPFLAGS = -I$(CURDIR)/build/include -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/ml/backend/ggml/ggml/include -DGGML_USE_CPU_REPACK

NPM_OPENAI ?= openai@7.59.0

.PHONY: all build demo test vet deps node-deps env clean

all: build

deps:
	@./build/deps.sh

build: deps
	$(GO) build -o bin/cogen ./cmd/cogen

demo: build
	./build/demo.sh "$(MODEL)"

vet: deps
	$(GO) vet ./...

# The npm openai package, for the test that drives cogen cloud with Node.
node-deps:
	@if command -v npm >/dev/null; then \
		[ -d .cache/node/node_modules/openai ] || npm install --silent --no-audit --no-fund --prefix .cache/node $(NPM_OPENAI) >/dev/null; \
	else echo "node-deps: npm not found; the Node client test will skip" >&2; fi

test: node-deps
	@./build/deps.sh test
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test $(TEST_FLAGS) ./...

# env prints the cgo flags, for running go commands by hand:
#   eval "$(make -s env)"; go test ./internal/engine/...
env:
	@echo "export CGO_ENABLED=1 CGO_CFLAGS='$(CGO_CFLAGS)' CGO_CXXFLAGS='$(CGO_CXXFLAGS)' CGO_CPPFLAGS='$(CGO_CPPFLAGS)'"

clean:
	rm -rf bin
