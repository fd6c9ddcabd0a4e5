package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The builds on this machine, as `go generate` would find them, and their
// freshly generated tables (computed once for all tests).
var fresh struct {
	once   sync.Once
	opt    options
	ins    []input
	notes  []string
	tables []versionTable
	err    error
}

func defaultOptions() options {
	return options{
		pyenvRoot:    defaultDir("PYENV_ROOT", ".pyenv"),
		cacheDir:     defaultDir("PYCORE_CACHE", filepath.Join(".cache", "pycore")),
		allowMissing: true,
	}
}

func loadFresh() {
	fresh.once.Do(func() {
		fresh.opt = defaultOptions()
		fresh.ins, fresh.notes, fresh.err = discover(fresh.opt)
		if fresh.err == nil && len(fresh.ins) > 0 {
			fresh.tables, fresh.err = buildTables(fresh.ins)
		}
	})
}

func freshTables(t *testing.T) []versionTable {
	t.Helper()
	loadFresh()
	if fresh.err != nil {
		t.Fatal(fresh.err)
	}
	if len(fresh.tables) == 0 {
		t.Skipf("no CPython 3.8-3.13 build with DWARF on this machine (looked under %s/versions and %s/pythons)",
			fresh.opt.pyenvRoot, fresh.opt.cacheDir)
	}
	return fresh.tables
}

func find(ls []structLayout, name string) *structLayout {
	for i := range ls {
		if ls[i].Name == name {
			return &ls[i]
		}
	}
	return nil
}

func (l *structLayout) member(path string) *member {
	for i := range l.Members {
		if l.Members[i].Path == path {
			return &l.Members[i]
		}
	}
	return nil
}

type fact struct {
	line                int
	version, root, path string
	value               int64
	typ                 string
}

func loadFacts(t *testing.T) []fact {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "facts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var facts []fact
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		w := strings.Fields(line)
		if len(w) != 4 && len(w) != 5 {
			t.Fatalf("facts.txt:%d: want VERSION ROOT PATH VALUE [TYPE], got %q", n, line)
		}
		v, err := strconv.ParseInt(w[3], 10, 64)
		if err != nil {
			t.Fatalf("facts.txt:%d: %v", n, err)
		}
		fc := fact{line: n, version: w[0], root: w[1], path: w[2], value: v}
		if len(w) == 5 {
			fc.typ = w[4]
		}
		facts = append(facts, fc)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return facts
}

func versionMatches(prefix, v string) bool {
	return v == prefix || strings.HasPrefix(v, prefix+".")
}

func TestFreshTablesAgreeWithKnownFacts(t *testing.T) {
	tables := freshTables(t)
	for _, fc := range loadFacts(t) {
		checked := 0
		ver := strings.TrimRight(fc.version, "td")
		flags := fc.version[len(ver):]
		for _, tb := range tables {
			if !versionMatches(ver, tb.in.Version) {
				continue
			}
			// "3.13t" facts hold for free-threaded builds only, "3.11d" for
			// Py_DEBUG builds only, plain ones for every build not free-threaded.
			if strings.Contains(tb.in.Flags, "t") != strings.Contains(flags, "t") || strings.Contains(flags, "d") && !strings.Contains(tb.in.Flags, "d") {
				continue
			}
			checked++
			where := fmt.Sprintf("facts.txt:%d: %s (%s) %s", fc.line, tb.in.Version, tb.in.Origin, fc.root)
			l := find(tb.structs, fc.root)
			if l == nil {
				t.Errorf("%s: no such struct in the table", where)
				continue
			}
			if fc.path == "sizeof" {
				if l.Size != fc.value {
					t.Errorf("%s: size %d, want %d", where, l.Size, fc.value)
				}
				continue
			}
			m := l.member(fc.path)
			switch {
			case m == nil:
				t.Errorf("%s: no member %s", where, fc.path)
			case m.Offset != fc.value:
				t.Errorf("%s.%s: offset %d, want %d", where, fc.path, m.Offset, fc.value)
			case fc.typ != "" && m.Type != fc.typ:
				t.Errorf("%s.%s: type %s, want %s", where, fc.path, m.Type, fc.typ)
			}
		}
		if checked == 0 {
			t.Logf("facts.txt:%d: not checked, no %s build here", fc.line, fc.version)
		}
	}
}

// 3.13 builds carry CPython's own offsetof() values in _PyRuntime.debug_offsets,
// initialized data in the ELF file: every one must match the table.
func TestFreshTablesAgreeWithDebugOffsets(t *testing.T) {
	// debug_offsets field -> root and member path ("sizeof" for the size).
	want := map[string][2]string{
		"runtime_state.size":                          {"_PyRuntimeState", "sizeof"},
		"runtime_state.finalizing":                    {"_PyRuntimeState", "_finalizing"},
		"runtime_state.interpreters_head":             {"_PyRuntimeState", "interpreters.head"},
		"interpreter_state.size":                      {"PyInterpreterState", "sizeof"},
		"interpreter_state.id":                        {"PyInterpreterState", "id"},
		"interpreter_state.next":                      {"PyInterpreterState", "next"},
		"interpreter_state.threads_head":              {"PyInterpreterState", "threads.head"},
		"interpreter_state.gc":                        {"PyInterpreterState", "gc"},
		"interpreter_state.imports_modules":           {"PyInterpreterState", "imports.modules"},
		"interpreter_state.sysdict":                   {"PyInterpreterState", "sysdict"},
		"interpreter_state.builtins":                  {"PyInterpreterState", "builtins"},
		"interpreter_state.ceval_gil":                 {"PyInterpreterState", "ceval.gil"},
		"interpreter_state.gil_runtime_state":         {"PyInterpreterState", "_gil"},
		"interpreter_state.gil_runtime_state_enabled": {"PyInterpreterState", "_gil.enabled"},
		"interpreter_state.gil_runtime_state_locked":  {"PyInterpreterState", "_gil.locked"},
		"interpreter_state.gil_runtime_state_holder":  {"PyInterpreterState", "_gil.last_holder"},
		"thread_state.size":                           {"PyThreadState", "sizeof"},
		"thread_state.prev":                           {"PyThreadState", "prev"},
		"thread_state.next":                           {"PyThreadState", "next"},
		"thread_state.interp":                         {"PyThreadState", "interp"},
		"thread_state.current_frame":                  {"PyThreadState", "current_frame"},
		"thread_state.thread_id":                      {"PyThreadState", "thread_id"},
		"thread_state.native_thread_id":               {"PyThreadState", "native_thread_id"},
		"thread_state.datastack_chunk":                {"PyThreadState", "datastack_chunk"},
		"thread_state.status":                         {"PyThreadState", "_status"},
		"interpreter_frame.size":                      {"_PyInterpreterFrame", "sizeof"},
		"interpreter_frame.previous":                  {"_PyInterpreterFrame", "previous"},
		"interpreter_frame.executable":                {"_PyInterpreterFrame", "f_executable"},
		"interpreter_frame.instr_ptr":                 {"_PyInterpreterFrame", "instr_ptr"},
		"interpreter_frame.localsplus":                {"_PyInterpreterFrame", "localsplus"},
		"interpreter_frame.owner":                     {"_PyInterpreterFrame", "owner"},
		"code_object.size":                            {"PyCodeObject", "sizeof"},
		"code_object.filename":                        {"PyCodeObject", "co_filename"},
		"code_object.name":                            {"PyCodeObject", "co_name"},
		"code_object.qualname":                        {"PyCodeObject", "co_qualname"},
		"code_object.linetable":                       {"PyCodeObject", "co_linetable"},
		"code_object.firstlineno":                     {"PyCodeObject", "co_firstlineno"},
		"code_object.argcount":                        {"PyCodeObject", "co_argcount"},
		"code_object.localsplusnames":                 {"PyCodeObject", "co_localsplusnames"},
		"code_object.localspluskinds":                 {"PyCodeObject", "co_localspluskinds"},
		"code_object.co_code_adaptive":                {"PyCodeObject", "co_code_adaptive"},
		"pyobject.size":                               {"PyObject", "sizeof"},
		"pyobject.ob_type":                            {"PyObject", "ob_type"},
		"type_object.size":                            {"PyTypeObject", "sizeof"},
		"type_object.tp_name":                         {"PyTypeObject", "tp_name"},
		"type_object.tp_repr":                         {"PyTypeObject", "tp_repr"},
		"type_object.tp_flags":                        {"PyTypeObject", "tp_flags"},
		"tuple_object.size":                           {"PyTupleObject", "sizeof"},
		"tuple_object.ob_item":                        {"PyTupleObject", "ob_item"},
		"tuple_object.ob_size":                        {"PyTupleObject", "ob_base.ob_size"},
		"list_object.size":                            {"PyListObject", "sizeof"},
		"list_object.ob_item":                         {"PyListObject", "ob_item"},
		"list_object.ob_size":                         {"PyListObject", "ob_base.ob_size"},
		"dict_object.size":                            {"PyDictObject", "sizeof"},
		"dict_object.ma_keys":                         {"PyDictObject", "ma_keys"},
		"dict_object.ma_values":                       {"PyDictObject", "ma_values"},
		"float_object.size":                           {"PyFloatObject", "sizeof"},
		"float_object.ob_fval":                        {"PyFloatObject", "ob_fval"},
		"long_object.size":                            {"PyLongObject", "sizeof"},
		"long_object.lv_tag":                          {"PyLongObject", "long_value.lv_tag"},
		"long_object.ob_digit":                        {"PyLongObject", "long_value.ob_digit"},
		"bytes_object.size":                           {"PyBytesObject", "sizeof"},
		"bytes_object.ob_size":                        {"PyBytesObject", "ob_base.ob_size"},
		"bytes_object.ob_sval":                        {"PyBytesObject", "ob_sval"},
		"unicode_object.size":                         {"PyUnicodeObject", "sizeof"},
		"unicode_object.state":                        {"PyUnicodeObject", "_base._base.state"},
		"unicode_object.length":                       {"PyUnicodeObject", "_base._base.length"},
		"unicode_object.asciiobject_size":             {"PyASCIIObject", "sizeof"},
	}
	checked := 0
	for _, tb := range freshTables(t) {
		if !versionMatches("3.13", tb.in.Version) || tb.in.Data == "" {
			continue
		}
		checked++
		t.Run(tb.in.Version+"-"+tb.in.Origin, func(t *testing.T) {
			rt := find(tb.structs, "_PyRuntimeState")
			image := runtimeImage(t, tb.in.Data, rt.Size)
			field := func(path string) uint64 {
				m := rt.member("debug_offsets." + path)
				if m == nil || m.Type != "u64" {
					t.Fatalf("no u64 member debug_offsets.%s in the table", path)
				}
				return binary.LittleEndian.Uint64(image[m.Offset:])
			}
			if c := rt.member("debug_offsets.cookie"); c == nil || string(image[c.Offset:c.Offset+8]) != "xdebugpy" {
				t.Fatalf("no xdebugpy cookie at debug_offsets.cookie")
			}
			if hex, _ := versionHex(tb.in.Version); field("version") != uint64(hex) {
				t.Errorf("debug_offsets.version 0x%x, want 0x%x", field("version"), hex)
			}
			compared := 0
			for _, m := range rt.Members {
				path, ok := strings.CutPrefix(m.Path, "debug_offsets.")
				if !ok || m.Type == "struct" || strings.Count(path, ".") != 1 {
					continue
				}
				got := int64(field(path))
				if path == "gc.size" || path == "gc.collecting" {
					// struct _gc_runtime_state is no root: check through interp.gc.
					interp := find(tb.structs, "PyInterpreterState")
					gc, coll := interp.member("gc"), interp.member("gc.collecting")
					if path == "gc.collecting" && (gc == nil || coll == nil || coll.Offset-gc.Offset != got) {
						t.Errorf("debug_offsets.gc.collecting = %d, table has gc %v, gc.collecting %v", got, gc, coll)
					}
					compared++
					continue
				}
				w, ok := want[path]
				if !ok {
					t.Errorf("debug_offsets.%s = %d: the test does not know which member it names", path, got)
					continue
				}
				l := find(tb.structs, w[0])
				if l == nil {
					t.Errorf("debug_offsets.%s: no %s in the table", path, w[0])
					continue
				}
				compared++
				if w[1] == "sizeof" {
					if l.Size != got {
						t.Errorf("debug_offsets.%s = %d, table's sizeof %s = %d", path, got, w[0], l.Size)
					}
					continue
				}
				mm := l.member(w[1])
				if mm == nil && got == 0 {
					continue // CPython writes 0 for what the build lacks (3.13 GIL builds: _gil.enabled)
				}
				if path == "interpreter_state.gil_runtime_state_enabled" && mm != nil {
					// offsetof(struct _gil_runtime_state, enabled): relative to the GIL
					// struct, and 0 in 3.13t, where enabled is its first member.
					if g := l.member("_gil"); g != nil && mm.Offset-g.Offset == got {
						continue
					}
				}
				if mm == nil || mm.Offset != got {
					t.Errorf("debug_offsets.%s = %d, table's %s.%s is %v", path, got, w[0], w[1], mm)
				}
			}
			if compared < len(want) {
				t.Errorf("compared %d debug offsets, want at least %d", compared, len(want))
			}
		})
	}
	if checked == 0 {
		t.Log("no 3.13 build with its ELF file here: debug offsets not compared")
	}
}

// runtimeImage reads the initialized bytes of _PyRuntime from an ELF file.
func runtimeImage(t *testing.T, path string, size int64) []byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name != "_PyRuntime" {
			continue
		}
		if int64(s.Size) != size {
			t.Fatalf("%s: _PyRuntime is %d bytes, table says %d", path, s.Size, size)
		}
		for _, sec := range f.Sections {
			if sec.Type == elf.SHT_NOBITS || s.Value < sec.Addr || s.Value+s.Size > sec.Addr+sec.Size {
				continue
			}
			b := make([]byte, 4096) // the debug offsets are at the start
			if _, err := sec.ReadAt(b, int64(s.Value-sec.Addr)); err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("%s: no initialized _PyRuntime", path)
	return nil
}

// gdb's `ptype /o` is an independent reader of the same DWARF: every member it
// lists (top level, and inside anonymous or struct-tagged nested types) must
// be in the table at the same offset, and the sizes must agree.
func TestFreshTablesAgreeWithGDB(t *testing.T) {
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		t.Skip("gdb is not installed: cannot cross-check layouts with ptype /o")
	}
	for _, tb := range freshTables(t) {
		t.Run(tb.in.Version+"-"+tb.in.Origin, func(t *testing.T) {
			t.Parallel()
			args := []string{"-batch", "-nx", "-ex", "set max-value-size unlimited", "-ex", "set width 0", "-ex", "set height 0"}
			for _, l := range tb.structs {
				args = append(args, "-ex", "echo @@root "+l.Name+"\\n", "-ex", "ptype /o "+l.Name)
			}
			args = append(args, tb.in.Path)
			out, err := exec.Command(gdb, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("gdb: %v\n%s", err, out)
			}
			parts := strings.Split(string(out), "@@root ")[1:]
			if len(parts) != len(tb.structs) {
				t.Fatalf("gdb printed %d types, want %d", len(parts), len(tb.structs))
			}
			for i, part := range parts {
				l := &tb.structs[i]
				name, body, _ := strings.Cut(part, "\n")
				if name != l.Name {
					t.Fatalf("gdb output for %q where %q was expected", name, l.Name)
				}
				compareWithGDB(t, l, body)
			}
		})
	}
}

type gdbMember struct {
	path     string
	bitPos   int64 // from the start of the root
	bitField bool
	decl     string // the C declaration gdb printed
}

var (
	gdbOffsetRE = regexp.MustCompile(`^/\*\s*(\d+)(?::\s*(\d+))?\s*\|\s*(\d+)\s*\*/(.*)$`)
	gdbUnionRE  = regexp.MustCompile(`^/\*\s*(\d+)\s*\*/(.*)$`) // a union member: size only
	gdbCloseRE  = regexp.MustCompile(`^}\s*(\w*)\s*((?:\[\d+\])*)\s*;$`)
	gdbSizeRE   = regexp.MustCompile(`^/\* total size \(bytes\):\s*(\d+) \*/$`)
	funcPtrRE   = regexp.MustCompile(`\(\*\s*(\w+)((?:\[\d*\])*)\)`)
	declNameRE  = regexp.MustCompile(`(\w+)\s*((?:\[\d*\])*)\s*(?::\s*\d+)?;$`)
)

// parsePtype reads the members and size from gdb's `ptype /o` of one struct.
func parsePtype(out string) ([]gdbMember, int64, error) {
	type frame struct {
		off     int64
		union   bool
		members []gdbMember
	}
	var stack []*frame
	size := int64(-1)
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		if len(stack) == 0 {
			if i := strings.Index(line, "type = "); i >= 0 && strings.HasSuffix(line, "{") {
				stack = append(stack, &frame{union: strings.HasPrefix(line[i:], "type = union")})
			}
			continue
		}
		top := stack[len(stack)-1]
		switch {
		case line == "" || strings.HasPrefix(line, "/* XXX"):
		case gdbSizeRE.MatchString(line):
			if len(stack) == 1 {
				size, _ = strconv.ParseInt(gdbSizeRE.FindStringSubmatch(line)[1], 10, 64)
			}
		case line == "}":
			if len(stack) != 1 {
				return nil, 0, fmt.Errorf("unbalanced braces at %q", raw)
			}
			return top.members, size, nil
		case gdbCloseRE.MatchString(line):
			m := gdbCloseRE.FindStringSubmatch(line)
			if len(stack) < 2 {
				return nil, 0, fmt.Errorf("unbalanced braces at %q", raw)
			}
			stack = stack[:len(stack)-1]
			parent := stack[len(stack)-1]
			switch {
			case m[2] != "": // an array of inline structs: elements are not tabulated
				parent.members = append(parent.members, gdbMember{path: m[1], bitPos: top.off * 8, decl: line})
			case m[1] == "": // anonymous: members belong to the parent
				parent.members = append(parent.members, top.members...)
			default:
				parent.members = append(parent.members, gdbMember{path: m[1], bitPos: top.off * 8, decl: line})
				for _, c := range top.members {
					c.path = m[1] + "." + c.path
					parent.members = append(parent.members, c)
				}
			}
		default:
			var off, bit int64
			var decl string
			bitField := false
			if m := gdbOffsetRE.FindStringSubmatch(line); m != nil {
				off, _ = strconv.ParseInt(m[1], 10, 64)
				if m[2] != "" {
					bit, _ = strconv.ParseInt(m[2], 10, 64)
					bitField = true
				}
				decl = strings.TrimSpace(m[4])
			} else if m := gdbUnionRE.FindStringSubmatch(line); m != nil && top.union {
				off = top.off
				decl = strings.TrimSpace(m[2])
			} else {
				return nil, 0, fmt.Errorf("unrecognized line %q", raw)
			}
			if strings.HasSuffix(decl, "{") {
				stack = append(stack, &frame{off: off, union: strings.HasPrefix(decl, "union")})
				continue
			}
			name := ""
			if m := funcPtrRE.FindStringSubmatch(decl); m != nil {
				name = m[1]
			} else if m := declNameRE.FindStringSubmatch(decl); m != nil {
				name = m[1]
			} else {
				return nil, 0, fmt.Errorf("no member name in %q", raw)
			}
			top.members = append(top.members, gdbMember{path: name, bitPos: off*8 + bit, bitField: bitField, decl: decl})
		}
	}
	return nil, 0, fmt.Errorf("no complete type in gdb's output:\n%s", out)
}

var bitsRE = regexp.MustCompile(`^bits:(\d+):(\d+):`)

func compareWithGDB(t *testing.T, l *structLayout, out string) {
	t.Helper()
	gms, size, err := parsePtype(out)
	if err != nil {
		t.Errorf("%s: %v", l.Name, err)
		return
	}
	if size != l.Size {
		t.Errorf("%s: gdb says %d bytes, table %d", l.Name, size, l.Size)
	}
	seen := map[string]bool{}
	for _, g := range gms {
		seen[g.path] = true
		m := l.member(g.path)
		depth := strings.Count(g.path, ".") + 1
		if m == nil {
			if depth > maxDepth || (cpythonRoots.capped[l.Name] && depth > 1) {
				continue // cut on purpose, and said so in the table
			}
			t.Errorf("%s: gdb lists %s (%s), the table does not", l.Name, g.path, g.decl)
			continue
		}
		pos := m.Offset * 8
		if b := bitsRE.FindStringSubmatch(m.Type); b != nil {
			bo, _ := strconv.ParseInt(b[1], 10, 64)
			pos += bo
		}
		if pos != g.bitPos || g.bitField != strings.HasPrefix(m.Type, "bits:") {
			t.Errorf("%s.%s: table has offset %d type %s, gdb bit %d (%s)", l.Name, g.path, m.Offset, m.Type, g.bitPos, g.decl)
		}
		// Arrays and pointers must be spelled as such.
		d := funcPtrRE.FindStringSubmatch(g.decl)
		if d == nil {
			d = declNameRE.FindStringSubmatch(g.decl)
		}
		if d != nil && d[2] != "" {
			n := strings.TrimPrefix(strings.SplitN(d[2], "]", 2)[0], "[")
			if n == "" {
				n = "0" // a flexible array member
			}
			if !strings.HasPrefix(m.Type, "arr:"+n+":") {
				t.Errorf("%s.%s: table type %s, gdb %q", l.Name, g.path, m.Type, g.decl)
			}
		} else if strings.Contains(g.decl, "*") && !strings.HasPrefix(m.Type, "ptr:") {
			t.Errorf("%s.%s: table type %s, gdb %q", l.Name, g.path, m.Type, g.decl)
		}
	}
	for _, m := range l.Members {
		if !strings.Contains(m.Path, ".") && !seen[m.Path] {
			t.Errorf("%s: table lists %s, gdb does not", l.Name, m.Path)
		}
	}
}

// The committed layouts_gen.go must be what the generator writes from the
// builds it names, wherever they are present here.
func TestCommittedFileIsUpToDate(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("..", "..", "layouts_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(committed, []byte(header)) {
		t.Fatalf("layouts_gen.go does not start with %q", header)
	}
	loadFresh()
	if fresh.err != nil {
		t.Fatal(fresh.err)
	}
	if len(fresh.tables) == 0 {
		t.Skip("none of the builds layouts_gen.go was made from are on this machine; cpython's TestGeneratedLayouts checks the committed tables")
	}
	regenerated, err := render(fresh.tables)
	if err != nil {
		t.Fatal(err)
	}
	oldEntries, newEntries := entries(t, committed), entries(t, regenerated)
	sameSet := len(oldEntries) == len(newEntries)
	for src := range newEntries {
		if _, ok := oldEntries[src]; !ok {
			sameSet = false
			t.Logf("build %q is here but not in layouts_gen.go: run `go generate ./cpython/abi/` to add it", src)
		}
	}
	for src := range oldEntries {
		if _, ok := newEntries[src]; !ok {
			sameSet = false
			t.Logf("build %q of layouts_gen.go is not here: its table is not compared", src)
		}
	}
	if sameSet {
		if !bytes.Equal(committed, regenerated) {
			t.Errorf("layouts_gen.go is stale: run `go generate ./cpython/abi/` (%s)", firstDiff(committed, regenerated))
		}
		return
	}
	oldBlocks, newBlocks := blocks(committed), blocks(regenerated)
	for src, nv := range newEntries {
		ov, ok := oldEntries[src]
		if !ok {
			continue
		}
		if oldBlocks[ov] != newBlocks[nv] {
			t.Errorf("the table of %q in layouts_gen.go is stale: run `go generate ./cpython/abi/` (%s)",
				src, firstDiff([]byte(oldBlocks[ov]), []byte(newBlocks[nv])))
		}
	}
}

var entryRE = regexp.MustCompile(`(?m)^\t\{Version: "[^"]*",(?: \w+: true,)* Source: ("(?:[^"\\]|\\.)*"), Structs: (\w+)\},`)

// entries maps each build's Source to the variable holding its table.
func entries(t *testing.T, src []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, e := range entryRE.FindAllSubmatch(src, -1) {
		s, err := strconv.Unquote(string(e[1]))
		if err != nil {
			t.Fatal(err)
		}
		m[s] = string(e[2])
	}
	if len(m) == 0 {
		t.Fatalf("no entries of generatedLayouts found")
	}
	return m
}

var blockRE = regexp.MustCompile(`(?ms)^var (\w+) = \[\]StructLayout\{\n(.*?)^\}\n`)

// blocks maps each table variable to its body.
func blocks(src []byte) map[string]string {
	m := map[string]string{}
	for _, b := range blockRE.FindAllSubmatch(src, -1) {
		m[string(b[1])] = string(b[2])
	}
	return m
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: committed %q, generated %q", i+1, x, y)
		}
	}
	return "identical"
}
