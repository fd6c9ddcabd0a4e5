package main

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"sort"
	"strings"
)

// rootSet says which structs to tabulate and how.
type rootSet struct {
	// names are the roots, by typedef name or as "struct TAG"; each is
	// taken where the build has it.
	names []string
	// required must be found, else the file is not what it claims to be.
	required []string
	// capped may lose members to maxMembers; any other root that would is
	// an error.
	capped map[string]bool
	// keep lists paths always kept, with everything below them (to
	// maxDepth), in every version that has them, whatever the cap.
	keep map[string][]string
	// maxMembers caps the members of a capped root.
	maxMembers int
}

var cpythonRoots = rootSet{
	names: roots, required: requiredRoots, capped: cappedRoots, keep: keepPaths,
	maxMembers: 600,
}

// roots are CPython's structs tabulated, by typedef name or as "struct TAG"
// where CPython has no typedef.
var roots = []string{
	"_PyRuntimeState", "PyInterpreterState", "PyThreadState", "_PyCFrame",
	"_PyInterpreterFrame", "PyFrameObject", "PyCodeObject", "PyObject", "PyVarObject",
	"PyTypeObject", "PyASCIIObject", "PyCompactUnicodeObject", "PyUnicodeObject",
	"PyBytesObject", "PyTupleObject", "PyListObject", "PyDictObject", "PyDictKeysObject",
	"PyLongObject", "PyFloatObject", "PyGenObject", "PyCoroObject", "PyFunctionObject",
	"PyCellObject", "PyMethodObject", "PyModuleObject", "_PyErr_StackItem",
	"PyBaseExceptionObject", "struct _gil_runtime_state", "struct _ceval_runtime_state",
	"struct _gilstate_runtime_state", "_PyCoCached", "PyHeapTypeObject",
}

// requiredRoots must be found in every build.
var requiredRoots = []string{
	"_PyRuntimeState", "PyInterpreterState", "PyThreadState", "PyFrameObject",
	"PyCodeObject", "PyObject", "PyVarObject", "PyTypeObject", "PyTupleObject",
}

// maxDepth is how deep members are listed through by-value structs.
const maxDepth = 4

// cappedRoots are the roots that embed large caches and tables. Any other
// root is read member by member by the walker and must not be cut.
var cappedRoots = map[string]bool{"_PyRuntimeState": true, "PyInterpreterState": true}

// keepPaths are the members of capped roots that the walker reads.
var keepPaths = map[string][]string{
	"_PyRuntimeState": {
		"interpreters.head", "interpreters.main", "interpreters.next_id", "main_thread",
		"_finalizing", "finalizing", "gilstate.tstate_current", "gilstate.autoInterpreterState",
		"ceval.gil.locked", "ceval.gil.last_holder", "ceval.gil.switch_number",
		"tstate_current", "main_tstate", "_initialized", "initialized", "core_initialized",
		// 3.13+: CPython's own table of offsets, at the start of _PyRuntime.
		"debug_offsets",
	},
	"PyInterpreterState": {
		"next", "id", "tstate_head", "threads.head", "threads.main", "threads.count",
		"ceval.gil", "_gil.locked", "_gil.last_holder", "_gil.switch_number",
		"runtime", "modules", "imports.modules", "sysdict", "builtins",
		"finalizing", "_finalizing", "gc.collecting",
	},
}

// member is one row of a layout before it is written out.
type member struct {
	Path   string
	Offset int64
	Type   string
	depth  int
	order  int // pre-order position, to keep parents before children at one offset
}

type structLayout struct {
	Name    string
	Size    int64
	Members []member
	// Cut says what was left out, for a comment in the generated file.
	Cut string
}

// buildLayouts reads the roots from one input's DWARF.
func buildLayouts(in input) ([]structLayout, error) {
	path := in.Path
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if sec := f.Section(".debug_info"); sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("%s has no DWARF (.debug_info): stripped, or debug info kept elsewhere", path)
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("%s: reading DWARF: %w", path, err)
	}
	rs := cpythonRoots
	if m, ok := minorOf(in.Version); ok && m < 7 {
		rs = withoutRequired(rs, "_PyRuntimeState") // 3.6 keeps its runtime in separate globals
	}
	ls, err := layoutsFromDWARF(d, rs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ls, nil
}

// withoutRequired is rs with name no longer required.
func withoutRequired(rs rootSet, name string) rootSet {
	var req []string
	for _, r := range rs.required {
		if r != name {
			req = append(req, r)
		}
	}
	rs.required = req
	return rs
}

type indexer struct {
	r     *typeReader
	roots rootSet
	// typedefs by name: the first top-level typedef DIE of each name.
	typedefs map[string]dwarf.Offset
	// rootOf maps a typedef name or a "struct TAG" key to the root it denotes.
	rootOf map[string]string
	// conflicts are struct tags defined with different sizes in different
	// compilation units; a root among them cannot be tabulated.
	conflicts map[string]bool
}

func layoutsFromDWARF(d *dwarf.Data, rs rootSet) ([]structLayout, error) {
	ix := &indexer{r: newTypeReader(d), roots: rs, typedefs: map[string]dwarf.Offset{}, rootOf: map[string]string{}, conflicts: map[string]bool{}}
	if err := ix.scan(); err != nil {
		return nil, err
	}
	// Resolve each root to its struct, and learn which struct tags name it,
	// so that `struct _ts *` is typed as a pointer to PyThreadState.
	found := map[string]*cType{}
	for _, name := range rs.names {
		t, err := ix.root(name)
		if err != nil {
			return nil, fmt.Errorf("root %s: %w", name, err)
		}
		if t == nil {
			continue
		}
		found[name] = t
		ix.rootOf[name] = name
		if t.name != "" {
			key := tagKey(t.kind, t.name)
			if _, dup := ix.rootOf[key]; !dup {
				ix.rootOf[key] = name
			}
		}
	}
	for _, name := range rs.required {
		if found[name] == nil {
			return nil, fmt.Errorf("no complete definition of %s in the DWARF", name)
		}
	}
	var out []structLayout
	for _, name := range rs.names {
		t := found[name]
		if t == nil {
			continue
		}
		l, err := ix.layout(name, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// scan walks the top-level DIEs of every compilation unit, noting typedefs
// and complete struct and union definitions by name.
func (ix *indexer) scan() error {
	rd := ix.r.data.Reader()
	sizes := map[string]int64{}
	for {
		cu, err := rd.Next()
		if err != nil {
			return fmt.Errorf("reading compilation units: %w", err)
		}
		if cu == nil {
			return nil
		}
		if cu.Tag != dwarf.TagCompileUnit && cu.Tag != dwarf.TagPartialUnit {
			rd.SkipChildren()
			continue
		}
		if !cu.Children {
			continue
		}
		for {
			e, err := rd.Next()
			if err != nil {
				return fmt.Errorf("reading compilation unit at 0x%x: %w", cu.Offset, err)
			}
			if e == nil || e.Tag == 0 {
				break
			}
			if e.Children {
				rd.SkipChildren()
			}
			name, _ := e.Val(dwarf.AttrName).(string)
			if name == "" {
				continue
			}
			switch e.Tag {
			case dwarf.TagTypedef:
				if _, ok := ix.typedefs[name]; !ok {
					ix.typedefs[name] = e.Offset
				}
			case dwarf.TagStructType, dwarf.TagUnionType:
				if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); decl {
					continue
				}
				kind := kindStruct
				if e.Tag == dwarf.TagUnionType {
					kind = kindUnion
				}
				key := tagKey(kind, name)
				size, _ := e.Val(dwarf.AttrByteSize).(int64)
				if prev, ok := sizes[key]; ok {
					if prev != size {
						ix.conflicts[key] = true
					}
					continue
				}
				sizes[key] = size
				ix.r.complete[key] = e.Offset
			}
		}
	}
}

// root finds a root's struct, or nil if this build has none.
func (ix *indexer) root(name string) (*cType, error) {
	var t *cType
	var err error
	if tag, ok := strings.CutPrefix(name, "struct "); ok {
		off, ok := ix.r.complete["struct "+tag]
		if !ok {
			return nil, nil
		}
		t, err = ix.r.typeAt(off)
	} else {
		off, ok := ix.typedefs[name]
		if !ok {
			return nil, nil
		}
		t, err = ix.r.strip(off)
	}
	if err != nil {
		return nil, err
	}
	if t.kind != kindStruct && t.kind != kindUnion {
		return nil, fmt.Errorf("is not a struct")
	}
	if t.declOnly {
		return nil, nil // only ever declared: an opaque type in this build
	}
	if t.name != "" && ix.conflicts[tagKey(t.kind, t.name)] {
		return nil, fmt.Errorf("%s is defined with different sizes in different compilation units", tagKey(t.kind, t.name))
	}
	if t.membersErr != nil {
		return nil, t.membersErr
	}
	if t.size <= 0 {
		return nil, fmt.Errorf("has no size")
	}
	return t, nil
}

// layout lists a root's members to maxDepth, then applies the member cap.
func (ix *indexer) layout(name string, t *cType) (structLayout, error) {
	l := structLayout{Name: name, Size: t.size}
	var all []member
	deeper := 0 // members just below maxDepth, left out with all below them
	var walk func(s *cType, prefix string, base int64, depth, anon int) error
	walk = func(s *cType, prefix string, base int64, depth, anon int) error {
		if s.membersErr != nil {
			return s.membersErr
		}
		if anon > maxTypeChain {
			return fmt.Errorf("%sanonymous members nest deeper than %d", prefix, maxTypeChain)
		}
		for _, m := range s.members {
			mt, err := ix.r.strip(m.typeOff)
			if err != nil {
				return fmt.Errorf("%s%s: %w", prefix, m.name, err)
			}
			off := base + m.offset
			if m.name == "" {
				// An anonymous struct or union: C names its members as if
				// they were the parent's.
				if mt.kind == kindStruct || mt.kind == kindUnion {
					if err := walk(mt, prefix, off, depth, anon+1); err != nil {
						return err
					}
				}
				continue
			}
			path := prefix + m.name
			if depth+1 > maxDepth {
				deeper++
				continue
			}
			typ, err := ix.typeString(m, mt)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			all = append(all, member{Path: path, Offset: off, Type: typ, depth: depth + 1, order: len(all)})
			if typ == "struct" {
				if err := walk(mt, path+".", off, depth+1, 0); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(t, "", 0, 0, 0); err != nil {
		return l, err
	}
	for _, m := range all {
		if m.Offset < 0 || (l.Size > 0 && m.Offset >= l.Size && !isEmptyTail(m.Type)) {
			return l, fmt.Errorf("member %s at offset %d outside the struct's %d bytes", m.Path, m.Offset, l.Size)
		}
	}
	kept := all
	if len(all) > ix.roots.maxMembers {
		if !ix.roots.capped[name] {
			return l, fmt.Errorf("%d members exceed the cap of %d", len(all), ix.roots.maxMembers)
		}
		kept, l.Cut = capMembers(all, ix.roots.keep[name], ix.roots.maxMembers)
	}
	if deeper > 0 {
		note := fmt.Sprintf("members below level %d left out (%d at level %d)", maxDepth, deeper, maxDepth+1)
		if l.Cut != "" {
			l.Cut += "; "
		}
		l.Cut += note
	}
	sort.SliceStable(kept, func(i, j int) bool {
		if kept[i].Offset != kept[j].Offset {
			return kept[i].Offset < kept[j].Offset
		}
		return kept[i].order < kept[j].order
	})
	l.Members = kept
	return l, nil
}

// isEmptyTail tells a zero-sized trailing member (a flexible array), which
// sits at the struct's end.
func isEmptyTail(typ string) bool {
	return strings.HasPrefix(typ, "arr:0:")
}

// capMembers keeps whole levels of nesting, shallowest first, while they fit
// in limit, plus the kept paths with their ancestors and descendants.
func capMembers(all []member, keep []string, limit int) ([]member, string) {
	perDepth := map[int]int{}
	for _, m := range all {
		perDepth[m.depth]++
	}
	depth, n := 1, perDepth[1]
	for d := 2; d <= maxDepth; d++ {
		if n+perDepth[d] > limit {
			break
		}
		depth, n = d, n+perDepth[d]
	}
	var kept []member
	for _, m := range all {
		if m.depth <= depth || wanted(m.Path, keep) {
			kept = append(kept, m)
		}
	}
	return kept, fmt.Sprintf("%d members deeper than %d levels left out (cap %d) except the walker's paths",
		len(all)-len(kept), depth, limit)
}

// wanted: path is a kept path, an ancestor of one, or below one.
func wanted(path string, keep []string) bool {
	for _, k := range keep {
		if path == k || strings.HasPrefix(k, path+".") || strings.HasPrefix(path, k+".") {
			return true
		}
	}
	return false
}

// typeString spells a member's type in layout.go's grammar.
func (ix *indexer) typeString(m cMember, t *cType) (string, error) {
	if m.bitSize > 0 {
		base, err := ix.spell(t, 0)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("bits:%d:%d:%s", m.bitOffset, m.bitSize, base), nil
	}
	if t.kind == kindStruct || t.kind == kindUnion {
		return "struct", nil
	}
	return ix.spell(t, 0)
}

// spell spells a stripped type that is not a by-value struct member.
func (ix *indexer) spell(t *cType, depth int) (string, error) {
	if depth > maxTypeChain {
		return "", fmt.Errorf("type nesting deeper than %d", maxTypeChain)
	}
	switch t.kind {
	case kindBase:
		return baseType(t), nil
	case kindEnum:
		return intType(t.size, true), nil
	case kindPointer:
		if !t.hasTarget {
			return "ptr:void", nil
		}
		name, err := ix.rootName(t.target)
		if err != nil {
			return "", err
		}
		if name != "" {
			return "ptr:" + name, nil
		}
		pt, err := ix.r.strip(t.target)
		if err != nil {
			return "", err
		}
		switch pt.kind {
		case kindBase, kindEnum, kindPointer:
			s, err := ix.spell(pt, depth+1)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(s, "arr:") { // an odd-sized base type: unknown
				return "ptr:void", nil
			}
			return "ptr:" + s, nil
		}
		return "ptr:void", nil // functions, void, structs that are no root
	case kindArray:
		et, err := ix.r.strip(t.target)
		if err != nil {
			return "", err
		}
		var elem string
		switch et.kind {
		case kindStruct, kindUnion:
			// No element members: big embedded tables would swamp the file.
			elem = "struct"
			if name, err := ix.rootName(t.target); err != nil {
				return "", err
			} else if name != "" {
				elem = name
			}
		default:
			elem, err = ix.spell(et, depth+1)
			if err != nil {
				return "", err
			}
		}
		// Multi-dimensional arrays nest, outermost dimension first.
		for i := len(t.dims) - 1; i >= 0; i-- {
			elem = fmt.Sprintf("arr:%d:%s", t.dims[i], elem)
		}
		return elem, nil
	case kindFunc, kindVoid:
		return "ptr:void", nil // only reachable behind a pointer
	}
	if t.size > 0 {
		return fmt.Sprintf("arr:%d:u8", t.size), nil
	}
	return "", fmt.Errorf("unsupported type DIE at 0x%x", t.off)
}

// rootName is the root a type denotes, by typedef name or struct tag, looking
// through typedefs and qualifiers; "" if none.
func (ix *indexer) rootName(off dwarf.Offset) (string, error) {
	for i := 0; i < maxTypeChain; i++ {
		t, err := ix.r.typeAt(off)
		if err != nil {
			return "", err
		}
		switch t.kind {
		case kindTypedef:
			if r := ix.rootOf[t.name]; r != "" {
				return r, nil
			}
		case kindStruct, kindUnion:
			if t.name != "" {
				return ix.rootOf[tagKey(t.kind, t.name)], nil
			}
			// An anonymous struct is a root only through its typedef.
			return "", nil
		case kindQual:
		default:
			return "", nil
		}
		if !t.hasTarget {
			return "", nil
		}
		off = t.target
	}
	return "", fmt.Errorf("type chain at 0x%x longer than %d", off, maxTypeChain)
}

// DWARF base type encodings (DW_ATE_*).
const (
	ateBoolean      = 0x2
	ateFloat        = 0x4
	ateSigned       = 0x5
	ateSignedChar   = 0x6
	ateUnsigned     = 0x7
	ateUnsignedChar = 0x8
	ateUTF          = 0x10
)

// baseType spells a C base type; types the grammar lacks (long double,
// complex, 128-bit integers) become byte arrays of their size.
func baseType(t *cType) string {
	switch t.encoding {
	case ateBoolean:
		if t.size == 1 {
			return "bool"
		}
		return intType(t.size, false)
	case ateSigned, ateSignedChar:
		return intType(t.size, true)
	case ateUnsigned, ateUnsignedChar, ateUTF:
		return intType(t.size, false)
	case ateFloat:
		if t.size == 8 {
			return "f64"
		}
	}
	return fmt.Sprintf("arr:%d:u8", max(t.size, 0))
}

func intType(size int64, signed bool) string {
	switch size {
	case 1, 2, 4, 8:
		if signed {
			return fmt.Sprintf("i%d", size*8)
		}
		return fmt.Sprintf("u%d", size*8)
	}
	return fmt.Sprintf("arr:%d:u8", max(size, 0))
}
