//go:build unix

package regfile

import "syscall"

// oNonblock makes opening a named pipe return at once instead of waiting
// for a writer, should one replace the path between its stat and its open.
const oNonblock = syscall.O_NONBLOCK
