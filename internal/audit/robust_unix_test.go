//go:build unix

package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() { holdLogChild = holdLog }

// holdLog is not a test: run by TestMain in a child process with holdEnv
// set, by TestTwoWritersAcrossProcessesFinding4, it opens that log,
// appends a record, says "held" and waits to be killed.
func holdLog(path string) int {
	l, err := Open(path)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if _, err := l.Append(context.Background(), testRecord(0)); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("held")
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed
	return 1
}

// TestTwoWritersAcrossProcessesFinding4: while another process holds the
// log, Open fails naming its pid; once that process is killed (SIGKILL, so
// it closes nothing) the kernel has released the lock and Open succeeds.
func TestTwoWritersAcrossProcessesFinding4(t *testing.T) {
	path, _ := writeLog(t, 2)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "held\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q, %v", line, err)
	}

	_, err = Open(path)
	if ie, ok := errors.AsType[*InUseError](err); !ok || ie.PID != cmd.Process.Pid {
		t.Errorf("Open while pid %d holds the log = %v, want an InUseError naming it", cmd.Process.Pid, err)
	} else if want := fmt.Sprintf("audit log %s is in use by pid %d", path, cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("Open error %q, want %q", err, want)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	defer l.Close()
	if l.seq != 3 {
		t.Errorf("Open continues at seq %d, want 3 (the helper's record)", l.seq)
	}
}

// TestSpecialFilesFinding7: FIFOs, devices and directories are refused at
// once, never read.
func TestSpecialFilesFinding7(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(path string) error{
		"Open":       func(p string) error { _, err := Open(p); return err },
		"Read":       func(p string) error { _, err := Read(p); return err },
		"VerifyFile": func(p string) error { _, err := VerifyFile(p); return err },
		"Repair":     func(p string) error { _, err := Repair(t.Context(), p); return err },
	}
	for name, op := range ops {
		for _, path := range []string{fifo, "/dev/zero", "/dev/null", t.TempDir()} {
			t.Run(name+" "+path, func(t *testing.T) {
				if err := within(t, 5*time.Second, func() error { return op(path) }); err == nil || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("%s(%s) = %v, want a not-a-regular-file error", name, path, err)
				}
			})
		}
	}
}

// TestHugeLineFinding7: a file without newlines is refused after MaxLine
// bytes, not read into memory whole. It reads 64 MiB (about 10 s under
// -race), so it skips under -short.
func TestHugeLineFinding7(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB")
	}
	huge := filepath.Join(t.TempDir(), "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxLine + 10); err != nil { // sparse: zeros, no newline
		t.Fatal(err)
	}
	f.Close()
	err = within(t, 60*time.Second, func() error { _, err := VerifyFile(huge); return err })
	if ce, ok := errors.AsType[*ChainError](err); !ok || ce.Line != 1 || !strings.Contains(ce.Reason, "longer than") {
		t.Errorf("VerifyFile of a huge line = %v, want a chain error at line 1 about its length", err)
	}
}

// within runs f, failing the test if it has not returned after d.
func within(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("did not return within %v", d)
		return nil
	}
}
