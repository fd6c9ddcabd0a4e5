package query

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Error is an error about part of an expression. Its text names what went
// wrong, then shows the expression with the part underlined:
//
//	unknown member 'thread' of PyInterpreterState (did you mean 'threads'?)
//	  interp.thread
//	         ^~~~~~
type Error struct {
	Src      string // the whole expression
	Pos, End int    // byte offsets of the part the error is about
	Msg      string
	Err      error // the underlying cause (a *core.ReadError, ...), if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	if e.Src == "" || strings.ContainsAny(e.Src, "\n\r") {
		return b.String()
	}
	b.WriteString("\n  ")
	b.WriteString(e.Src)
	b.WriteString("\n  ")
	b.WriteString(e.Caret())
	return b.String()
}

// Caret is the underline under Src: '^' at Pos, '~' to End.
func (e *Error) Caret() string {
	pos, end := e.Pos, e.End
	if pos < 0 {
		pos = 0
	}
	if pos > len(e.Src) {
		pos = len(e.Src)
	}
	if end <= pos {
		end = pos + 1
	}
	if end > len(e.Src) && pos < len(e.Src) {
		end = len(e.Src)
	}
	// Columns count characters, not bytes, and tabs stay tabs so the caret lines up.
	var b strings.Builder
	for _, r := range e.Src[:pos] {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteByte('^')
	width := 1
	if pos < len(e.Src) && end <= len(e.Src) {
		width = utf8.RuneCountInString(e.Src[pos:end])
	}
	b.WriteString(strings.Repeat("~", max(width-1, 0)))
	return b.String()
}

// Message is the error without the expression and caret.
func (e *Error) Message() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// Suggest returns the names closest to name by edit distance (at most three),
// the closest first, or none if nothing is near.
func Suggest(name string, names []string) []string {
	if name == "" {
		return nil
	}
	// Short names are near too many others for a guess to help.
	var limit int
	switch {
	case len(name) <= 2:
		limit = 0
	case len(name) <= 5:
		limit = 1
	case len(name) <= 8:
		limit = 2
	default:
		limit = 3
	}
	type cand struct {
		s string
		d int
	}
	var cands []cand
	lname := strings.ToLower(name)
	for _, n := range names {
		if n == name || n == "" {
			continue
		}
		// Bound the work: names far longer or shorter cannot be near.
		if d := len(n) - len(name); d > limit || -d > limit {
			if !strings.HasPrefix(strings.ToLower(n), lname) || len(name) < 4 {
				continue
			}
		}
		d := editDistance(lname, strings.ToLower(n), limit+1)
		if strings.HasPrefix(strings.ToLower(n), lname) && len(name) >= 4 && d > limit {
			d = limit // a prefix of a longer name is a good guess too
		}
		if d <= limit {
			cands = append(cands, cand{n, d})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].d != cands[j].d {
			return cands[i].d < cands[j].d
		}
		return cands[i].s < cands[j].s
	})
	var out []string
	for _, c := range cands {
		if len(out) == 3 {
			break
		}
		out = append(out, c.s)
	}
	return out
}

// didYouMean formats suggestions for an error message.
func didYouMean(s []string) string {
	if len(s) == 0 {
		return ""
	}
	q := make([]string, len(s))
	for i, n := range s {
		q[i] = "'" + n + "'"
	}
	return " (did you mean " + strings.Join(q, " or ") + "?)"
}

// editDistance is the optimal string alignment distance of a and b (edits
// and swaps of neighbours, so "nxet" is one from "next"), or bound if it is
// at least bound (to stop early on long, unlike names).
func editDistance(a, b string, bound int) int {
	if len(a) > 256 || len(b) > 256 {
		return bound
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= bound {
			return bound
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], bound)
}
