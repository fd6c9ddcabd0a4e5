// Package textable draws the box tables of pycore's text output (threads, tasks, maps,
// report). It replaces tablewriter in the binary because that package's init (East Asian
// width detection, regexps, caches) cost more start-up time than every command's own work
// on small cores (issue 16); the output is byte for byte what tablewriter v1.1.5 drew with
// the options pycore used, which textable_test.go checks against tablewriter itself.
package textable

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Align is a cell's horizontal alignment.
type Align int

const (
	Left Align = iota
	Center
	Right
)

// Table collects a header and rows and draws them on Render.
type Table struct {
	w           io.Writer
	header      []string
	rows        [][]string
	headerAlign Align
	upperHeader bool
	rowAlign    []Align // per column; columns past its end are Left
}

// New returns a table with tablewriter's defaults: header upper-cased and centred, rows
// left-aligned.
func New(w io.Writer) *Table {
	return &Table{w: w, headerAlign: Center, upperHeader: true}
}

// Plain returns a table whose header is kept as written and left-aligned, with the rows'
// alignment given per column.
func Plain(w io.Writer, rowAlign ...Align) *Table {
	return &Table{w: w, headerAlign: Left, rowAlign: rowAlign}
}

// Header sets the column names; values that are not strings are formatted with fmt.Sprint.
func (t *Table) Header(names ...any) {
	t.header = cells(names)
	if t.upperHeader {
		for i, n := range t.header {
			t.header[i] = strings.ToUpper(strings.TrimSpace(strings.ReplaceAll(n, "_", " ")))
		}
	}
}

// Append adds a row; values that are not strings are formatted with fmt.Sprint.
func (t *Table) Append(values ...any) error {
	t.rows = append(t.rows, cells(values))
	return nil
}

func cells(values []any) []string {
	row := make([]string, len(values))
	for i, v := range values {
		s, ok := v.(string)
		if !ok {
			s = fmt.Sprint(v)
		}
		row[i] = clean(s)
	}
	return row
}

// clean trims a cell as tablewriter did and escapes control characters other than the
// line breaks: cells hold names read from an untrusted core, and a terminal would obey an
// escape sequence printed raw.
func clean(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	return r != '\n' && (r < 0x20 || r >= 0x7f && r < 0xa0)
}

// width is a string's width in terminal columns. pycore's cells are ASCII or names from the
// core; a rune counts one column, as for every character outside the East Asian wide
// ranges and the zero-width marks and format characters.
func width(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case isWide(r):
			n += 2
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		default:
			n++
		}
	}
	return n
}

// isWide: the East Asian Wide and Fullwidth blocks, which terminals draw two columns wide.
func isWide(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r <= 0x115f, r == 0x2329, r == 0x232a,
		r >= 0x2e80 && r <= 0x303e, r >= 0x3041 && r <= 0x33ff, r >= 0x3400 && r <= 0x4dbf,
		r >= 0x4e00 && r <= 0x9fff, r >= 0xa000 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60,
		r >= 0xffe0 && r <= 0xffe6, r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff,
		r >= 0x20000 && r <= 0x3fffd:
		return true
	}
	return false
}

// lines splits a cell into its display lines.
func lines(s string) []string {
	return strings.Split(s, "\n")
}

// Render writes the table.
func (t *Table) Render() error {
	cols := len(t.header)
	for _, r := range t.rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return nil
	}
	widths := make([]int, cols)
	measure := func(row []string) {
		for i, c := range row {
			for _, l := range lines(c) {
				widths[i] = max(widths[i], width(l))
			}
		}
	}
	measure(t.header)
	for _, r := range t.rows {
		measure(r)
	}
	var b strings.Builder
	rule := func(l, m, r string) {
		b.WriteString(l)
		for i, w := range widths {
			if i > 0 {
				b.WriteString(m)
			}
			b.WriteString(strings.Repeat("─", w+2))
		}
		b.WriteString(r)
		b.WriteByte('\n')
	}
	row := func(cells []string, align func(int) Align) {
		split := make([][]string, cols)
		height := 1
		for i := range cols {
			if i < len(cells) {
				split[i] = lines(cells[i])
			}
			height = max(height, len(split[i]))
		}
		for ln := range height {
			b.WriteString("│")
			for i, w := range widths {
				if i > 0 {
					b.WriteString("│")
				}
				s := ""
				if ln < len(split[i]) {
					s = split[i][ln]
				}
				b.WriteString(" ")
				b.WriteString(pad(s, w, align(i)))
				b.WriteString(" ")
			}
			b.WriteString("│\n")
		}
	}
	rule("┌", "┬", "┐")
	if len(t.header) > 0 {
		row(t.header, func(int) Align { return t.headerAlign })
		if len(t.rows) > 0 {
			rule("├", "┼", "┤")
		}
	}
	for _, r := range t.rows {
		row(r, func(i int) Align {
			if i < len(t.rowAlign) {
				return t.rowAlign[i]
			}
			return Left
		})
	}
	rule("└", "┴", "┘")
	_, err := io.WriteString(t.w, b.String())
	return err
}

func pad(s string, w int, a Align) string {
	gap := w - width(s)
	if gap <= 0 {
		return s
	}
	switch a {
	case Right:
		return strings.Repeat(" ", gap) + s
	case Center:
		left := gap / 2
		return strings.Repeat(" ", left) + s + strings.Repeat(" ", gap-left)
	}
	return s + strings.Repeat(" ", gap)
}
