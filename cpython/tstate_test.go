package cpython

import (
	"reflect"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/symbols"
)

// detailInterpreters are the interpreters with DWARF (in their files or a
// debug directory): every one in CI (PYCORE_FULL=1), a representative pair
// otherwise.
func detailInterpreters(t *testing.T) []pytest.Interpreter {
	all, err := pytest.Discover()
	if err != nil {
		t.Logf("discovering interpreters: %v", err)
	}
	var out []pytest.Interpreter
	for _, i := range all {
		if i.AtLeast(3, 6) && (i.DWARF || i.DebugDir != "") {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		t.Skip("no CPython 3.6+ interpreter with debug info here (pyenv, or run testdata/pythons/fetch.sh)")
	}
	return pytest.Select(out)
}

// openProcess opens a core with the given type source.
func openProcess(t *testing.T, path string, i pytest.Interpreter, mode TypesMode) *Process {
	t.Helper()
	cp, err := core.Open(path, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	dirs := []string{t.TempDir()}
	if mode == TypesDWARF && i.DebugDir != "" {
		dirs = []string{i.DebugDir}
	}
	syms, err := symbols.Load(cp, symbols.Options{DebugDirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(cp, syms, Options{Types: mode})
	if err != nil {
		t.Fatalf("%s types: %v", mode, err)
	}
	return p
}

// The offsets locals, exceptions and thread details read are derived where
// the built-in source (tables, or 3.13+'s debug offsets) lacks them: each one
// must be what the build's own DWARF says, and the ones a version has must
// not be missing.
func TestDetailOffsetsMatchTheBuildsDWARF(t *testing.T) {
	for _, interp := range detailInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "locals", pytest.Kernel)
			dw, err := newDetailLayout(openProcess(t, c.Path, interp, TypesDWARF))
			if err != nil {
				t.Fatal(err)
			}
			bi, err := newDetailLayout(openProcess(t, c.Path, interp, TypesBuiltin))
			if err != nil {
				t.Fatal(err)
			}
			dv, bv := reflect.ValueOf(dw).Elem(), reflect.ValueOf(bi).Elem()
			for n := 0; n < dv.NumField(); n++ {
				f := dv.Type().Field(n)
				if f.Type.Kind() != reflect.Int64 {
					continue
				}
				d, b := dv.Field(n).Int(), bv.Field(n).Int()
				if b >= 0 && d >= 0 && b != d {
					t.Errorf("%s: built-in %d, DWARF %d", f.Name, b, d)
				}
				if d >= 0 && b < 0 {
					t.Errorf("%s: DWARF has it at %d, the built-in source not", f.Name, d)
				}
			}
			// What each version must have, whatever the source.
			need := map[string]int64{"excArgs": bi.excArgs, "excTB": bi.excTB, "excContext": bi.excContext,
				"excCause": bi.excCause, "tbFrame": bi.tbFrame, "cellRef": bi.cellRef, "coArgcount": bi.coArgcount,
				"coKwonly": bi.coKwonly, "coFlags": bi.coFlags}
			v := interp
			switch {
			case v.AtLeast(3, 11):
				need["coNames"], need["coKinds"], need["ifLocalsplus"], need["fFrame"] = bi.coNames, bi.coKinds, bi.ifLocalsplus, bi.fFrame
				need["tsExcInfo"], need["siValue"], need["siPrev"] = bi.tsExcInfo, bi.siValue, bi.siPrev
			default:
				need["coVarnames"], need["coCellvars"], need["fLocalsplus"], need["fCode"] = bi.coVarnames, bi.coCellvars, bi.fLocalsplus, bi.fCode
			}
			switch {
			case v.AtLeast(3, 12):
				need["tsCurExc"] = bi.tsCurExc
			default:
				need["tsCurValue"] = bi.tsCurValue
			}
			if v.AtLeast(3, 13) {
				need["tsState"], need["tsEvalBreaker"] = bi.tsState, bi.tsEvalBreaker
			}
			if v.AtLeast(3, 15) {
				need["tsGILRequested"] = bi.tsGILRequested
			}
			if v.AtLeast(3, 8) {
				need["coPosonly"] = bi.coPosonly
			}
			for name, off := range need {
				if off < 0 {
					t.Errorf("%s: unknown in the built-in source of %s", name, interp.Name())
				}
			}
		})
	}
}
