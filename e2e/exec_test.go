package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pycore/pycore/internal/pytest"
)

// execProc is a running e2e/testdata/exec_target.py.
type execProc struct {
	cmd            *exec.Cmd
	dir            string
	pid            string
	main, worker   int // native thread ids, as the process recorded them
	stdout, stderr *bytes.Buffer
	exited         chan struct{} // closed when the process has exited
	waitErr        error
}

// execScript writes the script pycore exec sends: it records, from inside
// the target, which process and thread ran it.
const execScript = `import json, os, threading
from concurrent import interpreters
d = {"pid": os.getpid(), "thread": threading.current_thread().name, "native_id": threading.get_native_id(),
     "interpreter": interpreters.get_current().id}
tmp = os.path.join(%q, "ran.tmp")
with open(tmp, "w") as f:
    json.dump(d, f)
os.replace(tmp, os.path.join(%q, "ran.json"))
`

// startExecTarget runs exec_target.py in a directory of its own (also its
// working directory, holding x.py: a relative path that pycore must refuse
// would name it) and waits, bounded, until both its loops run.
func startExecTarget(t *testing.T, ctx context.Context, interp pytest.Interpreter, env []string, pyArgs ...string) *execProc {
	return startExecTargetWith(t, ctx, interp, env, pyArgs, nil)
}

// startExecTargetWith also passes targetArgs to exec_target.py.
func startExecTargetWith(t *testing.T, ctx context.Context, interp pytest.Interpreter, env, pyArgs, targetArgs []string) *execProc {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "exec_target.py"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "exec_target.py"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	writeExecScript(t, dir, filepath.Join(dir, "x.py"))
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PYTHON_DISABLE_REMOTE_DEBUG=") {
			base = append(base, kv)
		}
	}
	ep := &execProc{dir: dir, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	ep.cmd = interp.Command(ctx, append(base, env...), append(append(pyArgs, filepath.Join(dir, "exec_target.py"), dir), targetArgs...)...)
	ep.cmd.Dir = dir
	ep.cmd.Stdout, ep.cmd.Stderr = ep.stdout, ep.stderr
	if err := ep.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { ep.waitErr = ep.cmd.Wait(); close(ep.exited) }()
	t.Cleanup(func() {
		select {
		case <-ep.exited:
		default:
			_ = ep.cmd.Process.Kill()
			<-ep.exited
		}
	})
	ep.pid = fmt.Sprint(ep.cmd.Process.Pid)
	for {
		data, err := os.ReadFile(filepath.Join(dir, "ready.json"))
		if err == nil {
			var r struct{ Main, Worker int }
			if err := json.Unmarshal(data, &r); err != nil || r.Main == 0 || r.Worker == 0 {
				t.Fatalf("ready.json %q: %v", data, err)
			}
			ep.main, ep.worker = r.Main, r.Worker
			return ep
		}
		select {
		case <-ep.exited:
			t.Fatalf("exec_target.py exited before it was ready: %v\n%s", ep.waitErr, ep.stderr.String())
		case <-ctx.Done():
			t.Fatalf("exec_target.py did not start: %v\n%s", ctx.Err(), ep.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pathOfLen is a path of n bytes under dir ending in .py, made of
// directories of at most 255 bytes a name (the file system's limit).
func pathOfLen(t *testing.T, dir string, n int) string {
	t.Helper()
	p := dir
	for len(p)+1+255+len("/s.py") < n {
		p = filepath.Join(p, strings.Repeat("d", 255))
	}
	p = filepath.Join(p, strings.Repeat("s", n-len(p)-1-len(".py"))+".py")
	if len(p) != n {
		t.Fatalf("made a path of %d bytes, want %d", len(p), n)
	}
	return p
}

func writeExecScript(t *testing.T, dir, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fmt.Appendf(nil, execScript, dir, dir), 0o644); err != nil {
		t.Fatal(err)
	}
}

// end waits (bounded by ctx) for the process to exit 0 and returns what it
// printed.
func (ep *execProc) end(t *testing.T) string {
	t.Helper()
	<-ep.exited // bounded: the test's context kills the process
	if ep.waitErr != nil {
		t.Fatalf("exec_target.py: %v\nstdout: %s\nstderr: %s", ep.waitErr, ep.stdout.String(), ep.stderr.String())
	}
	return strings.TrimSpace(ep.stdout.String())
}

// stop asks the process to end without a script having run.
func (ep *execProc) stop(t *testing.T) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(ep.dir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return ep.end(t)
}

// ran is what the injected script recorded, from inside the process.
type ran struct {
	PID         int
	Thread      string
	NativeID    int `json:"native_id"`
	Interpreter int
}

func (ep *execProc) ran(t *testing.T) ran {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(ep.dir, "ran.json"))
	if err != nil {
		t.Fatalf("the script left no record: %v\nstderr: %s", err, ep.stderr.String())
	}
	var r ran
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("ran.json %q: %v", data, err)
	}
	return r
}

// execInterpreters are every interpreter found of at least (or, with
// below, under) 3.14, release builds; below 3.14 only the newest pyenv
// build unless PYCORE_FULL.
func execInterpreters(t *testing.T, below bool) []pytest.Interpreter {
	t.Helper()
	all, err := pytest.Discover()
	if err != nil {
		t.Fatal(err)
	}
	var out []pytest.Interpreter
	for _, i := range all {
		if i.AtLeast(3, 14) != below && i.AtLeast(3, 6) && (i.ABIFlags == "" || pytest.Full()) {
			out = append(out, i)
		}
	}
	if below && !pytest.Full() {
		out = pytest.Select(out)[:min(1, len(pytest.Select(out)))]
	}
	if len(out) == 0 {
		t.Skipf("no interpreter for this test (below 3.14: %v)", below)
	}
	return out
}

// pendingState reads the main thread's remote-debugger fields with pycore
// eval, without stopping the process.
func pendingState(t *testing.T, ctx context.Context, pid string) (pending int, path string, breaker uint64) {
	t.Helper()
	out, errOut, err := runPycoreCtx(ctx, "eval", "--json", "--nonblocking", "--pid", pid,
		"interp.threads.main.remote_debugger_support.debugger_pending_call",
		"string(interp.threads.main.remote_debugger_support.debugger_script_path)",
		"interp.threads.main.eval_breaker")
	if err != nil {
		t.Fatalf("pycore eval: %v\n%s", err, errOut)
	}
	var vals []json.RawMessage
	var doc []struct{ Value json.RawMessage }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("pycore eval --json: %v\n%s", err, out)
	}
	for _, d := range doc {
		vals = append(vals, d.Value)
	}
	if len(vals) != 3 || json.Unmarshal(vals[0], &pending) != nil || json.Unmarshal(vals[1], &path) != nil || json.Unmarshal(vals[2], &breaker) != nil {
		t.Fatalf("pycore eval --json printed %s", out)
	}
	return pending, path, breaker
}

// refuse runs pycore exec and wants it to fail with one line containing want.
func refuse(t *testing.T, ctx context.Context, want string, args ...string) {
	t.Helper()
	out, errOut, err := runPycoreCtx(ctx, append([]string{"exec"}, args...)...)
	if err == nil {
		t.Errorf("pycore exec %v succeeded: %s", args, out)
		return
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("pycore exec %v: %v, want exit status 1", args, err)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.Contains(lines[0], "nothing was written") {
		t.Errorf("pycore exec %v said %q, want one line with %q and that nothing was written", args, errOut, want)
	}
}

// TestExecRunsScriptInProcess: pycore exec makes a running 3.14+ process
// run a script, in its main thread or in the thread --tid names, with the
// longest path CPython's buffer holds; the script's own record says which
// process, interpreter and thread ran it (the main interpreter also when a
// subinterpreter heads the runtime's list), and the process goes on and
// exits 0.
func TestExecRunsScriptInProcess(t *testing.T) {
	for _, interp := range execInterpreters(t, false) {
		t.Run(interp.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			for _, c := range []struct {
				name    string
				tid     bool
				pathLen int // 0: a short path
				sub     bool
			}{{"main", false, 0, false}, {"tid", true, 0, false}, {"longest path", false, 511, false}, {"with a subinterpreter", false, 0, true}} {
				var targetArgs []string
				if c.sub {
					targetArgs = []string{"sub"}
				}
				ep := startExecTargetWith(t, ctx, interp, nil, nil, targetArgs)
				script := filepath.Join(ep.dir, "s.py")
				if c.pathLen > 0 {
					script = pathOfLen(t, ep.dir, c.pathLen)
				}
				writeExecScript(t, ep.dir, script)
				args := []string{"exec", "--wait", "--timeout", "60s", ep.pid, script}
				wantTID, wantThread := ep.main, "MainThread"
				if c.tid {
					args = append(args, "--tid", fmt.Sprint(ep.worker))
					wantTID, wantThread = ep.worker, "worker"
				}
				out, errOut, err := runPycoreCtx(ctx, args...)
				if err != nil {
					t.Fatalf("%s: pycore %v: %v\n%s", c.name, args, err, errOut)
				}
				if want := fmt.Sprintf("thread %d", wantTID); !strings.Contains(out, want) || !strings.Contains(out, " took ") {
					t.Errorf("%s: pycore exec printed %q, want it to say %s took the script", c.name, out, want)
				}
				if got := ep.end(t); !strings.HasPrefix(got, "ended ran=True") {
					t.Errorf("%s: exec_target.py printed %q", c.name, got)
				}
				r := ep.ran(t)
				if r.PID != ep.cmd.Process.Pid || r.Thread != wantThread || r.NativeID != wantTID || r.Interpreter != 0 {
					t.Errorf("%s: the script ran in pid %d, thread %q (%d), interpreter %d; want pid %d, %s (%d), interpreter 0", c.name, r.PID, r.Thread, r.NativeID, r.Interpreter, ep.cmd.Process.Pid, wantThread, wantTID)
				}
				if strings.Contains(ep.stderr.String(), "debugger script") {
					t.Errorf("%s: the process reported a problem with the script:\n%s", c.name, ep.stderr.String())
				}
			}
		})
	}
}

// TestExecRefusals: pycore exec refuses, in one line and writing nothing,
// a relative path, a path one byte too long for CPython's buffer, a thread
// that does not exist, and processes with remote debugging disabled by
// PYTHON_DISABLE_REMOTE_DEBUG or -X disable-remote-debug. Nothing written
// is checked twice: the main thread's fields read back clear, and after a
// signal, whose handling runs any pending remote script, none has run.
func TestExecRefusals(t *testing.T) {
	for _, interp := range execInterpreters(t, false) {
		t.Run(interp.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			checkClear := func(ep *execProc, what string) {
				t.Helper()
				if pending, path, breaker := pendingState(t, ctx, ep.pid); pending != 0 || path != "" || breaker&(1<<5) != 0 {
					t.Errorf("%s: after the refusals debugger_pending_call = %d, debugger_script_path = %q, eval_breaker = %#x: want 0, \"\" and bit 5 clear", what, pending, path, breaker)
				}
			}

			ep := startExecTarget(t, ctx, interp, nil)
			tooLong := pathOfLen(t, ep.dir, 512)
			writeExecScript(t, ep.dir, tooLong)
			refuse(t, ctx, "is not an absolute path", ep.pid, "x.py")
			refuse(t, ctx, "script path is 512 bytes long", ep.pid, tooLong)
			refuse(t, ctx, "no such file", ep.pid, filepath.Join(ep.dir, "absent.py"))
			refuse(t, ctx, "no Python thread has native id 999999999", "--tid", "999999999", ep.pid, filepath.Join(ep.dir, "x.py"))
			checkClear(ep, "enabled")
			if err := ep.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			// Once the handler has run, the same check runs any pending
			// remote script before the loop goes on to see the stop file.
			for readIfExists(filepath.Join(ep.dir, "signalled")) == "" {
				if ctx.Err() != nil {
					t.Fatalf("the process did not handle SIGUSR1: %v", ctx.Err())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := ep.stop(t); got != "ended ran=False signals=1" {
				t.Errorf("enabled: exec_target.py printed %q, want no script run and the signal handled", got)
			}
			if strings.Contains(ep.stderr.String(), "debugger script") {
				t.Errorf("enabled: the process tried to run a script:\n%s", ep.stderr.String())
			}

			for _, c := range []struct {
				name, want string
				env, args  []string
			}{
				{"PYTHON_DISABLE_REMOTE_DEBUG", "PYTHON_DISABLE_REMOTE_DEBUG is set in its environment", []string{"PYTHON_DISABLE_REMOTE_DEBUG=1"}, nil},
				{"-X disable-remote-debug", "it was started with -X disable-remote-debug", nil, []string{"-X", "disable-remote-debug"}},
			} {
				ep := startExecTarget(t, ctx, interp, c.env, c.args...)
				refuse(t, ctx, "remote debugging is disabled in the process: "+c.want, ep.pid, filepath.Join(ep.dir, "x.py"))
				checkClear(ep, c.name)
				if got := ep.stop(t); got != "ended ran=False signals=0" {
					t.Errorf("%s: exec_target.py printed %q", c.name, got)
				}
			}
		})
	}
}

func readIfExists(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// TestExecRefusesBefore314: on older interpreters pycore exec names the
// version and that PEP 768 needs 3.14, and the process runs on unharmed.
func TestExecRefusesBefore314(t *testing.T) {
	for _, interp := range execInterpreters(t, true) {
		t.Run(interp.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			ep := startExecTarget(t, ctx, interp, nil)
			refuse(t, ctx, "the process runs CPython "+interp.Version+": running a script in it needs CPython 3.14 or newer (PEP 768", ep.pid, filepath.Join(ep.dir, "x.py"))
			if got := ep.stop(t); got != "ended ran=False signals=0" {
				t.Errorf("exec_target.py printed %q", got)
			}
		})
	}
}
