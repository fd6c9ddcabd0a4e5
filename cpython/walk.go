package cpython

import (
	"errors"
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/typesys"
)

// Bounds on walks through lists in memory: a cycle or corrupt pointer ends
// the walk with a note, never a hang.
const (
	maxInterpreters = 1024
	maxThreads      = 1 << 16
	maxFrames       = 1 << 16
	// maxSnapshotFrames bounds the frames of all threads of one snapshot.
	maxSnapshotFrames = 1 << 20
)

// Snapshot is what Python was doing when the core was made. The model
// types carry no JSON tags: package render writes their JSON.
type Snapshot struct {
	Python     PythonInfo
	Process    *ProcessInfo
	GC         *GCInfo
	GIL        *GILInfo
	Signal     *SignalInfo
	Finalizing bool
	Threads    []*Thread
	Notes      []string
	Live       *LiveInfo // read from a running process, not a core
}

// LiveInfo says how a running process was read.
type LiveInfo struct {
	PID         int
	NonBlocking bool    // read without stopping it
	PausedMS    float64 // how long it was stopped
}

// PythonInfo says which CPython this is and how pycore knows.
type PythonInfo struct {
	Version      string
	FreeThreaded bool
	Debug        bool // a Py_DEBUG build (python3.Xd)
	Evidence     string
}

// SignalInfo is the signal that ended the process, if the core says.
type SignalInfo struct {
	Number   int
	Name     string
	Code     int    // si_code
	CodeName string // "SEGV_MAPERR", "SI_TKILL"...
	// Cause is where it came from (core.Cause): "fault", "self", "sent",
	// "stop" or "unknown".
	Cause string
	// Address is the faulting address; meaningful when HasAddress (a fault
	// with an address: 0 is a NULL dereference then).
	Address    uint64
	HasAddress bool
	// SenderPID and SenderUID say who sent it (cause "self" or "sent" by
	// kill, tgkill, sigqueue); null when the kernel raised it.
	SenderPID *int
	SenderUID *int
	Thread    int // TID of the thread that received it
	// Fatal: the process crashed by it (cause fault, self or unknown), so
	// the receiving thread is the crashed one. False for a dump request
	// (sent) and a dump of a running process (stop).
	Fatal bool
}

// signalInfo describes the core's signal, nil when it has none.
func signalInfo(c *core.Process) *SignalInfo {
	si := c.Signal
	if si == nil {
		return nil
	}
	cause := c.SignalCause()
	out := &SignalInfo{Number: si.Signo, Name: si.Name(), Code: si.Code, CodeName: si.CodeName(),
		Cause: string(cause), HasAddress: si.HasAddr(), Fatal: cause.Crash()}
	if out.HasAddress {
		out.Address = uint64(si.Addr)
	}
	if !si.NoSiginfo && si.Code <= 0 {
		pid, uid := si.SenderPID, si.SenderUID
		out.SenderPID, out.SenderUID = &pid, &uid
	}
	if len(c.Threads) > 0 {
		out.Thread = c.Threads[0].TID
	}
	return out
}

// Thread is one Python thread state and its stack.
type Thread struct {
	ThreadID       uint64 // threading.get_ident()
	NativeThreadID *int64 // gettid(); null before 3.11
	LWP            *int64 // the kernel thread matched in the core, on every version
	InterpreterID  int64
	Name           *string
	Crashed        bool
	HoldsGIL       bool
	Main           bool
	Frames         []Frame // innermost first
	// Error says why the stack is incomplete, if it is.
	Error  string
	TState core.Address

	// State is PyThreadState.state (3.13+): "attached" (running Python, or
	// holding the GIL), "detached", "suspended" (stopped by a stop-the-world
	// pause) or "shutting down"; "" where the version does not record it.
	State string
	// Daemon is threading.Thread.daemon, null for a thread the threading
	// module does not know.
	Daemon *bool
	// GILRequested is PyThreadState.gil_requested (3.15+): the thread waits
	// for the GIL. Null where the version does not record it.
	GILRequested *bool
	// GILDropRequested, on the thread holding the GIL: another thread asked
	// it to drop the GIL (eval_breaker 3.13+, ceval.gil_drop_request 3.7-3.12).
	// Null when unknown (3.6) or not the holder.
	GILDropRequested *bool
	// Exception is the exception being raised (tstate->current_exception, or
	// the curexc triple before 3.12), null if none.
	Exception *Exception
	// HandledExceptions are the exceptions being handled (sys.exc_info()),
	// innermost first: one per running generator or coroutine handling one,
	// then the thread's own.
	HandledExceptions []*Exception
	// DetailErrors say what of the above could not be read.
	DetailErrors []string
	// WaitsForGIL: the thread is blocked waiting for the GIL (in futex() on
	// its condition variable or mutex, from the core's registers); null when
	// that cannot be told.
	WaitsForGIL *bool
	// CollectingGarbage: this thread runs the collection in progress (its
	// native stack is in the gc module; see GCInfo.Thread).
	CollectingGarbage bool
}

// Frame is one Python frame.
type Frame struct {
	Function string
	Qualname *string
	File     string
	Line     int
	// Generator is set for frames owned by a generator or coroutine; Kind says
	// which ("generator", "coroutine", "async generator") when co_flags is known.
	// (its JSON is "generator_kind": package render's "kind" says what sort
	// of frame it is.)
	Generator bool
	Kind      string
	Entry     bool // first frame of a C->Python call (3.11+): the outermost an eval loop activation runs
	// Shim is the address of the C-stack shim frame under an entry frame
	// (3.12+): a local of the eval loop activation that runs it, so it
	// says which native frame that is. 0 when not known.
	Shim    core.Address
	Code    core.Address
	Address core.Address // the frame object or interpreter frame
	// Locals are the frame's arguments (first) and local variables, when
	// asked for (SnapshotOptions.Locals); LocalsError says why they could
	// not be read.
	Locals      []Local
	LocalsError string
}

// SnapshotOptions choose what a snapshot reads beyond stacks.
type SnapshotOptions struct {
	// Locals reads every frame's arguments and locals, rendered within Repr.
	Locals bool
	Repr   ReprOptions
}

// Snapshot walks every interpreter, thread and frame, with each thread's
// exceptions and details but no locals.
func (p *Process) Snapshot() (*Snapshot, error) {
	return p.SnapshotWith(SnapshotOptions{})
}

// SnapshotWith walks every interpreter, thread and frame, reading what o asks.
func (p *Process) SnapshotWith(o SnapshotOptions) (*Snapshot, error) {
	p.frameBudget = maxSnapshotFrames
	s := &Snapshot{Python: PythonInfo{Version: p.Version.String(), FreeThreaded: p.FreeThreaded, Debug: p.Debug, Evidence: joinEvidence(p.Evidence)}}
	c := p.Core
	if l := c.Live; l != nil {
		s.Live = &LiveInfo{PID: l.PID, NonBlocking: l.NonBlocking, PausedMS: float64(c.PausedSoFar().Microseconds()) / 1000}
	}
	crashTID := 0
	if s.Signal = signalInfo(c); s.Signal != nil && s.Signal.Fatal {
		crashTID = s.Signal.Thread
	}
	s.Finalizing = p.finalizing()
	s.Process = p.processInfo()
	s.GC = p.gcInfo()
	byFS := map[uint64]int{}
	for _, t := range c.Threads {
		byFS[t.Regs.FSBase] = t.TID
	}
	pid := 0
	if c.PsInfo != nil {
		pid = c.PsInfo.PID
	}
	interp, err := p.Runtime.Path("interpreters.head")
	if err != nil {
		return nil, err
	}
	// Locals, exceptions and details need offsets the stacks do not; without
	// them the snapshot still has its stacks, and says why the rest is missing.
	dl, dlErr := newDetailLayout(p)
	var lr *localsReader
	var er *excReader
	if dlErr == nil {
		if o.Locals {
			lr, dlErr = p.newLocalsReader(dl, o.Repr)
		}
		if dlErr == nil {
			er, dlErr = p.newExcReader(dl)
		}
	}
	if dlErr != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("locals, exceptions and thread details: %v", dlErr))
	}
	seenInterp := map[core.Address]bool{}
	for n := 0; ; n++ {
		addr, err := interp.Ptr()
		if err != nil {
			s.Notes = append(s.Notes, fmt.Sprintf("interpreter list: %v", err))
			break
		}
		if addr == 0 {
			break
		}
		if seenInterp[addr] || n >= maxInterpreters {
			s.Notes = append(s.Notes, fmt.Sprintf("interpreter list: cycle or more than %d interpreters at %s; stopped", maxInterpreters, addr))
			break
		}
		seenInterp[addr] = true
		threads, notes := p.interpreterThreads(interp)
		s.Notes = append(s.Notes, notes...)
		p.nameThreads(interp, threads)
		p.identifyThreads(threads, byFS, crashTID, pid)
		if dlErr == nil {
			p.threadDetails(dl, threads, interp)
			for _, t := range threads {
				er.threadExceptions(t)
				if lr != nil {
					for i := range t.Frames {
						lr.frameLocals(&t.Frames[i])
					}
				}
			}
		}
		s.Threads = append(s.Threads, threads...)
		if len(s.Threads) >= maxThreads {
			s.Notes = append(s.Notes, fmt.Sprintf("more than %d thread states in all interpreters: stopped", maxThreads))
			break
		}
		if interp, err = interp.Member("next"); err != nil {
			s.Notes = append(s.Notes, fmt.Sprintf("interpreter list: %v", err))
			break
		}
	}
	s.GIL = p.mainGIL(s.Threads)
	return s, nil
}

// nameThreads gives threads their names, which live in the threading
// module's objects; a thread without one (not started by threading, or the
// module not imported) keeps null.
func (p *Process) nameThreads(interp typesys.Value, threads []*Thread) {
	names, err := p.interpreterThreadNames(interp)
	if err != nil {
		return
	}
	for _, t := range threads {
		if n, ok := names[t.ThreadID]; ok {
			name := n
			t.Name = &name
		}
	}
}

// identifyThreads finds each thread's LWP (the native id CPython recorded,
// else the kernel thread whose fs_base is the pthread, else glibc's record
// of a running process read without registers) and marks the crashed and
// the main thread by it.
func (p *Process) identifyThreads(threads []*Thread, byFS map[uint64]int, crashTID, pid int) {
	for _, t := range threads {
		if p.flavor.NativeThreadID && t.NativeThreadID != nil {
			lwp := *t.NativeThreadID
			t.LWP = &lwp
		} else if tid, ok := byFS[t.ThreadID]; ok {
			lwp := int64(tid)
			t.LWP = &lwp
		} else if tid, ok := p.Core.ThreadOfPthread(core.Address(t.ThreadID)); ok {
			lwp := int64(tid)
			t.LWP = &lwp
		}
		if t.LWP != nil {
			t.Crashed = crashTID != 0 && *t.LWP == int64(crashTID)
			t.Main = pid != 0 && *t.LWP == int64(pid)
		}
	}
}

// mainGIL is the main interpreter's GIL and who holds or waits for it, nil
// on free-threaded builds or when the main interpreter is not found.
func (p *Process) mainGIL(threads []*Thread) *GILInfo {
	mi, err := p.mainInterpreter()
	if err != nil || p.FreeThreaded {
		return nil
	}
	served := threads
	if p.flavor.GIL == abi.GILPerInterp {
		// Each interpreter may have a GIL of its own (3.12+): only the
		// main one's threads are checked against the main GIL.
		served = nil
		for _, t := range threads {
			if t.InterpreterID == 0 {
				served = append(served, t)
			}
		}
	}
	return p.gilInfo(mi, served)
}

func joinEvidence(ev []string) string {
	out := ""
	for i, e := range ev {
		if i > 0 {
			out += "; "
		}
		out += e
	}
	return out
}

// finalizing reports whether the runtime was shutting down.
func (p *Process) finalizing() bool {
	for _, name := range []string{"_finalizing", "finalizing"} {
		v, err := p.Runtime.Member(name)
		if err != nil {
			continue
		}
		if u, err := rawWord(v); err == nil {
			return u != 0
		}
	}
	return false
}

// rawWord reads the pointer-sized word where v is, whatever its type (atomic
// wrappers and stack-ref unions hide plain pointers in structs).
func rawWord(v typesys.Value) (uint64, error) {
	if !v.InMemory {
		return v.Uint()
	}
	r := v.Reader()
	a, err := r.Ptr(v.Addr)
	return uint64(a), err
}

// interpreterThreads walks one interpreter's thread states.
func (p *Process) interpreterThreads(interpPtr typesys.Value) ([]*Thread, []string) {
	var notes []string
	id := int64(0)
	if v, err := interpPtr.Member("id"); err == nil {
		id, _ = v.Int()
	}
	holder := p.gilHolder(interpPtr)
	ts, err := interpPtr.Path(p.flavor.ThreadsHead)
	if err != nil {
		return nil, []string{fmt.Sprintf("interpreter %d: %v", id, err)}
	}
	var threads []*Thread
	seen := map[core.Address]bool{}
	for {
		addr, err := ts.Ptr()
		if err != nil {
			notes = append(notes, fmt.Sprintf("interpreter %d: thread list: %v", id, err))
			break
		}
		if addr == 0 {
			break
		}
		if seen[addr] || len(seen) >= maxThreads {
			notes = append(notes, fmt.Sprintf("interpreter %d: thread list loops or exceeds %d threads at %s; stopped", id, maxThreads, addr))
			break
		}
		seen[addr] = true
		t := p.thread(ts, addr, id)
		t.HoldsGIL = holder != 0 && holder == addr
		threads = append(threads, t)
		if ts, err = ts.Member("next"); err != nil {
			notes = append(notes, fmt.Sprintf("interpreter %d: thread list: %v", id, err))
			break
		}
	}
	return threads, notes
}

// gilHolder returns the thread state holding the GIL that serves interp, or 0.
func (p *Process) gilHolder(interp typesys.Value) core.Address {
	var gil typesys.Value
	var err error
	switch p.flavor.GIL {
	case abi.GILInRuntime:
		gil, err = p.Runtime.Path("ceval.gil")
	case abi.GILPerInterp:
		gil, err = interp.Path("ceval.gil")
		if err == nil {
			gil, err = gil.Deref()
		}
	case abi.GILTStateCurrent:
		cur, err := p.Runtime.Path("gilstate.tstate_current")
		if err != nil {
			return 0
		}
		u, err := rawWord(cur)
		if err != nil {
			return 0
		}
		return core.Address(u)
	}
	if err != nil {
		return 0
	}
	if en, err := gil.Member("enabled"); err == nil {
		if on, err := en.Int(); err == nil && on == 0 {
			return 0 // free-threaded build with the GIL disabled: nobody holds it
		}
	}
	locked, err := gil.Member("locked")
	if err != nil {
		return 0
	}
	l, err := rawInt(locked)
	if err != nil || l == 0 {
		return 0 // last_holder stays set after release: only a locked GIL has a holder
	}
	h, err := gil.Member("last_holder")
	if err != nil {
		return 0
	}
	u, err := rawWord(h)
	if err != nil {
		return 0
	}
	return core.Address(u)
}

// rawInt reads an int that may be wrapped in an atomic struct.
func rawInt(v typesys.Value) (int64, error) {
	if i, err := v.Int(); err == nil {
		return i, nil
	}
	if !v.InMemory {
		return 0, errors.New("not an integer")
	}
	u, err := v.Reader().Uint32(v.Addr)
	return int64(int32(u)), err
}

// thread reads one thread state and walks its frames.
func (p *Process) thread(tsPtr typesys.Value, addr core.Address, interpID int64) *Thread {
	t := &Thread{InterpreterID: interpID, TState: addr, Frames: []Frame{}}
	if v, err := tsPtr.Member("thread_id"); err == nil {
		t.ThreadID, _ = v.Uint()
	}
	if p.flavor.NativeThreadID {
		if v, err := tsPtr.Member("native_thread_id"); err == nil {
			if n, err := v.Int(); err == nil {
				t.NativeThreadID = &n
			}
		}
	}
	frames, err := p.frames(tsPtr)
	t.Frames = append(t.Frames, frames...)
	if err != nil {
		t.Error = err.Error()
	}
	return t
}
