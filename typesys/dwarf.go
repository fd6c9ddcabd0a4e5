package typesys

import (
	"debug/dwarf"
	"fmt"
	"sync"
)

// DWARFTypes converts the types of one module's DWARF into Types, lazily:
// a lookup by name scans compile units only until it finds the name, so asking
// for a handful of CPython structs does not parse all of libpython's DWARF.
type DWARFTypes struct {
	mu      sync.Mutex
	d       *dwarf.Data
	ptrSize int64
	source  string // for error messages: the file the DWARF came from

	reader      *dwarf.Reader // resumable scan over top-level DIEs
	done        bool
	byName      map[string]dwarf.Offset // typedef, base type, "struct x", "union x", "enum x"
	conv        map[dwarf.Type]*Type
	scanned     int
	vars        *varIndex                   // global variables seen by the scan (dwarfvars.go)
	atomics     map[dwarf.Type]dwarf.Offset // C11 _Atomic types -> what they qualify (dwarfvars.go)
	atomicsSeen []atomicEntry               // atomic entries scanned, not yet in atomics
	key         []byte                      // scratch for index's map keys
	raw         *rawScanner                 // the scan over raw sections, nil for the Reader (dwarfscan.go)
}

// NewDWARFTypes wraps parsed DWARF. source names the file, for errors.
func NewDWARFTypes(d *dwarf.Data, ptrSize int, source string) *DWARFTypes {
	return &DWARFTypes{d: d, ptrSize: int64(ptrSize), source: source,
		byName: map[string]dwarf.Offset{}, conv: map[dwarf.Type]*Type{}}
}

// maxDIEs bounds the scan of a corrupt or hostile DWARF section.
const maxDIEs = 50_000_000

// Lookup finds a type by C name: a typedef or base type ("PyThreadState",
// "int"), or a tagged type ("struct _ts", "union u", "enum e"). Declarations
// without a body are skipped in favour of a complete definition.
func (dt *DWARFTypes) Lookup(name string) (*Type, error) {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	off, err := dt.find(name)
	if err != nil {
		return nil, err
	}
	t, err := dt.d.Type(off)
	if err != nil {
		return nil, fmt.Errorf("type %q in %s: %w", name, dt.source, err)
	}
	return dt.convert(t, 0), nil
}

// find returns the offset of the first complete definition of name,
// scanning further only as needed. Callers hold dt.mu.
func (dt *DWARFTypes) find(name string) (dwarf.Offset, error) {
	off, ok := dt.byName[name]
	for !ok && !dt.done {
		if err := dt.scanSome(); err != nil {
			return 0, err
		}
		off, ok = dt.byName[name]
	}
	if !ok {
		return 0, fmt.Errorf("no type %q in the DWARF of %s", name, dt.source)
	}
	return off, nil
}

// scanSome reads the next batch of top-level DIEs into the name index: a
// unit with the raw scan, else 4096 entries through debug/dwarf's Reader.
func (dt *DWARFTypes) scanSome() error {
	if dt.raw != nil {
		more, _, err := dt.raw.unit(dt.index, &dt.scanned)
		if err == nil {
			if !more || dt.scanned > maxDIEs {
				dt.done = true
			}
			return nil
		}
		// Start again with the Reader: the index keeps the first entry
		// of each name, so what the raw scan noted is noted again alike.
		dt.raw, dt.scanned = nil, 0
	}
	if dt.reader == nil {
		dt.reader = dt.d.Reader()
	}
	var re rawEntry
	for i := 0; i < 4096; i++ {
		e, err := dt.reader.Next()
		if err != nil {
			dt.done = true
			return fmt.Errorf("reading DWARF of %s: %w", dt.source, err)
		}
		dt.scanned++
		if e == nil || dt.scanned > maxDIEs {
			dt.done = true
			return nil
		}
		if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit {
			continue // descend into the unit's top-level DIEs
		}
		re = rawEntry{off: e.Offset, tag: e.Tag, children: e.Children}
		name, _ := e.Val(dwarf.AttrName).(string)
		re.name = []byte(name)
		re.decl, _ = e.Val(dwarf.AttrDeclaration).(bool)
		re.typ, re.hasType = e.Val(dwarf.AttrType).(dwarf.Offset)
		re.spec, re.hasSpec = e.Val(dwarf.AttrSpecification).(dwarf.Offset)
		re.loc, _ = e.Val(dwarf.AttrLocation).([]byte)
		dt.index(&re)
		if e.Children {
			dt.reader.SkipChildren()
		}
	}
	return nil
}

// index notes one top-level entry: a type's name, a variable, an atomic type.
func (dt *DWARFTypes) index(e *rawEntry) {
	var prefix string // a string constant, so that the key below is built without allocating
	switch e.tag {
	case dwarf.TagTypedef, dwarf.TagBaseType:
	case dwarf.TagStructType:
		prefix = "struct "
	case dwarf.TagUnionType:
		prefix = "union "
	case dwarf.TagEnumerationType:
		prefix = "enum "
	case dwarf.TagVariable:
		dt.indexVariable(e)
		return
	case dwarf.TagAtomicType:
		dt.noteAtomic(e)
		return
	default:
		return
	}
	if len(e.name) > 0 && !e.decl {
		dt.key = append(append(dt.key[:0], prefix...), e.name...)
		if _, seen := dt.byName[string(dt.key)]; !seen {
			dt.byName[string(dt.key)] = e.off
		}
	}
}

// Convert turns a parsed DWARF type into a Type (memoized, cycle safe).
func (dt *DWARFTypes) Convert(t dwarf.Type) *Type {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	return dt.convert(t, 0)
}

func (dt *DWARFTypes) convert(t dwarf.Type, depth int) *Type {
	if t == nil {
		return VoidType
	}
	if c, ok := dt.conv[t]; ok {
		return c
	}
	if depth > 200 {
		return &Type{Kind: Void, Name: "<type nesting too deep>"}
	}
	if q, ok := t.(*dwarf.QualType); ok {
		// const/volatile do not change how a value is read.
		u := dt.convert(q.Type, depth+1)
		dt.conv[t] = u
		return u
	}
	out := &Type{Size: t.Size()}
	dt.conv[t] = out // before recursing: struct types refer to themselves through pointers
	switch t := t.(type) {
	case *dwarf.VoidType:
		out.Kind, out.Name, out.Size = Void, "void", 0
	case *dwarf.IntType:
		out.Kind, out.Name, out.Signed = Int, t.Name, true
	case *dwarf.CharType:
		out.Kind, out.Name, out.Signed = Int, t.Name, true
	case *dwarf.UcharType:
		out.Kind, out.Name = Int, t.Name
	case *dwarf.UintType:
		out.Kind, out.Name = Int, t.Name
	case *dwarf.BoolType:
		out.Kind, out.Name = Bool, t.Name
	case *dwarf.FloatType:
		out.Kind, out.Name = Float, t.Name
	case *dwarf.ComplexType:
		out.Kind, out.Name = Float, t.Name
	case *dwarf.AddrType:
		out.Kind, out.Name = Int, t.Name
	case *dwarf.UnspecifiedType:
		out.Kind, out.Name = Void, t.Name
	case *dwarf.PtrType:
		out.Kind, out.Size = Pointer, dt.ptrSize
		out.Elem = dt.convert(t.Type, depth+1)
	case *dwarf.TypedefType:
		out.Kind, out.Name = Typedef, t.Name
		out.Elem = dt.convert(t.Type, depth+1)
		if e := out.Elem; e != nil && (e.Kind == Struct || e.Kind == Union) && e.Name == "" {
			nameAnonymousAs(e, t.Name, 0)
		}
		if out.Size <= 0 {
			out.Size = out.Elem.Resolve().sizeOr(0)
		}
	case *dwarf.ArrayType:
		out.Kind, out.Len = Array, t.Count
		out.Elem = dt.convert(t.Type, depth+1)
		if t.Count <= 0 {
			// debug/dwarf gives a flexible array member ("long items[]") a count
			// of 0; it is indexed past its declared length.
			out.Len = -1
		}
	case *dwarf.StructType:
		if t.Incomplete && t.StructName != "" {
			// A compile unit that only declares the struct (PyInterpreterState in
			// most of libpython): use a unit that defines it.
			if off, err := dt.find(t.Kind + " " + t.StructName); err == nil {
				if full, err := dt.d.Type(off); err == nil {
					if st, ok := full.(*dwarf.StructType); ok && !st.Incomplete {
						delete(dt.conv, t)
						c := dt.convert(full, depth+1)
						dt.conv[t] = c
						return c
					}
				}
			}
		}
		switch t.Kind {
		case "union":
			out.Kind = Union
		default:
			out.Kind = Struct
		}
		if t.StructName != "" {
			out.Name = t.Kind + " " + t.StructName
		}
		for _, f := range t.Field {
			m := &Member{Name: f.Name, Offset: f.ByteOffset, Type: dt.convert(f.Type, depth+1)}
			if f.BitSize > 0 {
				m.BitSize = int(f.BitSize)
				// debug/dwarf does not say which attribute it read, and both are 0
				// for a DWARF 2/3 bitfield that fills the top bits of its unit.
				// Compilers give DW_AT_bit_offset a DW_AT_byte_size beside it.
				if f.BitOffset == 0 && f.ByteSize == 0 {
					// DWARF 4+: bit offset from the start of the struct.
					m.Offset = f.DataBitOffset / 8
					m.BitOffset = int(f.DataBitOffset % 8)
				} else {
					// DWARF 2/3: offset of the MSB within the storage unit at ByteOffset.
					storage := f.ByteSize
					if storage <= 0 {
						storage = m.Type.sizeOr(4)
					}
					m.BitOffset = int(storage*8 - f.BitOffset - f.BitSize)
				}
			}
			if m.BitOffset < 0 || m.BitOffset >= 8 {
				// Keep the bit offset within the first byte read (DWARF 2/3
				// offsets count from the storage unit, which may start earlier).
				q := int64(m.BitOffset) >> 3 // floor, also for negative offsets
				m.Offset += q
				m.BitOffset -= int(q * 8)
			}
			out.Members = append(out.Members, m)
		}
		nameAnonymous(out, 0)
	case *dwarf.EnumType:
		out.Kind = Enum
		if t.EnumName != "" {
			out.Name = "enum " + t.EnumName
		}
		for _, v := range t.Val {
			out.Enumerators = append(out.Enumerators, Enumerator{Name: v.Name, Value: v.Val})
			// C compilers pick an unsigned underlying type unless an enumerator
			// is negative (debug/dwarf does not expose DW_AT_type of enums).
			if v.Val < 0 {
				out.Signed = true
			}
		}
	case *dwarf.FuncType:
		out.Kind, out.Size = Func, 0
		if _, void := t.ReturnType.(*dwarf.VoidType); t.ReturnType != nil && !void {
			out.Elem = dt.convert(t.ReturnType, depth+1)
		}
		out.Params = []*Type{}
		for _, p := range t.ParamType {
			if _, dots := p.(*dwarf.DotDotDotType); dots {
				out.Variadic = true
				continue
			}
			out.Params = append(out.Params, dt.convert(p, depth+1))
		}
	default:
		if inner, ok := dt.atomicTarget(t); ok {
			c := dt.convert(inner, depth+1)
			dt.conv[t] = c
			return c
		}
		out.Kind, out.Name = Void, t.String()
	}
	return out
}
