package cpython

// Thread details as CPython records them: the attach state (3.13+), GIL
// requests, whether a threading.Thread is a daemon. And detailLayout, the
// offsets that locals, exceptions and these details read.
//
// Offsets come from the TypeSource. Where a source lacks a member (3.13+'s
// debug offsets describe few structs), it is derived from CPython's headers
// the way pyobj.go does: anchored on a member the source gives, checked
// against another where one exists, and written down next to the rule.
// A member that can be neither read nor derived is -1, and what needs it
// says it is not available.

import (
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/typesys"
)

// Thread states of PyThreadState.state (Include/internal/pycore_pystate.h,
// 3.13+; 3.13's first alphas called 2 "gc"; 3 is new in 3.14).
var threadStates = map[int64]string{0: "detached", 1: "attached", 2: "suspended", 3: "shutting down"}

// gilDropRequestBit is _PY_GIL_DROP_REQUEST_BIT of PyThreadState.eval_breaker (3.13+).
const gilDropRequestBit = 1

// detailLayout is every offset locals, exceptions and thread details read;
// -1 marks what is unknown.
type detailLayout struct {
	ptr, header int64

	// PyThreadState
	tsState, tsGILRequested, tsEvalBreaker int64 // 3.13+ (gil_requested 3.15+)
	tsCurExc                               int64 // 3.12+: current_exception
	tsCurType, tsCurValue, tsCurTB         int64 // <= 3.11: the curexc triple
	tsExcInfo                              int64 // 3.7+: the _PyErr_StackItem chain
	tsExcType, tsExcValue, tsExcTB         int64 // 3.6: the exception being handled
	// _PyErr_StackItem: exc_type and exc_traceback only before 3.11
	siType, siValue, siTB, siPrev int64

	// PyBaseExceptionObject, PyOSErrorObject
	excArgs, excNotes, excTB, excContext, excCause, excSuppress int64
	osErrno, osStrerror, osFilename, osFilename2                int64
	synMsg, synFilename, synLineno                              int64 // PySyntaxErrorObject
	ueEncoding, ueObject, ueStart, ueEnd, ueReason              int64 // PyUnicodeErrorObject
	// PyTracebackObject
	tbNext, tbFrame, tbLasti, tbLineno int64
	// PyFrameObject: f_code and f_localsplus before 3.11, f_frame after;
	// f_exc_value (3.6) the exception handled when the frame began handling one
	fCode, fFrame, fLocalsplus, fExcValue int64
	// _PyInterpreterFrame
	ifLocalsplus int64

	// PyCodeObject
	coArgcount, coPosonly, coKwonly, coFlags int64
	coVarnames, coCellvars, coFreevars       int64 // <= 3.10
	coNames, coKinds                         int64 // 3.11+: co_localsplusnames, co_localspluskinds
	// PyCellObject
	cellRef int64

	// Where each derivation came from, for errors.
	source string
}

// offsetIn returns the offset of a dotted member path of a struct of the
// type source, or -1.
func (p *Process) offsetIn(strct, path string) int64 {
	t, err := p.Types.Struct(strct)
	if err != nil {
		return -1
	}
	o, err := memberPathOffset(t, path)
	if err != nil {
		return -1
	}
	return o
}

func alignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

// newDetailLayout reads or derives every offset of detailLayout.
func newDetailLayout(p *Process) (*detailLayout, error) {
	ol, err := p.objLayout()
	if err != nil {
		return nil, err
	}
	ptr, H := ol.ptr, ol.header
	l := &detailLayout{ptr: ptr, header: H, source: p.Types.Describe()}
	off := p.offsetIn
	v := p.Version

	// --- PyThreadState ---
	ts := "PyThreadState"
	l.tsState = off(ts, "state")
	l.tsGILRequested = off(ts, "gil_requested")
	l.tsEvalBreaker = off(ts, "eval_breaker")
	status, interp, cur := off(ts, "_status"), off(ts, "interp"), off(ts, "current_frame")
	if v.AtLeast(3, 13) {
		// {prev, next, interp, uintptr_t eval_breaker, _status, ...}: eval_breaker
		// follows interp, and _status (the debug offsets give it) follows it.
		if l.tsEvalBreaker < 0 && interp >= 0 && status == interp+2*ptr {
			l.tsEvalBreaker = interp + ptr
		}
		// After the 4-byte _status: 3.13 {int _whence; int state}; 3.14 {int
		// holds_gil; int _whence; int state}; 3.15 {holds_gil, gil_requested,
		// _whence, state}. Then the ints py_recursion_remaining ... what_event
		// (six in 3.13, five since), and current_frame, which checks the count.
		if l.tsState < 0 && status >= 0 && cur >= 0 {
			state, ints := status+8, int64(6)
			switch {
			case v.Is(3, 14):
				state, ints = status+12, 5
			case v.AtLeast(3, 15):
				state, ints = status+16, 5
			}
			if alignUp(state+4+4*ints, ptr) == cur {
				l.tsState = state
			}
		}
	}
	l.tsCurExc = off(ts, "current_exception")
	if l.tsCurExc < 0 && v.AtLeast(3, 13) && cur >= 0 {
		// current_frame, c_profilefunc, c_tracefunc, c_profileobj, c_traceobj,
		// current_exception, exc_info, dict, gilstate_counter, async_exc,
		// thread_id (3.13, 3.14; 3.15 gives current_exception itself).
		if c := cur + 5*ptr; off(ts, "thread_id") == c+5*ptr {
			l.tsCurExc = c
		}
	}
	l.tsExcInfo = off(ts, "exc_info")
	if l.tsExcInfo < 0 && v.AtLeast(3, 13) && l.tsCurExc >= 0 && off(ts, "thread_id") == l.tsCurExc+5*ptr {
		l.tsExcInfo = l.tsCurExc + ptr
	}
	l.tsCurType, l.tsCurValue, l.tsCurTB = off(ts, "curexc_type"), off(ts, "curexc_value"), off(ts, "curexc_traceback")
	l.tsExcType, l.tsExcValue, l.tsExcTB = off(ts, "exc_type"), off(ts, "exc_value"), off(ts, "exc_traceback")

	// --- _PyErr_StackItem: {exc_type, exc_value, exc_traceback, previous_item}
	// (3.7-3.10), {exc_value, previous_item} (3.11+) ---
	si := "_PyErr_StackItem"
	l.siType, l.siValue, l.siTB, l.siPrev = off(si, "exc_type"), off(si, "exc_value"), off(si, "exc_traceback"), off(si, "previous_item")
	if v.AtLeast(3, 11) {
		if l.siValue < 0 {
			l.siValue = 0
		}
		if l.siPrev < 0 && l.siValue == 0 {
			l.siPrev = ptr
		}
	}

	// --- PyBaseExceptionObject: PyException_HEAD is {header; dict; args;
	// (3.11+) notes; traceback; context; cause; char suppress_context} ---
	be := "PyBaseExceptionObject"
	next := func(field string, def int64) int64 {
		if o := off(be, field); o >= 0 {
			return o
		}
		return def
	}
	l.excArgs = next("args", H+ptr)
	l.excNotes = -1
	at := l.excArgs + ptr
	if v.AtLeast(3, 11) {
		l.excNotes = next("notes", at)
		at = l.excNotes + ptr
	}
	l.excTB = next("traceback", at)
	l.excContext = next("context", l.excTB+ptr)
	l.excCause = next("cause", l.excContext+ptr)
	l.excSuppress = next("suppress_context", l.excCause+ptr)
	// The subclasses' structs start their own members right after
	// PyException_HEAD, at first.
	first := alignUp(l.excSuppress+1, ptr)
	// PyOSErrorObject: PyException_HEAD, then myerrno, strerror, filename, filename2.
	os := "PyOSErrorObject"
	l.osErrno = off(os, "myerrno")
	if l.osErrno < 0 {
		l.osErrno = first
	}
	l.osStrerror, l.osFilename, l.osFilename2 = l.osErrno+ptr, l.osErrno+2*ptr, l.osErrno+3*ptr
	if o := off(os, "filename"); o >= 0 {
		l.osStrerror, l.osFilename, l.osFilename2 = off(os, "strerror"), o, off(os, "filename2")
	}
	// PySyntaxErrorObject {msg, filename, lineno, ...}, PyUnicodeErrorObject
	// {encoding, object, Py_ssize_t start, end, reason}.
	l.synMsg, l.synFilename, l.synLineno = first, first+ptr, first+2*ptr
	if o := off("PySyntaxErrorObject", "msg"); o >= 0 {
		l.synMsg, l.synFilename, l.synLineno = o, off("PySyntaxErrorObject", "filename"), off("PySyntaxErrorObject", "lineno")
	}
	l.ueEncoding, l.ueObject, l.ueStart, l.ueEnd, l.ueReason = first, first+ptr, first+2*ptr, first+3*ptr, first+4*ptr
	if o := off("PyUnicodeErrorObject", "encoding"); o >= 0 {
		ue := "PyUnicodeErrorObject"
		l.ueEncoding, l.ueObject, l.ueStart, l.ueEnd, l.ueReason = o, off(ue, "object"), off(ue, "start"), off(ue, "end"), off(ue, "reason")
	}

	// --- PyTracebackObject: {header; tb_next; tb_frame; int tb_lasti; int tb_lineno} ---
	l.tbNext, l.tbFrame, l.tbLasti, l.tbLineno = H, H+ptr, H+2*ptr, H+2*ptr+4
	for _, name := range []string{"PyTracebackObject", "struct _traceback"} {
		if o := off(name, "tb_next"); o >= 0 {
			l.tbNext, l.tbFrame, l.tbLasti, l.tbLineno = o, off(name, "tb_frame"), off(name, "tb_lasti"), off(name, "tb_lineno")
			break
		}
	}

	// --- PyFrameObject ---
	l.fCode, l.fLocalsplus, l.fFrame = off("PyFrameObject", "f_code"), off("PyFrameObject", "f_localsplus"), -1
	l.fExcValue = off("PyFrameObject", "f_exc_value")
	if v.AtLeast(3, 11) {
		// {header; f_back; f_frame; ...} in 3.11-3.15.
		l.fFrame = off("PyFrameObject", "f_frame")
		if l.fFrame < 0 {
			l.fFrame = H + ptr
		}
	}
	l.ifLocalsplus = off("_PyInterpreterFrame", "localsplus")

	// --- PyCodeObject ---
	co := "PyCodeObject"
	l.coArgcount, l.coPosonly, l.coKwonly, l.coFlags = off(co, "co_argcount"), off(co, "co_posonlyargcount"), off(co, "co_kwonlyargcount"), off(co, "co_flags")
	if v.AtLeast(3, 11) && l.coArgcount >= 0 && (l.coFlags < 0 || l.coKwonly < 0) {
		// int co_flags, co_argcount, co_posonlyargcount, co_kwonlyargcount,
		// co_stacksize, co_firstlineno (3.11-3.15): the debug offsets give
		// argcount and firstlineno, which checks the count.
		if off(co, "co_firstlineno") == l.coArgcount+16 {
			l.coFlags, l.coPosonly, l.coKwonly = l.coArgcount-4, l.coArgcount+4, l.coArgcount+8
		}
	}
	l.coVarnames, l.coCellvars, l.coFreevars = off(co, "co_varnames"), off(co, "co_cellvars"), off(co, "co_freevars")
	l.coNames, l.coKinds = off(co, "co_localsplusnames"), off(co, "co_localspluskinds")

	// --- PyCellObject: {header; ob_ref} ---
	l.cellRef = off("PyCellObject", "ob_ref")
	if l.cellRef < 0 {
		l.cellRef = H
	}
	return l, nil
}

// ThreadDetails fills what CPython records about each thread beyond its
// stack: State, GILRequested, GILDropRequested, Daemon. Missing pieces stay
// null; the reason goes to the thread's DetailErrors when it is an error
// rather than something this version does not record.
func (p *Process) threadDetails(l *detailLayout, threads []*Thread, interp typesys.Value) {
	r := p.R
	for _, t := range threads {
		if l.tsState >= 0 {
			if s, err := r.Uint32(t.TState.Add(l.tsState)); err != nil {
				t.DetailErrors = append(t.DetailErrors, fmt.Sprintf("state: %v", err))
			} else if name, ok := threadStates[int64(int32(s))]; ok {
				t.State = name
			} else {
				t.State = fmt.Sprintf("unknown (%d)", int32(s))
			}
		}
		if l.tsGILRequested >= 0 {
			if g, err := r.Uint32(t.TState.Add(l.tsGILRequested)); err == nil {
				b := g != 0
				t.GILRequested = &b
			} else {
				t.DetailErrors = append(t.DetailErrors, fmt.Sprintf("gil_requested: %v", err))
			}
		}
		// A drop request is addressed to the thread holding the GIL.
		if t.HoldsGIL {
			if b, ok := p.gilDropRequested(l, t.TState, interp); ok {
				t.GILDropRequested = &b
			}
		}
	}
	daemons, err := p.interpreterDaemons(interp)
	if err != nil {
		return // threading not imported, or unreadable: daemon stays unknown
	}
	for _, t := range threads {
		if d, ok := daemons[t.ThreadID]; ok {
			d := d
			t.Daemon = &d
		}
	}
}

// gilDropRequested reads whether another thread asked the GIL holder to
// drop the GIL: the holder's eval_breaker bit (3.13+), or the interpreter's
// (3.9-3.12) or runtime's (3.7, 3.8) ceval.gil_drop_request. 3.6 keeps it
// in a static of ceval_gil.h: not known.
func (p *Process) gilDropRequested(l *detailLayout, ts core.Address, interp typesys.Value) (bool, bool) {
	if p.flavor.GILDrop == abi.GILDropEvalBreaker {
		if l.tsEvalBreaker < 0 {
			return false, false
		}
		eb, err := p.R.Ptr(ts.Add(l.tsEvalBreaker))
		return err == nil && uint64(eb)&gilDropRequestBit != 0, err == nil
	}
	var v typesys.Value
	var err error
	switch p.flavor.GILDrop {
	case abi.GILDropInInterp:
		v, err = interp.Path("ceval.gil_drop_request")
	case abi.GILDropInRuntime:
		v, err = p.Runtime.Path("ceval.gil_drop_request")
	default:
		return false, false
	}
	if err != nil {
		return false, false
	}
	n, err := rawInt(v)
	return err == nil && n != 0, err == nil
}

// interpreterDaemons maps the idents of one interpreter's threading._active
// to Thread._daemonic.
func (p *Process) interpreterDaemons(interp typesys.Value) (map[uint64]bool, error) {
	r, err := p.reader()
	if err != nil {
		return nil, err
	}
	items, err := r.threadingActive(interp)
	if err != nil {
		return nil, err
	}
	out := map[uint64]bool{}
	for _, it := range items {
		ident, err := r.intValue(it.key)
		if err != nil || ident.Sign() < 0 || !ident.IsUint64() {
			continue
		}
		d, ok := r.attr(it.value, "_daemonic")
		if !ok {
			continue
		}
		out[ident.Uint64()] = r.isTrue(d)
	}
	return out, nil
}
