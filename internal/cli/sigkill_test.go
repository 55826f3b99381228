package cli_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// sigkill runs a command (the test binary re-executed) that a test server's
// handler kills with SIGKILL mid-job, as a crash would.
type sigkill struct {
	t      *testing.T
	once   sync.Once
	killed chan struct{}
	// proc is published after Start returns, for the handler goroutines
	// that kill it.
	proc atomic.Pointer[os.Process]
}

func newSigkill(t *testing.T) *sigkill {
	return &sigkill{t: t, killed: make(chan struct{})}
}

// kill kills the process (once); server handlers call it.
func (k *sigkill) kill() {
	k.once.Do(func() {
		if err := k.proc.Load().Kill(); err != nil { // SIGKILL
			k.t.Errorf("kill: %v", err)
		}
		close(k.killed)
	})
}

// run starts cmd and fails the test unless kill ended it; out is the
// command's output, shown on failure.
func (k *sigkill) run(cmd *exec.Cmd, out *bytes.Buffer) {
	k.t.Helper()
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	k.proc.Store(cmd.Process)
	err := cmd.Wait()
	select {
	case <-k.killed:
	default:
		k.t.Fatalf("the run ended before the kill: %v\n%s", err, out)
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		k.t.Fatalf("first run: %v, want killed by SIGKILL\n%s", err, out)
	}
}
