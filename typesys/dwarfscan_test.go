package typesys

import (
	"debug/dwarf"
	"debug/elf"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// rawTestFiles are real DWARF the raw scan is checked on: pyenv's libpythons
// (DWARF 4/5 from gcc, in the library) and the largest detached debug files
// of the Debian interpreters (compressed sections, DWARF 5).
func rawTestFiles(t testing.TB) []string {
	home, _ := os.UserHomeDir()
	var files []string
	for _, v := range []string{"3.8.18/lib/libpython3.8.so.1.0", "3.12.1/lib/libpython3.12.so.1.0", "3.13.0/lib/libpython3.13.so.1.0"} {
		if p := filepath.Join(home, ".pyenv/versions", v); fileExists(p) {
			files = append(files, p)
		}
	}
	for _, dist := range []string{"3.11-bookworm", "3.15-sid"} {
		matches, _ := filepath.Glob(filepath.Join(home, ".cache/pycore/pythons", dist, "usr/lib/debug/.build-id/*/*.debug"))
		sort.Slice(matches, func(i, j int) bool { return fileSize(matches[i]) > fileSize(matches[j]) })
		if len(matches) > 2 {
			matches = matches[:2]
		}
		files = append(files, matches...)
	}
	if len(files) == 0 {
		t.Skip("no pyenv libpython or Debian debug files on this machine")
	}
	return files
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// loadSections reads a file's DWARF sections (decompressed) and parses them.
func loadSections(t testing.TB, path string) (*dwarf.Data, Sections) {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := map[string][]byte{}
	for _, name := range []string{"abbrev", "info", "str", "line", "ranges", "addr", "line_str", "str_offsets", "rnglists"} {
		if s := f.Section(".debug_" + name); s != nil && s.Type != elf.SHT_NOBITS {
			if sec[name], err = s.Data(); err != nil {
				t.Fatalf("%s: .debug_%s: %v", path, name, err)
			}
		}
	}
	d, err := dwarf.New(sec["abbrev"], nil, nil, sec["info"], sec["line"], nil, sec["ranges"], sec["str"])
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, name := range []string{"addr", "line_str", "str_offsets", "rnglists"} {
		if sec[name] != nil {
			if err := d.AddSection(".debug_"+name, sec[name]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return d, Sections{Info: sec["info"], Abbrev: sec["abbrev"], Str: sec["str"], LineStr: sec["line_str"], StrOffsets: sec["str_offsets"]}
}

// TestRawScanMatchesReader checks the raw scan of top-level entries against
// debug/dwarf's Reader, the oracle: the same type names at the same offsets,
// the same variables (names, types, locations, declarations) and the same
// atomic types, over all of each file's DWARF.
func TestRawScanMatchesReader(t *testing.T) {
	for _, path := range rawTestFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			d, sec := loadSections(t, path)
			slow := NewDWARFTypes(d, 8, path)
			fast := NewDWARFTypes(d, 8, path).WithSections(sec)
			if err := slow.ScanAll(); err != nil {
				t.Fatal(err)
			}
			if err := fast.ScanAll(); err != nil {
				t.Fatal(err)
			}
			if fast.raw == nil {
				t.Fatal("the raw scan gave up and the Reader did the work")
			}
			if len(slow.byName) < 100 {
				t.Fatalf("only %d type names: not a real test", len(slow.byName))
			}
			if !reflect.DeepEqual(slow.byName, fast.byName) {
				t.Errorf("type names differ: %d from the Reader, %d from the raw scan", len(slow.byName), len(fast.byName))
				for n, o := range slow.byName {
					if fo, ok := fast.byName[n]; !ok || fo != o {
						t.Errorf("%q: Reader 0x%x, raw %v 0x%x", n, o, ok, fo)
						break
					}
				}
			}
			if (slow.vars == nil) != (fast.vars == nil) || slow.vars != nil && !reflect.DeepEqual(*slow.vars, *fast.vars) {
				t.Errorf("variables differ")
			}
			if !reflect.DeepEqual(slow.atomicsSeen, fast.atomicsSeen) {
				t.Errorf("atomic types differ: %d from the Reader, %d from the raw scan", len(slow.atomicsSeen), len(fast.atomicsSeen))
			}
			t.Logf("%d type names, %d atomic types, %d entries", len(fast.byName), len(fast.atomicsSeen), fast.scanned)
		})
	}
}

// TestRawScanTruncated cuts real .debug_info and .debug_abbrev short at many
// points: the raw scan reports an error or stops, and never panics or loops.
func TestRawScanTruncated(t *testing.T) {
	files := rawTestFiles(t)
	_, sec := loadSections(t, files[0])
	info := sec.Info
	if len(info) > 1<<16 {
		info = info[:1<<16]
	}
	for cut := 0; cut < len(info); cut += 97 {
		s := &rawScanner{sec: sec, abbrevs: map[uint64]*abbrevTable{}}
		s.sec.Info = info[:cut]
		n := 0
		for i := 0; i < 1000; i++ {
			more, _, err := s.unit(func(*rawEntry) {}, &n)
			if err != nil || !more {
				break
			}
		}
	}
	for cut := 0; cut < len(sec.Abbrev) && cut < 1<<14; cut += 13 {
		s := &rawScanner{sec: sec, abbrevs: map[uint64]*abbrevTable{}}
		s.sec.Abbrev = sec.Abbrev[:cut]
		n := 0
		if _, _, err := s.unit(func(*rawEntry) {}, &n); err == nil && cut < 8 {
			t.Errorf("abbreviations cut to %d bytes: no error", cut)
		}
	}
}

// BenchmarkDWARFScanAll is the scan of all of libpython3.12's top-level
// entries that a lookup of a name defined nowhere costs: through
// debug/dwarf's Reader, and raw.
func BenchmarkDWARFScanAll(b *testing.B) {
	home, _ := os.UserHomeDir()
	lib := filepath.Join(home, ".pyenv/versions/3.12.1/lib/libpython3.12.so.1.0")
	if !fileExists(lib) {
		b.Skip("no pyenv 3.12.1")
	}
	d, sec := loadSections(b, lib)
	for _, raw := range []bool{false, true} {
		name := "reader"
		if raw {
			name = "raw"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				dt := NewDWARFTypes(d, 8, lib)
				if raw {
					dt.WithSections(sec)
				}
				if err := dt.ScanAll(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
