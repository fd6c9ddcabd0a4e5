// Package native joins a process's native (C) stacks, unwound by package
// unwind, to the Python threads package cpython reads: every kernel thread
// of the core with its native frames, the thread's Python frames merged in
// where the eval loop ran them, and the threads the interpreter does not
// know. It sits above cpython and below session and the command line.
package native

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/unwind"
)

// Mode says which native frames a stack keeps.
type Mode int

const (
	// All keeps every native frame: exactly gdb's bt, Python frames merged in.
	All Mode = iota
	// Merged hides the interpreter's own frames (libpython, the python
	// executable) except those that explain where a thread stopped.
	Merged
)

// Frame is one frame of a merged stack: a Python frame (Python != nil) or a
// native one.
type Frame struct {
	Python *cpython.Frame

	PC core.Address
	// Function is the ELF symbol covering the pc, "" when none does (never a
	// symbol stretched past its size); Offset is pc - its start.
	Function string
	Offset   uint64
	// Module is the mapped file's path ("" if no file maps the pc);
	// ModuleOffset is the pc as a link-time address of that file, what
	// addr2line and objdump take (pc - load bias).
	Module       string
	ModuleOffset uint64
	File         string // from DWARF line tables, "" when unknown
	Line         int
	Signal       bool // the kernel's signal trampoline: gdb's <signal handler called>
	FramePointer bool // found by the frame-pointer fallback, not CFI
	// Inlined marks the frame of an inlined call (DW_TAG_inlined_subroutine):
	// it has the pc of the frame that contains it, which follows it, and
	// Function is the inlined function's DWARF name, Offset 0.
	Inlined bool
	// cfa is the frame's canonical frame address (for a signal frame, where
	// the kernel's ucontext is), 0 when unknown.
	cfa core.Address
	// eval marks an activation of the eval loop (_PyEval_EvalFrameDefault).
	eval     bool
	internal bool // in libpython or the python executable
}

// Where names a native frame as "func (lib.so+0x1170, file.c:17)": the
// symbol (or "??"), then Location.
func (f *Frame) Where() string {
	fn := f.Function
	if fn == "" {
		fn = "??"
	}
	if loc := f.Location(); loc != "" {
		return fn + " " + loc
	}
	return fn
}

// Symbol is "func+0x12", "func [inlined]" for an inlined call, or "??"
// with no symbol.
func (f *Frame) Symbol() string {
	if f.Function == "" {
		return "??"
	}
	if f.Inlined {
		return f.Function + " [inlined]"
	}
	return fmt.Sprintf("%s+%#x", f.Function, f.Offset)
}

// Location is "(lib.so+0x1170, file.c:17)": the module's base name and
// link-time offset, and the source line when DWARF has it ("" if neither).
func (f *Frame) Location() string {
	var in []string
	if f.Module != "" {
		in = append(in, fmt.Sprintf("%s+%#x", filepath.Base(f.Module), f.ModuleOffset))
	}
	if f.File != "" {
		in = append(in, fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line))
	}
	if len(in) == 0 {
		return ""
	}
	return "(" + strings.Join(in, ", ") + ")"
}

// Thread is one kernel thread of the core: its Python thread state if the
// interpreter knows it, and its stack.
type Thread struct {
	LWP    int
	Python *cpython.Thread // nil for a thread no PyThreadState claims
	Frames []Frame         // innermost first
	// Stop says why native unwinding ended.
	Stop string
	// MergeError says why the Python frames could not be placed among the
	// native ones; Frames then holds the native frames only and the Python
	// frames are in Python.Frames.
	MergeError string
	// Cut, when the native unwinding stopped short of the outermost frame
	// and the Python frames were merged all the same, is the index in
	// Frames past the last native frame reached: Frames[Cut:] are Python
	// frames whose native frames were not unwound. -1 otherwise.
	Cut int
}

// Snapshot is a cpython.Snapshot whose threads carry native stacks: every
// thread of the core, Python's in the interpreter's order, then the others.
type Snapshot struct {
	*cpython.Snapshot
	Threads []*Thread
	// CrashFrame is the frame the fatal signal interrupted (nil without one);
	// Crash says so with the fault address.
	CrashFrame *Frame
	Crash      *Crash
}

// Stacks unwinds every thread of p and merges snap's Python frames into
// them. snap's threads are matched to kernel threads by LWP.
func Stacks(p *core.Process, syms *symbols.Table, snap *cpython.Snapshot, mode Mode) *Snapshot {
	out := &Snapshot{Snapshot: snap}
	u := unwind.New(p, syms)
	lines := newLineCache()
	byEntry := atLeast311(snap.Python.Version)
	byLWP := map[int]*cpython.Thread{}
	for _, t := range snap.Threads {
		if t.LWP != nil {
			byLWP[int(*t.LWP)] = t
		}
	}
	stacks := map[int]*Thread{}
	for _, ct := range p.Threads {
		st := u.Unwind(ct)
		th := &Thread{LWP: ct.TID, Python: byLWP[ct.TID], Stop: st.Stop, Cut: -1}
		frames := make([]Frame, 0, len(st.Frames))
		for _, f := range st.Frames {
			frames = append(frames, convert(f, lines, cfaBelow(frames))...)
		}
		th.Frames = frames
		if th.Python != nil {
			th.Frames, th.Cut, th.MergeError = merge(frames, th.Python.Frames, mode, byEntry, !st.Outermost())
		}
		stacks[ct.TID] = th
		if snap.Signal != nil && snap.Signal.Fatal && ct.TID == snap.Signal.Thread && out.Crash == nil {
			if out.Crash = crashOf(p, snap.Signal, frames).nameCode(); out.Crash != nil {
				out.CrashFrame = out.Crash.Frame
			}
		}
	}
	seen := map[int]bool{}
	for _, t := range snap.Threads {
		if t.LWP == nil {
			// A thread state with no kernel thread in the core (exited, or
			// not matched): its Python frames alone.
			th := &Thread{Python: t, Frames: pythonOnly(t.Frames), Stop: "no kernel thread of the core matches this thread state", Cut: -1}
			out.Threads = append(out.Threads, th)
			continue
		}
		if th, ok := stacks[int(*t.LWP)]; ok && !seen[th.LWP] {
			seen[th.LWP] = true
			out.Threads = append(out.Threads, th)
		}
	}
	for _, ct := range p.Threads {
		if !seen[ct.TID] {
			seen[ct.TID] = true
			out.Threads = append(out.Threads, stacks[ct.TID])
		}
	}
	return out
}

// cfaBelow is the CFA of the innermost frame of frames so far, 0 if none.
func cfaBelow(frames []Frame) core.Address {
	if len(frames) == 0 {
		return 0
	}
	return frames[len(frames)-1].cfa
}

func pythonOnly(py []cpython.Frame) []Frame {
	out := make([]Frame, len(py))
	for i := range py {
		out[i] = Frame{Python: &py[i]}
	}
	return out
}

// crashIndex is the index of the frame a fatal signal interrupted: the one
// above the signal trampoline when a handler ran on the stack
// (faulthandler's), else the innermost frame; -1 without frames.
func crashIndex(frames []Frame) int {
	if len(frames) == 0 {
		return -1
	}
	for i, f := range frames {
		if f.Signal && i+1 < len(frames) {
			return i + 1
		}
	}
	return 0
}

// CrashedThread unwinds only the thread the fatal signal of snap was
// delivered to: its native frames (innermost first) and the index of the
// frame the signal interrupted. It returns nil, -1 when the core has no
// fatal signal or no such thread.
func CrashedThread(p *core.Process, syms *symbols.Table, snap *cpython.Snapshot) (frames []Frame, crash int, lwp int) {
	if snap.Signal == nil || !snap.Signal.Fatal {
		return nil, -1, 0
	}
	for _, ct := range p.Threads {
		if ct.TID != snap.Signal.Thread {
			continue
		}
		st := unwind.New(p, syms).Unwind(ct)
		lines := newLineCache()
		frames = make([]Frame, 0, len(st.Frames))
		for _, f := range st.Frames {
			// file:line only for a C extension's frames, the ones a
			// signature shows: libpython's and libc's DWARF is large, and a
			// report reads hundreds of cores.
			fr := convert(f, nil, 0)
			if fr[0].Foreign() {
				fr = convert(f, lines, cfaBelow(frames))
			}
			frames = append(frames, fr...)
		}
		return frames, crashIndex(frames), ct.TID
	}
	return nil, -1, 0
}

// IsEval says whether the frame is an activation of the eval loop: native
// code below it was called by Python code.
func (f *Frame) IsEval() bool { return f.eval }

// Foreign says whether a frame runs neither the C library family's code
// (libc, the dynamic loader, libpthread, libm, libgcc_s, libstdc++, libffi,
// the vdso) nor the interpreter's (the python executable, libpython, the
// standard library's extension modules in lib-dynload): a C extension's or
// an application library's code. A frame no module maps is not foreign:
// nothing names its code.
func (f *Frame) Foreign() bool {
	if f.Module == "" || f.internal || strings.Contains(f.Module, "/lib-dynload/") {
		return false
	}
	base := filepath.Base(f.Module)
	for _, p := range systemLibs {
		if strings.HasPrefix(base, p) {
			return false
		}
	}
	return !strings.Contains(base, "vdso")
}

// systemLibs are base-name prefixes of the C runtime's libraries and of
// the libraries the interpreter itself calls through (libffi for ctypes).
var systemLibs = []string{
	"libc.so", "libc-", "ld-linux", "ld-musl", "ld64.so", "libpthread", "libm.so", "libm-", "libdl", "librt",
	"libgcc_s", "libstdc++", "libffi", "libutil", "libresolv",
}

// convert names a frame of package unwind for people: module path and
// link-time offset, the interpreter's own frames marked. With lines, the
// frame's inlined calls come first, innermost first, each a frame of its own
// at the same pc as gdb lists them; below is the frame of the function that
// contains them, at the line of the outermost call. below is the CFA of the
// frame under this one (0 for the innermost): an inlined frame's, as it has
// no stack of its own.
func convert(f unwind.Frame, lines *lineCache, below core.Address) []Frame {
	out := Frame{PC: f.PC, Function: f.Function, Offset: f.Offset, Signal: f.Signal, FramePointer: f.FramePointer, cfa: f.CFA}
	var chain []inlined
	if f.Module != nil {
		out.Module = f.Module.Path
		out.ModuleOffset = uint64(f.PC) - f.Module.Bias
		if f.Module.ELF == nil {
			// The file is not here, so its load bias is unknown: the offset
			// from its lowest mapping is still the same under any ASLR.
			out.ModuleOffset = uint64(f.PC - f.Module.Start)
		}
		base := filepath.Base(f.Module.Path)
		out.internal = strings.HasPrefix(base, "libpython") || strings.HasPrefix(base, "python")
		lookup := f.PC
		if !f.Interrupted && lookup > 0 {
			lookup-- // a return address may be the first byte of the next line
		}
		out.File, out.Line, chain = lines.locate(f.Module, lookup, !f.Signal)
	}
	out.eval = isEval(f.Function)
	if len(chain) == 0 {
		return []Frame{out}
	}
	frames := make([]Frame, 0, len(chain)+1)
	file, line := out.File, out.Line
	for _, in := range chain {
		fr := out
		fr.Function, fr.Offset, fr.Inlined, fr.eval = in.function, 0, true, false
		fr.File, fr.Line, fr.cfa = file, line, below
		frames = append(frames, fr)
		file, line = in.callFile, in.callLine
	}
	out.File, out.Line = file, line
	return append(frames, out)
}

// isEval says whether a symbol is the eval loop: one activation per Python
// frame up to 3.10, per run of frames up to an entry frame from 3.11.
// Substring: GCC's .cold clones count too.
func isEval(sym string) bool {
	return strings.Contains(sym, "_PyEval_EvalFrameDefault")
}

// atLeast311 says whether version ("3.12.1") runs several Python frames per
// activation of the eval loop.
func atLeast311(version string) bool {
	var major, minor int
	if n, _ := fmt.Sscanf(version, "%d.%d", &major, &minor); n != 2 {
		return false
	}
	return major > 3 || major == 3 && minor >= 11
}
