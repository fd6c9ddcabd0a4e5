// Package unwind recovers a thread's native (C) call stack from its
// registers and the process's memory: the CFI of each module's .eh_frame,
// executed for x86-64, with the kernel's signal frames and a frame-pointer
// fallback. It reads memory only through core.Memory and registers from
// core.Thread, so it works the same for a core and a live process.
package unwind

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/symbols"
)

// The frames of one stack are bounded, since a core is untrusted and its
// stack may cycle or be endless in ways the checks below do not catch (a
// signal frame may jump to any stack). Real stacks are deep: Python up to
// 3.10 recurses in C, about four native frames a Python call, so 1000
// Python calls (the default recursion limit) are ~4000 frames and programs
// raise the limit. On x86-64 every call frame takes at least 16 bytes (the
// ABI keeps rsp 16-aligned at a call), so a stack mapping of N bytes holds
// at most N/16 frames: the bound is that, but at least MinDepth (a thread
// whose stack mapping is unknown, or a small sigaltstack) and at most
// MaxDepth (a gigabyte of stack costs no more than ~0.1 s of unwinding).
const (
	MinDepth = 1 << 14
	MaxDepth = 1 << 20
)

// depthBound is the frame bound of a stack whose innermost sp is sp.
func (u *Unwinder) depthBound(sp uint64) int {
	n := MinDepth
	if p, ok := u.mem.Mem.(*core.Process); ok {
		if m := p.FindMapping(core.Address(sp)); m != nil {
			n = max(n, int(min(uint64(m.End-m.Start)/16, MaxDepth)))
		}
	}
	return n
}

// Frame is one native frame, innermost first.
type Frame struct {
	// PC as gdb shows it: the exact pc for the innermost frame and a frame
	// interrupted by a signal, the return address for callers.
	PC  core.Address
	CFA core.Address // 0 when the frame's CFA was not computed (the last frame)
	// Function is the symbol covering the pc ("" if none); Offset is pc - its start.
	Function string
	Offset   uint64
	Module   *symbols.Module // nil when no module maps the pc
	// Signal marks the kernel's signal trampoline (__restore_rt): gdb's
	// "<signal handler called>".
	Signal bool
	// FramePointer marks a caller found by the frame-pointer fallback (no CFI
	// covered the frame below it).
	FramePointer bool
	// Interrupted: the frame did not call; its pc is looked up as is.
	Interrupted bool
}

// Stack is one thread's native stack and why its unwinding stopped.
type Stack struct {
	Frames []Frame
	Stop   string // why the unwinding ended, e.g. "return address undefined (outermost frame)"
}

// Outermost says whether the unwinding reached the stack's outermost frame.
func (s *Stack) Outermost() bool {
	return strings.HasSuffix(s.Stop, "(outermost frame)")
}

// Unwinder unwinds threads of one process. Each module's CFI is parsed
// once, on first use.
type Unwinder struct {
	mem  core.Reader // x86-64: little-endian, 8-byte pointers
	syms *symbols.Table

	mu  sync.Mutex
	cfi map[*symbols.Module]*moduleCFI
}

type moduleCFI struct {
	t   *table // .eh_frame's
	err error
	// dbg is .debug_frame's (the module's or its debug file's), read only
	// when .eh_frame has no FDE for a pc.
	dbg     *table
	dbgErr  error
	dbgRead bool
}

// debugFrame returns the module's .debug_frame table, parsing it once.
func (u *Unwinder) debugFrame(m *symbols.Module, c *moduleCFI) *table {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !c.dbgRead {
		c.dbgRead = true
		data, file, err := m.DebugFrameData()
		if err != nil {
			c.dbgErr = err
			return nil
		}
		c.dbg, c.dbgErr = parseDebugFrame(data)
		if c.dbgErr != nil {
			c.dbgErr = fmt.Errorf("%s: .debug_frame: %w", file, c.dbgErr)
		}
	}
	return c.dbg
}

// fdeFor finds the FDE covering the link-time pc of m: .eh_frame's, else
// .debug_frame's. why says why there is none.
func (u *Unwinder) fdeFor(m *symbols.Module, pc uint64) (f *fde, why string) {
	c := u.moduleCFI(m)
	if c.t != nil {
		if f := c.t.find(pc); f != nil {
			return f, ""
		}
	}
	if d := u.debugFrame(m, c); d != nil {
		if f := d.find(pc); f != nil {
			return f, ""
		}
	}
	if c.t == nil {
		return nil, c.err.Error()
	}
	return nil, fmt.Sprintf("no CFI covers pc %#x in %s", pc+m.Bias, m.Path)
}

// New returns an unwinder over mem whose modules are syms.
func New(mem core.Memory, syms *symbols.Table) *Unwinder {
	return &Unwinder{mem: core.Reader{Mem: mem, Order: binary.LittleEndian, PtrSize: 8}, syms: syms, cfi: map[*symbols.Module]*moduleCFI{}}
}

func (u *Unwinder) moduleCFI(m *symbols.Module) *moduleCFI {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c, ok := u.cfi[m]; ok {
		return c
	}
	c := &moduleCFI{}
	u.cfi[m] = c
	sec, ok := m.Section(".eh_frame")
	if !ok {
		c.err = fmt.Errorf("%s: no .eh_frame", m.Path)
		return c
	}
	data, err := m.SectionData(".eh_frame")
	if err != nil {
		c.err = err
		return c
	}
	c.t, c.err = parseEhFrame(data, uint64(sec.Addr)-m.Bias)
	if c.err != nil {
		c.err = fmt.Errorf("%s: .eh_frame: %w", m.Path, c.err)
	}
	return c
}

// regs is a register set by DWARF number.
type regs struct {
	v     [nRegs]uint64
	valid [nRegs]bool
}

func (r *regs) set(n int, v uint64) { r.v[n], r.valid[n] = v, true }

func fromThread(t *core.Thread) regs {
	var r regs
	g := t.Regs
	for n, v := range [nRegs]uint64{g.RAX, g.RDX, g.RCX, g.RBX, g.RSI, g.RDI, g.RBP, g.RSP,
		g.R8, g.R9, g.R10, g.R11, g.R12, g.R13, g.R14, g.R15, g.RIP} {
		r.set(n, v)
	}
	return r
}

// sigreturn is glibc's and musl's x86-64 __restore_rt: mov $15,%rax; syscall.
var sigreturn = []byte{0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05}

// ucontext's uc_mcontext (after uc_flags, uc_link, uc_stack) holds the
// general registers in this order (struct sigcontext).
const mcontextOff = 40

var mcontextRegs = [...]int{8, 9, 10, 11, 12, 13, 14, 15, regRDI, regRSI, regRBP, regRBX, regRDX, regRAX, regRCX, regRSP, regRA}

func (u *Unwinder) read64(a uint64) (uint64, error) {
	return u.mem.Uint64(core.Address(a))
}

func (u *Unwinder) isSigreturn(pc uint64) bool {
	var b [9]byte
	return u.mem.Read(b[:], core.Address(pc)) == nil && bytes.Equal(b[:], sigreturn)
}

// Unwind returns the native stack of thread t.
func (u *Unwinder) Unwind(t *core.Thread) Stack {
	var st Stack
	r := fromThread(t)
	interrupted, byFP := true, false
	bound := u.depthBound(r.v[regRSP])
	for {
		if len(st.Frames) >= bound {
			st.Stop = fmt.Sprintf("depth bound of %d frames reached", bound)
			return st
		}
		pc := r.v[regRA]
		f := Frame{PC: core.Address(pc), Interrupted: interrupted, FramePointer: byFP}
		u.symbolize(&f)
		next, cfa, how, stop := u.step(&r, interrupted)
		f.CFA = core.Address(cfa)
		f.Signal = how == viaSignal
		st.Frames = append(st.Frames, f)
		if stop != "" {
			st.Stop = stop
			return st
		}
		prevSP := r.v[regRSP]
		r = next
		interrupted, byFP = how == viaSignal, how == viaFramePointer
		if r.v[regRA] == 0 {
			st.Stop = "return address 0 (outermost frame)"
			return st
		}
		// A signal handler may run on another stack (faulthandler's
		// sigaltstack), so only ordinary calls must move outward.
		if how != viaSignal && r.v[regRSP] <= prevSP {
			st.Stop = fmt.Sprintf("CFA %#x does not move outward from sp %#x", r.v[regRSP], prevSP)
			return st
		}
	}
}

type via int

const (
	viaCFI via = iota
	viaSignal
	viaFramePointer
)

// step computes the caller's registers of the frame r describes. It
// returns a non-empty stop reason when there is no caller to go to.
func (u *Unwinder) step(r *regs, interrupted bool) (next regs, cfa uint64, how via, stop string) {
	pc := r.v[regRA]
	if u.isSigreturn(pc) {
		return u.stepSignal(r)
	}
	lookup := pc
	if !interrupted {
		lookup-- // a call's return address may be past its function's end (noreturn calls)
	}
	var m *symbols.Module
	if u.syms != nil {
		m = u.syms.Module(core.Address(lookup))
	}
	var why string
	var f *fde
	if m == nil {
		why = fmt.Sprintf("no module maps pc %#x", pc)
	} else if f, why = u.fdeFor(m, lookup-m.Bias); f != nil {
		if f.cie.signal {
			// A signal trampoline whose bytes we did not recognise: its CFI
			// uses expressions; the ucontext is at sp all the same.
			return u.stepSignal(r)
		}
		row, err := rowAt(f, lookup-m.Bias)
		if err != nil {
			return next, 0, viaCFI, fmt.Sprintf("CFI of %s: %v", m.Path, err)
		}
		next, cfa, stop = u.apply(r, &row)
		return next, cfa, viaCFI, stop
	}
	// No usable CFI: the frame pointer, if rbp points into the stack above sp.
	fp := r.v[regRBP]
	if !r.valid[regRBP] || fp < r.v[regRSP] || fp-r.v[regRSP] > 1<<24 {
		return next, 0, viaFramePointer, why + "; no frame pointer to follow"
	}
	ra, err := u.read64(fp + 8)
	if err != nil {
		return next, 0, viaFramePointer, why + "; frame pointer: " + err.Error()
	}
	savedFP, err := u.read64(fp)
	if err != nil {
		return next, 0, viaFramePointer, why + "; frame pointer: " + err.Error()
	}
	next = regs{}
	next.set(regRA, ra)
	next.set(regRSP, fp+16)
	next.set(regRBP, savedFP)
	return next, fp + 16, viaFramePointer, ""
}

// apply executes a CFI row: the CFA, then each register's rule.
func (u *Unwinder) apply(r *regs, row *row) (next regs, cfa uint64, stop string) {
	if row.cfaExpr {
		return next, 0, "CFA given by a DWARF expression (not supported)"
	}
	if row.cfaReg >= nRegs || !r.valid[row.cfaReg] {
		return next, 0, fmt.Sprintf("CFA register %d not known", row.cfaReg)
	}
	cfa = uint64(int64(r.v[row.cfaReg]) + row.cfaOff)
	for n := 0; n < nRegs; n++ {
		ru := row.regs[n]
		switch ru.kind {
		case ruleSame:
			if n != regRA && n != regRSP && r.valid[n] {
				next.set(n, r.v[n])
			}
		case ruleUndefined:
			if n == regRA {
				return next, cfa, "return address undefined (outermost frame)"
			}
		case ruleOffset:
			v, err := u.read64(uint64(int64(cfa) + ru.off))
			if err != nil {
				if n == regRA {
					return next, cfa, "return address unreadable: " + err.Error()
				}
				continue
			}
			next.set(n, v)
		case ruleValOffset:
			next.set(n, uint64(int64(cfa)+ru.off))
		case ruleRegister:
			if ru.reg < nRegs && r.valid[ru.reg] {
				next.set(n, r.v[ru.reg])
			}
		case ruleExpr:
			if n == regRA {
				return next, cfa, "return address given by a DWARF expression (not supported)"
			}
		}
	}
	if !next.valid[regRA] {
		return next, cfa, "return address not recovered"
	}
	next.set(regRSP, cfa)
	return next, cfa, ""
}

// stepSignal takes every register from the ucontext the kernel pushed:
// at the trampoline sp points at rt_sigframe.uc.
func (u *Unwinder) stepSignal(r *regs) (next regs, cfa uint64, how via, stop string) {
	sp := r.v[regRSP]
	base := sp + mcontextOff
	for i, n := range mcontextRegs {
		v, err := u.read64(base + uint64(8*i))
		if err != nil {
			return next, sp, viaSignal, "signal frame's ucontext unreadable: " + err.Error()
		}
		next.set(n, v)
	}
	return next, sp, viaSignal, ""
}

func (u *Unwinder) symbolize(f *Frame) {
	if u.syms == nil {
		return
	}
	lookup := f.PC
	if !f.Interrupted && lookup > 0 {
		lookup--
	}
	m := u.syms.Module(lookup)
	if m == nil {
		return
	}
	f.Module = m
	if s, off, ok := m.Symbolize(lookup); ok && s.Func {
		f.Function = s.Name
		f.Offset = off
		if !f.Interrupted {
			f.Offset++
		}
	}
}
