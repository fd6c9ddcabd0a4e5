package abi

import (
	"strings"
	"testing"

	"github.com/pycore/pycore/typesys"
)

// reachable says whether a dotted member path exists from t, following
// pointers as the walker's Value.Path does.
func reachable(t *typesys.Type, path string) bool {
	for _, name := range strings.Split(path, ".") {
		if r := t.Resolve(); r != nil && r.Kind == typesys.Pointer {
			t = r.Elem
		}
		m, _, ok := t.Member(name)
		if !ok {
			return false
		}
		t = m.Type
	}
	return true
}

// Every member path a flavor names must exist in the structs of the builds
// the generated tables were read from (their DWARF), for each version.
func TestFlavorMembersExistInTheTables(t *testing.T) {
	for i := range generatedLayouts {
		vl := &generatedLayouts[i]
		v, err := ParseVersion(vl.Version)
		if err != nil {
			t.Fatal(err)
		}
		fl, err := FlavorFor(v, vl.FreeThreaded)
		if err != nil {
			t.Fatalf("%s: %v", vl.Version, err)
		}
		ts, err := NewLayoutTypes(vl, 8)
		if err != nil {
			t.Fatal(err)
		}
		name := vl.Version + BuildKind(vl.FreeThreaded, vl.Debug)
		has := func(strct, path string) {
			t.Helper()
			st, err := ts.Struct(strct)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			if !reachable(st, path) {
				t.Errorf("%s: the flavor names %s.%s, which the table does not have", name, strct, path)
			}
		}
		has("PyThreadState", fl.TStateFrame)
		has("PyInterpreterState", fl.ThreadsHead)
		has("PyCodeObject", fl.LineTable)
		if _, err := ts.Struct(fl.FrameStruct); err != nil {
			t.Errorf("%s: frame struct %s: %v", name, fl.FrameStruct, err)
		}
		if fl.Frames == InterpreterFrames {
			has("_PyInterpreterFrame", fl.ExecMember)
			has("_PyInterpreterFrame", fl.InstrMember)
		}
		if outer := fl.GC.Outer(); outer != "" {
			has(outer, "gc")
		}
		if fl.CodeQualname {
			has("PyCodeObject", "co_qualname")
		}
		if fl.NativeThreadID {
			has("PyThreadState", "native_thread_id")
		}
		if (fl.Frames == FrameObjects) != (fl.FrameStruct == "PyFrameObject") || fl.Line == nil {
			t.Errorf("%s: inconsistent flavor %+v", name, fl)
		}
	}
}
