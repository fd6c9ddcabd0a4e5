package leb128

import (
	"math"
	"testing"
)

// The examples of the DWARF 5 standard (7.6, figures 3 and 4), the ends of
// the 64-bit range, over-long encodings and truncation.
func TestDecode(t *testing.T) {
	for _, c := range []struct {
		b []byte
		u uint64
		n int
	}{
		{[]byte{2}, 2, 1},
		{[]byte{127}, 127, 1},
		{[]byte{0x80, 1}, 128, 2},
		{[]byte{0x81, 1}, 129, 2},
		{[]byte{0x82, 1}, 130, 2},
		{[]byte{0xb9, 0x64}, 12857, 2},
		{[]byte{0x80, 0x80, 0}, 0, 3},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}, math.MaxUint64, 10},
		{[]byte{0x80}, 0, 0},
		{nil, 0, 0},
		{[]byte{5, 0xff}, 5, 1},
	} {
		if u, n := Uint(c.b); u != c.u || n != c.n {
			t.Errorf("Uint(% x) = %d, %d; want %d, %d", c.b, u, n, c.u, c.n)
		}
	}
	for _, c := range []struct {
		b []byte
		v int64
		n int
	}{
		{[]byte{2}, 2, 1},
		{[]byte{0x7e}, -2, 1},
		{[]byte{0xff, 0}, 127, 2},
		{[]byte{0x81, 0x7f}, -127, 2},
		{[]byte{0x80, 1}, 128, 2},
		{[]byte{0x80, 0x7f}, -128, 2},
		{[]byte{0x81, 1}, 129, 2},
		{[]byte{0xff, 0x7e}, -129, 2},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, math.MinInt64, 10},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}, math.MaxInt64, 10},
		{[]byte{0xff}, 0, 0},
	} {
		if v, n := Int(c.b); v != c.v || n != c.n {
			t.Errorf("Int(% x) = %d, %d; want %d, %d", c.b, v, n, c.v, c.n)
		}
	}
}
