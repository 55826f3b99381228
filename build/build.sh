#!/usr/bin/env bash
# Builds bin/cogen for "make build" and "make demo", one line per stage
# with its time:
#
#	build: deps ok (0s)
#	build: modules ok (0s)
#	build: compiling llama.cpp (cgo, first build only: about 10 min on 2 cores)...
#	build: bin/cogen (11m10s; 11m13s in all)
#
# What the go command prints (module downloads, the C++ compiler's
# warnings) goes to .cache/build.log; when a stage fails its last lines
# are shown. The Makefile exports the cgo flags ("make env"): the build
# cache is keyed by them, so a go command run with other flags compiles
# llama.cpp again.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
log=$root/.cache/build.log
mkdir -p "$root/.cache"
: >"$log"

# coldMinutes2 is how long a build with an empty Go build cache takes on
# two cores: 11m13s measured on two busy ones (load average 3.2-7.9,
# mean 4.8), 2026-11-30. Scaled here by the core count.
coldMinutes2=10

dur() {
	local s=$1
	if ((s < 60)); then
		echo "${s}s"
	else
		printf '%dm%02ds\n' $((s / 60)) $((s % 60))
	fi
}

start=$(date +%s)
since() { dur $(($(date +%s) - $1)); }

# fail reports the stage that failed and the end of the log.
fail() {
	echo >&2
	echo "build: $1 failed ($(since "$2")); the last lines of $log:" >&2
	grep -v '^go: downloading' "$log" | tail -n 30 | sed 's/^/  /' >&2
	exit 1
}

t=$(date +%s)
./build/deps.sh || { echo "build: deps failed (see above)" >&2 && exit 1; }
echo "build: deps ok ($(since "$t"))" >&2

# Which cgo packages of the engine (llama.cpp, ggml) the build cache lacks.
# go list downloads missing modules first; it compiles nothing.
t=$(date +%s)
stale=$("$GO" list -deps -f '{{if and .Stale .CgoFiles}}{{.ImportPath}}{{end}}' ./cmd/cogen 2>>"$log") || fail "go list (modules)" "$t"
if grep -q '^go: downloading' "$log"; then
	echo "build: modules downloaded ($(since "$t"))" >&2
else
	echo "build: modules ok ($(since "$t"))" >&2
fi

t=$(date +%s)
if grep -q '^github.com/ollama/ollama/' <<<"$stale"; then
	cores=$(nproc 2>/dev/null || echo 2)
	msg="build: compiling llama.cpp (cgo, first build only: about $coldMinutes2 min on 2 cores"
	if [ "$cores" != 2 ]; then
		msg+=", so roughly $(((coldMinutes2 * 2 + cores - 1) / cores)) here on $cores"
	fi
	msg+=")"
else
	msg="build: go build (llama.cpp cached)"
fi
ticker=
if [ -t 2 ]; then
	# On a terminal the line shows the time so far.
	(
		trap exit TERM
		while sleep 5; do
			printf '\r%s... %s' "$msg" "$(since "$t")" >&2
		done
	) &
	ticker=$!
	trap 'kill "$ticker" 2>/dev/null || true' EXIT
fi
printf '%s...' "$msg" >&2
ok=true
"$GO" build -buildvcs=auto -o bin/cogen ./cmd/cogen >>"$log" 2>&1 || ok=false
if [ -n "$ticker" ]; then
	kill "$ticker" 2>/dev/null || true
	wait "$ticker" 2>/dev/null || true
	printf '\r%s... %s' "$msg" "$(since "$t")" >&2
fi
$ok || fail "go build" "$t"
echo >&2
echo "build: bin/cogen ($(since "$t"); $(since "$start") in all)" >&2
