package abi

// Line numbers from the three line-table formats CPython has used. Each
// decoder is bounded by the table's length and returns ok=false when the
// table has no line for the address (or is malformed).

// LineFromLnotab decodes co_lnotab (3.8, 3.9): pairs of (address delta,
// signed line delta); addr is the byte offset of the instruction.
func LineFromLnotab(tab []byte, firstLine, addr int) int {
	line, a := firstLine, 0
	for i := 0; i+1 < len(tab); i += 2 {
		a += int(tab[i])
		if a > addr {
			break
		}
		line += int(int8(tab[i+1]))
	}
	return line
}

// LineFromLinetable310 decodes 3.10's co_linetable (PEP 626): pairs of
// (byte length, signed line delta), where a line delta of -128 means the
// range has no line. addr is a byte offset.
func LineFromLinetable310(tab []byte, firstLine, addr int) (int, bool) {
	if addr < 0 {
		return firstLine, true
	}
	line, start := firstLine, 0
	for i := 0; i+1 < len(tab); i += 2 {
		end := start + int(tab[i])
		delta := int8(tab[i+1])
		has := delta != -128
		if has {
			line += int(delta)
		}
		if start <= addr && addr < end {
			return line, has
		}
		start = end
	}
	return 0, false
}

// LineFromLocationTable decodes the 3.11+ location table. index counts code
// units (2 bytes each) from the start of the bytecode.
func LineFromLocationTable(tab []byte, firstLine, index int) (int, bool) {
	if index < 0 {
		return firstLine, true
	}
	line, start := firstLine, 0
	i := 0
	for i < len(tab) {
		b := tab[i]
		if b&0x80 == 0 {
			return 0, false // every entry starts with the high bit set
		}
		i++
		kind := int(b>>3) & 15
		end := start + int(b&7) + 1
		has := true
		switch {
		case kind == 15: // no location
			has = false
		case kind == 14: // long form: line delta, end line delta, column, end column
			d, n := readSvarint(tab[i:])
			line += d
			i += n
			for k := 0; k < 3; k++ {
				_, n = readVarint(tab[i:])
				i += n
			}
		case kind == 13: // no columns
			d, n := readSvarint(tab[i:])
			line += d
			i += n
		case kind >= 10: // one-line forms: the line moves by 0, 1 or 2; column bytes follow
			line += kind - 10
			i += 2
		default: // short form: same line, one column byte
			i++
		}
		if start <= index && index < end {
			return line, has
		}
		start = end
	}
	return 0, false
}

// readVarint reads CPython's location-table varint: 6-bit groups, least
// significant first, bit 6 set when more follow. It returns the bytes used.
func readVarint(b []byte) (int, int) {
	val, shift := 0, uint(0)
	for i := 0; i < len(b) && i < 6; i++ {
		val |= int(b[i]&63) << shift
		if b[i]&64 == 0 {
			return val, i + 1
		}
		shift += 6
	}
	return val, len(b)
}

func readSvarint(b []byte) (int, int) {
	u, n := readVarint(b)
	if u&1 != 0 {
		return -(u >> 1), n
	}
	return u >> 1, n
}
