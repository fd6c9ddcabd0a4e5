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
	"testing"
	"time"

	"github.com/pycore/pycore/internal/pytest"
)

// fullPipe is a pipe filled to capacity before pycore gets its write end:
// pycore's first write to it blocks until the test reads.
type fullPipe struct {
	r, w   *os.File
	filled int
}

func newFullPipe(t *testing.T) *fullPipe {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// The write deadline ends the write once the pipe is full.
	if err := w.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, _ := w.Write(make([]byte, 1<<20))
	if n == 0 || n == 1<<20 {
		t.Fatalf("filling a pipe: wrote %d bytes", n)
	}
	if err := w.SetWriteDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	return &fullPipe{r: r, w: w, filled: n}
}

// blockedWriting reports whether some thread of pid is in write(2) on fd 1.
func blockedWriting(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(data), "1 0x1 ") {
			return true
		}
	}
	return false
}

// procState is the state letter of /proc/PID/stat ('t' when stopped by a tracer).
func procState(t *testing.T, pid int) byte {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return s[i+2]
}

// runBlockedOutput runs pycore with its stdout a full pipe and, once pycore
// is blocked writing its output, checks that the process it read is running
// and untraced. It returns what pycore wrote.
func runBlockedOutput(t *testing.T, ctx context.Context, target int, stdin string, args ...string) string {
	t.Helper()
	p := newFullPipe(t)
	defer p.r.Close()
	cmd := exec.CommandContext(ctx, pycoreBin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = p.w, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var waitErr error
	done := false
	for !blockedWriting(cmd.Process.Pid) {
		select {
		case waitErr = <-exited:
			done = true
		case <-time.After(5 * time.Millisecond):
		}
		if done || ctx.Err() != nil {
			break
		}
	}
	if done {
		t.Errorf("pycore %v ended before its output was taken (%v): %s", args, waitErr, stderr.String())
	} else if st, tp := procState(t, target), tracerPID(t, target); st == 't' || st == 'T' || tp != 0 {
		t.Errorf("pycore %v: while it writes its output the process is in state %c, traced by %d: want it running, untraced", args, st, tp)
	}
	out, err := io.ReadAll(p.r)
	if err != nil {
		t.Fatal(err)
	}
	if !done {
		waitErr = <-exited
	}
	if waitErr != nil {
		t.Errorf("pycore %v: %v\n%s", args, waitErr, stderr.String())
	}
	return string(out[p.filled:])
}

// TestLiveOutputAfterResume: every command that reads a stopped process lets
// it run on before writing its output, so that a reader slow to take the
// output (here a full pipe) never keeps it stopped; and every JSON answer
// says how long it was stopped.
func TestLiveOutputAfterResume(t *testing.T) {
	interps := interpreters(t)
	if !pytest.Full() {
		interps = interps[:1] // the commands are the same on every version
	}
	for _, interp := range interps {
		t.Run(interp.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			lp := startLive(t, ctx, interp)
			pid := lp.cmd.Process.Pid
			ps := fmt.Sprint(pid)
			cmds := [][]string{
				{"threads"},
				{"threads", "--native"},
				{"tasks"},
				{"heap", "--top", "3"},
				{"heap", "--summary"},
				{"heap", "--type", "dict", "--limit", "2"},
				{"eval", "sizeof(int)", "tstate"},
				{"ptype", "PyObject"},
				{"rd", "&_PyRuntime", "4"},
				{"sym", "PyList_New"},
				{"maps"},
			}
			var dictAddr string
			for _, c := range cmds {
				// What the version cannot give (asyncio tasks before 3.8, the
				// heap of a free-threaded build) fails, with the process
				// resumed: TestLiveBadTargets and lp.finish see to that.
				if (c[0] == "tasks" && !interp.AtLeast(3, 8)) || (c[0] == "heap" && interp.FreeThreaded()) {
					continue
				}
				for _, asJSON := range []bool{false, true} {
					args := append(append([]string{}, c...), "--pid", ps)
					if asJSON {
						args = append(args, "--json")
					}
					out := runBlockedOutput(t, ctx, pid, "", args...)
					if !asJSON {
						if strings.TrimSpace(out) == "" {
							t.Errorf("pycore %v printed nothing", args)
						}
						continue
					}
					checkLiveJSON(t, args, out, pid)
					if c[0] == "heap" && len(c) > 1 && c[1] == "--type" {
						var h struct {
							Instances []struct{ Address string }
						}
						if json.Unmarshal([]byte(out), &h) == nil && len(h.Instances) > 0 {
							dictAddr = h.Instances[0].Address
						}
					}
				}
			}
			if dictAddr == "" && !interp.FreeThreaded() {
				t.Error("heap --type dict found no dict")
			} else if dictAddr != "" {
				out := runBlockedOutput(t, ctx, pid, "", "refs", "--pid", ps, dictAddr, "--json")
				checkLiveJSON(t, []string{"refs"}, out, pid)
			}
			// eval --json-lines: each line has the pause.
			out := runBlockedOutput(t, ctx, pid, "", "eval", "--pid", ps, "--json-lines", "sizeof(int)", "sizeof(long)")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 {
				t.Errorf("eval --json-lines printed %d lines, want 2:\n%s", len(lines), out)
			}
			for _, l := range lines {
				checkLiveJSON(t, []string{"eval", "--json-lines"}, l, pid)
			}
			// The shell copies the memory and resumes the process at once.
			out = runBlockedOutput(t, ctx, pid, "threads --json\n", "shell", "--pid", ps)
			checkLiveJSON(t, []string{"shell: threads --json"}, out, pid)
			lp.finish(t)
		})
	}
}

// checkLiveJSON checks that each JSON value in out (an object or an array
// of objects) says the process pid was read stopped, and for how long.
func checkLiveJSON(t *testing.T, args []string, out string, pid int) {
	t.Helper()
	type live struct {
		PID         int      `json:"pid"`
		NonBlocking bool     `json:"nonblocking"`
		PausedMS    *float64 `json:"paused_ms"`
	}
	type withLive struct {
		Live *live `json:"live"`
	}
	var objs []withLive
	dec := json.NewDecoder(strings.NewReader(out))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		t.Errorf("pycore %v: not JSON: %v\n%s", args, err, out)
		return
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if err := json.Unmarshal(raw, &objs); err != nil {
			t.Errorf("pycore %v: %v", args, err)
		}
	} else {
		var o withLive
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Errorf("pycore %v: %v", args, err)
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		t.Errorf("pycore %v: empty answer", args)
	}
	for _, o := range objs {
		if o.Live == nil || o.Live.PID != pid || o.Live.NonBlocking || o.Live.PausedMS == nil || *o.Live.PausedMS <= 0 {
			t.Errorf("pycore %v: live = %+v, want pid %d, stopped, paused_ms > 0", args, o.Live, pid)
		}
	}
}
