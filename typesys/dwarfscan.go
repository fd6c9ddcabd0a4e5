package typesys

import (
	"bytes"
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pycore/pycore/internal/leb128"
)

// Sections are the raw DWARF sections a fast scan of top-level DIEs reads
// (slices of the mapped file; nil when absent).
type Sections struct {
	Info, Abbrev, Str, LineStr, StrOffsets []byte
}

// WithSections lets the name index be built by reading .debug_info directly
// (rawScanner) instead of through debug/dwarf's Reader, which decodes every
// attribute of every entry into allocated values: on libpython that is 100 ms
// for the 212,000 top-level entries a lookup of an undefined name passes, the
// raw scan a few. Without Info, or if the raw scan meets something it does not
// know, the Reader is used from where the raw scan stopped.
func (dt *DWARFTypes) WithSections(s Sections) *DWARFTypes {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	if len(s.Info) > 0 && len(s.Abbrev) > 0 && dt.reader == nil && dt.scanned == 0 {
		dt.raw = &rawScanner{sec: s, abbrevs: map[uint64]*abbrevTable{}}
	}
	return dt
}

// errRawUnsupported makes the scan fall back to debug/dwarf's Reader.
var errRawUnsupported = errors.New("unsupported DWARF encoding")

// DWARF constants the raw scan needs (debug/dwarf does not export forms).
const (
	formAddr          = 0x01
	formBlock2        = 0x03
	formBlock4        = 0x04
	formData2         = 0x05
	formData4         = 0x06
	formData8         = 0x07
	formString        = 0x08
	formBlock         = 0x09
	formBlock1        = 0x0a
	formData1         = 0x0b
	formFlag          = 0x0c
	formSdata         = 0x0d
	formStrp          = 0x0e
	formUdata         = 0x0f
	formRefAddr       = 0x10
	formRef1          = 0x11
	formRef2          = 0x12
	formRef4          = 0x13
	formRef8          = 0x14
	formRefUdata      = 0x15
	formIndirect      = 0x16
	formSecOffset     = 0x17
	formExprloc       = 0x18
	formFlagPresent   = 0x19
	formStrx          = 0x1a
	formAddrx         = 0x1b
	formRefSup4       = 0x1c
	formStrpSup       = 0x1d
	formData16        = 0x1e
	formLineStrp      = 0x1f
	formRefSig8       = 0x20
	formImplicitConst = 0x21
	formLoclistx      = 0x22
	formRnglistx      = 0x23
	formRefSup8       = 0x24
	formStrx1         = 0x25
	formStrx2         = 0x26
	formStrx3         = 0x27
	formStrx4         = 0x28
	formAddrx1        = 0x29
	formAddrx2        = 0x2a
	formAddrx3        = 0x2b
	formAddrx4        = 0x2c
	formGNUAddrIndex  = 0x1f01
	formGNUStrIndex   = 0x1f02
	formGNURefAlt     = 0x1f20
	formGNUStrpAlt    = 0x1f21

	attrStrOffsetsBase = 0x72
)

type abbrevAttr struct {
	attr, form uint32
	implicit   int64
}

type abbrev struct {
	tag      dwarf.Tag
	children bool
	attrs    []abbrevAttr

	plan    entryLayout // for planKey
	planKey int         // 0: not computed
}

// entryLayout is where an entry's kept attributes sit when every attribute of
// its abbreviation has a fixed size (most entries: members, typedefs,
// structs), so that reading one is a few loads instead of a loop over forms.
type entryLayout struct {
	size int // -1 if some attribute's size varies
	kept []keptAttr
}

type keptAttr struct {
	aa  abbrevAttr
	off int
}

// layout computes (once per unit encoding) the abbreviation's layout.
func (a *abbrev) layout(h *unitHeader) *entryLayout {
	offSize := 4
	if h.dwarf64 {
		offSize = 8
	}
	key := 1 + h.addrSize | offSize<<8
	if h.version == 2 {
		key |= 1 << 16
	}
	if a.planKey == key {
		return &a.plan
	}
	a.planKey, a.plan = key, entryLayout{}
	off := 0
	for _, aa := range a.attrs {
		n := fixedFormSize(aa.form, h, offSize)
		if n < 0 {
			a.plan = entryLayout{size: -1}
			return &a.plan
		}
		switch dwarf.Attr(aa.attr) {
		case dwarf.AttrSibling, dwarf.AttrName, dwarf.AttrDeclaration, dwarf.AttrType, dwarf.AttrSpecification, dwarf.AttrLocation, attrStrOffsetsBase:
			a.plan.kept = append(a.plan.kept, keptAttr{aa, off})
		}
		off += n
	}
	a.plan.size = off
	return &a.plan
}

// fixedFormSize is the size of a form's value, -1 if it varies.
func fixedFormSize(form uint32, h *unitHeader, offSize int) int {
	switch form {
	case formFlagPresent, formImplicitConst:
		return 0
	case formData1, formRef1, formFlag, formStrx1, formAddrx1:
		return 1
	case formData2, formRef2, formStrx2, formAddrx2:
		return 2
	case formStrx3, formAddrx3:
		return 3
	case formData4, formRef4, formStrx4, formAddrx4, formRefSup4:
		return 4
	case formData8, formRef8, formRefSig8, formRefSup8:
		return 8
	case formData16:
		return 16
	case formAddr:
		return h.addrSize
	case formStrp, formLineStrp, formSecOffset, formStrpSup, formGNURefAlt, formGNUStrpAlt:
		return offSize
	case formRefAddr:
		if h.version == 2 {
			return h.addrSize
		}
		return offSize
	}
	return -1
}

type abbrevTable struct {
	dense  []*abbrev // by code, for the usual 1..n numbering
	sparse map[uint64]*abbrev
}

func (t *abbrevTable) get(code uint64) *abbrev {
	if code < uint64(len(t.dense)) {
		return t.dense[code]
	}
	return t.sparse[code]
}

// rawScanner walks .debug_info one unit at a time, reading of each top-level
// entry only the attributes the index keeps.
type rawScanner struct {
	sec     Sections
	abbrevs map[uint64]*abbrevTable
	next    uint64 // offset of the next unit header
}

// rawEntry is what the index keeps of a top-level entry; the fields mirror
// what scanSome reads through dwarf.Entry.Val, with the same types.
type rawEntry struct {
	off              dwarf.Offset
	tag              dwarf.Tag
	name             []byte // a slice of the section (raw) or a copy (Reader)
	decl             bool
	typ, spec        dwarf.Offset
	hasType, hasSpec bool
	loc              []byte
	children         bool
}

// unitHeader is a parsed unit header.
type unitHeader struct {
	off, end   uint64 // the unit's offset and the end of its entries
	dieOff     uint64 // its first entry
	version    int
	dwarf64    bool
	addrSize   int
	abbrevOff  uint64
	strOffBase uint64
	hasStrBase bool
}

type rbuf struct {
	b   []byte
	pos uint64
	err error
}

func (r *rbuf) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("DWARF entry at 0x%x runs past its section", r.pos)
	}
	r.pos = uint64(len(r.b))
}

func (r *rbuf) skip(n uint64) {
	if n > uint64(len(r.b))-r.pos {
		r.fail()
		return
	}
	r.pos += n
}

func (r *rbuf) u8() uint8 {
	if r.pos >= uint64(len(r.b)) {
		r.fail()
		return 0
	}
	v := r.b[r.pos]
	r.pos++
	return v
}

func (r *rbuf) fixed(n int) uint64 {
	if uint64(n) > uint64(len(r.b))-r.pos {
		r.fail()
		return 0
	}
	p := r.b[r.pos:]
	r.pos += uint64(n)
	switch n {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(p))
	case 3:
		return uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16
	case 4:
		return uint64(binary.LittleEndian.Uint32(p))
	default:
		return binary.LittleEndian.Uint64(p)
	}
}

func (r *rbuf) uleb() uint64 {
	if r.pos >= uint64(len(r.b)) {
		r.fail()
		return 0
	}
	v, n := leb128.Uint(r.b[r.pos:])
	if n == 0 {
		r.fail()
	}
	r.pos += uint64(n)
	return v
}

func (r *rbuf) sleb() int64 {
	if r.pos >= uint64(len(r.b)) {
		r.fail()
		return 0
	}
	v, n := leb128.Int(r.b[r.pos:])
	if n == 0 {
		r.fail()
	}
	r.pos += uint64(n)
	return v
}

// cstring returns the NUL-terminated string at off in b, nil if none.
func cstring(b []byte, off uint64) []byte {
	if off >= uint64(len(b)) {
		return nil
	}
	if i := bytes.IndexByte(b[off:], 0); i >= 0 {
		return b[off : off+uint64(i)]
	}
	return nil
}

// header parses the unit header at s.next.
func (s *rawScanner) header() (unitHeader, error) {
	r := &rbuf{b: s.sec.Info, pos: s.next}
	h := unitHeader{off: s.next}
	length := r.fixed(4)
	if length == 0xffffffff {
		h.dwarf64 = true
		length = r.fixed(8)
	} else if length >= 0xfffffff0 {
		return h, errRawUnsupported
	}
	if r.err != nil || length > uint64(len(r.b))-r.pos {
		return h, fmt.Errorf("unit at 0x%x: length %d runs past .debug_info", h.off, length)
	}
	h.end = r.pos + length
	h.version = int(r.fixed(2))
	offSize := 4
	if h.dwarf64 {
		offSize = 8
	}
	switch {
	case h.version >= 2 && h.version <= 4:
		h.abbrevOff = r.fixed(offSize)
		h.addrSize = int(r.u8())
	case h.version == 5:
		unitType := r.u8()
		h.addrSize = int(r.u8())
		h.abbrevOff = r.fixed(offSize)
		switch unitType {
		case 0x01, 0x03: // compile, partial
		case 0x04, 0x05: // skeleton, split_compile: dwo_id
			r.skip(8)
		case 0x02, 0x06: // type, split_type: signature, type offset
			r.skip(8)
			r.skip(uint64(offSize))
		default:
			return h, errRawUnsupported
		}
	default:
		return h, errRawUnsupported
	}
	if r.err != nil || r.pos > h.end {
		return h, fmt.Errorf("unit at 0x%x: truncated header", h.off)
	}
	h.dieOff = r.pos
	return h, nil
}

// table parses (once) the abbreviation table at off.
func (s *rawScanner) table(off uint64) (*abbrevTable, error) {
	if t, ok := s.abbrevs[off]; ok {
		return t, nil
	}
	r := &rbuf{b: s.sec.Abbrev, pos: off}
	if off >= uint64(len(r.b)) {
		return nil, fmt.Errorf("abbreviation table at 0x%x is past .debug_abbrev", off)
	}
	t := &abbrevTable{}
	for n := 0; ; n++ {
		code := r.uleb()
		if code == 0 || r.err != nil {
			break
		}
		if n > 1<<20 {
			return nil, fmt.Errorf("abbreviation table at 0x%x: too many entries", off)
		}
		a := &abbrev{tag: dwarf.Tag(r.uleb()), children: r.u8() != 0}
		for {
			at, form := r.uleb(), r.uleb()
			if at == 0 && form == 0 || r.err != nil {
				break
			}
			aa := abbrevAttr{attr: uint32(at), form: uint32(form)}
			if form == formImplicitConst {
				aa.implicit = r.sleb()
			}
			a.attrs = append(a.attrs, aa)
		}
		if code < 1<<16 {
			for uint64(len(t.dense)) <= code {
				t.dense = append(t.dense, nil)
			}
			t.dense[code] = a
		} else {
			if t.sparse == nil {
				t.sparse = map[uint64]*abbrev{}
			}
			t.sparse[code] = a
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("abbreviation table at 0x%x: %w", off, r.err)
	}
	s.abbrevs[off] = t
	return t, nil
}

// entry reads the entry at r.pos. With keep nil only its extent is read.
// It returns the abbreviation (nil for a null entry) and the sibling offset
// (0 if none).
func (s *rawScanner) entry(r *rbuf, h *unitHeader, t *abbrevTable, keep *rawEntry) (*abbrev, uint64, error) {
	start := r.pos
	code := r.uleb()
	if code == 0 || r.err != nil {
		return nil, 0, r.err
	}
	a := t.get(code)
	if a == nil {
		return nil, 0, fmt.Errorf("entry at 0x%x: unknown abbreviation %d", start, code)
	}
	if keep != nil {
		*keep = rawEntry{off: dwarf.Offset(start), tag: a.tag, children: a.children}
	}
	offSize := 4
	if h.dwarf64 {
		offSize = 8
	}
	var sibling uint64
	if p := a.layout(h); p.size >= 0 {
		// Every attribute has a fixed size: read only those kept.
		base := r.pos
		if uint64(p.size) > uint64(len(r.b))-base {
			r.fail()
			return nil, 0, fmt.Errorf("entry at 0x%x: %w", start, r.err)
		}
		for _, w := range p.kept {
			if keep == nil && w.aa.attr != uint32(dwarf.AttrSibling) && w.aa.attr != attrStrOffsetsBase {
				continue
			}
			ar := &rbuf{b: r.b[:base+uint64(p.size)], pos: base + uint64(w.off)}
			if err := s.attr(ar, h, w.aa, offSize, keep, &sibling, start); err != nil {
				return nil, 0, err
			}
		}
		r.pos = base + uint64(p.size)
		return a, sibling, nil
	}
	for _, aa := range a.attrs {
		if err := s.attr(r, h, aa, offSize, keep, &sibling, start); err != nil {
			return nil, 0, err
		}
	}
	return a, sibling, nil
}

// attr reads one attribute's value at r.pos, noting in keep and sibling
// what the index uses.
func (s *rawScanner) attr(r *rbuf, h *unitHeader, aa abbrevAttr, offSize int, keep *rawEntry, sibling *uint64, start uint64) error {
	form := aa.form
	if form == formIndirect {
		form = uint32(r.uleb())
		if form == formIndirect || form == formImplicitConst {
			return errRawUnsupported
		}
	}
	var val uint64
	var str []byte // the table a string offset points into
	var strOK, block, ref, flag bool
	var blockLen uint64
	switch form {
	case formAddr:
		r.skip(uint64(h.addrSize))
	case formBlock1:
		blockLen, block = r.fixed(1), true
	case formBlock2:
		blockLen, block = r.fixed(2), true
	case formBlock4:
		blockLen, block = r.fixed(4), true
	case formBlock, formExprloc:
		blockLen, block = r.uleb(), true
	case formData1, formRef1:
		val, ref = r.fixed(1), form == formRef1
	case formData2, formRef2:
		val, ref = r.fixed(2), form == formRef2
	case formData4, formRef4:
		val, ref = r.fixed(4), form == formRef4
	case formData8, formRef8:
		val, ref = r.fixed(8), form == formRef8
	case formRefUdata:
		val, ref = r.uleb(), true
	case formData16:
		r.skip(16)
	case formFlag:
		val, flag = r.fixed(1), true
	case formFlagPresent:
		val, flag = 1, true
	case formSdata:
		r.sleb()
	case formUdata, formAddrx, formLoclistx, formRnglistx, formGNUAddrIndex:
		r.uleb()
	case formString:
		i := bytes.IndexByte(r.b[r.pos:], 0)
		if i < 0 {
			r.fail()
			break
		}
		if keep != nil && aa.attr == uint32(dwarf.AttrName) {
			keep.name = r.b[r.pos : r.pos+uint64(i)]
		}
		r.pos += uint64(i) + 1
	case formStrp, formLineStrp:
		val = r.fixed(offSize)
		str, strOK = s.sec.Str, true
		if form == formLineStrp {
			str = s.sec.LineStr
		}
	case formStrx, formStrx1, formStrx2, formStrx3, formStrx4, formGNUStrIndex:
		switch form {
		case formStrx1:
			val = r.fixed(1)
		case formStrx2:
			val = r.fixed(2)
		case formStrx3:
			val = r.fixed(3)
		case formStrx4:
			val = r.fixed(4)
		default:
			val = r.uleb()
		}
		if keep != nil && aa.attr == uint32(dwarf.AttrName) {
			if !h.hasStrBase || len(s.sec.StrOffsets) == 0 {
				return errRawUnsupported
			}
			so := &rbuf{b: s.sec.StrOffsets, pos: h.strOffBase}
			so.skip(val * uint64(offSize))
			val = so.fixed(offSize)
			if so.err != nil {
				return fmt.Errorf("entry at 0x%x: string index %d past .debug_str_offsets", start, val)
			}
			str, strOK = s.sec.Str, true
		}
	case formRefAddr:
		if h.version == 2 {
			val = r.fixed(h.addrSize)
		} else {
			val = r.fixed(offSize)
		}
	case formSecOffset, formStrpSup, formGNURefAlt, formGNUStrpAlt:
		val = r.fixed(offSize)
		if aa.attr == attrStrOffsetsBase && form == formSecOffset {
			h.strOffBase, h.hasStrBase = val, true
		}
	case formRefSup4:
		r.skip(4)
	case formRefSup8, formRefSig8:
		r.skip(8)
	case formImplicitConst:
		val = uint64(aa.implicit)
		flag = true // only DW_AT_declaration's value is read from it
	default:
		return errRawUnsupported
	}
	if block {
		p := r.pos
		r.skip(blockLen)
		if keep != nil && aa.attr == uint32(dwarf.AttrLocation) && r.err == nil {
			keep.loc = r.b[p:r.pos:r.pos]
		}
	}
	if r.err != nil {
		return fmt.Errorf("entry at 0x%x: %w", start, r.err)
	}
	switch dwarf.Attr(aa.attr) {
	case dwarf.AttrSibling:
		if ref {
			*sibling = h.off + val
		} else if form == formRefAddr {
			*sibling = val
		}
	case dwarf.AttrName:
		if keep != nil && strOK {
			keep.name = cstring(str, val)
		}
	case dwarf.AttrDeclaration:
		if keep != nil && flag {
			keep.decl = val != 0
		}
	case dwarf.AttrType, dwarf.AttrSpecification:
		if keep == nil {
			break
		}
		var o dwarf.Offset
		ok := true
		switch {
		case ref:
			o = dwarf.Offset(h.off + val)
		case form == formRefAddr:
			o = dwarf.Offset(val)
		default:
			ok = false
		}
		if dwarf.Attr(aa.attr) == dwarf.AttrType {
			keep.typ, keep.hasType = o, ok
		} else {
			keep.spec, keep.hasSpec = o, ok
		}
	}
	return nil
}

// unit scans the next unit, calling note for each of its top-level entries
// (for compile and partial units; other units are skipped whole). It returns
// false when .debug_info is exhausted. On an error the scan stays at the
// unit, whose first entry is at *dieOff, so the Reader can take over there.
func (s *rawScanner) unit(note func(*rawEntry), count *int) (more bool, dieOff dwarf.Offset, err error) {
	if s.next >= uint64(len(s.sec.Info)) {
		return false, 0, nil
	}
	h, err := s.header()
	if err != nil {
		return true, 0, err
	}
	dieOff = dwarf.Offset(h.dieOff)
	t, err := s.table(h.abbrevOff)
	if err != nil {
		return true, dieOff, err
	}
	r := &rbuf{b: s.sec.Info[:h.end], pos: h.dieOff}
	a, _, err := s.entry(r, &h, t, nil)
	if err != nil {
		return true, dieOff, err
	}
	if a != nil && a.children && (a.tag == dwarf.TagCompileUnit || a.tag == dwarf.TagPartialUnit) {
		var e rawEntry
		for r.pos < h.end {
			*count++
			if *count > maxDIEs {
				break
			}
			a, sib, err := s.entry(r, &h, t, &e)
			if err != nil {
				return true, dieOff, err
			}
			if a == nil {
				break // the end of the unit's children
			}
			note(&e)
			if !a.children {
				continue
			}
			if sib > r.pos && sib <= h.end {
				r.pos = sib
				continue
			}
			// No usable sibling: walk the children.
			for depth := 1; depth > 0 && r.pos < h.end; {
				*count++
				if *count > maxDIEs {
					break
				}
				a, sib, err := s.entry(r, &h, t, nil)
				if err != nil {
					return true, dieOff, err
				}
				switch {
				case a == nil:
					depth--
				case a.children && sib > r.pos && sib <= h.end:
					r.pos = sib
				case a.children:
					depth++
				}
			}
		}
	}
	s.next = h.end
	return true, dieOff, nil
}
