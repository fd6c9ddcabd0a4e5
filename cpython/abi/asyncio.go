package abi

// What asyncio's readers need that differs by version: TaskObj's layout
// (the _asyncio module has no DWARF in release builds) and the states of a
// suspended coroutine's frame.

// TaskObjRow is TaskObj of one minor on x86-64, member offsets counted
// from the end of the object header (so free-threaded builds, whose header
// is 16 bytes longer, share the rows). FutureObj_HEAD opens TaskObj: loop,
// callback0, context0, callbacks, ... in every version.
type TaskObjRow struct {
	minor                     int
	State, Waiter, Coro, Name int64
	AwaitedBy, AwaitedByIsSet int64 // 3.14+
	Node, Size                int64
}

var taskObjRows = []TaskObjRow{
	{minor: 8, State: 56, Waiter: 88, Coro: 96, Name: 104, AwaitedBy: -1, AwaitedByIsSet: -1, Node: -1, Size: 128},
	{minor: 9, State: 64, Waiter: 128, Coro: 136, Name: 144, AwaitedBy: -1, AwaitedByIsSet: -1, Node: -1, Size: 168},
	{minor: 10, State: 72, Waiter: 136, Coro: 144, Name: 152, AwaitedBy: -1, AwaitedByIsSet: -1, Node: -1, Size: 176},
	{minor: 11, State: 72, Waiter: 112, Coro: 120, Name: 128, AwaitedBy: -1, AwaitedByIsSet: -1, Node: -1, Size: 160},
	{minor: 12, State: 72, Waiter: 112, Coro: 120, Name: 128, AwaitedBy: -1, AwaitedByIsSet: -1, Node: -1, Size: 160},
	{minor: 13, State: 80, Waiter: 96, Coro: 104, Name: 112, AwaitedBy: -1, AwaitedByIsSet: -1, Node: -1, Size: 128},
	{minor: 14, State: 88, Waiter: 104, Coro: 112, Name: 120, AwaitedBy: 80, AwaitedByIsSet: 93, Node: 136, Size: 152},
	{minor: 15, State: 88, Waiter: 104, Coro: 112, Name: 120, AwaitedBy: 80, AwaitedByIsSet: 93, Node: 136, Size: 152},
}

// TaskObjFor is the TaskObj row of v's minor.
func TaskObjFor(v Version) (TaskObjRow, bool) {
	for _, row := range taskObjRows {
		if v.Major == 3 && v.Minor == row.minor {
			return row, true
		}
	}
	return TaskObjRow{}, false
}

// GenStates is what a version's _framestate enum (Include/internal/pycore_frame.h;
// 3.10: Include/cpython/frameobject.h) says of a suspended coroutine.
type GenStates struct {
	// YieldFrom are the states of a generator suspended in yield from /
	// await (a coroutine suspends only in an await, so before 3.13, which
	// has no state of its own for it, FRAME_SUSPENDED is one).
	YieldFrom []int64
	// Finished is the first state in which the frame is gone (CPython's
	// FRAME_STATE_FINISHED).
	Finished int64
	// Depth is where the awaited object is on the suspended frame's value
	// stack, counted from the top: 3.15's SEND keeps an index slot above it.
	Depth int64
}

func genStatesFor(v Version) GenStates {
	switch {
	case v.AtLeast(3, 15):
		// CREATED 0, SUSPENDED 1, SUSPENDED_YIELD_FROM 2, SUSPENDED_YIELD_FROM_LOCKED 3, EXECUTING 4, CLEARED 5
		return GenStates{YieldFrom: []int64{2, 3}, Finished: 5, Depth: 2}
	case v.AtLeast(3, 13):
		// CREATED -3, SUSPENDED -2, SUSPENDED_YIELD_FROM -1, EXECUTING 0, COMPLETED 1, CLEARED 4
		return GenStates{YieldFrom: []int64{-1}, Finished: 1, Depth: 1}
	default:
		// 3.10-3.12: CREATED -2, SUSPENDED -1, EXECUTING 0, then finished
		// (3.10: RETURNED 1, UNWINDING 2, RAISED 3, CLEARED 4; 3.11: COMPLETED 1, CLEARED 4)
		return GenStates{YieldFrom: []int64{-1}, Finished: 1, Depth: 1}
	}
}

// InYieldFrom says whether state is one of a generator suspended in an await.
func (g GenStates) InYieldFrom(state int64) bool {
	for _, s := range g.YieldFrom {
		if s == state {
			return true
		}
	}
	return false
}
