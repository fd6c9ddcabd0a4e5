package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pycore/pycore/cpython"
)

// The one traceback printer. Every stack pycore prints as text (threads and
// the shell, tasks' coroutine stacks, report's group stacks, exception
// tracebacks) goes through it, in the format of Python's traceback module
// (StackSummary.format without source lines, which are not in a core):
//
//	Traceback (most recent call last):
//	  File "app.py", line 9, in main
//	  [Previous line repeated 5 more times]
//
// What pycore adds on purpose: the frame's kind after its name, " (coroutine)",
// and what is printed under a frame (its locals), which counts in telling
// repeated frames apart.

// recursiveCutoff is traceback._RECURSIVE_CUTOFF: how many identical
// consecutive frames print before the rest of the run is counted.
const recursiveCutoff = 3

// Entry is one frame of a traceback.
type Entry struct {
	File string
	Line int // <= 0 prints "None", as Python prints a frame without a line number
	Name string
	// Note is printed in parentheses after the name: the frame's kind
	// ("coroutine"), "" for none.
	Note string
	// Below are lines printed under the frame line (its locals), each
	// ending in "\n".
	Below string
	// Error, when the entry could not be read, is printed as "  [Error]"
	// in place of the frame line.
	Error string
}

// FrameLine is how the traceback module prints a frame:
// `  File "app.py", line 9, in main`, without a newline.
func FrameLine(file string, line int, name string) string {
	return fmt.Sprintf("  File \"%s\", line %s, in %s", file, lineString(line), name)
}

func lineString(n int) string {
	if n <= 0 {
		return "None"
	}
	return strconv.Itoa(n)
}

// Block is e as WriteTraceback prints it with no prefix: its frame line (or
// error) and what is below it, ending in "\n".
func (e Entry) Block() string {
	if e.Error != "" {
		return "  [" + e.Error + "]\n" + e.Below
	}
	s := FrameLine(e.File, e.Line, e.Name)
	if e.Note != "" {
		s += " (" + e.Note + ")"
	}
	return s + "\n" + e.Below
}

// FrameEntry is a Python frame as a traceback entry: its qualified name
// when the core has it, its kind, and below (its locals, or "").
func FrameEntry(f *cpython.Frame, below string) Entry {
	name := f.Function
	if f.Qualname != nil && *f.Qualname != "" {
		name = *f.Qualname
	}
	return Entry{File: f.File, Line: f.Line, Name: name, Note: f.Kind, Below: below}
}

// WriteTraceback writes entries (outermost first) as the traceback module
// prints them, every line after prefix, runs of identical entries cut.
// It writes no "Traceback (most recent call last):" line: callers say
// what the stack is.
func WriteTraceback(w io.Writer, prefix string, entries []Entry) {
	blocks := make([]string, len(entries))
	for i, e := range entries {
		blocks[i] = e.Block()
	}
	for _, b := range CollapseRepeats(blocks, "  ") {
		for _, line := range strings.SplitAfter(b, "\n") {
			if line != "" {
				io.WriteString(w, prefix+line)
			}
		}
	}
}

// TracebackLines is what WriteTraceback writes with no prefix, as lines
// without their newlines.
func TracebackLines(entries []Entry) []string {
	if len(entries) == 0 {
		return nil
	}
	var b strings.Builder
	WriteTraceback(&b, "", entries)
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// CollapseRepeats cuts every run of more than three identical consecutive
// blocks (a frame's printed lines, each ending in "\n") to its first three
// and a line "[Previous line repeated N more time(s)]" after indent, as the
// traceback module prints a deep recursion. Blocks are whole frames, their
// locals included, so a frame is only left out when it would have printed
// exactly what the line above it says. Stacks that are not plain tracebacks
// (native frames merged in, tasks' trees) use it with blocks of their own.
func CollapseRepeats(blocks []string, indent string) []string {
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

// StackEntries is a thread's or coroutine's Python frames (innermost first,
// as the model keeps them) as traceback entries, outermost first, each with
// its locals below it.
func StackEntries(frames []cpython.Frame) []Entry {
	out := make([]Entry, 0, len(frames))
	for i := len(frames) - 1; i >= 0; i-- {
		out = append(out, FrameEntry(&frames[i], Locals(&frames[i])))
	}
	return out
}

// Locals is a frame's variables as printed under its line, as pystack and
// py-spy print them: its arguments (in signature order) under "Arguments:",
// then the other locals (cells and free variables included) under
// "Locals:"; "" when it has none (or they were not read).
func Locals(f *cpython.Frame) string {
	var b strings.Builder
	if f.LocalsError != "" {
		fmt.Fprintf(&b, "    [locals: %s]\n", f.LocalsError)
	}
	section := func(title string, args bool) {
		shown := false
		for _, l := range f.Locals {
			if (l.Argument != "") != args || (!l.Unbound && l.Value == nil) {
				continue
			}
			if !shown {
				fmt.Fprintf(&b, "    %s\n", title)
				shown = true
			}
			if l.Unbound {
				fmt.Fprintf(&b, "      %s = <unbound>\n", l.Name)
			} else {
				fmt.Fprintf(&b, "      %s = %s\n", l.Name, l.Value.Repr)
			}
		}
	}
	section("Arguments:", true)
	section("Locals:", false)
	return b.String()
}
