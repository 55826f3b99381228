# Sourced by the build scripts of the third-party servers. cached NAME
# CACHE BIN prints BIN and exits when it is built; otherwise it takes the
# lock beside CACHE (waiting while another build holds it), checks again,
# and returns with the lock held (fd 9) for the caller to build.
cached() {
	local name=$1 cache=$2 bin=$3
	if [ -x "$bin" ]; then
		echo "$bin"
		exit 0
	fi
	mkdir -p "$(dirname "$cache")"
	exec 9>"$cache.lock"
	if ! flock -n 9; then
		echo "$name: waiting for another build to finish ($cache.lock)" >&2
		flock 9
	fi
	if [ -x "$bin" ]; then
		echo "$bin"
		exit 0
	fi
}
