package symbols

import (
	"debug/dwarf"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
)

// checkPythonSymbols compares a table with what the interpreter reported
// about itself: load biases from dl_iterate_phdr, addresses from ctypes.
func checkPythonSymbols(t *testing.T, tab *Table, o oracle) {
	t.Helper()
	for _, obj := range o.Objects {
		m := moduleByPath(t, tab, obj.Path)
		if m.ELF == nil {
			t.Errorf("%s: not loaded: %v", obj.Path, m.Err)
			continue
		}
		if m.Bias != obj.Bias {
			t.Errorf("%s: bias %#x, dl_iterate_phdr says %#x", obj.Path, m.Bias, obj.Bias)
		}
	}

	rt, ok := tab.Lookup("_PyRuntime")
	if !ok {
		t.Fatal(`Lookup("_PyRuntime") found nothing`)
	}
	if uint64(rt.Addr) != o.PyRuntime {
		t.Errorf("_PyRuntime at %s, ctypes says %#x", rt.Addr, o.PyRuntime)
	}
	if rt.Func || rt.Size == 0 {
		t.Errorf("_PyRuntime: Func %v Size %d, want a sized data symbol", rt.Func, rt.Size)
	}
	if got := tab.Module(rt.Addr); got != rt.Module {
		t.Errorf("Module(_PyRuntime) = %v, want %v", got, rt.Module)
	}
	if all := tab.LookupAll("_PyRuntime"); len(all) != 1 || all[0].Addr != rt.Addr {
		t.Errorf("LookupAll(_PyRuntime) = %v, want just the one at %s", all, rt.Addr)
	}
	sec, ok := rt.Module.Section(".PyRuntime")
	if !ok {
		t.Errorf("%s: no .PyRuntime section", rt.Module.Path)
	} else if uint64(sec.Addr) != o.PyRuntime {
		t.Errorf(".PyRuntime section at %s, _PyRuntime at %#x", sec.Addr, o.PyRuntime)
	}

	lt, ok := tab.Lookup("PyLong_Type")
	if !ok || uint64(lt.Addr) != o.PyLongType {
		t.Errorf("PyLong_Type: %v %v, ctypes says %#x", lt.Addr, ok, o.PyLongType)
	}
	if s, off, ok := tab.Symbolize(core.Address(o.PyLongType + 8)); !ok || s.Name != "PyLong_Type" || off != 8 {
		t.Errorf("Symbolize(PyLong_Type+8) = %q+%d %v", s.Name, off, ok)
	}
	if s, off, ok := tab.Symbolize(core.Address(o.PyInitialize)); !ok || s.Name != "Py_Initialize" || off != 0 || !s.Func {
		t.Errorf("Symbolize(Py_Initialize) = %q+%d %v (func %v)", s.Name, off, ok, s.Func)
	}
	if s, off, ok := tab.Symbolize(core.Address(o.Malloc + 1)); !ok || uint64(s.Addr) != o.Malloc || off != 1 || !s.Func {
		t.Errorf("Symbolize(malloc+1) = %q at %s +%d %v, malloc is at %#x", s.Name, s.Addr, off, ok, o.Malloc)
	}
	if _, _, ok := tab.Symbolize(0x10); ok {
		t.Error("Symbolize(0x10) found a symbol")
	}
}

// checkLibcDebugFile checks the libc module against its detached debug file
// from libc6-dbg: found by build ID, its .symtab used for local symbols, its
// (compressed) DWARF readable.
func checkLibcDebugFile(t *testing.T, tab *Table, o oracle) {
	t.Helper()
	var libc *Module
	for _, m := range tab.Modules {
		if filepath.Base(m.Path) == "libc.so.6" {
			libc = m
		}
	}
	if libc == nil || libc.ELF == nil {
		t.Fatal("no libc.so.6 module")
	}
	want := filepath.Join("/usr/lib/debug/.build-id", hex.EncodeToString(libc.BuildID[:1]), hex.EncodeToString(libc.BuildID[1:])+".debug")
	if _, err := os.Stat(want); err != nil {
		t.Skipf("libc debug file not installed (libc6-dbg): %v", err)
	}
	if libc.ELF.Section(".symtab") != nil {
		t.Fatal("libc.so.6 is not stripped: this test means to read symbols from its debug file")
	}
	if got := libc.FindDebugFile(); got != want {
		t.Fatalf("libc debug file %q, want %q; tried %v", got, want, libc.DebugSearchLog())
	}
	if libc.DebugFile() != want {
		t.Errorf("DebugFile() = %q after the search", libc.DebugFile())
	}
	// _int_malloc is a local symbol: only the debug file's .symtab has it.
	s, ok := libc.Lookup("_int_malloc")
	if wantAddr := libc.Bias + nmValue(t, want, "_int_malloc"); !ok || uint64(s.Addr) != wantAddr {
		t.Errorf("_int_malloc: %s %v, want %#x", s.Addr, ok, wantAddr)
	}
	if !libc.HasDWARF() {
		t.Fatal("libc: HasDWARF false with a debug file")
	}
	d, err := libc.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	if findDWARFEntry(t, d, dwarf.TagStructType, "malloc_state") == nil {
		t.Error("libc DWARF: no struct malloc_state")
	}
}

// TestLoadPyenvPythonLiveProcess reads the files of a running pyenv 3.12
// (PIE, shared libpython, DWARF) with Objects built from its /proc maps.
func TestLoadPyenvPythonLiveProcess(t *testing.T) {
	python := pyenvPython(t, "3.12.1", "python3.12")
	_, o := startOracle(t, python, t.TempDir())
	p := processFromMaps(t, o.Maps)
	tab, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if len(tab.Warnings) > 0 {
		t.Errorf("warnings: %v", tab.Warnings)
	}
	checkPythonSymbols(t, tab, o)

	rt, _ := tab.Lookup("_PyRuntime")
	lib := rt.Module
	if !strings.Contains(lib.Path, "libpython3.12") {
		t.Errorf("_PyRuntime from %s, want libpython3.12", lib.Path)
	}
	if lib.Bias == 0 || lib.Bias%pageSize != 0 {
		t.Errorf("libpython bias %#x: want a nonzero page multiple", lib.Bias)
	}
	if !lib.HasDWARF() {
		t.Fatal("libpython: HasDWARF false")
	}
	d, err := lib.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	if lib.DebugFile() != "" {
		t.Errorf("libpython: DebugFile %q, but the DWARF is in the file", lib.DebugFile())
	}
	if findDWARFEntry(t, d, dwarf.TagTypedef, "PyThreadState") == nil {
		t.Error("libpython DWARF: no typedef PyThreadState")
	}
	if d2, _ := lib.DWARF(); d2 != d {
		t.Error("DWARF() parsed twice")
	}
	checkLibcDebugFile(t, tab, o)

	// A core whose first mapping of libpython is not at file offset 0 (the
	// first page filtered out, say) still gives the right bias.
	p2 := processFromMaps(t, o.Maps)
	var moved *core.Object
	for _, mp := range p2.Mappings {
		if mp.Object != nil && mp.Object.Path == lib.Path && mp.FileOffset != 0 && moved == nil {
			moved = mp.Object
			moved.Base = mp.Start
		}
	}
	tab2, err := Load(p2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tab2.Close()
	if m := moduleByPath(t, tab2, lib.Path); m.Bias != lib.Bias {
		t.Errorf("libpython seen from a later mapping: bias %#x, want %#x", m.Bias, lib.Bias)
	}
}

// TestLoadDebianPythonLiveProcess reads Debian's stripped, non-PIE python3.11.
func TestLoadDebianPythonLiveProcess(t *testing.T) {
	const python = "/usr/bin/python3.11"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not installed", python)
	}
	_, o := startOracle(t, python, t.TempDir())
	p := processFromMaps(t, o.Maps)
	tab, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	checkPythonSymbols(t, tab, o)
	exe := moduleByPath(t, tab, python)
	if exe.Bias != 0 {
		t.Errorf("non-PIE python bias %#x, want 0", exe.Bias)
	}
	rt, _ := tab.Lookup("_PyRuntime")
	if rt.Module != exe {
		t.Errorf("_PyRuntime from %s, want the executable", rt.Module.Path)
	}
	if exe.ELF.Section(".symtab") != nil {
		t.Fatal("python3.11 has a .symtab: this test means to use .dynsym only")
	}
	if exe.DebugLink == "" {
		t.Error("python3.11: no .gnu_debuglink read")
	}
	if exe.HasDWARF() {
		t.Errorf("python3.11: HasDWARF true (debug file %s)", exe.DebugFile())
	}
	if _, err := exe.DWARF(); err == nil || !strings.Contains(err.Error(), "no DWARF") {
		t.Errorf("python3.11: DWARF() error %v, want one saying there is no DWARF", err)
	}
	if len(exe.DebugSearchLog()) == 0 {
		t.Error("python3.11: empty debug search log after a failed search")
	}
}
