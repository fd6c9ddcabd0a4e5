package core

import "encoding/binary"

// XCR0's user features sit at this offset of an XSAVE area as ptrace and
// cores give it (the first word of the FXSAVE area's sw_reserved bytes).
const xsaveXCR0Offset = 464

// xsaveLayout is the NT_X86_XSAVE_LAYOUT note Linux 6.x writes after every
// thread's notes: for each extended feature (bit 2 and up) the XSAVE area
// holds, {type, size, offset, flags} as four little-endian u32s, size and
// offset as CPUID leaf 0xD says for the standard format. A debugger reads it
// to find the registers in the area (AMD and Intel place some differently).
// nil without an area, a mask, or CPUID.
func xsaveLayout(xstate []byte) []byte {
	if !haveCPUID || len(xstate) < xsaveXCR0Offset+8 {
		return nil
	}
	if max, _, _, _ := cpuid(0, 0); max < 0xd {
		return nil
	}
	mask := binary.LittleEndian.Uint64(xstate[xsaveXCR0Offset:])
	var out []byte
	for i := uint32(2); i < 64; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		size, offset, _, _ := cpuid(0xd, i)
		if size == 0 || uint64(offset)+uint64(size) > uint64(len(xstate)) {
			continue // not in this area: leave it out rather than describe bytes that are not there
		}
		var rec [16]byte
		binary.LittleEndian.PutUint32(rec[0:], i)
		binary.LittleEndian.PutUint32(rec[4:], size)
		binary.LittleEndian.PutUint32(rec[8:], offset)
		out = append(out, rec[:]...)
	}
	return out
}
