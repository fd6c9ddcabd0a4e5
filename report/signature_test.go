package report

import (
	"strings"
	"testing"

	"github.com/pycore/pycore/cpython"
)

func TestModulePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/usr/lib/python3.11/ctypes/__init__.py", "ctypes/__init__.py"},
		{"/root/.pyenv/versions/3.12.1/lib/python3.12/threading.py", "threading.py"},
		{"/opt/py/lib64/python3.9/json/decoder.py", "json/decoder.py"},
		{"/usr/local/lib/python3.13t/asyncio/events.py", "asyncio/events.py"},
		{"/usr/lib/python312.zip/importlib/__init__.py", "importlib/__init__.py"},
		{"/srv/venv/lib/python3.12/site-packages/requests/api.py", "requests/api.py"},
		{"/usr/lib/python3/dist-packages/apt/cache.py", "apt/cache.py"},
		{"/home/u/.local/lib/python3.10/site-packages/numpy/core/__init__.py", "numpy/core/__init__.py"},
		{"/srv/app/worker.py", "worker.py"},
		{"/tmp/x/dír-ü-🐍/segv_worker.py", "segv_worker.py"},
		{"/srv/app/mypkg/__init__.py", "mypkg/__init__.py"},
		{"/srv/app/tool/__main__.py", "tool/__main__.py"},
		{"/__init__.py", "__init__.py"},
		{"worker.py", "worker.py"},
		{"<frozen importlib._bootstrap>", "<frozen importlib._bootstrap>"},
		{"<string>", "<string>"},
		{"", ""},
		{"/usr/lib/python3.11/", "python3.11"},
		{"/x/site-packages/", "site-packages"},
	} {
		if got := ModulePath(c.in); got != c.want {
			t.Errorf("ModulePath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func strp(s string) *string { return &s }

func frames(specs ...string) []cpython.Frame {
	var out []cpython.Frame
	for i, s := range specs {
		fn, file, _ := strings.Cut(s, "@")
		out = append(out, cpython.Frame{Function: fn, Qualname: strp("C." + fn), File: file, Line: 10 + i})
	}
	return out
}

func TestSignatureOfPicksTheThreadByTheRule(t *testing.T) {
	segv := &cpython.SignalInfo{Number: 11, Name: "SIGSEGV", Fatal: true}
	stop := &cpython.SignalInfo{Number: 19, Name: "SIGSTOP", Fatal: false}
	idle := &cpython.Thread{ThreadID: 1, Frames: frames("idle@/a/idle.py")}
	main := &cpython.Thread{ThreadID: 2, Main: true, Frames: frames("wait@/a/main.py", "main@/a/main.py")}
	gil := &cpython.Thread{ThreadID: 3, HoldsGIL: true, Frames: frames("spin@/a/spin.py")}
	crashed := &cpython.Thread{ThreadID: 4, Crashed: true, HoldsGIL: true, Frames: frames("string_at@/usr/lib/python3.11/ctypes/__init__.py", "work@/srv/w.py")}
	for _, c := range []struct {
		name    string
		snap    *cpython.Snapshot
		want    string
		wantTID uint64
	}{
		{"the crashed thread wins over the GIL holder and the main thread",
			&cpython.Snapshot{Signal: segv, Threads: []*cpython.Thread{idle, main, gil, crashed}},
			"SIGSEGV, crashed thread: string_at (ctypes/__init__.py) ← work (w.py)", 4},
		{"without a crashed thread the GIL holder is used",
			&cpython.Snapshot{Signal: stop, Threads: []*cpython.Thread{idle, main, gil}},
			"no signal, GIL holder: spin (spin.py)", 3},
		{"without a GIL holder the main thread is used",
			&cpython.Snapshot{Threads: []*cpython.Thread{idle, main}},
			"no signal, main thread: wait (main.py) ← main (main.py)", 2},
		{"without a main thread the first thread is used",
			&cpython.Snapshot{Signal: segv, Threads: []*cpython.Thread{idle}},
			"SIGSEGV, first thread: idle (idle.py)", 1},
		{"no threads at all still make a signature",
			&cpython.Snapshot{Signal: segv},
			"SIGSEGV, no Python thread: (no Python frames)", 0},
		{"a signal another process sent is a dump request, apart from crashes",
			&cpython.Snapshot{Signal: &cpython.SignalInfo{Number: 6, Name: "SIGABRT", Cause: "sent"}, Threads: []*cpython.Thread{idle, main}},
			"dump request (SIGABRT), main thread: wait (main.py) ← main (main.py)", 2},
		{"a crashed thread without Python frames is kept",
			&cpython.Snapshot{Signal: segv, Threads: []*cpython.Thread{main, {ThreadID: 9, Crashed: true}}},
			"SIGSEGV, crashed thread: (no Python frames)", 9},
	} {
		t.Run(c.name, func(t *testing.T) {
			sig, th := SignatureOf(c.snap, SignatureOptions{})
			if sig.Text != c.want {
				t.Errorf("signature %q, want %q", sig.Text, c.want)
			}
			if c.wantTID == 0 && th != nil || c.wantTID != 0 && (th == nil || th.ThreadID != c.wantTID) {
				t.Errorf("thread %+v, want thread id %d", th, c.wantTID)
			}
			if len(sig.ID) != 12 || sig.Frames == nil {
				t.Errorf("id %q, frames %v: want 12 hex digits and a non-nil frame list", sig.ID, sig.Frames)
			}
		})
	}
}

func TestSignatureDepthAndLines(t *testing.T) {
	th := &cpython.Thread{Crashed: true, Frames: frames("a@/x/a.py", "b@/x/b.py", "c@/x/c.py", "d@/x/d.py", "e@/x/e.py", "f@/x/f.py")}
	snap := &cpython.Snapshot{Signal: &cpython.SignalInfo{Name: "SIGABRT", Fatal: true}, Threads: []*cpython.Thread{th}}

	def, _ := SignatureOf(snap, SignatureOptions{})
	if len(def.Frames) != DefaultDepth {
		t.Errorf("default depth: %d frames, want %d", len(def.Frames), DefaultDepth)
	}
	two, _ := SignatureOf(snap, SignatureOptions{Depth: 2})
	if two.Text != "SIGABRT, crashed thread: a (a.py) ← b (b.py)" {
		t.Errorf("depth 2: %q", two.Text)
	}
	deep, _ := SignatureOf(snap, SignatureOptions{Depth: 100})
	if len(deep.Frames) != 6 {
		t.Errorf("depth 100 of a 6-frame stack: %d frames", len(deep.Frames))
	}
	lines, _ := SignatureOf(snap, SignatureOptions{Depth: 2, WithLines: true})
	if lines.Text != "SIGABRT, crashed thread: a (a.py:10) ← b (b.py:11)" {
		t.Errorf("with lines: %q", lines.Text)
	}
	if lines.ID == two.ID {
		t.Error("line numbers do not change the signature id")
	}
	// Same code at another path and line: the same signature without lines.
	moved := &cpython.Thread{Crashed: true, Frames: []cpython.Frame{{Function: "a", File: "/elsewhere/a.py", Line: 99}, {Function: "b", File: "/y/b.py", Line: 7}}}
	other, _ := SignatureOf(&cpython.Snapshot{Signal: snap.Signal, Threads: []*cpython.Thread{moved}}, SignatureOptions{Depth: 2})
	if other.Text != two.Text || other.ID != two.ID {
		t.Errorf("moved code: %q (%s), want %q (%s)", other.Text, other.ID, two.Text, two.ID)
	}
}

func TestRuleNamesTheSettings(t *testing.T) {
	r := Rule(SignatureOptions{Depth: 3, WithLines: true})
	for _, want := range []string{"innermost 3 Python frames", "with line numbers", "crashed thread", "GIL", "main thread"} {
		if !strings.Contains(r, want) {
			t.Errorf("rule %q lacks %q", r, want)
		}
	}
	if !strings.Contains(Rule(SignatureOptions{}), "without line numbers") {
		t.Error("default rule does not say it leaves line numbers out")
	}
}

func TestBaseSymbol(t *testing.T) {
	for in, want := range map[string]string{
		"nat_check_fail.cold":           "nat_check_fail",
		"f.constprop.0":                 "f",
		"g.isra.0.cold":                 "g",
		"h.part.3":                      "h",
		"_ZN3foo3barEv.llvm.123":        "_ZN3foo3barEv",
		"plain":                         "plain",
		".cold":                         ".cold",
		"__strlen_evex":                 "__strlen_evex",
		"_PyEval_EvalFrameDefault.cold": "_PyEval_EvalFrameDefault",
	} {
		if got := BaseSymbol(in); got != want {
			t.Errorf("BaseSymbol(%q) = %q, want %q", in, got, want)
		}
	}
}
