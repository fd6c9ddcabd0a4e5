package cpython_test

import (
	"strings"
	"testing"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/session"
)

// buildInterpreters are the interpreters whose build kind pycore must tell
// apart: 3.6 and 3.7 (the oldest runtimes), Py_DEBUG and free-threaded builds,
// and one stripped Debian release build as the plain case.
func buildInterpreters(t *testing.T) []pytest.Interpreter {
	all, err := pytest.Discover()
	if err != nil {
		t.Logf("discovering interpreters: %v", err)
	}
	var out []pytest.Interpreter
	release := false
	for _, i := range all {
		switch {
		case i.Minor == "3.6" || i.Minor == "3.7" || i.ABIFlags != "":
			out = append(out, i)
		case !release && strings.HasPrefix(i.Origin, "debian-") && !i.AtLeast(3, 13):
			out = append(out, i)
			release = true
		}
	}
	if len(out) == 0 {
		t.Skip("no CPython 3.6/3.7, Py_DEBUG or free-threaded interpreter here (pyenv, or run testdata/pythons/fetch.sh)")
	}
	return out
}

type buildAnalysis struct {
	name string
	opts session.Options
}

// buildAnalyses: with the build's DWARF, and as a stripped build is seen (no
// .symtab, no DWARF: types from pycore's tables or the debug offsets).
func buildAnalyses(t *testing.T, i pytest.Interpreter) []buildAnalysis {
	noDebug := []string{t.TempDir()}
	var out []buildAnalysis
	switch {
	case i.DWARF:
		out = append(out, buildAnalysis{"dwarf", session.Options{Types: cpython.TypesDWARF}})
		root, err := pytest.StrippedSysroot(i)
		if err != nil {
			t.Fatalf("stripped copies of %s: %v", i.Name(), err)
		}
		out = append(out, buildAnalysis{"builtin", session.Options{Sysroot: root, DebugDirs: noDebug, Types: cpython.TypesBuiltin}})
	case i.DebugDir != "":
		out = append(out, buildAnalysis{"dwarf", session.Options{DebugDirs: []string{i.DebugDir}, Types: cpython.TypesDWARF}})
		out = append(out, buildAnalysis{"builtin", session.Options{DebugDirs: noDebug, Types: cpython.TypesBuiltin}})
	default:
		out = append(out, buildAnalysis{"builtin", session.Options{DebugDirs: noDebug, Types: cpython.TypesBuiltin}})
	}
	return out
}

// TestBuildKindAndRuntimeEvidence opens real cores of each kind of build the
// way a user with and without debug info would, and checks that pycore reads
// the version and build kind the interpreter reported when run (the harness's
// probe), says how it knew, and finds every thread the program had.
func TestBuildKindAndRuntimeEvidence(t *testing.T) {
	for _, interp := range buildInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "crash_worker", pytest.Kernel)
			for _, a := range buildAnalyses(t, interp) {
				t.Run(a.name, func(t *testing.T) {
					s, err := session.Open(c.Path, a.opts)
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					p := s.Python
					ev := strings.Join(p.Evidence, "; ")
					if p.Version.String() != interp.Version {
						t.Errorf("version %s, the interpreter says %s", p.Version, interp.Version)
					}
					if p.FreeThreaded != interp.FreeThreaded() || p.Debug != interp.Debug() {
						t.Errorf("free-threaded=%v debug=%v, the interpreter's ABI flags are %q (evidence: %s)",
							p.FreeThreaded, p.Debug, interp.ABIFlags, ev)
					}
					if p.Debug != strings.Contains(ev, "build: Py_DEBUG") {
						t.Errorf("debug=%v but the evidence says %q", p.Debug, ev)
					}
					if p.TraceRefs {
						t.Errorf("Py_TRACE_REFS reported for %s, which has no sys.getobjects", interp.Name())
					}
					if interp.Minor == "3.6" {
						want := "symbol interp_head"
						if a.name == "builtin" { // stripped copies: no .symtab
							want = "decoded from PyInterpreterState_Head"
						}
						if !strings.Contains(ev, want) {
							t.Errorf("3.6 evidence %q does not say %q", ev, want)
						}
					}
					if a.opts.Types == cpython.TypesBuiltin && p.DebugOffsets == nil {
						// Tables are chosen by build kind: a release table must not
						// serve a Py_DEBUG build, nor the other way round.
						if strings.Contains(p.Types.Describe(), "(Py_DEBUG)") != interp.Debug() {
							t.Errorf("types from %q for a build with ABI flags %q", p.Types.Describe(), interp.ABIFlags)
						}
					}
					snap, err := p.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					if len(snap.Threads) != len(c.Oracle.Threads) {
						t.Errorf("%d threads, the oracle has %d", len(snap.Threads), len(c.Oracle.Threads))
					}
					for _, th := range snap.Threads {
						if th.Error != "" {
							t.Errorf("thread %#x: %s", th.ThreadID, th.Error)
						}
						if th.HoldsGIL && interp.FreeThreaded() {
							t.Errorf("thread %#x holds a GIL in a free-threaded process running without one", th.ThreadID)
						}
					}
				})
			}
		})
	}
}
