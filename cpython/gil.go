package cpython

import (
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/typesys"
)

// GILInfo is the state of the GIL that serves the main interpreter.
type GILInfo struct {
	Locked *bool
	// SwitchNumber counts the times the GIL changed hands; IntervalUS is
	// sys.getswitchinterval() in microseconds.
	SwitchNumber *uint64
	IntervalUS   *uint64
	// Waiters are the kernel threads (LWPs) blocked waiting for it: in a
	// futex() call on the GIL's condition variable or mutex, as the
	// registers of the core say. Null when that cannot be told.
	Waiters     []int64
	WaitersNote string
}

// sysFutex is futex(2)'s x86-64 system call number.
const sysFutex = 202

// glibc's x86-64 sizes of the GIL's condition variable and mutex.
const (
	pthreadCondSize  = 48
	pthreadMutexSize = 40
)

// gilLayout is where the GIL's members are, from its start.
type gilLayout struct {
	interval, switchNumber, cond, mutex int64
}

// gilAt returns where the GIL serving interp is and its layout. struct
// _gil_runtime_state has been { unsigned long interval; last_holder; int
// locked; unsigned long switch_number; pthread_cond_t cond; pthread_mutex_t
// mutex; switch_cond; switch_mutex; } from 3.7 to 3.15 (3.13t puts an int
// enabled first): what the types do not name follows from locked.
func (p *Process) gilAt(interp typesys.Value) (core.Address, *gilLayout, error) {
	if p.flavor.GIL == abi.GILTStateCurrent {
		// 3.6: static globals of ceval_gil.h, named only by a symbol table.
		l := &gilLayout{}
		var base core.Address
		for _, f := range []struct {
			sym string
			dst *int64
		}{{"gil_interval", &l.interval}, {"gil_switch_number", &l.switchNumber}, {"gil_cond", &l.cond}, {"gil_mutex", &l.mutex}} {
			s, ok := core.Address(0), false
			if p.Module != nil {
				if sym, found := p.Module.Lookup(f.sym); found && !sym.Func {
					s, ok = sym.Addr, true
				}
			}
			if !ok {
				return 0, nil, fmt.Errorf("3.6 keeps the GIL in static variables and no symbol table names %s", f.sym)
			}
			if base == 0 {
				base = s
			}
			*f.dst = int64(s) - int64(base)
		}
		return base, l, nil
	}
	var gil typesys.Value
	var err error
	if p.flavor.GIL == abi.GILInRuntime {
		gil, err = p.Runtime.Path("ceval.gil")
	} else {
		gil, err = interp.Path("ceval.gil")
		if err == nil {
			gil, err = gil.Deref()
		}
	}
	if err != nil {
		return 0, nil, err
	}
	if !gil.InMemory || gil.Type == nil {
		return 0, nil, fmt.Errorf("the GIL's state is not in memory")
	}
	t := gil.Type
	off := func(name string) int64 {
		o, err := memberOffset(t, name)
		if err != nil {
			return -1
		}
		return o
	}
	l := &gilLayout{interval: off("interval"), switchNumber: off("switch_number"), cond: off("cond"), mutex: off("mutex")}
	locked, holder := off("locked"), off("last_holder")
	if l.switchNumber < 0 && locked >= 0 {
		l.switchNumber = abi.AlignUp(locked+4, 8)
	}
	if l.cond < 0 && l.switchNumber >= 0 {
		l.cond = l.switchNumber + 8
	}
	if l.mutex < 0 && l.cond >= 0 {
		l.mutex = l.cond + pthreadCondSize
	}
	if l.interval < 0 && holder >= 8 {
		l.interval = holder - 8
	}
	if l.cond < 0 || l.mutex < 0 {
		return 0, nil, fmt.Errorf("%s does not say where the GIL's condition variable is", p.Types.Describe())
	}
	return gil.Addr, l, nil
}

// gilInfo reads the GIL serving interp (the main interpreter) and marks the
// threads of threads served by it that wait for it.
func (p *Process) gilInfo(interp typesys.Value, threads []*Thread) *GILInfo {
	g := &GILInfo{}
	base, l, err := p.gilAt(interp)
	if err != nil {
		g.WaitersNote = fmt.Sprintf("the GIL: %v", err)
		return g
	}
	if h := p.gilHolder(interp); h != 0 || p.flavor.GIL != abi.GILTStateCurrent {
		locked := h != 0
		g.Locked = &locked
	}
	if l.switchNumber >= 0 {
		if v, err := p.R.Uint64(base.Add(l.switchNumber)); err == nil {
			g.SwitchNumber = &v
		}
	}
	if l.interval >= 0 {
		if v, err := p.R.Uint64(base.Add(l.interval)); err == nil && v < 1<<40 {
			g.IntervalUS = &v
		}
	}
	if len(p.Core.Threads) == 0 {
		g.WaitersNote = "no thread's registers were read (a --nonblocking read, or a core without NT_PRSTATUS notes)"
		return g
	}
	byLWP := map[int64]*Thread{}
	for _, t := range threads {
		if t.LWP != nil {
			byLWP[*t.LWP] = t
		}
	}
	in := func(a uint64, off, size int64) bool {
		lo := uint64(base.Add(off))
		return a >= lo && a < lo+uint64(size)
	}
	g.Waiters = []int64{}
	for _, ct := range p.Core.Threads {
		r := ct.Regs
		waits := r.OrigRAX == sysFutex && (in(r.RDI, l.cond, pthreadCondSize) || in(r.RDI, l.mutex, pthreadMutexSize))
		if waits {
			g.Waiters = append(g.Waiters, int64(ct.TID))
		}
		if t := byLWP[int64(ct.TID)]; t != nil {
			w := waits
			t.WaitsForGIL = &w
		}
	}
	return g
}
