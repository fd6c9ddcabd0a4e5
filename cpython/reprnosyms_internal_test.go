package cpython

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/pyobj"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/symbols"
)

// Without symbols (a core whose files are gone, found by its debug offsets)
// type identity falls back on tp_flags subclass bits and the names of static
// types: every object of objects.py still renders as Python showed it.
func TestReprWithoutTypeSymbolsFallsBackToFlagsAndNames(t *testing.T) {
	for _, interp := range pytest.Selected(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "objects", pytest.Kernel)
			data, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.objects.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Objects map[string]struct {
					ID   uint64
					Repr string
					Type string
				}
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			cp, err := core.Open(c.Path, core.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			syms, err := symbols.Load(cp, symbols.Options{DebugDirs: []string{t.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			p, err := Open(cp, syms, Options{Types: TypesBuiltin})
			if err != nil {
				t.Fatal(err)
			}
			if p.codeRd == nil || p.codeRd.layout == nil {
				t.Fatal("the process's object layout is not known")
			}
			// A layout built with no symbol found: identity by flags and names.
			l := pyobj.NewLayout(p.objects(), p.R, func(string) (core.Address, bool) { return 0, false })
			opts := ReprOptions{MaxDepth: 20, MaxLength: 5000, MaxString: 5000, MaxTotal: 1 << 20}
			for name, w := range want.Objects {
				o := pyobj.NewReader(p.objProc(), l).Object(core.Address(w.ID), opts)
				if o.Repr != w.Repr || o.Type != w.Type {
					t.Errorf("%s: got %s %q (%s), want %s %q", name, o.Type, o.Repr, o.Error, w.Type, w.Repr)
				}
			}
		})
	}
}
