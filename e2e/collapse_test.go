package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
)

// runText runs pycore with args and returns its standard output.
func runText(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(pycoreBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pycore %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

var (
	textThreadRE = regexp.MustCompile(`^Thread (0x[0-9a-f]+) `)
	textInterpRE = regexp.MustCompile(`^=== Interpreter (\d+) ===$`)
	// A frame line's kind, which pycore adds and the traceback module does not print.
	textKindRE = regexp.MustCompile(` \((generator|coroutine|async generator)\)$`)
	textNameRE = regexp.MustCompile(`, in (\S+)$`)
)

// textStacks parses pycore threads' text: each thread's traceback lines
// (frames and "[Previous line repeated ...]"), by interpreter and ident.
func textStacks(text string) map[[2]uint64][]string {
	out := map[[2]uint64][]string{}
	var interp uint64
	var cur *[2]uint64
	for _, line := range strings.Split(text, "\n") {
		if m := textInterpRE.FindStringSubmatch(line); m != nil {
			interp, _ = strconv.ParseUint(m[1], 10, 64)
			continue
		}
		if m := textThreadRE.FindStringSubmatch(line); m != nil {
			id, _ := strconv.ParseUint(m[1], 0, 64)
			cur = &[2]uint64{interp, id}
			continue
		}
		if cur != nil && (strings.HasPrefix(line, "  File ") || strings.HasPrefix(line, "  [Previous line repeated ")) {
			out[*cur] = append(out[*cur], line)
		}
	}
	return out
}

// tracebackLines is what traceback.format_stack printed, without the source
// lines (and 3.11+'s carets) pycore does not print: frame lines and
// "[Previous line repeated ...]" lines, in order.
func tracebackLines(entries []string) []string {
	var out []string
	for _, e := range entries {
		for _, line := range strings.Split(strings.TrimSuffix(e, "\n"), "\n") {
			if strings.HasPrefix(line, "  File ") || strings.HasPrefix(line, "  [Previous line repeated ") {
				out = append(out, line)
			}
		}
	}
	return out
}

// asTraceback rewrites one of pycore's frame lines as the traceback module
// would print it: co_name (the last part of the qualified name) and no kind.
func asTraceback(line string) string {
	line = textKindRE.ReplaceAllString(line, "")
	if m := textNameRE.FindStringSubmatchIndex(line); m != nil {
		name := line[m[2]:m[3]]
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		line = line[:m[2]] + name
	}
	return line
}

// compareTextStacks checks every thread's text traceback against what
// traceback.format_stack() printed of it inside the program: the same
// lines, the same runs of repeated frames cut after three with the same
// "[Previous line repeated N more times]". It reports how many threads it
// compared.
func compareTextStacks(o *pytest.Oracle, text string) (int, []string) {
	got := textStacks(text)
	var errs []string
	n := 0
	for _, ot := range o.Threads {
		if ot.FormatStack == nil {
			continue
		}
		n++
		want := tracebackLines(ot.FormatStack)
		lines := got[[2]uint64{uint64(ot.Interp), ot.Ident}]
		have := make([]string, len(lines))
		for i, l := range lines {
			have[i] = asTraceback(l)
		}
		if strings.Join(have, "\n") != strings.Join(want, "\n") {
			errs = append(errs, fmt.Sprintf("thread %#x (%s): text traceback differs from traceback.format_stack:\n got:\n%s\n want:\n%s",
				ot.Ident, ot.Name, strings.Join(have, "\n"), strings.Join(want, "\n")))
		}
	}
	return n, errs
}

// checkTextStacks runs pycore threads (text) with args on a core and
// compares it with the oracle's format_stack; deep recursions must have been
// collapsed in both.
func checkTextStacks(t *testing.T, c *pytest.Core, args ...string) {
	t.Helper()
	text := runText(t, append(append([]string{"threads"}, args...), c.Path)...)
	n, errs := compareTextStacks(c.Oracle, text)
	for _, e := range errs {
		t.Error(e)
	}
	// Single-threaded scenarios (heap, finalizing) have only the thread that
	// made the core, whose stack moved on: nothing to compare. The deep ones
	// must have been compared, collapsed.
	if c.Scenario == "stacks" || c.Scenario == "deep_many" {
		if n == 0 {
			t.Errorf("%s: the oracle has no format_stack of any thread", c.Scenario)
		}
		if !strings.Contains(text, "more times]") {
			t.Errorf("%s: no [Previous line repeated N more times] in the text", c.Scenario)
		}
	}
}
