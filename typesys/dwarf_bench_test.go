package typesys

import (
	"debug/dwarf"
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDWARFLookup is what `pycore eval` of runtime, tstate and frame
// costs on a pyenv build: the DWARF of libpython3.12 (its sections read once)
// parsed afresh, and CPython's three root structs looked up and converted.
func BenchmarkDWARFLookup(b *testing.B) {
	home, _ := os.UserHomeDir()
	lib := filepath.Join(home, ".pyenv/versions/3.12.1/lib/libpython3.12.so.1.0")
	f, err := elf.Open(lib)
	if err != nil {
		b.Skipf("pyenv 3.12.1's libpython: %v", err)
	}
	defer f.Close()
	sec := map[string][]byte{}
	for _, name := range []string{"abbrev", "info", "str", "line", "ranges", "addr", "line_str", "str_offsets", "rnglists"} {
		if s := f.Section(".debug_" + name); s != nil {
			if sec[name], err = s.Data(); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		d, err := dwarf.New(sec["abbrev"], nil, nil, sec["info"], sec["line"], nil, sec["ranges"], sec["str"])
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"addr", "line_str", "str_offsets", "rnglists"} {
			if sec[name] != nil {
				if err := d.AddSection(".debug_"+name, sec[name]); err != nil {
					b.Fatal(err)
				}
			}
		}
		dt := NewDWARFTypes(d, 8, lib)
		for name, member := range map[string]string{"_PyRuntimeState": "interpreters", "PyThreadState": "interp", "struct _PyInterpreterFrame": "previous"} {
			t, err := dt.Lookup(name)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, ok := t.Member(member); !ok {
				b.Fatalf("%s has no member %s", name, member)
			}
		}
	}
}
