//go:build cgo && long

package interop_test

// matrixRecords is how many dev records each cell of the matrix runs:
// one in make test, more in the long suite (make test-long).
const matrixRecords = 8
