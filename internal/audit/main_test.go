package audit

import (
	"os"
	"testing"
)

// holdEnv names the log a re-executed test binary holds open: with it set,
// TestMain runs holdLogChild instead of the tests and exits with its status.
const holdEnv = "AUDIT_TEST_HOLD_LOG"

// holdLogChild is the child of TestTwoWritersAcrossProcessesFinding4; it is
// set where that test is built (robust_unix_test.go).
var holdLogChild func(path string) int

func TestMain(m *testing.M) {
	if path := os.Getenv(holdEnv); path != "" && holdLogChild != nil {
		os.Exit(holdLogChild(path))
	}
	os.Exit(m.Run())
}
