package cpython

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// PEP 768 (CPython 3.14+, what sys.remote_exec does): a debugger asks a
// thread to run a script by writing the script's path and a pending flag
// into fields the thread state reserves for it (_PyRemoteDebuggerSupport,
// located by _Py_DebugOffsets.debugger_support) and setting a bit of the
// thread's eval breaker. At its next eval-breaker check the thread sees the
// bit, and, if the interpreter's config.remote_debug is 1, clears the flag,
// audits ("remote_debugger_script") and runs the file
// (Python/ceval_gil.c _PyRunRemoteDebugger).

// evalPleaseStopBit is _PY_EVAL_PLEASE_STOP_BIT (1U << 5, in 3.14's and
// 3.15's Include/internal/pycore_ceval.h): the eval-breaker bit that makes
// a thread handle pending work, the remote script among it.
const evalPleaseStopBit = 5

// Bounds on what the process's own tables may make us walk.
const (
	maxExecInterpreters = 256
	maxExecThreads      = 100000
	maxScriptPathSize   = 4096 // CPython's is 512
)

// RemoteDebugDisabledError is PrepareExec's error when the interpreter's
// config.remote_debug is not 1: the interpreter would ignore the request.
type RemoteDebugDisabledError struct {
	InterpID int64
	Value    int32 // config.remote_debug
}

func (e *RemoteDebugDisabledError) Error() string {
	return fmt.Sprintf("remote debugging is disabled in the process (interpreter %d's config.remote_debug is %d)", e.InterpID, e.Value)
}

// ExecTarget is the thread chosen to run a script, and where its
// remote-debugger fields are. PrepareExec makes it having written nothing.
type ExecTarget struct {
	TState   core.Address
	TID      uint64 // native_thread_id
	InterpID int64
	Main     bool // the interpreter's main thread

	script   string
	pathAddr core.Address // debugger_script_path, pathSize bytes
	pathSize uint64
	pending  core.Address // debugger_pending_call, an int
	breaker  core.Address // eval_breaker, a uintptr_t
}

// PrepareExec checks everything about running script in the live process p
// (opened with core.LiveOptions.Direct) and picks the thread: the main
// thread of the main interpreter, or the thread whose native id is tid. It
// writes nothing; SendExec does.
func (p *Process) PrepareExec(script string, tid int) (*ExecTarget, error) {
	if p.Core.Live == nil {
		return nil, errors.New("running a script needs a running process, not a core")
	}
	if !p.flavor.RemoteExec {
		return nil, fmt.Errorf("the process runs CPython %s: running a script in it needs CPython 3.14 or newer (PEP 768, sys.remote_exec)", p.Version)
	}
	d := p.DebugOffsets
	if d == nil {
		return nil, fmt.Errorf("the process runs CPython %s but no _Py_DebugOffsets were found at its runtime: cannot locate the remote-debugger fields", p.Version)
	}
	if !d.Known {
		return nil, fmt.Errorf("the process runs CPython %s: pycore knows the remote-debugger fields of CPython 3.14 and 3.15 only", p.Version)
	}
	f := func(name string) uint64 { return d.Fields[name] }
	tsSize, isSize := f("thread_state.size"), f("interpreter_state.size")
	sup := f("debugger_support.remote_debugger_support")
	pathSize := f("debugger_support.debugger_script_path_size")
	// A corrupt table must not aim the writes outside the thread state.
	switch {
	case tsSize == 0 || tsSize > abi.MaxStructSize || isSize == 0 || isSize > abi.MaxStructSize:
		return nil, fmt.Errorf("_Py_DebugOffsets: sizes of the thread state (%d) and interpreter (%d) are not plausible", tsSize, isSize)
	case pathSize < 2 || pathSize > maxScriptPathSize:
		return nil, fmt.Errorf("_Py_DebugOffsets: debugger_script_path_size is %d, not plausible", pathSize)
	case f("debugger_support.eval_breaker")+8 > tsSize,
		sup+f("debugger_support.debugger_pending_call")+4 > tsSize,
		sup+f("debugger_support.debugger_script_path")+pathSize > tsSize:
		return nil, fmt.Errorf("_Py_DebugOffsets: the remote-debugger fields lie outside the thread state (%d bytes)", tsSize)
	case f("debugger_support.remote_debugging_enabled")+4 > isSize:
		return nil, fmt.Errorf("_Py_DebugOffsets: remote_debugging_enabled lies outside the interpreter state (%d bytes)", isSize)
	}

	t, err := p.execThread(tid)
	if err != nil {
		return nil, err
	}
	t.pathSize = pathSize
	t.pathAddr = t.TState.Add(int64(sup + f("debugger_support.debugger_script_path")))
	t.pending = t.TState.Add(int64(sup + f("debugger_support.debugger_pending_call")))
	t.breaker = t.TState.Add(int64(f("debugger_support.eval_breaker")))

	switch {
	case !filepath.IsAbs(script):
		return nil, fmt.Errorf("script %q is not an absolute path: the process opens it from its own working directory; give the full path", script)
	case strings.IndexByte(script, 0) >= 0:
		return nil, fmt.Errorf("script %q contains a NUL byte", script)
	case uint64(len(script)) >= pathSize:
		return nil, fmt.Errorf("script path is %d bytes long: CPython %s takes at most %d (its debugger_script_path holds %d with the NUL)", len(script), p.Version.Series(), pathSize-1, pathSize)
	}
	pending, err := p.R.Uint32(t.pending)
	if err != nil {
		return nil, fmt.Errorf("reading thread %d's debugger_pending_call: %w", t.TID, err)
	}
	if pending != 0 {
		return nil, fmt.Errorf("thread %d already has a remote script pending (debugger_pending_call is %d): it has not reached an eval-breaker check since; wait for it, or choose another thread with --tid", t.TID, int32(pending))
	}
	t.script = script
	return t, nil
}

// execThread finds the interpreter and thread: with tid 0 the main
// interpreter's main thread, else the thread with that native id in any
// interpreter. It checks that interpreter allows remote debugging.
func (p *Process) execThread(tid int) (*ExecTarget, error) {
	d := p.DebugOffsets.Fields
	interp, err := p.R.Ptr(p.RuntimeAddr.Add(int64(d["runtime_state.interpreters_head"])))
	if err != nil {
		return nil, fmt.Errorf("reading the interpreter list: %w", err)
	}
	seen := map[core.Address]bool{}
	var found *ExecTarget
	var foundInterp core.Address
	nThreads := 0
	for interp != 0 && found == nil {
		if seen[interp] || len(seen) >= maxExecInterpreters {
			return nil, fmt.Errorf("the interpreter list loops or holds more than %d interpreters", maxExecInterpreters)
		}
		seen[interp] = true
		id, err := p.R.Uint64(interp.Add(int64(d["interpreter_state.id"])))
		if err != nil {
			return nil, fmt.Errorf("reading interpreter %s: %w", interp, err)
		}
		if tid == 0 && id == 0 {
			ts, err := p.R.Ptr(interp.Add(int64(d["interpreter_state.threads_main"])))
			if err != nil {
				return nil, fmt.Errorf("reading the main thread of interpreter 0: %w", err)
			}
			if ts == 0 {
				return nil, errors.New("interpreter 0 has no main thread state (it is starting or finalizing)")
			}
			found, foundInterp = &ExecTarget{TState: ts, InterpID: 0, Main: true}, interp
			native, err := p.R.Uint64(ts.Add(int64(d["thread_state.native_thread_id"])))
			if err != nil {
				return nil, fmt.Errorf("reading the main thread's id: %w", err)
			}
			found.TID = native
			break
		}
		if tid != 0 {
			mainTS, _ := p.R.Ptr(interp.Add(int64(d["interpreter_state.threads_main"])))
			ts, err := p.R.Ptr(interp.Add(int64(d["interpreter_state.threads_head"])))
			if err != nil {
				return nil, fmt.Errorf("reading the threads of interpreter %d: %w", int64(id), err)
			}
			for ts != 0 {
				if nThreads++; nThreads > maxExecThreads {
					return nil, fmt.Errorf("more than %d thread states: the lists loop", maxExecThreads)
				}
				native, err := p.R.Uint64(ts.Add(int64(d["thread_state.native_thread_id"])))
				if err != nil {
					return nil, fmt.Errorf("reading thread state %s: %w", ts, err)
				}
				if native == uint64(tid) {
					found, foundInterp = &ExecTarget{TState: ts, TID: native, InterpID: int64(id), Main: ts == mainTS}, interp
					break
				}
				if ts, err = p.R.Ptr(ts.Add(int64(d["thread_state.next"]))); err != nil {
					return nil, fmt.Errorf("reading thread state list: %w", err)
				}
			}
		}
		if found == nil {
			if interp, err = p.R.Ptr(interp.Add(int64(d["interpreter_state.next"]))); err != nil {
				return nil, fmt.Errorf("reading the interpreter list: %w", err)
			}
		}
	}
	if found == nil {
		if tid != 0 {
			return nil, fmt.Errorf("no Python thread has native id %d (see the LWP column of pycore threads --pid)", tid)
		}
		return nil, errors.New("no main interpreter (id 0) in the interpreter list")
	}
	enabled, err := p.R.Uint32(foundInterp.Add(int64(d["debugger_support.remote_debugging_enabled"])))
	if err != nil {
		return nil, fmt.Errorf("reading interpreter %d's config.remote_debug: %w", found.InterpID, err)
	}
	if enabled != 1 {
		return nil, &RemoteDebugDisabledError{InterpID: found.InterpID, Value: int32(enabled)}
	}
	return found, nil
}

// SendExec writes the request PrepareExec checked: the script path with
// its NUL, the pending flag, and the please-stop bit of the eval breaker,
// in that order, as CPython's own sender does. These three writes are all
// pycore ever writes into a process.
func (p *Process) SendExec(t *ExecTarget) error {
	if t.script == "" || uint64(len(t.script)) >= t.pathSize {
		return errors.New("SendExec without a checked request from PrepareExec")
	}
	if err := p.Core.WriteLive(t.pathAddr, append([]byte(t.script), 0)); err != nil {
		return fmt.Errorf("writing the script path: %w", err)
	}
	one := []byte{1, 0, 0, 0} // int debugger_pending_call = 1 (little-endian)
	if err := p.Core.WriteLive(t.pending, one); err != nil {
		return fmt.Errorf("writing debugger_pending_call: %w", err)
	}
	// The interpreter changes eval_breaker with atomic operations we cannot
	// join from outside: read-modify-write only its lowest byte, which holds
	// the bit, so a racing change can at worst repeat or drop an event bit
	// (which the interpreter sets again), never the instrumentation version
	// kept above bit 8.
	b, err := p.R.Uint8(t.breaker)
	if err != nil {
		return fmt.Errorf("reading eval_breaker: %w", err)
	}
	if err := p.Core.WriteLive(t.breaker, []byte{b | 1<<evalPleaseStopBit}); err != nil {
		return fmt.Errorf("setting eval_breaker's please-stop bit: %w", err)
	}
	return nil
}

// ExecPending reports whether the thread has yet to take the script (its
// debugger_pending_call is still set), read from the process now.
func (p *Process) ExecPending(t *ExecTarget) (bool, error) {
	v, err := p.R.Uint32(t.pending)
	if err != nil {
		return false, fmt.Errorf("reading debugger_pending_call: %w", err)
	}
	return v != 0, nil
}
