package abi

import (
	"strings"

	"github.com/pycore/pycore/typesys"
)

// StrRules is what the headers say of str objects where a type source may
// not: the bits of PyASCIIObject.state, and whether legacy wchar_t strings
// exist.
type StrRules struct {
	KindShift, CompactBit, ASCIIBit uint // bit positions in state
	// Wstr: PyASCIIObject.wstr and PyCompactUnicodeObject.wstr_length
	// exist (<= 3.11), and sizeof(PyCompactUnicodeObject) counts wstr_length.
	Wstr bool
}

func strRules(v Version, freeThreaded bool) StrRules {
	r := StrRules{KindShift: 2, CompactBit: 5, ASCIIBit: 6, Wstr: v.Minor < 12}
	if freeThreaded && v.Minor >= 14 {
		// 3.14t made `interned` a whole byte so it can be read atomically.
		r.KindShift, r.CompactBit, r.ASCIIBit = 8, 11, 12
	}
	return r
}

// StrOffsets is how str and bytes objects are laid out, and the PyObject
// and PyTypeObject members needed to check an object is one.
type StrOffsets struct {
	Length      int64
	State       int64
	ASCIISize   int64 // sizeof(PyASCIIObject): compact ASCII data follows
	CompactSize int64 // sizeof(PyCompactUnicodeObject): compact non-ASCII data follows
	Data        int64 // PyUnicodeObject.data.any: legacy (non-compact) strings
	// A legacy str not made ready yet (<= 3.11: made by C code, before its
	// first use) has only wchar_t characters: PyASCIIObject.wstr, counted by
	// PyCompactUnicodeObject.wstr_length; -1 from 3.12, which has neither.
	Wstr, WstrLen int64
	WcharSize     int64
	KindShift     uint // bit position of state.kind
	CompactBit    uint
	ASCIIBit      uint
	ObType        int64 // PyObject.ob_type
	TpFlags       int64
	TpName        int64
	BytesSize     int64 // PyBytesObject ob_size
	BytesData     int64 // PyBytesObject ob_sval
}

// ResolveStr reads the str layout from the types, falling back to the
// flavor's rules where a source (the debug offsets) does not describe the
// bits of PyASCIIObject.state or the legacy members.
func ResolveStr(ts TypeSource, rules StrRules) (*StrOffsets, error) {
	l := &StrOffsets{KindShift: rules.KindShift, CompactBit: rules.CompactBit, ASCIIBit: rules.ASCIIBit}
	ascii, err := ts.Struct("PyASCIIObject")
	if err != nil {
		return nil, err
	}
	l.ASCIISize = ascii.Resolve().Size
	if l.Length, err = MemberOffset(ascii, "length"); err != nil {
		return nil, err
	}
	if l.State, err = MemberOffset(ascii, "state"); err != nil {
		return nil, err
	}
	// Where the type spells out state's bitfields (DWARF, tables), use them.
	if m, _, ok := ascii.Member("state"); ok && m.Type.IsStructLike() {
		if k, off, ok := m.Type.Member("kind"); ok && k.BitSize > 0 {
			l.KindShift = uint(off*8) + uint(k.BitOffset)
		}
		if c, off, ok := m.Type.Member("compact"); ok && c.BitSize > 0 {
			l.CompactBit = uint(off*8) + uint(c.BitOffset)
		}
		if a, off, ok := m.Type.Member("ascii"); ok && a.BitSize > 0 {
			l.ASCIIBit = uint(off*8) + uint(a.BitOffset)
		}
	}
	if compact, err := ts.Struct("PyCompactUnicodeObject"); err == nil && compact.Resolve().Size > 0 {
		l.CompactSize = compact.Resolve().Size
	} else {
		l.CompactSize = l.ASCIISize + 16
		if rules.Wstr {
			l.CompactSize = l.ASCIISize + 24 // wstr_length too
		}
	}
	l.Wstr, l.WstrLen, l.WcharSize = -1, -1, 4 // wchar_t is 4 bytes on Linux
	if rules.Wstr {
		// Both are the last members of their structs.
		l.Wstr, l.WstrLen = l.ASCIISize-8, l.CompactSize-8
		if off, err := MemberOffset(ascii, "wstr"); err == nil {
			l.Wstr = off
		}
		if compact, err := ts.Struct("PyCompactUnicodeObject"); err == nil {
			if off, err := MemberOffset(compact, "wstr_length"); err == nil {
				l.WstrLen = off
			}
		}
	}
	l.Data = l.CompactSize
	if u, err := ts.Struct("PyUnicodeObject"); err == nil {
		if off, err := MemberOffset(u, "data"); err == nil {
			l.Data = off
		}
	}
	obj, err := ts.Struct("PyObject")
	if err != nil {
		return nil, err
	}
	if l.ObType, err = MemberOffset(obj, "ob_type"); err != nil {
		return nil, err
	}
	typ, err := ts.Struct("PyTypeObject")
	if err != nil {
		return nil, err
	}
	if l.TpFlags, err = MemberOffset(typ, "tp_flags"); err != nil {
		return nil, err
	}
	if l.TpName, err = MemberOffset(typ, "tp_name"); err != nil {
		return nil, err
	}
	b, err := ts.Struct("PyBytesObject")
	if err != nil {
		return nil, err
	}
	if l.BytesSize, err = MemberPathOffset(b, "ob_base.ob_size"); err != nil {
		return nil, err
	}
	if l.BytesData, err = MemberOffset(b, "ob_sval"); err != nil {
		return nil, err
	}
	return l, nil
}

// MemberOffset is the offset of a member of t, which may be nested in
// anonymous members.
func MemberOffset(t *typesys.Type, name string) (int64, error) {
	_, off, ok := t.Member(name)
	if !ok {
		return 0, &typesys.NoMemberError{Type: t, Name: name}
	}
	return off, nil
}

// MemberPathOffset sums offsets along a dotted path of by-value members.
func MemberPathOffset(t *typesys.Type, path string) (int64, error) {
	var total int64
	for _, name := range strings.Split(path, ".") {
		m, off, ok := t.Member(name)
		if !ok {
			return 0, &typesys.NoMemberError{Type: t, Name: name}
		}
		total += off
		t = m.Type
	}
	return total, nil
}
