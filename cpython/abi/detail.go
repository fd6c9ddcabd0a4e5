package abi

// The offsets that thread details, locals and exceptions read, grouped per
// CPython struct. Each comes from the type source (generated tables, debug
// offsets or DWARF) where it describes the member, else from a named rule:
// derived from CPython's headers, anchored on a member the source gives and
// checked against another where one exists. A member that can be neither
// read nor derived is -1, and what needs it says it is not available.

// ThreadStateOffsets are members of PyThreadState.
type ThreadStateOffsets struct {
	State, GILRequested, EvalBreaker         int64 // 3.13+ (gil_requested 3.15+)
	CurrentException                         int64 // 3.12+
	CurExcType, CurExcValue, CurExcTraceback int64 // <= 3.11: the curexc triple
	ExcInfo                                  int64 // 3.7+: the _PyErr_StackItem chain
	ExcType, ExcValue, ExcTraceback          int64 // 3.6: the exception being handled
}

// ErrStackItemOffsets are members of _PyErr_StackItem: exc_type and
// exc_traceback only before 3.11.
type ErrStackItemOffsets struct {
	ExcType, ExcValue, ExcTraceback, Previous int64
}

// ExceptionOffsets are PyException_HEAD's members (PyBaseExceptionObject).
type ExceptionOffsets struct {
	Args, Notes, Traceback, Context, Cause, SuppressContext int64
}

// OSErrorOffsets are PyOSErrorObject's own members.
type OSErrorOffsets struct{ Errno, Strerror, Filename, Filename2 int64 }

// SyntaxErrorOffsets are PySyntaxErrorObject's first members.
type SyntaxErrorOffsets struct{ Msg, Filename, Lineno int64 }

// UnicodeErrorOffsets are PyUnicodeErrorObject's members.
type UnicodeErrorOffsets struct{ Encoding, Object, Start, End, Reason int64 }

// TracebackOffsets are PyTracebackObject's members.
type TracebackOffsets struct{ Next, Frame, Lasti, Lineno int64 }

// FrameObjectOffsets are PyFrameObject's: f_code and f_localsplus before
// 3.11, f_frame after; f_exc_value (3.6) the exception handled when the
// frame began handling one.
type FrameObjectOffsets struct{ Code, Frame, Localsplus, ExcValue int64 }

// InterpreterFrameOffsets are _PyInterpreterFrame's (3.11+).
type InterpreterFrameOffsets struct{ Localsplus int64 }

// CodeOffsets are PyCodeObject's members locals read.
type CodeOffsets struct {
	Argcount, Posonly, Kwonly, Flags int64
	Varnames, Cellvars, Freevars     int64 // <= 3.10
	LocalsplusNames, LocalsplusKinds int64 // 3.11+
}

// CellOffsets are PyCellObject's.
type CellOffsets struct{ Ref int64 }

// Detail is every offset thread details, locals and exceptions read; -1
// marks what is unknown.
type Detail struct {
	Ptr, Header      int64 // pointer size, sizeof(PyObject)
	ThreadState      ThreadStateOffsets
	ErrStackItem     ErrStackItemOffsets
	Exception        ExceptionOffsets
	OSError          OSErrorOffsets
	SyntaxError      SyntaxErrorOffsets
	UnicodeError     UnicodeErrorOffsets
	Traceback        TracebackOffsets
	FrameObject      FrameObjectOffsets
	InterpreterFrame InterpreterFrameOffsets
	Code             CodeOffsets
	Cell             CellOffsets
	// Source is the type source the offsets were read from, for errors.
	Source string
	// From says, per "Struct.member", which rule derived an offset the
	// source did not give; offsets not named here are the source's.
	From map[string]string
}

// resolver reads offsets from a type source and records the rules that
// stand in for what it lacks.
type resolver struct {
	ts   TypeSource
	from map[string]string
}

// off is the offset of a dotted member path of a struct of the source, or -1.
func (r *resolver) off(strct, path string) int64 {
	t, err := r.ts.Struct(strct)
	if err != nil {
		return -1
	}
	o, err := MemberPathOffset(t, path)
	if err != nil {
		return -1
	}
	return o
}

// rule records that key was derived by the named rule, and returns at.
func (r *resolver) rule(key, name string, at int64) int64 {
	r.from[key] = name
	return at
}

// orRule is the source's offset of strct.path, else at by the named rule.
func (r *resolver) orRule(strct, path, name string, at int64) int64 {
	if o := r.off(strct, path); o >= 0 {
		return o
	}
	return r.rule(strct+"."+path, name, at)
}

// AlignUp rounds n up to a multiple of a (a power of two).
func AlignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

// ResolveDetail reads or derives every offset of Detail, once per process.
// ptr is the pointer size and header sizeof(PyObject).
func ResolveDetail(ts TypeSource, v Version, ptr, header int64) *Detail {
	r := &resolver{ts: ts, from: map[string]string{}}
	d := &Detail{Ptr: ptr, Header: header, Source: ts.Describe(), From: r.from}
	d.ThreadState = threadStateRule(r, v, ptr)
	d.ErrStackItem = errStackItemRule(r, v, ptr)
	d.Exception = exceptionRule(r, v, ptr, header)
	first := AlignUp(d.Exception.SuppressContext+1, ptr)
	d.OSError = osErrorRule(r, ptr, first)
	d.SyntaxError, d.UnicodeError = syntaxErrorRule(r, ptr, first), unicodeErrorRule(r, ptr, first)
	d.Traceback = tracebackRule(r, ptr, header)
	d.FrameObject = frameObjectRule(r, v, ptr, header)
	d.InterpreterFrame.Localsplus = r.off("_PyInterpreterFrame", "localsplus")
	d.Code = codeRule(r, v)
	d.Cell.Ref = r.orRule("PyCellObject", "ob_ref", "{header; ob_ref}", header)
	return d
}

// threadStateRule: 3.13+'s debug offsets give few of PyThreadState's members.
func threadStateRule(r *resolver, v Version, ptr int64) ThreadStateOffsets {
	const ts = "PyThreadState"
	off := r.off
	var l ThreadStateOffsets
	l.State = off(ts, "state")
	l.GILRequested = off(ts, "gil_requested")
	l.EvalBreaker = off(ts, "eval_breaker")
	status, interp, cur := off(ts, "_status"), off(ts, "interp"), off(ts, "current_frame")
	if v.AtLeast(3, 13) {
		// {prev, next, interp, uintptr_t eval_breaker, _status, ...}: eval_breaker
		// follows interp, and _status (the debug offsets give it) follows it.
		if l.EvalBreaker < 0 && interp >= 0 && status == interp+2*ptr {
			l.EvalBreaker = r.rule(ts+".eval_breaker", "after interp, checked on _status", interp+ptr)
		}
		// After the 4-byte _status: 3.13 {int _whence; int state}; 3.14 {int
		// holds_gil; int _whence; int state}; 3.15 {holds_gil, gil_requested,
		// _whence, state}. Then the ints py_recursion_remaining ... what_event
		// (six in 3.13, five since), and current_frame, which checks the count.
		if l.State < 0 && status >= 0 && cur >= 0 {
			state, ints := status+8, int64(6)
			switch {
			case v.Is(3, 14):
				state, ints = status+12, 5
			case v.AtLeast(3, 15):
				state, ints = status+16, 5
			}
			if AlignUp(state+4+4*ints, ptr) == cur {
				l.State = r.rule(ts+".state", "counted from _status, checked on current_frame", state)
			}
		}
	}
	l.CurrentException = off(ts, "current_exception")
	if l.CurrentException < 0 && v.AtLeast(3, 13) && cur >= 0 {
		// current_frame, c_profilefunc, c_tracefunc, c_profileobj, c_traceobj,
		// current_exception, exc_info, dict, gilstate_counter, async_exc,
		// thread_id (3.13, 3.14; 3.15 gives current_exception itself).
		if c := cur + 5*ptr; off(ts, "thread_id") == c+5*ptr {
			l.CurrentException = r.rule(ts+".current_exception", "counted from current_frame, checked on thread_id", c)
		}
	}
	l.ExcInfo = off(ts, "exc_info")
	if l.ExcInfo < 0 && v.AtLeast(3, 13) && l.CurrentException >= 0 && off(ts, "thread_id") == l.CurrentException+5*ptr {
		l.ExcInfo = r.rule(ts+".exc_info", "after current_exception, checked on thread_id", l.CurrentException+ptr)
	}
	l.CurExcType, l.CurExcValue, l.CurExcTraceback = off(ts, "curexc_type"), off(ts, "curexc_value"), off(ts, "curexc_traceback")
	l.ExcType, l.ExcValue, l.ExcTraceback = off(ts, "exc_type"), off(ts, "exc_value"), off(ts, "exc_traceback")
	return l
}

// errStackItemRule: {exc_type, exc_value, exc_traceback, previous_item}
// (3.7-3.10), {exc_value, previous_item} (3.11+).
func errStackItemRule(r *resolver, v Version, ptr int64) ErrStackItemOffsets {
	const si = "_PyErr_StackItem"
	l := ErrStackItemOffsets{r.off(si, "exc_type"), r.off(si, "exc_value"), r.off(si, "exc_traceback"), r.off(si, "previous_item")}
	if v.AtLeast(3, 11) {
		if l.ExcValue < 0 {
			l.ExcValue = r.rule(si+".exc_value", "{exc_value, previous_item} (3.11+)", 0)
		}
		if l.Previous < 0 && l.ExcValue == 0 {
			l.Previous = r.rule(si+".previous_item", "{exc_value, previous_item} (3.11+)", ptr)
		}
	}
	return l
}

// exceptionRule: PyException_HEAD is {header; dict; args; (3.11+) notes;
// traceback; context; cause; char suppress_context}.
func exceptionRule(r *resolver, v Version, ptr, header int64) ExceptionOffsets {
	const be, rule = "PyBaseExceptionObject", "PyException_HEAD's order"
	var l ExceptionOffsets
	l.Args = r.orRule(be, "args", rule, header+ptr)
	l.Notes = -1
	at := l.Args + ptr
	if v.AtLeast(3, 11) {
		l.Notes = r.orRule(be, "notes", rule, at)
		at = l.Notes + ptr
	}
	l.Traceback = r.orRule(be, "traceback", rule, at)
	l.Context = r.orRule(be, "context", rule, l.Traceback+ptr)
	l.Cause = r.orRule(be, "cause", rule, l.Context+ptr)
	l.SuppressContext = r.orRule(be, "suppress_context", rule, l.Cause+ptr)
	return l
}

// osErrorRule: PyException_HEAD, then myerrno, strerror, filename,
// filename2; the subclasses' own members start at first, right after the head.
func osErrorRule(r *resolver, ptr, first int64) OSErrorOffsets {
	const os, rule = "PyOSErrorObject", "PyException_HEAD, then myerrno, strerror, filename, filename2"
	var l OSErrorOffsets
	l.Errno = r.orRule(os, "myerrno", rule, first)
	if o := r.off(os, "filename"); o >= 0 {
		l.Strerror, l.Filename, l.Filename2 = r.off(os, "strerror"), o, r.off(os, "filename2")
		return l
	}
	l.Strerror = r.rule(os+".strerror", rule, l.Errno+ptr)
	l.Filename = r.rule(os+".filename", rule, l.Errno+2*ptr)
	l.Filename2 = r.rule(os+".filename2", rule, l.Errno+3*ptr)
	return l
}

// syntaxErrorRule: PySyntaxErrorObject {PyException_HEAD; msg, filename, lineno, ...}.
func syntaxErrorRule(r *resolver, ptr, first int64) SyntaxErrorOffsets {
	const se = "PySyntaxErrorObject"
	if o := r.off(se, "msg"); o >= 0 {
		return SyntaxErrorOffsets{o, r.off(se, "filename"), r.off(se, "lineno")}
	}
	const rule = "PyException_HEAD, then msg, filename, lineno"
	return SyntaxErrorOffsets{r.rule(se+".msg", rule, first), r.rule(se+".filename", rule, first+ptr), r.rule(se+".lineno", rule, first+2*ptr)}
}

// unicodeErrorRule: PyUnicodeErrorObject {PyException_HEAD; encoding,
// object, Py_ssize_t start, end, reason}.
func unicodeErrorRule(r *resolver, ptr, first int64) UnicodeErrorOffsets {
	const ue = "PyUnicodeErrorObject"
	if o := r.off(ue, "encoding"); o >= 0 {
		return UnicodeErrorOffsets{o, r.off(ue, "object"), r.off(ue, "start"), r.off(ue, "end"), r.off(ue, "reason")}
	}
	const rule = "PyException_HEAD, then encoding, object, start, end, reason"
	var l UnicodeErrorOffsets
	for i, f := range []*int64{&l.Encoding, &l.Object, &l.Start, &l.End, &l.Reason} {
		*f = r.rule(ue+"."+[]string{"encoding", "object", "start", "end", "reason"}[i], rule, first+int64(i)*ptr)
	}
	return l
}

// tracebackRule: PyTracebackObject {header; tb_next; tb_frame; int tb_lasti; int tb_lineno}.
func tracebackRule(r *resolver, ptr, header int64) TracebackOffsets {
	for _, name := range []string{"PyTracebackObject", "struct _traceback"} {
		if o := r.off(name, "tb_next"); o >= 0 {
			return TracebackOffsets{o, r.off(name, "tb_frame"), r.off(name, "tb_lasti"), r.off(name, "tb_lineno")}
		}
	}
	const tb, rule = "PyTracebackObject", "{header; tb_next; tb_frame; int tb_lasti; int tb_lineno}"
	return TracebackOffsets{r.rule(tb+".tb_next", rule, header), r.rule(tb+".tb_frame", rule, header+ptr),
		r.rule(tb+".tb_lasti", rule, header+2*ptr), r.rule(tb+".tb_lineno", rule, header+2*ptr+4)}
}

// frameObjectRule: 3.11-3.15's PyFrameObject is {header; f_back; f_frame; ...}.
func frameObjectRule(r *resolver, v Version, ptr, header int64) FrameObjectOffsets {
	const f = "PyFrameObject"
	l := FrameObjectOffsets{Code: r.off(f, "f_code"), Frame: -1, Localsplus: r.off(f, "f_localsplus"), ExcValue: r.off(f, "f_exc_value")}
	if v.AtLeast(3, 11) {
		l.Frame = r.orRule(f, "f_frame", "{header; f_back; f_frame; ...} (3.11+)", header+ptr)
	}
	return l
}

// codeRule: 3.12-3.15 declare int co_flags, co_argcount, co_posonlyargcount,
// co_kwonlyargcount, co_stacksize, co_firstlineno in a row; the debug
// offsets give argcount and firstlineno, which checks the count. (3.11 has
// two int16s between co_flags and co_argcount, and its sources all give
// co_flags.)
func codeRule(r *resolver, v Version) CodeOffsets {
	const co = "PyCodeObject"
	off := r.off
	l := CodeOffsets{Argcount: off(co, "co_argcount"), Posonly: off(co, "co_posonlyargcount"), Kwonly: off(co, "co_kwonlyargcount"), Flags: off(co, "co_flags")}
	if v.AtLeast(3, 12) && l.Argcount >= 0 && (l.Flags < 0 || l.Kwonly < 0) && off(co, "co_firstlineno") == l.Argcount+16 {
		const rule = "the ints around co_argcount (3.12+), checked on co_firstlineno"
		l.Flags = r.rule(co+".co_flags", rule, l.Argcount-4)
		l.Posonly = r.rule(co+".co_posonlyargcount", rule, l.Argcount+4)
		l.Kwonly = r.rule(co+".co_kwonlyargcount", rule, l.Argcount+8)
	}
	l.Varnames, l.Cellvars, l.Freevars = off(co, "co_varnames"), off(co, "co_cellvars"), off(co, "co_freevars")
	l.LocalsplusNames, l.LocalsplusKinds = off(co, "co_localsplusnames"), off(co, "co_localspluskinds")
	return l
}
