package unwind

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/pycore/pycore/internal/leb128"
)

// Pointer encodings of .eh_frame (DW_EH_PE_*).
const (
	peAbsptr  = 0x00
	peUleb128 = 0x01
	peUdata2  = 0x02
	peUdata4  = 0x03
	peUdata8  = 0x04
	peSleb128 = 0x09
	peSdata2  = 0x0a
	peSdata4  = 0x0b
	peSdata8  = 0x0c
	pePcrel   = 0x10
	peDatarel = 0x30
	peOmit    = 0xff
)

// maxCFILen bounds one CIE or FDE: real ones are tens of bytes, and a
// damaged length must not make us walk the whole file as one entry.
const maxCFILen = 1 << 20

// cie is a Common Information Entry.
type cie struct {
	codeAlign uint64
	dataAlign int64
	raReg     uint64
	fdeEnc    byte
	signal    bool // augmentation "S": the frame is a signal trampoline
	hasAug    bool // augmentation starts with 'z'
	initial   []byte
}

// fde is a Frame Description Entry at link-time addresses.
type fde struct {
	start, end uint64
	cie        *cie
	insns      []byte
}

// table is the CFI of one module's .eh_frame, sorted by start.
type table struct {
	fdes []fde
}

// cursor reads little-endian DWARF data with bounds checks.
type cursor struct {
	b   []byte
	off int
	err error
}

func (c *cursor) fail(what string) {
	if c.err == nil {
		c.err = fmt.Errorf("truncated %s at offset %#x", what, c.off)
	}
}

func (c *cursor) u8() byte {
	if c.err != nil || c.off >= len(c.b) {
		c.fail("byte")
		return 0
	}
	v := c.b[c.off]
	c.off++
	return v
}

func (c *cursor) fixed(n int) uint64 {
	if c.err != nil || n > len(c.b)-c.off {
		c.fail("value")
		return 0
	}
	var v uint64
	switch n {
	case 2:
		v = uint64(binary.LittleEndian.Uint16(c.b[c.off:]))
	case 4:
		v = uint64(binary.LittleEndian.Uint32(c.b[c.off:]))
	case 8:
		v = binary.LittleEndian.Uint64(c.b[c.off:])
	}
	c.off += n
	return v
}

func (c *cursor) uleb() uint64 {
	if c.err != nil || c.off >= len(c.b) {
		c.fail("byte")
		return 0
	}
	v, n := leb128.Uint(c.b[c.off:])
	if n == 0 {
		c.off = len(c.b)
		c.fail("byte")
	}
	c.off += n
	return v
}

func (c *cursor) sleb() int64 {
	if c.err != nil || c.off >= len(c.b) {
		c.fail("byte")
		return 0
	}
	v, n := leb128.Int(c.b[c.off:])
	if n == 0 {
		c.off = len(c.b)
		c.fail("byte")
	}
	c.off += n
	return v
}

func (c *cursor) bytes(n uint64) []byte {
	if c.err != nil || n > uint64(len(c.b)-c.off) {
		c.fail("block")
		return nil
	}
	b := c.b[c.off : c.off+int(n)]
	c.off += int(n)
	return b
}

// pointer reads an encoded pointer; secAddr is the link-time address of the
// section the cursor reads, for pc-relative encodings.
func (c *cursor) pointer(enc byte, secAddr uint64) uint64 {
	if enc == peOmit {
		return 0
	}
	here := secAddr + uint64(c.off)
	var v uint64
	switch enc & 0x0f {
	case peAbsptr, peUdata8, peSdata8:
		v = c.fixed(8)
	case peUleb128:
		v = c.uleb()
	case peSleb128:
		v = uint64(c.sleb())
	case peUdata2:
		v = c.fixed(2)
	case peSdata2:
		v = uint64(int64(int16(c.fixed(2))))
	case peUdata4:
		v = c.fixed(4)
	case peSdata4:
		v = uint64(int64(int32(c.fixed(4))))
	default:
		if c.err == nil {
			c.err = fmt.Errorf("unsupported pointer encoding %#x at offset %#x", enc, c.off)
		}
		return 0
	}
	switch enc & 0x70 {
	case 0:
	case pePcrel:
		v += here
	default:
		// datarel/textrel/funcrel are not used for FDE ranges on x86-64 Linux.
		if c.err == nil {
			c.err = fmt.Errorf("unsupported pointer application %#x at offset %#x", enc&0x70, c.off)
		}
	}
	return v
}

// parseEhFrame reads every FDE of an .eh_frame section whose link-time
// address is secAddr. Entries that cannot be read end the parse; what was
// read before stays usable, and err says where it stopped.
func parseEhFrame(data []byte, secAddr uint64) (*table, error) {
	return parseCFI(data, secAddr, false)
}

// parseDebugFrame reads every FDE of a .debug_frame section (the CFI that
// -g emits, also without unwind tables, and that detached debug files
// keep): CIE ids are all ones instead of zero, CIE pointers count from
// the section's start instead of back from the FDE, and addresses are
// absolute link-time ones unless a 'z' augmentation says otherwise.
func parseDebugFrame(data []byte) (*table, error) {
	return parseCFI(data, 0, true)
}

func parseCFI(data []byte, secAddr uint64, debugFrame bool) (*table, error) {
	t := &table{}
	cies := map[int]*cie{}
	var err error
	off := 0
	for off+4 <= len(data) {
		length := uint64(binary.LittleEndian.Uint32(data[off:]))
		hdr, idSize := 4, 4
		if length == 0 {
			if debugFrame {
				off += 4 // padding, not a terminator, in .debug_frame
				continue
			}
			break // terminator
		}
		if length == 0xffffffff {
			if off+12 > len(data) {
				err = fmt.Errorf("truncated 64-bit length at offset %#x", off)
				break
			}
			length = binary.LittleEndian.Uint64(data[off+4:])
			hdr = 12
			if debugFrame {
				idSize = 8
			}
		}
		if length > maxCFILen || length > uint64(len(data)-off-hdr) || length < uint64(idSize) {
			err = fmt.Errorf("entry at offset %#x: length %d runs past the section (%d bytes)", off, length, len(data))
			break
		}
		body := off + hdr
		end := body + int(length)
		var id uint64
		if idSize == 8 {
			id = binary.LittleEndian.Uint64(data[body:])
		} else {
			id = uint64(binary.LittleEndian.Uint32(data[body:]))
		}
		isCIE := id == 0
		cieOff := body - int(id)
		if debugFrame {
			isCIE = id == 0xffffffff || id == ^uint64(0)
			cieOff = int(id)
			if id > uint64(len(data)) {
				cieOff = -1
			}
		}
		if isCIE {
			ci, e := parseCIE(data[:end], body+idSize)
			if e != nil {
				err = fmt.Errorf("CIE at offset %#x: %w", off, e)
				break
			}
			if debugFrame && !ci.hasAug {
				ci.fdeEnc = peAbsptr
			}
			cies[off] = ci
		} else {
			ci, ok := cies[cieOff]
			if !ok {
				if cieOff < 0 || cieOff+8 > len(data) {
					err = fmt.Errorf("FDE at offset %#x: CIE pointer %#x outside the section", off, id)
					break
				}
				var e error
				ci, e = parseCIEAt(data, cieOff, debugFrame)
				if e != nil {
					err = fmt.Errorf("FDE at offset %#x: CIE at %#x: %w", off, cieOff, e)
					break
				}
				cies[cieOff] = ci
			}
			c := &cursor{b: data[:end], off: body + idSize}
			start := c.pointer(ci.fdeEnc, secAddr)
			size := c.pointer(ci.fdeEnc&0x0f, 0)
			if ci.hasAug {
				c.bytes(c.uleb())
			}
			if c.err != nil {
				err = fmt.Errorf("FDE at offset %#x: %w", off, c.err)
				break
			}
			if start+size >= start && size > 0 {
				t.fdes = append(t.fdes, fde{start: start, end: start + size, cie: ci, insns: data[c.off:end]})
			}
		}
		off = end
	}
	// Linkers lay FDEs out in address order, so this is mostly a check;
	// sort.SliceStable moved the entries through reflection, 1.6 ms a module.
	byStart := func(a, b fde) int { return cmp.Compare(a.start, b.start) }
	if !slices.IsSortedFunc(t.fdes, byStart) {
		slices.SortStableFunc(t.fdes, byStart)
	}
	return t, err
}

func parseCIEAt(data []byte, off int, debugFrame bool) (*cie, error) {
	length := uint64(binary.LittleEndian.Uint32(data[off:]))
	if length == 0xffffffff || length > uint64(len(data)-off-4) || length < 4 {
		return nil, errors.New("bad length")
	}
	end := off + 4 + int(length)
	want := uint32(0)
	if debugFrame {
		want = 0xffffffff
	}
	if binary.LittleEndian.Uint32(data[off+4:]) != want {
		return nil, errors.New("not a CIE")
	}
	ci, err := parseCIE(data[:end], off+8)
	if err == nil && debugFrame && !ci.hasAug {
		ci.fdeEnc = peAbsptr
	}
	return ci, err
}

func parseCIE(data []byte, off int) (*cie, error) {
	c := &cursor{b: data, off: off}
	ci := &cie{fdeEnc: peAbsptr}
	version := c.u8()
	if c.err == nil && version != 1 && version != 3 && version != 4 {
		return nil, fmt.Errorf("version %d not supported", version)
	}
	var aug []byte
	for len(aug) < 64 {
		b := c.u8()
		if c.err != nil || b == 0 {
			break
		}
		aug = append(aug, b)
	}
	if version == 4 {
		// .debug_frame's version 4: address and segment selector sizes.
		if addrSize, segSize := c.u8(), c.u8(); c.err == nil && (addrSize != 8 || segSize != 0) {
			return nil, fmt.Errorf("address size %d, segment selector size %d not supported", addrSize, segSize)
		}
	}
	ci.codeAlign = c.uleb()
	ci.dataAlign = c.sleb()
	if version == 1 {
		ci.raReg = uint64(c.u8())
	} else {
		ci.raReg = c.uleb()
	}
	if len(aug) > 0 && aug[0] == 'z' {
		ci.hasAug = true
		augData := &cursor{b: c.bytes(c.uleb())}
		for _, a := range aug[1:] {
			switch a {
			case 'R':
				ci.fdeEnc = augData.u8()
			case 'P':
				enc := augData.u8()
				augData.pointer(enc&0x7f, 0)
			case 'L':
				augData.u8()
			case 'S':
				ci.signal = true
			case 'B', 'G':
			default:
				return nil, fmt.Errorf("augmentation %q not supported", aug)
			}
		}
		if augData.err != nil {
			return nil, fmt.Errorf("augmentation data: %w", augData.err)
		}
	} else if len(aug) > 0 {
		return nil, fmt.Errorf("augmentation %q not supported", aug)
	}
	if c.err != nil {
		return nil, c.err
	}
	ci.initial = data[c.off:]
	return ci, nil
}

// find returns the FDE covering the link-time pc, or nil.
func (t *table) find(pc uint64) *fde {
	i := sort.Search(len(t.fdes), func(i int) bool { return t.fdes[i].start > pc }) - 1
	if i < 0 || pc >= t.fdes[i].end {
		return nil
	}
	return &t.fdes[i]
}
