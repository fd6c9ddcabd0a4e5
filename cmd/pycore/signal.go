package main

import (
	"fmt"
	"io"

	"github.com/pycore/pycore/cpython"
)

// writeSignal writes the line saying how the process came to be dumped: the
// signal, its si_code and where it came from, and whether it is a crash. A
// live read has nothing to say.
func writeSignal(w io.Writer, si *cpython.SignalInfo, live bool) {
	if si == nil {
		if !live {
			fmt.Fprintln(w, "No fatal signal: the core records none (a dump of a running process, e.g. gcore)")
		}
		return
	}
	in := ""
	if si.Thread != 0 {
		in = fmt.Sprintf(" in thread %d", si.Thread)
	}
	sig := fmt.Sprintf("Signal: %s (%d), %s", si.Name, si.Number, si.CodeName)
	switch si.Cause {
	case "stop":
		if si.Name == "SIGSTOP" {
			fmt.Fprintln(w, "No fatal signal: a dump of a running process (gcore; SIGSTOP is the debugger's stop)")
		} else {
			fmt.Fprintf(w, "No fatal signal: a dump of a running process (gcore); it had stopped for %s (%s)\n", si.Name, si.CodeName)
		}
	case "fault":
		if si.HasAddress {
			sig += fmt.Sprintf(" at address %#x", si.Address)
		}
		fmt.Fprintf(w, "%s: a crash%s\n", sig, in)
	case "self":
		fmt.Fprintf(w, "%s from the process itself (abort(), os.abort(), raise()...): a crash%s\n", sig, in)
	case "sent":
		delivered := ""
		if si.Thread != 0 {
			delivered = fmt.Sprintf("; delivered to thread %d", si.Thread)
		}
		fmt.Fprintf(w, "%s from %s: a dump request, not a crash%s\n", sig, sender(si), delivered)
	default: // "unknown"
		fmt.Fprintf(w, "Signal: %s (%d), origin unknown (the core has no NT_SIGINFO): taken as a crash%s\n", si.Name, si.Number, in)
	}
}

// sender names who sent a signal of cause "sent".
func sender(si *cpython.SignalInfo) string {
	switch {
	case si.SenderPID == nil:
		return "the kernel (a terminal's Ctrl-\\ or the like)"
	case *si.SenderPID == 0:
		return fmt.Sprintf("a process outside the core's PID namespace (pid 0, uid %d)", *si.SenderUID)
	}
	return fmt.Sprintf("pid %d (uid %d)", *si.SenderPID, *si.SenderUID)
}
