package cpython

// Type objects as the object reader sees them: what kind of object a type
// makes (read once per type), its names, and the singletons.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pycore/pycore/core"
)

// typeInfo is what the renderer needs of one type object.
type typeInfo struct {
	name     string // tp_name
	flags    uint64
	kind     objKind
	exact    bool // the type is the builtin type itself, not a subclass
	heap     bool
	err      error
	basename string // tp_name after the last dot: type(x).__name__
}

// typeOf reads (once per type) what kind of object a type makes.
func (r *objReader) typeOf(tp core.Address) *typeInfo {
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

func (r *objReader) readType(tp core.Address) *typeInfo {
	l := r.l
	ti := &typeInfo{}
	if tp == 0 {
		ti.err = errors.New("NULL type")
		return ti
	}
	flags, err := r.p.R.Uint64(tp.Add(l.Type.Flags))
	if err != nil {
		ti.err = fmt.Errorf("type at %#x: tp_flags: %w", uint64(tp), err)
		return ti
	}
	ti.flags = flags
	ti.heap = flags&tpflagsHeapType != 0
	if np, err := r.ptr(tp.Add(l.Type.Name)); err == nil && np != 0 {
		if b, _, err := r.p.R.CString(np, 256); err == nil {
			ti.name = string(b)
		}
	}
	if ti.name == "" {
		ti.name = fmt.Sprintf("<type at %#x>", uint64(tp))
	}
	ti.basename = ti.name
	if i := strings.LastIndexByte(ti.name, '.'); i >= 0 {
		ti.basename = ti.name[i+1:]
	}
	if k, ok := l.types[tp]; ok {
		ti.kind, ti.exact = k, true
		return ti
	}
	// A subclass renders like its nearest builtin base if it keeps the
	// base's tp_repr (Python would call an overriding __repr__, which a core
	// cannot run). Classes render as classes whatever their metaclass.
	myRepr, _ := r.ptr(tp.Add(l.Type.Repr))
	inherits := func(k objKind) objKind {
		if k == kindType {
			return k
		}
		if base, ok := l.reprOf[k]; ok && myRepr != 0 && base != myRepr {
			return kindObject
		}
		return k
	}
	cur := tp
	for i := 0; i < maxTypeChain && l.Type.Base >= 0; i++ {
		b, err := r.ptr(cur.Add(l.Type.Base))
		if err != nil || b == 0 {
			break
		}
		if k, ok := l.types[b]; ok {
			ti.kind = inherits(k)
			return ti
		}
		cur = b
	}
	// No symbols: the subclass bits, then the names of builtin static types.
	switch {
	case flags&tpflagsTypeSubclass != 0:
		ti.kind = kindType
	case flags&tpflagsLongSubclass != 0:
		ti.kind = inherits(kindInt)
		if !ti.heap && ti.name == "bool" {
			ti.kind = kindBool
		}
	case flags&tpflagsListSubclass != 0:
		ti.kind = inherits(kindList)
	case flags&tpflagsTupleSubclass != 0:
		ti.kind = inherits(kindTuple)
	case flags&tpflagsBytesSubclass != 0:
		ti.kind = inherits(kindBytes)
	case flags&tpflagsUnicodeSubclass != 0:
		ti.kind = inherits(kindStr)
	case flags&tpflagsDictSubclass != 0:
		ti.kind = inherits(kindDict)
	case flags&tpflagsBaseExcSubcl != 0:
		ti.kind = inherits(kindException)
		if g, _ := r.excGroupBases(tp); g != 0 {
			ti.kind = kindExcGroup
			if own, err := r.ptr(g.Add(l.Type.Repr)); err == nil && myRepr != own {
				ti.kind = kindObject
			}
		}
	case !ti.heap:
		for _, bt := range builtinTypes {
			if bt.name == ti.name {
				ti.kind, ti.exact = bt.kind, true
			}
		}
	}
	return ti
}

// excGroupBases finds the static types BaseExceptionGroup and BaseException
// in the base chain of tp (0 where absent): whether the group's repr is its
// own (3.14+) or BaseException's shows in their tp_repr.
func (r *objReader) excGroupBases(tp core.Address) (group, base core.Address) {
	cur := tp
	for i := 0; i < maxTypeChain && cur != 0 && r.l.Type.Base >= 0; i++ {
		flags, err := r.p.R.Uint64(cur.Add(r.l.Type.Flags))
		if err != nil {
			break
		}
		if flags&tpflagsHeapType == 0 {
			if np, err := r.ptr(cur.Add(r.l.Type.Name)); err == nil && np != 0 {
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
		if cur, err = r.ptr(cur.Add(r.l.Type.Base)); err != nil {
			break
		}
	}
	return group, base
}

// typeNames returns a type's __module__ and __qualname__ as Python's
// type_module and type_qualname compute them.
func (r *objReader) typeNames(tp core.Address) (module, qualname string, err error) {
	ti := r.typeOf(tp)
	if ti.err != nil {
		return "", "", ti.err
	}
	if !ti.heap {
		if i := strings.LastIndexByte(ti.name, '.'); i >= 0 {
			return ti.name[:i], ti.name[i+1:], nil
		}
		return "builtins", ti.name, nil
	}
	qualname = ti.name
	if r.l.HeapType.Qualname >= 0 {
		if q, err := r.ptr(tp.Add(r.l.HeapType.Qualname)); err == nil && q != 0 {
			if cps, _, err := r.strCodepoints(q, 1024); err == nil {
				qualname = codepointsToString(cps)
			}
		}
	}
	if r.l.Type.Dict < 0 {
		return "", qualname, nil // unknown: the caller shows tp_name
	}
	dict, err := r.ptr(tp.Add(r.l.Type.Dict))
	if err != nil || dict == 0 {
		return "builtins", qualname, nil
	}
	if m, ok, _ := r.dictGetStr(dict, "__module__"); ok {
		if cps, _, err := r.strCodepoints(m, 1024); err == nil {
			module = codepointsToString(cps)
		}
	}
	return module, qualname, nil
}

func (r *objReader) isNone(a core.Address) bool {
	i, ok := r.l.singletons[a]
	if ok {
		return singletonSymbols[i].kind == kindNone
	}
	tp, err := r.ptr(a.Add(r.l.Object.Type))
	return err == nil && r.typeOf(tp).kind == kindNone
}

func (r *objReader) isTrue(a core.Address) bool {
	if i, ok := r.l.singletons[a]; ok {
		return singletonSymbols[i].repr == "True"
	}
	v, err := r.intValue(a)
	return err == nil && v.Sign() != 0
}

// refineKind recognizes, in a type read as a plain object, the types of this
// file that have no symbol (or inherit from one that has none), struct
// sequences and threading.Thread classes.
func (r *objReader) refineKind(tp core.Address, ti *typeInfo) {
	if ti.err != nil || ti.kind != kindObject {
		return
	}
	l := r.l
	if k, ok := valueKindByName(ti.name, ti.heap); ok {
		ti.kind, ti.exact = k, true
		return
	}
	myRepr, _ := r.ptr(tp.Add(l.Type.Repr))
	cur := tp
	for i := 0; i < maxTypeChain && l.Type.Base >= 0; i++ {
		b, err := r.ptr(cur.Add(l.Type.Base))
		if err != nil || b == 0 {
			break
		}
		bf, err := r.p.R.Uint64(b.Add(l.Type.Flags))
		if err != nil {
			break
		}
		if np, err := r.ptr(b.Add(l.Type.Name)); err == nil && np != 0 {
			if name, _, err := r.p.R.CString(np, 256); err == nil {
				if k, ok := valueKindByName(string(name), bf&tpflagsHeapType != 0); ok {
					if br, err := r.ptr(b.Add(l.Type.Repr)); err == nil && br == myRepr {
						ti.kind = k
					}
					return
				}
			}
		}
		cur = b
	}
	if ti.flags&tpflagsTupleSubclass != 0 && r.isStructSeqType(tp) {
		ti.kind = kindStructSeq
		return
	}
	if ti.heap && r.isThreadClass(tp) {
		ti.kind = kindThread
	}
}

// isStructSeqType says whether tp is a struct sequence type: a tuple
// subclass whose members are the read-only object fields ob_item[0], [1], ...
// PyStructSequence_InitType makes (3.12+ static types keep their dict,
// where n_fields is, per interpreter, so the members are what is left).
func (r *objReader) isStructSeqType(tp core.Address) bool {
	l := r.l
	if l.Type.Members < 0 {
		return false
	}
	m, err := r.ptr(tp.Add(l.Type.Members))
	if err != nil || m == 0 {
		return false
	}
	for i := int64(0); i < 2; i++ {
		def := m.Add(i * l.MemberDef.Size)
		name, err1 := r.ptr(def)
		typ, err2 := r.p.R.Uint32(def.Add(l.Ptr))
		offset, err3 := r.i64(def.Add(2 * l.Ptr))
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
func (r *objReader) isThreadClass(tp core.Address) bool {
	l := r.l
	cur := tp
	for i := 0; i < maxTypeChain && cur != 0; i++ {
		flags, err := r.p.R.Uint64(cur.Add(l.Type.Flags))
		if err != nil || flags&tpflagsHeapType == 0 {
			return false
		}
		if l.Type.Dict < 0 || l.HeapType.Qualname < 0 {
			return false
		}
		// Not r.typeNames: that asks typeOf, which for tp is being computed.
		d, err := r.ptr(cur.Add(l.Type.Dict))
		if err != nil || d == 0 {
			return false
		}
		if q, err := r.strAt(cur.Add(l.HeapType.Qualname), 64); err == nil && q == "Thread" {
			if m, ok, _ := r.dictGetStr(d, "__module__"); ok {
				if cps, _, err := r.strCodepoints(m, 64); err == nil && string(cps) == "threading" {
					return true
				}
			}
		}
		if _, ok, _ := r.dictGetStr(d, "__repr__"); ok {
			return false
		}
		if l.Type.Base < 0 {
			return false
		}
		if cur, err = r.ptr(cur.Add(l.Type.Base)); err != nil {
			return false
		}
	}
	return false
}

// cstringAt reads the C string a pointer at field points to.
func (r *objReader) cstringAt(field core.Address, what string) (string, error) {
	p, err := r.ptr(field)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if p == 0 {
		return "", fmt.Errorf("%s: NULL", what)
	}
	p, err = r.ptr(p) // the name is the first member of PyMethodDef and wrapperbase
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
func (r *objReader) typeNameOf(obj core.Address) string {
	tp, err := r.ptr(obj.Add(r.l.Object.Type))
	if err != nil {
		return "?"
	}
	ti := r.typeOf(tp)
	if ti.err != nil {
		return "?"
	}
	return ti.name
}

// cfunctionQualname is meth_get__qualname__: the name alone for functions
// of a module (or of nothing), else the qualname of the type they belong
// to (m_self, or its type) and the name.
func (r *objReader) cfunctionQualname(fn core.Address, name string) string {
	self, err := r.ptr(fn.Add(r.l.CFunction.Self))
	if err != nil || self == 0 {
		return name
	}
	tp, err := r.ptr(self.Add(r.l.Object.Type))
	if err != nil {
		return name
	}
	switch r.typeOf(tp).kind {
	case kindModule:
		return name
	case kindType:
		tp = self
	}
	if _, q, err := r.typeNames(tp); err == nil && q != "" {
		return q + "." + name
	}
	return name
}
