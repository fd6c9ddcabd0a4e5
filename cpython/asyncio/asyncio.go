package asyncio

// asyncio tasks read from a core: which tasks exist on which event loop and
// thread, what each task's coroutines are doing, and who awaits whom.
//
// Where the tasks are:
//   - 3.14+ keeps every native task (an _asyncio.Task or a subclass) in a
//     linked list per thread (tasks the thread created) and one per
//     interpreter (tasks of threads that have exited), and each thread's
//     running loop and task in its thread state. CPython publishes where, and
//     the task fields a reader needs, in _Py_AsyncioModuleDebugOffsets: the
//     .AsyncioDebug section of the _asyncio extension module (3.14) or of
//     libpython / the executable once _asyncio is built in (3.15).
//   - 3.8-3.13 keep them in Python objects: the WeakSet
//     asyncio.tasks._all_tasks (3.8-3.11) or _scheduled_tasks plus the set
//     _eager_tasks (3.12-3.13), and the dict _current_tasks (loop -> running
//     task). 3.14+ still uses these for tasks that are not native.
//
// A task's own fields (state, loop, coroutine, name, the future it waits on,
// its done callbacks) are members of the C struct TaskObj of
// Modules/_asynciomodule.c. Its layout comes from the DWARF of the module
// that defines it when the types come from DWARF, else from taskLayouts
// below (read off each minor's source and checked against the DWARF of real
// builds by the tests), checked against .AsyncioDebug where there is one.
//
// A coroutine's stack is its frame, then the frame of what it awaits (the
// top of its value stack while it is suspended in an await: CPython's
// cr_await), and so on while that is a coroutine. The running task's
// coroutines are executing, so its stack is the thread's frames from the
// innermost out to the task's coroutine.
//
// Who awaits whom: 3.14+ records it (Future._asyncio_awaited_by, the
// task_awaited_by member). Before 3.14 nothing records it; pycore derives the
// same edges CPython 3.14 would record for the three common shapes: a task
// awaiting a task (the awaiter's _fut_waiter is the awaited task), gather()
// (the awaiter's _fut_waiter is a _GatheringFuture whose _children are the
// awaited tasks) and TaskGroup (a child's done callback is the group's
// _on_task_done, and the group's _parent_task awaits it).

import (
	"errors"
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"
	"sort"
	"strings"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// Snapshot is every asyncio task found in the core.
type Snapshot struct {
	Python cpython.PythonInfo
	// Sources say where tasks and layouts were found.
	Sources []string
	Loops   []*EventLoop
	Tasks   []*Task
	// AwaitedBy says whether CPython recorded the awaited-by edges
	// ("recorded", 3.14+) or pycore derived them ("derived").
	AwaitedBy string
	// Missing says what this version or this core cannot give.
	Missing []string
	Notes   []string
	// AsyncioImported: asyncio is in some interpreter's sys.modules (or
	// tasks were found anyway); false means the program has no event loop.
	AsyncioImported bool
}

// EventLoop is one event loop that has tasks.
type EventLoop struct {
	Address       core.Address
	Type          string
	InterpreterID int64
	// ThreadID is the thread running the loop (threading.get_ident()), null
	// when the loop is not running.
	ThreadID    *uint64
	ThreadName  *string
	LWP         *int64
	RunningTask *core.Address
}

// Task is one asyncio task.
type Task struct {
	Address core.Address // id(task)
	Type    string       // type(task).__name__
	Name    *string
	// State is "pending", "done" or "cancelled" ("unknown" if unreadable).
	State string
	// Running: the loop is running this task (its coroutine is executing).
	Running       bool
	Loop          core.Address
	InterpreterID int64
	ThreadID      *uint64 // the thread running the task's loop
	Coroutine     core.Address
	// Stack is the task's coroutine stack, innermost first (see the package
	// comment on asyncio for what it holds for the running task).
	Stack []cpython.Frame
	// WaitingFor is the future the task is blocked on (its _fut_waiter).
	WaitingFor *AwaitedObject
	AwaitedBy  []core.Address // tasks awaiting this one
	Awaits     []core.Address // tasks this one awaits
	// Error says what could not be read.
	Error string
}

// AwaitedObject is a future a task waits on.
type AwaitedObject struct {
	Address core.Address
	Type    string
}

// Task states, by fut_state (STATE_PENDING, STATE_CANCELLED, STATE_FINISHED).
var taskStates = []string{"pending", "cancelled", "done"}

// Bounds on what the asyncio reader walks.
const (
	maxTasks      = 1 << 20
	maxCoroDepth  = 4096
	maxGatherNest = 16
	// maxGatherVisits bounds the futures looked at below one gather().
	maxGatherVisits = 1 << 16
	maxCallbacks    = 1 << 12
)

// taskLayout is where TaskObj keeps what pycore reads; -1 for unknown.
type taskLayout struct {
	size                            int64
	loop, callback0, callbacks      int64
	state, waiter, coro, name       int64
	awaitedBy, awaitedByIsSet, node int64 // 3.14+
	source                          string
}

// builtinTaskLayout is abi's TaskObj table for v, with header size h.
func builtinTaskLayout(v abi.Version, h, ptr int64) (*taskLayout, error) {
	if ptr != 8 {
		return nil, fmt.Errorf("pycore's TaskObj table is for 64-bit processes; this one has %d-byte pointers", ptr)
	}
	row, ok := abi.TaskObjFor(v)
	if !ok {
		return nil, fmt.Errorf("pycore has no TaskObj layout for CPython %s", v.Series())
	}
	at := func(o int64) int64 {
		if o < 0 {
			return -1
		}
		return h + o
	}
	return &taskLayout{size: h + row.Size, loop: h, callback0: h + 8, callbacks: h + 24,
		state: at(row.State), waiter: at(row.Waiter), coro: at(row.Coro), name: at(row.Name),
		awaitedBy: at(row.AwaitedBy), awaitedByIsSet: at(row.AwaitedByIsSet), node: at(row.Node),
		source: "pycore's TaskObj table for " + v.Series()}, nil
}

// dwarfTaskLayout reads TaskObj from a module's DWARF.
func dwarfTaskLayout(m *symbols.Module, ptr int) (*taskLayout, error) {
	if m == nil {
		return nil, errors.New("no module defines _asyncio")
	}
	dt, src, err := cpython.ModuleDWARFTypes(m, ptr, ", which defines _asyncio.Task")
	if err != nil {
		return nil, err
	}
	t, err := dt.Lookup("TaskObj")
	if err != nil {
		return nil, fmt.Errorf("TaskObj in %s: %w", src, err)
	}
	r := t.Resolve()
	if r == nil || !r.IsStructLike() {
		return nil, fmt.Errorf("TaskObj in %s is not a struct", src)
	}
	off := func(name string, required bool) (int64, error) {
		o, err := abi.MemberPathOffset(t, name)
		if err != nil {
			if required {
				return -1, fmt.Errorf("TaskObj in %s: %w", src, err)
			}
			return -1, nil
		}
		return o, nil
	}
	l := &taskLayout{size: r.Size, source: "TaskObj in " + src}
	for _, f := range []struct {
		name     string
		dst      *int64
		required bool
	}{
		{"task_loop", &l.loop, true}, {"task_callback0", &l.callback0, true}, {"task_callbacks", &l.callbacks, true},
		{"task_state", &l.state, true}, {"task_fut_waiter", &l.waiter, true}, {"task_coro", &l.coro, true},
		{"task_name", &l.name, true}, {"task_awaited_by", &l.awaitedBy, false},
		{"task_awaited_by_is_set", &l.awaitedByIsSet, false}, {"task_node", &l.node, false},
	} {
		if *f.dst, err = off(f.name, f.required); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// asyncioDebug is _Py_AsyncioModuleDebugOffsets (3.14+).
type asyncioDebug struct {
	where                                            string
	taskSize, taskName, taskAwaitedBy, taskIsTask    int64
	taskAwaitedByIsSet, taskCoro, taskNode           int64
	interpSize, interpTasksHead                      int64
	tstateSize, tstateRunningLoop, tstateRunningTask int64
	tstateTasksHead                                  int64
}

// asyncioDebugFields is the struct's layout: every field a uint64, in this
// order, in 3.14 and 3.15 (Modules/_asynciomodule.c). A minor that changes
// it adds a list here.
var asyncioDebugFields = []string{
	"asyncio_task_object.size", "asyncio_task_object.task_name", "asyncio_task_object.task_awaited_by",
	"asyncio_task_object.task_is_task", "asyncio_task_object.task_awaited_by_is_set",
	"asyncio_task_object.task_coro", "asyncio_task_object.task_node",
	"asyncio_interpreter_state.size", "asyncio_interpreter_state.asyncio_tasks_head",
	"asyncio_thread_state.size", "asyncio_thread_state.asyncio_running_loop",
	"asyncio_thread_state.asyncio_running_task", "asyncio_thread_state.asyncio_tasks_head",
}

// findAsyncioDebug finds and decodes the .AsyncioDebug section, read from
// the process's memory. It returns nil, nil when no mapped file has one.
func findAsyncioDebug(p *cpython.Process) (*asyncioDebug, *symbols.Module, error) {
	if p.Syms == nil {
		return nil, nil, nil
	}
	for _, m := range p.Syms.Modules {
		sec, ok := m.Section(".AsyncioDebug")
		if !ok {
			continue
		}
		d, err := decodeAsyncioDebug(p.R, sec.Addr, sec.Size)
		if err != nil {
			return nil, m, fmt.Errorf("section .AsyncioDebug of %s: %w", m.Path, err)
		}
		d.where = fmt.Sprintf("section .AsyncioDebug of %s", m.Path)
		return d, m, nil
	}
	return nil, nil, nil
}

func decodeAsyncioDebug(r core.Reader, addr core.Address, size uint64) (*asyncioDebug, error) {
	n := len(asyncioDebugFields)
	if size < uint64(8*n) {
		return nil, fmt.Errorf("%d bytes at %s, want at least %d", size, addr, 8*n)
	}
	buf := make([]byte, 8*n)
	if err := r.Read(buf, addr); err != nil {
		return nil, fmt.Errorf("reading %d bytes at %s: %w", len(buf), addr, err)
	}
	v := make([]int64, n)
	for i := range v {
		u := r.Order.Uint64(buf[8*i:])
		if u > abi.MaxStructSize {
			return nil, fmt.Errorf("%s is %d, not a plausible offset or size", asyncioDebugFields[i], u)
		}
		v[i] = int64(u)
	}
	d := &asyncioDebug{taskSize: v[0], taskName: v[1], taskAwaitedBy: v[2], taskIsTask: v[3],
		taskAwaitedByIsSet: v[4], taskCoro: v[5], taskNode: v[6], interpSize: v[7], interpTasksHead: v[8],
		tstateSize: v[9], tstateRunningLoop: v[10], tstateRunningTask: v[11], tstateTasksHead: v[12]}
	// Every member must lie inside its struct.
	for _, c := range []struct {
		name        string
		off, w, max int64
	}{
		{"task_name", d.taskName, 8, d.taskSize}, {"task_awaited_by", d.taskAwaitedBy, 8, d.taskSize},
		{"task_is_task", d.taskIsTask, 1, d.taskSize}, {"task_awaited_by_is_set", d.taskAwaitedByIsSet, 1, d.taskSize},
		{"task_coro", d.taskCoro, 8, d.taskSize}, {"task_node", d.taskNode, 16, d.taskSize},
		{"interpreter asyncio_tasks_head", d.interpTasksHead, 16, d.interpSize},
		{"thread asyncio_running_loop", d.tstateRunningLoop, 8, d.tstateSize},
		{"thread asyncio_running_task", d.tstateRunningTask, 8, d.tstateSize},
		{"thread asyncio_tasks_head", d.tstateTasksHead, 16, d.tstateSize},
	} {
		if c.off+c.w > c.max {
			return nil, fmt.Errorf("%s at offset %d does not fit in its struct of %d bytes", c.name, c.off, c.max)
		}
	}
	return d, nil
}

// asyncioModule is the module that defines _asyncio: its extension module if
// mapped, else the interpreter's own file (where _asyncio is built in).
func asyncioModule(p *cpython.Process, dbgModule *symbols.Module) *symbols.Module {
	if dbgModule != nil {
		return dbgModule
	}
	if p.Syms != nil {
		for _, m := range p.Syms.Modules {
			base := m.Path[strings.LastIndexByte(m.Path, '/')+1:]
			if strings.HasPrefix(base, "_asyncio.") && strings.HasSuffix(base, ".so") {
				return m
			}
		}
	}
	return p.Module
}

// chooseTaskLayout picks TaskObj's layout the way struct layouts are chosen:
// DWARF when the types come from DWARF, else the table (DWARF if the table
// has no row for this version), checked against .AsyncioDebug.
func chooseTaskLayout(p *cpython.Process, mod *symbols.Module, dbg *asyncioDebug, h int64) (*taskLayout, error) {
	_, fromDWARF := p.Types.(*abi.DWARFSource)
	var tl *taskLayout
	var err error
	if fromDWARF {
		// The interpreter's DWARF need not come with its extension
		// modules': then the table, saying so.
		if tl, err = dwarfTaskLayout(mod, p.R.PtrSize); err != nil {
			var terr error
			if tl, terr = builtinTaskLayout(p.Version, h, int64(p.R.PtrSize)); terr != nil {
				return nil, fmt.Errorf("%v, and %v", err, terr)
			}
			tl.source += " (" + err.Error() + ")"
			err = nil
		}
	} else if tl, err = builtinTaskLayout(p.Version, h, int64(p.R.PtrSize)); err != nil {
		var derr error
		if tl, derr = dwarfTaskLayout(mod, p.R.PtrSize); derr != nil {
			if dbg == nil {
				return nil, fmt.Errorf("%v, and %v", err, derr)
			}
			// Only what the debug section gives: no state, loop or waiter.
			tl = &taskLayout{size: dbg.taskSize, loop: -1, callback0: -1, callbacks: -1, state: -1, waiter: -1,
				coro: -1, name: -1, awaitedBy: -1, awaitedByIsSet: -1, node: -1,
				source: dbg.where + " alone (" + err.Error() + ")"}
		}
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if dbg == nil {
		return tl, nil
	}
	// The debug section is CPython's own word: a layout that disagrees with
	// it is not this build's.
	for _, c := range []struct {
		name      string
		dst       *int64
		published int64
	}{
		{"task_name", &tl.name, dbg.taskName}, {"task_coro", &tl.coro, dbg.taskCoro},
		{"task_awaited_by", &tl.awaitedBy, dbg.taskAwaitedBy}, {"task_awaited_by_is_set", &tl.awaitedByIsSet, dbg.taskAwaitedByIsSet},
		{"task_node", &tl.node, dbg.taskNode},
	} {
		if *c.dst >= 0 && *c.dst != c.published {
			return nil, fmt.Errorf("%s puts %s at %d, but %s says %d", tl.source, c.name, *c.dst, dbg.where, c.published)
		}
		*c.dst = c.published
	}
	if tl.size > 0 && tl.size != dbg.taskSize {
		return nil, fmt.Errorf("%s says sizeof(TaskObj) is %d, but %s says %d", tl.source, tl.size, dbg.where, dbg.taskSize)
	}
	return tl, nil
}

// coroLayout is how coroutines and their frames are read.
type coroLayout struct {
	frameObjects bool   // 3.8-3.10: cr_frame points to a PyFrameObject
	frameMember  string // cr_frame or gi_frame (3.8-3.10)
	frame        int64  // cr_frame (pointer) or cr_iframe (embedded frame)
	state        int64  // cr_frame_state (3.11+)
	// Frame objects (3.8-3.10).
	fStacktop, fValuestack, fStackdepth, fState, fLasti int64
	frameType                                           *typesys.Type // PyFrameObject
	coroType                                            *typesys.Type // PyCoroObject or PyGenObject
	// Interpreter frames (3.11+).
	iframeType                         *typesys.Type
	localsplus, stacktop, stackpointer int64
	states                             abi.GenStates
}

// coroKey keys the coroutine layout among what the process keeps for the
// packages above the walker.
type coroKey struct{}

type coroResult struct {
	cl  *coroLayout
	err error
}

// coroLayoutOf is the process's coroutine layout, worked out once, on the
// first tasks call.
func coroLayoutOf(p *cpython.Process) (*coroLayout, error) {
	r := p.Once(coroKey{}, func() any {
		cl, err := newCoroLayout(p)
		return coroResult{cl, err}
	}).(coroResult)
	return r.cl, r.err
}

func newCoroLayout(p *cpython.Process) (*coroLayout, error) {
	cl := &coroLayout{state: -1, states: p.Flavor().GenStates}
	anchors := map[string]string{"_PyInterpreterFrame": "localsplus", "PyObject": "ob_type"}
	ct, src, err := p.StructOf([]string{"PyCoroObject", "PyGenObject"}, anchors)
	if err != nil {
		return nil, fmt.Errorf("coroutine layout: %w", err)
	}
	cl.coroType = ct
	// first is the offset of the first of names that t has.
	first := func(t *typesys.Type, src string, names ...string) (int64, string, error) {
		for _, n := range names {
			if o, err := abi.MemberPathOffset(t, n); err == nil {
				return o, n, nil
			}
		}
		return -1, "", fmt.Errorf("%s: %s has no %s", src, t.Name, strings.Join(names, " or "))
	}
	if p.Flavor().Frames == abi.FrameObjects {
		cl.frameObjects = true
		if cl.frame, cl.frameMember, err = first(ct, src, "cr_frame", "gi_frame"); err != nil {
			return nil, err
		}
		ft, err := p.Types.Struct("PyFrameObject")
		if err != nil {
			return nil, err
		}
		fsrc := p.Types.Describe()
		cl.frameType = ft
		members := []struct {
			dst  *int64
			name string
		}{{&cl.fLasti, "f_lasti"}, {&cl.fValuestack, "f_valuestack"}}
		if p.Flavor().FrameState {
			members = append(members, struct {
				dst  *int64
				name string
			}{&cl.fStackdepth, "f_stackdepth"}, struct {
				dst  *int64
				name string
			}{&cl.fState, "f_state"})
		} else {
			members = append(members, struct {
				dst  *int64
				name string
			}{&cl.fStacktop, "f_stacktop"})
		}
		for _, m := range members {
			if *m.dst, _, err = first(ft, fsrc, m.name); err != nil {
				return nil, err
			}
		}
		return cl, nil
	}
	if cl.frame, _, err = first(ct, src, "cr_iframe", "gi_iframe"); err != nil {
		return nil, err
	}
	if cl.state, _, err = first(ct, src, "cr_frame_state", "gi_frame_state"); err != nil {
		return nil, err
	}
	it, isrc, err := p.StructOf([]string{"_PyInterpreterFrame"}, nil)
	if err != nil {
		return nil, err
	}
	cl.iframeType = it
	if cl.localsplus, err = abi.MemberPathOffset(it, "localsplus"); err != nil {
		return nil, fmt.Errorf("%s: %w", isrc, err)
	}
	cl.stacktop, cl.stackpointer = -1, -1
	if p.Flavor().FrameStackPointer {
		if cl.stackpointer, err = abi.MemberPathOffset(it, "stackpointer"); err != nil {
			return nil, fmt.Errorf("%s: %w", isrc, err)
		}
	} else if cl.stacktop, err = abi.MemberPathOffset(it, "stacktop"); err != nil {
		// 3.13's debug offsets lack it: take it from the table if it agrees.
		t, tsrc, terr := tableStruct(p, "_PyInterpreterFrame", "localsplus", cl.localsplus)
		if terr != nil {
			return nil, fmt.Errorf("%s: %w, and %v", isrc, err, terr)
		}
		if cl.stacktop, err = abi.MemberPathOffset(t, "stacktop"); err != nil {
			return nil, fmt.Errorf("%s: %w", tsrc, err)
		}
	}
	return cl, nil
}

// tableStruct is a struct of pycore's generated table for this build, if
// the table puts anchor where the process's types do.
func tableStruct(p *cpython.Process, name, anchor string, want int64) (*typesys.Type, string, error) {
	vl := abi.TableFor(p.Version, p.FreeThreaded, p.Debug)
	if vl == nil {
		return nil, "", fmt.Errorf("pycore has no table for %s", p.Version)
	}
	lt, err := abi.NewLayoutTypes(vl, p.R.PtrSize)
	if err != nil {
		return nil, "", err
	}
	t, err := lt.Struct(name)
	if err != nil {
		return nil, "", err
	}
	if got, err := abi.MemberPathOffset(t, anchor); err != nil || got != want {
		return nil, "", fmt.Errorf("pycore's table for %s puts %s.%s at %d, not %d", vl.Version, name, anchor, got, want)
	}
	return t, lt.Describe(), nil
}

// asyncReader reads asyncio objects of one process.
type asyncReader struct {
	p       *cpython.Process
	r       *pyobj.Reader
	tl      *taskLayout
	cl      *coroLayout
	clErr   error
	dbg     *asyncioDebug
	coroTyp core.Address // &PyCoro_Type, 0 if unknown
	methTyp core.Address // &PyMethod_Type, 0 if unknown
	imFunc  int64
	imSelf  int64
	header  int64
	// tasks found so far, by address, and their order of discovery.
	tasks map[core.Address]*Task
	order []core.Address
	// loops by address.
	loops     map[core.Address]*EventLoop
	loopOrder []core.Address
	notes     []string
	foreign   map[string]int // task-like objects of types pycore does not read
	notTasks  map[core.Address]bool
	sources   []string
}

// Tasks finds every asyncio task of every interpreter.
func Tasks(p *cpython.Process) (*Snapshot, error) {
	return TasksWith(p, cpython.SnapshotOptions{})
}

// TasksWith is Tasks reading what o asks beyond the stacks:
// with o.Locals, every coroutine frame's arguments and locals, as
// SnapshotWith reads a thread's.
func TasksWith(p *cpython.Process, o cpython.SnapshotOptions) (*Snapshot, error) {
	out, err := tasks(p)
	if err != nil || !o.Locals {
		return out, err
	}
	var frames []*cpython.Frame
	for _, t := range out.Tasks {
		for i := range t.Stack {
			frames = append(frames, &t.Stack[i])
		}
	}
	if err := p.FrameLocals(frames, o.Repr); err != nil {
		out.Notes = append(out.Notes, fmt.Sprintf("locals: %v", err))
	}
	return out, nil
}

func tasks(p *cpython.Process) (*Snapshot, error) {
	rd, err := p.Reader()
	if err != nil {
		return nil, err
	}
	l := rd.L
	snap, err := p.Snapshot()
	if err != nil {
		return nil, err
	}
	out := &Snapshot{Python: snap.Python, Loops: []*EventLoop{}, Tasks: []*Task{}}
	out.Notes = append(out.Notes, snap.Notes...)
	ar := &asyncReader{p: p, r: rd,
		header: l.Header, tasks: map[core.Address]*Task{}, loops: map[core.Address]*EventLoop{},
		foreign: map[string]int{}, notTasks: map[core.Address]bool{}, imFunc: l.Header, imSelf: l.Header + l.Ptr}
	if t, err := p.Types.Struct("PyMethodObject"); err == nil {
		if o, err := abi.MemberOffset(t, "im_func"); err == nil {
			ar.imFunc = o
		}
		if o, err := abi.MemberOffset(t, "im_self"); err == nil {
			ar.imSelf = o
		}
	}
	if p.Syms != nil {
		if s, ok := p.Lookup("PyCoro_Type"); ok {
			ar.coroTyp = s.Addr
		}
		if s, ok := p.Lookup("PyMethod_Type"); ok {
			ar.methTyp = s.Addr
		}
	}

	dbg, dbgMod, err := findAsyncioDebug(p)
	if err != nil {
		return nil, err
	}
	if p.Flavor().AsyncioDebug && dbg == nil {
		if m := asyncioModule(p, nil); m != nil && m != p.Module && m.ELF == nil {
			out.Missing = append(out.Missing, fmt.Sprintf("native tasks: %s, whose .AsyncioDebug section says where they are, could not be read (%v); try --sysroot or --lib-path", m.Path, m.Err))
		} else {
			out.Sources = append(out.Sources, "no _asyncio module is loaded: asyncio was never imported, so there are no native tasks")
		}
	}
	ar.dbg = dbg
	mod := asyncioModule(p, dbgMod)
	if ar.tl, err = chooseTaskLayout(p, mod, dbg, l.Header); err != nil {
		return nil, fmt.Errorf("asyncio tasks: %w", err)
	}
	out.Sources = append(out.Sources, "task fields: "+ar.tl.source)
	if dbg != nil {
		out.Sources = append(out.Sources, "task lists, running loops and tasks: "+dbg.where)
	}
	ar.cl, ar.clErr = coroLayoutOf(p)
	if ar.clErr != nil {
		out.Missing = append(out.Missing, "coroutine stacks: "+ar.clErr.Error())
	}

	threads := map[uint64]*cpython.Thread{}
	for _, t := range snap.Threads {
		if _, dup := threads[t.ThreadID]; !dup || t.InterpreterID == 0 {
			threads[t.ThreadID] = t
		}
	}
	if dbg != nil {
		ar.fromTaskLists(snap)
	}
	ar.fromModules()
	out.Sources = append(out.Sources, ar.sources...)
	if len(ar.sources) == 0 {
		out.Sources = append(out.Sources, "asyncio.tasks is in no interpreter's sys.modules: asyncio was not imported")
	}
	ar.readAll(threads)
	if p.Flavor().AsyncioDebug {
		out.AwaitedBy = "recorded"
	} else {
		out.AwaitedBy = "derived"
		ar.deriveAwaitedBy()
		out.Missing = append(out.Missing, fmt.Sprintf("awaited-by edges: CPython %s records none; pycore derives them from tasks awaiting tasks, gather() and TaskGroup, so awaits through asyncio.wait(), wait_for(), shield() or as_completed() are not shown", p.Version.Series()))
	}
	ar.stableOrder()
	ar.link()
	for _, n := range abi.SortedKeys(ar.foreign) {
		out.Missing = append(out.Missing, fmt.Sprintf("%d task(s) of type %s: not an _asyncio.Task (a pure-Python task), whose fields pycore does not read", ar.foreign[n], n))
	}
	for _, a := range ar.loopOrder {
		out.Loops = append(out.Loops, ar.loops[a])
	}
	for _, a := range ar.order {
		out.Tasks = append(out.Tasks, ar.tasks[a])
	}
	out.AsyncioImported = len(ar.sources) > 0 || len(out.Tasks) > 0
	out.Notes = append(out.Notes, ar.notes...)
	return out, nil
}

// stableOrder sorts the loops and tasks by what the program decides, not by
// where CPython happens to keep them (a WeakSet's hash order before 3.14,
// which differs between versions and runs): loops by interpreter, then by
// the LWP of the thread running them (the main thread's first; loops not
// running last), then by address; tasks by loop, the running task first,
// then by name (numbers in names compared as numbers, so Task-2 comes before
// Task-10), then by address.
func (ar *asyncReader) stableOrder() {
	loops := ar.loops
	sort.SliceStable(ar.loopOrder, func(i, j int) bool {
		a, b := loops[ar.loopOrder[i]], loops[ar.loopOrder[j]]
		if a.InterpreterID != b.InterpreterID {
			return a.InterpreterID < b.InterpreterID
		}
		if (a.LWP == nil) != (b.LWP == nil) {
			return a.LWP != nil
		}
		if a.LWP != nil && *a.LWP != *b.LWP {
			return *a.LWP < *b.LWP
		}
		return a.Address < b.Address
	})
	loopIndex := map[core.Address]int{}
	for i, a := range ar.loopOrder {
		loopIndex[a] = i
	}
	index := func(t *Task) int {
		if i, ok := loopIndex[t.Loop]; ok {
			return i
		}
		return len(ar.loopOrder)
	}
	name := func(t *Task) string {
		if t.Name == nil {
			return ""
		}
		return *t.Name
	}
	sort.SliceStable(ar.order, func(i, j int) bool {
		a, b := ar.tasks[ar.order[i]], ar.tasks[ar.order[j]]
		if li, lj := index(a), index(b); li != lj {
			return li < lj
		}
		if a.Running != b.Running {
			return a.Running
		}
		if c := naturalCompare(name(a), name(b)); c != 0 {
			return c < 0
		}
		return a.Address < b.Address
	})
}

// naturalCompare compares strings as text, except that runs of digits
// compare as numbers: "Task-2" < "Task-10".
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// addTask records a task found somewhere, once; nil past maxTasks.
func (ar *asyncReader) addTask(a core.Address, interp int64) *Task {
	if a == 0 {
		return nil
	}
	if t, ok := ar.tasks[a]; ok {
		return t
	}
	if len(ar.tasks) >= maxTasks {
		return nil
	}
	t := &Task{Address: a, InterpreterID: interp, State: "unknown", Stack: []cpython.Frame{}}
	ar.tasks[a] = t
	ar.order = append(ar.order, a)
	return t
}

func (ar *asyncReader) addLoop(a core.Address, interp int64) *EventLoop {
	if lp, ok := ar.loops[a]; ok || a == 0 {
		return lp
	}
	lp := &EventLoop{Address: a, InterpreterID: interp}
	ar.loops[a] = lp
	ar.loopOrder = append(ar.loopOrder, a)
	return lp
}

// fromTaskLists walks 3.14+'s linked lists of every thread and interpreter,
// and each thread's running loop and task.
func (ar *asyncReader) fromTaskLists(snap *cpython.Snapshot) {
	p, d := ar.p, ar.dbg
	for _, th := range snap.Threads {
		ts := th.TState
		ar.walkTaskList(ts.Add(d.tstateTasksHead), th.InterpreterID, fmt.Sprintf("thread %#x", th.ThreadID))
		loop, err1 := p.R.Ptr(ts.Add(d.tstateRunningLoop))
		task, err2 := p.R.Ptr(ts.Add(d.tstateRunningTask))
		if err := errors.Join(err1, err2); err != nil {
			ar.notes = append(ar.notes, fmt.Sprintf("thread %#x: running loop and task: %v", th.ThreadID, err))
			continue
		}
		if loop != 0 {
			lp := ar.addLoop(loop, th.InterpreterID)
			id := th.ThreadID
			lp.ThreadID = &id
			if task != 0 {
				lp.RunningTask = &task
			}
		}
		if t := ar.addTask(task, th.InterpreterID); t != nil {
			t.Running = true
		}
	}
	ar.eachInterpreter(func(_ typesys.Value, addr core.Address, id int64) {
		ar.walkTaskList(addr.Add(d.interpTasksHead), id, fmt.Sprintf("interpreter %d", id))
	})
}

// walkTaskList follows a circular list of TaskObj.task_node from its head.
func (ar *asyncReader) walkTaskList(head core.Address, interp int64, what string) {
	r := ar.p.R
	seen := map[core.Address]bool{}
	node, err := r.Ptr(head)
	for err == nil && node != head {
		if node == 0 {
			ar.notes = append(ar.notes, fmt.Sprintf("%s: task list at %s has a NULL link (not initialized?)", what, head))
			return
		}
		if seen[node] || len(seen) >= maxTasks {
			ar.notes = append(ar.notes, fmt.Sprintf("%s: task list at %s loops or has more than %d tasks; stopped at %s", what, head, maxTasks, node))
			return
		}
		seen[node] = true
		ar.addTask(node.Add(-ar.dbg.taskNode), interp)
		node, err = r.Ptr(node)
	}
	if err != nil {
		ar.notes = append(ar.notes, fmt.Sprintf("%s: task list at %s: %v", what, head, err))
	}
}

// fromModules reads each interpreter's asyncio.tasks globals: the task
// sets and the running task of each loop.
func (ar *asyncReader) fromModules() {
	ar.eachInterpreter(func(interp typesys.Value, addr core.Address, id int64) {
		if err := ar.moduleTasks(interp, id); err != nil {
			ar.notes = append(ar.notes, fmt.Sprintf("interpreter %d: asyncio.tasks: %v", id, err))
		}
	})
}

// eachInterpreter calls f for every interpreter, bounded.
func (ar *asyncReader) eachInterpreter(f func(interp typesys.Value, addr core.Address, id int64)) {
	interp, err := ar.p.Runtime.Path("interpreters.head")
	if err != nil {
		ar.notes = append(ar.notes, fmt.Sprintf("interpreter list: %v", err))
		return
	}
	seen := map[core.Address]bool{}
	for n := 0; n < cpython.MaxInterpreters; n++ {
		addr, err := interp.Ptr()
		if err != nil || addr == 0 || seen[addr] {
			return
		}
		seen[addr] = true
		id := int64(0)
		if v, err := interp.Member("id"); err == nil {
			id, _ = v.Int()
		}
		f(interp, addr, id)
		if interp, err = interp.Member("next"); err != nil {
			return
		}
	}
}

func (ar *asyncReader) moduleTasks(interp typesys.Value, id int64) error {
	r := ar.r
	md, ok, err := r.ModuleDict(interp, "asyncio.tasks")
	if err != nil || !ok {
		return err // asyncio not imported in this interpreter
	}
	var found []string
	defer func() {
		if len(found) > 0 {
			ar.sources = append(ar.sources, fmt.Sprintf("tasks of interpreter %d: asyncio.tasks.%s", id, strings.Join(found, ", ")))
		}
	}()
	for _, name := range []string{"_all_tasks", "_scheduled_tasks", "_eager_tasks"} {
		set, ok, err := r.DictGetStr(md, name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !ok {
			continue
		}
		items, err := ar.setOrWeakSet(set)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		found = append(found, fmt.Sprintf("%s (%d)", name, len(items)))
		for _, a := range items {
			ar.addTask(a, id)
		}
	}
	cur, ok, err := r.DictGetStr(md, "_current_tasks")
	if err != nil || !ok {
		return err
	}
	found = append(found, "_current_tasks")
	items, _, err := r.DictItems(cur, pyobj.MaxLookupItems)
	if err != nil {
		return fmt.Errorf("_current_tasks: %w", err)
	}
	for _, it := range items {
		lp := ar.addLoop(it.Key, id)
		task := it.Value
		lp.RunningTask = &task
		if t := ar.addTask(it.Value, id); t != nil {
			t.Running = true
		}
	}
	return nil
}

// setOrWeakSet lists the items of a set, or the live referents of a WeakSet
// (a Python object whose data attribute is a set of weak references).
func (ar *asyncReader) setOrWeakSet(obj core.Address) ([]core.Address, error) {
	r := ar.r
	tp, err := r.Ptr(obj.Add(r.L.Object.Type))
	if err != nil {
		return nil, err
	}
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return nil, ti.Err
	}
	if ti.Kind == pyobj.KindSet || ti.Kind == pyobj.KindFrozenSet {
		return ar.setKeys(obj)
	}
	data, ok := r.Attr(obj, "data")
	if !ok {
		return nil, fmt.Errorf("%s at %#x: neither a set nor a WeakSet (no data attribute)", ti.Name, uint64(obj))
	}
	refs, err := ar.setKeys(data)
	if err != nil {
		return nil, fmt.Errorf("WeakSet data: %w", err)
	}
	var out []core.Address
	for _, ref := range refs {
		// PyWeakReference: the header, then wr_object (None once the referent is gone).
		o, err := r.Ptr(ref.Add(ar.header))
		if err != nil || o == 0 || r.IsNone(o) {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// setKeys lists a set's keys (bounded by maxTasks).
func (ar *asyncReader) setKeys(a core.Address) ([]core.Address, error) {
	r := ar.r
	l := r.L
	mask, err := r.I64(a.Add(l.Set.Mask))
	if err != nil {
		return nil, fmt.Errorf("set at %#x: mask: %w", uint64(a), err)
	}
	if mask < 0 || mask > 1<<32 || (mask+1)&mask != 0 {
		return nil, fmt.Errorf("set at %#x: mask %#x is not a power of two minus one", uint64(a), mask)
	}
	table, err := r.Ptr(a.Add(l.Set.Table))
	if err != nil {
		return nil, fmt.Errorf("set at %#x: table: %w", uint64(a), err)
	}
	esize := 2 * l.Ptr
	n := min(mask+1, int64(maxTasks))
	buf := make([]byte, min(n, pyobj.MaxEntryChunk)*esize)
	var keys []core.Address
	for start := int64(0); start < n; start += pyobj.MaxEntryChunk {
		cnt := min(n-start, pyobj.MaxEntryChunk)
		chunk := buf[:cnt*esize]
		if err := ar.p.R.Read(chunk, table.Add(start*esize)); err != nil {
			return keys, fmt.Errorf("set at %#x: table entries %d..%d: %w", uint64(a), start, start+cnt, err)
		}
		for i := int64(0); i < cnt; i++ {
			e := chunk[i*esize:]
			k := core.Address(r.Word(e))
			if k == 0 || int64(r.Word(e[l.Ptr:])) == pyobj.PySetDummyHash {
				continue
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// isNativeTask says whether the type at tp is _asyncio.Task or a subclass.
func (ar *asyncReader) isNativeTask(tp core.Address) bool {
	r := ar.r
	for i := 0; i < pyobj.MaxTypeChain && tp != 0; i++ {
		if r.TypeOf(tp).Name == "_asyncio.Task" {
			return true
		}
		if r.L.Type.Base < 0 {
			return false
		}
		b, err := r.Ptr(tp.Add(r.L.Type.Base))
		if err != nil {
			return false
		}
		tp = b
	}
	return false
}

// readAll reads every task found, and the loops they run on.
func (ar *asyncReader) readAll(threads map[uint64]*cpython.Thread) {
	for _, a := range append([]core.Address(nil), ar.order...) {
		t := ar.tasks[a]
		if err := ar.readTask(t); err != nil {
			t.Error = err.Error()
		}
	}
	// Drop objects that turned out not to be native tasks (counted in foreign).
	kept := ar.order[:0]
	for _, a := range ar.order {
		if ar.notTasks[a] {
			delete(ar.tasks, a)
		} else {
			kept = append(kept, a)
		}
	}
	ar.order = kept
	for _, a := range ar.loopOrder {
		ar.readLoop(ar.loops[a], threads)
	}
	for _, a := range ar.order {
		t := ar.tasks[a]
		if lp := ar.loops[t.Loop]; lp != nil {
			t.ThreadID = lp.ThreadID
			if lp.RunningTask != nil && *lp.RunningTask == t.Address {
				t.Running = true
			}
		}
		ar.readStack(t, threads)
	}
}

// readTask reads a task's own fields.
func (ar *asyncReader) readTask(t *Task) error {
	r, tl := ar.r, ar.tl
	a := t.Address
	tp, err := r.Ptr(a.Add(r.L.Object.Type))
	if err != nil {
		return fmt.Errorf("task at %s: ob_type: %w", a, err)
	}
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return fmt.Errorf("task at %s: %w", a, ti.Err)
	}
	if !ar.isNativeTask(tp) {
		ar.foreign[ti.Name]++
		ar.notTasks[a] = true
		return nil
	}
	t.Type = ti.Basename
	var errs []string
	if tl.state >= 0 {
		if s, err := ar.p.R.Uint32(a.Add(tl.state)); err != nil {
			errs = append(errs, fmt.Sprintf("task_state: %v", err))
		} else if int(s) < len(taskStates) {
			t.State = taskStates[s]
		} else {
			errs = append(errs, fmt.Sprintf("task_state is %d, not a fut_state", s))
		}
	}
	if tl.loop >= 0 {
		if lp, err := r.Ptr(a.Add(tl.loop)); err != nil {
			errs = append(errs, fmt.Sprintf("task_loop: %v", err))
		} else {
			t.Loop = lp
			ar.addLoop(lp, t.InterpreterID)
		}
	}
	if c, err := r.Ptr(a.Add(tl.coro)); err != nil {
		errs = append(errs, fmt.Sprintf("task_coro: %v", err))
	} else {
		t.Coroutine = c
	}
	if name, err := ar.taskName(a); err != nil {
		errs = append(errs, fmt.Sprintf("task_name: %v", err))
	} else {
		t.Name = name
	}
	if tl.waiter >= 0 {
		if w, err := r.Ptr(a.Add(tl.waiter)); err != nil {
			errs = append(errs, fmt.Sprintf("task_fut_waiter: %v", err))
		} else if w != 0 {
			t.WaitingFor = &AwaitedObject{Address: w}
			if wt, err := r.Ptr(w.Add(r.L.Object.Type)); err == nil {
				t.WaitingFor.Type = r.TypeOf(wt).Basename
			}
		}
	}
	if tl.awaitedBy >= 0 {
		by, err := ar.awaitedBy(a)
		if err != nil {
			errs = append(errs, fmt.Sprintf("task_awaited_by: %v", err))
		}
		t.AwaitedBy = by
	}
	if len(errs) > 0 {
		return fmt.Errorf("task at %s: %s", a, strings.Join(errs, "; "))
	}
	return nil
}

// taskName reads task_name: a str, or (3.12+, until something asks for
// it) the int N of the automatic name "Task-N".
func (ar *asyncReader) taskName(a core.Address) (*string, error) {
	r := ar.r
	n, err := r.Ptr(a.Add(ar.tl.name))
	if err != nil || n == 0 || r.IsNone(n) {
		return nil, err
	}
	tp, err := r.Ptr(n.Add(r.L.Object.Type))
	if err != nil {
		return nil, err
	}
	switch r.TypeOf(tp).Kind {
	case pyobj.KindStr:
		cps, _, err := r.StrCodepoints(n, 1024)
		if err != nil {
			return nil, err
		}
		s := pyobj.CodepointsToString(cps)
		return &s, nil
	case pyobj.KindInt:
		v, err := r.IntValue(n)
		if err != nil {
			return nil, err
		}
		s := "Task-" + v.String()
		return &s, nil
	}
	return nil, fmt.Errorf("a %s, neither str nor int", r.TypeOf(tp).Name)
}

// awaitedBy reads 3.14+'s task_awaited_by: NULL, one future, or a set of them.
func (ar *asyncReader) awaitedBy(a core.Address) ([]core.Address, error) {
	r := ar.r
	by, err := r.Ptr(a.Add(ar.tl.awaitedBy))
	if err != nil || by == 0 {
		return []core.Address{}, err
	}
	isSet, err := r.U8(a.Add(ar.tl.awaitedByIsSet))
	if err != nil {
		return []core.Address{}, err
	}
	if isSet == 0 {
		return []core.Address{by}, nil
	}
	keys, err := ar.setKeys(by)
	if keys == nil {
		keys = []core.Address{}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys, err
}

// readLoop reads a loop's type and the thread running it (loop._thread_id).
func (ar *asyncReader) readLoop(lp *EventLoop, threads map[uint64]*cpython.Thread) {
	r := ar.r
	if tp, err := r.Ptr(lp.Address.Add(r.L.Object.Type)); err == nil {
		lp.Type = r.TypeOf(tp).Basename
	}
	if lp.ThreadID == nil {
		if v, ok := r.Attr(lp.Address, "_thread_id"); ok && !r.IsNone(v) {
			if id, err := r.IntValue(v); err == nil && id.IsUint64() {
				u := id.Uint64()
				lp.ThreadID = &u
			}
		}
	}
	if lp.ThreadID != nil {
		if th := threads[*lp.ThreadID]; th != nil {
			lp.ThreadName, lp.LWP = th.Name, th.LWP
		}
	}
}

// readStack reads a task's coroutine stack.
func (ar *asyncReader) readStack(t *Task, threads map[uint64]*cpython.Thread) {
	if ar.cl == nil || t.Coroutine == 0 || t.State != "pending" && t.State != "unknown" {
		return
	}
	add := func(err error) {
		if t.Error != "" {
			t.Error += "; "
		}
		t.Error += err.Error()
	}
	if t.Running {
		frameAddr, err := ar.coroFrameAddr(t.Coroutine)
		if err != nil {
			add(fmt.Errorf("coroutine at %s: %w", t.Coroutine, err))
			return
		}
		var th *cpython.Thread
		if t.ThreadID != nil {
			th = threads[*t.ThreadID]
		}
		if th != nil && frameAddr != 0 {
			for i, f := range th.Frames {
				if f.Address == frameAddr {
					t.Stack = append(t.Stack, th.Frames[:i+1]...)
					return
				}
			}
		}
		add(fmt.Errorf("the running task's coroutine frame %s is not on its thread's stack; showing the coroutine alone", frameAddr))
	}
	stack, err := ar.coroStack(t.Coroutine)
	t.Stack = append(t.Stack, stack...)
	if err != nil {
		add(err)
	}
}

// isCoroutine says whether obj is a coroutine object.
func (ar *asyncReader) isCoroutine(obj core.Address) bool {
	r := ar.r
	tp, err := r.Ptr(obj.Add(r.L.Object.Type))
	if err != nil {
		return false
	}
	if ar.coroTyp != 0 {
		return tp == ar.coroTyp
	}
	ti := r.TypeOf(tp)
	return !ti.Heap && ti.Name == "coroutine"
}

// coroFrameAddr is where a coroutine's frame is: the frame object (3.8-3.10)
// or the interpreter frame inside the coroutine (3.11+); 0 once finished.
func (ar *asyncReader) coroFrameAddr(coro core.Address) (core.Address, error) {
	cl := ar.cl
	if cl.frameObjects {
		return ar.r.Ptr(coro.Add(cl.frame))
	}
	st, err := ar.p.R.Uint8(coro.Add(cl.state))
	if err != nil {
		return 0, fmt.Errorf("frame state: %w", err)
	}
	if int64(int8(st)) >= cl.states.Finished {
		return 0, nil
	}
	return coro.Add(cl.frame), nil
}

// coroStack follows a suspended coroutine through what each coroutine awaits.
func (ar *asyncReader) coroStack(coro core.Address) ([]cpython.Frame, error) {
	var out []cpython.Frame
	seen := map[core.Address]bool{}
	for depth := 0; coro != 0 && ar.isCoroutine(coro); depth++ {
		if seen[coro] || depth >= maxCoroDepth {
			return out, fmt.Errorf("coroutine chain loops or is deeper than %d at %s", maxCoroDepth, coro)
		}
		seen[coro] = true
		fr, next, err := ar.coroFrame(coro)
		if err != nil {
			return out, fmt.Errorf("coroutine at %s: %w", coro, err)
		}
		if fr == nil {
			break // finished: no frame
		}
		out = append(out, *fr)
		coro = next
	}
	// Innermost first, like a thread's frames.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// coroFrame reads one coroutine's frame and, if it is suspended in an
// await, the object it awaits (CPython's _PyGen_yf).
func (ar *asyncReader) coroFrame(coro core.Address) (*cpython.Frame, core.Address, error) {
	p, cl := ar.p, ar.cl
	if cl.frameObjects {
		fv, err := typesys.At(p.R, cl.coroType, coro).Member(cl.frameMember)
		if err != nil {
			return nil, 0, err
		}
		f, err := fv.Ptr()
		if err != nil || f == 0 {
			return nil, 0, err
		}
		frames, err := p.FrameObjectChain(fv)
		if len(frames) == 0 {
			return nil, 0, err
		}
		fr := frames[0]
		lasti, err := p.R.Uint32(f.Add(cl.fLasti))
		if err != nil || int32(lasti) < 0 {
			return &fr, 0, err // not started
		}
		var top core.Address
		if p.Flavor().FrameState {
			st, err1 := p.R.Uint8(f.Add(cl.fState))
			depth, err2 := p.R.Uint32(f.Add(cl.fStackdepth))
			vs, err3 := p.R.Ptr(f.Add(cl.fValuestack))
			if err := errors.Join(err1, err2, err3); err != nil {
				return &fr, 0, err
			}
			if !cl.states.InYieldFrom(int64(int8(st))) || int32(depth) <= 0 || depth > 1<<16 {
				return &fr, 0, nil
			}
			top = vs.Add(int64(depth-1) * int64(p.R.PtrSize))
		} else {
			st, err := p.R.Ptr(f.Add(cl.fStacktop))
			if err != nil || st == 0 {
				return &fr, 0, err // running
			}
			top = st.Add(-int64(p.R.PtrSize))
		}
		yf, err := p.R.Ptr(top)
		return &fr, yf, err
	}
	st, err := p.R.Uint8(coro.Add(cl.state))
	if err != nil {
		return nil, 0, fmt.Errorf("frame state: %w", err)
	}
	state := int64(int8(st))
	if state >= cl.states.Finished {
		return nil, 0, nil
	}
	frameAddr := coro.Add(cl.frame)
	fr, skip, err := p.InterpreterFrame(typesys.At(p.R, cl.iframeType, frameAddr))
	if err != nil {
		return nil, 0, fmt.Errorf("frame at %s: %w", frameAddr, err)
	}
	if skip {
		return nil, 0, nil
	}
	if !cl.states.InYieldFrom(state) {
		return &fr, 0, nil
	}
	var top core.Address
	if cl.stackpointer >= 0 {
		sp, err := p.R.Ptr(frameAddr.Add(cl.stackpointer))
		if err != nil {
			return &fr, 0, fmt.Errorf("stackpointer: %w", err)
		}
		top = sp.Add(-cl.states.Depth * int64(p.R.PtrSize))
		if top < frameAddr.Add(cl.localsplus) || sp > frameAddr.Add(1<<20) {
			return &fr, 0, fmt.Errorf("stackpointer %s is outside the frame at %s", sp, frameAddr)
		}
	} else {
		n, err := p.R.Uint32(frameAddr.Add(cl.stacktop))
		if err != nil {
			return &fr, 0, fmt.Errorf("stacktop: %w", err)
		}
		if int64(int32(n)) < cl.states.Depth || n > 1<<16 {
			return &fr, 0, fmt.Errorf("stacktop %d is not plausible", int32(n))
		}
		top = frameAddr.Add(cl.localsplus + (int64(n)-cl.states.Depth)*int64(p.R.PtrSize))
	}
	raw, err := p.R.Ptr(top)
	if err != nil {
		return &fr, 0, fmt.Errorf("top of the value stack: %w", err)
	}
	return &fr, core.Address(uint64(raw) &^ p.Flavor().StackRefTagBits), nil
}

// deriveAwaitedBy adds, before 3.14, the edges CPython 3.14 would record.
func (ar *asyncReader) deriveAwaitedBy() {
	for _, a := range ar.order {
		t := ar.tasks[a]
		if t.AwaitedBy == nil {
			t.AwaitedBy = []core.Address{}
		}
	}
	add := func(child, parent core.Address) {
		c, ok := ar.tasks[child]
		if !ok || c.State != "pending" || child == parent {
			return
		}
		for _, x := range c.AwaitedBy {
			if x == parent {
				return
			}
		}
		c.AwaitedBy = append(c.AwaitedBy, parent)
	}
	for _, a := range ar.order {
		t := ar.tasks[a]
		if t.State != "pending" {
			continue
		}
		// A task blocked on a task, or on a gather() of tasks.
		if t.WaitingFor != nil {
			budget := maxGatherVisits
			ar.gatherChildren(t.WaitingFor.Address, 0, &budget, func(child core.Address) { add(child, a) })
		}
		// A TaskGroup child: its done callback is the group's _on_task_done.
		for _, cb := range ar.callbacks(a) {
			if parent, ok := ar.taskGroupParent(cb); ok {
				add(a, parent)
			}
		}
	}
	for _, a := range ar.order {
		by := ar.tasks[a].AwaitedBy
		sort.Slice(by, func(i, j int) bool { return by[i] < by[j] })
	}
}

// gatherChildren calls f for fut if it is a task, or for the children of a
// gather() future (recursively for nested gathers).
func (ar *asyncReader) gatherChildren(fut core.Address, depth int, budget *int, f func(core.Address)) {
	if *budget <= 0 {
		return
	}
	*budget--
	if _, ok := ar.tasks[fut]; ok {
		f(fut)
		return
	}
	if depth >= maxGatherNest {
		return
	}
	children, ok := ar.r.Attr(fut, "_children")
	if !ok {
		return
	}
	r := ar.r
	tp, err := r.Ptr(children.Add(r.L.Object.Type))
	if err != nil || r.TypeOf(tp).Kind != pyobj.KindList {
		return
	}
	n, err := r.I64(children.Add(r.L.Object.Size))
	if err != nil || n < 0 || n > maxTasks {
		return
	}
	items, err := r.Ptr(children.Add(r.L.List.Items))
	if err != nil || items == 0 {
		return
	}
	for i := int64(0); i < n; i++ {
		c, err := r.Ptr(items.Add(i * r.L.Ptr))
		if err != nil {
			return
		}
		ar.gatherChildren(c, depth+1, budget, f)
	}
}

// callbacks lists a pending future's done callbacks: task_callback0, then
// the callables of task_callbacks' (callback, context) tuples.
func (ar *asyncReader) callbacks(task core.Address) []core.Address {
	r, tl := ar.r, ar.tl
	if tl.callback0 < 0 || tl.callbacks < 0 {
		return nil
	}
	var out []core.Address
	if cb, err := r.Ptr(task.Add(tl.callback0)); err == nil && cb != 0 {
		out = append(out, cb)
	}
	list, err := r.Ptr(task.Add(tl.callbacks))
	if err != nil || list == 0 {
		return out
	}
	n, err := r.I64(list.Add(r.L.Object.Size))
	if err != nil || n < 0 || n > maxCallbacks {
		return out
	}
	items, err := r.Ptr(list.Add(r.L.List.Items))
	if err != nil || items == 0 {
		return out
	}
	for i := int64(0); i < n; i++ {
		tup, err := r.Ptr(items.Add(i * r.L.Ptr))
		if err != nil || tup == 0 {
			continue
		}
		if cb, err := r.Ptr(tup.Add(r.L.Tuple.Items)); err == nil && cb != 0 {
			out = append(out, cb)
		}
	}
	return out
}

// taskGroupParent: if cb is a TaskGroup's bound _on_task_done, the group's
// _parent_task.
func (ar *asyncReader) taskGroupParent(cb core.Address) (core.Address, bool) {
	r := ar.r
	tp, err := r.Ptr(cb.Add(r.L.Object.Type))
	if err != nil {
		return 0, false
	}
	if ar.methTyp != 0 && tp != ar.methTyp {
		return 0, false
	}
	if ti := r.TypeOf(tp); ti.Heap || ti.Name != "method" {
		return 0, false
	}
	fn, err1 := r.Ptr(cb.Add(ar.imFunc))
	self, err2 := r.Ptr(cb.Add(ar.imSelf))
	if err1 != nil || err2 != nil || fn == 0 || self == 0 {
		return 0, false
	}
	ftp, err := r.Ptr(fn.Add(r.L.Object.Type))
	if err != nil || r.TypeOf(ftp).Kind != pyobj.KindFunction {
		return 0, false
	}
	if q, err := r.StrAt(fn.Add(r.L.Function.Qualname), 64); err != nil || q != "TaskGroup._on_task_done" {
		return 0, false
	}
	parent, ok := r.Attr(self, "_parent_task")
	if !ok || r.IsNone(parent) {
		return 0, false
	}
	return parent, true
}

// link fills each task's awaits from the others' awaited_by.
func (ar *asyncReader) link() {
	for _, a := range ar.order {
		t := ar.tasks[a]
		if t.AwaitedBy == nil {
			t.AwaitedBy = []core.Address{}
		}
		t.Awaits = []core.Address{}
	}
	for _, a := range ar.order {
		for _, by := range ar.tasks[a].AwaitedBy {
			if w, ok := ar.tasks[by]; ok {
				w.Awaits = append(w.Awaits, a)
			}
		}
	}
	// In the tasks' order (stableOrder); tasks not read last, by address.
	index := map[core.Address]int{}
	for i, a := range ar.order {
		index[a] = i
	}
	less := func(s []core.Address) func(i, j int) bool {
		return func(i, j int) bool {
			ii, iok := index[s[i]]
			ij, jok := index[s[j]]
			if iok != jok {
				return iok
			}
			if iok && ii != ij {
				return ii < ij
			}
			return s[i] < s[j]
		}
	}
	for _, a := range ar.order {
		t := ar.tasks[a]
		sort.SliceStable(t.Awaits, less(t.Awaits))
		sort.SliceStable(t.AwaitedBy, less(t.AwaitedBy))
	}
}
