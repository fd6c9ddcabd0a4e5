package native

import (
	"encoding/binary"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
)

// Crash says where a fatal signal struck and, for a fault, at which address.
type Crash struct {
	Signal string
	Number int
	// Code is the signal's si_code as the source below gives it (1
	// SEGV_MAPERR, 2 SEGV_ACCERR, ...), null when unknown.
	Code *int
	// CodeName is Code's symbolic name ("SEGV_MAPERR", "ILL_ILLOPN"), ""
	// when Code is null.
	CodeName string
	// Address is the faulting address (si_addr) of SIGSEGV and SIGBUS, the
	// faulting instruction's of SIGILL and SIGFPE; null for other signals or
	// when no source records it.
	Address *uint64
	// Source says where Code and Address come from: "core" (the core's
	// NT_SIGINFO: the kernel delivered the fault with no handler in the way),
	// "signal frame siginfo" (a handler with SA_SIGINFO ran and re-raised: the
	// siginfo the kernel put on its stack), "signal frame registers" (a
	// handler without SA_SIGINFO, faulthandler's: the fault registers the
	// kernel saved in the frame's ucontext, cr2 and the trap number), or
	// "none".
	Source string
	// PC is the interrupted instruction; Frame the frame it is in.
	PC    uint64
	Frame *Frame
}

// The x86-64 kernel's rt_sigframe, at the sp the sigreturn trampoline runs
// with: struct ucontext (uc_flags, uc_link, uc_stack, uc_mcontext: struct
// sigcontext, uc_sigmask: 8 bytes), then struct siginfo, which the kernel
// fills only for SA_SIGINFO handlers (arch/x86/kernel/signal_64.c).
const (
	ucontextSize = 8 + 8 + 24 + 256 + 8
	sigcontextAt = 40
	// struct sigcontext words: r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx,
	// rsp, rip, eflags, cs/gs/fs/ss, err, trapno, oldmask, cr2, ...
	scRIP    = 16
	scErr    = 19
	scTrapNo = 20
	scCR2    = 22
	// siginfo: si_signo, si_errno, si_code (int32 each), padding, si_addr.
	siAddrAt = 16
)

const (
	trapDivide     = 0  // #DE
	trapInvalidOp  = 6  // #UD
	trapPageFault  = 14 // #PF
	trapX87        = 16 // #MF
	trapSIMD       = 19 // #XM
	pfProtection   = 1  // page-fault error code bit: the page was present
	sigILL, sigFPE = 4, 8
	sigBUS, sigSEG = 7, 11
	segvMapErr     = 1
	segvAccErr     = 2
	illIllOpn      = 2
	fpeIntDiv      = 1
)

// hasAddress says whether the kernel gives the signal a fault address.
func hasAddress(signo int) bool {
	return signo == sigSEG || signo == sigBUS || signo == sigILL || signo == sigFPE
}

// crashOf describes the crash of the thread whose stack is frames: the
// frame the signal interrupted and, when the core's siginfo is a handler's
// re-raise (si_code <= 0: sent by tkill, raise, kill), the fault as the
// signal frame on the stack recorded it.
func crashOf(mem core.Memory, si *cpython.SignalInfo, frames []Frame) *Crash {
	i := crashIndex(frames)
	if i < 0 || si == nil {
		return nil
	}
	fr := frames[i]
	c := &Crash{Signal: si.Name, Number: si.Number, Source: "none", PC: uint64(fr.PC), Frame: &fr}
	if si.Code > 0 {
		code := si.Code
		c.Code, c.Source = &code, "core"
		if hasAddress(si.Number) {
			a := si.Address
			c.Address = &a
		}
		return c
	}
	if i == 0 || !frames[i-1].Signal || frames[i-1].cfa == 0 {
		return c // sent by a process, no handler ran: no fault to describe
	}
	r := core.Reader{Mem: mem, Order: binary.LittleEndian, PtrSize: 8}
	uc := frames[i-1].cfa
	info := uc + ucontextSize
	signo, err1 := r.Uint32(info)
	code, err2 := r.Uint32(info + 8)
	addr, err3 := r.Uint64(info + siAddrAt)
	trapno, err4 := r.Uint64(uc + sigcontextAt + 8*scTrapNo)
	cr2, err5 := r.Uint64(uc + sigcontextAt + 8*scCR2)
	errCode, err6 := r.Uint64(uc + sigcontextAt + 8*scErr)
	rip, err7 := r.Uint64(uc + sigcontextAt + 8*scRIP)
	// The siginfo slot holds the fault only if the handler asked for it:
	// otherwise it is whatever the stack held, so it must name this signal,
	// come from the kernel, and agree with the saved fault registers.
	if err1 == nil && err2 == nil && err3 == nil && int(signo) == si.Number && int32(code) > 0 &&
		(err4 != nil || err5 != nil || trapno != trapPageFault || !(si.Number == sigSEG || si.Number == sigBUS) || cr2 == addr) {
		n := int(int32(code))
		c.Code, c.Source = &n, "signal frame siginfo"
		if hasAddress(si.Number) {
			c.Address = &addr
		}
		return c
	}
	if err4 != nil || err5 != nil || err6 != nil || err7 != nil || rip != uint64(fr.PC) {
		return c
	}
	switch {
	case (si.Number == sigSEG || si.Number == sigBUS) && trapno == trapPageFault:
		c.Address, c.Source = &cr2, "signal frame registers"
		if si.Number == sigSEG {
			n := segvMapErr
			if errCode&pfProtection != 0 {
				n = segvAccErr
			}
			c.Code = &n
		}
	case si.Number == sigILL && trapno == trapInvalidOp:
		// The kernel's do_error_trap gives #UD ILL_ILLOPN.
		n := illIllOpn
		c.Address, c.Code, c.Source = &rip, &n, "signal frame registers"
	case si.Number == sigFPE && trapno == trapDivide:
		n := fpeIntDiv // #DE: integer divide by zero (or overflow)
		c.Address, c.Code, c.Source = &rip, &n, "signal frame registers"
	case si.Number == sigFPE && (trapno == trapX87 || trapno == trapSIMD):
		c.Address, c.Source = &rip, "signal frame registers"
	}
	return c
}

// nameCode fills in c's CodeName.
func (c *Crash) nameCode() *Crash {
	if c != nil && c.Code != nil {
		c.CodeName = (&core.SignalInfo{Signo: c.Number, Code: *c.Code}).CodeName()
	}
	return c
}
