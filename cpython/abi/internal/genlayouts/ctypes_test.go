package main

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// buildCTypes compiles testdata/ctypes into a shared object with DWARF, and
// returns it with the offsetof() values the compiler itself prints.
func buildCTypes(t *testing.T) (string, map[string]int64) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed: cannot compile the C type shapes")
	}
	dir := t.TempDir()
	src := filepath.Join("testdata", "ctypes")
	so := filepath.Join(dir, "types.so")
	if out, err := exec.Command(gcc, "-g", "-O0", "-shared", "-fPIC", "-o", so,
		filepath.Join(src, "a.c"), filepath.Join(src, "b.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	prog := filepath.Join(dir, "offsets")
	if out, err := exec.Command(gcc, "-o", prog, filepath.Join(src, "offsets.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(prog).Output()
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("offsets: %q: %v", line, err)
		}
		offsets[k] = n
	}
	return so, offsets
}

func ctypeLayouts(t *testing.T, so string, rs rootSet) ([]structLayout, error) {
	t.Helper()
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	return layoutsFromDWARF(d, rs)
}

func TestCTypeShapesAreSpelledInTheGrammar(t *testing.T) {
	so, offsets := buildCTypes(t)
	ls, err := ctypeLayouts(t, so, rootSet{
		names:      []string{"Root", "PyObject", "PyTypeObject", "PyThreadState", "NoSuchRoot"},
		required:   []string{"Root", "PyThreadState"},
		maxMembers: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if find(ls, "NoSuchRoot") != nil {
		t.Error("a root the build lacks was tabulated")
	}
	root := find(ls, "Root")
	if root == nil || root.Size != offsets["sizeof"] {
		t.Fatalf("Root: %+v, want size %d", root, offsets["sizeof"])
	}
	want := []struct{ path, typ, base string }{
		{"ob_base", "struct", ""},
		{"ob_base.ob_refcnt", "i64", ""},
		{"ob_base.ob_type", "ptr:PyTypeObject", ""},
		{"u_i", "i64", ""},
		{"u_d", "f64", ""},
		{"state", "struct", ""},
		{"state.a", "bits:0:2:u32", "state"},
		{"state.b", "bits:2:3:u32", "state"},
		{"state.c", "bits:5:1:u32", "state"},
		{"counter", "i32", ""}, // _Atomic int
		{"addr", "u64", ""},    // atomic_uintptr_t
		{"tstate", "ptr:PyThreadState", ""},
		{"tstate2", "ptr:PyThreadState", ""}, // by struct tag
		{"alias", "ptr:PyObject", ""},        // through qualifiers and a typedef of a typedef
		{"grid", "arr:2:arr:3:i32", ""},
		{"pairs", "arr:4:struct", ""},
		{"objs", "arr:2:PyObject", ""},
		{"callback", "ptr:void", ""},
		{"callbacks", "arr:3:ptr:void", ""},
		{"items", "ptr:ptr:PyObject", ""},
		{"color", "i32", ""},
		{"flag", "bool", ""},
		{"uc", "u8", ""},
		{"sc", "i8", ""},
		{"codeunits", "ptr:u16", ""},
		{"ld", "arr:16:u8", ""}, // long double: not in the grammar
		{"l1", "struct", ""},
		{"l1.l2", "struct", ""},
		{"l1.l2.l3", "struct", ""},
		{"l1.l2.l3.l4", "struct", ""}, // deep5 below it is a fifth level: cut
		{"tail", "arr:0:i8", ""},
	}
	if len(root.Members) != len(want) {
		var got []string
		for _, m := range root.Members {
			got = append(got, m.Path)
		}
		t.Errorf("Root has %d members, want %d: %v", len(root.Members), len(want), got)
	}
	for _, w := range want {
		m := root.member(w.path)
		if m == nil {
			t.Errorf("Root.%s missing", w.path)
			continue
		}
		key := w.path
		if w.base != "" {
			key = w.base // bit fields have no offsetof: their storage unit is the struct
		}
		off, ok := offsets[key]
		if !ok {
			t.Fatalf("offsets.c does not print %s", key)
		}
		if m.Offset != off || m.Type != w.typ {
			t.Errorf("Root.%s = {%d %s}, want {%d %s}", w.path, m.Offset, m.Type, off, w.typ)
		}
	}
	if !strings.Contains(root.Cut, "members below level 4 left out (1 at level 5)") {
		t.Errorf("Root's cut note %q does not mention deep5", root.Cut)
	}
	for i := 1; i < len(root.Members); i++ {
		if root.Members[i].Offset < root.Members[i-1].Offset {
			t.Errorf("members not in offset order at %s", root.Members[i].Path)
		}
	}
	// PyThreadState's typedef is met first in a.c, where struct _ts is only
	// declared: the definition must come from b.c.
	ts := find(ls, "PyThreadState")
	if ts == nil || ts.Size != 16 || len(ts.Members) != 2 ||
		ts.Members[0] != (member{Path: "next", Offset: 0, Type: "ptr:PyThreadState", depth: 1}) ||
		ts.Members[1].Path != "thread_id" || ts.Members[1].Offset != 8 || ts.Members[1].Type != "i64" {
		t.Errorf("PyThreadState = %+v", ts)
	}
}

func TestCapKeepsShallowLevelsAndTheWalkersPaths(t *testing.T) {
	so, _ := buildCTypes(t)
	ls, err := ctypeLayouts(t, so, rootSet{
		names:      []string{"Root"},
		required:   []string{"Root"},
		capped:     map[string]bool{"Root": true},
		keep:       map[string][]string{"Root": {"l1.l2.l3"}},
		maxMembers: 27,
	})
	if err != nil {
		t.Fatal(err)
	}
	root := find(ls, "Root")
	for _, p := range []string{"ob_base", "state", "tail", "l1", "l1.l2", "l1.l2.l3", "l1.l2.l3.l4"} {
		if root.member(p) == nil {
			t.Errorf("%s was cut", p)
		}
	}
	for _, p := range []string{"ob_base.ob_refcnt", "state.a"} {
		if root.member(p) != nil {
			t.Errorf("%s was kept, though below the cut level and not asked for", p)
		}
	}
	if !strings.Contains(root.Cut, "deeper than 1 levels left out (cap 27)") {
		t.Errorf("cut note %q", root.Cut)
	}

	_, err = ctypeLayouts(t, so, rootSet{names: []string{"Root"}, maxMembers: 10})
	if err == nil || !strings.Contains(err.Error(), "exceed the cap of 10") {
		t.Errorf("an uncapped root over the cap gave %v, want an error", err)
	}
}
