package cpython

import (
	"fmt"
	"sync"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/typesys"
)

// codeInfo is what a frame needs from its code object; code objects are
// shared by many frames, so they are read once.
type codeInfo struct {
	name, file string
	qualname   *string
	firstLine  int
	table      []byte // the line table in this version's format
	// firstTraceable is the index of the first instruction a traceback may
	// show (3.11+); frames stopped before it are still being set up.
	firstTraceable int64
	bytecode       core.Address // start of the bytecode (3.11+)
	flags          int64        // co_flags, -1 when the layout does not say where it is
}

// co_flags bits that tell generators, coroutines and async generators apart.
const (
	coGenerator      = 0x20
	coCoroutine      = 0x80
	coAsyncGenerator = 0x200
)

// kind names what kind of frame this is: "coroutine", "async generator" or
// "generator" for frames owned by one (from co_flags when known), else "".
func (ci *codeInfo) kind(owned bool) string {
	switch {
	case !owned:
		return ""
	case ci.flags >= 0 && ci.flags&coCoroutine != 0:
		return "coroutine"
	case ci.flags >= 0 && ci.flags&coAsyncGenerator != 0:
		return "async generator"
	default:
		return "generator"
	}
}

type codeCache struct {
	mu sync.Mutex
	m  map[core.Address]*codeInfo
}

// frames walks a thread's frames, innermost first.
func (p *Process) frames(tsPtr typesys.Value) ([]Frame, error) {
	first, err := tsPtr.Path(p.flavor.TStateFrame)
	if err != nil {
		return nil, err
	}
	if p.flavor.Frames == abi.FrameObjects {
		return p.frameObjectChain(first)
	}
	var base core.Address
	if v, err := tsPtr.Member("base_frame"); err == nil && v.Type.Resolve().Kind == typesys.Pointer {
		base, _ = v.Ptr()
	}
	return p.interpreterFrameChain(first, base)
}

// frameObjectChain follows PyFrameObject.f_back (3.8-3.10).
func (p *Process) frameObjectChain(f typesys.Value) ([]Frame, error) {
	var out []Frame
	seen := map[core.Address]bool{}
	for {
		addr, err := f.Ptr()
		if err != nil {
			return out, fmt.Errorf("frame pointer: %w", err)
		}
		if addr == 0 {
			return out, nil
		}
		if seen[addr] || len(seen) >= maxFrames {
			return out, fmt.Errorf("frame chain loops or exceeds %d frames at %s", maxFrames, addr)
		}
		if err := p.spendFrame(); err != nil {
			return out, err
		}
		seen[addr] = true
		code, err := f.Member("f_code")
		if err != nil {
			return out, fmt.Errorf("frame at %s: %w", addr, err)
		}
		codeAddr, err := code.Ptr()
		if err != nil {
			return out, fmt.Errorf("frame at %s: code: %w", addr, err)
		}
		ci, err := p.code(codeAddr)
		if err != nil {
			return out, fmt.Errorf("frame at %s: %w", addr, err)
		}
		lastiV, err := f.Member("f_lasti")
		if err != nil {
			return out, fmt.Errorf("frame at %s: %w", addr, err)
		}
		lasti, err := lastiV.Int()
		if err != nil {
			return out, fmt.Errorf("frame at %s: f_lasti: %w", addr, err)
		}
		fr := Frame{Function: ci.name, Qualname: ci.qualname, File: ci.file,
			Line: p.line(ci, lasti*int64(p.flavor.LastiBytes)), Code: codeAddr, Address: addr}
		// A frame object that belongs to a generator or coroutine points back at it.
		if gv, err := f.Member("f_gen"); err == nil {
			if g, err := gv.Ptr(); err == nil && g != 0 {
				fr.Generator = true
			}
		}
		fr.Kind = ci.kind(fr.Generator)
		out = append(out, fr)
		if f, err = f.Member("f_back"); err != nil {
			return out, fmt.Errorf("frame at %s: %w", addr, err)
		}
	}
}

// interpreterFrameChain follows _PyInterpreterFrame.previous (3.11+),
// skipping frames that are not Python code (C-stack shims, entry frames) and
// frames still being set up, as CPython's own traceback code does.
func (p *Process) interpreterFrameChain(f typesys.Value, base core.Address) ([]Frame, error) {
	var out []Frame
	seen := map[core.Address]bool{}
	fl := p.flavor
	for {
		addr, err := f.Ptr()
		if err != nil {
			return out, fmt.Errorf("frame pointer: %w", err)
		}
		if addr == 0 || addr == base {
			return out, nil
		}
		if seen[addr] || len(seen) >= maxFrames {
			return out, fmt.Errorf("frame chain loops or exceeds %d frames at %s", maxFrames, addr)
		}
		if err := p.spendFrame(); err != nil {
			return out, err
		}
		seen[addr] = true
		frame, err := f.Deref()
		if err != nil {
			return out, err
		}
		fr, skip, shim, err := p.interpreterFrame(frame, fl)
		if err != nil {
			return out, fmt.Errorf("frame at %s: %w", addr, err)
		}
		if !skip {
			out = append(out, fr)
		} else if shim && len(out) > 0 {
			// 3.12+: the eval loop pushes a shim under the first frame it runs.
			out[len(out)-1].Entry = true
			out[len(out)-1].Shim = addr
		}
		if f, err = frame.Member("previous"); err != nil {
			return out, fmt.Errorf("frame at %s: %w", addr, err)
		}
	}
}

// interpreterFrame reads one _PyInterpreterFrame; skip says it is not a
// Python frame to show, shim that it is the C stack's entry shim (3.12+).
func (p *Process) interpreterFrame(frame typesys.Value, fl *abi.Flavor) (fr Frame, skip, shim bool, err error) {
	owner := int64(0)
	if ov, err := frame.Member("owner"); err == nil {
		if owner, err = ov.Int(); err != nil {
			return fr, false, false, fmt.Errorf("owner: %w", err)
		}
	}
	if fl.FirstNonPythonOwner > 0 && owner >= fl.FirstNonPythonOwner {
		return fr, true, true, nil
	}
	ev, err := frame.Member(fl.ExecMember)
	if err != nil {
		return fr, false, false, err
	}
	raw, err := rawWord(ev)
	if err != nil {
		return fr, false, false, fmt.Errorf("%s: %w", fl.ExecMember, err)
	}
	codeAddr := core.Address(raw &^ fl.StackRefTagBits)
	if codeAddr == 0 {
		// Python frames always have code; a NULL here means the frame's memory is
		// not what the process had (gdb's gcore zero-fills pages it failed to read).
		return fr, false, false, fmt.Errorf("%s is NULL (the core's memory there may be zero-filled)", fl.ExecMember)
	}
	if p.codeTyp != 0 {
		// 3.13+ shim frames hold None rather than a code object.
		tp, err := p.R.Ptr(codeAddr.Add(p.codeRd.layout.ObType))
		if err != nil {
			return fr, false, false, fmt.Errorf("executable at %s: %w", codeAddr, err)
		}
		if tp != p.codeTyp {
			return fr, true, false, nil
		}
	}
	ci, err := p.code(codeAddr)
	if err != nil {
		return fr, false, false, err
	}
	iv, err := frame.Member(fl.InstrMember)
	if err != nil {
		return fr, false, false, err
	}
	ip, err := iv.Ptr()
	if err != nil {
		return fr, false, false, fmt.Errorf("%s: %w", fl.InstrMember, err)
	}
	index := (int64(ip) - int64(ci.bytecode)) / 2
	if owner != fl.OwnerGenerator && ci.firstTraceable > 0 && index < ci.firstTraceable {
		return fr, true, false, nil // not yet started: CPython hides these frames too
	}
	fr = Frame{Function: ci.name, Qualname: ci.qualname, File: ci.file, Line: p.line(ci, index),
		Generator: owner == fl.OwnerGenerator, Code: codeAddr, Address: frame.Addr}
	fr.Kind = ci.kind(fr.Generator)
	if ev, err := frame.Member("is_entry"); err == nil {
		if e, err := ev.Int(); err == nil && e != 0 {
			fr.Entry = true
		}
	}
	return fr, false, false, nil
}

// line maps an instruction position to a line: a byte offset for frame
// objects, a code-unit index for interpreter frames. 0 means no line.
func (p *Process) line(ci *codeInfo, pos int64) int {
	return p.flavor.Line(ci.table, ci.firstLine, int(pos))
}

// code reads (once) what frames need from a code object.
func (p *Process) code(addr core.Address) (*codeInfo, error) {
	p.codes.mu.Lock()
	defer p.codes.mu.Unlock()
	if ci, ok := p.codes.m[addr]; ok {
		return ci, nil
	}
	ci, err := p.readCode(addr)
	if err != nil {
		return nil, fmt.Errorf("code object at %s: %w", addr, err)
	}
	if p.codes.m == nil {
		p.codes.m = map[core.Address]*codeInfo{}
	}
	p.codes.m[addr] = ci
	return ci, nil
}

func (p *Process) readCode(addr core.Address) (*codeInfo, error) {
	ct, err := p.Types.Struct("PyCodeObject")
	if err != nil {
		return nil, err
	}
	code := typesys.At(p.R, ct, addr)
	ci := &codeInfo{}
	strMember := func(name string) (string, error) {
		v, err := code.Member(name)
		if err != nil {
			return "", err
		}
		a, err := v.Ptr()
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		s, err := p.codeRd.str(a)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return s, nil
	}
	if ci.name, err = strMember("co_name"); err != nil {
		return nil, err
	}
	if ci.file, err = strMember("co_filename"); err != nil {
		return nil, err
	}
	if p.flavor.CodeQualname {
		q, err := strMember("co_qualname")
		if err != nil {
			return nil, err
		}
		ci.qualname = &q
	}
	fv, err := code.Member("co_firstlineno")
	if err != nil {
		return nil, err
	}
	first, err := fv.Int()
	if err != nil {
		return nil, fmt.Errorf("co_firstlineno: %w", err)
	}
	ci.firstLine = int(first)
	ci.flags = -1
	if v, err := code.Member("co_flags"); err == nil {
		if f, err := v.Int(); err == nil {
			ci.flags = f
		}
	}
	tableMember := p.flavor.LineTable
	tv, err := code.Member(tableMember)
	if err != nil {
		return nil, err
	}
	ta, err := tv.Ptr()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tableMember, err)
	}
	if ci.table, err = p.codeRd.bytes(ta); err != nil {
		return nil, fmt.Errorf("%s: %w", tableMember, err)
	}
	if p.flavor.Frames == abi.InterpreterFrames {
		bc, err := code.Member("co_code_adaptive")
		if err != nil {
			return nil, err
		}
		ci.bytecode = bc.Addr
		if v, err := code.Member("_co_firsttraceable"); err == nil {
			ci.firstTraceable, _ = v.Int()
		}
	}
	return ci, nil
}

// spendFrame counts one frame against the snapshot's budget (0: no snapshot
// is running, e.g. a single chain walked for asyncio, bounded by maxFrames).
func (p *Process) spendFrame() error {
	if p.frameBudget == 0 {
		return nil
	}
	if p.frameBudget == 1 {
		return fmt.Errorf("more than %d frames in all threads: stopped (a corrupt core may point many threads at one chain)", maxSnapshotFrames)
	}
	p.frameBudget--
	return nil
}
