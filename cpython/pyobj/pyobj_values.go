package pyobj

// Reprs of the built-in objects beyond plain data: built-in functions and
// methods, bound methods, frames, cells, generators and coroutines,
// functools.partial, staticmethod and classmethod, range, slice, memoryview,
// types.SimpleNamespace, struct sequences and threading.Thread instances,
// each as the version's own tp_repr (or Thread.__repr__) prints it. Their
// structs are public headers that have kept their first fields since 3.6;
// offsets come from the type source where it has them, else are counted
// from the object header like go's.

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pycore/pycore/core"
)

const (
	KindFirstValue Kind = 100 + iota
	KindCFunction       // builtin_function_or_method (and PyCMethod)
	KindMethodWrapper
	KindMethod // bound method
	KindFrame
	KindCell
	KindGenerator
	KindCoroutine
	KindAsyncGen
	KindStaticMethod
	KindClassMethod
	KindRange
	KindSlice
	KindMemoryView
	KindNamespace
	KindPartial
	KindStructSeq
	KindThread // an instance of threading.Thread (or a subclass keeping its __repr__)
)

// valueTypes are the types of this file, by exported symbol and by tp_name
// (static types without a symbol, and functools.partial, a heap type of
// _functools since 3.10).
var valueTypes = []struct {
	sym, name string
	kind      Kind
}{
	{"PyCFunction_Type", "builtin_function_or_method", KindCFunction},
	{"PyCMethod_Type", "builtin_method", KindCFunction},
	{"_PyMethodWrapper_Type", "method-wrapper", KindMethodWrapper},
	{"PyMethod_Type", "method", KindMethod},
	{"PyFrame_Type", "frame", KindFrame},
	{"PyCell_Type", "cell", KindCell},
	{"PyGen_Type", "generator", KindGenerator},
	{"PyCoro_Type", "coroutine", KindCoroutine},
	{"PyAsyncGen_Type", "async_generator", KindAsyncGen},
	{"PyStaticMethod_Type", "staticmethod", KindStaticMethod},
	{"PyClassMethod_Type", "classmethod", KindClassMethod},
	{"PyRange_Type", "range", KindRange},
	{"PySlice_Type", "slice", KindSlice},
	{"PyMemoryView_Type", "memoryview", KindMemoryView},
	{"_PyNamespace_Type", "types.SimpleNamespace", KindNamespace},
	{"", "functools.partial", KindPartial},
}

// valueKindByName is the kind of a type of this file named name, for types
// found without their symbol.
func valueKindByName(name string, heap bool) (Kind, bool) {
	for _, vt := range valueTypes {
		if vt.name == name && (!heap || strings.Contains(name, ".")) {
			return vt.kind, true
		}
	}
	return 0, false
}

// renderValue renders the kinds of this file.
func (r *Renderer) renderValue(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	v := r.L.Objects
	switch ti.Kind {
	case KindCFunction:
		return r.renderCFunction(o, a)
	case KindMethodWrapper:
		descr, err := r.Ptr(a.Add(v.MethodWrap.Descr))
		if err != nil {
			return fmt.Errorf("method-wrapper at %#x: descr: %w", uint64(a), err)
		}
		name, err := r.cstringAt(descr.Add(v.WrapperDescr.Base), "method-wrapper's slot name")
		if err != nil {
			return err
		}
		self, err := r.Ptr(a.Add(v.MethodWrap.Self))
		if err != nil {
			return fmt.Errorf("method-wrapper at %#x: self: %w", uint64(a), err)
		}
		o.Repr = fmt.Sprintf("<method-wrapper '%s' of %s object at %#x>", name, r.typeNameOf(self), uint64(self))
		return nil
	case KindMethod:
		return r.renderMethod(o, a, depth)
	case KindFrame:
		return r.renderFrame(o, a)
	case KindCell:
		ref, err := r.Ptr(a.Add(v.Cell.Ref))
		if err != nil {
			return fmt.Errorf("cell at %#x: ob_ref: %w", uint64(a), err)
		}
		if ref == 0 {
			o.Repr = fmt.Sprintf("<cell at %#x: empty>", uint64(a))
			return nil
		}
		name := r.typeNameOf(ref)
		if len(name) > 80 {
			name = name[:80]
		}
		o.Repr = fmt.Sprintf("<cell at %#x: %s object at %#x>", uint64(a), name, uint64(ref))
		return nil
	case KindGenerator, KindCoroutine, KindAsyncGen:
		what := map[Kind]string{KindGenerator: "generator", KindCoroutine: "coroutine", KindAsyncGen: "async_generator"}[ti.Kind]
		q, err := r.StrAt(a.Add(v.Gen.Qualname), 1024)
		if err != nil {
			return fmt.Errorf("%s at %#x: __qualname__: %w", what, uint64(a), err)
		}
		o.Repr = fmt.Sprintf("<%s object %s at %#x>", what, q, uint64(a))
		return nil
	case KindStaticMethod, KindClassMethod:
		if !r.p.Repr.MethodDescrs {
			return r.renderInstance(o, a, ti)
		}
		what := "staticmethod"
		if ti.Kind == KindClassMethod {
			what = "classmethod"
		}
		c, err := r.Ptr(a.Add(v.Callable.Callable))
		if err != nil {
			return fmt.Errorf("%s at %#x: callable: %w", what, uint64(a), err)
		}
		inner := r.Render(c, depth+1)
		o.Repr, o.Truncated = "<"+what+"("+inner.Repr+")>", inner.Truncated
		return nil
	case KindRange, KindSlice:
		return r.renderRangeSlice(o, a, ti, depth)
	case KindMemoryView:
		flags, err := r.p.R.Uint32(a.Add(v.MemoryView.Flags))
		if err != nil {
			return fmt.Errorf("memoryview at %#x: flags: %w", uint64(a), err)
		}
		if flags&1 != 0 { // _Py_MEMORYVIEW_RELEASED
			o.Repr = fmt.Sprintf("<released memory at %#x>", uint64(a))
		} else {
			o.Repr = fmt.Sprintf("<memory at %#x>", uint64(a))
		}
		return nil
	case KindNamespace:
		return r.renderNamespace(o, a, ti, depth)
	case KindPartial:
		return r.renderPartial(o, a, ti, depth)
	case KindStructSeq:
		return r.renderStructSeq(o, a, ti, depth)
	case KindThread:
		return r.renderThread(o, a, ti)
	}
	return r.renderInstance(o, a, ti)
}

// renderCFunction is meth_repr: a function of a module (or of nothing) is a
// built-in function, anything else a method of its object.
func (r *Renderer) renderCFunction(o *Object, a core.Address) error {
	v := r.L.Objects
	name, err := r.cstringAt(a.Add(v.CFunction.ML), fmt.Sprintf("built-in function at %#x: ml_name", uint64(a)))
	if err != nil {
		return err
	}
	self, err := r.Ptr(a.Add(v.CFunction.Self))
	if err != nil {
		return fmt.Errorf("built-in function at %#x: m_self: %w", uint64(a), err)
	}
	if self == 0 {
		o.Repr, o.Value = "<built-in function "+name+">", name
		return nil
	}
	tp, err := r.Ptr(self.Add(r.L.Object.Type))
	if err != nil {
		return fmt.Errorf("built-in function at %#x: type of m_self: %w", uint64(a), err)
	}
	st := r.TypeOf(tp)
	if st.Kind == KindModule { // PyModule_Check: modules and their subclasses
		o.Repr, o.Value = "<built-in function "+name+">", name
		return nil
	}
	o.Repr = fmt.Sprintf("<built-in method %s of %s object at %#x>", name, st.Name, uint64(self))
	return nil
}

// renderMethod is method_repr: <bound method QUALNAME of REPR(self)>.
func (r *Renderer) renderMethod(o *Object, a core.Address, depth int) error {
	v := r.L.Objects
	fn, err := r.Ptr(a.Add(v.Method.Func))
	if err != nil {
		return fmt.Errorf("method at %#x: im_func: %w", uint64(a), err)
	}
	self, err := r.Ptr(a.Add(v.Method.Self))
	if err != nil {
		return fmt.Errorf("method at %#x: im_self: %w", uint64(a), err)
	}
	name := "?"
	if tp, err := r.Ptr(fn.Add(r.L.Object.Type)); err == nil {
		switch r.TypeOf(tp).Kind {
		case KindFunction:
			if q, err := r.StrAt(fn.Add(r.L.Function.Qualname), 1024); err == nil {
				name = q
			}
		case KindCFunction:
			if n, err := r.cstringAt(fn.Add(v.CFunction.ML), "ml_name"); err == nil {
				name = r.cfunctionQualname(fn, n)
			}
		}
	}
	s := r.Render(self, depth+1)
	o.Repr, o.Truncated = "<bound method "+name+" of "+s.Repr+">", s.Truncated
	return nil
}

// renderFrame is frame_repr (3.7+; 3.6 frames have object's repr):
// <frame at 0x..., file 'x.py', line N, code NAME>, the line as
// PyFrame_GetLineNumber computes it (by the walker, Proc.FrameLine).
func (r *Renderer) renderFrame(o *Object, a core.Address) error {
	if !r.p.Repr.FrameDetails {
		o.Repr = fmt.Sprintf("<frame object at %#x>", uint64(a))
		return nil
	}
	file, name, line, err := r.p.FrameLine(a)
	if err != nil {
		return err
	}
	o.Repr = fmt.Sprintf("<frame at %#x, file %s, line %d, code %s>", uint64(a), strRepr([]rune(file)), line, name)
	return nil
}

// renderRangeSlice is range_repr (the step left out when it is 1) and slice_repr.
func (r *Renderer) renderRangeSlice(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	start := r.L.Slice.Start
	what := "slice"
	if ti.Kind == KindRange {
		start, what = r.L.Range.Start, "range"
	}
	parts := make([]string, 0, 3)
	for i := int64(0); i < 3; i++ {
		f, err := r.Ptr(a.Add(start + i*r.L.Ptr))
		if err != nil {
			return fmt.Errorf("%s at %#x: %w", what, uint64(a), err)
		}
		item := r.Render(f, depth+1)
		if item.Error != "" {
			return fmt.Errorf("%s at %#x: %s", what, uint64(a), item.Error)
		}
		if i == 2 && ti.Kind == KindRange && item.Value == int64(1) {
			break
		}
		parts = append(parts, item.Repr)
	}
	o.Repr = what + "(" + strings.Join(parts, ", ") + ")"
	return nil
}

// renderNamespace is namespace_repr: name(key=value, ...) over the str keys
// of its dict, sorted before 3.9.
func (r *Renderer) renderNamespace(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	name := ti.Name
	if ti.Exact {
		name = "namespace"
	}
	ok, cut := r.enter(a, depth)
	if !ok {
		o.Repr, o.Truncated = name+"(...)", cut
		return nil
	}
	defer r.leave(a)
	d, err := r.Ptr(a.Add(r.L.Namespace.Dict))
	if err != nil {
		return fmt.Errorf("namespace at %#x: ns_dict: %w", uint64(a), err)
	}
	var items []DictEntry
	if d != 0 {
		if items, _, err = r.DictItems(d, MaxLookupItems); err != nil {
			return fmt.Errorf("namespace at %#x: %w", uint64(a), err)
		}
	}
	type kv struct {
		key   string
		value core.Address
	}
	var kvs []kv
	for _, it := range items {
		cps, _, err := r.StrCodepoints(it.Key, 1024)
		if err != nil || len(cps) == 0 {
			continue
		}
		kvs = append(kvs, kv{CodepointsToString(cps), it.Value})
	}
	if r.p.Repr.NamespaceSorted {
		sort.SliceStable(kvs, func(i, j int) bool { return kvs[i].key < kvs[j].key })
	}
	var b strings.Builder
	b.WriteString(name + "(")
	for i, e := range kvs {
		if !r.room(i) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("...")
			o.Truncated = true
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		v := r.Render(e.value, depth+1)
		b.WriteString(e.key + "=" + v.Repr)
		o.Truncated = o.Truncated || v.Truncated
	}
	b.WriteString(")")
	o.Repr = b.String()
	return nil
}

// renderPartial is partial_repr: NAME(fn, args..., key=value...), NAME the
// type's tp_name up to 3.12 and module.qualname from 3.13.
func (r *Renderer) renderPartial(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	v := r.L.Objects
	name := ti.Name
	if r.p.Repr.PartialQualname {
		tp, _ := r.Ptr(a.Add(r.L.Object.Type))
		if mod, qual, err := r.TypeNames(tp); err == nil && mod != "" {
			name = mod + "." + qual
		}
	}
	ok, cut := r.enter(a, depth)
	if !ok {
		o.Repr, o.Truncated = "...", cut
		return nil
	}
	defer r.leave(a)
	fn, err1 := r.Ptr(a.Add(v.Partial.Fn))
	args, err2 := r.Ptr(a.Add(v.Partial.Args))
	kw, err3 := r.Ptr(a.Add(v.Partial.Kw))
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("partial at %#x: %w", uint64(a), err)
	}
	var b strings.Builder
	f := r.Render(fn, depth+1)
	b.WriteString(name + "(" + f.Repr)
	o.Truncated = f.Truncated
	shown := 0
	more := false
	if args != 0 {
		items, err := r.TupleItems(args, int64(r.opts.MaxLength)+1)
		if err != nil {
			return fmt.Errorf("partial at %#x: args: %w", uint64(a), err)
		}
		for _, it := range items {
			if !r.room(shown) {
				more = true
				break
			}
			x := r.Render(it, depth+1)
			b.WriteString(", " + x.Repr)
			o.Truncated = o.Truncated || x.Truncated
			shown++
		}
	}
	if kw != 0 && !more {
		items, extra, err := r.DictItems(kw, r.opts.MaxLength)
		if err != nil {
			return fmt.Errorf("partial at %#x: keywords: %w", uint64(a), err)
		}
		more = extra
		for _, it := range items {
			if !r.room(shown) {
				more = true
				break
			}
			k, cut, err := r.boundedStr(it.Key)
			if err != nil {
				return fmt.Errorf("partial at %#x: keyword: %w", uint64(a), err)
			}
			x := r.Render(it.Value, depth+1)
			b.WriteString(", " + k + "=" + x.Repr)
			o.Truncated = o.Truncated || cut
			o.Truncated = o.Truncated || x.Truncated
			shown++
		}
	}
	if more {
		b.WriteString(", ...")
		o.Truncated = true
	}
	b.WriteString(")")
	o.Repr = b.String()
	return nil
}

// renderStructSeq is structseq_repr: tp_name(field=value, ...) over the
// visible fields, named by the type's members in order.
func (r *Renderer) renderStructSeq(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	l := r.L
	if l.Type.Members < 0 {
		return fmt.Errorf("struct sequence at %#x: %s does not say where PyTypeObject keeps tp_members", uint64(a), r.p.Types.Describe())
	}
	tp, err := r.Ptr(a.Add(l.Object.Type))
	if err != nil {
		return err
	}
	members, err := r.Ptr(tp.Add(l.Type.Members))
	if err != nil || members == 0 {
		return fmt.Errorf("struct sequence at %#x: tp_members of %s: %v", uint64(a), ti.Name, err)
	}
	n, err := r.I64(a.Add(l.Object.Size))
	if err != nil || n < 0 || n > 1<<16 {
		return fmt.Errorf("struct sequence at %#x: size %d: %v", uint64(a), n, err)
	}
	ok, cut := r.enter(a, depth)
	if !ok {
		o.Repr, o.Truncated = ti.Name+"(...)", cut
		return nil
	}
	defer r.leave(a)
	var b strings.Builder
	b.WriteString(ti.Name + "(")
	for i := int64(0); i < n; i++ {
		if !r.room(int(i)) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("...")
			o.Truncated = true
			break
		}
		np, err := r.Ptr(members.Add(i * l.MemberDef.Size))
		if err != nil || np == 0 {
			return fmt.Errorf("struct sequence at %#x: name of field %d: %v", uint64(a), i, err)
		}
		fname, _, err := r.p.R.CString(np, 256)
		if err != nil {
			return fmt.Errorf("struct sequence at %#x: name of field %d: %w", uint64(a), i, err)
		}
		item, err := r.Ptr(a.Add(l.Tuple.Items + i*l.Ptr))
		if err != nil {
			return fmt.Errorf("struct sequence at %#x: field %d: %w", uint64(a), i, err)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		x := r.Render(item, depth+1)
		b.WriteString(string(fname) + "=" + x.Repr)
		o.Truncated = o.Truncated || x.Truncated
	}
	b.WriteString(")")
	o.Repr = b.String()
	return nil
}

// renderThread is threading.Thread.__repr__ from the instance's attributes:
// <Class(name, status)>. Thread.__repr__ calls is_alive(), which marks a
// thread whose OS thread has ended as stopped; from a core, a started
// thread that threading._active no longer lists is taken as stopped too.
func (r *Renderer) renderThread(o *Object, a core.Address, ti *TypeInfo) error {
	items, err := r.InstanceItems(a)
	if err != nil {
		return fmt.Errorf("thread at %#x: %w", uint64(a), err)
	}
	get := func(name string) (core.Address, bool) {
		v, ok, _ := r.FindStrKey(items, name)
		return v, ok
	}
	nameObj, ok := get("_name")
	if !ok {
		return r.renderInstance(o, a, ti) // Thread.__init__ never ran
	}
	cps, total, err := r.StrCodepoints(nameObj, r.opts.MaxString)
	if err != nil {
		return fmt.Errorf("thread at %#x: _name: %w", uint64(a), err)
	}
	name := CodepointsToString(cps)
	if int64(len(cps)) < total {
		name, o.Truncated = name+"...", true
	}
	status := "initial"
	started := false
	if ev, ok := get("_started"); ok {
		if flag, ok := r.Attr(ev, "_flag"); ok && r.IsTrue(flag) {
			status, started = "started", true
		}
	}
	ident := ""
	if id, ok := get("_ident"); ok && !r.IsNone(id) {
		if v, err := r.IntValue(id); err == nil {
			ident = v.String()
		}
	}
	stopped := false
	if s, ok := get("_is_stopped"); ok && r.IsTrue(s) {
		stopped = true
	}
	if started && !stopped && ident != "" {
		if active := r.activeIdents(); active != nil {
			if id, err := strconv.ParseUint(ident, 10, 64); err == nil {
				if _, ok := active[id]; !ok {
					stopped = true
				}
			}
		}
	}
	if stopped {
		status = "stopped"
	}
	if d, ok := get("_daemonic"); ok && r.IsTrue(d) {
		status += " daemon"
	}
	if ident != "" {
		status += " " + ident
	}
	o.Repr = "<" + ti.Name + "(" + name + ", " + status + ")>"
	return nil
}

// activeIdents are the idents of every interpreter's threading._active, read
// once per rendering; nil if they cannot be read.
func (r *Renderer) activeIdents() map[uint64]string {
	if r.active == nil {
		return nil
	}
	if r.threadIdents == nil {
		names, err := r.p.ThreadNames()
		if err != nil {
			names = map[uint64]string{}
		}
		r.threadIdents = names
	}
	if len(r.threadIdents) == 0 {
		return nil
	}
	return r.threadIdents
}

// appendAttrs adds an instance's attributes to its repr, as gdb's
// python-gdb shows them (<Foo(an_int=42) at remote 0x...>) but after
// Python's own repr: slots (the class's own first, then its bases'), then
// the __dict__ in insertion order, each value bounded like any other.
func (r *Renderer) appendAttrs(o *Object, a core.Address, depth int) {
	l := r.L
	type attr struct {
		name  string
		value core.Address
	}
	var attrs []attr
	more := false
	tp, err := r.Ptr(a.Add(l.Object.Type))
	if err != nil {
		return
	}
	// Slots are the heap types' T_OBJECT_EX members.
	cur := tp
	for i := 0; i < MaxTypeChain && cur != 0 && l.Type.Members >= 0 && l.Type.Base >= 0; i++ {
		flags, err := r.p.R.Uint64(cur.Add(l.Type.Flags))
		if err != nil || flags&TPFlagsHeapType == 0 {
			break
		}
		if m, err := r.Ptr(cur.Add(l.Type.Members)); err == nil && m != 0 {
			for j := int64(0); j < 256; j++ {
				def := m.Add(j * l.MemberDef.Size)
				np, err := r.Ptr(def)
				if err != nil || np == 0 {
					break
				}
				typ, err1 := r.p.R.Uint32(def.Add(l.Ptr))
				off, err2 := r.I64(def.Add(2 * l.Ptr))
				if errors.Join(err1, err2) != nil || off <= 0 || off > 1<<20 {
					break
				}
				const tObjectEx = 16
				if typ != tObjectEx {
					continue
				}
				v, err := r.Ptr(a.Add(off))
				if err != nil || v == 0 {
					continue // unset: no attribute
				}
				name, _, err := r.p.R.CString(np, 256)
				if err != nil {
					continue
				}
				attrs = append(attrs, attr{string(name), v})
			}
		}
		if cur, err = r.Ptr(cur.Add(l.Type.Base)); err != nil {
			break
		}
	}
	if items, err := r.InstanceItems(a); err == nil {
		for _, it := range items {
			k, cut, err := r.boundedStr(it.Key)
			if err != nil {
				continue
			}
			o.Truncated = o.Truncated || cut
			attrs = append(attrs, attr{k, it.Value})
		}
	}
	if len(attrs) == 0 {
		return
	}
	ok, cut := r.enter(a, depth)
	if !ok {
		o.Repr += "(...)"
		o.Truncated = o.Truncated || cut
		return
	}
	defer r.leave(a)
	var b strings.Builder
	b.WriteString(o.Repr + "(")
	for i, at := range attrs {
		if !r.room(i) {
			more = true
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		v := r.Render(at.value, depth+1)
		b.WriteString(at.name + "=" + v.Repr)
		o.Truncated = o.Truncated || v.Truncated
	}
	if more {
		if !strings.HasSuffix(b.String(), "(") {
			b.WriteString(", ")
		}
		b.WriteString("...")
		o.Truncated = true
	}
	b.WriteString(")")
	o.Repr = b.String()
}

// boundedStr is a str's text within MaxString, "..." marking a cut.
func (r *Renderer) boundedStr(obj core.Address) (s string, cut bool, err error) {
	cps, total, err := r.StrCodepoints(obj, r.opts.MaxString)
	if err != nil {
		return "", false, err
	}
	s = CodepointsToString(cps)
	if int64(len(cps)) < total {
		return s + "...", true, nil
	}
	return s, false, nil
}
