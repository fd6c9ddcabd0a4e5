package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// tasksOracle is what asyncio_tasks.py wrote about its tasks (ORACLE.tasks.json).
type tasksOracle struct {
	Version string `json:"version"`
	Loops   []struct {
		ID      uint64 `json:"id"`
		Thread  uint64 `json:"thread"`
		Running uint64 `json:"running"`
	} `json:"loops"`
	Tasks    []oracleTask `json:"tasks"`
	Finished []struct {
		ID    uint64 `json:"id"`
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"finished"`
}

type oracleTask struct {
	ID         uint64               `json:"id"`
	Name       string               `json:"name"`
	State      string               `json:"state"`
	Loop       uint64               `json:"loop"`
	Thread     uint64               `json:"thread"`
	Running    bool                 `json:"running"`
	Stack      []pytest.OracleFrame `json:"coroutine_stack"`
	AwaitedBy  []uint64             `json:"awaited_by"`
	WaitingFor *struct {
		ID   uint64 `json:"id"`
		Type string `json:"type"`
	} `json:"waiting_for"`
}

func readTasksOracle(t *testing.T, c *pytest.Core) *tasksOracle {
	t.Helper()
	path := filepath.Join(c.Dir, "oracle.tasks.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("tasks oracle: %v\nstderr:\n%s", err, c.Stderr)
	}
	var o tasksOracle
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatalf("tasks oracle %s: %v", path, err)
	}
	if o.Version != c.Oracle.Version || len(o.Tasks) == 0 || len(o.Loops) != 2 {
		t.Fatalf("tasks oracle %s: version %s (want %s), %d tasks, %d loops (want 2)", path, o.Version, c.Oracle.Version, len(o.Tasks), len(o.Loops))
	}
	return &o
}

// TestTasksMatchOracle makes kernel and gcore cores of asyncio_tasks.py under
// every interpreter that runs it and checks `pycore tasks --json` against the
// tasks the program recorded: every task by address, with its name, state,
// loop, thread, running flag, coroutine stack, the future it waits on and
// who awaits it; finished tasks only as done or cancelled; each loop's
// thread and running task.
func TestTasksMatchOracle(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		if !interp.AtLeast(3, 8) {
			continue
		}
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			for _, kind := range []pytest.CoreKind{pytest.Kernel, pytest.Gcore} {
				kind := kind
				t.Run(string(kind), func(t *testing.T) {
					row := interp.Version + interp.ABIFlags + " " + interp.Origin
					c := pytest.MakeCore(t, interp, "asyncio_tasks", kind)
					o := readTasksOracle(t, c)
					for _, a := range analyses(t, interp) {
						col := "tasks " + string(kind)[:1] + "/" + a.name
						t.Run(a.name, func(t *testing.T) {
							snap := runTasks(t, c.Path, a.args...)
							errs := compareTasks(o, snap, interp)
							if len(errs) == 0 {
								errs = checkTasksText(t, o, c.Oracle, c.Path, a.args)
							}
							if len(errs) > 0 {
								matrix.record(row, col, "FAIL")
								for _, e := range errs {
									t.Error(e)
								}
								return
							}
							matrix.record(row, col, "pass")
						})
					}
				})
			}
		})
	}
}

func runTasks(t *testing.T, core string, args ...string) *render.Asyncio {
	t.Helper()
	out := pycoreOutput(t, append(append([]string{"tasks", "--json"}, args...), core)...)
	var snap render.Asyncio
	if err := json.Unmarshal(out, &snap); err != nil {
		t.Fatalf("pycore tasks --json: %v\n%s", err, out)
	}
	return &snap
}

func pycoreOutput(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(pycoreBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pycore %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func compareTasks(o *tasksOracle, s *render.Asyncio, interp pytest.Interpreter) []string {
	var errs []string
	if s.Python.Version != o.Version {
		errs = append(errs, fmt.Sprintf("version: pycore says %s, the interpreter %s", s.Python.Version, o.Version))
	}
	wantSource := "derived"
	if interp.AtLeast(3, 14) {
		wantSource = "recorded"
	}
	if s.AwaitedBy != wantSource {
		errs = append(errs, fmt.Sprintf("awaited_by_source %q, want %q", s.AwaitedBy, wantSource))
	}
	if wantSource == "derived" && !strings.Contains(strings.Join(s.Missing, "\n"), "awaited-by edges") {
		errs = append(errs, fmt.Sprintf("missing does not say that CPython %s records no awaited-by edges: %q", interp.Minor, s.Missing))
	}
	got := map[core.Address]*render.Task{}
	for _, t := range s.Tasks {
		if got[t.Address] != nil {
			errs = append(errs, fmt.Sprintf("task %#x listed twice", uint64(t.Address)))
		}
		got[t.Address] = t
		if t.Error != "" {
			errs = append(errs, fmt.Sprintf("task %#x (%s): %s", uint64(t.Address), optName(t.Name), t.Error))
		}
	}
	names := map[uint64]string{}
	for _, ot := range o.Tasks {
		names[ot.ID] = ot.Name
	}
	want := map[core.Address]bool{}
	for _, ot := range o.Tasks {
		want[core.Address(ot.ID)] = true
		where := fmt.Sprintf("task %q (%#x)", ot.Name, ot.ID)
		pt := got[core.Address(ot.ID)]
		if pt == nil {
			errs = append(errs, where+" missing")
			continue
		}
		if pt.Name == nil || *pt.Name != ot.Name {
			errs = append(errs, fmt.Sprintf("%s: name %s", where, optName(pt.Name)))
		}
		if pt.Type != "Task" {
			errs = append(errs, fmt.Sprintf("%s: type %q, want Task", where, pt.Type))
		}
		if pt.State != ot.State || pt.Running != ot.Running {
			errs = append(errs, fmt.Sprintf("%s: state %s running=%v, want %s running=%v", where, pt.State, pt.Running, ot.State, ot.Running))
		}
		if uint64(pt.Loop) != ot.Loop {
			errs = append(errs, fmt.Sprintf("%s: loop %#x, want %#x", where, uint64(pt.Loop), ot.Loop))
		}
		if pt.ThreadID == nil || *pt.ThreadID != ot.Thread {
			errs = append(errs, fmt.Sprintf("%s: thread %v, want %#x", where, ptrHex(pt.ThreadID), ot.Thread))
		}
		switch {
		case ot.WaitingFor == nil && pt.WaitingFor != nil:
			errs = append(errs, fmt.Sprintf("%s: waits for %#x, want nothing", where, uint64(pt.WaitingFor.Address)))
		case ot.WaitingFor != nil && (pt.WaitingFor == nil || uint64(pt.WaitingFor.Address) != ot.WaitingFor.ID || pt.WaitingFor.Type != ot.WaitingFor.Type):
			errs = append(errs, fmt.Sprintf("%s: waits for %+v, want %s at %#x", where, pt.WaitingFor, ot.WaitingFor.Type, ot.WaitingFor.ID))
		}
		if g, w := addrList(pt.AwaitedBy), idList(ot.AwaitedBy); g != w {
			errs = append(errs, fmt.Sprintf("%s: awaited by %s, want %s", where, g, w))
		}
		errs = append(errs, compareFrames(where+" coroutine stack", ot.Stack, pt.Stack, interp)...)
	}
	// awaits is awaited_by turned around.
	awaits := map[uint64][]uint64{}
	for _, ot := range o.Tasks {
		for _, by := range ot.AwaitedBy {
			awaits[by] = append(awaits[by], ot.ID)
		}
	}
	for _, ot := range o.Tasks {
		if pt := got[core.Address(ot.ID)]; pt != nil {
			if g, w := addrList(pt.Awaits), idList(awaits[ot.ID]); g != w {
				errs = append(errs, fmt.Sprintf("task %q: awaits %s, want %s", ot.Name, g, w))
			}
		}
	}
	// Finished tasks may still be listed (3.8-3.13 keep them in a WeakSet
	// while referenced; 3.14+ unlinks them), but only as what they are.
	finished := map[core.Address]int{}
	for i, f := range o.Finished {
		finished[core.Address(f.ID)] = i
	}
	for _, pt := range s.Tasks {
		if want[pt.Address] {
			continue
		}
		i, ok := finished[pt.Address]
		if !ok {
			errs = append(errs, fmt.Sprintf("task %#x (%s, %s) is not one of the program's", uint64(pt.Address), optName(pt.Name), pt.State))
			continue
		}
		f := o.Finished[i]
		if pt.Name == nil || *pt.Name != f.Name || pt.State != f.State || pt.Running || len(pt.Stack) != 0 {
			errs = append(errs, fmt.Sprintf("finished task %q: name %s state %s running=%v %d frames, want %s, no frames",
				f.Name, optName(pt.Name), pt.State, pt.Running, len(pt.Stack), f.State))
		}
	}
	loops := map[core.Address]*render.EventLoop{}
	for _, lp := range s.Loops {
		loops[lp.Address] = lp
	}
	for _, ol := range o.Loops {
		lp := loops[core.Address(ol.ID)]
		where := fmt.Sprintf("loop %#x", ol.ID)
		if lp == nil {
			errs = append(errs, where+" missing")
			continue
		}
		if lp.ThreadID == nil || *lp.ThreadID != ol.Thread {
			errs = append(errs, fmt.Sprintf("%s: thread %v, want %#x", where, ptrHex(lp.ThreadID), ol.Thread))
		}
		if lp.RunningTask == nil || uint64(*lp.RunningTask) != ol.Running {
			errs = append(errs, fmt.Sprintf("%s: running task %v, want %q", where, lp.RunningTask, names[ol.Running]))
		}
		if lp.LWP == nil || lp.ThreadName == nil {
			errs = append(errs, fmt.Sprintf("%s: thread LWP %v name %s, want both", where, ptrVal(lp.LWP), optName(lp.ThreadName)))
		}
	}
	return errs
}

// checkTasksText runs the human form: every task shows once per awaiter
// (once if none), each under the task that awaits it, with its innermost
// frame.
func checkTasksText(t *testing.T, o *tasksOracle, threads *pytest.Oracle, core string, args []string) []string {
	out := string(pycoreOutput(t, append(append([]string{"tasks"}, args...), core)...))
	errs := checkTaskTableOrder(o, threads, out)
	lines := strings.Split(out, "\n")
	depth := func(line string) int { return strings.Index(line, "(T) ") }
	byID := map[uint64]oracleTask{}
	for _, ot := range o.Tasks {
		byID[ot.ID] = ot
	}
	for _, ot := range o.Tasks {
		var at []int
		for i, l := range lines {
			if strings.Contains(l, "(T) "+ot.Name+" [") {
				at = append(at, i)
			}
		}
		if want := max(1, len(ot.AwaitedBy)); len(at) != want {
			errs = append(errs, fmt.Sprintf("text: task %q shown %d times, want %d\n%s", ot.Name, len(at), want, out))
			continue
		}
		if len(ot.Stack) > 0 {
			inner := ot.Stack[0]
			name := inner.Function
			if inner.Qualname != "" {
				name = inner.Qualname
			}
			if !strings.Contains(out, fmt.Sprintf("%s %s:%d", name, filepath.Base(inner.File), inner.Line)) {
				errs = append(errs, fmt.Sprintf("text: task %q: innermost frame %s not shown", ot.Name, inner))
			}
		}
		// The nearest task line above with less indentation is the awaiter.
		var parents []string
		for _, i := range at {
			d := depth(lines[i])
			for j := i - 1; j >= 0; j-- {
				if pd := depth(lines[j]); pd >= 0 && pd < d {
					parents = append(parents, lines[j][pd+4:strings.LastIndex(lines[j], " [")])
					break
				}
			}
		}
		var want []string
		for _, by := range ot.AwaitedBy {
			want = append(want, byID[by].Name)
		}
		sort.Strings(parents)
		sort.Strings(want)
		if strings.Join(parents, ",") != strings.Join(want, ",") {
			errs = append(errs, fmt.Sprintf("text: task %q shown under %q, want %q\n%s", ot.Name, parents, want, out))
		}
	}
	return errs
}

func addrList(a []core.Address) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = fmt.Sprintf("%#x", uint64(x))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

func idList(a []uint64) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = fmt.Sprintf("%#x", x)
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

func ptrHex(p *uint64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("%#x", *p)
}

// TestTasksOfOtherScenarios: a program whose only loop runs in a worker
// thread (stacks.py's "coroutine" thread, parked in time.sleep inside three
// nested coroutines) has one task, running, whose coroutine stack is that
// thread's frames out to the task's coroutine; a program that never imported
// asyncio (deep_many.py) has no tasks, and pycore says why.
func TestTasksOfOtherScenarios(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		if !interp.AtLeast(3, 8) {
			continue
		}
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			t.Run("stacks", func(t *testing.T) {
				c := pytest.MakeCore(t, interp, "stacks", pytest.Kernel)
				ot := c.Oracle.ThreadNamed("coroutine")
				if ot == nil {
					t.Fatal("stacks.py's oracle has no thread named coroutine")
				}
				n := 0
				for n < len(ot.Frames) && ot.Frames[n].Function != "coro_top" {
					n++
				}
				if n == len(ot.Frames) {
					t.Fatalf("the coroutine thread's oracle stack has no coro_top: %v", ot.Frames)
				}
				for _, a := range analyses(t, interp) {
					t.Run(a.name, func(t *testing.T) {
						s := runTasks(t, c.Path, a.args...)
						if !s.AsyncioImported {
							t.Errorf("asyncio_imported is false for a program running an event loop")
						}
						if len(s.Tasks) != 1 || len(s.Loops) != 1 {
							t.Fatalf("%d tasks on %d loops, want 1 on 1: %+v", len(s.Tasks), len(s.Loops), s)
						}
						task, lp := s.Tasks[0], s.Loops[0]
						if !task.Running || task.State != "pending" || task.Name == nil || !strings.HasPrefix(*task.Name, "Task-") || task.Error != "" {
							t.Errorf("task %+v (name %s), want asyncio.run's running Task-N", task, optName(task.Name))
						}
						if task.ThreadID == nil || *task.ThreadID != ot.Ident || lp.ThreadName == nil || *lp.ThreadName != "coroutine" {
							t.Errorf("task on thread %s, loop thread name %s, want %#x \"coroutine\"", ptrHex(task.ThreadID), optName(lp.ThreadName), ot.Ident)
						}
						if len(task.AwaitedBy) != 0 || len(task.Awaits) != 0 {
							t.Errorf("awaited by %v, awaits %v, want none", task.AwaitedBy, task.Awaits)
						}
						for _, e := range compareFrames("the running task's coroutine stack", ot.Frames[:n+1], task.Stack, interp) {
							t.Error(e)
						}
					})
				}
			})
			t.Run("no asyncio", func(t *testing.T) {
				c := pytest.MakeCore(t, interp, "deep_many", pytest.Kernel)
				s := runTasks(t, c.Path)
				if len(s.Tasks) != 0 || len(s.Loops) != 0 {
					t.Errorf("%d tasks on %d loops in a program without asyncio", len(s.Tasks), len(s.Loops))
				}
				if src := strings.Join(s.Sources, "\n"); !strings.Contains(src, "asyncio was not imported") || s.AsyncioImported {
					t.Errorf("JSON does not say asyncio was not imported: asyncio_imported %v, sources %q", s.AsyncioImported, src)
				}
				// One line, without the sources: the JSON keeps those.
				want := fmt.Sprintf("Python %s: no asyncio event loop in this process (asyncio was never imported)\n", c.Oracle.Version)
				if out := string(pycoreOutput(t, "tasks", c.Path)); out != want {
					t.Errorf("text form:\n%s\nwant:\n%s", out, want)
				}
			})
		})
	}
}

// TestTasksLocals checks tasks --locals against the arguments the program
// passed its coroutines: "lonely" runs never("lonely", fut), "tg-child-N" runs
// tg_child(N); the text shows them under the coroutine's frame.
func TestTasksLocals(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		if !interp.AtLeast(3, 8) {
			continue
		}
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "asyncio_tasks", pytest.Kernel)
			snap := runTasks(t, c.Path, "--locals")
			want := map[string][2]string{"lonely": {"never", "'lonely'"}}
			if interp.AtLeast(3, 11) {
				want["tg-child-1"] = [2]string{"tg_child", "1"}
				want["tg-child-2"] = [2]string{"tg_child", "2"}
			}
			argName := map[string]string{"never": "name", "tg_child": "n"}
			found := 0
			for _, task := range snap.Tasks {
				if task.Name == nil {
					continue
				}
				w, ok := want[*task.Name]
				if !ok {
					continue
				}
				found++
				var got []string
				for _, f := range task.Stack {
					if f.Function != w[0] {
						continue
					}
					for _, l := range f.Locals {
						if l.Name == argName[w[0]] && l.Argument == "positional" && l.Value != nil && l.Value.Repr == w[1] {
							got = append(got, l.Value.Repr)
						}
					}
					if len(got) == 0 {
						t.Errorf("task %s: frame %s has locals %+v (error %q); want argument %s = %s", *task.Name, f.Function, f.Locals, f.LocalsError, argName[w[0]], w[1])
					}
				}
				if len(got) == 0 && len(task.Stack) > 0 && task.Stack[0].Function != w[0] {
					t.Errorf("task %s: no frame %s in its stack", *task.Name, w[0])
				}
			}
			if found != len(want) {
				t.Errorf("found %d of the tasks %v", found, want)
			}
			text := string(pycoreOutput(t, "tasks", "--locals", c.Path))
			if !strings.Contains(text, "name = 'lonely'") {
				t.Errorf("tasks --locals text lacks name = 'lonely':\n%s", text)
			}
			// Without --locals, none.
			for _, task := range runTasks(t, c.Path).Tasks {
				for _, f := range task.Stack {
					if len(f.Locals) > 0 {
						t.Fatalf("tasks without --locals has locals in %s", f.Function)
					}
				}
			}
		})
	}
}

// checkTaskTableOrder checks the order of the tasks table against the rule
// the README gives, from what the program recorded: loops by the LWP
// (threading.get_native_id()) of the thread running them, the running task
// first, then by name with numbers compared as numbers. The order the
// program's tasks have in CPython's own sets (a WeakSet before 3.14) plays
// no part, so the same program gives the same table on every version.
func checkTaskTableOrder(o *tasksOracle, threads *pytest.Oracle, out string) []string {
	lwp := map[uint64]int64{}
	for _, th := range threads.Threads {
		lwp[th.Ident] = th.NativeID
	}
	loopLWP := map[uint64]int64{}
	for _, lp := range o.Loops {
		loopLWP[lp.ID] = lwp[lp.Thread]
	}
	want := append([]oracleTask(nil), o.Tasks...)
	sort.SliceStable(want, func(i, j int) bool {
		a, b := want[i], want[j]
		if la, lb := loopLWP[a.Loop], loopLWP[b.Loop]; la != lb {
			return la < lb
		}
		if a.Running != b.Running {
			return a.Running
		}
		if ka, kb := naturalKey(a.Name), naturalKey(b.Name); ka != kb {
			return ka < kb
		}
		return a.ID < b.ID
	})
	live := map[string]bool{}
	var wantNames []string
	for _, w := range want {
		live[w.Name] = true
		wantNames = append(wantNames, w.Name)
	}
	var got []string
	for _, l := range strings.Split(out, "\n") {
		cols := strings.Split(l, "│")
		if len(cols) < 3 || !strings.HasPrefix(strings.TrimSpace(cols[1]), "0x") {
			continue
		}
		if name := strings.TrimSpace(cols[2]); live[name] {
			got = append(got, name)
		}
	}
	if strings.Join(got, ", ") != strings.Join(wantNames, ", ") {
		return []string{fmt.Sprintf("text: tasks table in the order %v, want %v (loops by LWP, running first, by name)", got, wantNames)}
	}
	return nil
}

// naturalKey makes names sort with their numbers as numbers: every run of
// digits is zero-padded to 20 places.
func naturalKey(s string) string {
	return digitsRE.ReplaceAllStringFunc(s, func(d string) string {
		d = strings.TrimLeft(d, "0")
		return strings.Repeat("0", max(0, 20-len(d))) + d
	})
}

var digitsRE = regexp.MustCompile(`[0-9]+`)
