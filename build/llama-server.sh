#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the source snapshot in
# ../shared/thirdparty once per machine, into a cache outside the clone,
# and prints the binary's path. Concurrent runs wait for one build (a lock
# beside the cache); a finished build is reused until the snapshot changes.
#
#	build/llama-server.sh            # prints ~/.cache/cogenesis/llama-server-173442644/bin/llama-server
#
# Needs cmake and g++ (as root it installs cmake with apt-get). The real
# server is what the interoperability tests run against (issue: real
# servers, not our own mirror).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ver=173442644
src=${LLAMA_SERVER_SRC:-$root/../shared/thirdparty/llama.cpp-$ver.tar.gz}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/cogenesis/llama-server-$ver
bin=$cache/bin/llama-server

. "$root/build/cached.sh"
[ -x "$bin" ] || [ -f "$src" ] || { echo "llama-server: source snapshot $src not found" >&2; exit 1; }
cached llama-server "$cache" "$bin"

if ! command -v cmake >/dev/null; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "llama-server: installing cmake" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq cmake >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq cmake >/dev/null 2>&1; } ||
			{ echo "llama-server: could not install cmake" >&2; exit 1; }
	else
		echo "llama-server: cmake is not installed (sudo apt-get install -y cmake)" >&2
		exit 1
	fi
fi

work=$(mktemp -d "$cache.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "llama-server: building llama.cpp $ver into $cache (about 7.5 CPU-minutes; once per machine)" >&2
tar xzf "$src" -C "$work"
if ! cmake -S "$work/llama.cpp-$ver" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
	-DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_WEBUI=OFF -DBUILD_SHARED_LIBS=OFF >"$work/cmake.log" 2>&1; then
	tail -n 30 "$work/cmake.log" >&2
	echo "llama-server: cmake configure failed" >&2
	exit 1
fi
if ! cmake --build "$work/build" -j"$(nproc)" --target llama-server >"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	echo "llama-server: build failed" >&2
	exit 1
fi
mkdir -p "$cache/bin"
cp "$work/build/bin/llama-server" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$bin"
