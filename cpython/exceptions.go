package cpython

// Exceptions a thread was raising or handling, with their tracebacks and
// chains, read the way Python's traceback module would print them.
//
// Where CPython keeps them:
//   - being raised: tstate->current_exception (3.12+), or the curexc_type /
//     curexc_value / curexc_traceback triple (<= 3.11), whose value may not be
//     normalized yet (a str or tuple of arguments rather than an instance);
//   - being handled (sys.exc_info()): tstate->exc_info, a chain of
//     _PyErr_StackItem through previous_item: the thread's own item and one
//     per running generator or coroutine; items with no exception (NULL or
//     None) are skipped. 3.6 has no chain: tstate->exc_value, then the
//     f_exc_value each frame saved when it began handling an exception.
//
// An exception's message is str(exc) as CPython computes it for the builtin
// classes: BaseException (no args: ""; one: str(args[0]); more: repr(args)),
// KeyError (repr of its one argument), OSError ("[Errno N] strerror:
// 'filename'"), SyntaxError ("msg (file.py, line N)"), the UnicodeError
// family ("'utf-8' codec can't decode byte 0xff in position 0: ...") and
// exception groups ("msg (N sub-exceptions)"). str() of an argument is its
// text for str, the message for an exception, and its repr otherwise. Classes
// that override __str__ in Python may differ from what Python would print: a
// core cannot run Python code.
//
// Exception groups (3.11+) carry their sub-exceptions, read and printed as
// the traceback module does: at most MaxGroupWidth of them per group (package
// render prints them, nested groups to max_group_depth, inside the "| "
// margins Python draws).

import (
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"
	"strings"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// Exception is one exception object, with its traceback and chain.
type Exception struct {
	Address core.Address
	// Type is the class as the traceback module prints it: "ValueError",
	// "mypkg.mod.MyError" (the module is left out for builtins and __main__).
	Type    string
	Message string // str(exc); see the package notes
	Repr    string
	// Traceback is exc.__traceback__, outermost call first, as Python prints it.
	Traceback []TracebackEntry
	// TracebackCut says how many entries past the bound were left out.
	TracebackCut int
	Notes        []string // __notes__ (3.11+)
	Cause        *Exception
	Context      *Exception
	// Exceptions are an exception group's first sub-exceptions (at most
	// MaxGroupWidth, as Python prints them); ExceptionsTotal counts them all.
	// Both are absent for exceptions that are not groups.
	Exceptions      []*Exception
	ExceptionsTotal int
	// Syntax is where a SyntaxError (or subclass) points, which the
	// traceback module prints instead of its str().
	Syntax *SyntaxDetail
	// SuppressContext is __suppress_context__ (set by raise ... from ...).
	SuppressContext bool
	// Seen marks an exception already met higher in the same chain (a
	// cycle): Python prints it once, and so does pycore; only Address and
	// Type are filled in.
	Seen bool
	// Unnormalized: the exception was still a (type, value) pair, as <= 3.11
	// keeps it while raising; Address is then the value's (0 if none).
	Unnormalized bool
	Error        string // what could not be read
}

// SyntaxDetail is a SyntaxError's msg, filename and lineno attributes, as
// str() makes them; a nil pointer is None.
type SyntaxDetail struct {
	Msg      *string
	Filename *string
	Lineno   *string
	// Located says whether the traceback module prints a 'File "...", line
	// N' line for it: when it has a lineno, and always before 3.8.
	Located bool
}

// TracebackEntry is one entry of a traceback.
type TracebackEntry struct {
	File     string
	Function string // co_name, as the traceback module prints it
	Line     int
	Frame    core.Address // the frame object
	Error    string
}

// Bounds on exception walks.
const (
	maxExcChain      = 64   // exceptions in one cause/context chain, and exc_info items
	maxTraceback     = 4096 // entries of one traceback
	maxMessageChars  = 4096
	maxMessageNested = 8 // str() of an exception whose argument is an exception ...
	// maxExcTree bounds the exceptions read for one exception, its chains and
	// its groups' members together.
	maxExcTree = 1024
	// MaxGroupWidth is the traceback module's default max_group_width: the
	// sub-exceptions of a group read here and printed by package render.
	MaxGroupWidth = 15
)

type excReader struct {
	p *Process
	l *detailLayout
	r *pyobj.Reader
	// rend renders the reprs of exception values and notes.
	rend *pyobj.Renderer
	// fExec is the offset of the code object in _PyInterpreterFrame (3.11+).
	fExec int64
}

func (p *Process) newExcReader(l *detailLayout) (*excReader, error) {
	rd, err := p.reader()
	if err != nil {
		return nil, err
	}
	er := &excReader{p: p, l: l, r: rd, rend: rd.NewRenderer(DefaultReprOptions.WithDefaults(), 1<<30), fExec: -1}
	if p.flavor.Frames == abi.InterpreterFrames {
		er.fExec = p.offsetIn("_PyInterpreterFrame", p.flavor.ExecMember)
	}
	return er, nil
}

// threadExceptions fills t.Exception and t.HandledExceptions.
func (er *excReader) threadExceptions(t *Thread) {
	l, R := er.l, er.p.R
	ts := t.TState
	t.HandledExceptions = []*Exception{}
	note := func(format string, args ...any) {
		t.DetailErrors = append(t.DetailErrors, fmt.Sprintf(format, args...))
	}
	switch {
	case l.ThreadState.CurrentException >= 0:
		exc, err := R.Ptr(ts.Add(l.ThreadState.CurrentException))
		if err != nil {
			note("current_exception: %v", err)
		} else if exc != 0 {
			t.Exception = er.read(exc, 0, newExcWalk(), false)
		}
	case l.ThreadState.CurExcType >= 0 && l.ThreadState.CurExcValue >= 0 && l.ThreadState.CurExcTraceback >= 0:
		typ, err1 := R.Ptr(ts.Add(l.ThreadState.CurExcType))
		val, err2 := R.Ptr(ts.Add(l.ThreadState.CurExcValue))
		tb, err3 := R.Ptr(ts.Add(l.ThreadState.CurExcTraceback))
		if err1 != nil || err2 != nil || err3 != nil {
			note("curexc_type, curexc_value, curexc_traceback: %v %v %v", err1, err2, err3)
		} else if typ != 0 {
			t.Exception = er.readTriple(typ, val, tb)
		}
	default:
		note("the exception being raised: %s does not say where PyThreadState keeps it", l.Source)
	}

	switch {
	case l.ThreadState.ExcInfo >= 0 && l.ErrStackItem.ExcValue >= 0 && l.ErrStackItem.Previous >= 0:
		item, err := R.Ptr(ts.Add(l.ThreadState.ExcInfo))
		seen := map[core.Address]bool{}
		for n := 0; item != 0; n++ {
			if err != nil {
				note("exc_info: %v", err)
				break
			}
			if seen[item] || n >= maxExcChain {
				note("exc_info chain loops or exceeds %d items at %#x", maxExcChain, uint64(item))
				break
			}
			seen[item] = true
			v, verr := R.Ptr(item.Add(l.ErrStackItem.ExcValue))
			if verr != nil {
				note("exc_info item at %#x: exc_value: %v", uint64(item), verr)
				break
			}
			if v != 0 && !er.r.IsNone(v) {
				t.HandledExceptions = append(t.HandledExceptions, er.read(v, 0, newExcWalk(), false))
			}
			item, err = R.Ptr(item.Add(l.ErrStackItem.Previous))
		}
	case l.ThreadState.ExcValue >= 0:
		// 3.6: the innermost in the thread state; each frame that began
		// handling an exception saved the one handled before (a running
		// generator's frame, its caller's) in f_exc_value.
		v, err := R.Ptr(ts.Add(l.ThreadState.ExcValue))
		if err != nil {
			note("exc_value: %v", err)
			break
		}
		values := []core.Address{v}
		if l.FrameObject.ExcValue >= 0 {
			for _, f := range t.Frames {
				if fv, err := R.Ptr(f.Address.Add(l.FrameObject.ExcValue)); err == nil {
					values = append(values, fv)
				}
			}
		}
		seen := map[core.Address]bool{}
		for _, v := range values {
			if v != 0 && !seen[v] && !er.r.IsNone(v) && len(seen) < maxExcChain {
				seen[v] = true
				t.HandledExceptions = append(t.HandledExceptions, er.read(v, 0, newExcWalk(), false))
			}
		}
	default:
		note("the exceptions being handled: %s does not say where PyThreadState keeps them", l.Source)
	}
}

// isException reports whether the object at a is an exception instance.
func (er *excReader) isException(a core.Address) (*pyobj.TypeInfo, core.Address, error) {
	tp, err := er.p.R.Ptr(a.Add(er.r.L.Object.Type))
	if err != nil {
		return nil, 0, fmt.Errorf("object at %#x: ob_type: %w", uint64(a), err)
	}
	ti := er.r.TypeOf(tp)
	if ti.Err != nil {
		return nil, 0, ti.Err
	}
	if ti.Flags&pyobj.TPFlagsBaseExcSubcl == 0 {
		return ti, tp, fmt.Errorf("object at %#x is a %s, not an exception", uint64(a), ti.Name)
	}
	return ti, tp, nil
}

// typeName is a class's name as the traceback module prints it.
func (er *excReader) typeName(tp core.Address) string {
	mod, qual, err := er.r.TypeNames(tp)
	if err != nil || qual == "" {
		return er.r.TypeOf(tp).Name
	}
	if mod == "" || mod == "builtins" || mod == "__main__" {
		return qual
	}
	return mod + "." + qual
}

// excWalk is the state of reading one exception tree: the exceptions met
// (Python prints a cause or context met before only by name) and how many
// have been read, which bounds the walk however its members repeat.
type excWalk struct {
	seen map[core.Address]bool
	read int
}

func newExcWalk() *excWalk { return &excWalk{seen: map[core.Address]bool{}} }

// read reads the exception at a and, recursively, its cause and context and
// a group's members. A member is read in full even if met before, as the
// traceback module does (member says so).
func (er *excReader) read(a core.Address, depth int, w *excWalk, member bool) *Exception {
	e := &Exception{Address: a, Traceback: []TracebackEntry{}}
	ti, tp, err := er.isException(a)
	if err != nil {
		e.Error = err.Error()
		if ti != nil {
			e.Type = ti.Name
		}
		return e
	}
	e.Type = er.typeName(tp)
	if w.seen[a] && !member {
		e.Seen = true
		return e
	}
	w.seen[a] = true
	w.read++
	l, R := er.l, er.p.R
	e.Message, err = er.message(a, ti, tp, 0)
	if err != nil {
		e.Error = fmt.Sprintf("message: %v", err)
	}
	e.Repr = er.rend.Render(a, 0).Repr
	if er.excTypeNamed(tp, "SyntaxError") {
		e.Syntax = er.syntaxDetail(a)
	}
	if tb, err := R.Ptr(a.Add(l.Exception.Traceback)); err != nil {
		e.Error = joinErr(e.Error, fmt.Sprintf("__traceback__: %v", err))
	} else {
		e.Traceback, e.TracebackCut = er.traceback(tb)
	}
	if l.Exception.Notes >= 0 {
		e.Notes = er.notes(a)
	}
	if s, err := R.Uint8(a.Add(l.Exception.SuppressContext)); err == nil {
		e.SuppressContext = s != 0
	}
	if depth+1 >= maxExcChain {
		e.Error = joinErr(e.Error, fmt.Sprintf("chain longer than %d exceptions: cut here", maxExcChain))
		return e
	}
	if er.excTypeNamed(tp, "BaseExceptionGroup") {
		er.readGroup(e, a, depth, w)
	}
	for _, link := range []struct {
		off  int64
		name string
		dst  **Exception
	}{{l.Exception.Cause, "__cause__", &e.Cause}, {l.Exception.Context, "__context__", &e.Context}} {
		c, err := R.Ptr(a.Add(link.off))
		if err != nil {
			e.Error = joinErr(e.Error, fmt.Sprintf("%s: %v", link.name, err))
			continue
		}
		if c != 0 && !er.r.IsNone(c) {
			if w.read >= maxExcTree && !w.seen[c] {
				e.Error = joinErr(e.Error, fmt.Sprintf("%s: more than %d exceptions in this tree: cut here", link.name, maxExcTree))
				continue
			}
			*link.dst = er.read(c, depth+1, w, false)
		}
	}
	return e
}

// readGroup reads the members of the exception group at a into e.
func (er *excReader) readGroup(e *Exception, a core.Address, depth int, w *excWalk) {
	excs, err := er.p.R.Ptr(a.Add(er.r.L.ExcGroup.Excs))
	if err != nil {
		e.Error = joinErr(e.Error, fmt.Sprintf("exception group excs: %v", err))
		return
	}
	if excs == 0 {
		e.Error = joinErr(e.Error, "exception group with NULL excs")
		return
	}
	n, err := er.r.TupleLen(excs, pyobj.HardMaxItems)
	if err != nil {
		e.Error = joinErr(e.Error, fmt.Sprintf("exception group excs: %v", err))
		return
	}
	members, err := er.r.TupleHead(excs, min(n, MaxGroupWidth))
	if err != nil {
		e.Error = joinErr(e.Error, fmt.Sprintf("exception group excs: %v", err))
		return
	}
	e.ExceptionsTotal = int(n)
	e.Exceptions = []*Exception{}
	for _, m := range members {
		if w.read >= maxExcTree {
			e.Error = joinErr(e.Error, fmt.Sprintf("more than %d exceptions in this tree: members cut here", maxExcTree))
			return
		}
		e.Exceptions = append(e.Exceptions, er.read(m, depth+1, w, true))
	}
}

// readTriple reads a <= 3.11 curexc triple. The value is usually already
// an instance; while an exception is being raised from C it may still be the
// argument(s) the instance will be made from.
func (er *excReader) readTriple(typ, val, tb core.Address) *Exception {
	if val != 0 {
		if _, _, err := er.isException(val); err == nil {
			e := er.read(val, 0, newExcWalk(), false)
			if tb != 0 && e.Error == "" {
				// The traceback collected so far; PyErr_NormalizeException
				// attaches it to the instance later.
				e.Traceback, e.TracebackCut = er.traceback(tb)
			}
			return e
		}
	}
	e := &Exception{Address: val, Unnormalized: true, Traceback: []TracebackEntry{}}
	e.Type = er.typeName(typ)
	switch {
	case val == 0 || er.r.IsNone(val):
	default:
		args := []core.Address{val}
		if tp, err := er.p.R.Ptr(val.Add(er.r.L.Object.Type)); err == nil {
			if ti := er.r.TypeOf(tp); ti.Err == nil && ti.Kind == pyobj.KindTuple {
				if items, err := er.r.TupleItems(val, pyobj.HardMaxItems); err == nil {
					args = items
				}
			}
		}
		msg, err := er.argsMessage(val, args, 0)
		if err != nil {
			e.Error = fmt.Sprintf("message: %v", err)
		}
		e.Message = msg
		e.Repr = e.Type + "(" + er.rend.Render(val, 0).Repr + ")"
	}
	if tb != 0 {
		e.Traceback, e.TracebackCut = er.traceback(tb)
	}
	return e
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// notes reads __notes__: the struct's notes member, else the instance dict.
func (er *excReader) notes(a core.Address) []string {
	n, err := er.p.R.Ptr(a.Add(er.l.Exception.Notes))
	if err != nil {
		return nil
	}
	if n == 0 {
		var ok bool
		if n, ok = er.r.Attr(a, "__notes__"); !ok {
			return nil
		}
	}
	o := er.rend.Render(n, 0)
	items, ok := o.Value.([]Object)
	if !ok {
		return nil
	}
	var out []string
	for _, it := range items {
		if s, ok := it.Value.(string); ok && it.Type == "str" {
			out = append(out, s)
		} else {
			out = append(out, it.Repr)
		}
	}
	return out
}

// traceback follows tb_next from the outermost entry.
func (er *excReader) traceback(tb core.Address) ([]TracebackEntry, int) {
	out := []TracebackEntry{}
	seen := map[core.Address]bool{}
	cut := 0
	for tb != 0 {
		if seen[tb] {
			out = append(out, TracebackEntry{Error: fmt.Sprintf("traceback loops at %#x", uint64(tb))})
			break
		}
		seen[tb] = true
		if len(out) >= maxTraceback {
			cut++
		} else {
			out = append(out, er.entry(tb))
		}
		next, err := er.p.R.Ptr(tb.Add(er.l.Traceback.Next))
		if err != nil {
			out = append(out, TracebackEntry{Error: fmt.Sprintf("traceback at %#x: tb_next: %v", uint64(tb), err)})
			break
		}
		tb = next
	}
	return out, cut
}

// entry reads one traceback object: its frame's code, and its line (3.12+
// leaves tb_lineno -1 until asked: then from tb_lasti, in bytes).
func (er *excReader) entry(tb core.Address) TracebackEntry {
	R, l := er.p.R, er.l
	fail := func(err error) TracebackEntry {
		return TracebackEntry{Error: fmt.Sprintf("traceback at %#x: %v", uint64(tb), err)}
	}
	frame, err := R.Ptr(tb.Add(l.Traceback.Frame))
	if err != nil {
		return fail(fmt.Errorf("tb_frame: %w", err))
	}
	e := TracebackEntry{Frame: frame}
	lineno, err := R.Uint32(tb.Add(l.Traceback.Lineno))
	if err != nil {
		return fail(fmt.Errorf("tb_lineno: %w", err))
	}
	lasti, err := R.Uint32(tb.Add(l.Traceback.Lasti))
	if err != nil {
		return fail(fmt.Errorf("tb_lasti: %w", err))
	}
	code, err := er.frameCode(frame)
	if err != nil {
		return fail(err)
	}
	ci, err := er.p.code(code)
	if err != nil {
		return fail(err)
	}
	e.File, e.Function = ci.file, ci.name
	if n := int32(lineno); n >= 0 {
		e.Line = int(n)
	} else {
		pos := int64(int32(lasti))
		if er.p.flavor.Frames == abi.InterpreterFrames {
			pos /= 2
		}
		e.Line = er.p.line(ci, pos)
	}
	return e
}

// frameCode returns the code object of a frame object.
func (er *excReader) frameCode(frame core.Address) (core.Address, error) {
	R, l := er.p.R, er.l
	if frame == 0 {
		return 0, fmt.Errorf("NULL tb_frame")
	}
	if er.p.flavor.Frames == abi.FrameObjects {
		if l.FrameObject.Code < 0 {
			return 0, fmt.Errorf("%s does not say where PyFrameObject.f_code is", l.Source)
		}
		c, err := R.Ptr(frame.Add(l.FrameObject.Code))
		if err != nil {
			return 0, fmt.Errorf("frame at %#x: f_code: %w", uint64(frame), err)
		}
		return c, nil
	}
	if er.fExec < 0 {
		return 0, fmt.Errorf("%s does not say where _PyInterpreterFrame.%s is", l.Source, er.p.flavor.ExecMember)
	}
	iframe, err := R.Ptr(frame.Add(l.FrameObject.Frame))
	if err != nil || iframe == 0 {
		return 0, fmt.Errorf("frame at %#x: f_frame: %v", uint64(frame), err)
	}
	raw, err := R.Ptr(iframe.Add(er.fExec))
	if err != nil {
		return 0, fmt.Errorf("frame at %#x: %s: %w", uint64(iframe), er.p.flavor.ExecMember, err)
	}
	return core.Address(uint64(raw) &^ er.p.flavor.StackRefTagBits), nil
}

// --- str(exc) ---

// excTypeNamed reports whether the type at tp is, or derives from, the
// static builtin exception type called name.
func (er *excReader) excTypeNamed(tp core.Address, name string) bool {
	cur := tp
	for i := 0; i < pyobj.MaxTypeChain && cur != 0; i++ {
		ti := er.r.TypeOf(cur)
		if ti.Err != nil {
			return false
		}
		if !ti.Heap && ti.Name == name {
			return true
		}
		if er.r.L.Type.Base < 0 {
			return false
		}
		b, err := er.r.Ptr(cur.Add(er.r.L.Type.Base))
		if err != nil {
			return false
		}
		cur = b
	}
	return false
}

// message is str(exc) for the exception at a.
func (er *excReader) message(a core.Address, ti *pyobj.TypeInfo, tp core.Address, nested int) (string, error) {
	R, l := er.p.R, er.l
	argsObj, err := R.Ptr(a.Add(l.Exception.Args))
	if err != nil {
		return "", fmt.Errorf("args: %w", err)
	}
	var args []core.Address
	if argsObj != 0 {
		if args, err = er.r.TupleItems(argsObj, pyobj.HardMaxItems); err != nil {
			return "", fmt.Errorf("args: %w", err)
		}
	}
	if er.excTypeNamed(tp, "OSError") {
		errno, strerror, fn, fn2 := er.member(a, l.OSError.Errno), er.member(a, l.OSError.Strerror), er.member(a, l.OSError.Filename), er.member(a, l.OSError.Filename2)
		switch {
		case fn != 0 && fn2 != 0:
			return fmt.Sprintf("[Errno %s] %s: %s -> %s", er.str(errno, nested), er.str(strerror, nested), er.repr(fn), er.repr(fn2)), nil
		case fn != 0:
			return fmt.Sprintf("[Errno %s] %s: %s", er.str(errno, nested), er.str(strerror, nested), er.repr(fn)), nil
		case errno != 0 && strerror != 0:
			return fmt.Sprintf("[Errno %s] %s", er.str(errno, nested), er.str(strerror, nested)), nil
		}
	}
	if er.excTypeNamed(tp, "BaseExceptionGroup") {
		// BaseExceptionGroup_str: "msg (N sub-exception[s])".
		msg, err1 := R.Ptr(a.Add(er.r.L.ExcGroup.Msg))
		excs, err2 := R.Ptr(a.Add(er.r.L.ExcGroup.Excs))
		if err1 == nil && err2 == nil && msg != 0 && excs != 0 {
			if n, err := er.r.TupleLen(excs, pyobj.HardMaxItems); err == nil {
				plural := "s"
				if n == 1 {
					plural = ""
				}
				return fmt.Sprintf("%s (%d sub-exception%s)", er.str(msg, nested), n, plural), nil
			}
		}
	}
	if er.excTypeNamed(tp, "SyntaxError") {
		if m, ok := er.syntaxStr(a, nested); ok {
			return m, nil
		}
	}
	for _, kind := range []string{"UnicodeEncodeError", "UnicodeDecodeError", "UnicodeTranslateError"} {
		if er.excTypeNamed(tp, kind) {
			if m, ok := er.unicodeErrorStr(a, kind, nested); ok {
				return m, nil
			}
			break
		}
	}
	if len(args) == 1 && er.excTypeNamed(tp, "KeyError") {
		return er.repr(args[0]), nil
	}
	return er.argsMessage(argsObj, args, nested)
}

// argsMessage is BaseException_str over args (whose tuple is at tuple).
func (er *excReader) argsMessage(tuple core.Address, args []core.Address, nested int) (string, error) {
	switch len(args) {
	case 0:
		return "", nil
	case 1:
		return er.str(args[0], nested), nil
	}
	return er.repr(tuple), nil
}

// str is str(obj) for the objects the renderer knows.
func (er *excReader) str(obj core.Address, nested int) string {
	if obj == 0 {
		return "<NULL>"
	}
	tp, err := er.p.R.Ptr(obj.Add(er.r.L.Object.Type))
	if err != nil {
		return pyobj.Unreadable(obj, err)
	}
	ti := er.r.TypeOf(tp)
	switch {
	case ti.Err != nil:
		return pyobj.Unreadable(obj, ti.Err)
	case ti.Kind == pyobj.KindStr:
		cps, total, err := er.r.StrCodepoints(obj, maxMessageChars)
		if err != nil {
			return pyobj.Unreadable(obj, err)
		}
		s := pyobj.CodepointsToString(cps)
		if int64(len(cps)) < total {
			s += "..."
		}
		return s
	case ti.Flags&pyobj.TPFlagsBaseExcSubcl != 0 && nested < maxMessageNested:
		m, err := er.message(obj, ti, tp, nested+1)
		if err != nil {
			return pyobj.Unreadable(obj, err)
		}
		return m
	}
	return er.repr(obj)
}

// member reads an object pointer member of the exception at a; 0 for NULL,
// None or unreadable.
func (er *excReader) member(a core.Address, off int64) core.Address {
	v, err := er.p.R.Ptr(a.Add(off))
	if err != nil || v == 0 || er.r.IsNone(v) {
		return 0
	}
	return v
}

// exactInt is the value of obj if it is exactly an int (PyLong_CheckExact)
// that fits in 64 bits.
func (er *excReader) exactInt(obj core.Address) (int64, bool) {
	if obj == 0 {
		return 0, false
	}
	tp, err := er.p.R.Ptr(obj.Add(er.r.L.Object.Type))
	if err != nil {
		return 0, false
	}
	if ti := er.r.TypeOf(tp); ti.Err != nil || ti.Kind != pyobj.KindInt || !ti.Exact {
		return 0, false
	}
	v, err := er.r.IntValue(obj)
	if err != nil || !v.IsInt64() {
		return 0, false
	}
	return v.Int64(), true
}

// isStr reports whether obj is a str (PyUnicode_Check: subclasses too).
func (er *excReader) isStr(obj core.Address) bool {
	if obj == 0 {
		return false
	}
	tp, err := er.p.R.Ptr(obj.Add(er.r.L.Object.Type))
	return err == nil && er.r.TypeOf(tp).Kind == pyobj.KindStr
}

// syntaxStr is SyntaxError_str: "msg (file.py, line N)", the file's
// basename and the line when they are a str and an int.
func (er *excReader) syntaxStr(a core.Address, nested int) (string, bool) {
	l := er.l
	if l.SyntaxError.Msg < 0 || l.SyntaxError.Filename < 0 || l.SyntaxError.Lineno < 0 {
		return "", false
	}
	msg := "None"
	if m := er.member(a, l.SyntaxError.Msg); m != 0 {
		msg = er.str(m, nested)
	}
	file, haveFile := "", false
	if f := er.member(a, l.SyntaxError.Filename); er.isStr(f) {
		file, haveFile = er.str(f, nested), true
		file = file[strings.LastIndexByte(file, '/')+1:]
	}
	line, haveLine := er.exactInt(er.member(a, l.SyntaxError.Lineno))
	switch {
	case haveFile && haveLine:
		return fmt.Sprintf("%s (%s, line %d)", msg, file, line), true
	case haveFile:
		return fmt.Sprintf("%s (%s)", msg, file), true
	case haveLine:
		return fmt.Sprintf("%s (line %d)", msg, line), true
	}
	return msg, true
}

// syntaxDetail reads what the traceback module shows of a SyntaxError.
func (er *excReader) syntaxDetail(a core.Address) *SyntaxDetail {
	l := er.l
	if l.SyntaxError.Msg < 0 || l.SyntaxError.Filename < 0 || l.SyntaxError.Lineno < 0 {
		return nil
	}
	d := &SyntaxDetail{}
	for _, f := range []struct {
		off int64
		dst **string
	}{{l.SyntaxError.Msg, &d.Msg}, {l.SyntaxError.Filename, &d.Filename}, {l.SyntaxError.Lineno, &d.Lineno}} {
		if v := er.member(a, f.off); v != 0 {
			s := er.str(v, 0)
			*f.dst = &s
		}
	}
	d.Located = d.Lineno != nil || er.p.flavor.Repr.SyntaxErrorLineOptional
	return d
}

// unicodeErrorStr is str() of a UnicodeEncodeError, UnicodeDecodeError or
// UnicodeTranslateError: the offending character or byte when there is
// one, else the range of positions.
func (er *excReader) unicodeErrorStr(a core.Address, kind string, nested int) (string, bool) {
	l, R := er.l, er.p.R
	if l.UnicodeError.Object < 0 || l.UnicodeError.Start < 0 || l.UnicodeError.End < 0 {
		return "", false
	}
	object := er.member(a, l.UnicodeError.Object)
	if object == 0 {
		return "", true // not initialized: CPython prints nothing either
	}
	start, err1 := er.r.I64(a.Add(l.UnicodeError.Start))
	end, err2 := er.r.I64(a.Add(l.UnicodeError.End))
	if err1 != nil || err2 != nil {
		return "", false
	}
	strOf := func(off int64) string {
		if v, err := R.Ptr(a.Add(off)); err == nil && v != 0 {
			return er.str(v, nested)
		}
		return "<NULL>"
	}
	reason, encoding := strOf(l.UnicodeError.Reason), strOf(l.UnicodeError.Encoding)
	single := end == start+1 && start >= 0
	switch kind {
	case "UnicodeDecodeError":
		if single {
			if b, ok := er.byteAt(object, start); ok {
				return fmt.Sprintf("'%s' codec can't decode byte 0x%02x in position %d: %s", encoding, b, start, reason), true
			}
		}
		return fmt.Sprintf("'%s' codec can't decode bytes in position %d-%d: %s", encoding, start, end-1, reason), true
	default:
		what := fmt.Sprintf("'%s' codec can't encode", encoding)
		if kind == "UnicodeTranslateError" {
			what = "can't translate"
		}
		if single {
			if c, err := er.r.StrCharAt(object, start); err == nil {
				var esc string
				switch {
				case c <= 0xff:
					esc = fmt.Sprintf("\\x%02x", c)
				case c <= 0xffff:
					esc = fmt.Sprintf("\\u%04x", c)
				default:
					esc = fmt.Sprintf("\\U%08x", c)
				}
				return fmt.Sprintf("%s character '%s' in position %d: %s", what, esc, start, reason), true
			}
		}
		return fmt.Sprintf("%s characters in position %d-%d: %s", what, start, end-1, reason), true
	}
}

// byteAt reads byte i of the bytes object at obj, if it has one.
func (er *excReader) byteAt(obj core.Address, i int64) (byte, bool) {
	sl := er.p.codeRd.layout
	n, err := er.r.I64(obj.Add(sl.BytesSize))
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	b, err := er.p.R.Uint8(obj.Add(sl.BytesData + i))
	return b, err == nil
}

func (er *excReader) repr(obj core.Address) string {
	return er.rend.Render(obj, 0).Repr
}
