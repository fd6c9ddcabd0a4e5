package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// tricky is a report whose text needs escaping in every format: Markdown and
// HTML metacharacters in paths, frames and reasons, a new and a gone group, a
// group without Python frames, a stack cut short and a dump request.
func tricky() *Report {
	lwp := int64(4242)
	segv := newSignature("SIGSEGV", false, BasisCrashed, []SigFrame{
		{File: "ctypes/__init__.py", Function: "string_at"},
		{File: "app|main.py", Function: "<lambda>"},
		{File: "we`ird.py", Function: "run_*_now"},
	})
	hang := newSignature("", false, BasisMain, nil)
	noThread := newSignature("SIGSEGV", false, BasisNoThread, nil) // crashed before any thread state existed
	// kill -ABRT of a hang: a dump request
	request := newSignature("SIGABRT", true, BasisMain, []SigFrame{{File: "threading.py", Function: "join"}})
	gone := newSignature("SIGBUS", false, BasisCrashed, []SigFrame{{File: "mmap.py", Function: "read"}})
	noSym := uint64(0x1170)
	inC := newNativeSignature("SIGSEGV", []NativeSigFrame{
		{Module: "libnat.so", Function: "nat_crash_inner"},
		{Module: "lib<x>|y.so", ModuleOffset: &noSym},
		{Module: "libnat.so", Function: "nat_*_outer", File: "nat.c", Line: 30},
	})
	var deep []StackFrame
	for i := 0; i < 3; i++ {
		deep = append(deep, StackFrame{Function: "recurse", Qualname: "Walker.recurse", File: "/srv/app/walk.py", Line: 10 + i})
	}
	deep[0].Generator = true
	segvCores := []string{"/cores/a|b/`core`.1", "/cores/a|b/`core`.0", "/cores/<b>.core"}
	for len(segvCores) < MaxGroupCores {
		segvCores = append(segvCores, fmt.Sprintf("/cores/segv.%d", len(segvCores)))
	}
	return &Report{
		Format: ReportFormat, Version: ReportVersion, Generated: t0.Add(48 * time.Hour),
		Rule: Rule(SignatureOptions{}), SignatureDepth: DefaultDepth, Total: 19, Readable: 17,
		Baseline: "old <report>.json",
		Groups: []*Group{
			{Rank: 1, Count: 13, Signature: segv, Versions: []string{"3.9.18", "3.12.1"}, First: t0, Last: t0.Add(time.Hour),
				Example: "/cores/a|b/`core`.1", Cores: segvCores, Thread: &ThreadInfo{ThreadID: 0x7f00, LWP: &lwp, Crashed: true, HoldsGIL: true, Depth: 1003},
				Stack: deep, StackOmitted: 1000, New: true,
				Exception:  &ExceptionInfo{State: "handled", Type: "app.<Err>", Message: "a *b* | `c`\nnext line"},
				Exceptions: []ExceptionCount{{Type: "app.<Err>", Count: 2}, {Type: "KeyError", Count: 1}}},
			{Rank: 2, Count: 1, Signature: hang, Versions: []string{"3.15.2"}, First: t0.Add(time.Minute), Last: t0.Add(time.Minute),
				Example: "/cores/hang <1>.core", Cores: []string{"/cores/hang <1>.core"}, Thread: &ThreadInfo{ThreadID: 1, Main: true}, Stack: []StackFrame{}},
			{Rank: 3, Count: 1, Signature: noThread, Versions: []string{"3.13.0"}, First: t0, Last: t0,
				Example: "/cores/early.core", Cores: []string{"/cores/early.core"}, Stack: []StackFrame{}},
			{Rank: 4, Count: 1, Signature: request, Versions: []string{"3.12.1"}, First: t0, Last: t0,
				Example: "/cores/hung.core", Cores: []string{"/cores/hung.core"}, Thread: &ThreadInfo{ThreadID: 2, LWP: &lwp, Main: true, Depth: 1},
				Stack: []StackFrame{{Function: "join", Qualname: "Thread.join", File: "/usr/lib/python3.12/threading.py", Line: 1147}}},
			{Rank: 5, Count: 1, Signature: inC, Versions: []string{"3.11.2"}, First: t0, Last: t0,
				Example: "/cores/c.core", Cores: []string{"/cores/c.core"}, Thread: &ThreadInfo{LWP: &lwp, Crashed: true}, Stack: []StackFrame{}},
		},
		Unreadable: []Unreadable{
			{Path: "/cores/notes|1.txt", Reason: `not an ELF file (starts with "<b>hi</")`},
			{Path: "/cores/cut.core", Reason: "truncated: program header table ends at 4264, file is 3000 bytes"},
		},
		Gone:  []*Group{{Count: 7, Signature: gone}},
		Cores: []CoreEntry{},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./report -update rewrites it); got:\n%s", name, got)
	}
}

func TestFormatsMatchGoldenFiles(t *testing.T) {
	for _, c := range []struct {
		file  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"report.txt", func(b *bytes.Buffer, r *Report) error { return WriteTable(b, r) }},
		{"report.md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
		{"report.html", func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }},
		{"report.json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
	} {
		t.Run(c.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := c.write(&b, tricky()); err != nil {
				t.Fatal(err)
			}
			golden(t, c.file, b.Bytes())
		})
	}
}

func TestMarkdownEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, tricky()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	// Every table row has exactly as many unescaped pipes as the header.
	cells := regexp.MustCompile(`(^|[^\\])\|`)
	var width int
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		n := len(cells.FindAllString(line, -1))
		if strings.HasPrefix(line, "| # |") || strings.HasPrefix(line, "| File |") {
			width = n
		} else if n != width {
			t.Errorf("row has %d cell separators, header %d: %s", n, width, line)
		}
	}
	if !strings.Contains(md, "``/cores/a\\|b/`core`.1``") {
		t.Error("a path with backticks and a pipe is not one code span with the pipe escaped")
	}
	if !strings.Contains(md, "````text\n") && !strings.Contains(md, "```text\n") {
		t.Error("no fenced stack")
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, tricky()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "http://", "https://", " src=", "<link", "@import", "<b>hi"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"&lt;lambda&gt;", "&lt;b&gt;hi&lt;/", `style="width: 100.0%"`, `style="width: 7.7%"`, `<li class="more">and 3 more</li>`, `<li><code>/cores/&lt;b&gt;.core</code></li>`, "<details class=\"stack\">", "Walker.recurse", "... 1000 outer frames not shown"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestJSONRoundTripsAsABaseline(t *testing.T) {
	var b bytes.Buffer
	r := tricky()
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Groups) != 5 || !back.Groups[3].Signature.DumpRequest || back.Groups[4].Signature.Text != r.Groups[4].Signature.Text || len(back.Groups[4].Signature.Native) != 3 || back.Groups[0].Signature.Text != r.Groups[0].Signature.Text || len(back.Groups[0].Signature.Frames) != 3 {
		t.Errorf("groups did not survive: %+v", back.Groups)
	}
	if back.Groups[0].Signature.ID != r.Groups[0].Signature.ID || back.Groups[0].StackOmitted != 1000 || !back.Groups[0].New {
		t.Errorf("group 1 back: %+v", back.Groups[0])
	}
}
