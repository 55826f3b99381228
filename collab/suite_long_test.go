//go:build cgo && long

package collab_test

// longSuite is set in the long suite (make test-long, go test -tags long):
// every dev record, and more draws in the distribution tests.
const longSuite = true
