#!/usr/bin/env bash
# Builds Ollama's server from the Go module the engine already uses
# (github.com/ollama/ollama at go.mod's version, its main package) once per
# machine, into a cache outside the clone, and prints the binary's path.
# Concurrent runs wait for one build (a lock beside the cache).
#
#	build/ollama.sh            # prints ~/.cache/cogenesis/ollama-v0.17.4/bin/ollama
#
# It compiles the same llama.cpp as the engine, so it needs the engine's cgo
# flags (CGO_CFLAGS, CGO_CXXFLAGS, CGO_CPPFLAGS: run it from make, or after
# eval "$(make -s env)") and the headers build/deps.sh installs. With the
# engine in Go's build cache it takes about a minute and a half on 2 cores.
# The real server is what the interoperability tests (interop/) run against.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ver=$(sed -n 's/^[[:space:]]*github.com\/ollama\/ollama \(v[^ ]*\).*/\1/p' "$root/go.mod" | head -n 1)
[ -n "$ver" ] || { echo "ollama: no github.com/ollama/ollama requirement in $root/go.mod" >&2; exit 1; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/cogenesis/ollama-$ver
bin=$cache/bin/ollama

. "$root/build/cached.sh"
if [ ! -x "$bin" ] && [ -z "${CGO_CPPFLAGS:-}" ]; then
	echo "ollama: CGO_CPPFLAGS is not set; run through make, or eval \"\$(make -s env)\" first" >&2
	exit 1
fi
cached ollama "$cache" "$bin"

echo "ollama: building github.com/ollama/ollama@$ver into $cache (once per machine)" >&2
start=$(date +%s)
work=$(mktemp -d "$cache.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# go install pkg@version builds the module with its own go.mod, outside
# this one; -X sets the version /api/version reports (otherwise 0.0.0).
if ! (cd "$work" && CGO_ENABLED=1 GOFLAGS= GOBIN="$work/bin" go install \
	-ldflags "-X github.com/ollama/ollama/version.Version=${ver#v}" \
	"github.com/ollama/ollama@$ver") >"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	echo "ollama: build failed" >&2
	exit 1
fi
mkdir -p "$cache/bin"
mv "$work/bin/ollama" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "ollama: built in $(($(date +%s) - start)) s" >&2
echo "$bin"
