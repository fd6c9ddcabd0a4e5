package cpython

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
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

// strLayout is how str and bytes objects are laid out in this version.
type strLayout = abi.StrOffsets

const (
	tpflagsBytesSubclass   = 1 << 27
	tpflagsUnicodeSubclass = 1 << 28
)

var (
	memberOffset     = abi.MemberOffset
	memberPathOffset = abi.MemberPathOffset
)

// objects reads Python objects from memory.
type objects struct {
	r      core.Reader
	layout *strLayout
}

// typeFlags returns the tp_flags of an object's type.
func (o *objects) typeFlags(obj core.Address) (uint64, error) {
	tp, err := o.r.Ptr(obj.Add(o.layout.ObType))
	if err != nil {
		return 0, err
	}
	if tp == 0 {
		return 0, fmt.Errorf("object at %s has a NULL type", obj)
	}
	return o.r.Uint64(tp.Add(o.layout.TpFlags))
}

// typeName returns the tp_name of an object's type.
func (o *objects) typeName(obj core.Address) (string, error) {
	tp, err := o.r.Ptr(obj.Add(o.layout.ObType))
	if err != nil {
		return "", err
	}
	name, err := o.r.Ptr(tp.Add(o.layout.TpName))
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
	length, err := o.r.Uint64(obj.Add(l.Length))
	if err != nil {
		return "", fmt.Errorf("str at %s: length: %w", obj, err)
	}
	state, err := o.r.Uint32(obj.Add(l.State))
	if err != nil {
		return "", fmt.Errorf("str at %s: state: %w", obj, err)
	}
	kind := int(state>>l.KindShift) & 7
	compact := state>>l.CompactBit&1 == 1
	ascii := state>>l.ASCIIBit&1 == 1
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
		data = obj.Add(l.ASCIISize)
	case compact:
		data = obj.Add(l.CompactSize)
	default:
		if data, err = o.r.Ptr(obj.Add(l.Data)); err != nil {
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
	n, err := o.r.Uint64(obj.Add(o.layout.BytesSize))
	if err != nil {
		return nil, fmt.Errorf("bytes at %s: size: %w", obj, err)
	}
	if int64(n) < 0 || n > maxBytesLen {
		return nil, fmt.Errorf("bytes at %s: size %d is not plausible", obj, int64(n))
	}
	b := make([]byte, n)
	if err := o.r.Read(b, obj.Add(o.layout.BytesData)); err != nil {
		return nil, fmt.Errorf("bytes at %s: %w", obj, err)
	}
	return b, nil
}
