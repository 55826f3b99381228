#!/usr/bin/env bash
# Checks, before "make demo" starts the long first build, what would stop
# the demo after it: that MODEL is a file, or an hf:// reference that is
# already in cogen's model cache or whose hub answers within seconds. It
# fails at once with what is wrong and what to do.
#
#	build/precheck.sh MODEL              # CLOUD, when set, is checked too
#	build/precheck.sh --cache-path REF   # where cogen caches hf://REF
#
# The cache path mirrors internal/hub (CacheDir and Ref.cachePath, with
# cogen's default --cache-dir); build/precheck_test.go checks it against
# hub.Resolve. The hub is HF_ENDPOINT when set, as internal/envconfig
# reads it. Only a HEAD request for the model's URL leaves the machine,
# without the HF_TOKEN.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
example=path/to/model.gguf
[ -f "$root/../shared/models/aidreams260K.gguf" ] && example=../shared/models/aidreams260K.gguf

fail() {
	printf 'demo: %s\n' "$@" >&2
	echo "demo: to run on a local GGUF file instead: MODEL=$example make demo" >&2
	exit 1
}

# path_escape escapes one path segment as Go's url.PathEscape does.
path_escape() {
	local LC_ALL=C s=$1 out= c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9_.~-] | '$' | '&' | '+' | ':' | '=' | '@') out+=$c ;;
		*) printf -v c '%%%02X' "'$c" && out+=$c ;;
		esac
	done
	printf '%s' "$out"
}

# cache_dir sets dir to os.UserCacheDir()/cogenesis/models, or why to
# why there is none.
cache_dir() {
	local base
	if [ "$(uname)" = Darwin ]; then
		base=${HOME:?}/Library/Caches
	elif [ -n "${XDG_CACHE_HOME:-}" ]; then
		[[ $XDG_CACHE_HOME == /* ]] || { why="XDG_CACHE_HOME ($XDG_CACHE_HOME) is a relative path; cogen needs an absolute one" && return 1; }
		base=$XDG_CACHE_HOME
	else
		base=${HOME:?neither XDG_CACHE_HOME nor HOME is set}/.cache
	fi
	dir=$base/cogenesis/models
}

# parse_ref splits hf://OWNER/REPO/FILE[@REVISION] into owner, repo, file
# and rev, as hub.ParseRef does.
parse_ref() {
	local rest=${1#hf://}
	rev=main
	if [[ $rest == *@* ]]; then
		rev=${rest##*@}
		rest=${rest%@*}
	fi
	owner=${rest%%/*}
	rest=${rest#*/}
	repo=${rest%%/*}
	file=${rest#*/}
	local name='^[A-Za-z0-9._-]+$'
	[[ $owner =~ $name && $repo =~ $name && $owner != . && $owner != .. && $repo != . && $repo != .. ]] &&
		[[ $rest == */* && -n $file && -n $rev ]]
}

# cache_path sets path to where cogen keeps hf://REF, and owner, repo,
# file and rev to its parts; or why to what is wrong.
cache_path() {
	parse_ref "$1" || { why="not a model reference: want hf://OWNER/REPO/FILE.gguf[@REVISION]" && return 1; }
	local dir
	cache_dir || return 1
	path=$dir/$owner/$repo/$(path_escape "$rev")/$file
}

# head_status prints the HTTP status of a HEAD request for url (000 when
# the host cannot be reached), with curl's error on stderr.
head_status() {
	curl -sS -o /dev/null -w '%{http_code}' --head --connect-timeout 5 --max-time 10 "$1" || true
}

# check_remote checks an hf:// reference: cached, or its hub answers.
check_remote() {
	local what=$1 ref=$2 base url status err
	cache_path "$ref" || fail "$what $ref: $why"
	if [ -f "$path" ]; then
		echo "demo: $what $ref is cached ($path)" >&2
		return 0
	fi
	base=${HF_ENDPOINT:-https://huggingface.co}
	base=${base%/}
	url=$base/$owner/$repo/resolve/$(path_escape "$rev")
	local seg segs
	IFS=/ read -ra segs <<<"$file"
	for seg in "${segs[@]}"; do
		url+=/$(path_escape "$seg")
	done
	if ! command -v curl >/dev/null; then
		local hostport=${base#*://}
		hostport=${hostport%%/*}
		local port=443
		[[ $base == http://* ]] && port=80
		[[ $hostport == *:* ]] && port=${hostport##*:}
		if timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${hostport%:*}" "$port" 2>/dev/null; then
			echo "demo: $what $ref will be downloaded from $base once" >&2
			return 0
		fi
		fail "$what $ref is not in the model cache ($path)" "and $base cannot be reached within 5s (no network?)"
	fi
	err=$(mktemp)
	status=$(head_status "$url" 2>"$err")
	local msg
	msg=$(head -c 300 "$err")
	rm -f "$err"
	case $status in
	000) fail "$what $ref is not in the model cache ($path)" "and $base cannot be reached within seconds (no network?): ${msg#curl: }" ;;
	404) fail "$what $ref: $base has no such file (HTTP 404); check owner, repository, file name and revision" ;;
	401 | 403)
		[ -n "${HF_TOKEN:-}" ] ||
			fail "$what $ref: $base refuses it (HTTP $status): the repository is gated or private; accept its license on the hub and set HF_TOKEN"
		;;
	esac
	echo "demo: $what $ref will be downloaded from $base once (HTTP $status)" >&2
}

# check checks one model reference: a file, or hf://.
check() {
	local what=$1 ref=$2
	case $ref in
	'') fail "no $what given" ;;
	hf://*) check_remote "$what" "$ref" ;;
	*)
		[ -e "$ref" ] || fail "$what $ref: no such file (a Hugging Face model is written hf://OWNER/REPO/FILE.gguf)"
		[ -f "$ref" ] || fail "$what $ref: not a regular file, want a GGUF file"
		[ -r "$ref" ] || fail "$what $ref: not readable"
		echo "demo: $what $ref found" >&2
		;;
	esac
}

if [ "${1:-}" = --cache-path ]; then
	cache_path "${2:?usage: build/precheck.sh --cache-path hf://OWNER/REPO/FILE}" || { echo "precheck: $2: $why" >&2 && exit 1; }
	echo "$path"
	exit
fi
check MODEL "${1-}"
# CLOUD (see build/demo.sh) is a model like MODEL, local:MODEL or a URL.
cloud=${CLOUD:-}
cloud=${cloud#local:}
case $cloud in
'' | http://* | https://*) ;;
*) check CLOUD "$cloud" ;;
esac
