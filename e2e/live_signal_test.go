package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigTarget is a Python process with about 200 MiB of written memory, so
// that copying it (shell, gcore) takes long enough to be interrupted.
const bigTarget = `
import signal, sys, time
go = []
signal.signal(signal.SIGUSR1, lambda *a: go.append(1))
big = [b"x" * (1 << 20) for _ in range(200)]
print("ready", flush=True)
deadline = time.time() + 120
while not go and time.time() < deadline:
    time.sleep(0.01)
print("result", sum(len(b) for b in big), flush=True)
`

type bigProc struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr bytes.Buffer
}

func startBig(t *testing.T, ctx context.Context) *bigProc {
	t.Helper()
	bp := &bigProc{}
	bp.cmd = interpreters(t)[0].Command(ctx, nil, "-c", bigTarget)
	stdout, err := bp.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	bp.cmd.Stderr = &bp.stderr
	if err := bp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if bp.cmd.ProcessState == nil {
			_ = bp.cmd.Process.Kill()
			_ = bp.cmd.Wait()
		}
	})
	bp.out = bufio.NewReader(stdout)
	if line, err := bp.out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("target did not start: %q %v\n%s", line, err, bp.stderr.String())
	}
	return bp
}

// finish checks the process runs untraced, computes its result and exits 0.
func (bp *bigProc) finish(t *testing.T) {
	t.Helper()
	pid := bp.cmd.Process.Pid
	if st, tp := procState(t, pid), tracerPID(t, pid); st == 't' || st == 'T' || tp != 0 {
		t.Errorf("after pycore: state %c, traced by %d; want running, untraced", st, tp)
	}
	if err := bp.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	line, _ := bp.out.ReadString('\n')
	if err := bp.cmd.Wait(); err != nil || !strings.HasPrefix(line, "result ") {
		t.Errorf("target after pycore: %v, printed %q\n%s", err, line, bp.stderr.String())
	}
}

// interruptMidRead runs pycore on target and sends it sig while it has the
// target stopped: pycore is frozen (SIGSTOP) as soon as it traces the
// target, the signal is queued, and pycore continued. A run that ends
// before it is caught tracing is retried. It returns pycore's stderr and
// its exit error.
func interruptMidRead(t *testing.T, ctx context.Context, target int, sig syscall.Signal, args ...string) (string, error) {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		cmd := exec.CommandContext(ctx, pycoreBin, args...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		pid := cmd.Process.Pid
		caught := false
		var err error
		ended := false
	poll:
		for ctx.Err() == nil {
			select {
			case err = <-exited:
				ended = true
				break poll
			default:
			}
			if tracedBy(t, target, pid) {
				_ = syscall.Kill(pid, syscall.SIGSTOP)
				for procState(t, pid) != 'T' && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				caught = tracedBy(t, target, pid)
				if caught {
					_ = syscall.Kill(pid, sig)
				}
				_ = syscall.Kill(pid, syscall.SIGCONT)
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		if !ended {
			err = <-exited
		}
		if caught {
			return stderr.String(), err
		}
		t.Logf("attempt %d: pycore %v ended (%v) before it was caught tracing: %s", attempt, args, err, stderr.String())
	}
	t.Fatalf("pycore %v was never caught with the process stopped", args)
	return "", nil
}

// tracedBy reports whether a thread of process pid traces target (the
// tracer is the thread that seized it, not always pycore's main thread).
func tracedBy(t *testing.T, target, pid int) bool {
	tp := tracerPID(t, target)
	if tp == 0 {
		return false
	}
	_, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d", pid, tp))
	return err == nil
}

// TestLiveInterrupted: SIGTERM or SIGINT (Ctrl-C) reaching pycore while it
// has a process stopped leaves that process running and untraced, on every
// way pycore stops one: held for a command (threads, heap, eval, ...),
// copied (the shell), copied for a core (gcore); and a read without
// stopping it leaves it as it was.
func TestLiveInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cases := []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		{"held SIGTERM", syscall.SIGTERM, []string{"heap", "--pid"}},
		{"held eval SIGTERM", syscall.SIGTERM, []string{"eval", "--pid"}},
		{"held heap SIGINT", syscall.SIGINT, []string{"heap", "--pid"}},
		{"held SIGINT", syscall.SIGINT, []string{"eval", "--pid"}},
		{"copied (shell)", syscall.SIGTERM, []string{"shell", "--pid"}},
		{"gcore", syscall.SIGTERM, []string{"gcore", "-o", filepath.Join(dir, "core")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bp := startBig(t, ctx)
			pid := fmt.Sprint(bp.cmd.Process.Pid)
			args := append(append([]string{}, c.args...), pid)
			if c.args[0] == "eval" {
				args = append(args, "sizeof(int)")
			}
			stderr, err := interruptMidRead(t, ctx, bp.cmd.Process.Pid, c.sig, args...)
			if err == nil {
				t.Errorf("pycore %v succeeded after %v", args, c.sig)
			}
			if !strings.Contains(stderr, "interrupted") || !strings.Contains(stderr, "left running") {
				t.Errorf("pycore %v after %v said %q, want that it was interrupted and left the process running", args, c.sig, stderr)
			}
			if c.args[0] == "gcore" {
				left, _ := filepath.Glob(filepath.Join(dir, "*"))
				left2, _ := filepath.Glob(filepath.Join(dir, ".*"))
				if len(left)+len(left2) > 0 {
					t.Errorf("gcore interrupted left %v %v", left, left2)
				}
			}
			bp.finish(t)
		})
	}
	t.Run("nonblocking", func(t *testing.T) {
		bp := startBig(t, ctx)
		cmd := exec.CommandContext(ctx, pycoreBin, "heap", "--nonblocking", "--pid", fmt.Sprint(bp.cmd.Process.Pid))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		bp.finish(t)
	})
}
