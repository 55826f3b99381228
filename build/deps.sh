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
command -v go >/dev/null || { echo "deps: Go is not installed (need Go 1.26 or newer): https://go.dev/dl/" >&2; exit 1; }

# NPM_OPENAI is the npm openai package the Node client tests use.
NPM_OPENAI=${NPM_OPENAI:-openai@7.59.0}

# node_client installs Node and npm (as root) and the openai package into
# .cache/node, for the Node client tests.
node_client() {
	if ! command -v npm >/dev/null; then
		if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
			echo "deps: installing nodejs and npm (for the Node client tests)" >&2
			{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1 ||
				{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1; }; } ||
				{ echo "deps: could not install nodejs and npm; the Node client tests will skip" >&2; return 0; }
		else
			echo "deps: npm not found; the Node client tests will skip (install: sudo apt-get install -y nodejs npm)" >&2
			return 0
		fi
	fi
	[ -d "$root/.cache/node/node_modules/openai" ] ||
		npm install --silent --no-audit --no-fund --prefix "$root/.cache/node" "$NPM_OPENAI" >/dev/null ||
		echo "deps: npm install $NPM_OPENAI failed; the Node client tests will skip" >&2
}

# browser installs Chromium for the browser test, as root; it never fails
# the build: without it that one test skips.
browser() {
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null && return 0
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "deps: installing chromium (for the web UI's browser test)" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } ||
			echo "deps: could not install chromium; the browser test will skip" >&2
	else
		echo "deps: chromium not found; the browser test will skip (install: sudo apt-get install -y chromium)" >&2
	fi
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
root=$(cd "$(dirname "$0")/.." && pwd)
ollama=$(cd "$root" && go mod download -json github.com/ollama/ollama | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [ -z "$ollama" ]; then
	echo "deps: cannot download github.com/ollama/ollama (go mod download)" >&2
	exit 1
fi
ln -sfn "$ollama/llama/llama.cpp/include" "$root/build/llama-include"
ln -sfn "$ollama/ml/backend/ggml/ggml/include" "$root/build/ggml-include"
stub="$root/build/include/miniaudio/miniaudio.h"
dest=/usr/local/include/miniaudio/miniaudio.h
if [ "$(id -u)" -eq 0 ] && { [ ! -e "$dest" ] || grep -q COGENESIS_MINIAUDIO_STUB_H "$dest"; }; then
	mkdir -p "$(dirname "$dest")" && cp "$stub" "$dest"
fi

if [ "${1:-}" = test ]; then
	browser
	node_client
fi
