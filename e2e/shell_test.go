package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// term is a program running in a pseudo-terminal, as a person would use it.
type term struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  bytes.Buffer // everything the program wrote, escape sequences removed
	seen int          // how much of buf expect has consumed
	done chan struct{}
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

func startTerm(t *testing.T, env []string, args ...string) *term {
	t.Helper()
	cmd := exec.Command(pycoreBin, args...)
	cmd.Env = append(os.Environ(), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatalf("starting pycore in a pty: %v", err)
	}
	tm := &term{t: t, f: f, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			tm.mu.Lock()
			tm.buf.WriteString(ansiEscape.ReplaceAllString(string(b[:n]), ""))
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	return tm
}

// send types s.
func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.f.Write([]byte(s)); err != nil {
		tm.t.Fatalf("writing %q to the pty: %v", s, err)
	}
}

// expect waits for text to appear after what earlier expects consumed.
func (tm *term) expect(text string) {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tm.mu.Lock()
		out := tm.buf.String()
		i := strings.Index(out[tm.seen:], text)
		if i >= 0 {
			tm.seen += i + len(text)
			tm.mu.Unlock()
			return
		}
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			tm.t.Fatalf("waited 30 s for %q; the terminal shows after the last match:\n%s", text, out[tm.seen:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShellInATerminal drives pycore shell through a pseudo-terminal over the
// sample bundle: expressions, commands, errors with a caret, completion of
// members with Tab, history with the up arrow, and quitting.
func TestShellInATerminal(t *testing.T) {
	data, err := os.ReadFile("../testdata/sample/sample.oracle.json")
	if err != nil {
		t.Fatal(err)
	}
	var o sampleOracle
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	history := filepath.Join(t.TempDir(), "history")
	tm := startTerm(t, []string{"PYCORE_HISTORY=" + history, "PYCORE_CORE="}, "shell", "--debug-dir", t.TempDir(), sampleBundle)
	tm.expect("pycore shell: ")
	tm.expect("Python " + o.Version)
	tm.expect("pycore> ")

	// A bare expression: the crashed thread's state.
	tm.send("tstate->thread_id\r")
	tm.expect(fmt.Sprintf(") %d\n", o.Crashed))
	tm.expect("pycore> ")

	// Tab completes the member name; the line then runs as completed.
	tm.send("interp->thre\t")
	tm.send(".head != 0\r")
	tm.expect("interp->threads.head != 0 = (int) 1")
	tm.expect("pycore> ")

	// Up arrow brings back the last line.
	tm.send("\x1b[A\r")
	tm.expect("interp->threads.head != 0 = (int) 1")
	tm.expect("pycore> ")

	// An error points at the member and suggests the near name.
	tm.send("interp->thread\r")
	tm.expect("unknown member 'thread' of PyInterpreterState (did you mean 'threads'")
	tm.expect("interp->thread\n")
	tm.expect("        ^~~~~~")
	tm.expect("pycore> ")

	// Commands without the core argument.
	tm.send("p hex(tstate->thread_id)\r")
	tm.expect(fmt.Sprintf("hex(tstate->thread_id) = %#x", o.Crashed))
	tm.expect("pycore> ")
	tm.send("threads\r")
	tm.expect("THREAD ID")
	tm.expect(fmt.Sprintf("Thread %#x", o.Crashed))
	tm.expect("pycore> ")
	tm.send("ptype PyThreadState\r")
	tm.expect("type = ")
	tm.expect("total size (bytes)")
	tm.expect("pycore> ")
	tm.send("rd -4 tstate 4\r")
	tm.expect(":  ")
	tm.expect("pycore> ")
	tm.send("sym PyLong_Type\r")
	tm.expect("PyLong_Type = 0x")
	tm.expect("pycore> ")
	tm.send("help\r")
	tm.expect("Commands:")
	tm.expect("pycore> ")

	// Tab on the first word completes a command.
	tm.send("pty\t")
	tm.send(" PyInterpreterState\r")
	tm.expect("type = ")
	tm.expect("total size (bytes)")
	tm.expect("pycore> ")

	tm.send("quit\r")
	select {
	case <-tm.done:
	case <-time.After(30 * time.Second):
		t.Fatal("pycore shell did not exit after quit")
	}
	if err := tm.cmd.Wait(); err != nil {
		t.Errorf("pycore shell exited with %v", err)
	}
	hist, err := os.ReadFile(history)
	if err != nil {
		t.Fatalf("history file: %v", err)
	}
	for _, line := range []string{"tstate->thread_id", "interp->threads.head != 0", "threads", "quit"} {
		if !strings.Contains(string(hist), line+"\n") {
			t.Errorf("history lacks %q:\n%s", line, hist)
		}
	}
}

// TestShellRunsAFileOfCommands: with standard input not a terminal the shell
// reads commands without editing, so scripts work.
func TestShellRunsAFileOfCommands(t *testing.T) {
	cmd := exec.Command(pycoreBin, "shell", "--debug-dir", t.TempDir(), sampleBundle)
	cmd.Stdin = strings.NewReader("# a comment\nsizeof(PyObject)\np 1 + 2\nnosuch\nquit\nsizeof(PyObject)\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pycore shell: %v\n%s", err, stderr.String())
	}
	want := "sizeof(PyObject) = (unsigned long) 16\n1 + 2 = (int) 3\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
	}
	if !strings.Contains(stderr.String(), "unknown name 'nosuch'") {
		t.Errorf("stderr lacks the error about nosuch:\n%s", stderr.String())
	}
}

// runShell feeds lines to `pycore shell CORE` on its standard input and
// returns what it printed.
func runShell(t *testing.T, core string, lines ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(pycoreBin, "shell", core)
	cmd.Env = append(os.Environ(), "PYCORE_CORE=")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var out, errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	if err := cmd.Run(); err != nil {
		t.Fatalf("pycore shell %s: %v\n%s", core, err, errw.String())
	}
	return out.String(), errw.String()
}

// decodeAll decodes the JSON documents of one shell session in order.
func decodeAll(t *testing.T, text string, docs ...any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	for i, d := range docs {
		if err := dec.Decode(d); err != nil {
			t.Fatalf("JSON document %d of the shell's output: %v\n%s", i+1, err, text)
		}
	}
}

// TestShellThreadsLocalsAndTasks: the shell's threads takes the flags of
// pycore threads (--locals and the --max-* bounds) and the shell has tasks,
// checked through its standard input against the oracles of locals.py and
// asyncio_tasks.py.
func TestShellThreadsLocalsAndTasks(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		if !interp.AtLeast(3, 8) {
			continue
		}
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			lc := pytest.MakeCore(t, interp, "locals", pytest.Kernel)
			want := readLocalsOracle(t, lc)
			out, errs := runShell(t, lc.Path,
				"threads "+strings.Join(roomyLocals, " ")+" --json",
				"threads --json",
				"threads "+lc.Path,
				"threads --locals")
			var withLocals, without render.Snapshot
			decodeAll(t, out, &withLocals, &without)
			for _, e := range compareLocals(want, &withLocals) {
				t.Error("shell threads --locals: " + e)
			}
			for _, th := range without.Threads {
				for _, f := range th.Frames {
					if len(f.Locals) > 0 {
						t.Fatalf("shell threads without --locals has locals in %s", f.Function)
					}
				}
			}
			// A core argument is refused: the shell has its core.
			if !strings.Contains(errs, "unexpected argument") {
				t.Errorf("shell threads CORE: stderr lacks the refusal:\n%s", errs)
			}
			// The text form prints the locals under their frames, arguments labelled.
			if !strings.Contains(out, "Traceback (most recent call last):") || !strings.Contains(out, "\n    Arguments:\n      captured_arg = {'key': 'value'}\n") {
				t.Errorf("shell threads --locals text lacks the closures frame's captured_arg:\n%s", out)
			}

			tc := pytest.MakeCore(t, interp, "asyncio_tasks", pytest.Kernel)
			o := readTasksOracle(t, tc)
			out, _ = runShell(t, tc.Path, "tasks --json", "tasks --locals --json", "tasks")
			var tasks, tasksLocals render.Asyncio
			decodeAll(t, out, &tasks, &tasksLocals)
			for _, e := range compareTasks(o, &tasks, interp) {
				t.Error("shell tasks: " + e)
			}
			lonely := false
			for _, task := range tasksLocals.Tasks {
				if task.Name == nil || *task.Name != "lonely" {
					continue
				}
				for _, f := range task.Stack {
					for _, l := range f.Locals {
						lonely = lonely || (f.Function == "never" && l.Name == "name" && l.Value != nil && l.Value.Repr == "'lonely'")
					}
				}
			}
			if !lonely {
				t.Errorf("shell tasks --locals: task lonely's never() frame lacks name = 'lonely'")
			}
			if !strings.Contains(out, "asyncio task(s) on 2 event loop(s)") {
				t.Errorf("shell tasks text lacks its summary:\n%s", out)
			}
		})
	}
}
