package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
)

// moduleFromFile makes a module for a file as if mapped at base.
func moduleFromFile(t *testing.T, path string, base core.Address) *Module {
	t.Helper()
	data, unmap, err := mmapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmap() })
	o := &core.Object{Path: path, LocalPath: path, Base: base, End: base + core.Address(len(data)), Status: core.FileFound, Data: data}
	m := newModule(o, o.Base, o.End, 0, []string{})
	if m.ELF == nil {
		t.Fatal(m.Err)
	}
	t.Cleanup(func() { m.close() })
	return m
}

// describeDWARF lists every entry (tag, name) and every line table row,
// for comparing two readings of the same DWARF.
func describeDWARF(t *testing.T, d *dwarf.Data) string {
	t.Helper()
	var sb strings.Builder
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		fmt.Fprintf(&sb, "%v %v\n", e.Tag, e.Val(dwarf.AttrName))
		if e.Tag != dwarf.TagCompileUnit {
			continue
		}
		lr, err := d.LineReader(e)
		if err != nil {
			t.Fatal(err)
		}
		if lr == nil {
			continue
		}
		var le dwarf.LineEntry
		for lr.Next(&le) == nil {
			fmt.Fprintf(&sb, "  %#x %s:%d\n", le.Address, filepath.Base(le.File.Name), le.Line)
		}
	}
	return sb.String()
}

// chdrType reads the compression type of an SHF_COMPRESSED section (ELF64).
func chdrType(m *Module, s *elf.Section) elf.CompressionType {
	return elf.CompressionType(m.ELF.ByteOrder.Uint32(m.data[s.Offset:]))
}

func TestCompressedDWARFSections(t *testing.T) {
	needTool(t, "gcc", "objcopy")
	dir := t.TempDir()
	src, err := filepath.Abs("testdata/prog.c")
	if err != nil {
		t.Fatal(err)
	}
	run(t, dir, "gcc", "-g", "-O1", "-o", "plain", src)
	plain := moduleFromFile(t, filepath.Join(dir, "plain"), 0x555555554000)
	if s := plain.ELF.Section(".debug_info"); s == nil || s.Flags&elf.SHF_COMPRESSED != 0 {
		t.Fatal("gcc output has no uncompressed .debug_info to compare with")
	}
	pd, err := plain.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	want := describeDWARF(t, pd)
	if !strings.Contains(want, "widget") || !strings.Contains(want, "prog.c:") {
		t.Fatalf("reference DWARF lacks struct widget or line rows:\n%s", want)
	}

	for _, c := range []struct {
		option  string
		section string
		typ     elf.CompressionType // 0: GNU .zdebug, no ELF header
	}{
		{"zlib", ".debug_info", elf.COMPRESS_ZLIB},
		{"zstd", ".debug_info", elf.COMPRESS_ZSTD},
		{"zlib-gnu", ".zdebug_info", 0},
	} {
		t.Run(c.option, func(t *testing.T) {
			out := filepath.Join(dir, "prog-"+c.option)
			run(t, dir, "objcopy", "--compress-debug-sections="+c.option, "plain", out)
			m := moduleFromFile(t, out, 0x555555554000)
			s := m.ELF.Section(c.section)
			if s == nil {
				t.Fatalf("objcopy made no %s", c.section)
			}
			if c.typ != 0 && (s.Flags&elf.SHF_COMPRESSED == 0 || chdrType(m, s) != c.typ) {
				t.Fatalf("%s is not %v-compressed", c.section, c.typ)
			}
			if c.typ == 0 && string(m.data[s.Offset:s.Offset+4]) != "ZLIB" {
				t.Fatalf("%s is not GNU zlib-compressed", c.section)
			}
			if !m.HasDWARF() {
				t.Fatal("HasDWARF false")
			}
			d, err := m.DWARF()
			if err != nil {
				t.Fatal(err)
			}
			if got := describeDWARF(t, d); got != want {
				t.Errorf("compressed DWARF reads differently:\n%s\nwant:\n%s", got, want)
			}
			checkWidgetType(t, d)
		})
	}
}
