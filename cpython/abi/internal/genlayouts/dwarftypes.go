package main

import (
	"debug/dwarf"
	"fmt"
)

// A small reader of C types straight from DIEs. debug/dwarf's Type cannot be
// used as is: it turns DW_TAG_atomic_type (C11 _Atomic, which CPython's
// _Py_atomic_* wrappers use) into an UnsupportedType that hides the type
// underneath, and it folds "bit offset 0" into "not a bit field".

type typeKind int

const (
	kindVoid typeKind = iota
	kindBase
	kindPointer
	kindStruct
	kindUnion
	kindArray
	kindEnum
	kindTypedef
	kindQual // const, volatile, restrict, _Atomic: transparent
	kindFunc
	kindOther
)

// cType is one resolved DIE. Referenced types are kept as offsets and resolved
// on demand, so that self-referencing structs need no special care.
type cType struct {
	off        dwarf.Offset
	kind       typeKind
	name       string // typedef name, struct/union/enum tag, base type name
	size       int64  // -1 if the DIE has none
	encoding   int64  // DW_AT_encoding of base types
	declOnly   bool   // a struct/union declaration without members
	target     dwarf.Offset
	hasTarget  bool
	dims       []int64 // array dimensions, outermost first; 0 for a flexible array
	members    []cMember
	membersErr error
}

type cMember struct {
	name      string
	typeOff   dwarf.Offset
	offset    int64 // byte offset of the member (of the storage unit for bit fields)
	bitSize   int64 // 0 if not a bit field
	bitOffset int64 // bit fields: bits from the least significant bit of the storage unit
}

// typeReader resolves type DIEs of one DWARF file and caches them.
type typeReader struct {
	data  *dwarf.Data
	cache map[dwarf.Offset]*cType
	// complete struct and union definitions by tag, to complete declarations
	// (a CU that only sees `struct _ts;` has a declaration-only DIE).
	complete map[string]dwarf.Offset
}

func newTypeReader(d *dwarf.Data) *typeReader {
	return &typeReader{data: d, cache: map[dwarf.Offset]*cType{}, complete: map[string]dwarf.Offset{}}
}

// maxTypeChain bounds typedef/qualifier/pointer chains, so that a cyclic or
// corrupt chain of references is an error rather than an endless loop.
const maxTypeChain = 64

func (r *typeReader) typeAt(off dwarf.Offset) (*cType, error) {
	if t, ok := r.cache[off]; ok {
		return t, nil
	}
	rd := r.data.Reader()
	rd.Seek(off)
	e, err := rd.Next()
	if err != nil {
		return nil, fmt.Errorf("reading type DIE at 0x%x: %w", off, err)
	}
	if e == nil || e.Offset != off {
		return nil, fmt.Errorf("no type DIE at 0x%x", off)
	}
	t := &cType{off: off, size: -1}
	if n, ok := e.Val(dwarf.AttrName).(string); ok {
		t.name = n
	}
	if s, ok := e.Val(dwarf.AttrByteSize).(int64); ok {
		t.size = s
	}
	if tgt, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok {
		t.target, t.hasTarget = tgt, true
	}
	switch e.Tag {
	case dwarf.TagBaseType:
		t.kind = kindBase
		t.encoding, _ = e.Val(dwarf.AttrEncoding).(int64)
	case dwarf.TagPointerType:
		t.kind = kindPointer
	case dwarf.TagStructType, dwarf.TagUnionType:
		t.kind = kindStruct
		if e.Tag == dwarf.TagUnionType {
			t.kind = kindUnion
		}
		t.declOnly, _ = e.Val(dwarf.AttrDeclaration).(bool)
		if e.Children {
			t.members, t.membersErr = r.readMembers(rd, t)
		}
	case dwarf.TagArrayType:
		t.kind = kindArray
		if e.Children {
			t.dims, err = r.readDims(rd, off)
			if err != nil {
				return nil, err
			}
		}
	case dwarf.TagEnumerationType:
		t.kind = kindEnum
	case dwarf.TagTypedef:
		t.kind = kindTypedef
	case dwarf.TagConstType, dwarf.TagVolatileType, dwarf.TagRestrictType, dwarf.TagAtomicType:
		t.kind = kindQual
	case dwarf.TagSubroutineType:
		t.kind = kindFunc
	default:
		t.kind = kindOther
	}
	r.cache[off] = t
	return t, nil
}

// readMembers reads the member children of a struct or union DIE; rd is
// positioned just after it.
func (r *typeReader) readMembers(rd *dwarf.Reader, t *cType) ([]cMember, error) {
	var ms []cMember
	for i := 0; ; i++ {
		if i > 100000 {
			return nil, fmt.Errorf("struct at 0x%x: too many children", t.off)
		}
		c, err := rd.Next()
		if err != nil {
			return nil, fmt.Errorf("reading members of struct at 0x%x: %w", t.off, err)
		}
		if c == nil || c.Tag == 0 {
			return ms, nil
		}
		if c.Children {
			rd.SkipChildren()
		}
		if c.Tag != dwarf.TagMember {
			continue
		}
		m := cMember{}
		m.name, _ = c.Val(dwarf.AttrName).(string)
		var ok bool
		if m.typeOff, ok = c.Val(dwarf.AttrType).(dwarf.Offset); !ok {
			return nil, fmt.Errorf("member %q of struct at 0x%x has no type", m.name, t.off)
		}
		switch loc := c.Val(dwarf.AttrDataMemberLoc).(type) {
		case int64:
			m.offset = loc
		case []byte:
			// DWARF 2 style location: DW_OP_plus_uconst ULEB128.
			v, err := plusUconst(loc)
			if err != nil {
				return nil, fmt.Errorf("member %q of struct at 0x%x: %w", m.name, t.off, err)
			}
			m.offset = v
		case nil:
			// Union members, and DWARF 4+ bit fields (which carry data_bit_offset).
		default:
			return nil, fmt.Errorf("member %q of struct at 0x%x: unexpected location form %T", m.name, t.off, loc)
		}
		if bs, ok := c.Val(dwarf.AttrBitSize).(int64); ok && bs > 0 {
			m.bitSize = bs
			if err := r.placeBitField(c, &m); err != nil {
				return nil, fmt.Errorf("bit field %q of struct at 0x%x: %w", m.name, t.off, err)
			}
		}
		ms = append(ms, m)
	}
}

// placeBitField sets a bit field's storage unit offset and its bit offset
// (little-endian, from the least significant bit) within that unit. The unit
// is the member's declared type, as the x86-64 ABI places bit fields.
func (r *typeReader) placeBitField(c *dwarf.Entry, m *cMember) error {
	storage, err := r.resolveSize(m.typeOff)
	if err != nil {
		return err
	}
	if storage <= 0 || storage > 8 {
		return fmt.Errorf("storage unit of %d bytes", storage)
	}
	unitBits := storage * 8
	if dbo, ok := c.Val(dwarf.AttrDataBitOffset).(int64); ok {
		m.offset = dbo / unitBits * storage
		m.bitOffset = dbo - m.offset*8
	} else if bo, ok := c.Val(dwarf.AttrBitOffset).(int64); ok {
		// DWARF 2/3: bits from the most significant bit of a unit of
		// DW_AT_byte_size bytes at the member location.
		bsz, ok := c.Val(dwarf.AttrByteSize).(int64)
		if !ok {
			bsz = storage
		}
		m.bitOffset = bsz*8 - bo - m.bitSize
		if bsz != storage {
			return fmt.Errorf("unit of %d bytes differs from its type's %d", bsz, storage)
		}
	} else {
		return fmt.Errorf("no bit offset")
	}
	if m.bitOffset < 0 || m.bitOffset+m.bitSize > unitBits {
		return fmt.Errorf("bits %d+%d do not fit a %d-byte unit", m.bitOffset, m.bitSize, storage)
	}
	return nil
}

func plusUconst(b []byte) (int64, error) {
	const opPlusUconst = 0x23
	if len(b) < 2 || b[0] != opPlusUconst {
		return 0, fmt.Errorf("unsupported member location expression % x", b)
	}
	var v uint64
	var shift uint
	for i, c := range b[1:] {
		if shift > 56 {
			break
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if i+2 != len(b) {
				break
			}
			return int64(v), nil
		}
	}
	return 0, fmt.Errorf("unsupported member location expression % x", b)
}

func (r *typeReader) readDims(rd *dwarf.Reader, off dwarf.Offset) ([]int64, error) {
	var dims []int64
	for i := 0; ; i++ {
		if i > 64 {
			return nil, fmt.Errorf("array at 0x%x: too many dimensions", off)
		}
		c, err := rd.Next()
		if err != nil {
			return nil, fmt.Errorf("reading dimensions of array at 0x%x: %w", off, err)
		}
		if c == nil || c.Tag == 0 {
			return dims, nil
		}
		if c.Children {
			rd.SkipChildren()
		}
		if c.Tag != dwarf.TagSubrangeType {
			continue
		}
		n := int64(0) // flexible array member: no bound
		if cnt, ok := c.Val(dwarf.AttrCount).(int64); ok {
			n = cnt
		} else if ub, ok := c.Val(dwarf.AttrUpperBound).(int64); ok {
			n = ub + 1 // an upper bound of -1 is a zero-length array
		}
		if n < 0 {
			return nil, fmt.Errorf("array at 0x%x: negative dimension %d", off, n)
		}
		dims = append(dims, n)
	}
}

// strip follows typedefs and qualifiers to the type underneath, and completes
// a declaration-only struct from its definition elsewhere.
func (r *typeReader) strip(off dwarf.Offset) (*cType, error) {
	for i := 0; i < maxTypeChain; i++ {
		t, err := r.typeAt(off)
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case kindTypedef, kindQual:
			if !t.hasTarget {
				return &cType{kind: kindVoid, size: 0}, nil // const void
			}
			off = t.target
			continue
		case kindStruct, kindUnion:
			return r.completeStruct(t)
		}
		return t, nil
	}
	return nil, fmt.Errorf("type chain at 0x%x longer than %d", off, maxTypeChain)
}

func (r *typeReader) completeStruct(t *cType) (*cType, error) {
	if !t.declOnly {
		return t, nil
	}
	if t.name == "" {
		return t, nil
	}
	if def, ok := r.complete[tagKey(t.kind, t.name)]; ok {
		return r.typeAt(def)
	}
	return t, nil
}

func tagKey(k typeKind, name string) string {
	if k == kindUnion {
		return "union " + name
	}
	return "struct " + name
}

// resolveSize is the sizeof of the type at off.
func (r *typeReader) resolveSize(off dwarf.Offset) (int64, error) {
	n := int64(1)
	for i := 0; i < maxTypeChain; i++ {
		t, err := r.strip(off)
		if err != nil {
			return 0, err
		}
		if t.kind != kindArray {
			if t.size < 0 {
				return 0, fmt.Errorf("type at 0x%x has no size", t.off)
			}
			return n * t.size, nil
		}
		for _, d := range t.dims {
			if d > 1<<32 || n > 1<<32 {
				return 0, fmt.Errorf("array at 0x%x is implausibly large", t.off)
			}
			n *= d
		}
		off = t.target
	}
	return 0, fmt.Errorf("array nesting at 0x%x deeper than %d", off, maxTypeChain)
}
