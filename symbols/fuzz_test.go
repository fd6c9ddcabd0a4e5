package symbols

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
)

// testdata/tiny.elf and tiny-zstd.elf are testdata/prog.c built small, with
// DWARF, a build ID and a debuglink:
//
//	gcc -g -Os -Wl,-z,noseparate-code -Wl,-z,norelro -o tiny prog.c
//	objcopy --add-gnu-debuglink=tiny.dbg tiny   # tiny.dbg: any file
//	objcopy --compress-debug-sections=zstd tiny tiny-zstd
//
// tiny-mini.elf is the same build stripped, with MiniDebugInfo keeping
// helper and main (see TestMiniDebugInfoSymbols for the recipe).

const fuzzBase = core.Address(0x555555554000)

// exercise runs every Module entry point over data, as the fuzzer does.
func exercise(t *testing.T, data []byte) *Module {
	o := &core.Object{Path: "fuzz.elf", Base: fuzzBase, End: fuzzBase + 0x10000, Status: core.FileFound, Data: data}
	m := newModule(o, o.Base, o.End, 0, []string{})
	if m.ELF == nil {
		if m.Err == nil {
			t.Fatal("no ELF and no error")
		}
		if !strings.Contains(m.Err.Error(), "fuzz.elf") {
			t.Fatalf("error does not name the file: %v", m.Err)
		}
		return m
	}
	m.LoadSymbols()
	m.Lookup("main")
	m.LookupAll("helper")
	for _, s := range m.Symbols() {
		m.Symbolize(s.Addr + 1)
	}
	for a := o.Base; a < o.End; a += 0x321 {
		m.Symbolize(a)
	}
	m.Section(".text")
	m.Section(".data")
	m.HasDWARF()
	if d, err := m.DWARF(); err == nil {
		r := d.Reader()
		for i := 0; i < 64; i++ {
			e, err := r.Next()
			if e == nil || err != nil {
				break
			}
		}
	}
	m.close()
	return m
}

func readSeed(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzModule(f *testing.F) {
	f.Add(readSeed(f, "tiny.elf"))
	f.Add(readSeed(f, "tiny-zstd.elf"))
	f.Add(readSeed(f, "tiny-mini.elf"))
	f.Fuzz(func(t *testing.T, data []byte) {
		exercise(t, data)
	})
}

func TestSeedELFsRead(t *testing.T) {
	for _, name := range []string{"tiny.elf", "tiny-zstd.elf"} {
		m := exercise(t, readSeed(t, name))
		if m.ELF == nil {
			t.Fatalf("%s: %v", name, m.Err)
		}
		if err := m.LoadSymbols(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, ok := m.Lookup("helper"); !ok {
			t.Errorf("%s: no helper symbol", name)
		}
		if m.DebugLink != "tiny.dbg" || len(m.BuildID) != 20 {
			t.Errorf("%s: debuglink %q build ID %x", name, m.DebugLink, m.BuildID)
		}
		d, err := m.DWARF()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkWidgetType(t, d)
	}
	m := exercise(t, readSeed(t, "tiny-mini.elf"))
	if m.ELF == nil || m.ELF.Section(".symtab") != nil {
		t.Fatalf("tiny-mini.elf: %v (or has a .symtab)", m.Err)
	}
	if _, ok := m.Lookup("helper"); !ok {
		t.Errorf("tiny-mini.elf: no helper symbol from MiniDebugInfo: %v", m.LoadSymbols())
	}
}

// patchSection rewrites one field of a section header of an ELF64 file:
// field is the byte offset in Elf64_Shdr (24 sh_offset, 32 sh_size).
func patchSection(t *testing.T, data []byte, name string, field int, v uint64) []byte {
	t.Helper()
	out := append([]byte(nil), data...)
	f, err := elf.NewFile(bytesReader(data))
	if err != nil {
		t.Fatal(err)
	}
	shoff := binary.LittleEndian.Uint64(data[0x28:])
	shentsize := uint64(binary.LittleEndian.Uint16(data[0x3a:]))
	for i, s := range f.Sections {
		if s.Name == name {
			binary.LittleEndian.PutUint64(out[shoff+uint64(i)*shentsize+uint64(field):], v)
			return out
		}
	}
	t.Fatalf("no section %s", name)
	return nil
}

func TestCorruptELFErrorsNameFileAndSection(t *testing.T) {
	tiny := readSeed(t, "tiny.elf")
	zstd := readSeed(t, "tiny-zstd.elf")
	const shOffset, shSize = 24, 32
	zinfo := func() []byte {
		// ch_size of .debug_info's Elf64_Chdr: claim 1 TiB decompressed.
		f, _ := elf.NewFile(bytesReader(zstd))
		out := append([]byte(nil), zstd...)
		binary.LittleEndian.PutUint64(out[f.Section(".debug_info").Offset+8:], 1<<40)
		return out
	}
	etype := func(typ elf.Type) []byte {
		out := append([]byte(nil), tiny...)
		binary.LittleEndian.PutUint16(out[16:], uint16(typ))
		return out
	}
	for _, c := range []struct {
		name string
		data []byte
		step string // "load", "symbols" or "dwarf": where the error shows
		want []string
	}{
		{"not an ELF file", []byte("#!/bin/sh\necho hello\n"), "load", []string{"fuzz.elf", "bad magic"}},
		{"truncated headers", tiny[:40], "load", []string{"fuzz.elf"}},
		{"a relocatable object", etype(elf.ET_REL), "load", []string{"fuzz.elf", "ET_REL", "not an executable"}},
		{"a core file", etype(elf.ET_CORE), "load", []string{"fuzz.elf", "ET_CORE"}},
		{".symtab past the end of the file", patchSection(t, tiny, ".symtab", shOffset, 1<<40), "symbols", []string{"fuzz.elf", ".symtab", "past the end"}},
		{".symtab size not whole entries", patchSection(t, tiny, ".symtab", shSize, 24*10+5), "symbols", []string{"fuzz.elf", ".symtab", "multiple of the entry size"}},
		{".strtab past the end of the file", patchSection(t, tiny, ".strtab", shOffset, 1<<40), "symbols", []string{"fuzz.elf", ".strtab", "past the end"}},
		{".debug_info past the end of the file", patchSection(t, tiny, ".debug_info", shSize, 1<<40), "dwarf", []string{"fuzz.elf", ".debug_info", "past the end"}},
		{"compressed .debug_info claiming 1 TiB", zinfo(), "dwarf", []string{"fuzz.elf", ".debug_info", "refusing"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := exercise(t, c.data)
			var err error
			switch c.step {
			case "load":
				err = m.Err
			case "symbols":
				if m.ELF == nil {
					t.Fatal(m.Err)
				}
				err = m.LoadSymbols()
			case "dwarf":
				if m.ELF == nil {
					t.Fatal(m.Err)
				}
				_, err = m.DWARF()
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
