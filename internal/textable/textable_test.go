package textable

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// cellPool holds the kinds of text pycore puts in cells: hex ids, numbers, names with
// spaces, empty cells, multi-line report signatures, non-ASCII thread names, and wide
// characters.
var cellPool = []string{
	"0x7f2c5b7fe6c0", "1149", "0", "", "-", "worker", "MainThread", "crashed, holds GIL",
	"not a Python thread", "a\nbb\nccc", "SIGSEGV in f\n  File x.py, line 3, in f",
	"naïve", "日本語", "x", " lead", "trail ", "tab\there", "\x1b[31mred\x1b[0m", "e\u0301", "\u200b", "3.12.1\n3.13.0", "Thread-1 (run)", "with  two  spaces",
}

func TestMatchesTablewriter(t *testing.T) {
	// Control characters are escaped on purpose (see clean), so they are left out here.
	var comparable []string
	for _, c := range cellPool {
		if !strings.ContainsFunc(c, isControl) {
			comparable = append(comparable, c)
		}
	}
	rng := rand.New(rand.NewSource(1))
	headers := [][]string{
		{"Thread ID", "LWP", "Interp", "Name", "State", "Depth"},
		{"LWP", "Thread ID", "Interp", "Name", "State", "Python", "Native"},
		{"Task", "Name", "State", "Thread", "Awaited by", "Innermost frame"},
		{"Start", "End", "Perm", "Offset", "Source", "Path"},
		{"File", "Build ID", "Match", "Used"},
		{"#", "Cores", "Signature", "Versions", "First", "Last", "Example"},
	}
	for iter := range 2000 {
		header := headers[iter%len(headers)]
		rows := make([][]string, rng.Intn(6))
		for i := range rows {
			rows[i] = make([]string, len(header))
			for j := range rows[i] {
				rows[i][j] = comparable[rng.Intn(len(comparable))]
			}
		}
		plain := iter%3 == 0
		var want, got bytes.Buffer
		var ours *Table
		var theirs *tablewriter.Table
		if plain {
			align := []tw.Align{tw.AlignRight, tw.AlignRight}
			mine := []Align{Right, Right}
			for range header[2:] {
				align = append(align, tw.AlignLeft)
				mine = append(mine, Left)
			}
			theirs = tablewriter.NewTable(&want,
				tablewriter.WithHeaderAutoFormat(tw.Off),
				tablewriter.WithHeaderAlignment(tw.AlignLeft),
				tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}))
			ours = Plain(&got, mine...)
		} else {
			theirs = tablewriter.NewWriter(&want)
			ours = New(&got)
		}
		theirs.Header(toAny(header)...)
		ours.Header(toAny(header)...)
		for _, r := range rows {
			if err := theirs.Append(toAny(r)...); err != nil {
				t.Fatal(err)
			}
			if err := ours.Append(toAny(r)...); err != nil {
				t.Fatal(err)
			}
		}
		if err := theirs.Render(); err != nil {
			t.Fatal(err)
		}
		if err := ours.Render(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("case %d (plain %v, rows %q):\ntablewriter:\n%s\ntextable:\n%s", iter, plain, rows, want.String(), got.String())
		}
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func TestEmptyTableWritesHeaderOnly(t *testing.T) {
	var b strings.Builder
	tb := New(&b)
	tb.Header("A")
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "│ A │") {
		t.Fatalf("got %q", b.String())
	}
}

func TestControlCharactersEscaped(t *testing.T) {
	var b strings.Builder
	tb := New(&b)
	tb.Header("Name")
	if err := tb.Append("\x1b[31mred\x1b[0m\tx\u0085y"); err != nil {
		t.Fatal(err)
	}
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsFunc(b.String(), isControl) || !strings.Contains(b.String(), `\x1b[31mred\x1b[0m\tx\x85y`) {
		t.Fatalf("control characters not escaped:\n%s", b.String())
	}
}
