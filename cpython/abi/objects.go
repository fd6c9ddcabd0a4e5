package abi

import "strings"

// The offsets the object reader and the renderer read, grouped per CPython
// struct. As in detail.go, each comes from the type source where it
// describes the member, else from a rule written next to it (Objects.From
// names the rule of each derived offset).

// DictModel is how dicts keep their keys and values.
type DictModel int

const (
	DictV36  DictModel = iota // 3.6-3.10: dk_size; split values are a PyObject* array
	DictV311                  // 3.11-3.12: dk_log2_size, dk_kind; values with an order prefix before them
	DictV313                  // 3.13+: values behind a {capacity, size, embedded, valid} header, order after them
)

// InstModel is where instances of heap types keep their attributes.
type InstModel int

const (
	InstDictOffset InstModel = iota // <= 3.10: a dict at tp_dictoffset
	InstValues311                   // 3.11: values at -4 words, else the dict at -3 words
	InstDorv312                     // 3.12: -3 words holds the dict, or the values tagged with bit 0
	InstInline313                   // 3.13+: values inline at tp_basicsize, else the managed dict
)

// ObjectOffsets: PyObject and PyVarObject.
type ObjectOffsets struct{ Type, Size int64 }

// TypeOffsets: PyTypeObject. Counted says the source's tp_repr and
// tp_flags are where counting from tp_name puts them, so fields it lacks
// could be counted too.
type TypeOffsets struct {
	Name, Basicsize, Itemsize, Repr, Flags int64
	Base, Dict, Dictoffset, Members        int64
	Counted                                bool
}

// HeapTypeOffsets: PyHeapTypeObject; -1 when unknown.
type HeapTypeOffsets struct{ Qualname, CachedKeys int64 }

// LongOffsets: PyLongObject. Tagged: 3.12+'s lv_tag instead of a signed ob_size.
type LongOffsets struct {
	Tagged                bool
	Size, Digits          int64
	DigitBits, DigitBytes int
}

// DictOffsets: PyDictObject, its keys (PyDictKeysObject: dk_size before
// 3.11, dk_log2_size after) and 3.13+'s values (PyDictValues).
type DictOffsets struct {
	Model                                  DictModel
	Used, Keys, Values                     int64
	KeysSize, KeysLog2Size                 int64
	KeysLog2IndexBytes, KeysKind           int64
	KeysNentries, KeysIndices, ValuesItems int64
}

// InstanceOffsets: where attributes of instances of heap types are.
// ManagedDict is the offset of the managed dict pointer from the object
// (negative).
type InstanceOffsets struct {
	Model       InstModel
	ManagedDict int64
}

// Objects is every offset the object reader and renderer read; -1 marks
// what is unknown.
type Objects struct {
	Ptr, Header int64 // pointer size, sizeof(PyObject)
	Object      ObjectOffsets
	Type        TypeOffsets
	HeapType    HeapTypeOffsets
	Long        LongOffsets
	Float       struct{ Value int64 } // ob_fval
	Complex     struct{ Value int64 } // cval
	Tuple       struct{ Items int64 }
	List        struct{ Items int64 }
	Dict        DictOffsets
	Set         struct{ Mask, Table int64 }
	Function    struct{ Qualname int64 }
	Module      struct{ Dict int64 }
	Exception   struct{ Args int64 }
	ExcGroup    struct{ Msg, Excs int64 } // PyBaseExceptionGroupObject (3.11+)
	Code        struct{ Name, File, FirstLine int64 }
	Instance    InstanceOffsets

	CFunction    struct{ ML, Self int64 }    // PyCFunctionObject {HEAD; m_ml; m_self; m_module; ...}
	MethodWrap   struct{ Descr, Self int64 } // wrapperobject {HEAD; descr; self}
	WrapperDescr struct{ Base int64 }        // PyDescr_COMMON {d_type, d_name, d_qualname}, then d_base
	Method       struct{ Func, Self int64 }  // PyMethodObject {HEAD; im_func; im_self; ...}
	Cell         struct{ Ref int64 }         // PyCellObject {HEAD; ob_ref}
	Gen          struct{ Qualname int64 }
	Callable     struct{ Callable int64 } // staticmethod / classmethod {HEAD; callable; dict}
	Range        struct{ Start int64 }    // {HEAD; start; stop; step}
	Slice        struct{ Start int64 }
	MemoryView   struct{ Flags int64 }        // PyMemoryViewObject {VAR_HEAD; mbuf; hash; int flags; ...}
	Namespace    struct{ Dict int64 }         // _PyNamespaceObject {HEAD; ns_dict}
	Partial      struct{ Fn, Args, Kw int64 } // partialobject {HEAD; fn; args; kw; ...}
	MemberDef    struct{ Size int64 }
	Frame        struct{ Frame, Lineno int64 } // 3.11+ PyFrameObject {HEAD; f_back; f_frame; f_trace; int f_lineno; ...}

	// From says, per "Struct.member", which rule derived an offset the
	// source did not give.
	From map[string]string
}

// ResolveObjects reads or derives every offset of Objects, once per process,
// from the type source and the str layout (which gives ob_type, tp_name and
// tp_flags).
func ResolveObjects(ts TypeSource, v Version, freeThreaded bool, ptr int64, sl *StrOffsets) *Objects {
	r := &resolver{ts: ts, from: map[string]string{}}
	l := &Objects{Ptr: ptr, From: r.from}
	size := func(strct string) int64 {
		if t, err := ts.Struct(strct); err == nil && t.Resolve() != nil {
			return t.Resolve().Size
		}
		return 0
	}
	l.Object.Type = sl.ObType
	l.Header = size("PyObject")
	if l.Header <= 0 {
		l.Header = r.rule("PyObject", "{ob_refcnt; ob_type}: ends after ob_type", l.Object.Type+ptr)
	}
	H := l.Header
	if l.Object.Size = r.off("PyVarObject", "ob_size"); l.Object.Size < 0 {
		l.Object.Size = r.orRule("PyTupleObject", "ob_base.ob_size", "{header; ob_size}", H)
	}
	l.Type = typeRule(r, sl, ptr)
	l.HeapType = heapTypeRule(r, v, ptr, size("PyTypeObject"))
	l.Long = longRule(r, v, ts, H, l.Object.Size)
	l.Float.Value = r.orRule("PyFloatObject", "ob_fval", "{header; ob_fval}", H)
	l.Complex.Value = r.orRule("PyComplexObject", "cval", "{header; cval}", H)
	l.Tuple.Items = r.orRule("PyTupleObject", "ob_item", "{var header; ob_item[]}", l.Object.Size+ptr)
	l.List.Items = r.orRule("PyListObject", "ob_item", "{var header; ob_item; allocated}", l.Object.Size+ptr)
	l.Dict = dictRule(r, v, ptr, H)
	// set: {header; fill; used; mask; table; ...} (Include/cpython/setobject.h, 3.6-3.15).
	l.Set.Mask = r.orRule("PySetObject", "mask", "{header; fill; used; mask; table}", H+2*ptr)
	l.Set.Table = r.orRule("PySetObject", "table", "{header; fill; used; mask; table}", H+3*ptr)
	// Functions since 3.10 begin with COMMON_FIELDS(func_): globals,
	// builtins, name, qualname; the tables describe older layouts.
	l.Function.Qualname = r.orRule("PyFunctionObject", "func_qualname", "COMMON_FIELDS(func_) (3.10+)", H+3*ptr)
	l.Module.Dict = r.orRule("PyModuleObject", "md_dict", "{header; md_dict}", H)
	l.Exception.Args = r.orRule("PyBaseExceptionObject", "args", "PyException_HEAD's order", H+ptr)
	// PyException_HEAD since 3.11: {header; dict; args; notes; traceback;
	// context; cause; char suppress_context}, then the group's msg and excs.
	l.ExcGroup.Msg = r.orRule("PyBaseExceptionGroupObject", "msg", "after PyException_HEAD (3.11+)", H+7*ptr)
	l.ExcGroup.Excs = r.orRule("PyBaseExceptionGroupObject", "excs", "after msg", l.ExcGroup.Msg+ptr)
	l.Code.Name = r.off("PyCodeObject", "co_name")
	l.Code.File = r.off("PyCodeObject", "co_filename")
	l.Code.FirstLine = r.off("PyCodeObject", "co_firstlineno")
	valueRules(r, l, v, ptr, H)
	l.Instance = instanceRule(v, freeThreaded, ptr)
	return l
}

// typeRule: PyTypeObject is public API whose first fields have kept their
// order since 3.0: tp_name follows the variable header and every field up
// to tp_dictoffset is pointer-sized. Fields the source lacks are counted
// from tp_name, which every source gives, and the count is checked on
// tp_repr and tp_flags, which the debug offsets give too. A source whose
// tp_repr and tp_flags are not where counting puts them has some other
// layout: then nothing is counted, and what needs the missing fields says
// it cannot be read.
func typeRule(r *resolver, sl *StrOffsets, ptr int64) TypeOffsets {
	const pt, rule = "PyTypeObject", "counted from tp_name, checked on tp_repr and tp_flags"
	l := TypeOffsets{Name: sl.TpName, Flags: sl.TpFlags}
	l.Repr = r.orRule(pt, "tp_repr", rule, l.Name+8*ptr)
	l.Counted = l.Repr == l.Name+8*ptr && l.Flags == l.Name+18*ptr
	fromName := func(field string, index int64) int64 {
		if !l.Counted {
			return r.off(pt, field)
		}
		return r.orRule(pt, field, rule, l.Name+index*ptr)
	}
	l.Basicsize = fromName("tp_basicsize", 1)
	l.Itemsize = fromName("tp_itemsize", 2)
	l.Members = fromName("tp_members", 27)
	l.Base = fromName("tp_base", 29)
	l.Dict = fromName("tp_dict", 30)
	l.Dictoffset = fromName("tp_dictoffset", 33)
	return l
}

// heapTypeRule: PyHeapTypeObject is the type, then the slot tables as_async
// (3 slots before 3.10, then 4), as_number (36), as_mapping (3), as_sequence
// (10), as_buffer (2), then ht_name, ht_slots, ht_qualname, ht_cached_keys.
// Anchored on sizeof(PyTypeObject); 3.15's debug offsets give
// ht_cached_keys, which checks the count.
func heapTypeRule(r *resolver, v Version, ptr, typeSize int64) HeapTypeOffsets {
	const ht, rule = "PyHeapTypeObject", "the slot tables after PyTypeObject, counted"
	l := HeapTypeOffsets{-1, -1}
	if typeSize > 0 {
		async := int64(4)
		if !v.AtLeast(3, 10) {
			async = 3
		}
		slots := async + 36 + 3 + 10 + 2
		l.Qualname = r.orRule(ht, "ht_qualname", rule, typeSize+(slots+2)*ptr)
		l.CachedKeys = r.orRule(ht, "ht_cached_keys", rule, typeSize+(slots+3)*ptr)
	}
	if l.CachedKeys >= 0 && l.Qualname != l.CachedKeys-ptr {
		l.Qualname = r.off(ht, "ht_qualname")
		delete(r.from, ht+".ht_qualname")
	}
	return l
}

// longRule: 3.12 replaced the signed ob_size by lv_tag; digits follow it.
// Digits are 30 bits in 4 bytes unless the source says they are 2 bytes.
func longRule(r *resolver, v Version, ts TypeSource, H, obSize int64) LongOffsets {
	const pl = "PyLongObject"
	l := LongOffsets{Tagged: v.AtLeast(3, 12), DigitBits: 30, DigitBytes: 4}
	if l.Tagged {
		l.Size = r.orRule(pl, "long_value.lv_tag", "{header; lv_tag; ob_digit[]} (3.12+)", H)
		l.Digits = r.orRule(pl, "long_value.ob_digit", "{header; lv_tag; ob_digit[]} (3.12+)", H+8)
	} else {
		l.Size = obSize
		l.Digits = r.orRule(pl, "ob_digit", "{var header; ob_digit[]}", obSize+8)
	}
	t, err := ts.Struct(pl)
	if err != nil {
		return l
	}
	for _, path := range []string{"long_value.ob_digit", "ob_digit"} {
		m, _, ok := t.Member(strings.Split(path, ".")[0])
		if !ok {
			continue
		}
		at := m.Type
		if path != "ob_digit" {
			mm, _, ok := at.Member("ob_digit")
			if !ok {
				continue
			}
			at = mm.Type
		}
		if rt := at.Resolve(); rt != nil && rt.Elem != nil && rt.Elem.Resolve() != nil && rt.Elem.Resolve().Size == 2 {
			l.DigitBits, l.DigitBytes = 15, 2
		}
		break
	}
	return l
}

// dictRule: {ma_used, ma_version_tag, ma_keys, ma_values} after the header
// in every version; the debug offsets give ma_keys and ma_values.
func dictRule(r *resolver, v Version, ptr, H int64) DictOffsets {
	const pd, dk = "PyDictObject", "PyDictKeysObject"
	var l DictOffsets
	l.Used = r.orRule(pd, "ma_used", "{header; ma_used; ma_version_tag; ma_keys; ma_values}", H)
	l.Keys = r.orRule(pd, "ma_keys", "{header; ma_used; ma_version_tag; ma_keys; ma_values}", H+2*ptr)
	l.Values = r.orRule(pd, "ma_values", "{header; ma_used; ma_version_tag; ma_keys; ma_values}", H+3*ptr)
	if !v.AtLeast(3, 11) {
		// struct _dictkeysobject {refcnt, dk_size, dk_lookup, dk_usable, dk_nentries, dk_indices[]}
		const rule = "{refcnt, dk_size, dk_lookup, dk_usable, dk_nentries, dk_indices[]} (<= 3.10)"
		l.Model = DictV36
		l.KeysSize = r.orRule(dk, "dk_size", rule, ptr)
		l.KeysNentries = r.orRule(dk, "dk_nentries", rule, 4*ptr)
		l.KeysIndices = r.orRule(dk, "dk_indices", rule, 5*ptr)
		return l
	}
	// {refcnt; u8 dk_log2_size, dk_log2_index_bytes, dk_kind; (free-threaded:
	// a one-byte mutex); u32 dk_version; dk_usable; dk_nentries; dk_indices[]}
	// (Include/internal/pycore_dict.h, unchanged 3.11-3.15).
	const rule = "{refcnt; u8 dk_log2_size, dk_log2_index_bytes, dk_kind; u32 dk_version; dk_usable; dk_nentries; dk_indices[]} (3.11+)"
	l.Model = DictV311
	if v.AtLeast(3, 13) {
		l.Model = DictV313
	}
	l.KeysLog2Size = r.orRule(dk, "dk_log2_size", rule, ptr)
	l.KeysLog2IndexBytes = r.orRule(dk, "dk_log2_index_bytes", rule, ptr+1)
	l.KeysKind = r.orRule(dk, "dk_kind", rule, ptr+2)
	l.KeysNentries = r.orRule(dk, "dk_nentries", rule, 3*ptr)
	l.KeysIndices = r.orRule(dk, "dk_indices", rule, 4*ptr)
	// 3.13+: struct _dictvalues {u8 capacity, size, embedded, valid; PyObject *values[]}.
	// (3.11 and 3.12 keep values[] first, behind an order prefix that
	// precedes the struct; their readers do not use this offset.)
	l.ValuesItems = r.off("PyDictValues", "values")
	if l.ValuesItems < 0 && l.Model == DictV313 {
		l.ValuesItems = r.orRule("struct _dictvalues", "values", "{u8 capacity, size, embedded, valid; values[]} (3.13+)", ptr)
	}
	return l
}

// instanceRule (Include/internal/pycore_object.h): the managed dict pointer
// is 3 words before the object (1 in free-threaded builds, whose GC
// pre-header is smaller).
func instanceRule(v Version, freeThreaded bool, ptr int64) InstanceOffsets {
	l := InstanceOffsets{ManagedDict: -3 * ptr}
	switch {
	case !v.AtLeast(3, 11):
		l.Model = InstDictOffset
	case v.Is(3, 11):
		l.Model = InstValues311
	case v.Is(3, 12):
		l.Model = InstDorv312
	default:
		l.Model = InstInline313
		if freeThreaded {
			l.ManagedDict = -1 * ptr
		}
	}
	return l
}

// valueRules: the objects the renderer shows by value (bound methods,
// descriptors, cells, generators, ranges, slices, memoryviews, namespaces,
// partials, frames), each {header; ...} in the order its C struct declares.
func valueRules(r *resolver, l *Objects, v Version, P, H int64) {
	o := r.orRule
	l.CFunction.ML = o("PyCFunctionObject", "m_ml", "{header; m_ml; m_self; m_module}", H)
	l.CFunction.Self = o("PyCFunctionObject", "m_self", "{header; m_ml; m_self; m_module}", H+P)
	l.MethodWrap.Descr = o("wrapperobject", "descr", "{header; descr; self}", H)
	l.MethodWrap.Self = o("wrapperobject", "self", "{header; descr; self}", H+P)
	l.WrapperDescr.Base = o("PyWrapperDescrObject", "d_base", "PyDescr_COMMON {d_type, d_name, d_qualname}, then d_base", H+3*P)
	l.Method.Func = o("PyMethodObject", "im_func", "{header; im_func; im_self}", H)
	l.Method.Self = o("PyMethodObject", "im_self", "{header; im_func; im_self}", H+P)
	l.Cell.Ref = o("PyCellObject", "ob_ref", "{header; ob_ref}", H)
	l.Callable.Callable = H
	l.Range.Start = o("rangeobject", "start", "{header; start; stop; step}", H)
	l.Slice.Start = o("PySliceObject", "start", "{header; start; stop; step}", H)
	l.MemoryView.Flags = o("PyMemoryViewObject", "flags", "{var header; mbuf; hash; int flags}", H+3*P)
	l.Namespace.Dict = o("_PyNamespaceObject", "ns_dict", "{header; ns_dict}", H)
	l.Partial.Fn = o("partialobject", "fn", "{header; fn; args; kw}", H)
	l.Partial.Args = o("partialobject", "args", "{header; fn; args; kw}", H+P)
	l.Partial.Kw = o("partialobject", "kw", "{header; fn; args; kw}", H+2*P)
	l.MemberDef.Size = 5 * P // {name; int type; Py_ssize_t offset; int flags; doc}, padded
	l.Frame.Frame = o("PyFrameObject", "f_frame", "{header; f_back; f_frame; f_trace; int f_lineno} (3.11+)", H+P)
	l.Frame.Lineno = o("PyFrameObject", "f_lineno", "{header; f_back; f_frame; f_trace; int f_lineno} (3.11+)", H+3*P)
	// 3.6-3.10 {frame, running, code, weakreflist, name, qualname};
	// 3.11+ {weakreflist, name, qualname, ...}.
	if v.AtLeast(3, 11) {
		if l.Gen.Qualname = r.off("PyGenObject", "gi_qualname"); l.Gen.Qualname < 0 {
			l.Gen.Qualname = o("PyGenObject", "gi_name", "{header; weakreflist; name; qualname} (3.11+)", H+P) + P
			r.from["PyGenObject.gi_qualname"] = "after gi_name (3.11+)"
		}
	} else {
		l.Gen.Qualname = o("PyGenObject", "gi_qualname", "{header; frame; running; code; weakreflist; name; qualname} (<= 3.10)", H+5*P)
	}
}
