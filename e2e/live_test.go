package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// liveProc is a running e2e/testdata/live.py, parked with its oracle written.
type liveProc struct {
	cmd    *exec.Cmd
	oracle *pytest.Oracle
	stdout *bytes.Buffer
	stderr *bytes.Buffer
}

// startLive runs live.py under interp and waits (bounded) until it is parked.
func startLive(t *testing.T, ctx context.Context, interp pytest.Interpreter) *liveProc {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct{ from, to string }{
		{filepath.Join("testdata", "live.py"), "live.py"},
		{filepath.Join(pytest.ScenarioDir(), "pycore_oracle.py"), "pycore_oracle.py"},
	} {
		data, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.to), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oraclePath := filepath.Join(dir, "oracle.json")
	lp := &liveProc{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	lp.cmd = interp.Command(ctx, nil, filepath.Join(dir, "live.py"), oraclePath)
	lp.cmd.Stdout, lp.cmd.Stderr = lp.stdout, lp.stderr
	if err := lp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if lp.cmd.ProcessState == nil {
			_ = lp.cmd.Process.Kill()
			_ = lp.cmd.Wait()
		}
	})
	for {
		if _, err := os.Stat(oraclePath + ".ready"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("live.py did not park: %v\n%s", ctx.Err(), lp.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	o, err := pytest.ReadOracle(oraclePath)
	if err != nil {
		t.Fatal(err)
	}
	lp.oracle = o
	return lp
}

// finish lets the process go on and checks it computes its result and
// exits 0, untraced.
func (lp *liveProc) finish(t *testing.T) {
	t.Helper()
	if tp := tracerPID(t, lp.cmd.Process.Pid); tp != 0 {
		t.Errorf("after pycore: TracerPid is %d, want 0", tp)
	}
	if err := lp.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if err := lp.cmd.Wait(); err != nil {
		t.Fatalf("live.py after the read: %v\n%s", err, lp.stderr.String())
	}
	if !strings.HasPrefix(lp.stdout.String(), "result ") {
		t.Errorf("live.py printed %q, want its result", lp.stdout.String())
	}
}

func tracerPID(t *testing.T, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			var n int
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	return -1
}

// runPycoreCtx runs pycore bounded by ctx and returns stdout, stderr and the error.
func runPycoreCtx(ctx context.Context, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, pycoreBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func liveSnapshot(t *testing.T, ctx context.Context, args ...string) *render.Snapshot {
	t.Helper()
	out, errOut, err := runPycoreCtx(ctx, append([]string{"threads", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("pycore threads %v: %v\n%s", args, err, errOut)
	}
	var snap render.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("pycore threads --json: %v\n%s", err, out)
	}
	return &snap
}

// TestLiveThreadsMatchOracle reads a running process of every selected
// interpreter, stopped and then without stopping it, compares the stacks with
// what the process recorded itself, and checks it runs on and exits 0.
func TestLiveThreadsMatchOracle(t *testing.T) {
	for _, interp := range interpreters(t) {
		t.Run(interp.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			lp := startLive(t, ctx, interp)
			pid := fmt.Sprint(lp.cmd.Process.Pid)

			snap := liveSnapshot(t, ctx, "--pid", pid)
			for _, e := range compare(lp.oracle, snap, interp) {
				t.Error("stopped: " + e)
			}
			if snap.Live == nil || snap.Live.PID != lp.cmd.Process.Pid || snap.Live.NonBlocking {
				t.Errorf("stopped: live = %+v, want pid %s, not nonblocking", snap.Live, pid)
			}
			if snap.Signal != nil {
				t.Errorf("stopped: a live process has no signal, pycore says %+v", snap.Signal)
			}

			stopped := snap
			// Without ptrace there are no registers (fs_base) to match thread
			// states to LWPs by before 3.11: the LWP comes from glibc's
			// struct pthread, checked against /proc/PID/task.
			snap = liveSnapshot(t, ctx, "-p", pid, "--nonblocking")
			for _, e := range compare(lp.oracle, snap, interp) {
				t.Error("nonblocking: " + e)
			}
			if snap.Live == nil || !snap.Live.NonBlocking {
				t.Errorf("nonblocking: live = %+v", snap.Live)
			}
			if a, b := threadTable(stopped), threadTable(snap); a != b {
				t.Errorf("the thread table differs:\nstopped:\n%s\nnonblocking:\n%s", a, b)
			}
			lp.finish(t)
		})
	}
}

// threadTable is each thread's identity as the table shows it, one a line.
func threadTable(s *render.Snapshot) string {
	var b strings.Builder
	for _, t := range s.Threads {
		fmt.Fprintf(&b, "thread_id=%#x lwp=%v main=%v name=%s\n", t.ThreadID, ptrVal(t.LWP), t.Main, optName(t.Name))
	}
	return b.String()
}

// TestLiveBadTargets: each target pycore cannot read gives one line saying
// why, and a Python process traced by someone else or read by another user
// is left as it was.
func TestLiveBadTargets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	check := func(name string, want string, args ...string) {
		t.Helper()
		out, errOut, err := runPycoreCtx(ctx, args...)
		if err == nil {
			t.Errorf("%s: pycore %v succeeded:\n%s", name, args, out)
			return
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], want) {
			t.Errorf("%s: pycore %v said %q, want one line with %q", name, args, errOut, want)
		}
	}
	check("pid 0", "not a process id", "threads", "--pid", "0")
	check("no such process", "no such process", "threads", "--pid", "999999999")
	// PID 1 (init, or a container's first process): never Python here, and
	// whatever the reason given it must be one line and leave it untraced.
	check("pid 1", "pid 1: ", "threads", "--pid", "1")
	if tp := tracerPID(t, 1); tp != 0 {
		t.Errorf("pid 1 is traced by %d after pycore read it", tp)
	}
	check("--nonblocking alone", "--pid", "threads", "--nonblocking", "x")
	// report and pack read files: report took --pid and read the process
	// in place of each core it was given.
	check("report --pid", "unknown flag: --pid", "report", "--pid", "1", t.TempDir())
	check("pack --pid", "unknown flag: --pid", "pack", "--pid", "1", "-o", filepath.Join(t.TempDir(), "b"))

	sleep := exec.CommandContext(ctx, "sleep", "120")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	check("sleep", "is not a Python process", "threads", "-p", fmt.Sprint(sleep.Process.Pid))

	all := interpreters(t)
	lp := startLive(t, ctx, all[0])
	pid := fmt.Sprint(lp.cmd.Process.Pid)

	// Another user, without CAP_SYS_PTRACE.
	if _, err := exec.LookPath("setpriv"); err == nil && os.Geteuid() == 0 {
		if err := os.Chmod(filepath.Dir(pycoreBin), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", pycoreBin, "threads", "--pid", pid)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if line := strings.TrimSpace(stderr.String()); err == nil || strings.Contains(line, "\n") || !strings.Contains(line, "belongs to uid 0") {
			t.Errorf("other uid: pycore said %q (%v), want one line saying the process belongs to uid 0", line, err)
		}
		_ = os.Chmod(filepath.Dir(pycoreBin), 0o700)
	}

	// Already traced: gdb attached and waiting.
	if gdb, err := exec.LookPath("gdb"); err == nil {
		g := exec.CommandContext(ctx, gdb, "-nx", "-batch", "-p", pid, "-ex", "shell sleep 60")
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		for tracerPID(t, lp.cmd.Process.Pid) == 0 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		check("traced by gdb", "already traced by process", "threads", "--pid", pid)
		// --nonblocking needs no ptrace: it reads even a traced process.
		if _, errOut, err := runPycoreCtx(ctx, "threads", "--nonblocking", "--pid", pid); err != nil {
			t.Errorf("--nonblocking on a traced process: %v\n%s", err, errOut)
		}
		_ = g.Process.Kill()
		_ = g.Wait()
		for tracerPID(t, lp.cmd.Process.Pid) != 0 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	lp.finish(t)
}

// TestLiveStress reads a process whose threads mutate lists and dicts without
// pause, again and again, stopped and with --nonblocking: every run ends
// (bounded by a timeout, not timed), none panics, every stopped read
// succeeds, and the process runs on untraced.
func TestLiveStress(t *testing.T) {
	n := 15
	if pytest.Full() {
		n = 100
	}
	for _, interp := range interpreters(t) {
		t.Run(interp.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := interp.Command(ctx, nil, filepath.Join("testdata", "churn.py"))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			line := make([]byte, 6)
			if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
				t.Fatalf("churn.py did not start: %q %v\n%s", line, err, stderr.String())
			}
			pid := fmt.Sprint(cmd.Process.Pid)
			failed := 0
			for i := 0; i < 2*n; i++ {
				args := []string{"threads", "--json", "--locals", "--pid", pid}
				nonblocking := i%2 == 1
				if nonblocking {
					args = append(args, "--nonblocking")
				}
				runCtx, runCancel := context.WithTimeout(ctx, time.Minute)
				_, errOut, err := runPycoreCtx(runCtx, args...)
				timedOut := runCtx.Err() != nil
				runCancel()
				switch {
				case timedOut:
					t.Fatalf("run %d (nonblocking=%v) did not end within a minute", i, nonblocking)
				case err == nil:
				case strings.Contains(errOut, "internal error"):
					t.Fatalf("run %d (nonblocking=%v) panicked:\n%s", i, nonblocking, errOut)
				case !nonblocking:
					t.Errorf("run %d, stopped: %v\n%s", i, err, errOut)
				default:
					// A torn read may fail, with one line saying why.
					failed++
					if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 {
						t.Errorf("run %d, nonblocking: %d lines of error:\n%s", i, len(lines), errOut)
					}
				}
			}
			t.Logf("%d of %d nonblocking reads failed cleanly", failed, n)
			if tp := tracerPID(t, cmd.Process.Pid); tp != 0 {
				t.Errorf("TracerPid is %d after the reads, want 0", tp)
			}
			fmt.Fprintln(stdin, "stop")
			rest, _ := io.ReadAll(stdout)
			if err := cmd.Wait(); err != nil || string(rest) != "done\n" {
				t.Errorf("churn.py after the reads: %v, printed %q\n%s", err, rest, stderr.String())
			}
		})
	}
}
