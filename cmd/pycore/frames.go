package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/pycore/pycore/cpython"
)

// recursiveCutoff is traceback._RECURSIVE_CUTOFF: how many identical
// consecutive frames print before the rest of the run is counted.
const recursiveCutoff = 3

// collapseRepeats cuts every run of more than recursiveCutoff identical
// consecutive blocks (a frame's printed lines) to its first three and a line
// "[Previous line repeated N more time(s)]" after indent, as Python's
// traceback module prints a deep recursion. Blocks are whole frames, their
// locals included, so a frame is only left out when it would have printed
// exactly what the line above it says.
func collapseRepeats(blocks []string, indent string) []string {
	out := make([]string, 0, len(blocks))
	count := 0
	flush := func() {
		if n := count - recursiveCutoff; n > 0 {
			s := "s"
			if n == 1 {
				s = ""
			}
			out = append(out, fmt.Sprintf("%s[Previous line repeated %d more time%s]\n", indent, n, s))
		}
	}
	for i, b := range blocks {
		if i == 0 || b != blocks[i-1] {
			flush()
			count = 0
		}
		count++
		if count <= recursiveCutoff {
			out = append(out, b)
		}
	}
	flush()
	return out
}

// printFrames writes a thread's Python frames (innermost first in frames)
// outermost first, each with its locals, repeated frames collapsed.
func printFrames(w io.Writer, frames []cpython.Frame) {
	blocks := make([]string, 0, len(frames))
	var b bytes.Buffer
	for i := len(frames) - 1; i >= 0; i-- {
		b.Reset()
		printFrame(&b, frames[i])
		blocks = append(blocks, b.String())
	}
	for _, s := range collapseRepeats(blocks, "  ") {
		io.WriteString(w, s)
	}
}

// printFrame writes one frame as a traceback line, then its locals.
func printFrame(w io.Writer, f cpython.Frame) {
	name := f.Function
	if f.Qualname != nil && *f.Qualname != "" {
		name = *f.Qualname
	}
	fmt.Fprintf(w, "  File \"%s\", line %d, in %s", f.File, f.Line, name)
	if f.Kind != "" {
		fmt.Fprintf(w, " (%s)", f.Kind)
	}
	fmt.Fprintln(w)
	printLocals(w, f)
}
