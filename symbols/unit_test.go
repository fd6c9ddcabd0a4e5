package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"strings"
	"sync"
	"testing"

	"github.com/pycore/pycore/core"
)

// note encodes one ELF note with the given padding.
func note(name string, typ uint32, desc []byte, pad int) []byte {
	round := func(n int) int { return (n + pad - 1) / pad * pad }
	b := make([]byte, 12+round(len(name)+1)+round(len(desc)))
	binary.LittleEndian.PutUint32(b, uint32(len(name)+1))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(desc)))
	binary.LittleEndian.PutUint32(b[8:], typ)
	copy(b[12:], name)
	copy(b[12+round(len(name)+1):], desc)
	return b
}

func TestFindNote(t *testing.T) {
	id := []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5}
	abiTag := note("GNU", 1, []byte{0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, 4)
	for _, c := range []struct {
		name  string
		notes []byte
		align uint64
		want  []byte
	}{
		{"build ID after another GNU note", append(abiTag, note("GNU", 3, id, 4)...), 4, id},
		{"8-byte aligned notes", append(note("GNU", 5, []byte{1, 2, 3}, 8), note("GNU", 3, id, 8)...), 8, id},
		{"a type 3 note of another owner is not a build ID", note("Go", 3, id, 4), 4, nil},
		{"descriptor running past the end", note("GNU", 3, id, 4)[:20], 4, nil},
		{"huge name size", func() []byte {
			b := note("GNU", 3, id, 4)
			binary.LittleEndian.PutUint32(b, 0xfffffff0)
			return b
		}(), 4, nil},
		{"empty", nil, 4, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := findNote(c.notes, binary.LittleEndian, c.align, "GNU", 3)
			if string(got) != string(c.want) {
				t.Errorf("got %x, want %x", got, c.want)
			}
		})
	}
}

func TestParseDebugLink(t *testing.T) {
	good := append([]byte("prog.debug\x00\x00"), 0x78, 0x56, 0x34, 0x12)
	if name, crc, ok := parseDebugLink(good, binary.LittleEndian); !ok || name != "prog.debug" || crc != 0x12345678 {
		t.Errorf("parseDebugLink = %q %#x %v", name, crc, ok)
	}
	for _, bad := range [][]byte{nil, []byte("no-nul-at-all"), []byte("\x00\x00\x00\x00\x01\x02\x03\x04"), good[:14]} {
		if name, _, ok := parseDebugLink(bad, binary.LittleEndian); ok {
			t.Errorf("parseDebugLink(%q) accepted %q", bad, name)
		}
	}
}

// tinyProcess maps testdata/tiny.elf at each base, as a core would have it,
// plus a library that was not found on this machine.
func tinyProcess(t *testing.T, bases ...core.Address) *core.Process {
	t.Helper()
	data, unmap, err := mmapFile("testdata/tiny.elf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmap() })
	p := &core.Process{PtrSize: 8, Machine: "x86_64"}
	p.Objects = append(p.Objects, &core.Object{
		Path: "/usr/lib/libgone.so", Base: 0x7f0000000000, End: 0x7f0000010000,
		Status: core.FileMissing, StatusMsg: "/usr/lib/libgone.so: not found (also tried /sysroot/usr/lib/libgone.so)",
	})
	for i, b := range bases {
		path := "/opt/tiny" + strings.Repeat("x", i)
		p.Objects = append(p.Objects, &core.Object{Path: path, LocalPath: "testdata/tiny.elf", Base: b, End: b + 0x4000, Status: core.FileFound, Data: data})
	}
	return p
}

func TestObjectsNotFoundAreListed(t *testing.T) {
	tab, err := Load(tinyProcess(t, 0x555555554000), Options{DebugDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if len(tab.Modules) != 2 || tab.Modules[0].Path != "/opt/tiny" {
		t.Fatalf("modules %v, want tiny then libgone in address order", tab.Modules)
	}
	gone := tab.Modules[1]
	if gone.ELF != nil || gone.Err == nil || !strings.Contains(gone.Err.Error(), "also tried /sysroot") {
		t.Errorf("missing module: ELF %v, Err %v", gone.ELF, gone.Err)
	}
	if tab.Module(0x7f0000000100) != gone {
		t.Error("Module() does not find the missing library's range")
	}
	if _, _, ok := tab.Symbolize(0x7f0000000100); ok {
		t.Error("Symbolize found a symbol in a library that was not found")
	}
	if gone.HasDWARF() {
		t.Error("missing module HasDWARF")
	}
	if _, err := gone.DWARF(); err == nil || !strings.Contains(err.Error(), "libgone.so") {
		t.Errorf("missing module DWARF() error %v", err)
	}
	if err := gone.LoadSymbols(); err == nil {
		t.Error("missing module LoadSymbols gave no error")
	}
	if len(tab.Warnings) != 0 {
		t.Errorf("warnings %v: a missing file is the core's to report", tab.Warnings)
	}
	if s, ok := tab.Lookup("helper"); !ok || s.Module != tab.Modules[0] {
		t.Errorf("Lookup(helper) = %v %v", s, ok)
	}
}

// Two copies of one file mapped at different addresses (as a static python
// and libpython both defining _PyRuntime): Lookup takes the first in
// module order, LookupAll returns both.
func TestLookupAllAcrossModules(t *testing.T) {
	tab, err := Load(tinyProcess(t, 0x600000000000, 0x500000000000), Options{DebugDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	all := tab.LookupAll("global_widget")
	if len(all) != 2 || all[0].Addr >= all[1].Addr || all[1].Addr-all[0].Addr != 0x100000000000 {
		t.Fatalf("LookupAll(global_widget) = %v", all)
	}
	if s, _ := tab.Lookup("global_widget"); s != all[0] {
		t.Errorf("Lookup = %v, want the lower module's %v", s, all[0])
	}
	for _, s := range all {
		if got, off, ok := tab.Symbolize(s.Addr + 4); !ok || got != s || off != 4 {
			t.Errorf("Symbolize(%s+4) = %v+%d %v", s.Addr, got, off, ok)
		}
	}
}

func TestSymbolTableOrderAndSymbolize(t *testing.T) {
	m := &Module{Start: 0x1000, End: 0x9000}
	sym := func(name string, addr core.Address, size uint64, fn bool, rank int) rawSymbol {
		return rawSymbol{Symbol: Symbol{Name: name, Addr: addr, Size: size, Func: fn, Module: m}, rank: rank, addressed: true, global: rank != rankLocal}
	}
	m.syms = buildSymtab([]rawSymbol{
		sym("dup", 0x5000, 8, false, rankLocal),
		sym("run", 0x1000, 0x10, true, rankGlobal),
		sym("run", 0x1000, 0x10, true, rankDynsym), // the same symbol in .dynsym
		sym("run_alias", 0x1000, 0, true, rankGlobal),
		sym("local_run", 0x1000, 0x10, true, rankLocal),
		sym("dup", 0x4000, 8, false, rankLocal),
		sym("dup", 0x3000, 8, false, rankGlobal),
		sym("table", 0x2000, 0, false, rankGlobal),
	})
	m.symOnce.Do(func() {})
	if all := m.LookupAll("run"); len(all) != 1 {
		t.Errorf("LookupAll(run) = %v: .dynsym and .symtab copies not merged", all)
	}
	var addrs []core.Address
	for _, s := range m.LookupAll("dup") {
		addrs = append(addrs, s.Addr)
	}
	if len(addrs) != 3 || addrs[0] != 0x3000 {
		t.Errorf("LookupAll(dup) at %v: want 3, the global (0x3000) first", addrs)
	}
	for _, c := range []struct {
		addr core.Address
		name string
		off  uint64
		ok   bool
	}{
		{0x1000, "run", 0, true}, // sized global beats the unsized alias and the local
		{0x100f, "run", 0xf, true},
		{0x1010, "", 0, false}, // past run's size, before table
		{0x2fff, "table", 0xfff, true},
		{0x3004, "dup", 4, true},
		{0x5008, "", 0, false},
		{0x0fff, "", 0, false},
	} {
		s, off, ok := m.Symbolize(c.addr)
		if s.Name != c.name || off != c.off || ok != c.ok {
			t.Errorf("Symbolize(%s) = %q+%#x %v, want %q+%#x %v", c.addr, s.Name, off, ok, c.name, c.off, c.ok)
		}
	}
}

// The lazy parts (symbols, debug file search, DWARF) are built once however
// many goroutines ask at the same time (run with -race).
func TestConcurrentFirstUse(t *testing.T) {
	tab, err := Load(tinyProcess(t, 0x555555554000), Options{DebugDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	m := tab.Modules[0]
	var wg sync.WaitGroup
	results := make([]*dwarf.Data, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.HasDWARF()
			m.DebugFile()
			if s, ok := tab.Lookup("helper"); ok {
				tab.Symbolize(s.Addr)
			}
			results[i], _ = m.DWARF()
		}()
	}
	wg.Wait()
	for _, d := range results {
		if d == nil || d != results[0] {
			t.Fatal("DWARF() gave different or nil results to concurrent callers")
		}
	}
}

func TestLoadBias(t *testing.T) {
	load := func(off, vaddr, filesz uint64) *elf.Prog {
		return &elf.Prog{ProgHeader: elf.ProgHeader{Type: elf.PT_LOAD, Off: off, Vaddr: vaddr, Filesz: filesz, Memsz: filesz, Align: 0x1000}}
	}
	pie := []*elf.Prog{load(0, 0, 0x2000), load(0x2000, 0x2000, 0x5123), load(0x7200, 0x8200, 0x300)}
	prelinked := []*elf.Prog{load(0, 0x3a00000000, 0x1000), load(0x1000, 0x3a00201000, 0x800)}
	for _, c := range []struct {
		name       string
		typ        elf.Type
		progs      []*elf.Prog
		base       core.Address
		baseOffset uint64
		want       uint64
		err        string
	}{
		{"PIE mapped from offset 0", elf.ET_DYN, pie, 0x555555554000, 0, 0x555555554000, ""},
		{"PIE seen from its second mapping", elf.ET_DYN, pie, 0x555555556000, 0x2000, 0x555555554000, ""},
		{"PIE seen from the page shared by two segments", elf.ET_DYN, pie, 0x55555555c000, 0x7000, 0x555555554000, ""},
		{"prelinked library moved", elf.ET_DYN, prelinked, 0x7f0000000000, 0, 0x7f0000000000 - 0x3a00000000, ""},
		{"non-PIE executable", elf.ET_EXEC, prelinked, 0x3a00000000, 0, 0, ""},
		{"no PT_LOAD", elf.ET_DYN, nil, 0x1000, 0, 0, "no PT_LOAD"},
		{"offset no segment maps", elf.ET_DYN, pie, 0x1000, 0x900000, 0, "file offset 0x900000"},
		{"relocatable object", elf.ET_REL, pie, 0x1000, 0, 0, "not an executable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &elf.File{FileHeader: elf.FileHeader{Type: c.typ}, Progs: c.progs}
			got, err := loadBias(f, c.base, c.baseOffset)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("bias %#x %v, want %#x", got, err, c.want)
			}
		})
	}
}
