package core

import (
	"fmt"
	"strconv"
)

// Linux x86-64 signal numbers.
const (
	SIGHUP    = 1
	SIGINT    = 2
	SIGQUIT   = 3
	SIGILL    = 4
	SIGTRAP   = 5
	SIGABRT   = 6
	SIGBUS    = 7
	SIGFPE    = 8
	SIGKILL   = 9
	SIGUSR1   = 10
	SIGSEGV   = 11
	SIGUSR2   = 12
	SIGPIPE   = 13
	SIGALRM   = 14
	SIGTERM   = 15
	SIGSTKFLT = 16
	SIGCHLD   = 17
	SIGCONT   = 18
	SIGSTOP   = 19
	SIGTSTP   = 20
	SIGTTIN   = 21
	SIGTTOU   = 22
	SIGURG    = 23
	SIGXCPU   = 24
	SIGXFSZ   = 25
	SIGVTALRM = 26
	SIGPROF   = 27
	SIGWINCH  = 28
	SIGIO     = 29
	SIGPWR    = 30
	SIGSYS    = 31
	sigRTMin  = 34
	sigRTMax  = 64
)

var signalNames = [...]string{
	SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
	SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
	SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
	SIGSTKFLT: "SIGSTKFLT", SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP",
	SIGTTIN: "SIGTTIN", SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ",
	SIGVTALRM: "SIGVTALRM", SIGPROF: "SIGPROF", SIGWINCH: "SIGWINCH", SIGIO: "SIGIO", SIGPWR: "SIGPWR",
	SIGSYS: "SIGSYS",
}

// SignalName returns the name of a Linux signal number ("SIGSEGV",
// "SIGRTMIN+3", or "signal 99" when unknown).
func SignalName(signo int) string {
	switch {
	case signo > 0 && signo < len(signalNames) && signalNames[signo] != "":
		return signalNames[signo]
	case signo == sigRTMin:
		return "SIGRTMIN"
	case signo > sigRTMin && signo <= sigRTMax:
		return "SIGRTMIN+" + strconv.Itoa(signo-sigRTMin)
	}
	return "signal " + strconv.Itoa(signo)
}

// Name returns the signal's name, e.g. "SIGSEGV".
func (s *SignalInfo) Name() string { return SignalName(s.Signo) }

// IsFatal reports whether the signal is one whose default action dumps core
// (a crash, an abort, or kill -ABRT/-QUIT sent to get a dump), as opposed to
// the stop of a dump taken on request (gcore) or a plain kill. Who raised it
// is the Cause's business.
func (s *SignalInfo) IsFatal() bool {
	switch s.Signo {
	case SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGQUIT, SIGXCPU, SIGXFSZ:
		return true
	}
	return false
}

// siKernel is si_code SI_KERNEL: sent by the kernel, not a fault of the thread.
const siKernel = 0x80

// HasAddr reports whether Addr is meaningful: a fault signal raised by the
// kernel for an access of the thread (si_code > 0; SI_KERNEL, e.g. the
// general protection fault of a non-canonical address, has no address).
func (s *SignalInfo) HasAddr() bool {
	return !s.NoSiginfo && s.Code > 0 && s.Code != siKernel && hasFaultAddr(s.Signo)
}

// hasFaultAddr reports whether the kernel fills si_addr for the signal.
func hasFaultAddr(signo int) bool {
	switch signo {
	case SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP:
		return true
	}
	return false
}

// isFault reports whether a kernel-generated signo is a synchronous fault of
// the thread it was delivered to (a bad access, instruction or system call).
func isFault(signo int) bool { return hasFaultAddr(signo) || signo == SIGSYS }

// Cause says where the signal that made a core came from.
type Cause string

const (
	// CauseFault: the kernel raised it for something the thread did (si_code
	// > 0: SEGV_MAPERR, BUS_ADRALN, ILL_ILLOPN...): a crash.
	CauseFault Cause = "fault"
	// CauseSelf: the process sent it to itself (SI_USER, SI_TKILL... from its
	// own pid): abort(), raise(), os.abort(), os.kill(os.getpid(), ...): a crash.
	CauseSelf Cause = "self"
	// CauseSent: another process (SenderPID, SenderUID: kill -ABRT PID) or
	// the kernel on its behalf (SI_KERNEL: a terminal's Ctrl-\) sent it: a
	// dump request, not a crash.
	CauseSent Cause = "sent"
	// CauseStop: no fatal signal: the core is a dump of a running process
	// (gcore), whose signal is the debugger's stop.
	CauseStop Cause = "stop"
	// CauseUnknown: a fatal signal whose origin the core does not say (no
	// NT_SIGINFO, only NT_PRSTATUS's signal number).
	CauseUnknown Cause = "unknown"
)

// Crash reports whether the cause is one of the process's own making, so
// the thread the signal was delivered to crashed. A fatal signal of
// unknown origin counts as one: most kernel cores are crashes.
func (c Cause) Crash() bool { return c == CauseFault || c == CauseSelf || c == CauseUnknown }

// SignalCause says where p.Signal came from; CauseStop when there is none.
// A sender is the process itself when its pid is the core's (NT_PRPSINFO),
// or, without NT_PRPSINFO, one of the core's threads.
func (p *Process) SignalCause() Cause {
	s := p.Signal
	switch {
	case s == nil || !s.IsFatal():
		return CauseStop
	case s.NoSiginfo:
		return CauseUnknown
	case s.Code > 0 && isFault(s.Signo):
		return CauseFault // SI_KERNEL too: the general protection fault of a bad pointer
	case s.Code > 0 && s.Signo == SIGXCPU:
		return CauseSelf // the process ran out of its RLIMIT_CPU
	case s.Code > 0:
		return CauseSent // SI_KERNEL for SIGQUIT, SIGABRT: a terminal's Ctrl-\ and the like
	}
	if p.PsInfo != nil && p.PsInfo.PID != 0 {
		if s.SenderPID == p.PsInfo.PID {
			return CauseSelf
		}
		return CauseSent
	}
	for _, t := range p.Threads {
		if t.TID == s.SenderPID && s.SenderPID != 0 {
			return CauseSelf
		}
	}
	return CauseSent
}

// CodeName returns the symbolic si_code, e.g. "SEGV_MAPERR", "SI_TKILL".
func (s *SignalInfo) CodeName() string {
	if s.NoSiginfo {
		return "no siginfo"
	}
	switch s.Code {
	case 0:
		return "SI_USER"
	case 0x80:
		return "SI_KERNEL"
	case -1:
		return "SI_QUEUE"
	case -2:
		return "SI_TIMER"
	case -3:
		return "SI_MESGQ"
	case -4:
		return "SI_ASYNCIO"
	case -5:
		return "SI_SIGIO"
	case -6:
		return "SI_TKILL"
	}
	if s.Code > 0 {
		var names []string
		switch s.Signo {
		case SIGSEGV:
			names = []string{"SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI", "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR", "SEGV_CPERR"}
		case SIGBUS:
			names = []string{"BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"}
		case SIGILL:
			names = []string{"ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"}
		case SIGFPE:
			names = []string{"FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB", "FPE_FLTUNK", "FPE_CONDTRAP"}
		case SIGTRAP:
			names = []string{"TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"}
		case SIGCHLD:
			names = []string{"CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"}
		case SIGSYS:
			names = []string{"SYS_SECCOMP", "SYS_USER_DISPATCH"}
		}
		if s.Code <= len(names) {
			return names[s.Code-1]
		}
	}
	return fmt.Sprintf("code %d", s.Code)
}

// String describes the signal for people: "SIGSEGV (SEGV_MAPERR) at 0xdead0000".
func (s *SignalInfo) String() string {
	str := s.Name() + " (" + s.CodeName() + ")"
	if s.HasAddr() {
		str += " at " + s.Addr.String()
	} else if !s.NoSiginfo && s.Code <= 0 && s.SenderPID != 0 {
		str += fmt.Sprintf(" from pid %d uid %d", s.SenderPID, s.SenderUID)
	}
	return str
}

// Auxiliary vector tags (<elf.h> AT_*).
const (
	AtNull        = 0
	AtPhdr        = 3
	AtPhent       = 4
	AtPhnum       = 5
	AtPagesz      = 6
	AtBase        = 7
	AtFlags       = 8
	AtEntry       = 9
	AtUID         = 11
	AtEUID        = 12
	AtGID         = 13
	AtEGID        = 14
	AtPlatform    = 15
	AtHwcap       = 16
	AtClktck      = 17
	AtSecure      = 23
	AtRandom      = 25
	AtHwcap2      = 26
	AtExecfn      = 31
	AtSysinfoEhdr = 33
)

// AuxvValue returns the value of the first auxiliary vector entry with the
// given tag. (Process.Auxv is the field holding the whole vector, hence the
// name.) Note that AT_EXECFN names what was exec'd, which is the dynamic
// loader when a program is started through it, not necessarily the program.
func (p *Process) AuxvValue(tag uint64) (uint64, bool) {
	for _, e := range p.Auxv {
		if e.Tag == tag {
			return e.Val, true
		}
	}
	return 0, false
}

// String returns the protection as "r-x".
func (p Perm) String() string {
	b := []byte("---")
	if p&PermRead != 0 {
		b[0] = 'r'
	}
	if p&PermWrite != 0 {
		b[1] = 'w'
	}
	if p&PermExec != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// String names the source of a mapping's bytes.
func (s Source) String() string {
	switch s {
	case FromCore:
		return "core"
	case FromFile:
		return "file"
	case FromBoth:
		return "core+file"
	case Missing:
		return "missing"
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// String names a FileStatus.
func (s FileStatus) String() string {
	switch s {
	case FileFound:
		return "found"
	case FileMissing:
		return "missing"
	case FileMismatch:
		return "mismatch"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}
