package pyobj

// Type objects as the object reader sees them: what kind of object a type
// makes (read once per type), its names, and the singletons.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pycore/pycore/core"
)

// TypeInfo is what the renderer needs of one type object.
type TypeInfo struct {
	Name     string // tp_name
	Flags    uint64
	Kind     Kind
	Exact    bool // the type is the builtin type itself, not a subclass
	Heap     bool
	Err      error
	Basename string // tp_name after the last dot: type(x).__name__
}

// typeOf reads (once per type) what kind of object a type makes.
func (r *Reader) TypeOf(tp core.Address) *TypeInfo {
	r.mu.Lock()
	ti, ok := r.typeCache[tp]
	r.mu.Unlock()
	if ok {
		return ti
	}
	ti = r.readType(tp)
	r.refineKind(tp, ti)
	r.mu.Lock()
	if len(r.typeCache) < 1<<14 {
		r.typeCache[tp] = ti
	}
	r.mu.Unlock()
	return ti
}

func (r *Reader) readType(tp core.Address) *TypeInfo {
	l := r.L
	ti := &TypeInfo{}
	if tp == 0 {
		ti.Err = errors.New("NULL type")
		return ti
	}
	flags, err := r.p.R.Uint64(tp.Add(l.Type.Flags))
	if err != nil {
		ti.Err = fmt.Errorf("type at %#x: tp_flags: %w", uint64(tp), err)
		return ti
	}
	ti.Flags = flags
	ti.Heap = flags&TPFlagsHeapType != 0
	if np, err := r.Ptr(tp.Add(l.Type.Name)); err == nil && np != 0 {
		if b, _, err := r.p.R.CString(np, 256); err == nil {
			ti.Name = string(b)
		}
	}
	if ti.Name == "" {
		ti.Name = fmt.Sprintf("<type at %#x>", uint64(tp))
	}
	ti.Basename = ti.Name
	if i := strings.LastIndexByte(ti.Name, '.'); i >= 0 {
		ti.Basename = ti.Name[i+1:]
	}
	if k, ok := l.Types[tp]; ok {
		ti.Kind, ti.Exact = k, true
		return ti
	}
	// A subclass renders like its nearest builtin base if it keeps the
	// base's tp_repr (Python would call an overriding __repr__, which a core
	// cannot run). Classes render as classes whatever their metaclass.
	myRepr, _ := r.Ptr(tp.Add(l.Type.Repr))
	inherits := func(k Kind) Kind {
		if k == KindType {
			return k
		}
		if base, ok := l.reprOf[k]; ok && myRepr != 0 && base != myRepr {
			return KindObject
		}
		return k
	}
	cur := tp
	for i := 0; i < MaxTypeChain && l.Type.Base >= 0; i++ {
		b, err := r.Ptr(cur.Add(l.Type.Base))
		if err != nil || b == 0 {
			break
		}
		if k, ok := l.Types[b]; ok {
			ti.Kind = inherits(k)
			return ti
		}
		cur = b
	}
	// No symbols: the subclass bits, then the names of builtin static types.
	switch {
	case flags&TPFlagsTypeSubclass != 0:
		ti.Kind = KindType
	case flags&TPFlagsLongSubclass != 0:
		ti.Kind = inherits(KindInt)
		if !ti.Heap && ti.Name == "bool" {
			ti.Kind = KindBool
		}
	case flags&TPFlagsListSubclass != 0:
		ti.Kind = inherits(KindList)
	case flags&TPFlagsTupleSubclass != 0:
		ti.Kind = inherits(KindTuple)
	case flags&TPFlagsBytesSubclass != 0:
		ti.Kind = inherits(KindBytes)
	case flags&TPFlagsUnicodeSubclass != 0:
		ti.Kind = inherits(KindStr)
	case flags&TPFlagsDictSubclass != 0:
		ti.Kind = inherits(KindDict)
	case flags&TPFlagsBaseExcSubcl != 0:
		ti.Kind = inherits(KindException)
		if g, _ := r.excGroupBases(tp); g != 0 {
			ti.Kind = KindExcGroup
			if own, err := r.Ptr(g.Add(l.Type.Repr)); err == nil && myRepr != own {
				ti.Kind = KindObject
			}
		}
	case !ti.Heap:
		for _, bt := range builtinTypes {
			if bt.name == ti.Name {
				ti.Kind, ti.Exact = bt.kind, true
			}
		}
	}
	return ti
}

// excGroupBases finds the static types BaseExceptionGroup and BaseException
// in the base chain of tp (0 where absent): whether the group's repr is its
// own (3.14+) or BaseException's shows in their tp_repr.
func (r *Reader) excGroupBases(tp core.Address) (group, base core.Address) {
	cur := tp
	for i := 0; i < MaxTypeChain && cur != 0 && r.L.Type.Base >= 0; i++ {
		flags, err := r.p.R.Uint64(cur.Add(r.L.Type.Flags))
		if err != nil {
			break
		}
		if flags&TPFlagsHeapType == 0 {
			if np, err := r.Ptr(cur.Add(r.L.Type.Name)); err == nil && np != 0 {
				if b, _, err := r.p.R.CString(np, 32); err == nil {
					switch string(b) {
					case "BaseExceptionGroup":
						group = cur
					case "BaseException":
						base = cur
						return group, base
					}
				}
			}
		}
		if cur, err = r.Ptr(cur.Add(r.L.Type.Base)); err != nil {
			break
		}
	}
	return group, base
}

// typeNames returns a type's __module__ and __qualname__ as Python's
// type_module and type_qualname compute them.
func (r *Reader) TypeNames(tp core.Address) (module, qualname string, err error) {
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return "", "", ti.Err
	}
	if !ti.Heap {
		if i := strings.LastIndexByte(ti.Name, '.'); i >= 0 {
			return ti.Name[:i], ti.Name[i+1:], nil
		}
		return "builtins", ti.Name, nil
	}
	qualname = ti.Name
	if r.L.HeapType.Qualname >= 0 {
		if q, err := r.Ptr(tp.Add(r.L.HeapType.Qualname)); err == nil && q != 0 {
			if cps, _, err := r.StrCodepoints(q, 1024); err == nil {
				qualname = CodepointsToString(cps)
			}
		}
	}
	if r.L.Type.Dict < 0 {
		return "", qualname, nil // unknown: the caller shows tp_name
	}
	dict, err := r.Ptr(tp.Add(r.L.Type.Dict))
	if err != nil || dict == 0 {
		return "builtins", qualname, nil
	}
	if m, ok, _ := r.DictGetStr(dict, "__module__"); ok {
		if cps, _, err := r.StrCodepoints(m, 1024); err == nil {
			module = CodepointsToString(cps)
		}
	}
	return module, qualname, nil
}

func (r *Reader) IsNone(a core.Address) bool {
	i, ok := r.L.singletons[a]
	if ok {
		return singletonSymbols[i].kind == KindNone
	}
	tp, err := r.Ptr(a.Add(r.L.Object.Type))
	return err == nil && r.TypeOf(tp).Kind == KindNone
}

func (r *Reader) IsTrue(a core.Address) bool {
	if i, ok := r.L.singletons[a]; ok {
		return singletonSymbols[i].repr == "True"
	}
	v, err := r.IntValue(a)
	return err == nil && v.Sign() != 0
}

// refineKind recognizes, in a type read as a plain object, the types of this
// file that have no symbol (or inherit from one that has none), struct
// sequences and threading.Thread classes.
func (r *Reader) refineKind(tp core.Address, ti *TypeInfo) {
	if ti.Err != nil || ti.Kind != KindObject {
		return
	}
	l := r.L
	if k, ok := valueKindByName(ti.Name, ti.Heap); ok {
		ti.Kind, ti.Exact = k, true
		return
	}
	myRepr, _ := r.Ptr(tp.Add(l.Type.Repr))
	cur := tp
	for i := 0; i < MaxTypeChain && l.Type.Base >= 0; i++ {
		b, err := r.Ptr(cur.Add(l.Type.Base))
		if err != nil || b == 0 {
			break
		}
		bf, err := r.p.R.Uint64(b.Add(l.Type.Flags))
		if err != nil {
			break
		}
		if np, err := r.Ptr(b.Add(l.Type.Name)); err == nil && np != 0 {
			if name, _, err := r.p.R.CString(np, 256); err == nil {
				if k, ok := valueKindByName(string(name), bf&TPFlagsHeapType != 0); ok {
					if br, err := r.Ptr(b.Add(l.Type.Repr)); err == nil && br == myRepr {
						ti.Kind = k
					}
					return
				}
			}
		}
		cur = b
	}
	if ti.Flags&TPFlagsTupleSubclass != 0 && r.isStructSeqType(tp) {
		ti.Kind = KindStructSeq
		return
	}
	if ti.Heap && r.isThreadClass(tp) {
		ti.Kind = KindThread
	}
}

// isStructSeqType says whether tp is a struct sequence type: a tuple
// subclass whose members are the read-only object fields ob_item[0], [1], ...
// PyStructSequence_InitType makes (3.12+ static types keep their dict,
// where n_fields is, per interpreter, so the members are what is left).
func (r *Reader) isStructSeqType(tp core.Address) bool {
	l := r.L
	if l.Type.Members < 0 {
		return false
	}
	m, err := r.Ptr(tp.Add(l.Type.Members))
	if err != nil || m == 0 {
		return false
	}
	for i := int64(0); i < 2; i++ {
		def := m.Add(i * l.MemberDef.Size)
		name, err1 := r.Ptr(def)
		typ, err2 := r.p.R.Uint32(def.Add(l.Ptr))
		offset, err3 := r.I64(def.Add(2 * l.Ptr))
		flags, err4 := r.p.R.Uint32(def.Add(3 * l.Ptr))
		if errors.Join(err1, err2, err3, err4) != nil {
			return false
		}
		if name == 0 {
			return i > 0
		}
		const tObject, readOnly = 6, 1
		if typ != tObject || flags&readOnly == 0 || offset != l.Tuple.Items+i*l.Ptr {
			return false
		}
	}
	return true
}

// isThreadClass says whether instances of tp print with threading.Thread's
// __repr__: threading.Thread is in its bases and no class before it defines
// __repr__.
func (r *Reader) isThreadClass(tp core.Address) bool {
	l := r.L
	cur := tp
	for i := 0; i < MaxTypeChain && cur != 0; i++ {
		flags, err := r.p.R.Uint64(cur.Add(l.Type.Flags))
		if err != nil || flags&TPFlagsHeapType == 0 {
			return false
		}
		if l.Type.Dict < 0 || l.HeapType.Qualname < 0 {
			return false
		}
		// Not r.typeNames: that asks typeOf, which for tp is being computed.
		d, err := r.Ptr(cur.Add(l.Type.Dict))
		if err != nil || d == 0 {
			return false
		}
		if q, err := r.StrAt(cur.Add(l.HeapType.Qualname), 64); err == nil && q == "Thread" {
			if m, ok, _ := r.DictGetStr(d, "__module__"); ok {
				if cps, _, err := r.StrCodepoints(m, 64); err == nil && string(cps) == "threading" {
					return true
				}
			}
		}
		if _, ok, _ := r.DictGetStr(d, "__repr__"); ok {
			return false
		}
		if l.Type.Base < 0 {
			return false
		}
		if cur, err = r.Ptr(cur.Add(l.Type.Base)); err != nil {
			return false
		}
	}
	return false
}

// cstringAt reads the C string a pointer at field points to.
func (r *Reader) cstringAt(field core.Address, what string) (string, error) {
	p, err := r.Ptr(field)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if p == 0 {
		return "", fmt.Errorf("%s: NULL", what)
	}
	p, err = r.Ptr(p) // the name is the first member of PyMethodDef and wrapperbase
	if err != nil || p == 0 {
		return "", fmt.Errorf("%s: %v", what, err)
	}
	b, _, err := r.p.R.CString(p, 256)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return string(b), nil
}

// typeNameOf is tp_name of the object's type, as %s of Py_TYPE(x)->tp_name prints it.
func (r *Reader) typeNameOf(obj core.Address) string {
	tp, err := r.Ptr(obj.Add(r.L.Object.Type))
	if err != nil {
		return "?"
	}
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return "?"
	}
	return ti.Name
}

// cfunctionQualname is meth_get__qualname__: the name alone for functions
// of a module (or of nothing), else the qualname of the type they belong
// to (m_self, or its type) and the name.
func (r *Reader) cfunctionQualname(fn core.Address, name string) string {
	self, err := r.Ptr(fn.Add(r.L.CFunction.Self))
	if err != nil || self == 0 {
		return name
	}
	tp, err := r.Ptr(self.Add(r.L.Object.Type))
	if err != nil {
		return name
	}
	switch r.TypeOf(tp).Kind {
	case KindModule:
		return name
	case KindType:
		tp = self
	}
	if _, q, err := r.TypeNames(tp); err == nil && q != "" {
		return q + "." + name
	}
	return name
}
