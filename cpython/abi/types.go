package abi

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pycore/pycore/typesys"
)

// TypeSource gives CPython's structs as typesys types, by CPython's own names
// ("PyThreadState", "_PyInterpreterFrame", "struct _gil_runtime_state").
type TypeSource interface {
	Struct(name string) (*typesys.Type, error)
	// Describe says where the types come from, for evidence and errors.
	Describe() string
}

// LayoutTypes are types synthesized from layouts (generated tables or debug offsets).
type LayoutTypes struct {
	source  string
	structs map[string]*typesys.Type
}

// NewLayoutTypes builds the types of every struct of vl. Pointers to structs
// the layouts do not describe point to opaque structs of that name.
func NewLayoutTypes(vl *VersionLayouts, ptrSize int) (*LayoutTypes, error) {
	lt := &LayoutTypes{source: vl.Source, structs: map[string]*typesys.Type{}}
	shell := func(name string) *typesys.Type {
		t := lt.structs[name]
		if t == nil {
			t = &typesys.Type{Kind: typesys.Struct, Name: name, Partial: vl.Source}
			lt.structs[name] = t
		}
		return t
	}
	for _, s := range vl.Structs {
		shell(s.Name)
	}
	for _, s := range vl.Structs {
		members := make([]typesys.LayoutMember, 0, len(s.Members))
		for _, m := range s.Members {
			lm := typesys.LayoutMember{Path: m.Path, Offset: m.Offset}
			if m.Type != "struct" {
				t, bitOff, bitSize, err := parseLayoutType(m.Type, shell, int64(ptrSize))
				if err != nil {
					return nil, fmt.Errorf("%s: %s.%s: %w", vl.Source, s.Name, m.Path, err)
				}
				lm.Type, lm.BitOffset, lm.BitSize = t, bitOff, bitSize
			}
			members = append(members, lm)
		}
		if err := typesys.FillStruct(shell(s.Name), s.Size, vl.Source, members); err != nil {
			return nil, fmt.Errorf("%s: %w", vl.Source, err)
		}
	}
	return lt, nil
}

func (lt *LayoutTypes) Describe() string { return lt.source }

// structTags are the C struct tags of CPython's typedefs, so that casts such as
// (struct _ts *)p work with synthesized types as they do with DWARF.
var structTags = map[string]string{
	"struct _ts":                 "PyThreadState",
	"struct _is":                 "PyInterpreterState",
	"struct pyruntimestate":      "_PyRuntimeState",
	"struct _frame":              "PyFrameObject",
	"struct _object":             "PyObject",
	"struct _typeobject":         "PyTypeObject",
	"struct _PyInterpreterFrame": "_PyInterpreterFrame",
	"struct _err_stackitem":      "_PyErr_StackItem",
	"struct _PyCFrame":           "_PyCFrame",
	"struct _dictkeysobject":     "PyDictKeysObject",
	"struct _longobject":         "PyLongObject",
}

func (lt *LayoutTypes) Struct(name string) (*typesys.Type, error) {
	if alias, ok := structTags[name]; ok {
		name = alias
	}
	t, ok := lt.structs[name]
	if !ok || (len(t.Members) == 0 && t.Size == 0) {
		return nil, fmt.Errorf("%s do not describe %s", lt.source, name)
	}
	return t, nil
}

var baseTypes = map[string]*typesys.Type{
	"i8": typesys.I8, "i16": typesys.I16, "i32": typesys.I32, "i64": typesys.I64,
	"u8": typesys.U8, "u16": typesys.U16, "u32": typesys.U32, "u64": typesys.U64,
	"f64": typesys.F64, "bool": typesys.BoolType, "void": typesys.VoidType, "char": typesys.Char,
}

// parseLayoutType reads the type grammar documented on MemberLayout.
func parseLayoutType(s string, shell func(string) *typesys.Type, ptrSize int64) (t *typesys.Type, bitOff, bitSize int, err error) {
	if len(s) > 256 {
		return nil, 0, 0, fmt.Errorf("type %q is too long", s[:64])
	}
	switch {
	case strings.HasPrefix(s, "ptr:"):
		elem, _, _, err := parseLayoutType(s[4:], shell, ptrSize)
		if err != nil {
			return nil, 0, 0, err
		}
		return typesys.PointerTo(elem, ptrSize), 0, 0, nil
	case strings.HasPrefix(s, "arr:"):
		parts := strings.SplitN(s[4:], ":", 2)
		if len(parts) != 2 {
			return nil, 0, 0, fmt.Errorf("bad array type %q", s)
		}
		n, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil || n < -1 || n > 1<<24 {
			return nil, 0, 0, fmt.Errorf("bad array length in %q", s)
		}
		var elem *typesys.Type
		if parts[1] == "struct" {
			elem = &typesys.Type{Kind: typesys.Struct}
		} else if elem, _, _, err = parseLayoutType(parts[1], shell, ptrSize); err != nil {
			return nil, 0, 0, err
		}
		size := int64(0)
		if n > 0 && elem.Size > 0 {
			size = n * elem.Size
		}
		return &typesys.Type{Kind: typesys.Array, Len: n, Elem: elem, Size: size}, 0, 0, nil
	case strings.HasPrefix(s, "bits:"):
		parts := strings.SplitN(s[5:], ":", 3)
		if len(parts) != 3 {
			return nil, 0, 0, fmt.Errorf("bad bitfield type %q", s)
		}
		off, err1 := strconv.Atoi(parts[0])
		size, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || off < 0 || size <= 0 || off+size > 64 {
			return nil, 0, 0, fmt.Errorf("bad bitfield type %q", s)
		}
		inner, _, _, err := parseLayoutType(parts[2], shell, ptrSize)
		if err != nil {
			return nil, 0, 0, err
		}
		return inner, off, size, nil
	}
	if b, ok := baseTypes[s]; ok {
		return b, 0, 0, nil
	}
	if s == "" || s == "struct" {
		return nil, 0, 0, fmt.Errorf("bad type %q", s)
	}
	return shell(s), 0, 0, nil
}

// SortedKeys returns the keys of m in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SortMembers orders members by offset, then path, as the tables list them.
func SortMembers(ms []MemberLayout) {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].Offset != ms[j].Offset {
			return ms[i].Offset < ms[j].Offset
		}
		return ms[i].Path < ms[j].Path
	})
}

// DWARFSource is CPython's structs from the DWARF of libpython or the executable.
type DWARFSource struct {
	dt     *typesys.DWARFTypes
	source string
}

// NewDWARFSource reads CPython's structs from dt; source says which file's DWARF it is.
func NewDWARFSource(dt *typesys.DWARFTypes, source string) *DWARFSource {
	return &DWARFSource{dt: dt, source: source}
}

func (d *DWARFSource) Describe() string { return d.source }

// Struct finds CPython's name as a typedef first, then as a struct tag.
func (d *DWARFSource) Struct(name string) (*typesys.Type, error) {
	t, err := d.dt.Lookup(name)
	if err != nil && !strings.HasPrefix(name, "struct ") {
		if t2, err2 := d.dt.Lookup("struct " + name); err2 == nil {
			return t2, nil
		}
	}
	return t, err
}
