package cpython

// What the packages above the walker (cpython/asyncio) read through: the
// process's object reader, its symbols, frames read from a frame object or an
// interpreter frame, locals of frames found elsewhere, structs from the types
// or pycore's tables, and a slot for layouts worked out once per process.
// Kept to these few methods so the walker's internals stay its own.

import (
	"fmt"
	"sync"

	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/cpython/pyobj"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// Reader is the process's object reader, worked out on first use.
func (p *Process) Reader() (*pyobj.Reader, error) { return p.reader() }

// Lookup finds a symbol of the process (the interpreter's file first).
func (p *Process) Lookup(name string) (symbols.Symbol, bool) { return p.lookup(name) }

// FrameObjectChain reads the frames of the chain of frame objects (3.10 and
// older) from f out, bounded as a thread's are.
func (p *Process) FrameObjectChain(f typesys.Value) ([]Frame, error) {
	return p.frameObjectChain(f)
}

// InterpreterFrame reads one interpreter frame (3.11+); skip says it is not
// a frame a Python stack shows (a shim, or one owned by C).
func (p *Process) InterpreterFrame(frame typesys.Value) (fr Frame, skip bool, err error) {
	fr, skip, _, err = p.interpreterFrame(frame, p.flavor)
	return fr, skip, err
}

// FrameLocals fills each frame's Locals (or LocalsError) as SnapshotWith
// fills a thread's, for frames found outside the threads (coroutines').
func (p *Process) FrameLocals(frames []*Frame, repr ReprOptions) error {
	dl, err := newDetailLayout(p)
	var lr *localsReader
	if err == nil {
		lr, err = p.newLocalsReader(dl, repr)
	}
	if err != nil {
		return err
	}
	for _, f := range frames {
		lr.frameLocals(f)
	}
	return nil
}

// Once returns what f returns the first time Once is called with key on p,
// every time: a layout a package above works out once per process and keeps
// here rather than in a package global.
func (p *Process) Once(key any, f func() any) any {
	v, _ := p.once.LoadOrStore(key, new(onceValue))
	o := v.(*onceValue)
	o.once.Do(func() { o.v = f() })
	return o.v
}

type onceValue struct {
	once sync.Once
	v    any
}

// StructOf finds a struct in the process's types, else in pycore's
// generated table for this build (the 3.13 debug offsets do not describe
// generators or the frame's stack top). The table is used only if it agrees
// with the types on the anchors given.
func (p *Process) StructOf(names []string, anchors map[string]string) (*typesys.Type, string, error) {
	for _, n := range names {
		if t, err := p.Types.Struct(n); err == nil {
			return t, p.Types.Describe(), nil
		}
	}
	vl := abi.TableFor(p.Version, p.FreeThreaded, p.Debug)
	if vl == nil {
		return nil, "", fmt.Errorf("%s do not describe %s, and pycore has no table for %s", p.Types.Describe(), names[0], p.Version)
	}
	lt, err := abi.NewLayoutTypes(vl, p.R.PtrSize)
	if err != nil {
		return nil, "", err
	}
	for strct, member := range anchors {
		mine, err1 := p.Types.Struct(strct)
		theirs, err2 := lt.Struct(strct)
		if err1 != nil || err2 != nil {
			continue
		}
		a, err1 := memberPathOffset(mine, member)
		b, err2 := memberPathOffset(theirs, member)
		if err1 == nil && err2 == nil && a != b {
			return nil, "", fmt.Errorf("%s and pycore's table for %s disagree on %s.%s (%d, %d)", p.Types.Describe(), vl.Version, strct, member, a, b)
		}
	}
	for _, n := range names {
		if t, err := lt.Struct(n); err == nil {
			return t, lt.Describe(), nil
		}
	}
	return nil, "", fmt.Errorf("neither %s nor pycore's table for %s describe %s", p.Types.Describe(), vl.Version, names[0])
}

// ModuleDWARFTypes opens a module's DWARF (its own or a detached debug
// file's) as types; what says what the module is looked at for, in the error.
func ModuleDWARFTypes(m *symbols.Module, ptrSize int, what string) (*typesys.DWARFTypes, string, error) {
	return moduleDWARFTypes(m, ptrSize, what)
}

// MaxInterpreters bounds every walk of the interpreter list.
const MaxInterpreters = maxInterpreters
