package cpython

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/typesys"
)

// Bounds on what is read from a single object: a corrupt length must not
// make pycore allocate or read without limit.
const (
	maxStringChars = 1 << 16
	maxBytesLen    = 1 << 20
	// maxCodeNameChars bounds a function, qualified or file name: every frame
	// shows its code's names, so a corrupt length would be paid per frame.
	maxCodeNameChars = 4096
)

// strLayout is how str objects are laid out in this version.
type strLayout struct {
	lengthOff   int64
	stateOff    int64
	asciiSize   int64 // sizeof(PyASCIIObject): compact ASCII data follows
	compactSize int64 // sizeof(PyCompactUnicodeObject): compact non-ASCII data follows
	dataOff     int64 // PyUnicodeObject.data.any: legacy (non-compact) strings
	// A legacy str not made ready yet (<= 3.11: made by C code, before its
	// first use) has only wchar_t characters: PyASCIIObject.wstr, counted by
	// PyCompactUnicodeObject.wstr_length; -1 from 3.12, which has neither.
	wstrOff, wstrLenOff int64
	wcharSize           int64
	kindShift           uint // bit position of state.kind
	compactBit          uint
	asciiBit            uint
	typeOff             int64 // PyObject.ob_type
	tpFlagsOff          int64
	tpNameOff           int64
	bytesSizeOff        int64 // PyBytesObject ob_size
	bytesDataOff        int64 // PyBytesObject ob_sval
}

const (
	tpflagsBytesSubclass   = 1 << 27
	tpflagsUnicodeSubclass = 1 << 28
)

// newStrLayout derives the layout from the version's types, falling back to
// what the headers say where a source (the debug offsets) does not describe
// the bits of PyASCIIObject.state.
func newStrLayout(ts TypeSource, v Version, freeThreaded bool) (*strLayout, error) {
	l := &strLayout{kindShift: 2, compactBit: 5, asciiBit: 6}
	if freeThreaded && v.AtLeast(3, 14) {
		// 3.14t made `interned` a whole byte so it can be read atomically.
		l.kindShift, l.compactBit, l.asciiBit = 8, 11, 12
	}
	ascii, err := ts.Struct("PyASCIIObject")
	if err != nil {
		return nil, err
	}
	l.asciiSize = ascii.Resolve().Size
	if l.lengthOff, err = memberOffset(ascii, "length"); err != nil {
		return nil, err
	}
	if l.stateOff, err = memberOffset(ascii, "state"); err != nil {
		return nil, err
	}
	// Where the type spells out state's bitfields (DWARF, tables), use them.
	if m, _, ok := ascii.Member("state"); ok && m.Type.IsStructLike() {
		if k, off, ok := m.Type.Member("kind"); ok && k.BitSize > 0 {
			l.kindShift = uint(off*8) + uint(k.BitOffset)
		}
		if c, off, ok := m.Type.Member("compact"); ok && c.BitSize > 0 {
			l.compactBit = uint(off*8) + uint(c.BitOffset)
		}
		if a, off, ok := m.Type.Member("ascii"); ok && a.BitSize > 0 {
			l.asciiBit = uint(off*8) + uint(a.BitOffset)
		}
	}
	if compact, err := ts.Struct("PyCompactUnicodeObject"); err == nil && compact.Resolve().Size > 0 {
		l.compactSize = compact.Resolve().Size
	} else {
		l.compactSize = l.asciiSize + 16
		if !v.AtLeast(3, 12) {
			l.compactSize = l.asciiSize + 24 // wstr_length too
		}
	}
	l.wstrOff, l.wstrLenOff, l.wcharSize = -1, -1, 4 // wchar_t is 4 bytes on Linux
	if !v.AtLeast(3, 12) {
		// Both are the last members of their structs.
		l.wstrOff, l.wstrLenOff = l.asciiSize-8, l.compactSize-8
		if off, err := memberOffset(ascii, "wstr"); err == nil {
			l.wstrOff = off
		}
		if compact, err := ts.Struct("PyCompactUnicodeObject"); err == nil {
			if off, err := memberOffset(compact, "wstr_length"); err == nil {
				l.wstrLenOff = off
			}
		}
	}
	l.dataOff = l.compactSize
	if u, err := ts.Struct("PyUnicodeObject"); err == nil {
		if off, err := memberOffset(u, "data"); err == nil {
			l.dataOff = off
		}
	}
	obj, err := ts.Struct("PyObject")
	if err != nil {
		return nil, err
	}
	if l.typeOff, err = memberOffset(obj, "ob_type"); err != nil {
		return nil, err
	}
	typ, err := ts.Struct("PyTypeObject")
	if err != nil {
		return nil, err
	}
	if l.tpFlagsOff, err = memberOffset(typ, "tp_flags"); err != nil {
		return nil, err
	}
	if l.tpNameOff, err = memberOffset(typ, "tp_name"); err != nil {
		return nil, err
	}
	b, err := ts.Struct("PyBytesObject")
	if err != nil {
		return nil, err
	}
	if l.bytesSizeOff, err = memberPathOffset(b, "ob_base.ob_size"); err != nil {
		return nil, err
	}
	if l.bytesDataOff, err = memberOffset(b, "ob_sval"); err != nil {
		return nil, err
	}
	return l, nil
}

func memberOffset(t *typesys.Type, name string) (int64, error) {
	_, off, ok := t.Member(name)
	if !ok {
		return 0, &typesys.NoMemberError{Type: t, Name: name}
	}
	return off, nil
}

// memberPathOffset sums offsets along a dotted path of by-value members.
func memberPathOffset(t *typesys.Type, path string) (int64, error) {
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

// objects reads Python objects from memory.
type objects struct {
	r      core.Reader
	layout *strLayout
}

// typeFlags returns the tp_flags of an object's type.
func (o *objects) typeFlags(obj core.Address) (uint64, error) {
	tp, err := o.r.Ptr(obj.Add(o.layout.typeOff))
	if err != nil {
		return 0, err
	}
	if tp == 0 {
		return 0, fmt.Errorf("object at %s has a NULL type", obj)
	}
	return o.r.Uint64(tp.Add(o.layout.tpFlagsOff))
}

// typeName returns the tp_name of an object's type.
func (o *objects) typeName(obj core.Address) (string, error) {
	tp, err := o.r.Ptr(obj.Add(o.layout.typeOff))
	if err != nil {
		return "", err
	}
	name, err := o.r.Ptr(tp.Add(o.layout.tpNameOff))
	if err != nil {
		return "", err
	}
	b, _, err := o.r.CString(name, 256)
	return string(b), err
}

// str reads a str object (a code object's name) as Go (UTF-8) text, at most
// maxCodeNameChars of it. Lone surrogates become U+FFFD.
func (o *objects) str(obj core.Address) (string, error) {
	if obj == 0 {
		return "", fmt.Errorf("NULL str")
	}
	flags, err := o.typeFlags(obj)
	if err != nil {
		return "", fmt.Errorf("str at %s: %w", obj, err)
	}
	if flags&tpflagsUnicodeSubclass == 0 {
		name, _ := o.typeName(obj)
		return "", fmt.Errorf("object at %s is a %q, not a str", obj, name)
	}
	l := o.layout
	length, err := o.r.Uint64(obj.Add(l.lengthOff))
	if err != nil {
		return "", fmt.Errorf("str at %s: length: %w", obj, err)
	}
	state, err := o.r.Uint32(obj.Add(l.stateOff))
	if err != nil {
		return "", fmt.Errorf("str at %s: state: %w", obj, err)
	}
	kind := int(state>>l.kindShift) & 7
	compact := state>>l.compactBit&1 == 1
	ascii := state>>l.asciiBit&1 == 1
	if kind != 1 && kind != 2 && kind != 4 {
		return "", fmt.Errorf("str at %s: bad kind %d in state %#x", obj, kind, state)
	}
	truncated := false
	if length > maxCodeNameChars {
		length, truncated = maxCodeNameChars, true
	}
	var data core.Address
	switch {
	case compact && ascii:
		data = obj.Add(l.asciiSize)
	case compact:
		data = obj.Add(l.compactSize)
	default:
		if data, err = o.r.Ptr(obj.Add(l.dataOff)); err != nil {
			return "", fmt.Errorf("str at %s: data pointer: %w", obj, err)
		}
	}
	buf := make([]byte, int(length)*kind)
	if err := o.r.Read(buf, data); err != nil {
		return "", fmt.Errorf("str at %s: %d characters: %w", obj, length, err)
	}
	s := decodeKind(buf, kind, o.r)
	if truncated {
		s += "..."
	}
	return s, nil
}

func decodeKind(buf []byte, kind int, r core.Reader) string {
	switch kind {
	case 1: // Latin-1 (ASCII is a subset)
		var sb strings.Builder
		for _, c := range buf {
			if c < utf8.RuneSelf {
				sb.WriteByte(c)
			} else {
				sb.WriteRune(rune(c))
			}
		}
		return sb.String()
	case 2:
		u := make([]uint16, len(buf)/2)
		for i := range u {
			u[i] = r.Order.Uint16(buf[2*i:])
		}
		return string(utf16.Decode(u)) // UCS-2 is UTF-16 without pairs; lone surrogates become U+FFFD
	default:
		var sb strings.Builder
		for i := 0; i+4 <= len(buf); i += 4 {
			c := rune(r.Order.Uint32(buf[i:]))
			if !utf8.ValidRune(c) {
				c = utf8.RuneError
			}
			sb.WriteRune(c)
		}
		return sb.String()
	}
}

// bytes reads a bytes object's contents (bounded).
func (o *objects) bytes(obj core.Address) ([]byte, error) {
	if obj == 0 {
		return nil, fmt.Errorf("NULL bytes")
	}
	flags, err := o.typeFlags(obj)
	if err != nil {
		return nil, fmt.Errorf("bytes at %s: %w", obj, err)
	}
	if flags&tpflagsBytesSubclass == 0 {
		name, _ := o.typeName(obj)
		return nil, fmt.Errorf("object at %s is a %q, not bytes", obj, name)
	}
	n, err := o.r.Uint64(obj.Add(o.layout.bytesSizeOff))
	if err != nil {
		return nil, fmt.Errorf("bytes at %s: size: %w", obj, err)
	}
	if int64(n) < 0 || n > maxBytesLen {
		return nil, fmt.Errorf("bytes at %s: size %d is not plausible", obj, int64(n))
	}
	b := make([]byte, n)
	if err := o.r.Read(b, obj.Add(o.layout.bytesDataOff)); err != nil {
		return nil, fmt.Errorf("bytes at %s: %w", obj, err)
	}
	return b, nil
}
