package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pycore/pycore/internal/textable"
	"github.com/pycore/pycore/render"
)

// timeLayout shows core times in UTC, to the second.
const timeLayout = "2006-01-02 15:04:05"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

// Summary is the report's first line: "27 files: 24 cores in 4 groups, 3
// unreadable", saying how many cores are dump requests rather than crashes.
func (r *Report) Summary() string {
	s := fmt.Sprintf("%d %s: %d %s in %d %s", r.Total, plural(r.Total, "file", "files"),
		r.Readable, plural(r.Readable, "core", "cores"), len(r.Groups), plural(len(r.Groups), "group", "groups"))
	requests := 0
	for _, g := range r.Groups {
		if g.Signature.DumpRequest {
			requests += g.Count
		}
	}
	if requests > 0 {
		s += fmt.Sprintf(" (%d of them %s, not %s)", requests, plural(requests, "a dump request", "dump requests"), plural(requests, "a crash", "crashes"))
	}
	s += fmt.Sprintf(", %d unreadable", len(r.Unreadable))
	if r.Baseline != "" {
		s += fmt.Sprintf("; %d new since %s, %d gone", r.NewCount(), r.Baseline, len(r.Gone))
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// frameLines is the signature's frames one per line, "← " marking callers.
func frameLines(s Signature) []string {
	out := s.FrameTexts()
	if len(out) == 0 {
		return []string{"(no Python frames)"}
	}
	for i := 1; i < len(out); i++ {
		out[i] = "← " + out[i]
	}
	return out
}

// Traceback writes a stack the way Python prints one: outermost call first,
// repeated frames collapsed (render's one traceback printer). What report
// adds on purpose: how many outer frames the signature left out, and
// "(generator/coroutine)" after a generator's frame (a report keeps no kind).
func Traceback(w io.Writer, indent string, stack []StackFrame, omitted int) {
	if len(stack) == 0 {
		fmt.Fprintf(w, "%s(no Python frames)\n", indent)
		return
	}
	fmt.Fprintf(w, "%sTraceback (most recent call last):\n", indent)
	if omitted > 0 {
		fmt.Fprintf(w, "%s  ... %d outer %s not shown\n", indent, omitted, plural(omitted, "frame", "frames"))
	}
	entries := make([]render.Entry, 0, len(stack))
	for i := len(stack) - 1; i >= 0; i-- {
		f := stack[i]
		e := render.Entry{File: f.File, Line: f.Line, Name: f.Name()}
		if f.Generator {
			e.Note = "generator/coroutine"
		}
		entries = append(entries, e)
	}
	render.WriteTraceback(w, indent, entries)
}

// GroupTraceback writes a group's representative stack and, after it as
// Python prints it, the example core's exception.
func GroupTraceback(w io.Writer, indent string, g *Group) {
	Traceback(w, indent, g.Stack, g.StackOmitted)
	if g.Exception != nil {
		fmt.Fprintf(w, "%s%s\n", indent, g.Exception)
	}
}

// ExceptionCounts is a group's exception types with their counts:
// "ValueError ×3, KeyError ×1".
func ExceptionCounts(g *Group) string {
	parts := make([]string, len(g.Exceptions))
	for i, e := range g.Exceptions {
		parts[i] = fmt.Sprintf("%s ×%d", e.Type, e.Count)
	}
	return strings.Join(parts, ", ")
}

// WriteTable writes the human report: a summary, the rule, a table of groups
// by count, each group's representative stack, then the unreadable files.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "pycore report: %s\n", r.Summary())
	fmt.Fprintf(w, "Signature: %s\n\n", RuleSummary(SignatureOptions{Depth: r.SignatureDepth, WithLines: r.WithLines}))
	if len(r.Groups) > 0 {
		header := []any{"#", "Count", "Signature", "Python", "First (UTC)", "Last (UTC)", "Cores (newest first)"}
		if r.Baseline != "" {
			header = append(header, "New")
		}
		table := textable.Plain(w, textable.Right, textable.Right)
		table.Header(header...)
		for _, g := range r.Groups {
			sig := g.Signature.Head() + "\n" + strings.Join(frameLines(g.Signature), "\n")
			row := []any{g.Rank, g.Count, sig, strings.Join(g.Versions, "\n"), fmtTime(g.First), fmtTime(g.Last), strings.Join(coreLines(g), "\n")}
			if r.Baseline != "" {
				row = append(row, yesNo(g.New, "NEW", ""))
			}
			if err := table.Append(row...); err != nil {
				return err
			}
		}
		if err := table.Render(); err != nil {
			return err
		}
	}
	for _, g := range r.Groups {
		fmt.Fprintf(w, "\nGroup %d: %d %s, %s%s\n", g.Rank, g.Count, plural(g.Count, "core", "cores"), g.Signature.Head(), yesNo(g.New, " [NEW]", ""))
		fmt.Fprintf(w, "  signature %s: %s\n", g.Signature.ID, g.Signature.FramesText())
		fmt.Fprintf(w, "  Python %s; first %s, last %s (UTC)\n", strings.Join(g.Versions, ", "), fmtTime(g.First), fmtTime(g.Last))
		if len(g.Exceptions) > 0 {
			fmt.Fprintf(w, "  exceptions: %s\n", ExceptionCounts(g))
		}
		fmt.Fprintf(w, "  example %s (%s)\n", g.Example, g.Thread)
		GroupTraceback(w, "  ", g)
	}
	if len(r.Unreadable) > 0 {
		fmt.Fprintf(w, "\nUnreadable (%d):\n", len(r.Unreadable))
		for _, u := range r.Unreadable {
			fmt.Fprintf(w, "  %s: %s\n", u.Path, u.Reason)
		}
	}
	if len(r.Gone) > 0 {
		fmt.Fprintf(w, "\nGone since %s (%d):\n", r.Baseline, len(r.Gone))
		for _, g := range r.Gone {
			fmt.Fprintf(w, "  %s (%d %s then)\n", g.Signature.Text, g.Count, plural(g.Count, "core", "cores"))
		}
	}
	return nil
}

// coreLines are the group's listed cores, then how many more it has.
func coreLines(g *Group) []string {
	lines := append([]string(nil), g.Cores...)
	if n := g.MoreCores(); n > 0 {
		lines = append(lines, fmt.Sprintf("and %d more", n))
	}
	return lines
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
