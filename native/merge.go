package native

import (
	"fmt"
	"strings"

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
func merge(natives []Frame, py []cpython.Frame, mode Mode, byEntry bool) ([]Frame, string) {
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
		return keep(natives, mode), fmt.Sprintf("cannot merge: %d activations of the eval loop on the native stack, %d runs of Python frames", n, r)
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
