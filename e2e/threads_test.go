package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// analysis is one way of pointing pycore at a core's files.
type analysis struct {
	name string
	args []string
}

// analyses for an interpreter: with its DWARF (types read from it), and as a
// stripped production build would be seen (no .symtab, no DWARF; types from
// the debug offsets or pycore's generated tables).
func analyses(t *testing.T, i pytest.Interpreter) []analysis {
	var out []analysis
	noSystemDebug := []string{"--debug-dir", t.TempDir()}
	switch {
	case i.DWARF:
		out = append(out, analysis{"dwarf", []string{"--types", "dwarf"}})
		root, err := pytest.StrippedSysroot(i)
		if err != nil {
			t.Fatalf("stripped copies of %s: %v", i.Name(), err)
		}
		out = append(out, analysis{"stripped", append([]string{"--sysroot", root, "--types", "builtin"}, noSystemDebug...)})
	case i.DebugDir != "":
		out = append(out, analysis{"dwarf", []string{"--debug-dir", i.DebugDir, "--types", "dwarf"}})
		out = append(out, analysis{"stripped", append([]string{"--types", "builtin"}, noSystemDebug...)})
	default:
		out = append(out, analysis{"stripped", append([]string{"--types", "builtin"}, noSystemDebug...)})
	}
	return out
}

// requiredVersions are the minors that must be present (CI sets PYCORE_REQUIRE).
func requiredVersions() []string {
	v := os.Getenv("PYCORE_REQUIRE")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func interpreters(t *testing.T) []pytest.Interpreter {
	all, err := pytest.Discover()
	if err != nil {
		t.Fatalf("discovering interpreters: %v", err)
	}
	have := map[string]bool{}
	var supported []pytest.Interpreter
	for _, i := range all {
		if i.AtLeast(3, 6) {
			supported = append(supported, i)
			have[i.Minor] = true
			have[i.Kind()] = true // "3.13t", "3.11d"
		}
	}
	for _, want := range requiredVersions() {
		if !have[want] {
			t.Errorf("CPython %s is required (PYCORE_REQUIRE) but no interpreter of it was found; run testdata/pythons/fetch.sh", want)
		}
	}
	if len(supported) == 0 {
		t.Skip("no CPython 3.6+ interpreter on this machine; the sample bundle test still runs")
	}
	return pytest.Select(supported)
}

// TestThreadsMatchOracle makes kernel and gcore cores of every scenario under
// every interpreter and checks that pycore's stacks match the oracle exactly.
func TestThreadsMatchOracle(t *testing.T) {
	scenarios, err := pytest.Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			for _, sc := range scenarios {
				for _, kind := range []pytest.CoreKind{pytest.Kernel, pytest.Gcore} {
					if kind == pytest.Gcore && pytest.KernelOnly[sc] {
						continue
					}
					sc, kind := sc, kind
					t.Run(sc+"/"+string(kind), func(t *testing.T) {
						row := interp.Version + interp.ABIFlags + " " + interp.Origin
						c := pytest.MakeCore(t, interp, sc, kind)
						if kind == pytest.Kernel {
							t.Run("bundle", func(t *testing.T) {
								checkBundle(t, c, interp, row)
							})
						}
						for _, a := range analyses(t, interp) {
							col := string(kind) + "/" + a.name
							t.Run(a.name, func(t *testing.T) {
								snap := runThreads(t, c.Path, a.args...)
								if errs := compare(c.Oracle, snap, interp); len(errs) > 0 {
									matrix.record(row, col, "FAIL")
									for _, e := range errs {
										t.Error(e)
									}
									return
								}
								matrix.record(row, col, "pass")
								checkTextStacks(t, c, a.args...)
							})
						}
					})
				}
			}
		})
	}
}

// runThreads runs `pycore threads --json` and decodes its answer.
func runThreads(t *testing.T, core string, args ...string) *render.Snapshot {
	t.Helper()
	cmd := exec.Command(pycoreBin, append(append([]string{"threads", "--json"}, args...), core)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pycore threads %v: %v\n%s", args, err, stderr.String())
	}
	var snap render.Snapshot
	if err := json.Unmarshal(stdout.Bytes(), &snap); err != nil {
		t.Fatalf("pycore threads --json: %v\n%s", err, stdout.String())
	}
	return &snap
}

// compare checks pycore's snapshot against the oracle: same threads, and per
// thread the same frames (file, function, qualified name, line), crash and
// GIL flags, main thread and thread ids.
func compare(o *pytest.Oracle, s *render.Snapshot, interp pytest.Interpreter) []string {
	var errs []string
	if s.Python.Version != o.Version {
		errs = append(errs, fmt.Sprintf("version: pycore says %s, the interpreter %s", s.Python.Version, o.Version))
	}
	// A thread that runs code in a subinterpreter has a thread state in each.
	type key struct {
		interp int64
		ident  uint64
	}
	byID := map[key]*render.Thread{}
	for _, t := range s.Threads {
		byID[key{t.InterpreterID, t.ThreadID}] = t
	}
	if len(s.Threads) != len(o.Threads) {
		errs = append(errs, fmt.Sprintf("%d threads, the oracle has %d", len(s.Threads), len(o.Threads)))
	}
	if s.Python.Debug != interp.Debug() || s.Python.FreeThreaded != interp.FreeThreaded() {
		errs = append(errs, fmt.Sprintf("build: debug=%v free_threaded=%v, the interpreter is %s", s.Python.Debug, s.Python.FreeThreaded, interp.Name()))
	}
	if s.Finalizing != o.Finalizing {
		errs = append(errs, fmt.Sprintf("finalizing=%v, want %v", s.Finalizing, o.Finalizing))
	}
	if o.Signal != 0 {
		if s.Signal == nil || s.Signal.Number != o.Signal {
			errs = append(errs, fmt.Sprintf("signal: pycore says %+v, want %d", s.Signal, o.Signal))
		}
	}
	for _, ot := range o.Threads {
		pt := byID[key{ot.Interp, ot.Ident}]
		where := fmt.Sprintf("thread %#x (%s)", ot.Ident, ot.Name)
		if ot.Interp != 0 {
			where = fmt.Sprintf("thread %#x in interpreter %d", ot.Ident, ot.Interp)
		}
		if pt == nil {
			errs = append(errs, where+" missing")
			continue
		}
		if pt.Error != "" {
			errs = append(errs, fmt.Sprintf("%s: %s", where, pt.Error))
		}
		// Crashing is a property of the OS thread: all its thread states share it.
		if want := o.Crashed != 0 && o.Crashed == ot.Ident; pt.Crashed != want {
			errs = append(errs, fmt.Sprintf("%s: crashed=%v, want %v", where, pt.Crashed, want))
		}
		if pt.HoldsGIL != ot.HoldsGIL {
			errs = append(errs, fmt.Sprintf("%s: holds_gil=%v, want %v", where, pt.HoldsGIL, ot.HoldsGIL))
		}
		if ot.Name != "" && (pt.Name == nil || *pt.Name != ot.Name) {
			errs = append(errs, fmt.Sprintf("%s: name %s, want %q", where, optName(pt.Name), ot.Name))
		}
		if pt.Main != ot.Main {
			errs = append(errs, fmt.Sprintf("%s: main=%v, want %v", where, pt.Main, ot.Main))
		}
		if interp.AtLeast(3, 11) {
			if pt.NativeThreadID == nil || *pt.NativeThreadID != ot.NativeID {
				errs = append(errs, fmt.Sprintf("%s: native_thread_id=%v, want %d", where, ptrVal(pt.NativeThreadID), ot.NativeID))
			}
		} else if pt.NativeThreadID != nil {
			errs = append(errs, fmt.Sprintf("%s: native_thread_id=%d, want null before 3.11", where, *pt.NativeThreadID))
		}
		if ot.NativeID != 0 && (pt.LWP == nil || *pt.LWP != ot.NativeID) {
			errs = append(errs, fmt.Sprintf("%s: lwp=%v, want %d", where, ptrVal(pt.LWP), ot.NativeID))
		}
		errs = append(errs, compareFrames(where, ot.Frames, pt.Frames, interp)...)
	}
	return errs
}

func compareFrames(where string, want []pytest.OracleFrame, got []render.Frame, interp pytest.Interpreter) []string {
	if len(want) != len(got) {
		return []string{fmt.Sprintf("%s: %d frames, want %d\n%s", where, len(got), len(want), sideBySide(want, got))}
	}
	for i := range want {
		w, g := want[i], got[i]
		q := ""
		if g.Qualname != nil {
			q = *g.Qualname
		}
		if g.File != w.File || g.Function != w.Function || g.Line != w.Line || q != w.Qualname {
			return []string{fmt.Sprintf("%s: frame %d differs\n%s", where, i, sideBySide(want, got))}
		}
		if g.Generator != (w.Kind != "") {
			return []string{fmt.Sprintf("%s: frame %d (%s): generator=%v, the code is a %q", where, i, w, g.Generator, w.Kind)}
		}
		if g.GenKind != w.Kind {
			return []string{fmt.Sprintf("%s: frame %d (%s): kind %q, want %q", where, i, w, g.GenKind, w.Kind)}
		}
		if !interp.AtLeast(3, 11) && g.Qualname != nil {
			return []string{fmt.Sprintf("%s: frame %d has a qualname before 3.11", where, i)}
		}
	}
	return nil
}

func sideBySide(want []pytest.OracleFrame, got []render.Frame) string {
	var b strings.Builder
	n := len(want)
	if len(got) > n {
		n = len(got)
	}
	for i := 0; i < n && i < 40; i++ {
		w, g := "", ""
		if i < len(want) {
			w = want[i].String()
		}
		if i < len(got) {
			name := got[i].Function
			if got[i].Qualname != nil {
				name = *got[i].Qualname
			}
			g = fmt.Sprintf("%s (%s:%d)", name, got[i].File, got[i].Line)
		}
		mark := "  "
		if w != g {
			mark = "!="
		}
		fmt.Fprintf(&b, "    %2d %s want %s\n          got  %s\n", i, mark, w, g)
	}
	return b.String()
}

func ptrVal(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// checkBundle packs the core with its files (and detached debug files) and
// reads the bundle with no debug directory: the answer must not change, and
// DWARF must come from inside the bundle when the interpreter has any.
func checkBundle(t *testing.T, c *pytest.Core, interp pytest.Interpreter, row string) {
	bundle := c.Path + ".pycore"
	args := []string{"pack", c.Path, "-o", bundle}
	if interp.DebugDir != "" {
		args = append(args, "--debug-dir", interp.DebugDir)
	}
	if out, err := exec.Command(pycoreBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("pycore %v: %v\n%s", args, err, out)
	}
	types := "builtin"
	if interp.DWARF || interp.DebugDir != "" {
		types = "dwarf"
	}
	snap := runThreads(t, bundle, "--debug-dir", t.TempDir(), "--types", types)
	col := "kernel/bundle"
	if errs := compare(c.Oracle, snap, interp); len(errs) > 0 {
		matrix.record(row, col, "FAIL")
		for _, e := range errs {
			t.Error(e)
		}
		return
	}
	matrix.record(row, col, "pass")
}

func optName(p *string) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *p)
}
