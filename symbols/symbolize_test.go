package symbols

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/core"
)

// symbolizeFiles are real ELF files with .dynsym and .symtab (pyenv's
// libpython and python) and with .dynsym only (the system's libc).
func symbolizeFiles(t testing.TB) []string {
	home, _ := os.UserHomeDir()
	var files []string
	for _, p := range []string{
		filepath.Join(home, ".pyenv/versions/3.12.1/lib/libpython3.12.so.1.0"),
		filepath.Join(home, ".pyenv/versions/3.8.18/lib/libpython3.8.so.1.0"),
		"/lib/x86_64-linux-gnu/libc.so.6",
		"/lib/x86_64-linux-gnu/libm.so.6",
	} {
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Skip("none of the test's ELF files are on this machine")
	}
	return files
}

func freshModule(t testing.TB, path string) (*Module, func()) {
	data, unmap, err := mmapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const base = 0x7f0000000000
	o := &core.Object{Path: path, LocalPath: path, Base: base, End: base + core.Address(len(data)), Status: core.FileFound, Data: data}
	return newModule(o, o.Base, o.End, 0, []string{}), func() { unmap() }
}

// TestSymbolizeInPlaceMatchesTable checks Symbolize over the sections in
// place against the full table (the oracle, buildSymtab) at every symbol's
// address, one before it, inside it, at its end, and at random addresses.
func TestSymbolizeInPlaceMatchesTable(t *testing.T) {
	for _, path := range symbolizeFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			lazy, unmap1 := freshModule(t, path)
			defer unmap1()
			full, unmap2 := freshModule(t, path)
			defer unmap2()
			if err := full.LoadSymbols(); err != nil {
				t.Logf("symbols: %v", err)
			}
			syms := full.Symbols()
			if len(syms) < 100 {
				t.Fatalf("%d symbols: not a real test", len(syms))
			}
			r := rand.New(rand.NewSource(1))
			var addrs []core.Address
			for _, s := range syms {
				addrs = append(addrs, s.Addr, s.Addr-1, s.Addr+core.Address(s.Size/2), s.Addr+core.Address(s.Size))
			}
			for i := 0; i < 200; i++ {
				addrs = append(addrs, full.Start+core.Address(r.Int63n(int64(full.End-full.Start))))
			}
			found := 0
			for _, a := range addrs {
				ws, woff, wok := full.Symbolize(a)
				var gs Symbol
				var goff uint64
				s, ok, handled := lazy.symbolizeLazy(lazy.lazy(), a)
				if !handled {
					t.Fatalf("0x%x: the in-place scan did not answer", a)
				}
				gok := false
				if ok {
					gs, goff, gok = lazy.symbolized(s, a)
				}
				gs.Module, ws.Module = nil, nil
				if gok != wok || gs != ws || goff != woff {
					t.Fatalf("0x%x: in place %+v+%d %v, table %+v+%d %v", a, gs, goff, gok, ws, woff, wok)
				}
				if wok {
					found++
				}
			}
			if lazy.symsBuilt.Load() {
				t.Error("the in-place scan built the full table")
			}
			t.Logf("%d addresses, %d symbolized", len(addrs), found)
		})
	}
}

// BenchmarkSymbolize is what unwinding a crashed thread asks of libpython: a
// dozen addresses from a fresh module (as every core opens its own), through
// the address index and through the full table.
func BenchmarkSymbolize(b *testing.B) {
	home, _ := os.UserHomeDir()
	lib := filepath.Join(home, ".pyenv/versions/3.12.1/lib/libpython3.12.so.1.0")
	if _, err := os.Stat(lib); err != nil {
		b.Skipf("pyenv 3.12.1's libpython: %v", err)
	}
	m, unmap := freshModule(b, lib)
	var addrs []core.Address
	for i, s := range m.Symbols() {
		if i%1000 == 0 && s.Func {
			addrs = append(addrs, s.Addr+core.Address(s.Size/2))
		}
	}
	unmap()
	b.Run("index-fresh", func(b *testing.B) {
		for b.Loop() {
			m, unmap := freshModule(b, lib)
			for _, a := range addrs {
				m.Symbolize(a)
			}
			unmap()
		}
	})
	b.Run("full-table-fresh", func(b *testing.B) {
		for b.Loop() {
			m, unmap := freshModule(b, lib)
			m.LoadSymbols()
			for _, a := range addrs {
				m.Symbolize(a)
			}
			unmap()
		}
	})
}
