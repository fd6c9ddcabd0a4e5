package main

import (
	"io"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/render"
)

// printFrames writes a thread's Python frames (innermost first in frames)
// outermost first, each with its locals, repeated frames collapsed.
func printFrames(w io.Writer, frames []cpython.Frame) {
	render.WriteTraceback(w, "", render.StackEntries(frames))
}
