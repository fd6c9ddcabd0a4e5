package cpython

// The heap walker finds the live Python objects of a process the way the
// interpreter keeps them: every GC-tracked container sits on one of the GC's
// doubly linked lists (the generations and the permanent generation, or
// 3.14's young/old lists), and the objects that are not containers (str,
// int, float, bytes, untracked tuples and dicts) are found through the
// references of the containers. It counts by type and sizes each object as
// sys.getsizeof would.
//
// Not yet: obmalloc's arenas (objects no container refers to, such as a str
// held only by a C local or a 3.11+ frame's locals, are missed), and
// free-threaded builds, whose GC keeps no lists but walks mimalloc's heaps.

import (
	"errors"
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"
	"sort"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// Heap walk bounds: a damaged core must not make the walk hang or grow
// without limit.
const (
	maxHeapObjects  = 1 << 26 // objects found in all
	maxGCScanBytes  = 4096    // bytes of the GC state searched for list heads
	maxRefsPerObj   = 1 << 20 // references followed out of one container
	tpflagsHaveGC   = 1 << 14
	tpflagsReady    = 1 << 12
	tpflagsManagedW = 1 << 3 // 3.12+: Py_TPFLAGS_MANAGED_WEAKREF
)

// HeapType is the count and total size of the live objects of one type.
type HeapType struct {
	Type  string
	Count int64
	Bytes int64
	addr  core.Address
}

// HeapObject is one object found.
type HeapObject struct {
	Address core.Address
	Type    core.Address
	Size    int64
}

// HeapStats is what a heap walk found.
type HeapStats struct {
	Types   []HeapType // by bytes, largest first
	Objects int64
	Bytes   int64
	// GCLists is how many GC list heads were walked, GCObjects the objects on
	// them; Referenced the objects found only through references.
	GCLists    int
	GCObjects  int64
	Referenced int64
	// Skipped counts GC list entries that were not objects and broken list
	// links; Unreadable the containers whose references could not be read.
	Skipped    int64
	Unreadable int64
	Method     string
	Notes      []string
}

// heapWalker holds one walk's state.
type heapWalker struct {
	p       *Process
	r       *pyobj.Reader
	gcHdr   int64
	seen    map[core.Address]core.Address // object -> its type
	queue   []core.Address
	types   map[core.Address]bool // validated type objects
	notType map[core.Address]bool
	stats   *HeapStats
	visit   func(HeapObject)
	sizeErr int64
	// typeType is &PyType_Type when the symbols give it.
	typeType core.Address
	// For describing references: module __dict__s, and the offset of
	// tp_members (0 until looked up, -1 when unknown).
	modDicts  map[core.Address]bool
	tpMembers int64
}

// WalkHeap finds every live object it can and calls visit (if not nil) for
// each; it returns the counts by type.
func (p *Process) WalkHeap(visit func(HeapObject)) (*HeapStats, error) {
	w, err := p.findObjects()
	if err != nil {
		return nil, err
	}
	w.visit = visit
	return w.tally(), nil
}

// findObjects runs the walk: the GC lists, then the references of every
// object found, until no new object turns up.
func (p *Process) findObjects() (*heapWalker, error) {
	if p.FreeThreaded {
		return nil, errors.New("heap: free-threaded builds keep no GC lists (their GC walks mimalloc's heaps), which pycore does not read yet")
	}
	rd, err := p.reader()
	if err != nil {
		return nil, fmt.Errorf("heap: %w", err)
	}
	w := &heapWalker{p: p, r: rd,
		seen: map[core.Address]core.Address{}, types: map[core.Address]bool{}, notType: map[core.Address]bool{},
		stats: &HeapStats{}}
	w.gcHdr = p.gcHeaderSize()
	for a, k := range rd.L.Types {
		if k == pyobj.KindType {
			w.typeType = a
		}
	}
	heads, err := p.gcListHeads()
	if err != nil {
		return nil, fmt.Errorf("heap: %w", err)
	}
	w.stats.GCLists = len(heads)
	for _, h := range heads {
		w.walkList(h)
	}
	w.stats.Method = fmt.Sprintf("%d GC list(s), then the references of the objects found", len(heads))
	// Breadth first through references: objects that are not on a GC list
	// (strs, ints, untracked tuples) are found from their containers.
	for len(w.queue) > 0 {
		a := w.queue[len(w.queue)-1]
		w.queue = w.queue[:len(w.queue)-1]
		w.referents(a, func(ref core.Address, _ refHow) {
			if w.add(ref) {
				w.stats.Referenced++
			}
		})
	}
	return w, nil
}

// tally counts the objects found by type, calling w.visit for each.
func (w *heapWalker) tally() *HeapStats {
	p, visit := w.p, w.visit
	byType := map[core.Address]*HeapType{}
	for a, tp := range w.seen {
		ht := byType[tp]
		if ht == nil {
			ht = &HeapType{addr: tp}
			byType[tp] = ht
		}
		size := w.sizeof(a, tp)
		ht.Count++
		ht.Bytes += size
		w.stats.Objects++
		w.stats.Bytes += size
		if visit != nil {
			visit(HeapObject{Address: a, Type: tp, Size: size})
		}
	}
	for _, ht := range byType {
		ht.Type = p.heapTypeName(w.r, ht.addr)
		w.stats.Types = append(w.stats.Types, *ht)
	}
	sort.Slice(w.stats.Types, func(i, j int) bool {
		a, b := w.stats.Types[i], w.stats.Types[j]
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		return a.Type < b.Type
	})
	if w.stats.Skipped > 0 {
		w.stats.Notes = append(w.stats.Notes, fmt.Sprintf("%d GC list entries were not objects or had broken links; skipped", w.stats.Skipped))
	}
	if w.stats.Unreadable > 0 {
		w.stats.Notes = append(w.stats.Notes, fmt.Sprintf("%d container(s) whose references could not be read (objects only they refer to may be missing)", w.stats.Unreadable))
	}
	if len(w.seen) >= maxHeapObjects {
		w.stats.Notes = append(w.stats.Notes, fmt.Sprintf("stopped at %d objects", maxHeapObjects))
	}
	if w.sizeErr > 0 {
		w.stats.Notes = append(w.stats.Notes, fmt.Sprintf("%d object(s) sized by their type's basic size only (fields unreadable)", w.sizeErr))
	}
	w.stats.Notes = append(w.stats.Notes, "objects referenced only from C or from 3.11+ frames' locals are not counted (obmalloc arenas are not walked yet)")
	return w.stats
}

// gcHeaderSize is sizeof(PyGC_Head): two words from 3.8, a union with a long
// double (32 bytes on x86-64) before.
func (p *Process) gcHeaderSize() int64 {
	if t, err := p.Types.Struct("PyGC_Head"); err == nil && t.Resolve() != nil && t.Resolve().Size > 0 {
		return t.Resolve().Size
	}
	return p.flavor.GCHeadWords * int64(p.R.PtrSize)
}

// gcState returns where the GC's state struct starts and how many bytes of it
// to search: _PyRuntime.gc in 3.7/3.8, the main interpreter's gc from 3.9.
func (p *Process) gcState() (core.Address, int64, error) {
	size := int64(maxGCScanBytes)
	if t, err := p.Types.Struct("struct _gc_runtime_state"); err == nil && t.Resolve() != nil && t.Resolve().Size > 0 && t.Resolve().Size < size {
		size = t.Resolve().Size
	}
	if p.flavor.GC == abi.GCStatic {
		// 3.6: static generations[]; _PyGC_generation0 points to its first head.
		sym, ok := p.lookup("_PyGC_generation0")
		if !ok {
			return 0, 0, errors.New("3.6: no _PyGC_generation0 symbol")
		}
		g0, err := p.R.Ptr(sym.Addr)
		if err != nil {
			return 0, 0, fmt.Errorf("_PyGC_generation0: %w", err)
		}
		return g0, 3 * 48, nil
	}
	if p.flavor.GC == abi.GCInRuntime {
		off := p.offsetIn("_PyRuntimeState", "gc")
		if off < 0 {
			return 0, 0, errors.New("the layout of _PyRuntimeState has no gc member")
		}
		return p.RuntimeAddr.Add(off), size, nil
	}
	interp, err := p.Runtime.Path("interpreters.head")
	if err != nil {
		return 0, 0, err
	}
	ia, err := interp.Ptr()
	if err != nil {
		return 0, 0, fmt.Errorf("main interpreter: %w", err)
	}
	// The interpreter's own table first (3.13+): it is what this build has.
	off := int64(-1)
	if d := p.DebugOffsets; d != nil {
		if v, ok := d.Fields["interpreter_state.gc"]; ok && v < abi.MaxStructSize {
			off = int64(v)
		}
	}
	if off < 0 {
		off = p.offsetIn("PyInterpreterState", "gc")
	}
	if off < 0 {
		return 0, 0, errors.New("the layout of PyInterpreterState has no gc member")
	}
	return ia.Add(off), size, nil
}

// gcListHeads finds the list heads in the GC state: words whose next and
// prev links point to nodes linking back to them. This holds for the
// generations of 3.6-3.13, 3.14's young/old lists and the permanent
// generation alike, so no per-version offsets of those members are needed.
func (p *Process) gcListHeads() ([]core.Address, error) {
	base, size, err := p.gcState()
	if err != nil {
		return nil, fmt.Errorf("GC state: %w", err)
	}
	ptr := int64(p.R.PtrSize)
	buf := make([]byte, size)
	if err := p.R.Read(buf, base); err != nil {
		return nil, fmt.Errorf("GC state at %#x: %w", uint64(base), err)
	}
	word := func(b []byte) core.Address {
		var u uint64
		for i := int(ptr) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		return core.Address(u &^ 3)
	}
	var heads []core.Address
	// Step 4: Debian's 3.13 puts the generations at a 4-byte boundary.
	for o := int64(0); o+2*ptr <= size; o += 4 {
		h := base.Add(o)
		next, prev := word(buf[o:]), word(buf[o+ptr:])
		if next == 0 || prev == 0 {
			continue
		}
		if next == h && prev == h {
			heads = append(heads, h) // an empty list
			o += 2*ptr - 4
			continue
		}
		np, err1 := p.R.Ptr(next.Add(ptr))
		pn, err2 := p.R.Ptr(prev)
		if err1 != nil || err2 != nil || core.Address(uint64(np)&^3) != h || core.Address(uint64(pn)&^3) != h {
			continue
		}
		heads = append(heads, h)
		o += 2*ptr - 4
	}
	if len(heads) == 0 {
		return nil, fmt.Errorf("no GC list heads in the GC state at %#x", uint64(base))
	}
	return heads, nil
}

// walkList adds every object on the list at head; it stops at a broken link.
func (w *heapWalker) walkList(head core.Address) {
	p := w.p
	ptr := int64(p.R.PtrSize)
	prev := head
	node, err := p.R.Ptr(head)
	for n := 0; err == nil && n < maxHeapObjects; n++ {
		node = core.Address(uint64(node) &^ 3)
		if node == head {
			return
		}
		back, err2 := p.R.Ptr(node.Add(ptr))
		if err2 != nil || core.Address(uint64(back)&^3) != prev {
			w.stats.Skipped++
			w.stats.Notes = append(w.stats.Notes, fmt.Sprintf("GC list at %#x: the link at %#x does not point back; rest of the list skipped", uint64(head), uint64(node)))
			return
		}
		obj := node.Add(w.gcHdr)
		if w.add(obj) {
			w.stats.GCObjects++
		} else if _, dup := w.seen[obj]; !dup {
			w.stats.Skipped++ // on a GC list but not an object with a valid type
		}
		prev = node
		node, err = p.R.Ptr(node)
	}
	if err != nil {
		w.stats.Skipped++
		w.stats.Notes = append(w.stats.Notes, fmt.Sprintf("GC list at %#x: %v; rest of the list skipped", uint64(head), err))
	}
}

// isType says whether tp is a type object: its own type is type or a
// subclass of type (a metaclass).
func (w *heapWalker) isType(tp core.Address) bool {
	if tp == 0 || tp%uint64Align(w.p) != 0 {
		return false
	}
	if w.types[tp] {
		return true
	}
	if w.notType[tp] {
		return false
	}
	ok := w.typeShaped(tp)
	if ok {
		w.types[tp] = true
	} else if len(w.notType) < 1<<16 {
		w.notType[tp] = true
	}
	return ok
}

// typeShaped checks what every type object has: a ready type whose own type
// is type (or a metaclass, itself a type of type), sane sizes and a name.
func (w *heapWalker) typeShaped(tp core.Address) bool {
	r, l := w.r, w.r.L
	meta, err := r.Ptr(tp.Add(l.Object.Type))
	if err != nil || meta == 0 {
		return false
	}
	if w.typeType != 0 && meta != w.typeType {
		mm, err := r.Ptr(meta.Add(l.Object.Type))
		if err != nil || mm != w.typeType {
			return false
		}
	}
	mf, err := w.p.R.Uint64(meta.Add(l.Type.Flags))
	if err != nil || mf&pyobj.TPFlagsTypeSubclass == 0 {
		return false
	}
	f, err := w.p.R.Uint64(tp.Add(l.Type.Flags))
	if err != nil || f&tpflagsReady == 0 {
		return false
	}
	basic, err1 := r.I64(tp.Add(l.Type.Basicsize))
	item, err2 := r.I64(tp.Add(l.Type.Itemsize))
	if err1 != nil || err2 != nil || basic < l.Header || basic > 1<<20 || item < 0 || item > 1<<16 {
		return false
	}
	np, err := r.Ptr(tp.Add(l.Type.Name))
	if err != nil || np == 0 {
		return false
	}
	name, _, err := w.p.R.CString(np, 256)
	if err != nil || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return r.TypeOf(tp).Err == nil
}

func uint64Align(p *Process) core.Address { return core.Address(p.R.PtrSize) }

// add records the object at a if it has a valid type and is new.
func (w *heapWalker) add(a core.Address) bool {
	if a == 0 || a%uint64Align(w.p) != 0 {
		return false
	}
	if _, ok := w.seen[a]; ok {
		return false
	}
	if len(w.seen) >= maxHeapObjects {
		return false
	}
	tp, err := w.r.Ptr(a.Add(w.r.L.Object.Type))
	if err != nil || !w.isType(tp) {
		// Words of a container's body that are not objects are expected;
		// only what the GC lists hold must be objects (counted by walkList).
		return false
	}
	w.seen[a] = tp
	w.queue = append(w.queue, a)
	return true
}
