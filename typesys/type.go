// Package typesys models C types and typed values in a process's memory: types
// come from DWARF or are synthesized from partial layouts, and one Value type
// serves pointers, structs, arrays, integers and strings alike.
package typesys

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Kind is the category of a Type.
type Kind int

const (
	Void Kind = iota
	Int       // integers and characters; Signed tells signedness
	Bool
	Float
	Pointer
	Array
	Struct
	Union
	Enum
	Typedef
	Func
)

var kindNames = [...]string{"void", "int", "bool", "float", "pointer", "array", "struct", "union", "enum", "typedef", "function"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Type is a C type. Types are built once (from DWARF or a layout) and then
// shared read-only; member lookup tables are computed lazily, once per type.
type Type struct {
	Kind   Kind
	Name   string // "int", "PyThreadState", "struct _ts"; "" for anonymous types
	Size   int64  // in bytes; 0 when unknown (void, function, incomplete struct)
	Signed bool   // Int and Enum

	Elem *Type // Pointer: target; Array: element; Typedef: the aliased type; Enum: underlying int (may be nil)
	Len  int64 // Array: element count; -1 for a flexible or unknown length

	Members     []*Member    // Struct and Union, in offset order
	Enumerators []Enumerator // Enum

	// Partial, when not empty, says the struct knows only some of its members
	// and where they came from, e.g. "the debug offsets of CPython 3.13".
	Partial string

	once  sync.Once
	index map[string]memberRef
}

// Member is a member of a struct or union.
type Member struct {
	Name      string // "" for an anonymous struct/union member
	Offset    int64  // byte offset from the start of the enclosing type
	Type      *Type
	BitSize   int // non-zero for a bitfield
	BitOffset int // bit offset of a bitfield within the storage unit at Offset (little-endian bit numbering)
}

// Enumerator is one named value of an enum.
type Enumerator struct {
	Name  string
	Value int64
}

// memberRef is a member reached by name, possibly through anonymous members,
// with its offset from the outer type.
type memberRef struct {
	m      *Member
	offset int64
}

// Resolve strips typedefs.
func (t *Type) Resolve() *Type {
	for i := 0; t != nil && t.Kind == Typedef && i < 64; i++ {
		t = t.Elem
	}
	return t
}

// IsStructLike reports whether t (after typedefs) has members.
func (t *Type) IsStructLike() bool {
	r := t.Resolve()
	return r != nil && (r.Kind == Struct || r.Kind == Union)
}

// String spells the type as C would: "struct _ts *", "char [16]", "PyObject *".
func (t *Type) String() string {
	if t == nil {
		return "void"
	}
	switch t.Kind {
	case Pointer:
		if t.Elem != nil && t.Elem.Resolve() != nil && t.Elem.Resolve().Kind == Func {
			return t.Elem.String() // function pointers print as their function type
		}
		s := t.Elem.String()
		if strings.HasSuffix(s, "*") {
			return s + "*"
		}
		return s + " *"
	case Array:
		if t.Len < 0 {
			return t.Elem.String() + " []"
		}
		return fmt.Sprintf("%s [%d]", t.Elem.String(), t.Len)
	case Struct, Union, Enum:
		if t.Name != "" {
			return t.Name
		}
		return t.Kind.String() + " {...}"
	case Func:
		if t.Name != "" {
			return t.Name
		}
		return "function"
	}
	if t.Name == "" {
		return t.Kind.String()
	}
	return t.Name
}

// Member finds a member by name. Members of anonymous struct and union members
// are found too, as C allows. The offset is from the start of t.
func (t *Type) Member(name string) (m *Member, offset int64, ok bool) {
	r := t.Resolve()
	if r == nil || (r.Kind != Struct && r.Kind != Union) {
		return nil, 0, false
	}
	r.once.Do(r.buildIndex)
	ref, ok := r.index[name]
	return ref.m, ref.offset, ok
}

// MemberNames lists the names reachable with Member, sorted.
func (t *Type) MemberNames() []string {
	r := t.Resolve()
	if r == nil || (r.Kind != Struct && r.Kind != Union) {
		return nil
	}
	r.once.Do(r.buildIndex)
	names := make([]string, 0, len(r.index))
	for n := range r.index {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (t *Type) buildIndex() {
	t.index = make(map[string]memberRef, len(t.Members))
	var add func(members []*Member, base int64, depth int)
	add = func(members []*Member, base int64, depth int) {
		for _, m := range members {
			if m.Name != "" {
				if _, dup := t.index[m.Name]; !dup {
					t.index[m.Name] = memberRef{m, base + m.Offset}
				}
				continue
			}
			// Anonymous struct/union: its members are reachable directly. Depth bounds
			// a malformed (cyclic) type graph.
			if inner := m.Type.Resolve(); inner != nil && (inner.Kind == Struct || inner.Kind == Union) && depth < 16 {
				add(inner.Members, base+m.Offset, depth+1)
			}
		}
	}
	add(t.Members, 0, 0)
}

// PointerTo returns a pointer type to t of the given size.
func PointerTo(t *Type, ptrSize int64) *Type {
	return &Type{Kind: Pointer, Size: ptrSize, Elem: t}
}

// Base types shared by synthesized layouts.
var (
	VoidType = &Type{Kind: Void, Name: "void"}
	I8       = &Type{Kind: Int, Name: "int8_t", Size: 1, Signed: true}
	I16      = &Type{Kind: Int, Name: "int16_t", Size: 2, Signed: true}
	I32      = &Type{Kind: Int, Name: "int32_t", Size: 4, Signed: true}
	I64      = &Type{Kind: Int, Name: "int64_t", Size: 8, Signed: true}
	U8       = &Type{Kind: Int, Name: "uint8_t", Size: 1}
	U16      = &Type{Kind: Int, Name: "uint16_t", Size: 2}
	U32      = &Type{Kind: Int, Name: "uint32_t", Size: 4}
	U64      = &Type{Kind: Int, Name: "uint64_t", Size: 8}
	Char     = &Type{Kind: Int, Name: "char", Size: 1, Signed: true}
	F64      = &Type{Kind: Float, Name: "double", Size: 8}
	BoolType = &Type{Kind: Bool, Name: "_Bool", Size: 1}
)

// IsCharLike reports whether t is a one-byte integer, the element type of C strings.
func (t *Type) IsCharLike() bool {
	r := t.Resolve()
	return r != nil && r.Kind == Int && r.Size == 1
}
