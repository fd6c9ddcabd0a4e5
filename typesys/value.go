package typesys

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/pycore/pycore/core"
)

// Value is a typed value: either an object in memory (an lvalue, with an
// address) or a computed value held in bytes. The same operations work on all
// kinds: Member reaches through pointers, Index works on arrays and pointers,
// Deref follows pointers.
type Value struct {
	Type *Type
	Addr core.Address // valid when InMemory
	// InMemory is false for computed values, whose bytes are in buf.
	InMemory bool
	buf      []byte
	mem      core.Reader
	// A bitfield member: BitSize bits from bit BitOffset of the storage unit.
	bitOffset, bitSize int
}

// At returns the object of type t at addr.
func At(mem core.Reader, t *Type, addr core.Address) Value {
	return Value{Type: t, Addr: addr, InMemory: true, mem: mem}
}

// FromUint returns a computed value of type t holding v (an integer or pointer).
func FromUint(mem core.Reader, t *Type, v uint64) Value {
	size := t.Resolve().sizeOr(8)
	b := make([]byte, 8)
	mem.Order.PutUint64(b, v)
	if size < 8 {
		b = b[:size]
	}
	return Value{Type: t, buf: b, mem: mem}
}

// Reader returns the memory the value reads from.
func (v Value) Reader() core.Reader { return v.mem }

func (t *Type) sizeOr(def int64) int64 {
	if t == nil || t.Size <= 0 {
		return def
	}
	return t.Size
}

// Error is an error about a value, naming the expression path that led to it.
type Error struct {
	Path string // e.g. "PyThreadState.current_frame"
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrNoMember is wrapped by errors about missing members.
var ErrNoMember = errors.New("no such member")

// Bytes reads the value's bytes (Size bytes of its type).
func (v Value) Bytes() ([]byte, error) {
	if !v.InMemory {
		return v.buf, nil
	}
	r := v.Type.Resolve()
	if r == nil || r.Size <= 0 {
		return nil, fmt.Errorf("%s has no known size", v.Type)
	}
	if r.Size > 1<<20 {
		return nil, fmt.Errorf("%s is %d bytes: too big to read at once", v.Type, r.Size)
	}
	b := make([]byte, r.Size)
	if err := v.mem.Read(b, v.Addr); err != nil {
		return nil, err
	}
	return b, nil
}

// Uint reads an integer, enum, bool or pointer value as unsigned.
func (v Value) Uint() (uint64, error) {
	r := v.Type.Resolve()
	if r == nil {
		return 0, fmt.Errorf("void value has no integer value")
	}
	switch r.Kind {
	case Int, Bool, Enum, Pointer:
	default:
		return 0, fmt.Errorf("%s is not an integer or pointer", v.Type)
	}
	if v.bitSize > 0 {
		return v.bits()
	}
	size := int(r.sizeOr(int64(v.mem.PtrSize)))
	if !v.InMemory {
		return decodeUint(v.mem, v.buf, size), nil
	}
	return v.mem.Uint(v.Addr, size)
}

// bits reads a bitfield from the bytes that hold it, which need not be the
// bytes of its declared type: a packed struct may spread a 62-bit field over
// nine bytes, and a field near the end of a struct must not be read past it.
func (v Value) bits() (uint64, error) {
	if v.bitSize > 64 || v.bitOffset < 0 || v.bitOffset+v.bitSize > 128 {
		return 0, fmt.Errorf("bitfield of %d bits at bit %d of %s is not readable", v.bitSize, v.bitOffset, v.Type)
	}
	var b [16]byte
	n := (v.bitOffset + v.bitSize + 7) / 8
	if !v.InMemory {
		copy(b[:n], v.buf)
	} else if err := v.mem.Read(b[:n], v.Addr); err != nil {
		return 0, err
	}
	lo, hi := v.mem.Order.Uint64(b[:8]), v.mem.Order.Uint64(b[8:])
	off := uint(v.bitOffset)
	var u uint64
	switch {
	case off == 0:
		u = lo
	case off < 64:
		u = lo>>off | hi<<(64-off)
	default:
		u = hi >> (off - 64)
	}
	if v.bitSize < 64 {
		u &= 1<<uint(v.bitSize) - 1
	}
	return u, nil
}

// BitField reports the bit position of a bitfield value (size 0 if it is not one).
func (v Value) BitField() (offset, size int) { return v.bitOffset, v.bitSize }

func decodeUint(mem core.Reader, b []byte, size int) uint64 {
	var tmp [8]byte
	copy(tmp[:], b)
	if size > 8 {
		size = 8
	}
	u := mem.Order.Uint64(tmp[:])
	if size < 8 {
		u &= 1<<(8*uint(size)) - 1
	}
	return u
}

// Int reads an integer value, sign-extending signed types.
func (v Value) Int() (int64, error) {
	u, err := v.Uint()
	if err != nil {
		return 0, err
	}
	r := v.Type.Resolve()
	bits := 8 * uint(r.Size)
	if v.bitSize > 0 {
		bits = uint(v.bitSize)
	}
	if r.Signed && bits > 0 && bits < 64 {
		shift := 64 - bits
		return int64(u<<shift) >> shift, nil
	}
	return int64(u), nil
}

// Float reads a float or double.
func (v Value) Float() (float64, error) {
	r := v.Type.Resolve()
	if r == nil || r.Kind != Float {
		return 0, fmt.Errorf("%s is not a floating-point type", v.Type)
	}
	u, err := Value{Type: &Type{Kind: Int, Size: r.Size}, Addr: v.Addr, InMemory: v.InMemory, buf: v.buf, mem: v.mem}.Uint()
	if err != nil {
		return 0, err
	}
	switch r.Size {
	case 4:
		return float64(math.Float32frombits(uint32(u))), nil
	case 8:
		return math.Float64frombits(u), nil
	}
	return 0, fmt.Errorf("%d-byte floats are not supported", r.Size)
}

// Ptr reads a pointer's target address.
func (v Value) Ptr() (core.Address, error) {
	r := v.Type.Resolve()
	if r == nil || r.Kind != Pointer {
		return 0, fmt.Errorf("%s is not a pointer", v.Type)
	}
	u, err := v.Uint()
	return core.Address(u), err
}

// IsNull reports whether a pointer value is NULL.
func (v Value) IsNull() (bool, error) {
	p, err := v.Ptr()
	return p == 0, err
}

// Deref follows a pointer to the object it points at.
func (v Value) Deref() (Value, error) {
	r := v.Type.Resolve()
	if r == nil || r.Kind != Pointer {
		return Value{}, fmt.Errorf("cannot dereference %s: not a pointer", v.Type)
	}
	p, err := v.Ptr()
	if err != nil {
		return Value{}, err
	}
	if p == 0 {
		return Value{}, fmt.Errorf("cannot dereference NULL %s", v.Type)
	}
	elem := r.Elem
	if elem == nil {
		elem = VoidType
	}
	return At(v.mem, elem, p), nil
}

// Member returns the named member of a struct or union, following a pointer
// first if v is a pointer to one (C's '->' and '.' are the same here).
func (v Value) Member(name string) (Value, error) {
	if r := v.Type.Resolve(); r != nil && r.Kind == Pointer {
		d, err := v.Deref()
		if err != nil {
			return Value{}, err
		}
		v = d
	}
	r := v.Type.Resolve()
	if r == nil || (r.Kind != Struct && r.Kind != Union) {
		return Value{}, fmt.Errorf("%s has no members (looking for %q)", v.Type, name)
	}
	m, off, ok := v.Type.Member(name)
	if !ok {
		return Value{}, &NoMemberError{Type: v.Type, Name: name}
	}
	var mv Value
	if !v.InMemory {
		mv = Value{Type: m.Type, buf: sliceBytes(v.buf, off, m.Type.sizeOr(0)), mem: v.mem}
	} else {
		mv = At(v.mem, m.Type, v.Addr.Add(off))
	}
	mv.bitOffset, mv.bitSize = m.BitOffset, m.BitSize
	return mv, nil
}

func sliceBytes(b []byte, off, size int64) []byte {
	if off < 0 || off > int64(len(b)) {
		return nil
	}
	end := off + size
	if size <= 0 || end > int64(len(b)) {
		end = int64(len(b))
	}
	return b[off:end]
}

// NoMemberError says a type lacks a member, and why that may be.
type NoMemberError struct {
	Type *Type
	Name string
}

func (e *NoMemberError) Error() string {
	r := e.Type.Resolve()
	if r != nil && r.Partial != "" {
		return fmt.Sprintf("%s has no member '%s' in %s; debug info would give all members", e.Type, e.Name, r.Partial)
	}
	return fmt.Sprintf("%s has no member '%s'", e.Type, e.Name)
}

func (e *NoMemberError) Unwrap() error { return ErrNoMember }

// Path follows a dotted member path such as "threads.head" or "cframe.current_frame",
// dereferencing pointers between members as needed.
func (v Value) Path(path string) (Value, error) {
	cur := v
	for _, name := range strings.Split(path, ".") {
		next, err := cur.Member(name)
		if err != nil {
			return Value{}, &Error{Path: v.Type.String() + "." + path, Err: err}
		}
		cur = next
	}
	return cur, nil
}

// Index returns element i of an array, or *(p + i) for a pointer.
func (v Value) Index(i int64) (Value, error) {
	r := v.Type.Resolve()
	if r == nil {
		return Value{}, fmt.Errorf("cannot index void")
	}
	switch r.Kind {
	case Array:
		if r.Len >= 0 && (i < 0 || i >= r.Len) {
			return Value{}, fmt.Errorf("index %d out of range for %s", i, v.Type)
		}
		es := r.Elem.sizeOr(0)
		if es == 0 {
			return Value{}, fmt.Errorf("cannot index %s: element size unknown", v.Type)
		}
		if !v.InMemory {
			return Value{Type: r.Elem, buf: sliceBytes(v.buf, i*es, es), mem: v.mem}, nil
		}
		return At(v.mem, r.Elem, v.Addr.Add(i*es)), nil
	case Pointer:
		p, err := v.Add(i)
		if err != nil {
			return Value{}, err
		}
		return p.Deref()
	}
	return Value{}, fmt.Errorf("cannot index %s", v.Type)
}

// Add does C pointer arithmetic: p + n steps by the size of the target type.
func (v Value) Add(n int64) (Value, error) {
	r := v.Type.Resolve()
	if r == nil || r.Kind != Pointer {
		return Value{}, fmt.Errorf("pointer arithmetic on %s", v.Type)
	}
	p, err := v.Ptr()
	if err != nil {
		return Value{}, err
	}
	step := int64(1) // GNU C: arithmetic on void * steps by bytes
	if r.Elem != nil && r.Elem.Resolve() != nil && r.Elem.Resolve().Kind != Void {
		step = r.Elem.sizeOr(0)
		if step == 0 {
			return Value{}, fmt.Errorf("pointer arithmetic on %s: size of %s unknown", v.Type, r.Elem)
		}
	}
	return FromUint(v.mem, v.Type, uint64(int64(p)+n*step)), nil
}

// AddrOf returns a pointer to an in-memory value.
func (v Value) AddrOf() (Value, error) {
	if !v.InMemory {
		return Value{}, fmt.Errorf("cannot take the address of a computed %s", v.Type)
	}
	return FromUint(v.mem, PointerTo(v.Type, int64(v.mem.PtrSize)), uint64(v.Addr)), nil
}

// Cast reinterprets the value as type t: pointers and integers convert by
// value; anything in memory can be viewed as another type at the same address.
func (v Value) Cast(t *Type) (Value, error) {
	from, to := v.Type.Resolve(), t.Resolve()
	if from == nil || to == nil {
		return Value{}, fmt.Errorf("cannot cast %s to %s", v.Type, t)
	}
	scalar := func(k Kind) bool { return k == Int || k == Pointer || k == Enum || k == Bool }
	if scalar(from.Kind) && scalar(to.Kind) {
		u, err := v.Int()
		if err != nil {
			return Value{}, err
		}
		return FromUint(v.mem, t, uint64(u)), nil
	}
	if v.InMemory {
		return At(v.mem, t, v.Addr), nil
	}
	return Value{}, fmt.Errorf("cannot cast computed %s to %s", v.Type, t)
}

// CString reads the NUL-terminated string a char pointer (or char array) holds.
func (v Value) CString(max int) (string, error) {
	r := v.Type.Resolve()
	if r == nil {
		return "", fmt.Errorf("void is not a string")
	}
	switch r.Kind {
	case Pointer:
		p, err := v.Ptr()
		if err != nil {
			return "", err
		}
		if p == 0 {
			return "", fmt.Errorf("NULL %s", v.Type)
		}
		b, _, err := v.mem.CString(p, max)
		return string(b), err
	case Array:
		if !v.InMemory {
			s := v.buf
			if i := strings.IndexByte(string(s), 0); i >= 0 {
				s = s[:i]
			}
			return string(s), nil
		}
		n := int(r.Len)
		if n < 0 || n > max {
			n = max
		}
		b, _, err := v.mem.CString(v.Addr, n)
		return string(b), err
	}
	return "", fmt.Errorf("%s is not a string", v.Type)
}

// FromBytes returns a computed value of type t held in b (e.g. a string
// literal's char array). b is used as is, not copied.
func FromBytes(mem core.Reader, t *Type, b []byte) Value {
	return Value{Type: t, buf: b, mem: mem}
}
