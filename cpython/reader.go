package cpython

// The walker's side of the object reader: the one reader of a process, made
// on first use, and what the reader asks of the walker (Proc).

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/cpython/pyobj"
	"github.com/pycore/pycore/typesys"
)

// What the renderer shows, as the object reader's package defines it.
type (
	ReprOptions = pyobj.ReprOptions
	Object      = pyobj.Object
	DictItem    = pyobj.DictItem
	CodeValue   = pyobj.CodeValue
)

// DefaultReprOptions keep one object's rendering to a few lines.
var DefaultReprOptions = pyobj.DefaultReprOptions

// reader returns the process's object reader, worked out on first use.
func (p *Process) reader() (*pyobj.Reader, error) {
	p.objOnce.Do(func() {
		if p.codeRd == nil || p.codeRd.layout == nil {
			p.objErr = errors.New("the process's object layout is not known")
			return
		}
		p.objRd = pyobj.NewReader(p.objProc(), pyobj.NewLayout(p.objects(), p.R, p.symLookup()))
	})
	return p.objRd, p.objErr
}

// symLookup finds the process's exported symbols for the object reader's
// layout; nil when it has no symbols.
func (p *Process) symLookup() func(string) (core.Address, bool) {
	if p.Syms == nil {
		return nil
	}
	return func(name string) (core.Address, bool) {
		sym, ok := p.lookup(name)
		return sym.Addr, ok
	}
}

// objects resolves the offsets the object reader reads with.
func (p *Process) objects() *abi.Objects {
	return abi.ResolveObjects(p.Types, p.Version, p.FreeThreaded, int64(p.R.PtrSize), p.codeRd.layout)
}

// objProc is what the object reader needs of the process.
func (p *Process) objProc() pyobj.Proc {
	return pyobj.Proc{R: p.R, Str: p.codeRd.layout, Types: p.Types, Repr: p.flavor.Repr,
		ThreadNames: p.ThreadNames, FrameLine: p.frameObjectLine}
}

// objectLayout returns the offsets the process's object reader reads with.
func (p *Process) objectLayout() (*pyobj.Layout, error) {
	rd, err := p.reader()
	if err != nil {
		return nil, err
	}
	return rd.L, nil
}

// ReadStr reads a str object as Go text (lone surrogates become U+FFFD).
// Strings longer than maxChars (or the package bound) are cut, with ok false.
func (p *Process) ReadStr(obj core.Address, maxChars int) (s string, complete bool, err error) {
	r, err := p.reader()
	if err != nil {
		return "", false, err
	}
	return r.Str(obj, maxChars)
}

// ReadBytes reads a bytes object's contents, at most max bytes (complete
// says whether that was all of it).
func (p *Process) ReadBytes(obj core.Address, max int) (b []byte, complete bool, err error) {
	r, err := p.reader()
	if err != nil {
		return nil, false, err
	}
	return r.Bytes(obj, max)
}

// ReadInt reads an int (or bool, or int subclass) object of any size.
func (p *Process) ReadInt(obj core.Address) (*big.Int, error) {
	r, err := p.reader()
	if err != nil {
		return nil, err
	}
	return r.IntValue(obj)
}

// Repr renders the object at obj as Python's repr() would, within opts.
// It fails only if obj itself cannot be read; unreadable objects inside it
// render as <unreadable object at 0x...: why>.
func (p *Process) Repr(obj core.Address, opts ReprOptions) (string, error) {
	o := p.Object(obj, opts)
	if o.Error != "" {
		return "", errors.New(o.Error)
	}
	return o.Repr, nil
}

// Object reads the object at obj, within opts.
func (p *Process) Object(obj core.Address, opts ReprOptions) Object {
	rd, err := p.reader()
	if err != nil {
		return pyobj.ErrorObject(obj, err, opts)
	}
	return rd.Object(obj, opts)
}

// ThreadNames maps threading.get_ident() to the name of the threading.Thread
// of every interpreter's threading._active, for the threads Python started
// (or adopted) through the threading module.
func (p *Process) ThreadNames() (map[uint64]string, error) {
	r, err := p.reader()
	if err != nil {
		return nil, err
	}
	names := map[uint64]string{}
	interp, err := p.Runtime.Path("interpreters.head")
	if err != nil {
		return nil, err
	}
	var errs []error
	seen := map[core.Address]bool{}
	for n := 0; n < maxInterpreters; n++ {
		addr, err := interp.Ptr()
		if err != nil || addr == 0 || seen[addr] {
			if err != nil {
				errs = append(errs, err)
			}
			break
		}
		seen[addr] = true
		if err := r.AddThreadNames(interp, names); err != nil {
			errs = append(errs, fmt.Errorf("interpreter at %#x: %w", uint64(addr), err))
		}
		if interp, err = interp.Member("next"); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if len(names) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return names, nil
}

// interpreterThreadNames maps the idents of one interpreter's threading._active
// to their names: a thread running code in a subinterpreter may be known
// there under another name (or not at all), so names are per interpreter.
func (p *Process) interpreterThreadNames(interp typesys.Value) (map[uint64]string, error) {
	r, err := p.reader()
	if err != nil {
		return nil, err
	}
	names := map[uint64]string{}
	err = r.AddThreadNames(interp, names)
	return names, err
}

// frameObjectLine is where a frame object is (for its repr): its code's
// file and name and the line as PyFrame_GetLineNumber computes it.
func (p *Process) frameObjectLine(a core.Address) (string, string, int64, error) {
	l, err := p.objectLayout()
	if err != nil {
		return "", "", 0, err
	}
	var ci *codeInfo
	var line int64
	if p.flavor.Frames == abi.FrameObjects {
		ft, _, err := p.StructOf([]string{"PyFrameObject"}, nil)
		if err != nil {
			return "", "", 0, fmt.Errorf("frame at %#x: %w", uint64(a), err)
		}
		f := typesys.At(p.R, ft, a)
		lineno := func() (int64, error) {
			v, err := f.Member("f_lineno")
			if err != nil {
				return 0, err
			}
			return v.Int()
		}
		cv, err := f.Member("f_code")
		if err != nil {
			return "", "", 0, fmt.Errorf("frame at %#x: %w", uint64(a), err)
		}
		code, err := cv.Ptr()
		if err != nil {
			return "", "", 0, fmt.Errorf("frame at %#x: f_code: %w", uint64(a), err)
		}
		if ci, err = p.code(code); err != nil {
			return "", "", 0, fmt.Errorf("frame at %#x: %w", uint64(a), err)
		}
		trace := core.Address(0)
		if tv, err := f.Member("f_trace"); err == nil {
			trace, _ = tv.Ptr()
		}
		if trace != 0 {
			if line, err = lineno(); err != nil {
				return "", "", 0, fmt.Errorf("frame at %#x: f_lineno: %w", uint64(a), err)
			}
		} else {
			lv, err := f.Member("f_lasti")
			if err != nil {
				return "", "", 0, fmt.Errorf("frame at %#x: %w", uint64(a), err)
			}
			lasti, err := lv.Int()
			if err != nil {
				return "", "", 0, fmt.Errorf("frame at %#x: f_lasti: %w", uint64(a), err)
			}
			line = int64(ci.firstLine)
			if lasti >= 0 {
				line = int64(p.line(ci, lasti*int64(p.flavor.LastiBytes)))
			}
		}
	} else {
		iframe, err := p.R.Ptr(a.Add(l.Frame.Frame))
		if err != nil || iframe == 0 {
			return "", "", 0, fmt.Errorf("frame at %#x: f_frame %#x: %v", uint64(a), uint64(iframe), err)
		}
		it, _, err := p.StructOf([]string{"_PyInterpreterFrame"}, nil)
		if err != nil {
			return "", "", 0, fmt.Errorf("frame at %#x: %w", uint64(a), err)
		}
		fr, skip, _, err := p.interpreterFrame(typesys.At(p.R, it, iframe), p.flavor)
		if err != nil {
			return "", "", 0, fmt.Errorf("frame at %#x: %w", uint64(a), err)
		}
		if skip {
			return "", "", 0, fmt.Errorf("frame at %#x: its code has not started", uint64(a))
		}
		if ci, err = p.code(fr.Code); err != nil {
			return "", "", 0, fmt.Errorf("frame at %#x: %w", uint64(a), err)
		}
		line = int64(fr.Line)
		if n, err := p.R.Uint32(a.Add(l.Frame.Lineno)); err == nil && n != 0 {
			line = int64(int32(n))
		}
	}
	return ci.file, ci.name, line, nil
}
