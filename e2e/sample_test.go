package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pycore/pycore/render"
)

const sampleBundle = "../testdata/sample/sample.pycore.zst"

// sampleOracle is what testdata/sample/sample.py wrote about its threads just
// before its worker thread segfaulted.
type sampleOracle struct {
	Version string `json:"version"`
	Crashed uint64 `json:"crashed"`
	Threads []struct {
		Ident    uint64 `json:"ident"`
		Name     string `json:"name"`
		NativeID int64  `json:"native_id"`
		Frames   []struct {
			File, Function, Qualname string
			Line                     int
		} `json:"frames"`
	} `json:"threads"`
}

// The shipped sample bundle (the core plus stripped copies of the files it
// maps, zstd-compressed) needs no Python on this machine: this test runs
// everywhere, and checks pycore against the oracle the program wrote.
func TestSampleBundleMatchesItsOracle(t *testing.T) {
	data, err := os.ReadFile("../testdata/sample/sample.oracle.json")
	if err != nil {
		t.Fatal(err)
	}
	var o sampleOracle
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	// The machine may have files at the recorded paths; the bundle's must win.
	snap := runThreads(t, sampleBundle, "--debug-dir", t.TempDir())
	if snap.Python.Version != o.Version {
		t.Errorf("version %s, want %s", snap.Python.Version, o.Version)
	}
	if snap.Signal == nil || snap.Signal.Name != "SIGSEGV" || !snap.Signal.Fatal {
		t.Errorf("signal %+v, want a fatal SIGSEGV", snap.Signal)
	}
	if len(snap.Threads) != len(o.Threads) {
		t.Errorf("%d threads, want %d", len(snap.Threads), len(o.Threads))
	}
	byID := map[uint64]*render.Thread{}
	for _, th := range snap.Threads {
		byID[th.ThreadID] = th
	}
	for _, ot := range o.Threads {
		th := byID[ot.Ident]
		if th == nil {
			t.Errorf("thread %#x (%s) missing", ot.Ident, ot.Name)
			continue
		}
		if th.Crashed != (ot.Ident == o.Crashed) || th.HoldsGIL != (ot.Ident == o.Crashed) {
			t.Errorf("thread %s: crashed=%v holds_gil=%v, want both %v", ot.Name, th.Crashed, th.HoldsGIL, ot.Ident == o.Crashed)
		}
		if th.NativeThreadID == nil || *th.NativeThreadID != ot.NativeID {
			t.Errorf("thread %s: native id %v, want %d", ot.Name, ptrVal(th.NativeThreadID), ot.NativeID)
		}
		if len(th.Frames) != len(ot.Frames) {
			t.Errorf("thread %s: %d frames, want %d", ot.Name, len(th.Frames), len(ot.Frames))
			continue
		}
		for i, of := range ot.Frames {
			f := th.Frames[i]
			if f.File != of.File || f.Function != of.Function || f.Line != of.Line || f.Qualname == nil || *f.Qualname != of.Qualname {
				t.Errorf("thread %s frame %d: got %s %s:%d, want %s %s:%d", ot.Name, i, f.Function, f.File, f.Line, of.Qualname, of.File, of.Line)
			}
		}
	}

	// The human form: a table, then tracebacks innermost last.
	out, err := exec.Command(pycoreBin, "threads", sampleBundle).CombinedOutput()
	if err != nil {
		t.Fatalf("pycore threads: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Python 3.12.1",
		"Signal: SIGSEGV (11)",
		"crashed, holds GIL",
		"Traceback (most recent call last):",
		`File "/tmp/pycore-sample/run/sample.py", line 66, in Parser.parse`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("human output lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(string(out), "in worker"), strings.Index(string(out), "in Parser.parse"); i < 0 || j < i {
		t.Errorf("the crashed thread's frames are not innermost last:\n%s", out)
	}
}
