package pyobj

import (
	"math"
	"testing"
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
