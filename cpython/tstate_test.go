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
			dv, bv := offsetFields(dw), offsetFields(bi)
			if len(dv) < 40 {
				t.Fatalf("only %d offsets compared", len(dv))
			}
			for name, d := range dv {
				b := bv[name]
				if b >= 0 && d >= 0 && b != d {
					t.Errorf("%s: built-in %d, DWARF %d", name, b, d)
				}
				if d >= 0 && b < 0 {
					t.Errorf("%s: DWARF has it at %d, the built-in source not", name, d)
				}
			}
			// What each version must have, whatever the source.
			need := map[string]int64{"excArgs": bi.Exception.Args, "excTB": bi.Exception.Traceback, "excContext": bi.Exception.Context,
				"excCause": bi.Exception.Cause, "tbFrame": bi.Traceback.Frame, "cellRef": bi.Cell.Ref, "coArgcount": bi.Code.Argcount,
				"coKwonly": bi.Code.Kwonly, "coFlags": bi.Code.Flags}
			v := interp
			switch {
			case v.AtLeast(3, 11):
				need["coNames"], need["coKinds"], need["ifLocalsplus"], need["fFrame"] = bi.Code.LocalsplusNames, bi.Code.LocalsplusKinds, bi.InterpreterFrame.Localsplus, bi.FrameObject.Frame
				need["tsExcInfo"], need["siValue"], need["siPrev"] = bi.ThreadState.ExcInfo, bi.ErrStackItem.ExcValue, bi.ErrStackItem.Previous
			default:
				need["coVarnames"], need["coCellvars"], need["fLocalsplus"], need["fCode"] = bi.Code.Varnames, bi.Code.Cellvars, bi.FrameObject.Localsplus, bi.FrameObject.Code
			}
			switch {
			case v.AtLeast(3, 12):
				need["tsCurExc"] = bi.ThreadState.CurrentException
			default:
				need["tsCurValue"] = bi.ThreadState.CurExcValue
			}
			if v.AtLeast(3, 13) {
				need["tsState"], need["tsEvalBreaker"] = bi.ThreadState.State, bi.ThreadState.EvalBreaker
			}
			if v.AtLeast(3, 15) {
				need["tsGILRequested"] = bi.ThreadState.GILRequested
			}
			if v.AtLeast(3, 8) {
				need["coPosonly"] = bi.Code.Posonly
			}
			for name, off := range need {
				if off < 0 {
					t.Errorf("%s: unknown in the built-in source of %s", name, interp.Name())
				}
			}
		})
	}
}

// offsetFields flattens the int64 offsets of a struct of offset groups into
// "Group.Field" -> offset.
func offsetFields(x any) map[string]int64 {
	out := map[string]int64{}
	v := reflect.ValueOf(x).Elem()
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.Int64:
			out[name] = f.Int()
		case reflect.Struct:
			for j := 0; j < f.NumField(); j++ {
				if f.Field(j).Kind() == reflect.Int64 {
					out[name+"."+f.Type().Field(j).Name] = f.Field(j).Int()
				}
			}
		}
	}
	return out
}

// The object reader's offsets, like the details', are derived where the
// built-in source lacks them (abi.ResolveObjects): each must be what the
// build's own DWARF says.
func TestObjectOffsetsMatchTheBuildsDWARF(t *testing.T) {
	for _, interp := range detailInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "locals", pytest.Kernel)
			dw, err := openProcess(t, c.Path, interp, TypesDWARF).objectLayout()
			if err != nil {
				t.Fatal(err)
			}
			bi, err := openProcess(t, c.Path, interp, TypesBuiltin).objectLayout()
			if err != nil {
				t.Fatal(err)
			}
			dv, bv := offsetFields(dw.Objects), offsetFields(bi.Objects)
			if len(dv) < 60 {
				t.Fatalf("only %d offsets compared", len(dv))
			}
			for name, d := range dv {
				if b := bv[name]; b >= 0 && d >= 0 && b != d {
					t.Errorf("%s: built-in %d, DWARF %d", name, b, d)
				}
			}
		})
	}
}
