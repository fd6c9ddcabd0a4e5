package native

import (
	"debug/dwarf"
	"encoding/binary"
	"sort"
)

// arange is one address range of a compilation unit: [lo, hi) is in the
// unit at offset unit of .debug_info.
type arange struct {
	lo, hi uint64
	unit   dwarf.Offset
}

// maxUnits bounds the units indexed in one module.
const maxUnits = 1 << 20

// unitRanges indexes the pc ranges of every compilation unit of d, whose
// .debug_info is info: each unit's header gives where the next starts, and
// only each unit's first entry (the unit's own) is decoded. Sorted by start.
// This is SeekPC's walk, done once per module instead of once per pc.
func unitRanges(d *dwarf.Data, info []byte) []arange {
	var out []arange
	le := binary.LittleEndian
	r := d.Reader()
	for off, n := uint64(0), 0; off+4 <= uint64(len(info)) && n < maxUnits; n++ {
		length, hdr := uint64(le.Uint32(info[off:])), uint64(4)
		if length == 0xffffffff {
			if off+12 > uint64(len(info)) {
				break
			}
			length, hdr = le.Uint64(info[off+4:]), 12
		} else if length >= 0xfffffff0 {
			break // reserved lengths: not a unit
		}
		if length > uint64(len(info))-off-hdr {
			break
		}
		// The unit's entry follows its header (debug/dwarf names a unit by
		// that entry's offset, as SeekPC's answer has it).
		die, ok := unitEntryOffset(info[off+hdr:off+hdr+length], hdr == 12)
		if !ok {
			off += hdr + length
			continue
		}
		r.Seek(dwarf.Offset(off + hdr + die))
		if e, err := r.Next(); err == nil && e != nil && e.Tag != 0 {
			if rs, err := d.Ranges(e); err == nil {
				for _, x := range rs {
					if x[0] < x[1] {
						out = append(out, arange{lo: x[0], hi: x[1], unit: e.Offset})
					}
				}
			}
		}
		off += hdr + length
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].lo != out[j].lo {
			return out[i].lo < out[j].lo
		}
		return out[i].unit < out[j].unit
	})
	return out
}

// unitOf is the unit whose range covers pc: of the ranges covering it, the
// lowest unit offset (SeekPC's choice: the first unit). decided is false
// when more ranges overlap pc than it looks at (the caller asks SeekPC).
func unitOf(rs []arange, pc uint64) (unit dwarf.Offset, found, decided bool) {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].lo > pc })
	// Ranges starting at or before pc, nearest first: a unit's ranges do
	// not overlap another's but in odd builds, so the walk back is short;
	// bounded all the same. Past a gap below every range seen, no earlier
	// range can reach pc unless one is longer, hence the bound and not a
	// proof: at the bound the answer is left to SeekPC.
	for k := i - 1; k >= 0; k-- {
		if i-k > 64 {
			return unit, found, false
		}
		if pc < rs[k].hi && (!found || rs[k].unit < unit) {
			unit, found = rs[k].unit, true
		}
	}
	return unit, found, true
}

// unitEntryOffset is where a unit's first entry starts, from the end of
// its unit_length field, given the rest of the unit (u): the header's size
// for DWARF 2-5 (full, partial, skeleton and type units).
func unitEntryOffset(u []byte, dwarf64 bool) (uint64, bool) {
	if len(u) < 2 {
		return 0, false
	}
	off := uint64(4)
	if dwarf64 {
		off = 8
	}
	switch v := binary.LittleEndian.Uint16(u); {
	case v >= 2 && v <= 4:
		return 2 + off + 1, true // version, debug_abbrev_offset, address_size
	case v == 5:
		if len(u) < 3 {
			return 0, false
		}
		n := 2 + 1 + 1 + off // version, unit_type, address_size, debug_abbrev_offset
		switch u[2] {
		case 1, 3: // DW_UT_compile, DW_UT_partial
		case 4, 5: // DW_UT_skeleton, DW_UT_split_compile: dwo_id
			n += 8
		case 2, 6: // DW_UT_type, DW_UT_split_type: signature, type_offset
			n += 8 + off
		default:
			return 0, false
		}
		return n, n <= uint64(len(u))
	}
	return 0, false
}
