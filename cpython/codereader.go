package cpython

import (
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/cpython/pyobj"
)

// Bounds on what is read from a single object: a corrupt length must not
// make pycore allocate or read without limit.
const (
	// maxCodeNameChars bounds a function, qualified or file name: every frame
	// shows its code's names, so a corrupt length would be paid per frame.
	maxCodeNameChars = 4096
)

// strLayout is how str and bytes objects are laid out in this version.
type strLayout = abi.StrOffsets

var (
	memberOffset     = abi.MemberOffset
	memberPathOffset = abi.MemberPathOffset
)

// codeReader reads the str and bytes objects of code objects (names, line
// tables) for the walker from open on, before the object reader exists, with
// only the str layout; strings go through the one decoder, PEP393.
type codeReader struct {
	r      core.Reader
	layout *strLayout
}

// typeFlags returns the tp_flags of an object's type.
func (o *codeReader) typeFlags(obj core.Address) (uint64, error) {
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
func (o *codeReader) typeName(obj core.Address) (string, error) {
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
// maxCodeNameChars of it. Surrogates become U+FFFD.
func (o *codeReader) str(obj core.Address) (string, error) {
	if obj == 0 {
		return "", fmt.Errorf("NULL str")
	}
	flags, err := o.typeFlags(obj)
	if err != nil {
		return "", fmt.Errorf("str at %s: %w", obj, err)
	}
	if flags&pyobj.TPFlagsUnicodeSubclass == 0 {
		name, _ := o.typeName(obj)
		return "", fmt.Errorf("object at %s is a %q, not a str", obj, name)
	}
	data, kind, length, err := pyobj.PEP393{R: o.r, Str: o.layout}.Chars(obj)
	if err != nil {
		return "", err
	}
	truncated := false
	if length > maxCodeNameChars {
		length, truncated = maxCodeNameChars, true
	}
	buf := make([]byte, int(length)*kind)
	if err := o.r.Read(buf, data); err != nil {
		return "", fmt.Errorf("str at %s: %d characters: %w", obj, length, err)
	}
	s := pyobj.PEP393{R: o.r, Str: o.layout}.Text(buf, kind)
	if truncated {
		s += "..."
	}
	return s, nil
}

// bytes reads a bytes object's contents (bounded).
func (o *codeReader) bytes(obj core.Address) ([]byte, error) {
	if obj == 0 {
		return nil, fmt.Errorf("NULL bytes")
	}
	flags, err := o.typeFlags(obj)
	if err != nil {
		return nil, fmt.Errorf("bytes at %s: %w", obj, err)
	}
	if flags&pyobj.TPFlagsBytesSubclass == 0 {
		name, _ := o.typeName(obj)
		return nil, fmt.Errorf("object at %s is a %q, not bytes", obj, name)
	}
	n, err := o.r.Uint64(obj.Add(o.layout.BytesSize))
	if err != nil {
		return nil, fmt.Errorf("bytes at %s: size: %w", obj, err)
	}
	if int64(n) < 0 || n > pyobj.MaxBytesLen {
		return nil, fmt.Errorf("bytes at %s: size %d is not plausible", obj, int64(n))
	}
	b := make([]byte, n)
	if err := o.r.Read(b, obj.Add(o.layout.BytesData)); err != nil {
		return nil, fmt.Errorf("bytes at %s: %w", obj, err)
	}
	return b, nil
}
