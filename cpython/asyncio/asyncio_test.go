package asyncio

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/typesys"
)

// debugInfo is the DWARF of one ELF file: its own, or its detached debug
// file under dir/.build-id.
type debugInfo struct {
	types *typesys.DWARFTypes
	file  string // where the DWARF is
	elf   *elf.File
}

func openDebugInfo(t *testing.T, path, debugDir string) *debugInfo {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	dwarfFile, df := path, f
	if f.Section(".debug_info") == nil {
		id, err := pytest.BuildID(path)
		if err != nil || id == "" || debugDir == "" {
			return nil
		}
		dbg := filepath.Join(debugDir, ".build-id", id[:2], id[2:]+".debug")
		if df, err = elf.Open(dbg); err != nil {
			return nil
		}
		t.Cleanup(func() { df.Close() })
		dwarfFile = dbg
	}
	d, err := df.DWARF()
	if err != nil {
		t.Fatalf("DWARF of %s: %v", dwarfFile, err)
	}
	return &debugInfo{types: typesys.NewDWARFTypes(d, 8, dwarfFile), file: dwarfFile, elf: f}
}

// asyncioFile is the file that defines _asyncio in interpreter i: its
// extension module, or (built in) the interpreter's own file.
func asyncioFile(t *testing.T, i pytest.Interpreter) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := i.Command(ctx, nil, "-c", "import _asyncio; print(getattr(_asyncio, '__file__', ''))").Output()
	if err != nil {
		t.Fatalf("%s: import _asyncio: %v", i.Name(), err)
	}
	if f := strings.TrimSpace(string(out)); f != "" {
		return f
	}
	return coreFile(t, i)
}

// coreFile is libpython if the interpreter has one, else its executable.
func coreFile(t *testing.T, i pytest.Interpreter) string {
	t.Helper()
	files, err := i.Files()
	if err != nil {
		t.Fatal(err)
	}
	return files[len(files)-1]
}

func asyncioInterpreters(t *testing.T, minMinor int) []pytest.Interpreter {
	all, err := pytest.DiscoverAll()
	if err != nil {
		t.Logf("discovering interpreters: %v", err)
	}
	var out []pytest.Interpreter
	for _, i := range all {
		if i.AtLeast(3, minMinor) {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		t.Skipf("no CPython 3.%d+ interpreter here (pyenv, or run testdata/pythons/fetch.sh)", minMinor)
	}
	return out
}

func offsetIn(t *testing.T, typ *typesys.Type, path string) int64 {
	t.Helper()
	o, err := abi.MemberPathOffset(typ, path)
	if err != nil {
		return -1
	}
	return o
}

// TestTaskObjTableMatchesTheBuildsDWARF checks pycore's TaskObj table, row by
// row, against the DWARF of every build here that has it: the offset of
// each member pycore reads, and the size.
func TestTaskObjTableMatchesTheBuildsDWARF(t *testing.T) {
	checked := map[string][]string{}
	minors := map[string]bool{}
	for _, i := range asyncioInterpreters(t, 8) {
		minors[i.Minor] = true
		file := asyncioFile(t, i)
		di := openDebugInfo(t, file, i.DebugDir)
		if di == nil {
			t.Logf("%s: no DWARF for %s", i.Name(), file)
			continue
		}
		task, err := di.types.Lookup("TaskObj")
		if err != nil {
			t.Errorf("%s: %v", i.Name(), err)
			continue
		}
		obj, err := di.types.Lookup("PyObject")
		if err != nil {
			t.Errorf("%s: %v", i.Name(), err)
			continue
		}
		v, err := abi.ParseVersion(i.Version)
		if err != nil {
			t.Fatal(err)
		}
		tl, err := builtinTaskLayout(v, obj.Resolve().Size, 8)
		if err != nil {
			t.Errorf("%s: %v", i.Name(), err)
			continue
		}
		for _, m := range []struct {
			member string
			table  int64
		}{
			{"task_loop", tl.loop}, {"task_callback0", tl.callback0}, {"task_callbacks", tl.callbacks},
			{"task_state", tl.state}, {"task_fut_waiter", tl.waiter}, {"task_coro", tl.coro},
			{"task_name", tl.name}, {"task_awaited_by", tl.awaitedBy},
			{"task_awaited_by_is_set", tl.awaitedByIsSet}, {"task_node", tl.node},
		} {
			if got := offsetIn(t, task, m.member); got != m.table {
				t.Errorf("%s: TaskObj.%s is at %d in %s, the table says %d", i.Name(), m.member, got, di.file, m.table)
			}
		}
		if size := task.Resolve().Size; size != tl.size {
			t.Errorf("%s: sizeof(TaskObj) is %d in %s, the table says %d", i.Name(), size, di.file, tl.size)
		}
		checked[i.Minor] = append(checked[i.Minor], i.Name())
	}
	for m := range minors {
		if len(checked[m]) == 0 {
			t.Errorf("no build of CPython %s with DWARF checked the TaskObj table", m)
		}
	}
	t.Logf("TaskObj table checked against %v", checked)
}

// memReader is a core.Reader over bytes at a base address.
type memReader struct {
	base core.Address
	data []byte
}

func (m memReader) ReadAt(p []byte, addr core.Address) (int, error) {
	if addr < m.base || uint64(addr-m.base) > uint64(len(m.data)) {
		return 0, &core.ReadError{Addr: addr, Size: len(p), Reason: "not mapped"}
	}
	n := copy(p, m.data[uint64(addr-m.base):])
	if n < len(p) {
		return n, &core.ReadError{Addr: addr.Add(int64(n)), Size: len(p), Reason: "not mapped"}
	}
	return n, nil
}

func bytesReader(base core.Address, data []byte) core.Reader {
	return core.Reader{Mem: memReader{base, data}, Order: binary.LittleEndian, PtrSize: 8}
}

// TestAsyncioDebugSectionMatchesDWARF decodes the .AsyncioDebug section of
// each 3.14+ build as pycore reads it from a core, and checks every offset
// and size against the build's DWARF: TaskObj's members, and the thread
// and interpreter state members libpython (or the executable) defines.
func TestAsyncioDebugSectionMatchesDWARF(t *testing.T) {
	checked := 0
	for _, i := range asyncioInterpreters(t, 14) {
		file := asyncioFile(t, i)
		f, err := elf.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sec := f.Section(".AsyncioDebug")
		if sec == nil {
			t.Errorf("%s: %s has no .AsyncioDebug section", i.Name(), file)
			continue
		}
		data, err := sec.Data()
		if err != nil {
			t.Fatal(err)
		}
		d, err := decodeAsyncioDebug(bytesReader(core.Address(sec.Addr), data), core.Address(sec.Addr), sec.Size)
		if err != nil {
			t.Errorf("%s: %v", i.Name(), err)
			continue
		}
		mod := openDebugInfo(t, file, i.DebugDir)
		lib := openDebugInfo(t, coreFile(t, i), i.DebugDir)
		if mod == nil || lib == nil {
			t.Logf("%s: no DWARF for %s or its interpreter", i.Name(), file)
			continue
		}
		lookup := func(di *debugInfo, names ...string) *typesys.Type {
			for _, n := range names {
				if typ, err := di.types.Lookup(n); err == nil {
					return typ
				}
			}
			t.Fatalf("%s: none of %v in %s", i.Name(), names, di.file)
			return nil
		}
		task := lookup(mod, "TaskObj")
		tstate := lookup(lib, "_PyThreadStateImpl")
		interp := lookup(lib, "PyInterpreterState", "struct _is")
		for _, c := range []struct {
			what      string
			published int64
			dwarf     int64
		}{
			{"sizeof(TaskObj)", d.taskSize, task.Resolve().Size},
			{"TaskObj.task_name", d.taskName, offsetIn(t, task, "task_name")},
			{"TaskObj.task_awaited_by", d.taskAwaitedBy, offsetIn(t, task, "task_awaited_by")},
			{"TaskObj.task_is_task", d.taskIsTask, offsetIn(t, task, "task_is_task")},
			{"TaskObj.task_awaited_by_is_set", d.taskAwaitedByIsSet, offsetIn(t, task, "task_awaited_by_is_set")},
			{"TaskObj.task_coro", d.taskCoro, offsetIn(t, task, "task_coro")},
			{"TaskObj.task_node", d.taskNode, offsetIn(t, task, "task_node")},
			{"sizeof(PyInterpreterState)", d.interpSize, interp.Resolve().Size},
			{"PyInterpreterState.asyncio_tasks_head", d.interpTasksHead, offsetIn(t, interp, "asyncio_tasks_head")},
			{"sizeof(_PyThreadStateImpl)", d.tstateSize, tstate.Resolve().Size},
			{"_PyThreadStateImpl.asyncio_running_loop", d.tstateRunningLoop, offsetIn(t, tstate, "asyncio_running_loop")},
			{"_PyThreadStateImpl.asyncio_running_task", d.tstateRunningTask, offsetIn(t, tstate, "asyncio_running_task")},
			{"_PyThreadStateImpl.asyncio_tasks_head", d.tstateTasksHead, offsetIn(t, tstate, "asyncio_tasks_head")},
		} {
			if c.published != c.dwarf {
				t.Errorf("%s: .AsyncioDebug says %s is %d, the DWARF (%s, %s) %d", i.Name(), c.what, c.published, mod.file, lib.file, c.dwarf)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Error("no 3.14+ build with DWARF checked the .AsyncioDebug decoder")
	}
}

// TestFrameStatesMatchTheBuildsEnum checks the generator frame states pycore
// knows per version against the _framestate enum in each minor's DWARF.
func TestFrameStatesMatchTheBuildsEnum(t *testing.T) {
	done := map[string]bool{}
	var minors []string
	for _, i := range asyncioInterpreters(t, 10) {
		if !done[i.Minor] {
			minors = append(minors, i.Minor)
		}
		if done[i.Minor] || i.ABIFlags != "" {
			continue
		}
		di := openDebugInfo(t, coreFile(t, i), i.DebugDir)
		if di == nil {
			continue
		}
		typ, err := di.types.Lookup("enum _framestate")
		if err != nil {
			t.Errorf("%s: %v", i.Name(), err)
			continue
		}
		vals := map[string]int64{}
		for _, e := range typ.Resolve().Enumerators {
			vals[e.Name] = e.Value
		}
		v, _ := abi.ParseVersion(i.Version)
		fl, err := abi.FlavorFor(v, i.FreeThreaded())
		if err != nil {
			t.Fatal(err)
		}
		g := fl.GenStates
		want := []int64{}
		for _, n := range []string{"FRAME_SUSPENDED_YIELD_FROM", "FRAME_SUSPENDED_YIELD_FROM_LOCKED"} {
			if x, ok := vals[n]; ok {
				want = append(want, x)
			}
		}
		if len(want) == 0 { // before 3.13 a coroutine's await suspends it as FRAME_SUSPENDED
			want = append(want, vals["FRAME_SUSPENDED"])
		}
		sort.Slice(want, func(a, b int) bool { return want[a] < want[b] })
		if fmt.Sprint(want) != fmt.Sprint(g.YieldFrom) {
			t.Errorf("%s: suspended-in-await states %v, the enum %v says %v", i.Name(), g.YieldFrom, vals, want)
		}
		// Finished: the first of the states after the frame stops running.
		finished := int64(1 << 30)
		for _, n := range []string{"FRAME_RETURNED", "FRAME_COMPLETED", "FRAME_CLEARED"} {
			if x, ok := vals[n]; ok && x < finished {
				finished = x
			}
		}
		if g.Finished != finished || vals["FRAME_EXECUTING"] >= finished {
			t.Errorf("%s: finished from state %d, the enum %v says %d", i.Name(), g.Finished, vals, finished)
		}
		done[i.Minor] = true
	}
	for _, m := range minors {
		if !done[m] {
			t.Errorf("no release build of %s with DWARF checked the frame states", m)
		}
	}
}

// TestAsyncioDebugDecoderRejectsBadTables: a short section, an offset past
// its struct, and a size no struct has are errors that say which.
func TestAsyncioDebugDecoderRejectsBadTables(t *testing.T) {
	good := []uint64{168, 136, 96, 108, 109, 128, 152, 0x37248, 0x2a80, 0x3a8, 0x360, 0x368, 0x370}
	enc := func(v []uint64) []byte {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], x)
		}
		return b
	}
	const base = core.Address(0x1000)
	decode := func(v []uint64, size uint64) (*asyncioDebug, error) {
		b := enc(v)
		return decodeAsyncioDebug(bytesReader(base, b), base, size)
	}
	d, err := decode(good, uint64(8*len(good)))
	if err != nil || d.taskCoro != 128 || d.tstateTasksHead != 0x370 || d.interpTasksHead != 0x2a80 {
		t.Fatalf("a 3.14 table: %+v, %v", d, err)
	}
	for _, c := range []struct {
		name string
		mod  func(v []uint64) []uint64
		size uint64
		want string
	}{
		{"a section too short", func(v []uint64) []uint64 { return v }, 64, "want at least 104"},
		{"task_node past TaskObj", func(v []uint64) []uint64 { v[6] = 160; return v }, 104, "task_node at offset 160"},
		{"the running task past the thread state", func(v []uint64) []uint64 { v[11] = 0x3a8; return v }, 104, "thread asyncio_running_task"},
		{"an implausible size", func(v []uint64) []uint64 { v[0] = 1 << 40; return v }, 104, "asyncio_task_object.size"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := c.mod(append([]uint64(nil), good...))
			_, err := decode(v, c.size)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
		})
	}
	// The section's bytes unreadable in the core: the address is named.
	if _, err := decodeAsyncioDebug(bytesReader(base, nil), base.Add(0x100), 104); err == nil || !strings.Contains(err.Error(), "0x1100") {
		t.Errorf("unreadable section: %v", err)
	}
}
