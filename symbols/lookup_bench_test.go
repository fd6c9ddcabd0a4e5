package symbols

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/core"
)

// BenchmarkLookup looks names up in pyenv 3.12's libpython: in place (a
// fresh module each time, as every core opens its own), and in the full
// table once built.
func BenchmarkLookup(b *testing.B) {
	home, _ := os.UserHomeDir()
	lib := filepath.Join(home, ".pyenv/versions/3.12.1/lib/libpython3.12.so.1.0")
	if _, err := os.Stat(lib); err != nil {
		b.Skipf("pyenv 3.12.1's libpython: %v", err)
	}
	data, unmap, err := mmapFile(lib)
	if err != nil {
		b.Fatal(err)
	}
	defer unmap()
	const base = 0x7f0000000000
	fresh := func() *Module {
		o := &core.Object{Path: lib, LocalPath: lib, Base: base, End: base + core.Address(len(data)), Status: core.FileFound, Data: data}
		return newModule(o, o.Base, o.End, 0, []string{})
	}
	names := []string{"_PyRuntime", "PyLong_Type", "_Py_NegativeRefcount", "no_such_symbol"}
	b.Run("in-place-fresh", func(b *testing.B) {
		for b.Loop() {
			m := fresh()
			for _, n := range names {
				m.Lookup(n)
			}
		}
	})
	b.Run("exported-fresh", func(b *testing.B) {
		for b.Loop() {
			m := fresh()
			for _, n := range names {
				m.LookupExported(n)
			}
		}
	})
	b.Run("full-table-fresh", func(b *testing.B) {
		for b.Loop() {
			m := fresh()
			m.LoadSymbols()
			for _, n := range names {
				m.Lookup(n)
			}
		}
	})
}
