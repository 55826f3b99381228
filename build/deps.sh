#!/usr/bin/env bash
# Installs what the cgo build needs and is missing: a C/C++ compiler and the
# two header packages the github.com/ollama/ollama module zip lacks
# (nlohmann/json and stb_image). The third missing header, miniaudio.h, is
# the project's own stand-in in build/include.
#
# "deps.sh test" also wants what the interoperability tests drive:
# Chromium (the web UI's browser test), and Node with npm's openai package
# (the Node client tests). As root it installs them; otherwise it says how.
# Without them those tests skip, or fail under CI=true.
set -euo pipefail

missing=()
command -v gcc >/dev/null || missing+=(gcc)
command -v g++ >/dev/null || missing+=(g++)
[ -f /usr/include/nlohmann/json.hpp ] || missing+=(nlohmann-json3-dev)
[ -f /usr/include/stb/stb_image.h ] || missing+=(libstb-dev)
root=$(cd "$(dirname "$0")/.." && pwd)
need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$root/go.mod")
command -v go >/dev/null || { echo "deps: Go is not installed (go.mod needs Go $need or newer): https://go.dev/dl/" >&2; exit 1; }
# An older go fetches the toolchain go.mod names (GOTOOLCHAIN=auto, the
# default; this needs network) or, with GOTOOLCHAIN=local, stops.
have=$(cd / && GOTOOLCHAIN=local go env GOVERSION)
if [[ $have != devel* ]] && [ "$(printf '%s\n' "$need" "${have#go}" | sort -V | head -n 1)" != "$need" ]; then
	echo "deps: go.mod needs Go $need, this is $have; go fetches go$need unless GOTOOLCHAIN=local" >&2
	if ! out=$(cd "$root" && go list -m 2>&1); then
		echo "$out" | tail -n 3 | sed 's/^/deps: /' >&2
		echo "deps: install Go $need or newer: https://go.dev/dl/" >&2
		exit 1
	fi
fi

# NPM_OPENAI is the npm openai package the Node client tests use.
NPM_OPENAI=${NPM_OPENAI:-openai@7.59.0}

# optional installs packages ($2...) for the tests named in $1, as root;
# it never fails the build: without them those tests skip (and fail under
# CI=true, naming what is missing).
optional() {
	local what=$1
	shift
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "deps: installing $* (for $what)" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq "$@" >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; } ||
			{ echo "deps: could not install $*; $what will skip" >&2; return 1; }
	else
		echo "deps: $* not installed; $what will skip (install: sudo apt-get install -y $*)" >&2
		return 1
	fi
}

# node_client installs Node and npm and the openai package into
# .cache/node, for the Node client tests.
node_client() {
	command -v npm >/dev/null || optional "the Node client tests" nodejs npm || return 0
	[ -d "$root/.cache/node/node_modules/openai" ] ||
		npm install --silent --no-audit --no-fund --prefix "$root/.cache/node" "$NPM_OPENAI" >/dev/null ||
		echo "deps: npm install $NPM_OPENAI failed; the Node client tests will skip" >&2
}

# browser installs Chromium for the web UI's browser tests.
browser() {
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
		optional "the web UI's browser tests" chromium || true
}

if [ ${#missing[@]} -gt 0 ]; then
	cmd="apt-get update && apt-get install -y ${missing[*]}"
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "deps: installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		echo "deps: missing ${missing[*]}; install them with:" >&2
		echo "  sudo sh -c '$cmd'" >&2
		exit 1
	fi
fi
# The engine package finds llama.h and the ggml headers through two links
# in build/ (its #cgo directives name them), so plain go commands (go vet,
# go build) work without CGO_CPPFLAGS. The module's mtmd package wants
# miniaudio.h, which only a system include directory can give it: as root
# the project's stand-in is installed in /usr/local/include (never over a
# real miniaudio); otherwise go commands need the flags from "make env".
ollama=$(cd "$root" && go mod download -json github.com/ollama/ollama | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [ -z "$ollama" ]; then
	echo "deps: cannot download github.com/ollama/ollama (go mod download)" >&2
	exit 1
fi
ln -sfn "$ollama/llama/llama.cpp/include" "$root/build/llama-include"
ln -sfn "$ollama/ml/backend/ggml/ggml/include" "$root/build/ggml-include"
stub="$root/build/include/miniaudio/miniaudio.h"
# The copy "make env"'s CGO_CPPFLAGS names (STUB_INCLUDE, outside the
# clone, so that every clone shares the Go build cache's llama.cpp).
inc="${STUB_INCLUDE:-${XDG_CACHE_HOME:-$HOME/.cache}/cogenesis/include}"
if ! cmp -s "$stub" "$inc/miniaudio/miniaudio.h"; then
	mkdir -p "$inc/miniaudio" && cp "$stub" "$inc/miniaudio/miniaudio.h"
fi
dest=/usr/local/include/miniaudio/miniaudio.h
if [ "$(id -u)" -eq 0 ] && { [ ! -e "$dest" ] || grep -q COGENESIS_MINIAUDIO_STUB_H "$dest"; }; then
	mkdir -p "$(dirname "$dest")" && cp "$stub" "$dest"
fi

if [ "${1:-}" = test ]; then
	command -v curl >/dev/null || optional "the pre-check's HTTP tests" curl || true
	browser
	node_client
fi
