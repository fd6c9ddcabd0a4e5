package abi

import "fmt"

// Flavor is what changes between CPython versions in how threads, frames,
// objects and the allocator are read, beyond struct layouts (which come from
// a TypeSource). It is chosen once, when a process is opened (FlavorFor);
// the readers above consult its fields instead of checking versions. Adding
// a version means adding a row here, not branches in the readers.
type Flavor struct {
	Frames      FrameModel
	FrameStruct string // what a frame pointer points to: PyFrameObject or _PyInterpreterFrame
	Lines       LineFormat
	// LineTable is the code object member holding the line table, and Line
	// the decoder of its format: the line of an instruction position (a
	// byte offset for frame objects, a code-unit index for interpreter
	// frames), 0 for none.
	LineTable   string
	Line        func(table []byte, firstLine, pos int) int
	LastiBytes  int    // bytes per f_lasti unit (frame objects): 1 up to 3.9, 2 in 3.10
	ThreadsHead string // member path from PyInterpreterState to its first thread
	TStateFrame string // member path from PyThreadState to the innermost frame
	ExecMember  string // _PyInterpreterFrame member holding the code object
	InstrMember string // _PyInterpreterFrame member pointing into the bytecode
	// FirstNonPythonOwner: frames whose owner is >= this are not Python frames
	// (C-stack shims, interpreter entry frames). 0: every frame is Python.
	FirstNonPythonOwner int64
	OwnerGenerator      int64
	StackRefTagBits     uint64 // 3.14+: low bits tagging _PyStackRef values
	GIL                 GILModel
	GILDrop             GILDropModel
	NativeThreadID      bool // PyThreadState has native_thread_id (3.11+)

	// LegacyRuntime: no _PyRuntime; its globals are gathered by hand (3.6).
	LegacyRuntime bool
	// DebugOffsets: the runtime starts with _Py_DebugOffsets (3.13+).
	DebugOffsets bool
	// CodeQualname: code objects have co_qualname (3.11+).
	CodeQualname bool
	// OrigArgv: sys.orig_argv exists (3.10+).
	OrigArgv bool
	// RemoteExec: PEP 768's remote debugger support, sys.remote_exec (3.14+).
	RemoteExec bool
	// ManagedDict: instances of heap types keep their __dict__ (or its
	// inline values) out of any field, so a field walk does not see it (3.11+).
	ManagedDict bool
	// ManagedWeakref: sys.getsizeof counts the two words before an object
	// for Py_TPFLAGS_MANAGED_WEAKREF as well as MANAGED_DICT (3.12+; 3.11
	// only for MANAGED_DICT).
	ManagedWeakref bool

	// FrameState: PyFrameObject has f_state and f_stackdepth (3.10).
	FrameState bool
	// FrameStackPointer: _PyInterpreterFrame has stackpointer, not stacktop (3.14+).
	FrameStackPointer bool
	// AsyncioDebug: _asyncio lists its tasks per thread and says where in
	// an .AsyncioDebug section, and tasks record who awaits them (3.14+).
	AsyncioDebug bool
	GenStates    GenStates

	Repr ReprRules

	GC GCModel
	// GCHeadWords is sizeof(PyGC_Head) in pointers when no type says it:
	// two words from 3.8, a 32-byte union with a long double before.
	GCHeadWords int64
	// GCKnown is struct _gc_runtime_state of a version that has no generated
	// table, for a debug offsets reader to check and use; nil if none.
	GCKnown *GCKnownLayout

	// ArenaSize and PoolSize are pymalloc's compile-time geometry (64-bit).
	ArenaSize, PoolSize int64

	Str StrRules
}

// ReprRules are what changed in the reprs the renderer reproduces.
type ReprRules struct {
	// ExcArgUnwrapped: an exception with one argument shows it bare,
	// KeyError('k'), not KeyError('k',) (3.7+).
	ExcArgUnwrapped bool
	// FrameDetails: a frame's repr names its file, line and code (3.7+).
	FrameDetails bool
	// MethodDescrs: staticmethod and classmethod have reprs of their own (3.10+).
	MethodDescrs bool
	// NamespaceSorted: SimpleNamespace shows its attributes sorted (<= 3.8),
	// not in insertion order.
	NamespaceSorted bool
	// PartialQualname: functools.partial shows module.qualname of its type,
	// not tp_name (3.13+).
	PartialQualname bool
	// SyntaxErrorLineOptional: a SyntaxError counts as located without a
	// line number (<= 3.7, whose parser sets none for some errors).
	SyntaxErrorLineOptional bool
}

// FrameModel is how a thread's frames are chained.
type FrameModel int

const (
	FrameObjects      FrameModel = iota // PyFrameObject chain through f_back (<= 3.10)
	InterpreterFrames                   // _PyInterpreterFrame chain through previous (3.11+)
)

// LineFormat is how a code object maps bytecode offsets to lines.
type LineFormat int

const (
	Lnotab       LineFormat = iota // co_lnotab (<= 3.9)
	Linetable310                   // co_linetable, PEP 626 (3.10)
	Locations                      // co_linetable location table (3.11+)
)

// GILModel is where the GIL's state is.
type GILModel int

const (
	GILInRuntime     GILModel = iota // _PyRuntime.ceval.gil (3.7-3.11)
	GILPerInterp                     // *interp->ceval.gil (3.12+)
	GILTStateCurrent                 // 3.6: the GIL's state is static; _PyThreadState_Current is its holder
)

// GILDropModel is where a request to drop the GIL is recorded.
type GILDropModel int

const (
	GILDropUnknown     GILDropModel = iota // 3.6: a static of ceval_gil.h
	GILDropInRuntime                       // _PyRuntime.ceval.gil_drop_request (3.7, 3.8)
	GILDropInInterp                        // interp->ceval.gil_drop_request (3.9-3.12)
	GILDropEvalBreaker                     // a bit of the holder's eval_breaker (3.13+)
)

// GCModel is where the cyclic collector's state is.
type GCModel int

const (
	GCStatic    GCModel = iota // 3.6: static globals of gcmodule.c
	GCInRuntime                // _PyRuntime.gc (3.7, 3.8)
	GCInInterp                 // interp->gc (3.9+)
)

// Outer is the struct that embeds struct _gc_runtime_state as "gc", or "".
func (g GCModel) Outer() string {
	switch g {
	case GCInRuntime:
		return "_PyRuntimeState"
	case GCInInterp:
		return "PyInterpreterState"
	}
	return ""
}

// Versions before 3.8:
//
// 3.7 keeps its runtime in _PyRuntime like 3.8 (interpreters.head, ceval.gil,
// finalizing) and walks the same: frame objects, co_lnotab, byte f_lasti.
//
// 3.6 has no _PyRuntime. The interpreter list starts at `interp_head`, a static
// of pystate.c (in .symtab only; stripped builds give it away through the
// exported one-instruction PyInterpreterState_Head), `_Py_Finalizing` and
// `_PyThreadState_Current` are exported, and the GIL's own state is static. So
// legacyRuntime (runtime36.go) gathers these globals into a synthesized
// _PyRuntimeState (interpreters.head, finalizing, gilstate.tstate_current) and
// the walker reads it like any other; the GIL holder is the current thread
// state, which 3.6 sets exactly while a thread holds the GIL. Frames, code
// objects and str objects are as in 3.7.
//
// 2.7 is not supported. Its threads and frames are found as in 3.6 (static
// interp_head behind the same PyInterpreterState_Head, an exported
// _PyThreadState_Current, PyFrameObject chains), but:
//   - code object names and file names are PyStringObject (ob_sval at 36, tp_flags
//     bit 27, which 3.x uses for bytes), not PEP 393 str: objects.str, and every
//     later reader of names (locals, the object renderer), would need a second
//     string model chosen by version;
//   - co_lnotab's line increments are unsigned bytes (signed from 3.6 on), so the
//     line table needs a fourth format;
//   - above all, the scenario programs and their oracle writer are Python 3 only
//     (async def, non-ASCII identifiers, threading.main_thread), so no 2.7 stack
//     could be checked against an oracle on a real core, and pycore does not claim
//     what its tests do not show. Supporting 2.7 means a Python 2 scenario set
//     first; the walker changes above are then small.

// FlavorFor picks the flavor of a version and build, once per process.
func FlavorFor(v Version, freeThreaded bool) (*Flavor, error) {
	f, err := flavorRow(v, freeThreaded)
	if err != nil {
		return nil, err
	}
	f.LineTable, f.Line = "co_linetable", lineFromLocations
	switch f.Lines {
	case Lnotab:
		f.LineTable, f.Line = "co_lnotab", LineFromLnotab
	case Linetable310:
		f.Line = lineFrom310
	}
	f.FrameStruct = "PyFrameObject"
	if f.Frames == InterpreterFrames {
		f.FrameStruct = "_PyInterpreterFrame"
	}
	f.LegacyRuntime = v.Minor == 6
	f.DebugOffsets = v.Minor >= 13
	f.CodeQualname = v.Minor >= 11
	f.OrigArgv = v.Minor >= 10
	f.RemoteExec = v.Minor >= 14
	f.ManagedDict = v.Minor >= 11
	f.ManagedWeakref = v.Minor >= 12
	switch {
	case v.Minor >= 13:
		f.GILDrop = GILDropEvalBreaker
	case v.Minor >= 9:
		f.GILDrop = GILDropInInterp
	case v.Minor >= 7:
		f.GILDrop = GILDropInRuntime
	}
	switch {
	case v.Minor >= 9:
		f.GC = GCInInterp
	case v.Minor >= 7:
		f.GC = GCInRuntime
	}
	f.GCHeadWords = 4
	if v.Minor >= 8 {
		f.GCHeadWords = 2
	}
	if k, ok := gcKnownLayouts[v.Minor]; ok {
		f.GCKnown = &k
	}
	f.FrameState = v.Minor == 10
	f.FrameStackPointer = v.Minor >= 14
	f.AsyncioDebug = v.Minor >= 14
	f.GenStates = genStatesFor(v)
	f.Repr = ReprRules{ExcArgUnwrapped: v.Minor >= 7, FrameDetails: v.Minor >= 7, MethodDescrs: v.Minor >= 10,
		NamespaceSorted: v.Minor < 9, PartialQualname: v.Minor >= 13, SyntaxErrorLineOptional: v.Minor < 8}
	f.ArenaSize, f.PoolSize = obmallocGeometry(v)
	f.Str = strRules(v, freeThreaded)
	return &f, nil
}

func flavorRow(v Version, freeThreaded bool) (Flavor, error) {
	switch {
	case v.Major != 3 || v.Minor < 6:
		return Flavor{}, fmt.Errorf("CPython %s is not supported (3.6 and newer are)", v)
	case v.Minor <= 10:
		f := Flavor{Frames: FrameObjects, Lines: Lnotab, LastiBytes: 1, ThreadsHead: "tstate_head",
			TStateFrame: "frame", GIL: GILInRuntime}
		if v.Minor == 6 {
			f.GIL = GILTStateCurrent
		}
		if v.Minor == 10 {
			f.Lines, f.LastiBytes = Linetable310, 2
		}
		return f, nil
	case v.Minor == 11:
		return Flavor{Frames: InterpreterFrames, Lines: Locations, ThreadsHead: "threads.head",
			TStateFrame: "cframe.current_frame", ExecMember: "f_code", InstrMember: "prev_instr",
			OwnerGenerator: 1, GIL: GILInRuntime, NativeThreadID: true}, nil
	case v.Minor == 12:
		return Flavor{Frames: InterpreterFrames, Lines: Locations, ThreadsHead: "threads.head",
			TStateFrame: "cframe.current_frame", ExecMember: "f_code", InstrMember: "prev_instr",
			FirstNonPythonOwner: 3, OwnerGenerator: 1, GIL: GILPerInterp, NativeThreadID: true}, nil
	case v.Minor == 13:
		return Flavor{Frames: InterpreterFrames, Lines: Locations, ThreadsHead: "threads.head",
			TStateFrame: "current_frame", ExecMember: "f_executable", InstrMember: "instr_ptr",
			FirstNonPythonOwner: 3, OwnerGenerator: 1, GIL: GILPerInterp, NativeThreadID: true}, nil
	default: // 3.14 and newer: tagged stack references; owner 3 is the interpreter's entry frame
		tag := uint64(3)
		if freeThreaded {
			tag = 1
		}
		return Flavor{Frames: InterpreterFrames, Lines: Locations, ThreadsHead: "threads.head",
			TStateFrame: "current_frame", ExecMember: "f_executable", InstrMember: "instr_ptr",
			FirstNonPythonOwner: 3, OwnerGenerator: 1, StackRefTagBits: tag, GIL: GILPerInterp, NativeThreadID: true}, nil
	}
}

// obmallocGeometry is pymalloc's compile-time geometry for 64-bit builds:
// 1 MiB arenas of 16 KiB pools from 3.10 (the radix tree's large arenas),
// 256 KiB of 4 KiB before. Checked against each arena's pool count as it is
// read. (A pool's block size is read from the pool itself, so the alignment,
// 8 or 16 bytes depending on the release, is not needed.)
func obmallocGeometry(v Version) (arena, pool int64) {
	if v.AtLeast(3, 10) {
		return 1 << 20, 16 << 10
	}
	return 256 << 10, 4 << 10
}

func lineFrom310(table []byte, firstLine, pos int) int {
	l, _ := LineFromLinetable310(table, firstLine, pos)
	return l
}

func lineFromLocations(table []byte, firstLine, pos int) int {
	l, _ := LineFromLocationTable(table, firstLine, pos)
	return l
}
