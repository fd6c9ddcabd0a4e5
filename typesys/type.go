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

	Elem *Type // Pointer: target; Array: element; Typedef: the aliased type; Enum: underlying int (may be nil); Func: return type (nil for void)
	Len  int64 // Array: element count; -1 for a flexible or unknown length

	Params   []*Type // Func: parameter types
	Variadic bool    // Func: takes "..." after Params

	Members     []*Member    // Struct and Union, in offset order
	Enumerators []Enumerator // Enum

	// Partial, when not empty, says the struct knows only some of its members
	// and where they came from, e.g. "the debug offsets of CPython 3.13".
	Partial string

	once  sync.Once
	index map[string]memberRef
	// anon marks a name made up for an anonymous struct or union from where
	// it sits in its parent, which the parent may still rename.
	anon bool
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

// String spells the type as C would: "struct _ts *", "char [16]",
// "long [2][3]", "int (*)(int, int)", "PyObject *".
func (t *Type) String() string { return t.declare("", 0) }

// declare spells t around the declarator inner, C's inside-out way: a
// pointer to an array or function needs parentheses, arrays list their
// dimensions outermost first.
func (t *Type) declare(inner string, depth int) string {
	if t == nil {
		return join("void", inner)
	}
	if depth > 32 {
		return join("...", inner)
	}
	switch t.Kind {
	case Pointer:
		if t.Elem != nil && (t.Elem.Kind == Array || t.Elem.Kind == Func) {
			return t.Elem.declare("(*"+inner+")", depth+1)
		}
		return t.Elem.declare("*"+inner, depth+1)
	case Array:
		dim := "[]"
		if t.Len >= 0 {
			dim = fmt.Sprintf("[%d]", t.Len)
		}
		return t.Elem.declare(inner+dim, depth+1)
	case Func:
		if t.Name != "" && t.Params == nil && t.Elem == nil {
			return join(t.Name, inner) // a function type known only by name
		}
		params := make([]string, 0, len(t.Params)+1)
		for _, p := range t.Params {
			params = append(params, p.declare("", depth+1))
		}
		if t.Variadic {
			params = append(params, "...")
		}
		if len(params) == 0 {
			params = append(params, "void")
		}
		return t.Elem.declare(inner+"("+strings.Join(params, ", ")+")", depth+1)
	case Struct, Union, Enum:
		if t.Name != "" {
			return join(t.Name, inner)
		}
		return join(t.Kind.String()+" {...}", inner)
	}
	if t.Name == "" {
		return join(t.Kind.String(), inner)
	}
	return join(t.Name, inner)
}

// join puts a base type and a declarator together: "char *", "int [4]".
func join(base, inner string) string {
	if inner == "" {
		return base
	}
	return base + " " + inner
}

// nameAnonymous gives the anonymous struct and union types inside t stable
// readable names from where they sit: "struct node:8->union" is the union
// at offset 8 of struct node, and a second one at the same place gets "#2".
// It is called again when t itself is renamed, so names follow the parents.
// An anonymous struct named by a typedef (typedef struct {...} PyASCIIObject)
// names its members after the typedef: see nameAnonymousAs.
func nameAnonymous(t *Type, depth int) {
	nameAnonymousAs(t, t.Name, depth)
}

// nameAnonymousAs is nameAnonymous with the parent called parent.
func nameAnonymousAs(t *Type, parent string, depth int) {
	if parent == "" || depth > 16 {
		return
	}
	seen := map[string]int{}
	for _, m := range t.Members {
		mt := m.Type
		for i := 0; mt != nil && mt.Kind == Array && i < 8; i++ {
			mt = mt.Elem
		}
		if mt == nil || (mt.Kind != Struct && mt.Kind != Union) || (mt.Name != "" && !mt.anon) {
			continue
		}
		name := fmt.Sprintf("%s:%d->%s", parent, m.Offset, mt.Kind)
		seen[name]++
		if n := seen[name]; n > 1 {
			name = fmt.Sprintf("%s#%d", name, n)
		}
		mt.Name, mt.anon = name, true
		nameAnonymous(mt, depth+1)
	}
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
