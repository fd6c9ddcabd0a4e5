// Package report triages many core dumps at once: it opens each core (or
// bundle, or compressed core), takes a snapshot of what Python was doing,
// reduces it to a crash signature and groups the cores by signature, so that a
// pile of hundreds of cores becomes a short list of distinct crashes with
// counts, Python versions, times and an example core each.
//
// The signature rule is Rule; every output format states it and shows each
// group's signature in full. Cores are analysed in parallel, one open core per
// worker, closed before the next: memory does not grow with the size of the
// cores and only by a few hundred bytes per core with their number. A file
// that cannot be analysed becomes an Unreadable entry with the reason; it
// never stops the batch.
//
// Outputs: a text table (WriteTable), JSON (WriteJSON, one document, also the
// input of a later run's baseline), JSON lines (one CoreResult per line, as
// the cores are done), Markdown (WriteMarkdown) and one self-contained HTML
// file (WriteHTML). WriteFileAtomic writes any of them so that an interrupted
// run never leaves half a report.
package report

import "fmt"

// RuleSummary is the rule in one line, for the head of a text report.
func RuleSummary(o SignatureOptions) string {
	depth := o.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	lines := "no line numbers"
	if o.WithLines {
		lines = "with line numbers"
	}
	return fmt.Sprintf("fatal signal + innermost %d Python frames (function, file; %s) of the crashed thread, else the GIL holder, else the main thread; a crash in a C extension's code: its innermost %d native frames (function, library) instead (pycore report --help has the full rule)", depth, lines, depth)
}

// Rule is the signature rule, as help text and reports state it.
func Rule(o SignatureOptions) string {
	depth := o.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	lines := "without line numbers (the same crash groups across Python versions)"
	if o.WithLines {
		lines = "with line numbers"
	}
	return fmt.Sprintf(`A core's signature is the fatal signal that ended the process ("no signal" for a dump of a live process, e.g. gcore; "dump request (SIGABRT)" for a signal another process sent, e.g. kill -ABRT PID, which is not a crash) plus the innermost %d Python frames of one thread, innermost first, each as function name and file, %s. The thread is the one the fatal signal was delivered to (crashed thread); if no Python thread crashed (a hang dump), the thread holding the GIL; else the main thread; else the first thread. Files are named from the standard library or site-packages/dist-packages directory down ("ctypes/__init__.py"), other files by their name (with the directory for __init__.py and __main__.py), so the same code has the same name on every machine. Functions are co_name, not the qualified name, which Pythons before 3.11 do not record. A crash in native code that is neither the C runtime's (libc, the dynamic loader, libpthread, libm, libgcc_s, libstdc++, libffi) nor the interpreter's (the python executable, libpython, the standard library's lib-dynload modules), between the frame the fatal signal interrupted (above the signal handler's frame when one, such as faulthandler's, ran) and the innermost call from Python, is signed by that code instead ("in native code"): the innermost %d such frames, each as symbol and library file name ("nat_crash_inner (libnat.so)"; compiler clone suffixes such as .cold, .part.N and .constprop.N dropped; the library's link-time offset where no symbol covers the pc), never addresses, so the signature does not change with ASLR and the same C bug reached from different Python code is one group. Cores with equal signatures form one group.`, depth, lines, depth)
}
