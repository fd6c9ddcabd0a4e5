// Package leb128 decodes DWARF's variable-length integers (LEB128), for the
// readers of .debug_info, .eh_frame and .debug_frame: one decoder, bounded by
// the buffer it is given, never by the data.
package leb128

// Uint decodes an unsigned LEB128 number at the start of b: its value and
// the bytes it took, or n == 0 when b ends before the number does. Bits past
// the 64th are dropped, as the readers' consumers only want 64-bit values.
func Uint(b []byte) (v uint64, n int) {
	var shift uint
	for i, c := range b {
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// Int decodes a signed LEB128 number at the start of b, as Uint does.
func Int(b []byte) (v int64, n int) {
	var shift uint
	for i, c := range b {
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
	}
	return 0, 0
}
