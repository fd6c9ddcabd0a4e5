package native

import (
	"fmt"
	"strings"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
)

// runs splits a thread's Python frames (innermost first) into what one
// activation of the eval loop executed each: one frame up to 3.10; from 3.11
// the frames up to and including an entry frame (one a C caller started).
func runs(py []cpython.Frame, byEntry bool) [][]cpython.Frame {
	var out [][]cpython.Frame
	start := 0
	for i := range py {
		if !byEntry || py[i].Entry {
			out = append(out, py[start:i+1])
			start = i + 1
		}
	}
	if start < len(py) {
		// No entry frame closes the outermost run: a chain read only in part.
		out = append(out, py[start:])
	}
	return out
}

// merge places the Python frames where the eval loop ran them among the
// native frames (both innermost first), pairing eval activations and runs
// from the outermost, as pystack does. One innermost activation more than
// runs is accepted: the eval loop entered but its frame not yet pushed.
// When the native unwinding did not reach the outermost frame (truncated:
// the depth bound, unreadable stack) and found fewer activations than runs,
// they are paired from the innermost instead, and the outer runs it did not
// reach follow the last native frame; cut is then the index in out of the
// first of those (len(out) when there are none), -1 otherwise.
func merge(natives []Frame, py []cpython.Frame, mode Mode, byEntry, truncated bool) (out []Frame, cut int, errMsg string) {
	if truncated {
		if out, cut, ok := mergeInnermost(natives, py, mode, byEntry); ok {
			return out, cut, ""
		}
	}
	out, errMsg = mergeOutermost(natives, py, mode, byEntry)
	return out, -1, errMsg
}

// mergeInnermost pairs the activations of a truncated native stack with
// the innermost runs, when there are fewer activations than runs.
func mergeInnermost(natives []Frame, py []cpython.Frame, mode Mode, byEntry bool) ([]Frame, int, bool) {
	var evals []int
	for i, f := range natives {
		if f.eval {
			evals = append(evals, i)
		}
	}
	rs := runs(py, byEntry)
	if len(py) == 0 || len(evals) >= len(rs) {
		return nil, 0, false
	}
	runAt := map[int][]cpython.Frame{}
	for k, i := range evals {
		runAt[i] = rs[k]
	}
	out := make([]Frame, 0, len(natives)+len(py))
	for i := range natives {
		for j := range runAt[i] {
			out = append(out, Frame{Python: &runAt[i][j]})
		}
		if mode == All || shown(&natives[i]) {
			out = append(out, natives[i])
		}
	}
	cut := len(out)
	for _, run := range rs[len(evals):] {
		for j := range run {
			out = append(out, Frame{Python: &run[j]})
		}
	}
	return out, cut, true
}

func mergeOutermost(natives []Frame, py []cpython.Frame, mode Mode, byEntry bool) ([]Frame, string) {
	var evals []int
	for i, f := range natives {
		if f.eval {
			evals = append(evals, i)
		}
	}
	rs := runs(py, byEntry)
	if len(py) == 0 {
		rs = nil
	}
	if n, r := len(evals), len(rs); n != r && n != r+1 {
		// Without a symbol for every activation (a stripped build whose
		// eval loop is in unnamed code), 3.12+ still says where each run's
		// activation is: the native frame holding its C-stack shim.
		byShim, ok := shimActivations(natives, rs)
		if !ok {
			return keep(natives, mode), fmt.Sprintf("cannot merge: %d activations of the eval loop on the native stack, %d runs of Python frames", n, r)
		}
		evals = byShim
		for _, i := range evals {
			natives[i].eval = true
		}
	}
	runAt := map[int][]cpython.Frame{}
	for k := 0; k < len(rs); k++ {
		runAt[evals[len(evals)-1-k]] = rs[len(rs)-1-k]
	}
	out := make([]Frame, 0, len(natives)+len(py))
	for i := range natives {
		if run, ok := runAt[i]; ok {
			for j := range run {
				out = append(out, Frame{Python: &run[j]})
			}
		}
		if mode == All || shown(&natives[i]) {
			out = append(out, natives[i])
		}
	}
	return out, ""
}

func keep(natives []Frame, mode Mode) []Frame {
	if mode == All {
		return natives
	}
	var out []Frame
	for i := range natives {
		if shown(&natives[i]) {
			out = append(out, natives[i])
		}
	}
	return out
}

// shown says whether Merged mode shows a native frame: everything outside
// the interpreter, and the interpreter's frames that say why a thread
// stopped (waiting for the GIL or a lock, collecting garbage, a fatal
// error, a signal).
func shown(f *Frame) bool {
	if !f.internal || f.Signal {
		return true
	}
	for _, p := range stopFrames {
		if strings.HasPrefix(f.Function, p) {
			return true
		}
	}
	return false
}

var stopFrames = []string{
	"take_gil", "drop_gil", // the GIL
	"PyThread_acquire_lock", "_PySemaphore_Wait", "_PyMutex_LockTimed", "PyEvent_Wait", "_PyParkingLot_Park", // locks
	"gc_collect_main", "collect", "_PyGC_Collect", // the garbage collector
	"faulthandler_", "fatal_error", "_Py_FatalError", "Py_FatalError", // crashes
}

// shimActivations finds, innermost first, the native frame of each run's eval
// loop activation from the address of the run's shim frame (a local of the
// activation, so between the frame's sp, its callee's CFA, and its own CFA).
// It fails unless every run has a shim, each in a distinct frame, in stack
// order.
func shimActivations(natives []Frame, rs [][]cpython.Frame) ([]int, bool) {
	var out []int
	next := 0
	for _, run := range rs {
		shim := run[len(run)-1].Shim
		if shim == 0 {
			return nil, false
		}
		found := -1
		for i := next; i < len(natives); i++ {
			lo := core.Address(0)
			if i > 0 {
				lo = natives[i-1].cfa
			}
			if hi := natives[i].cfa; lo != 0 && hi > lo && lo <= shim && shim < hi {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, false
		}
		out = append(out, found)
		next = found + 1
	}
	return out, len(out) > 0
}
