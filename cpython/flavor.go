package cpython

import "fmt"

// flavor is what changes between CPython versions in how threads and frames
// are walked, beyond struct layouts (which come from TypeSource). Adding a
// version means adding a row here, not branches in the walker.
type flavor struct {
	frames      frameModel
	lines       lineFormat
	lastiBytes  int    // bytes per f_lasti unit (frame objects): 1 up to 3.9, 2 in 3.10
	threadsHead string // member path from PyInterpreterState to its first thread
	tstateFrame string // member path from PyThreadState to the innermost frame
	execMember  string // _PyInterpreterFrame member holding the code object
	instrMember string // _PyInterpreterFrame member pointing into the bytecode
	// firstNonPythonOwner: frames whose owner is >= this are not Python frames
	// (C-stack shims, interpreter entry frames). 0: every frame is Python.
	firstNonPythonOwner int64
	ownerGenerator      int64
	stackRefTagBits     uint64 // 3.14+: low bits tagging _PyStackRef values
	gil                 gilModel
	nativeThreadID      bool // PyThreadState has native_thread_id (3.11+)
}

type frameModel int

const (
	frameObjects      frameModel = iota // PyFrameObject chain through f_back (<= 3.10)
	interpreterFrames                   // _PyInterpreterFrame chain through previous (3.11+)
)

type lineFormat int

const (
	lnotab       lineFormat = iota // co_lnotab (<= 3.9)
	linetable310                   // co_linetable, PEP 626 (3.10)
	locations                      // co_linetable location table (3.11+)
)

type gilModel int

const (
	gilInRuntime     gilModel = iota // _PyRuntime.ceval.gil (3.7-3.11)
	gilPerInterp                     // *interp->ceval.gil (3.12+)
	gilTStateCurrent                 // 3.6: the GIL's state is static; _PyThreadState_Current is its holder
)

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

func flavorFor(v Version, freeThreaded bool) (flavor, error) {
	switch {
	case v.Major != 3 || v.Minor < 6:
		return flavor{}, fmt.Errorf("CPython %s is not supported (3.6 and newer are)", v)
	case v.Minor <= 10:
		f := flavor{frames: frameObjects, lines: lnotab, lastiBytes: 1, threadsHead: "tstate_head",
			tstateFrame: "frame", gil: gilInRuntime}
		if v.Minor == 6 {
			f.gil = gilTStateCurrent
		}
		if v.Minor == 10 {
			f.lines, f.lastiBytes = linetable310, 2
		}
		return f, nil
	case v.Minor == 11:
		return flavor{frames: interpreterFrames, lines: locations, threadsHead: "threads.head",
			tstateFrame: "cframe.current_frame", execMember: "f_code", instrMember: "prev_instr",
			ownerGenerator: 1, gil: gilInRuntime, nativeThreadID: true}, nil
	case v.Minor == 12:
		return flavor{frames: interpreterFrames, lines: locations, threadsHead: "threads.head",
			tstateFrame: "cframe.current_frame", execMember: "f_code", instrMember: "prev_instr",
			firstNonPythonOwner: 3, ownerGenerator: 1, gil: gilPerInterp, nativeThreadID: true}, nil
	case v.Minor == 13:
		return flavor{frames: interpreterFrames, lines: locations, threadsHead: "threads.head",
			tstateFrame: "current_frame", execMember: "f_executable", instrMember: "instr_ptr",
			firstNonPythonOwner: 3, ownerGenerator: 1, gil: gilPerInterp, nativeThreadID: true}, nil
	default: // 3.14 and newer: tagged stack references; owner 3 is the interpreter's entry frame
		tag := uint64(3)
		if freeThreaded {
			tag = 1
		}
		return flavor{frames: interpreterFrames, lines: locations, threadsHead: "threads.head",
			tstateFrame: "current_frame", execMember: "f_executable", instrMember: "instr_ptr",
			firstNonPythonOwner: 3, ownerGenerator: 1, stackRefTagBits: tag, gil: gilPerInterp, nativeThreadID: true}, nil
	}
}
