package cpython

import (
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// refKind says how a container refers to an object.
type refKind uint8

const (
	refIndex   refKind = iota // list or tuple item index
	refDictKey                // a dict's key
	refDictVal                // the value under key
	refMember                 // a set's member
	refAttr                   // an instance attribute named key
	refField                  // the pointer field at byte offset index
	refVarItem                // item index of a variable-size object's tail
)

// refHow is one reference's kind and where it sits; it is turned into words
// only for the references that are printed.
type refHow struct {
	kind  refKind
	index int64
	key   core.Address
}

// referents calls f with each object the container at a refers to, bounded.
// Built-in containers are read by their layout; other GC objects (functions,
// code, cells, modules, instances with __slots__, frames) by the pointer
// words of their body, each checked to be an object by its type pointer.
func (w *heapWalker) referents(a core.Address, f func(core.Address, refHow)) {
	r, l := w.r, w.r.L
	tp := w.seen[a]
	ti := r.TypeOf(tp)
	if ti.Err != nil || ti.Flags&tpflagsHaveGC == 0 {
		return
	}
	ptr := l.Ptr
	words := func(from core.Address, n int64, kind refKind, step int64) {
		if n <= 0 {
			return
		}
		if n > maxRefsPerObj {
			n = maxRefsPerObj
			w.stats.Unreadable++
		}
		buf := make([]byte, n*ptr)
		if err := w.p.R.Read(buf, from); err != nil {
			w.stats.Unreadable++
			return
		}
		for i := int64(0); i < n; i++ {
			if v := core.Address(r.Word(buf[i*ptr:])); v != 0 && v != a {
				f(v, refHow{kind: kind, index: i * step})
			}
		}
	}
	switch {
	case ti.Flags&pyobj.TPFlagsListSubclass != 0:
		items, err1 := r.Ptr(a.Add(l.List.Items))
		n, err2 := r.I64(a.Add(l.Object.Size))
		if err1 == nil && err2 == nil && items != 0 {
			words(items, n, refIndex, 1)
		}
	case ti.Flags&pyobj.TPFlagsTupleSubclass != 0:
		if n, err := r.I64(a.Add(l.Object.Size)); err == nil {
			words(a.Add(l.Tuple.Items), n, refIndex, 1)
		}
	case ti.Flags&pyobj.TPFlagsDictSubclass != 0:
		items, _, err := r.DictItems(a, maxRefsPerObj)
		if err != nil {
			w.stats.Unreadable++
		}
		for _, it := range items {
			f(it.Key, refHow{kind: refDictKey})
			f(it.Value, refHow{kind: refDictVal, key: it.Key})
		}
	case ti.Kind == pyobj.KindSet || ti.Kind == pyobj.KindFrozenSet:
		mask, err1 := r.I64(a.Add(l.Set.Mask))
		table, err2 := r.Ptr(a.Add(l.Set.Table))
		if err1 != nil || err2 != nil || mask < 0 || mask >= maxRefsPerObj {
			w.stats.Unreadable++
			return
		}
		buf := make([]byte, (mask+1)*2*ptr)
		if err := w.p.R.Read(buf, table); err != nil {
			w.stats.Unreadable++
			return
		}
		for i := int64(0); i <= mask; i++ {
			key := core.Address(r.Word(buf[i*2*ptr:]))
			hash := int64(r.Word(buf[i*2*ptr+ptr:]))
			if key != 0 && hash != pyobj.PySetDummyHash {
				f(key, refHow{kind: refMember})
			}
		}
	default:
		basic, err := r.I64(tp.Add(l.Type.Basicsize))
		if err != nil || basic < l.Header || basic > 1<<16 {
			return
		}
		// Field offsets are counted from the object's start. A class
		// without __slots__ may have no fields at all (3.11+ keeps its
		// attributes before or after the object): its attributes follow.
		words(a.Add(l.Header), (basic-l.Header)/ptr, refField, ptr)
		if item, err := r.I64(tp.Add(l.Type.Itemsize)); err == nil && item == ptr {
			// Only where ob_size is plausibly an item count (frames and
			// match objects keep other things there).
			if n, err := r.I64(a.Add(l.Object.Size)); err == nil && n > 0 && n <= 1<<12 {
				words(a.Add(basic), n, refVarItem, 1)
			}
		}
		// Before 3.11 the __dict__ is a field, followed above, as
		// gc.get_referrers sees it.
		if ti.Heap && ti.Kind == pyobj.KindObject && w.p.flavor.ManagedDict {
			if items, err := r.InstanceItems(a); err == nil {
				for _, it := range items {
					f(it.Value, refHow{kind: refAttr, key: it.Key})
				}
			}
		}
	}
}

// sizeof is sys.getsizeof of the object at a: its type's __sizeof__ for the
// built-ins that override it, else tp_basicsize + |ob_size| * tp_itemsize,
// plus the pre-header (GC header; 3.12+ also the managed dict and weakref
// words) that getsizeof adds.
func (w *heapWalker) sizeof(a, tp core.Address) int64 {
	r, l := w.r, w.r.L
	ti := r.TypeOf(tp)
	basic, err := r.I64(tp.Add(l.Type.Basicsize))
	if err != nil || basic < 0 || basic > 1<<30 {
		w.sizeErr++
		return 0
	}
	item, _ := r.I64(tp.Add(l.Type.Itemsize))
	size := basic
	ptr := l.Ptr
	switch {
	case ti.Exact && ti.Kind == pyobj.KindInt || ti.Flags&pyobj.TPFlagsLongSubclass != 0 && ti.Kind == pyobj.KindInt:
		n, err := r.I64(a.Add(l.Long.Size))
		if err != nil {
			w.sizeErr++
			break
		}
		if l.Long.Tagged {
			n = int64(uint64(n) >> pyobj.LongNonSizeBits)
			if n < 1 {
				n = 1
			}
		} else if n < 0 {
			n = -n
		}
		size = l.Long.Digits + n*int64(l.Long.DigitBytes)
	case ti.Kind == pyobj.KindStr:
		data, kind, length, err := r.StrData(a)
		if err != nil {
			w.sizeErr++
			break
		}
		if d := int64(data) - int64(a); d > 0 && d <= 128 {
			size = d + (length+1)*int64(kind)
		}
	case ti.Kind == pyobj.KindList:
		// list.__sizeof__: the header plus the allocated item slots.
		if alloc, err := r.I64(a.Add(l.List.Items + ptr)); err == nil && alloc >= 0 && alloc < 1<<40 {
			size = basic + alloc*ptr
		}
	case ti.Kind == pyobj.KindDict:
		size = basic + w.dictExtra(a)
	case ti.Kind == pyobj.KindSet || ti.Kind == pyobj.KindFrozenSet:
		mask, err1 := r.I64(a.Add(l.Set.Mask))
		table, err2 := r.Ptr(a.Add(l.Set.Table))
		// The small table is inline after table (and hash, finalizer): only a
		// separate table adds to the size.
		if err1 == nil && err2 == nil && mask >= 0 && mask < 1<<40 && (table < a || table >= a.Add(basic)) {
			size = basic + (mask+1)*2*ptr
		}
	case item != 0:
		if n, err := r.I64(a.Add(l.Object.Size)); err == nil {
			if n < 0 {
				n = -n
			}
			// Types whose ob_size is not an item count (frames) keep their
			// basic size rather than an absurd one.
			if n < 1<<32 {
				size = basic + n*item
			} else {
				w.sizeErr++
			}
		}
	}
	if ti.Flags&tpflagsHaveGC != 0 {
		size += w.gcHdr
	}
	// 3.11 added the managed dict words before the object (3.12 the weakref
	// flag too); getsizeof counts them.
	switch {
	case w.p.flavor.ManagedWeakref && ti.Flags&(pyobj.TPFlagsManagedDict|tpflagsManagedW) != 0,
		w.p.flavor.ManagedDict && ti.Flags&pyobj.TPFlagsManagedDict != 0:
		size += 2 * ptr
	}
	return size
}

// dictExtra is what dict.__sizeof__ adds to the basic size: the keys table
// when the dict owns it, and the split values (3.11+ layout).
func (w *heapWalker) dictExtra(a core.Address) int64 {
	r, l := w.r, w.r.L
	if l.Dict.Model == abi.DictV36 {
		return w.dictExtra36(a)
	}
	ptr := l.Ptr
	keys, err := r.Ptr(a.Add(l.Dict.Keys))
	if err != nil || keys == 0 {
		return 0
	}
	values, _ := r.Ptr(a.Add(l.Dict.Values))
	log2, err1 := r.U8(keys.Add(l.Dict.KeysLog2Size))
	log2ix, err2 := r.U8(keys.Add(l.Dict.KeysLog2IndexBytes))
	kind, err3 := r.U8(keys.Add(l.Dict.KeysKind))
	refcnt, err4 := r.I64(keys)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || log2 > 40 || log2ix > 43 {
		return 0
	}
	usable := (int64(2) << log2) / 3
	var extra int64
	if values != 0 {
		extra += usable * ptr // shared_keys_usable_size * sizeof(PyObject *)
		if l.Dict.Model == abi.DictV313 {
			extra = 0
			if cap, err := r.U8(values); err == nil {
				extra = l.Dict.ValuesItems + int64(cap)*ptr + int64(cap)
				extra = (extra + ptr - 1) / ptr * ptr
			}
		}
	}
	if refcnt == 1 {
		entry := 3 * ptr
		if kind != pyobj.DictKeysGeneral {
			entry = 2 * ptr
		}
		extra += l.Dict.KeysIndices + int64(1)<<log2ix + usable*entry
	}
	return extra
}

// dictExtra36 is dict.__sizeof__'s addition for 3.6-3.10.
func (w *heapWalker) dictExtra36(a core.Address) int64 {
	r, l := w.r, w.r.L
	ptr := l.Ptr
	keys, err := r.Ptr(a.Add(l.Dict.Keys))
	if err != nil || keys == 0 {
		return 0
	}
	values, _ := r.Ptr(a.Add(l.Dict.Values))
	size, err1 := r.I64(keys.Add(l.Dict.KeysSize))
	refcnt, err2 := r.I64(keys)
	if err1 != nil || err2 != nil || size <= 0 || size > 1<<40 {
		return 0
	}
	usable := size * 2 / 3
	var extra int64
	if values != 0 {
		extra += usable * ptr
	}
	if refcnt == 1 {
		ix := int64(8)
		switch {
		case size <= 0xff:
			ix = 1
		case size <= 0xffff:
			ix = 2
		case size <= 0xffffffff:
			ix = 4
		}
		extra += l.Dict.KeysIndices + ix*size + usable*3*ptr
	}
	return extra
}

// heapTypeName names a type as Python does: module.QualName, built-ins by
// their name.
func (p *Process) heapTypeName(r *pyobj.Reader, tp core.Address) string {
	mod, qual, err := r.TypeNames(tp)
	if err != nil {
		return r.TypeOf(tp).Name
	}
	if mod == "" || mod == "builtins" {
		return qual
	}
	return mod + "." + qual
}

// TypeName is the name of the type object at tp as the heap walk gives it.
func (p *Process) TypeName(tp core.Address) string {
	rd, err := p.reader()
	if err != nil {
		return fmt.Sprintf("<type at %#x>", uint64(tp))
	}
	return p.heapTypeName(rd, tp)
}
