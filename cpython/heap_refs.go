package cpython

// Referrers and reference chains over the objects the heap walk finds. The
// walk's referents (the same ones it uses to find objects) are the edges; a
// reference is described (list index, dict key, attribute, field) only when
// it is printed.

import (
	"errors"
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"
	"sort"

	"github.com/pycore/pycore/core"
)

// maxPathObjects bounds the breadth-first search of PathTo.
const maxPathObjects = maxHeapObjects

// HeapRef is one reference to an object: the object that holds it and how.
type HeapRef struct {
	Address core.Address
	Type    string
	// Via says how Address refers to the next object: "[3]", "['key']",
	// "key", "member", ".attr", "global 'NAME'", "__dict__", "+0x10".
	Via string
}

// Referrers lists the objects the heap walk found that refer to target, each
// with how, in address order; an object referring to it twice is listed twice.
func (p *Process) Referrers(target core.Address) ([]HeapRef, *HeapStats, error) {
	w, err := p.findObjects()
	if err != nil {
		return nil, nil, err
	}
	if _, ok := w.seen[target]; !ok && !w.add(target) {
		return nil, nil, fmt.Errorf("%#x is not a Python object (its type pointer does not point to a type)", uint64(target))
	}
	addrs := make([]core.Address, 0, len(w.seen))
	for a := range w.seen {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	var refs []HeapRef
	for _, a := range addrs {
		w.referents(a, func(ref core.Address, how refHow) {
			if ref == target {
				refs = append(refs, HeapRef{Address: a, Type: w.p.heapTypeName(w.r, w.seen[a]), Via: w.describe(a, how)})
			}
		})
	}
	return refs, w.tally(), nil
}

// PathTo finds a shortest chain of references from a root to target: the
// roots are the modules in sys.modules (the first step says which). The
// chain starts at the module and ends at target, whose Via is empty.
func (p *Process) PathTo(target core.Address) ([]HeapRef, error) {
	w, err := p.findObjects()
	if err != nil {
		return nil, err
	}
	if _, ok := w.seen[target]; !ok && !w.add(target) {
		return nil, fmt.Errorf("%#x is not a Python object (its type pointer does not point to a type)", uint64(target))
	}
	roots, err := w.moduleRoots()
	if err != nil {
		return nil, err
	}
	type edge struct {
		from core.Address
		how  refHow
	}
	parent := map[core.Address]edge{}
	rootName := map[core.Address]string{}
	var queue []core.Address
	for _, rt := range roots {
		if _, dup := rootName[rt.mod]; dup {
			continue
		}
		rootName[rt.mod] = rt.name
		queue = append(queue, rt.mod)
	}
	found := false
	if _, ok := rootName[target]; ok {
		found = true
	}
	for i := 0; i < len(queue) && !found && len(rootName)+len(parent) < maxPathObjects; i++ {
		a := queue[i]
		if _, ok := w.seen[a]; !ok && !w.add(a) {
			continue
		}
		w.referents(a, func(ref core.Address, how refHow) {
			if found {
				return
			}
			if _, ok := parent[ref]; ok {
				return
			}
			if _, ok := rootName[ref]; ok {
				return
			}
			if _, ok := w.seen[ref]; !ok {
				return // not an object
			}
			parent[ref] = edge{a, how}
			if ref == target {
				found = true
				return
			}
			queue = append(queue, ref)
		})
	}
	if !found {
		return nil, fmt.Errorf("no chain of references from a module in sys.modules to %#x (it may be kept alive by a thread's frame, C code or a cycle only)", uint64(target))
	}
	var rev []HeapRef
	via := ""
	for a := target; ; {
		rev = append(rev, HeapRef{Address: a, Type: p.heapTypeName(w.r, w.seen[a]), Via: via})
		if name, ok := rootName[a]; ok {
			rev = append(rev, HeapRef{Type: "sys.modules", Via: fmt.Sprintf("[%q]", name)})
			break
		}
		e := parent[a]
		via = w.describe(e.from, e.how)
		a = e.from
		if len(rev) > maxPathObjects {
			return nil, errors.New("path: the chain of parents loops")
		}
	}
	path := make([]HeapRef, len(rev))
	for i := range rev {
		path[i] = rev[len(rev)-1-i]
	}
	return path, nil
}

type moduleRoot struct {
	name string
	mod  core.Address
}

// moduleRoots lists the modules of the main interpreter's sys.modules,
// __main__ first so that a chain through it wins a tie.
func (w *heapWalker) moduleRoots() ([]moduleRoot, error) {
	interp, err := w.p.Runtime.Path("interpreters.head")
	if err != nil {
		return nil, fmt.Errorf("path: the main interpreter: %w", err)
	}
	var mods uint64
	for _, path := range []string{"imports.modules", "modules"} {
		if v, err2 := interp.Path(path); err2 == nil {
			mods, err = rawWord(v)
			break
		} else {
			err = err2
		}
	}
	if err != nil || mods == 0 {
		return nil, fmt.Errorf("path: sys.modules is not readable (%v)", err)
	}
	items, _, err := w.r.DictItems(core.Address(mods), maxRefsPerObj)
	if err != nil {
		return nil, fmt.Errorf("path: sys.modules: %w", err)
	}
	var roots []moduleRoot
	for _, it := range items {
		name, ok := w.strValue(it.Key)
		if !ok || it.Value == 0 {
			continue
		}
		roots = append(roots, moduleRoot{name, it.Value})
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].name == "__main__" && roots[j].name != "__main__" })
	return roots, nil
}

// strValue is the str object at a as a Go string, if it is a short str.
func (w *heapWalker) strValue(a core.Address) (string, bool) {
	tp, err := w.r.Ptr(a.Add(w.r.L.Object.Type))
	if err != nil || !w.isType(tp) || w.r.TypeOf(tp).Kind != pyobj.KindStr {
		return "", false
	}
	cps, _, err := w.r.StrCodepoints(a, 256)
	if err != nil {
		return "", false
	}
	return pyobj.CodepointsToString(cps), true
}

// describe says in words how the object at from refers through how.
func (w *heapWalker) describe(from core.Address, how refHow) string {
	r, l := w.r, w.r.L
	switch how.kind {
	case refIndex:
		return fmt.Sprintf("[%d]", how.index)
	case refDictKey:
		return "key"
	case refMember:
		return "member"
	case refVarItem:
		return fmt.Sprintf("item %d", how.index)
	case refAttr:
		if s, ok := w.strValue(how.key); ok {
			return "." + s
		}
		return "attribute"
	case refDictVal:
		if w.isModuleDict(from) {
			if s, ok := w.strValue(how.key); ok {
				return fmt.Sprintf("global %q", s)
			}
		}
		return "[" + w.keyRepr(how.key) + "]"
	case refField:
		off := l.Header + how.index
		tp := w.seen[from]
		ti := r.TypeOf(tp)
		if ti.Kind == pyobj.KindModule && off == l.Module.Dict {
			return "__dict__"
		}
		if ti.Heap && off == w.dictOffset(tp) {
			return "__dict__"
		}
		if name := w.memberName(tp, off); name != "" {
			if ti.Heap {
				return "." + name
			}
			return name
		}
		return fmt.Sprintf("+%#x", off)
	}
	return "?"
}

// keyRepr is a bounded repr of a dict key.
func (w *heapWalker) keyRepr(key core.Address) string {
	o := w.p.Object(key, ReprOptions{MaxString: 60, MaxLength: 4, MaxDepth: 1, MaxTotal: 120})
	return o.Repr
}

// isModuleDict says whether the dict at d is the __dict__ of a module the
// walk found.
func (w *heapWalker) isModuleDict(d core.Address) bool {
	if w.modDicts == nil {
		w.modDicts = map[core.Address]bool{}
		for a, tp := range w.seen {
			if w.r.TypeOf(tp).Kind == pyobj.KindModule {
				if md, err := w.r.Ptr(a.Add(w.r.L.Module.Dict)); err == nil && md != 0 {
					w.modDicts[md] = true
				}
			}
		}
	}
	return w.modDicts[d]
}

// memberName is the name of the tp_members entry (a __slots__ slot or a C
// type's member) at byte offset off of the type at tp, or "".
func (w *heapWalker) memberName(tp core.Address, off int64) string {
	if w.tpMembers == 0 {
		w.tpMembers = w.p.offsetIn("PyTypeObject", "tp_members")
	}
	if w.tpMembers < 0 || w.r.L.Ptr != 8 {
		return ""
	}
	// Walk the MRO's bases through tp_base, bounded: slots of a base class
	// are members of the base.
	for depth := 0; tp != 0 && depth < 32; depth++ {
		members, err := w.r.Ptr(tp.Add(w.tpMembers))
		if err == nil && members != 0 {
			// PyMemberDef on 64-bit: name, int type, offset, int flags, doc.
			const size = 40
			buf := make([]byte, size)
			for i := 0; i < 256; i++ {
				if err := w.p.R.Read(buf, members.Add(int64(i*size))); err != nil {
					break
				}
				np := core.Address(w.r.Word(buf))
				if np == 0 {
					break
				}
				if int64(w.r.Word(buf[16:])) == off {
					if name, _, err := w.p.R.CString(np, 128); err == nil {
						return string(name)
					}
				}
			}
		}
		if w.r.L.Type.Base < 0 {
			break
		}
		next, err := w.r.Ptr(tp.Add(w.r.L.Type.Base))
		if err != nil || next == tp {
			break
		}
		tp = next
	}
	return ""
}

// dictOffset is the tp_dictoffset of the type at tp (where its instances
// keep a __dict__ pointer before 3.11), or -1.
func (w *heapWalker) dictOffset(tp core.Address) int64 {
	if w.r.L.Type.Dictoffset < 0 {
		return -1
	}
	v, err := w.r.I64(tp.Add(w.r.L.Type.Dictoffset))
	if err != nil || v <= 0 {
		return -1
	}
	return v
}
