package cpython

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/symbols"
)

// Python's float and complex reprs (values from CPython 3.11's own repr):
// positional notation for decimal exponents -4..15, else scientific with at
// least two exponent digits; complex parts drop ".0" and carry a sign.
func TestFloatReprSpellsNumbersAsPythonDoes(t *testing.T) {
	for _, c := range []struct {
		f                float64
		float, imag, cpx string
	}{
		{1e22, "1e+22", "1e+22", "+1e+22"},
		{1e-4, "0.0001", "0.0001", "+0.0001"},
		{9.999e-5, "9.999e-05", "9.999e-05", "+9.999e-05"},
		{123.0, "123.0", "123", "+123"},
		{-1.5e-7, "-1.5e-07", "-1.5e-07", "-1.5e-07"},
		{1e16, "1e+16", "1e+16", "+1e+16"},
		{9999999999999998.0, "9999999999999998.0", "9999999999999998", "+9999999999999998"},
		{1.0 / 3, "0.3333333333333333", "0.3333333333333333", "+0.3333333333333333"},
		{math.Copysign(0, -1), "-0.0", "-0", "-0"},
		{1.234e-300, "1.234e-300", "1.234e-300", "+1.234e-300"},
		{math.Inf(-1), "-inf", "-inf", "-inf"},
		{math.NaN(), "nan", "nan", "+nan"},
	} {
		if got := floatRepr(c.f, true, false); got != c.float {
			t.Errorf("repr(%v) = %q, want %q", c.f, got, c.float)
		}
		if got := floatRepr(c.f, false, false); got != c.imag {
			t.Errorf("imaginary part %v = %q, want %q", c.f, got, c.imag)
		}
		if got := floatRepr(c.f, false, true); got != c.cpx {
			t.Errorf("signed part %v = %q, want %q", c.f, got, c.cpx)
		}
	}
}

// str and bytes reprs: quote choice and escapes (values from CPython 3.11).
func TestStrAndBytesReprEscapeAsPythonDoes(t *testing.T) {
	for _, c := range []struct {
		in   []rune
		want string
	}{
		{[]rune(`a"b`), `'a"b'`},
		{[]rune(`a'b`), `"a'b"`},
		{[]rune(`'"`), `'\'"'`},
		{[]rune{0, 0x1f, 0x7f, 0x80, 0xa0, 0xad}, `'\x00\x1f\x7f\x80\xa0\xad'`},
		{[]rune{0x2028, 0xe000, 0xfeff, 0xdfff, 0x10ffff}, `'\u2028\ue000\ufeff\udfff\U0010ffff'`},
		{[]rune("é世🐍"), "'é世🐍'"},
	} {
		if got := strRepr(c.in); got != c.want {
			t.Errorf("repr(%q) = %s, want %s", string(c.in), got, c.want)
		}
	}
	if got, want := bytesRepr([]byte("'\"\x80\\")), `b'\'"\x80\\'`; got != want {
		t.Errorf("bytes repr = %s, want %s", got, want)
	}
}

// Without symbols (a core whose files are gone, found by its debug offsets)
// type identity falls back on tp_flags subclass bits and the names of static
// types: every object of objects.py still renders as Python showed it.
func TestReprWithoutTypeSymbolsFallsBackToFlagsAndNames(t *testing.T) {
	all, err := pytest.Discover()
	if err != nil {
		t.Logf("discovering interpreters: %v", err)
	}
	var interps []pytest.Interpreter
	for _, i := range all {
		if i.AtLeast(3, 6) {
			interps = append(interps, i)
		}
	}
	if len(interps) == 0 {
		t.Skip("no CPython 3.6+ interpreter on this machine (run testdata/pythons/fetch.sh)")
	}
	for _, interp := range pytest.Select(interps) {
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
			l, err := NewLayout(p)
			if err != nil {
				t.Fatal(err)
			}
			l.Types, l.singletons, l.reprOf, l.baseExc = map[core.Address]Kind{}, map[core.Address]int{}, map[Kind]core.Address{}, 0
			opts := ReprOptions{MaxDepth: 20, MaxLength: 5000, MaxString: 5000, MaxTotal: 1 << 20}
			for name, w := range want.Objects {
				r := NewReader(p, l).NewRenderer(opts, opts.MaxTotal)
				o := r.Render(core.Address(w.ID), 0)
				if o.Repr != w.Repr || o.Type != w.Type {
					t.Errorf("%s: got %s %q (%s), want %s %q", name, o.Type, o.Repr, o.Error, w.Type, w.Repr)
				}
			}
		})
	}
}
