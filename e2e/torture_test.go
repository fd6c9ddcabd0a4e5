package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/typesys"
)

// Torture: gcore snapshots of a busy program (testdata/torture.py) taken at
// random moments: threads starting and exiting, the GC running, recursion
// growing and unwinding, generators, coroutines and exceptions, and the
// interpreter finalizing. pycore must answer every one without panicking,
// hanging or ballooning, and the stacks it shows must be plausible: every
// frame's code object readable, every line within its code's lines (for
// torture.py's own code, within the lines CPython itself says that code has).

// tortureInterpreters: a frame-object version, a table-driven 3.11-3.12 one
// and a debug-offsets one in CI; the usual pair otherwise.
func tortureInterpreters(t *testing.T) []pytest.Interpreter {
	all := interpreters(t)
	if !pytest.Full() {
		return all
	}
	var out []pytest.Interpreter
	for _, want := range [][2]int{{3, 10}, {3, 12}, {3, 14}} {
		var best *pytest.Interpreter
		for n := range all {
			i := &all[n]
			if i.ABIFlags != "" || i.Minor != fmt.Sprintf("%d.%d", want[0], want[1]) {
				continue
			}
			if best == nil || i.Origin == "pyenv" {
				best = i
			}
		}
		if best != nil {
			out = append(out, *best)
		}
	}
	if len(out) < 3 {
		t.Logf("torture on %d interpreters only (want 3.10, 3.12 and 3.14)", len(out))
	}
	return out
}

// snapshotsPerInterpreter: at least 100 per run in CI over three interpreters.
func snapshotsPerInterpreter() int {
	if n, err := strconv.Atoi(os.Getenv("PYCORE_TORTURE_SNAPSHOTS")); err == nil && n > 0 {
		return n
	}
	if pytest.Full() {
		return 34
	}
	return 8
}

// codesOracle is what torture.py wrote about its code objects.
type codesOracle struct {
	File  string `json:"file"`
	Codes []struct {
		Name     string `json:"name"`
		Qualname string `json:"qualname"`
		First    int    `json:"first"`
		Min      int    `json:"min"`
		Last     int    `json:"last"`
	} `json:"codes"`
}

// busyProcess is one run of torture.py.
type busyProcess struct {
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

func tortureEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PYTHON") || k == "DEBUGINFOD_URLS" {
			continue
		}
		env = append(env, kv)
	}
	// Two malloc arenas: gcore writes every arena's reservation in full.
	return append(env, "MALLOC_ARENA_MAX=2", "PYTHONDONTWRITEBYTECODE=1", "LC_ALL=C.UTF-8")
}

func startBusy(t *testing.T, interp pytest.Interpreter, script string) *busyProcess {
	t.Helper()
	dir := t.TempDir()
	cmd := interp.Command(context.Background(), tortureEnv(), script, dir)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &busyProcess{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(b.done) }()
	t.Cleanup(b.kill)
	deadline := time.Now().Add(90 * time.Second)
	for !fileExists(filepath.Join(dir, "ready")) {
		select {
		case <-b.done:
			t.Fatalf("torture.py exited before it was ready:\n%s", b.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("torture.py not ready after 90s:\n%s", b.output())
		}
	}
	return b
}

func (b *busyProcess) output() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "output"))
	return string(data)
}

func (b *busyProcess) kill() {
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	<-b.done
}

func (b *busyProcess) touch(name string) error {
	return os.WriteFile(filepath.Join(b.dir, name), nil, 0o644)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// gcoreTo dumps the live process pid to path, with the gdb pytest makes
// cores with.
func gcoreTo(pid int, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	out := path
	if gdb := pytest.GdbPath(); gdb != "" {
		cmd = exec.CommandContext(ctx, gdb, "-batch", "-p", strconv.Itoa(pid), "-ex", "gcore "+path)
	} else {
		cmd = exec.CommandContext(ctx, "gcore", "-o", path, strconv.Itoa(pid))
		out = fmt.Sprintf("%s.%d", path, pid)
	}
	cmd.Env = tortureEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
	}
	if out != path {
		return os.Rename(out, path)
	}
	if !fileExists(path) {
		return fmt.Errorf("gcore wrote no %s", path)
	}
	return nil
}

// plausibility checks one snapshot's stacks against the core itself (each
// frame's code object) and torture.py's own account of its code.
type plausibility struct {
	codes     *codesOracle
	lineCount map[string]int // source file -> lines, -1 if unreadable
	frames    int            // frames checked
	own       int            // of which in torture.py's code
	deepest   int
}

func (pl *plausibility) lines(file string) int {
	if n, ok := pl.lineCount[file]; ok {
		return n
	}
	n := -1
	if !strings.HasPrefix(file, "<") {
		if f, err := os.Open(file); err == nil {
			n = 0
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				n++
			}
			f.Close()
		}
	}
	pl.lineCount[file] = n
	return n
}

func (pl *plausibility) check(path string, s *render.Snapshot) []string {
	var errs []string
	sess, err := session.Open(path, session.Options{})
	if err != nil {
		return []string{fmt.Sprintf("pycore threads read %s, but the session cannot: %v", path, err)}
	}
	defer sess.Close()
	p := sess.Python
	ct, err := p.Types.Struct("PyCodeObject")
	if err != nil {
		return []string{err.Error()}
	}
	firstLine := func(code core.Address) (int, error) {
		v, err := typesys.At(p.R, ct, code).Member("co_firstlineno")
		if err != nil {
			return 0, err
		}
		n, err := v.Int()
		return int(n), err
	}
	for _, th := range s.Threads {
		pl.frames += len(th.Frames)
		pl.deepest = max(pl.deepest, len(th.Frames))
		if len(th.Frames) > 2000 {
			errs = append(errs, fmt.Sprintf("thread %#x: %d frames, torture.py never goes past ~330", th.ThreadID, len(th.Frames)))
		}
		for i, f := range th.Frames {
			where := fmt.Sprintf("thread %#x frame %d (%s %s:%d, code %s)", th.ThreadID, i, f.Function, f.File, f.Line, f.Code)
			if f.Function == "" || f.File == "" || f.Code == 0 {
				errs = append(errs, where+": no name, file or code")
				continue
			}
			first, err := firstLine(f.Code)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: code object unreadable: %v", where, err))
				continue
			}
			if f.File == pl.codes.File {
				pl.own++
				found := false
				for _, c := range pl.codes.Codes {
					if c.Name == f.Function && c.First == first {
						found = true
						if f.Line < c.Min || f.Line > c.Last {
							errs = append(errs, fmt.Sprintf("%s: line outside the code's lines %d-%d", where, c.Min, c.Last))
						}
					}
				}
				if !found {
					errs = append(errs, fmt.Sprintf("%s: torture.py has no code %s at line %d", where, f.Function, first))
				}
				continue
			}
			if f.Line < first && f.Line != 0 {
				errs = append(errs, fmt.Sprintf("%s: line before the code's first line %d", where, first))
			}
			if n := pl.lines(f.File); n >= 0 && f.Line > n {
				errs = append(errs, fmt.Sprintf("%s: line past the end of the file (%d lines)", where, n))
			}
		}
	}
	return errs
}

func TestTortureSnapshots(t *testing.T) {
	if _, err := exec.LookPath("gcore"); err != nil && pytest.GdbPath() == "" {
		t.Skip("gcore not found (apt-get install gdb)")
	}
	script, err := filepath.Abs("testdata/torture.py")
	if err != nil {
		t.Fatal(err)
	}
	per := snapshotsPerInterpreter()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d snapshots per interpreter", seed, per)
	for _, interp := range tortureInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, uint64(len(interp.Version))))
			taken, finalizing, withErrors := 0, 0, 0
			var frames, own, deepest int
			for run := 0; taken < per; run++ {
				// Two runs in CI; each ends with a few snapshots of finalization.
				n := min(per-taken, max(per/2, 8))
				fin := min(5, max(1, n/4))
				b := startBusy(t, interp, script)
				var codes codesOracle
				data, err := os.ReadFile(filepath.Join(b.dir, "codes.json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(data, &codes); err != nil {
					t.Fatal(err)
				}
				pl := &plausibility{codes: &codes, lineCount: map[string]int{}}
				for i := 0; i < n; i++ {
					phase := "busy"
					if i == n-fin {
						if err := b.touch("finish"); err != nil {
							t.Fatal(err)
						}
					}
					if i >= n-fin {
						phase = "finalizing"
					}
					time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
					select {
					case <-b.done:
						t.Fatalf("torture.py ended before snapshot %d (%s):\n%s", i, phase, b.output())
					default:
					}
					path := filepath.Join(b.dir, fmt.Sprintf("core.%d.%d", run, i))
					if err := gcoreTo(b.cmd.Process.Pid, path); err != nil {
						t.Fatalf("snapshot %d (%s): %v", i, phase, err)
					}
					taken++
					r := runBounded(t, damageTimeout, "threads", "--json", path)
					for _, msg := range r.sane() {
						t.Errorf("snapshot %d (%s): %s", i, phase, msg)
					}
					s, err := r.snapshot()
					if err != nil {
						// Only the very end of finalization may leave nothing to show.
						if phase == "busy" {
							t.Errorf("snapshot %d (%s): %v", i, phase, err)
						}
						os.Remove(path)
						continue
					}
					if s.Finalizing {
						finalizing++
					}
					for _, th := range s.Threads {
						if th.Error != "" {
							withErrors++
						}
					}
					for _, msg := range pl.check(path, s) {
						t.Errorf("snapshot %d (%s): %s", i, phase, msg)
					}
					if !t.Failed() {
						os.Remove(path)
					}
				}
				frames, own, deepest = frames+pl.frames, own+pl.own, max(deepest, pl.deepest)
				if err := b.touch("done"); err != nil {
					t.Fatal(err)
				}
				select {
				case <-b.done:
				case <-time.After(30 * time.Second):
					t.Errorf("torture.py did not exit 30s after finishing:\n%s", b.output())
				}
			}
			t.Logf("%d snapshots, %d while finalizing, %d threads with an incomplete stack; %d frames checked, %d of torture.py, deepest stack %d",
				taken, finalizing, withErrors, frames, own, deepest)
			if own == 0 || deepest < 10 {
				t.Errorf("the snapshots show none of torture.py's work")
			}
			if finalizing == 0 {
				t.Errorf("no snapshot caught the interpreter finalizing")
			}
		})
	}
}
