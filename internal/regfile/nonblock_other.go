//go:build !unix

package regfile

// oNonblock is 0 where O_NONBLOCK does not exist; the stat before each
// open still refuses named pipes and devices.
const oNonblock = 0
