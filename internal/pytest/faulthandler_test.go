package pytest

import (
	"strings"
	"testing"
)

// A 3.14-style dump: thread names in brackets, escaped non-ASCII paths, a truncated stack,
// a thread with no Python frame and the C stack section that follows.
const sampleFaulthandler = `Fatal Python error: Segmentation fault

Current thread 0x00007f904c9fb6c0 [crasher] (most recent call first):
  File "/usr/lib/python3.14/ctypes/__init__.py", line 624 in string_at
  File "/tmp/d\xedr-\xfc/crash_worker.py", line 76 in crash_here
  File "/tmp/d\xedr-\xfc/crash_worker.py", line 80 in na\u00efve_\U0001f600

Thread 0x00007f904d2006c0 (most recent call first):
  File "/tmp/x.py", line ??? in idle
  ...

Thread 0x0000000000000abc [w` + "\xc3\xb6" + `rker] (most recent call first):
  <no Python frame>

Current thread's C stack trace (most recent call first):
  Binary file "/usr/bin/python3.14", at _Py_DumpStack+0x4a [0x499c1d]

Extension modules: _ctypes (total: 1)
`

func TestParseFaulthandlerReadsThreadsFramesAndEscapes(t *testing.T) {
	threads, err := ParseFaulthandler(strings.NewReader(sampleFaulthandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(threads) != 3 {
		t.Fatalf("got %d threads, want 3: %+v", len(threads), threads)
	}
	cur := threads[0]
	if !cur.Current || cur.Ident != 0x7f904c9fb6c0 || cur.Name != "crasher" || len(cur.Frames) != 3 {
		t.Errorf("current thread: %+v", cur)
	}
	if f := cur.Frames[1]; f.File != "/tmp/dír-ü/crash_worker.py" || f.Line != 76 || f.Function != "crash_here" {
		t.Errorf("escaped frame decoded as %+v", f)
	}
	if f := cur.Frames[2]; f.Function != "naïve_😀" {
		t.Errorf("\\u and \\U escapes decoded as %q", f.Function)
	}
	second := threads[1]
	if second.Current || second.Name != "" || !second.Truncated || len(second.Frames) != 1 || second.Frames[0].Line != 0 {
		t.Errorf("second thread: %+v", second)
	}
	third := threads[2]
	if third.Ident != 0xabc || third.Name != "wörker" || len(third.Frames) != 0 {
		t.Errorf("third thread: %+v", third)
	}
}

func TestParseFaulthandlerRejectsOutputWithoutThreads(t *testing.T) {
	if _, err := ParseFaulthandler(strings.NewReader("Fatal Python error: Aborted\n")); err == nil {
		t.Fatal("no error for a dump without threads")
	}
}

func TestUnescapeFaulthandlerKeepsLoneBackslashes(t *testing.T) {
	for in, want := range map[string]string{
		`a\xzz`:      `a\xzz`,
		`C:\dir`:     `C:\dir`,
		`\x41\u00e9`: `Aé`,
		`end\`:       `end\`,
		`\U0000d800`: `\U0000d800`, // a surrogate is not a character
	} {
		if got := unescapeFaulthandler(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompareFaulthandlerFindsDisagreement(t *testing.T) {
	o := &Oracle{
		Crashed: 1,
		Threads: []OracleThread{
			{Ident: 1, Frames: []OracleFrame{{File: "a.py", Function: "f", Line: 3}, {File: "a.py", Function: "<module>", Line: 9}}},
			{Ident: 2, Frames: []OracleFrame{{File: "a.py", Function: "g", Line: 5}}},
		},
	}
	agree := []FaultThread{
		{Ident: 1, Current: true, Frames: []FaultFrame{{"a.py", 3, "f"}, {"a.py", 9, "<module>"}}},
		{Ident: 2, Frames: []FaultFrame{{"a.py", 5, "g"}}},
	}
	if err := CompareFaulthandler(o, agree); err != nil {
		t.Errorf("agreeing oracles: %v", err)
	}
	cases := map[string][]FaultThread{
		"another line": {
			{Ident: 1, Current: true, Frames: []FaultFrame{{"a.py", 4, "f"}, {"a.py", 9, "<module>"}}},
			{Ident: 2, Frames: []FaultFrame{{"a.py", 5, "g"}}},
		},
		"another current thread": {
			{Ident: 1, Frames: []FaultFrame{{"a.py", 3, "f"}, {"a.py", 9, "<module>"}}},
			{Ident: 2, Current: true, Frames: []FaultFrame{{"a.py", 5, "g"}}},
		},
		"a missing thread": {
			{Ident: 1, Current: true, Frames: []FaultFrame{{"a.py", 3, "f"}, {"a.py", 9, "<module>"}}},
		},
		"a missing frame": {
			{Ident: 1, Current: true, Frames: []FaultFrame{{"a.py", 3, "f"}}},
			{Ident: 2, Frames: []FaultFrame{{"a.py", 5, "g"}}},
		},
	}
	for name, fh := range cases {
		if err := CompareFaulthandler(o, fh); err == nil {
			t.Errorf("%s: no disagreement found", name)
		}
	}
}
