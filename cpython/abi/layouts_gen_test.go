package abi

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// These tests check the committed generated tables on any machine, with or
// without the builds they came from (./internal/genlayouts's tests compare
// them with freshly generated ones where the builds exist).

var layoutVersionRE = regexp.MustCompile(`^3\.(\d+)\.\d+((a|b|rc)\d+)?$`)

func layoutMinor(t *testing.T, v string) int {
	t.Helper()
	m := layoutVersionRE.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("generated table version %q is not a CPython 3 version", v)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func layoutOf(vl *VersionLayouts, name string) *StructLayout {
	for i := range vl.Structs {
		if vl.Structs[i].Name == name {
			return &vl.Structs[i]
		}
	}
	return nil
}

func memberOf(s *StructLayout, path string) *MemberLayout {
	for i := range s.Members {
		if s.Members[i].Path == path {
			return &s.Members[i]
		}
	}
	return nil
}

// walkerPaths are the members the walker reads, by the minors that have them.
var walkerPaths = []struct {
	first, last int // minors
	root        string
	paths       []string
}{
	{7, 13, "_PyRuntimeState", []string{"interpreters.head", "interpreters.main"}},
	{8, 13, "_PyRuntimeState", []string{"main_thread"}},
	{7, 8, "_PyRuntimeState", []string{"finalizing"}},
	{9, 12, "_PyRuntimeState", []string{"_finalizing._value"}},
	{13, 13, "_PyRuntimeState", []string{"_finalizing", "debug_offsets.cookie", "debug_offsets.version",
		"debug_offsets.thread_state.current_frame", "debug_offsets.interpreter_frame.owner"}},
	{7, 11, "_PyRuntimeState", []string{"gilstate.tstate_current", "ceval.gil.locked", "ceval.gil.last_holder"}},
	{6, 13, "PyInterpreterState", []string{"next", "sysdict", "builtins"}},
	{7, 13, "PyInterpreterState", []string{"id"}},
	{9, 13, "PyInterpreterState", []string{"runtime"}},
	{6, 10, "PyInterpreterState", []string{"tstate_head"}},
	{11, 13, "PyInterpreterState", []string{"threads.head"}},
	{6, 11, "PyInterpreterState", []string{"modules"}},
	{8, 11, "PyInterpreterState", []string{"finalizing"}},
	{12, 13, "PyInterpreterState", []string{"imports.modules", "ceval.gil", "_gil.locked", "_gil.last_holder", "_finalizing"}},
	{6, 13, "PyThreadState", []string{"prev", "next", "interp", "thread_id", "dict"}},
	{7, 13, "PyThreadState", []string{"exc_info", "exc_state"}},
	{6, 10, "PyThreadState", []string{"frame"}},
	{11, 12, "PyThreadState", []string{"cframe"}},
	{13, 13, "PyThreadState", []string{"current_frame"}},
	{11, 13, "PyThreadState", []string{"native_thread_id", "datastack_chunk"}},
	{6, 11, "PyThreadState", []string{"curexc_type", "curexc_value", "curexc_traceback"}},
	{12, 13, "PyThreadState", []string{"current_exception", "_status"}},
	{11, 12, "_PyCFrame", []string{"current_frame", "previous"}},
	{11, 13, "_PyInterpreterFrame", []string{"previous", "owner", "localsplus"}},
	{11, 12, "_PyInterpreterFrame", []string{"f_code", "prev_instr"}},
	{13, 13, "_PyInterpreterFrame", []string{"f_executable", "instr_ptr"}},
	{6, 13, "PyFrameObject", []string{"f_back"}},
	{6, 10, "PyFrameObject", []string{"f_code", "f_lasti", "f_lineno"}},
	{11, 13, "PyFrameObject", []string{"f_frame"}},
	{6, 13, "PyCodeObject", []string{"co_filename", "co_name", "co_firstlineno", "co_argcount"}},
	{6, 9, "PyCodeObject", []string{"co_lnotab"}},
	{10, 13, "PyCodeObject", []string{"co_linetable"}},
	{11, 13, "PyCodeObject", []string{"co_qualname", "co_code_adaptive", "co_localsplusnames"}},
	{6, 13, "PyTypeObject", []string{"tp_name", "tp_flags", "tp_basicsize"}},
	{6, 13, "PyTupleObject", []string{"ob_base.ob_size", "ob_item"}},
	{6, 13, "PyASCIIObject", []string{"length", "state.kind", "state.compact", "state.ascii"}},
}

func TestGeneratedLayoutsCoverEveryMinorAndTheWalkersPaths(t *testing.T) {
	minors := map[int]bool{}
	for i := range generatedLayouts {
		vl := &generatedLayouts[i]
		minor := layoutMinor(t, vl.Version)
		minors[minor] = true
		for _, w := range walkerPaths {
			if minor < w.first || minor > w.last {
				continue
			}
			s := layoutOf(vl, w.root)
			if s == nil {
				t.Errorf("%s: no %s", vl.Version, w.root)
				continue
			}
			for _, p := range w.paths {
				if memberOf(s, p) == nil {
					t.Errorf("%s: %s has no %s", vl.Version, w.root, p)
				}
			}
		}
	}
	for m := 6; m <= 13; m++ {
		if !minors[m] {
			t.Errorf("no generated table for 3.%d", m)
		}
	}
}

var (
	layoutIntSizes = map[string]int64{"i8": 1, "u8": 1, "bool": 1, "i16": 2, "u16": 2,
		"i32": 4, "u32": 4, "i64": 8, "u64": 8, "f64": 8}
	layoutArrRE  = regexp.MustCompile(`^arr:(\d+):(.+)$`)
	layoutBitsRE = regexp.MustCompile(`^bits:(\d+):(\d+):(.+)$`)
)

// layoutTypeSize checks a type against the grammar and returns its size in
// bytes (-1 when the grammar does not say, as for "struct").
func layoutTypeSize(vl *VersionLayouts, typ string) (int64, error) {
	if n, ok := layoutIntSizes[typ]; ok {
		return n, nil
	}
	if typ == "struct" {
		return -1, nil
	}
	if rest, ok := strings.CutPrefix(typ, "ptr:"); ok {
		if rest == "void" {
			return 8, nil
		}
		if _, err := layoutTypeSize(vl, rest); err != nil {
			return 0, err
		}
		return 8, nil
	}
	if m := layoutArrRE.FindStringSubmatch(typ); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		es, err := layoutTypeSize(vl, m[2])
		if err != nil || es < 0 {
			return -1, err
		}
		return n * es, nil
	}
	if m := layoutBitsRE.FindStringSubmatch(typ); m != nil {
		off, _ := strconv.ParseInt(m[1], 10, 64)
		size, _ := strconv.ParseInt(m[2], 10, 64)
		unit, ok := layoutIntSizes[m[3]]
		if !ok || size == 0 || off+size > unit*8 {
			return 0, fmt.Errorf("bad bit field %q", typ)
		}
		return unit, nil
	}
	if s := layoutOf(vl, typ); s != nil {
		return s.Size, nil
	}
	return 0, fmt.Errorf("type %q is neither in the grammar nor a struct of this version", typ)
}

func TestGeneratedLayoutsAreConsistent(t *testing.T) {
	seen := map[string]bool{}
	for i := range generatedLayouts {
		vl := &generatedLayouts[i]
		if vl.Source == "" || seen[vl.Source] {
			t.Errorf("%s: empty or repeated Source %q", vl.Version, vl.Source)
		}
		seen[vl.Source] = true
		names := map[string]bool{}
		for _, s := range vl.Structs {
			where := vl.Version + " " + s.Name
			if names[s.Name] || s.Size <= 0 {
				t.Errorf("%s: repeated, or size %d", where, s.Size)
			}
			names[s.Name] = true
			paths := map[string]string{}
			for j, m := range s.Members {
				if j > 0 && m.Offset < s.Members[j-1].Offset {
					t.Errorf("%s.%s: not in offset order", where, m.Path)
				}
				if _, dup := paths[m.Path]; dup {
					t.Errorf("%s.%s: repeated", where, m.Path)
				}
				paths[m.Path] = m.Type
				if i := strings.LastIndex(m.Path, "."); i >= 0 {
					if pt, ok := paths[m.Path[:i]]; !ok || pt != "struct" {
						t.Errorf("%s.%s: parent %s is not a struct listed before it", where, m.Path, m.Path[:i])
					}
				}
				size, err := layoutTypeSize(vl, m.Type)
				if err != nil {
					t.Errorf("%s.%s: %v", where, m.Path, err)
					continue
				}
				if m.Offset < 0 || m.Offset > s.Size || (size > 0 && m.Offset+size > s.Size) ||
					(m.Offset == s.Size && size != 0) {
					t.Errorf("%s.%s: %d bytes at offset %d do not fit in %d", where, m.Path, size, m.Offset, s.Size)
				}
			}
		}
	}
}

// The facts the generator's tests check on fresh tables hold for the committed ones.
// splitFactFlags splits a facts.txt version into the version and its ABI
// flags: "3.13t" holds for free-threaded builds only, "3.11d" for Py_DEBUG
// builds only, a plain version for every build that is not free-threaded.
func splitFactFlags(v string) (string, string) {
	ver := strings.TrimRight(v, "td")
	return ver, v[len(ver):]
}

func TestGeneratedLayoutsAgreeWithKnownFacts(t *testing.T) {
	f, err := os.Open(filepath.Join("internal", "genlayouts", "testdata", "facts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	facts := 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		w := strings.Fields(line)
		if len(w) != 4 && len(w) != 5 {
			t.Fatalf("facts.txt:%d: want VERSION ROOT PATH VALUE [TYPE], got %q", n, line)
		}
		want, err := strconv.ParseInt(w[3], 10, 64)
		if err != nil {
			t.Fatalf("facts.txt:%d: %v", n, err)
		}
		facts++
		ver, flags := splitFactFlags(w[0])
		for i := range generatedLayouts {
			vl := &generatedLayouts[i]
			if vl.Version != ver && !strings.HasPrefix(vl.Version, ver+".") {
				continue
			}
			if vl.FreeThreaded != strings.Contains(flags, "t") || strings.Contains(flags, "d") && !vl.Debug {
				continue
			}
			where := fmt.Sprintf("facts.txt:%d: %s %s", n, vl.Version, w[1])
			s := layoutOf(vl, w[1])
			if s == nil {
				t.Errorf("%s: missing", where)
				continue
			}
			if w[2] == "sizeof" {
				if s.Size != want {
					t.Errorf("%s: size %d, want %d", where, s.Size, want)
				}
				continue
			}
			m := memberOf(s, w[2])
			if m == nil || m.Offset != want || (len(w) == 5 && m.Type != w[4]) {
				t.Errorf("%s.%s = %+v, want offset %d %s", where, w[2], m, want, strings.Join(w[4:], ""))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if facts < 50 {
		t.Errorf("only %d facts read", facts)
	}
}
