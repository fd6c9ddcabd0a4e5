package render

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pycore/pycore/cpython"
)

// FormatException returns the lines Python's traceback.format_exception
// would print for e (without source lines, which are not in the core),
// each without its newline. It prints the JSON's Exception (ExceptionOf),
// so that what --json says and what the text says are one thing.
func FormatException(e *Exception) []string {
	var p excPrinter
	p.format(e)
	return p.out
}

const (
	causeMessage   = "The above exception was the direct cause of the following exception:"
	contextMessage = "During handling of the above exception, another exception occurred:"
	// maxGroupDepth is the traceback module's default max_group_depth.
	maxGroupDepth = 10
	// maxChain bounds a cause/context chain as printed; cpython reads no
	// longer one, and Seen ends a cycle, so this only guards a hand-made one.
	maxChain = 64
)

// excPrinter follows traceback.TracebackException.format and its
// _ExceptionPrintContext: inside an exception group every line carries a
// margin, two spaces per level of nesting and then "| " (or "+ ").
type excPrinter struct {
	out        []string
	groupDepth int
	needClose  bool
}

func (p *excPrinter) indent() string { return strings.Repeat(" ", 2*p.groupDepth) }

// emit adds lines with the margin of the current group depth.
func (p *excPrinter) emit(margin string, lines ...string) {
	prefix := ""
	if p.groupDepth > 0 {
		prefix = p.indent() + margin + " "
	}
	for _, l := range lines {
		p.out = append(p.out, prefix+l)
	}
}

// format prints e and its chain, outermost cause or context first.
func (p *excPrinter) format(top *Exception) {
	type link struct {
		msg string
		e   *Exception
	}
	var chain []link
	for e, msg := top, ""; e != nil && len(chain) < maxChain; {
		chain = append(chain, link{msg, e})
		switch {
		case e.Cause != nil && !e.Cause.Seen:
			e, msg = e.Cause, causeMessage
		case e.Context != nil && !e.Context.Seen && !e.SuppressContext:
			e, msg = e.Context, contextMessage
		default:
			e = nil
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		e := chain[i].e
		if i+1 < len(chain) {
			p.emit("|", "", chain[i+1].msg, "")
		}
		switch {
		case e.Exceptions == nil:
			if len(e.Traceback) > 0 {
				p.emit("|", "Traceback (most recent call last):")
				p.emitTraceback(e)
			}
			p.emitFinal(e)
		case p.groupDepth > maxGroupDepth:
			p.emit("|", fmt.Sprintf("... (max_group_depth is %d)", maxGroupDepth))
		default:
			p.formatGroup(e)
		}
	}
}

func (p *excPrinter) emitTraceback(e *Exception) {
	p.emit("|", formatEntries(e.Traceback)...)
	if e.TracebackCut > 0 {
		p.emit("|", fmt.Sprintf("  [%d more entries not read]", e.TracebackCut))
	}
}

// emitFinal is format_exception_only: "Type: message", then the notes. A
// SyntaxError shows where it points instead of its str().
func (p *excPrinter) emitFinal(e *Exception) {
	line := e.Type
	if d := e.Syntax; d != nil {
		suffix := ""
		switch {
		case d.Located:
			file, line := "<string>", "None"
			if d.Filename != nil && *d.Filename != "" {
				file = *d.Filename
			}
			if d.Lineno != nil {
				line = *d.Lineno
			}
			p.emit("|", fmt.Sprintf("  File \"%s\", line %s", file, line))
		case d.Filename != nil:
			suffix = " (" + *d.Filename + ")"
		}
		msg := "<no detail available>"
		if d.Msg != nil && *d.Msg != "" {
			msg = *d.Msg
		}
		line += ": " + msg + suffix
	} else if e.Message != "" {
		line += ": " + e.Message
	}
	p.emit("|", strings.Split(line, "\n")...)
	for _, n := range e.Notes {
		p.emit("|", strings.Split(n, "\n")...)
	}
	if e.Error != "" {
		p.emit("|", "  [incomplete: "+e.Error+"]")
	}
}

func (p *excPrinter) formatGroup(e *Exception) {
	toplevel := p.groupDepth == 0
	if toplevel {
		p.groupDepth++
	}
	if len(e.Traceback) > 0 {
		margin := "|"
		if toplevel {
			margin = "+"
		}
		p.emit(margin, "Exception Group Traceback (most recent call last):")
		p.emitTraceback(e)
	}
	p.emitFinal(e)
	n := e.ExceptionsTotal
	if n > cpython.MaxGroupWidth {
		n = cpython.MaxGroupWidth + 1
	}
	p.needClose = false
	for i := 0; i < n; i++ {
		last := i == n-1
		if last {
			p.needClose = true // a nested group may close the frame first
		}
		title := strconv.Itoa(i + 1)
		if i >= cpython.MaxGroupWidth {
			title = "..."
		}
		lead := "  "
		if i == 0 {
			lead = "+-"
		}
		p.out = append(p.out, p.indent()+lead+"+---------------- "+title+" ----------------")
		p.groupDepth++
		switch {
		case i >= cpython.MaxGroupWidth:
			rest := e.ExceptionsTotal - cpython.MaxGroupWidth
			plural := "s"
			if rest == 1 {
				plural = ""
			}
			p.emit("|", fmt.Sprintf("and %d more exception%s", rest, plural))
		case i < len(e.Exceptions):
			p.format(e.Exceptions[i])
		default:
			p.emit("|", "[not read]")
		}
		if last && p.needClose {
			p.out = append(p.out, p.indent()+"+------------------------------------")
			p.needClose = false
		}
		p.groupDepth--
	}
	if toplevel {
		p.groupDepth = 0
	}
}

// formatEntries is traceback.StackSummary.format without source lines.
func formatEntries(entries []TracebackEntry) []string {
	es := make([]Entry, len(entries))
	for i, e := range entries {
		es[i] = Entry{File: e.File, Line: e.Line, Name: e.Function, Error: e.Error}
	}
	return TracebackLines(es)
}
