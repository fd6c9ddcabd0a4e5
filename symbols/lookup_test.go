package symbols

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/internal/pytest"
)

// fileModule makes a module of an ELF file on disk as if a process had
// mapped it at base (ignored for ET_EXEC), with its bytes memory-mapped.
func fileModule(t testing.TB, path string, base core.Address, dirs []string) *Module {
	t.Helper()
	data, unmap, err := mmapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmap() })
	f, err := elf.NewFile(bytes.NewReader(data))
	if err == nil && f.Type == elf.ET_EXEC {
		base = 0
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Off == 0 {
				base = core.Address(p.Vaddr)
			}
		}
	}
	o := &core.Object{Path: path, LocalPath: path, Base: base, End: base + core.Address(len(data)), Status: core.FileFound, Data: data}
	m := newModule(o, o.Base, o.End, 0, dirs)
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	t.Cleanup(func() { m.close() })
	return m
}

// lookupFiles are real ELF files of every kind lookups meet: a shared
// libpython with .symtab and DWARF, a PIE executable, a stripped libc whose
// .symtab is in a detached debug file, Debian's stripped non-PIE python
// (with and without its debug file), and MiniDebugInfo.
func lookupFiles(t *testing.T) map[string][]string {
	files := map[string][]string{
		"testdata/tiny.elf":      {},
		"testdata/tiny-mini.elf": {},
	}
	home, _ := os.UserHomeDir()
	for _, p := range []string{
		filepath.Join(home, ".pyenv/versions/3.12.1/lib/libpython3.12.so.1.0"),
		filepath.Join(home, ".pyenv/versions/3.12.1/bin/python3.12"),
		"/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/bin/python3.11",
	} {
		if _, err := os.Stat(p); err == nil {
			files[p] = DefaultDebugDirs
		}
	}
	if all, err := pytest.Discover(); err == nil {
		for _, i := range all {
			if i.DebugDir != "" && i.Origin != "pyenv" && !i.DWARF && (i.Minor == "3.14" || i.Minor == "3.11") {
				files[i.Exe] = []string{i.DebugDir}
			}
		}
	}
	return files
}

// TestLazyLookupMatchesFullTable checks that lookups read in place answer
// exactly what the full table answers, for symbol names of each file (local,
// global, dynamic, duplicated) and for names it does not have, and that they
// did not build the table.
func TestLazyLookupMatchesFullTable(t *testing.T) {
	const base = core.Address(0x7f0000000000)
	checked := 0
	for path, dirs := range lookupFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			lazyM := fileModule(t, path, base, dirs)
			fullM := fileModule(t, path, base, dirs)
			fullM.LoadSymbols()
			names := []string{"", "no_such_symbol", "_PyRuntime", "main", "helper", "malloc", "_int_malloc", "PyLong_Type"}
			// Every name when there are few; else an even sample of 1000
			// (a .symtab scan per name makes all of them take a minute).
			all := fullM.Symbols()
			stride := max(1, len(all)/1000)
			for i := 0; i < len(all); i += stride {
				s := all[i]
				names = append(names, s.Name, s.Name+"x", s.Name[:len(s.Name)-1])
			}
			same := func(a, b Symbol) bool {
				return a.Name == b.Name && a.Addr == b.Addr && a.Size == b.Size && a.Func == b.Func && a.Module != nil
			}
			for _, name := range names {
				ls, lok := lazyM.Lookup(name)
				fs, fok := fullM.Lookup(name)
				if lok != fok || (lok && !same(ls, fs)) {
					t.Fatalf("Lookup(%q): in place %+v %v, full table %+v %v", name, ls, lok, fs, fok)
				}
				la, fa := lazyM.LookupAll(name), fullM.LookupAll(name)
				if len(la) != len(fa) {
					t.Fatalf("LookupAll(%q): in place %d symbols %v, full table %d %v", name, len(la), la, len(fa), fa)
				}
				for i := range la {
					if !same(la[i], fa[i]) {
						t.Fatalf("LookupAll(%q)[%d]: in place %+v, full table %+v", name, i, la[i], fa[i])
					}
				}
			}
			if _, full := lazyM.symtabSection(lazyM.lazy()); !full && lazyM.symsBuilt.Load() {
				t.Error("lookups built the full table")
			}
			if lz := lazyM.lazy(); lz.dyn != nil && lz.dyn.hash == nil && lazyM.ELF.Section(".gnu.hash") != nil {
				t.Error(".gnu.hash present but not used")
			}
			t.Logf("%d symbols, %d names looked up", len(fullM.Symbols()), len(names))
			checked++
		})
	}
	if checked < 3 {
		t.Errorf("only %d files checked", checked)
	}
}

// TestGNUHash checks the hash function against values from the GNU hash
// section's description, and the table's use on libc (whose .dynsym is
// hashed): every exported name found through the hash, names not exported
// rejected mostly by the bloom filter.
func TestGNUHash(t *testing.T) {
	for name, want := range map[string]uint32{"": 0x00001505, "printf": 0x156b2bb8, "exit": 0x7c967e3f, "syscall": 0xbac212a0, "flapenguin.me": 0x8ae9f18e} {
		if got := gnuHashOf(name); got != want {
			t.Errorf("gnuHashOf(%q) = %#x, want %#x", name, got, want)
		}
	}
	m := fileModule(t, "/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000000000, []string{})
	lz := m.lazy()
	if lz.dyn == nil || lz.dyn.hash == nil {
		t.Fatal("libc.so.6: no .dynsym with .gnu.hash")
	}
	found := 0
	for i := lz.dyn.hash.symOffset; i < lz.dyn.count(); i++ {
		s, _, ok := m.symbol(lz.dyn, i)
		if !ok {
			continue
		}
		hit := false
		lz.dyn.hash.each(lz.dyn, s.Name, func(j int) bool {
			hit = hit || j == i
			return !hit
		})
		if !hit {
			t.Fatalf("%s (dynsym %d) not reached through the hash table", s.Name, i)
		}
		found++
	}
	if found < 1000 {
		t.Errorf("only %d hashed symbols in libc", found)
	}
	if _, ok := m.Lookup("_PyRuntime"); ok {
		t.Error("libc has _PyRuntime")
	}
}

// TestParseGNUHashRejects checks that a .gnu.hash that does not fit its
// section or .dynsym is not used.
func TestParseGNUHashRejects(t *testing.T) {
	le := func(ws ...uint32) []byte {
		var b []byte
		for _, w := range ws {
			b = append(b, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
		}
		return b
	}
	for name, b := range map[string][]byte{
		"short":         le(1, 1, 1),
		"no buckets":    le(0, 1, 1, 0, 0, 0),
		"no bloom":      le(1, 1, 0, 0, 0),
		"offset 0":      le(1, 0, 1, 0, 0, 0, 0),
		"offset > syms": le(1, 100, 1, 0, 0, 0, 0),
		"bloom too big": le(1, 1, 1000, 0, 0, 0, 0),
		"buckets cut":   le(1000, 1, 1, 0, 0, 0, 0),
	} {
		if h := parseGNUHash(b, elf.ELFCLASS64, binary.LittleEndian, 10); h != nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if h := parseGNUHash(le(1, 1, 1, 6, 0xffffffff, 0xffffffff, 1, 3, 4), elf.ELFCLASS64, binary.LittleEndian, 10); h == nil {
		t.Error("valid table rejected")
	}
}

// FuzzLookupInPlace runs the in-place lookups (before any full table is
// built) over damaged ELF files: no panic, and what they find has the name
// asked for.
func FuzzLookupInPlace(f *testing.F) {
	f.Add(readSeed(f, "tiny.elf"))
	f.Add(readSeed(f, "tiny-zstd.elf"))
	f.Add(readSeed(f, "tiny-mini.elf"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o := &core.Object{Path: "fuzz.elf", Base: fuzzBase, End: fuzzBase + 0x10000, Status: core.FileFound, Data: data}
		m := newModule(o, o.Base, o.End, 0, []string{})
		if m.ELF == nil {
			return
		}
		defer m.close()
		for _, name := range []string{"main", "helper", "counter", "_start", "x"} {
			if s, ok := m.Lookup(name); ok && s.Name != name {
				t.Fatalf("Lookup(%q) found %q", name, s.Name)
			}
			for _, s := range m.LookupAll(name) {
				if s.Name != name {
					t.Fatalf("LookupAll(%q) found %q", name, s.Name)
				}
			}
		}
	})
}

// TestLookupExported: .dynsym only, and no debug file looked for.
func TestLookupExported(t *testing.T) {
	m := fileModule(t, "/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000000000, DefaultDebugDirs)
	if m.ELF.Section(".symtab") != nil {
		t.Skip("libc.so.6 is not stripped")
	}
	s, ok := m.LookupExported("malloc")
	if full, fok := m.Lookup("malloc"); !ok || !fok || s.Addr != full.Addr || s.Name != "malloc" {
		t.Errorf("LookupExported(malloc) = %+v %v, Lookup = %+v %v", s, ok, full, fok)
	}
	for _, name := range []string{"_PyRuntime", "no_such_symbol", "_int_malloc"} {
		if s, ok := m.LookupExported(name); ok {
			t.Errorf("LookupExported(%q) = %+v", name, s)
		}
	}
	if m.debugDone.Load() {
		t.Error("LookupExported looked for the debug file")
	}
	// Lookup goes on to .symtab, here the debug file's, when it is installed.
	if _, ok := m.Lookup("_int_malloc"); ok != (m.DebugFile() != "") {
		t.Errorf("Lookup(_int_malloc) %v with debug file %q", ok, m.DebugFile())
	}
}
