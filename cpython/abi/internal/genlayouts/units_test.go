package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionHexMatchesPyVersionEncoding(t *testing.T) {
	for _, c := range []struct {
		v    string
		hex  uint32
		okay bool
	}{
		{"3.12.1", 0x030c01f0, true},
		{"3.8.18", 0x030812f0, true},
		{"3.13.0rc2", 0x030d00c2, true},
		{"3.14.0a7", 0x030e00a7, true},
		{"3.12", 0, false},
		{"3.12.1t", 0, false},
		{"2.7.18", 0, false},
	} {
		hex, ok := versionHex(c.v)
		if hex != c.hex || ok != c.okay {
			t.Errorf("versionHex(%q) = 0x%08x, %v; want 0x%08x, %v", c.v, hex, ok, c.hex, c.okay)
		}
	}
}

func TestPyVersionOfBuildsMatchesTheirLabel(t *testing.T) {
	tables := freshTables(t)
	for _, tb := range tables {
		if tb.in.Data == "" {
			continue
		}
		hex, ok, err := readPyVersion(tb.in.Data)
		if err != nil {
			t.Fatal(err)
		}
		minor, _ := minorOf(tb.in.Version)
		if ok != (minor >= 11) {
			t.Errorf("%s: Py_Version found = %v, but it exists exactly from 3.11", tb.in.Data, ok)
		}
		if want, _ := versionHex(tb.in.Version); ok && hex != want {
			t.Errorf("%s: Py_Version 0x%08x, want 0x%08x", tb.in.Data, hex, want)
		}
	}
}

func TestInFlagNeedsAPathAndAVersionLabel(t *testing.T) {
	file, err := os.Executable() // any ELF file without Py_Version
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "x.debug")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := flagInput(file + "=3.11.2 debian-bookworm")
	want := "DWARF of " + filepath.Base(file) + " (3.11.2 debian-bookworm)"
	if err != nil || in.Version != "3.11.2" || in.Origin != "debian-bookworm" || in.Source != want {
		t.Errorf("flagInput = %+v, %v", in, err)
	}
	for _, bad := range []string{file, file + "=", file + "=bookworm", "/no/such/file=3.11.2", empty + "=3.11.2"} {
		if _, err := flagInput(bad); err == nil {
			t.Errorf("flagInput(%q) gave no error", bad)
		}
	}
}

func TestPlusUconstLocations(t *testing.T) {
	if v, err := plusUconst([]byte{0x23, 0x90, 0x01}); err != nil || v != 144 {
		t.Errorf("plusUconst = %d, %v; want 144", v, err)
	}
	for _, bad := range [][]byte{nil, {0x23}, {0x10, 0x01}, {0x23, 0x80}, {0x23, 0x01, 0x02}} {
		if _, err := plusUconst(bad); err == nil {
			t.Errorf("plusUconst(% x) gave no error", bad)
		}
	}
}

func TestRenderSharesIdenticalTablesAndIsDeterministic(t *testing.T) {
	ls := []structLayout{{Name: "PyObject", Size: 16, Members: []member{{Path: "ob_refcnt", Offset: 0, Type: "i64"}}}}
	other := []structLayout{{Name: "PyObject", Size: 24, Members: []member{{Path: "ob_refcnt", Offset: 8, Type: "i64"}}}}
	tables := []versionTable{
		{in: input{Version: "3.11.2", Origin: "debian-bookworm", Source: "d"}, structs: ls},
		{in: input{Version: "3.11.7", Origin: "pyenv", Source: "p"}, structs: ls},
		{in: input{Version: "3.12.1", Origin: "pyenv", Source: "q"}, structs: other},
	}
	a, err := render(tables)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := render(tables)
	if !bytes.Equal(a, b) {
		t.Error("two renders differ")
	}
	src := string(a)
	if !strings.HasPrefix(src, header) {
		t.Errorf("no generated-code header")
	}
	if n := strings.Count(src, "[]StructLayout{"); n != 2 {
		t.Errorf("%d table variables, want 2 (3.11.2 shares 3.11.7's):\n%s", n, src)
	}
	if !strings.Contains(src, `Source: "d", Structs: layoutsV3_11_7Pyenv}, // same layouts as pyenv 3.11.7`) {
		t.Errorf("the Debian entry does not name the pyenv table:\n%s", src)
	}
}
