package cpython

// Arguments and local variables of Python frames, read from the frame's
// fast locals ("localsplus"): PyFrameObject.f_localsplus up to 3.10,
// _PyInterpreterFrame.localsplus from 3.11.
//
// Names and kinds come from the code object:
//   - <= 3.10: co_varnames (co_nlocals slots), then co_cellvars (cells), then
//     co_freevars (cells from the closure). An argument that is also a cell
//     variable has its slot cleared when the frame starts and its value moved
//     into the cell (co_cell2arg): it is shown once, as the argument, with the
//     cell's contents.
//   - 3.11+: co_localsplusnames and co_localspluskinds, one entry per slot;
//     cell and free slots hold a cell once MAKE_CELL / COPY_FREE_VARS ran
//     (before that a cell slot of an argument still holds the argument).
//   - The first co_argcount + co_kwonlyargcount (+1 for *args, +1 for
//     **kwargs, from CO_VARARGS / CO_VARKEYWORDS) slots are the arguments;
//     the first co_posonlyargcount of them are positional-only.
//
// 3.14+ slots are _PyStackRef: the low bits tag the reference (masked off),
// and bits 0b11 mark an int stored in the reference itself.
//
// A slot that is NULL, or a cell that is empty, is an unbound variable: it
// is listed with Unbound set (and shown as <unbound>), so that a reader sees
// every variable the function has. Module and class bodies keep their names
// in a dict (f_locals), not in fast locals: no locals are listed for them.

import (
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"
	"strconv"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// Local is one argument or local variable of a frame.
type Local struct {
	Name string
	// Kind is where the variable lives: "local" (a fast local), "cell" (a
	// cell of this frame, shared with inner functions) or "free" (a cell
	// from the enclosing function's closure). Cells show their contents.
	Kind string
	// Argument is how the variable is passed when it is an argument, in
	// inspect's terms: "positional-only", "positional", "keyword-only",
	// "var-positional" (*args) or "var-keyword" (**kwargs); "" otherwise.
	Argument string
	// Unbound: the variable has no value yet (or was deleted).
	Unbound bool
	// Value is the variable's value, within the snapshot's repr limits; its
	// Error says why it could not be read.
	Value *Object
}

// co_flags bits and co_localspluskinds bits used here (Include/cpython/code.h,
// Include/internal/pycore_code.h).
const (
	coOptimized   = 0x1
	coVarargs     = 0x4
	coVarkeywords = 0x8
	coFastHidden  = 0x10
	coFastLocal   = 0x20
	coFastCell    = 0x40
	coFastFree    = 0x80
)

// Bounds on what one frame's locals read.
const (
	maxLocalsPerFrame = 1 << 14
	maxVarNameChars   = 1024
)

// codeVar is one variable of a code object, in display order.
type codeVar struct {
	name     string
	kind     string // "local", "cell", "free"
	argument string
	slot     int64 // index in the frame's localsplus
	hidden   bool  // 3.12+ CO_FAST_HIDDEN: an inlined comprehension's variable
}

// codeVars is what a code object says about its variables.
type codeVars struct {
	vars []codeVar
	none bool // module or class body: names live in a dict
	err  error
}

// localsReader reads locals for one snapshot, caching code objects.
type localsReader struct {
	p     *Process
	l     *detailLayout
	r     *pyobj.Reader
	opts  ReprOptions
	codes map[core.Address]*codeVars
	cell  core.Address // &PyCell_Type, 0 if unknown
}

func (p *Process) newLocalsReader(l *detailLayout, opts ReprOptions) (*localsReader, error) {
	rd, err := p.reader()
	if err != nil {
		return nil, err
	}
	lr := &localsReader{p: p, l: l, r: rd, opts: opts,
		codes: map[core.Address]*codeVars{}}
	if p.Syms != nil {
		if s, ok := p.lookup("PyCell_Type"); ok {
			lr.cell = s.Addr
		}
	}
	return lr, nil
}

// frameLocals fills f.Locals (or f.LocalsError).
func (lr *localsReader) frameLocals(f *Frame) {
	cv := lr.vars(f.Code)
	if cv.err != nil {
		f.LocalsError = cv.err.Error()
		return
	}
	if cv.none {
		return
	}
	base, err := lr.slotsBase(f.Address)
	if err != nil {
		f.LocalsError = err.Error()
		return
	}
	out := make([]Local, 0, len(cv.vars))
	for _, v := range cv.vars {
		loc := Local{Name: v.name, Kind: v.kind, Argument: v.argument}
		obj, unbound := lr.slotValue(base, v)
		if unbound {
			if v.hidden {
				continue // a comprehension's variable outside the comprehension
			}
			loc.Unbound = true
		} else {
			loc.Value = obj
		}
		out = append(out, loc)
	}
	f.Locals = out
}

// slotsBase is the address of a frame's first fast local.
func (lr *localsReader) slotsBase(frame core.Address) (core.Address, error) {
	off := lr.l.InterpreterFrame.Localsplus
	what := "_PyInterpreterFrame.localsplus"
	if lr.p.flavor.Frames == abi.FrameObjects {
		off, what = lr.l.FrameObject.Localsplus, "PyFrameObject.f_localsplus"
	}
	if off < 0 {
		return 0, fmt.Errorf("locals: %s does not say where %s is", lr.l.Source, what)
	}
	return frame.Add(off), nil
}

// slotValue reads one variable; unbound reports an empty slot or cell.
func (lr *localsReader) slotValue(base core.Address, v codeVar) (obj *Object, unbound bool) {
	at := base.Add(v.slot * lr.l.Ptr)
	raw, err := lr.p.R.Ptr(at)
	if err != nil {
		return &Object{Address: at, Repr: pyobj.Unreadable(at, err), Error: fmt.Sprintf("slot %d at %#x: %v", v.slot, uint64(at), err)}, false
	}
	if tag := lr.p.flavor.StackRefTagBits; tag != 0 {
		if uint64(raw)&3 == 3 {
			// A tagged int: the value is the reference shifted right by two.
			n := int64(raw) >> 2
			return &Object{Type: "int", Repr: strconv.FormatInt(n, 10), Value: n}, false
		}
		raw = core.Address(uint64(raw) &^ tag)
	}
	if raw == 0 {
		return nil, true
	}
	if v.kind != "local" && lr.isCell(raw) {
		contents, err := lr.p.R.Ptr(raw.Add(lr.l.Cell.Ref))
		if err != nil {
			return &Object{Address: raw, Repr: pyobj.Unreadable(raw, err), Error: fmt.Sprintf("cell at %#x: %v", uint64(raw), err)}, false
		}
		if contents == 0 {
			return nil, true
		}
		raw = contents
	}
	o := lr.p.Object(raw, lr.opts)
	return &o, false
}

// isCell tells a cell object by its type: PyCell_Type, or a static type
// named "cell" without symbols.
func (lr *localsReader) isCell(obj core.Address) bool {
	tp, err := lr.p.R.Ptr(obj.Add(lr.r.L.Object.Type))
	if err != nil {
		return false
	}
	if lr.cell != 0 {
		return tp == lr.cell
	}
	ti := lr.r.TypeOf(tp)
	return ti.Err == nil && !ti.Heap && ti.Name == "cell"
}

// vars reads (once per snapshot) a code object's variables.
func (lr *localsReader) vars(code core.Address) *codeVars {
	if cv, ok := lr.codes[code]; ok {
		return cv
	}
	cv := &codeVars{}
	cv.vars, cv.none, cv.err = lr.readVars(code)
	if cv.err != nil {
		cv.err = fmt.Errorf("locals: code object at %#x: %w", uint64(code), cv.err)
	}
	if len(lr.codes) < 1<<16 {
		lr.codes[code] = cv
	}
	return cv
}

// codeSignature is what a code object says of its parameters.
type codeSignature struct{ flags, argc, kwonly, posonly int64 }

func (lr *localsReader) readVars(code core.Address) (vars []codeVar, none bool, err error) {
	sig, none, err := lr.readSignature(code)
	if err != nil || none {
		return nil, none, err
	}
	if lr.p.flavor.Frames == abi.InterpreterFrames {
		vars, err = lr.localsplusVars(code, sig)
	} else {
		vars, err = lr.legacyVars(code, sig)
	}
	return vars, false, err
}

// readSignature reads co_flags and the parameter counts; none is true for
// code that keeps no fast locals (module and class bodies).
func (lr *localsReader) readSignature(code core.Address) (sig codeSignature, none bool, err error) {
	l := lr.l
	if l.Code.Argcount < 0 || l.Code.Kwonly < 0 || l.Code.Flags < 0 {
		return codeSignature{}, false, fmt.Errorf("%s does not say where co_argcount, co_kwonlyargcount and co_flags are", l.Source)
	}
	i32 := func(off int64, what string) (int64, error) {
		u, err := lr.p.R.Uint32(code.Add(off))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		n := int64(int32(u))
		if n < 0 || n > maxLocalsPerFrame {
			return 0, fmt.Errorf("%s is %d: not plausible", what, n)
		}
		return n, nil
	}
	fu, err := lr.p.R.Uint32(code.Add(l.Code.Flags))
	if err != nil {
		return codeSignature{}, false, fmt.Errorf("co_flags: %w", err)
	}
	flags := int64(fu)
	if flags&coOptimized == 0 {
		return codeSignature{}, true, nil
	}
	argc, err := i32(l.Code.Argcount, "co_argcount")
	if err != nil {
		return codeSignature{}, false, err
	}
	kwonly, err := i32(l.Code.Kwonly, "co_kwonlyargcount")
	if err != nil {
		return codeSignature{}, false, err
	}
	posonly := int64(0)
	if l.Code.Posonly >= 0 {
		if posonly, err = i32(l.Code.Posonly, "co_posonlyargcount"); err != nil {
			return codeSignature{}, false, err
		}
	}
	return codeSignature{flags: flags, argc: argc, kwonly: kwonly, posonly: posonly}, false, nil
}

// argKind is how slot i of the code's variables is passed, as inspect
// names parameters ("positional", "keyword-only", ...), or "" for a local
// that is no parameter.
func (s codeSignature) argKind(i int64) string {
	n := s.argc + s.kwonly
	switch {
	case i < s.posonly:
		return "positional-only"
	case i < s.argc:
		return "positional"
	case i < n:
		return "keyword-only"
	}
	if s.flags&coVarargs != 0 {
		if i == n {
			return "var-positional"
		}
		n++
	}
	if s.flags&coVarkeywords != 0 && i == n {
		return "var-keyword"
	}
	return ""
}

// localsplusVars reads the variables of a 3.11+ code object: one tuple of
// names and a kind byte for each.
func (lr *localsReader) localsplusVars(code core.Address, sig codeSignature) (vars []codeVar, err error) {
	l := lr.l
	if l.Code.LocalsplusNames < 0 || l.Code.LocalsplusKinds < 0 {
		return nil, fmt.Errorf("%s does not say where co_localsplusnames and co_localspluskinds are", l.Source)
	}
	names, err := lr.names(code.Add(l.Code.LocalsplusNames), "co_localsplusnames")
	if err != nil {
		return nil, err
	}
	kp, err := lr.p.R.Ptr(code.Add(l.Code.LocalsplusKinds))
	if err != nil {
		return nil, fmt.Errorf("co_localspluskinds: %w", err)
	}
	kinds, _, err := lr.p.ReadBytes(kp, maxLocalsPerFrame)
	if err != nil {
		return nil, fmt.Errorf("co_localspluskinds: %w", err)
	}
	if len(kinds) != len(names) {
		return nil, fmt.Errorf("%d names in co_localsplusnames but %d kinds in co_localspluskinds", len(names), len(kinds))
	}
	for i, name := range names {
		k := kinds[i]
		v := codeVar{name: name, kind: "local", slot: int64(i), argument: sig.argKind(int64(i)), hidden: k&coFastHidden != 0}
		switch {
		case k&coFastFree != 0:
			v.kind = "free"
		case k&coFastCell != 0:
			v.kind = "cell"
		}
		vars = append(vars, v)
	}
	return vars, nil
}

// legacyVars reads the variables of a code object before 3.11: the names
// of its locals, cells and free variables in three tuples, arguments that
// are cells moved to their cell's slot.
func (lr *localsReader) legacyVars(code core.Address, sig codeSignature) (vars []codeVar, err error) {
	l := lr.l
	if l.Code.Varnames < 0 || l.Code.Cellvars < 0 || l.Code.Freevars < 0 {
		return nil, fmt.Errorf("%s does not say where co_varnames, co_cellvars and co_freevars are", l.Source)
	}
	varnames, err := lr.names(code.Add(l.Code.Varnames), "co_varnames")
	if err != nil {
		return nil, err
	}
	cellvars, err := lr.names(code.Add(l.Code.Cellvars), "co_cellvars")
	if err != nil {
		return nil, err
	}
	freevars, err := lr.names(code.Add(l.Code.Freevars), "co_freevars")
	if err != nil {
		return nil, err
	}
	nlocals, ncells := int64(len(varnames)), int64(len(cellvars))
	cellOf := map[string]int64{}
	for j, n := range cellvars {
		cellOf[n] = int64(j)
	}
	nargs := sig.argc + sig.kwonly
	if sig.flags&coVarargs != 0 {
		nargs++
	}
	if sig.flags&coVarkeywords != 0 {
		nargs++
	}
	movedToCell := map[int64]bool{}
	for i, name := range varnames {
		v := codeVar{name: name, kind: "local", slot: int64(i), argument: sig.argKind(int64(i))}
		if j, ok := cellOf[name]; ok && int64(i) < nargs {
			v.kind, v.slot = "cell", nlocals+j
			movedToCell[j] = true
		}
		vars = append(vars, v)
	}
	for j, name := range cellvars {
		if !movedToCell[int64(j)] {
			vars = append(vars, codeVar{name: name, kind: "cell", slot: nlocals + int64(j)})
		}
	}
	for k, name := range freevars {
		vars = append(vars, codeVar{name: name, kind: "free", slot: nlocals + ncells + int64(k)})
	}
	return vars, nil
}

// names reads a tuple of str (variable names) whose pointer is at field.
func (lr *localsReader) names(field core.Address, what string) ([]string, error) {
	t, err := lr.p.R.Ptr(field)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	items, err := lr.r.TupleItems(t, maxLocalsPerFrame)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := make([]string, len(items))
	for i, it := range items {
		cps, _, err := lr.r.StrCodepoints(it, maxVarNameChars)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", what, i, err)
		}
		out[i] = pyobj.CodepointsToString(cps)
	}
	return out, nil
}
