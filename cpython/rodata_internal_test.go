package cpython

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/symbols"
)

// TestRodataVersion reads the exact version of 3.8-3.10 (which have no
// Py_Version) from PY_VERSION in the .rodata of real libpython builds, and
// finds none for another minor.
func TestRodataVersion(t *testing.T) {
	home, _ := os.UserHomeDir()
	dirs, _ := filepath.Glob(filepath.Join(home, ".pyenv/versions/3.*"))
	checked := 0
	for _, dir := range dirs {
		v, err := abi.ParseVersion(filepath.Base(dir))
		if err != nil || !v.AtLeast(3, 8) || v.AtLeast(3, 11) {
			continue
		}
		lib := filepath.Join(dir, "lib", "libpython"+v.Series()+".so.1.0")
		data, err := os.ReadFile(lib)
		if err != nil {
			continue
		}
		o := &core.Object{Path: lib, LocalPath: lib, Base: 0x7f0000000000, End: 0x7f0000000000 + core.Address(len(data)), Status: core.FileFound, Data: data}
		tab, err := symbols.Load(&core.Process{PtrSize: 8, Machine: "x86_64", Objects: []*core.Object{o}}, symbols.Options{DebugDirs: []string{}})
		if err != nil || len(tab.Modules) != 1 || tab.Modules[0].ELF == nil {
			t.Fatalf("%s: %v %v", lib, err, tab)
		}
		m := tab.Modules[0]
		got, ok := rodataVersion(m, v.Major, v.Minor)
		if !ok || got != v {
			t.Errorf("%s: rodataVersion = %v %v, want %v", lib, got, ok, v)
		}
		if got, ok := rodataVersion(m, v.Major, v.Minor+1); ok {
			t.Errorf("%s: found %v for %d.%d", lib, got, v.Major, v.Minor+1)
		}
		checked++
	}
	if checked == 0 {
		t.Skip("no pyenv CPython 3.8-3.10 with a shared libpython")
	}
}
