package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the report as GitHub-flavoured Markdown, to paste into
// a bug tracker: the summary, the rule, a table of groups, then per group its
// signature and the example core's stack in a fenced block.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# pycore report\n\n%s. Generated %s UTC.\n\n", mdText(r.Summary()), fmtTime(r.Generated))
	fmt.Fprintf(&b, "> **Signature rule.** %s\n\n", mdText(r.Rule))
	if len(r.Groups) > 0 {
		b.WriteString("| # | Count | Signature | Python | First (UTC) | Last (UTC) | Cores (newest first) |\n")
		b.WriteString("|--:|--:|---|---|---|---|---|\n")
		for _, g := range r.Groups {
			var sig []string
			head := "**" + mdCell(g.Signature.Head()) + "**"
			if g.New {
				head += " **new**"
			}
			sig = append(sig, head)
			for _, l := range frameLines(g.Signature) {
				sig = append(sig, mdCell(mdCode(l)))
			}
			var cores []string
			for i, l := range coreLines(g) {
				if i < len(g.Cores) {
					l = mdCode(l)
				}
				cores = append(cores, mdCell(l))
			}
			fmt.Fprintf(&b, "| [%d](#group-%d) | %d | %s | %s | %s | %s | %s |\n", g.Rank, g.Rank, g.Count,
				strings.Join(sig, "<br>"), mdCell(strings.Join(g.Versions, ", ")), fmtTime(g.First), fmtTime(g.Last), strings.Join(cores, "<br>"))
		}
		b.WriteString("\n")
	}
	for _, g := range r.Groups {
		fmt.Fprintf(&b, "<a id=\"group-%d\"></a>\n## %d. %s: %d %s%s\n\n", g.Rank, g.Rank, mdText(g.Signature.Head()), g.Count,
			plural(g.Count, "core", "cores"), yesNo(g.New, " (new)", ""))
		fmt.Fprintf(&b, "Signature `%s`: %s\n\n", g.Signature.ID, mdCode(g.Signature.FramesText()))
		if len(g.Exceptions) > 0 {
			fmt.Fprintf(&b, "Exceptions: %s.\n\n", mdText(ExceptionCounts(g)))
		}
		fmt.Fprintf(&b, "Python %s; first %s, last %s (UTC). Example %s (%s):\n\n", mdText(strings.Join(g.Versions, ", ")),
			fmtTime(g.First), fmtTime(g.Last), mdCode(g.Example), mdText(g.Thread.String()))
		var tb bytes.Buffer
		GroupTraceback(&tb, "", g)
		fence := mdFence(tb.String())
		fmt.Fprintf(&b, "%stext\n%s%s\n\n", fence, tb.String(), fence)
	}
	if len(r.Unreadable) > 0 {
		fmt.Fprintf(&b, "## Unreadable (%d)\n\n| File | Reason |\n|---|---|\n", len(r.Unreadable))
		for _, u := range r.Unreadable {
			fmt.Fprintf(&b, "| %s | %s |\n", mdCell(mdCode(u.Path)), mdCell(mdText(u.Reason)))
		}
		b.WriteString("\n")
	}
	if len(r.Gone) > 0 {
		fmt.Fprintf(&b, "## Gone since the baseline (%d)\n\n", len(r.Gone))
		for _, g := range r.Gone {
			fmt.Fprintf(&b, "- %s (%d %s then)\n", mdCode(g.Signature.Text), g.Count, plural(g.Count, "core", "cores"))
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// mdCode is s as an inline code span, with a backtick fence longer than any
// run of backticks in s.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdFence is a code block fence longer than any backtick run in s.
func mdFence(s string) string { return strings.Repeat("`", max(3, longestRun(s, '`')+1)) }

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// mdText escapes the characters Markdown would take as markup in running text
// (pipes are left to mdCell, for table cells).
func mdText(s string) string {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(s, "\n", " ") {
		if strings.ContainsRune("\\`*_[]<>#~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCell makes s safe inside a table cell: GFM splits cells at every
// unescaped pipe, even inside code spans.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
