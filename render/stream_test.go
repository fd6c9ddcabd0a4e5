package render

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/native"
)

// WriteSnapshot streams what one json.Encoder writes of the whole
// document: with and without threads, notes and a live member, and with
// text that encoding/json escapes (<module>).
func TestWriteSnapshotIsWhatAnEncoderWrites(t *testing.T) {
	name := "worker"
	frames := []cpython.Frame{{Function: "<module>", File: "a&b.py", Line: 3}, {Function: "f", Line: 0}}
	for _, s := range []*cpython.Snapshot{
		{Python: cpython.PythonInfo{Version: "3.12.1"}},
		{Python: cpython.PythonInfo{Version: "3.12.1"}, Threads: []*cpython.Thread{{ThreadID: 1, Name: &name, Frames: frames}, {ThreadID: 2}},
			Notes: []string{"core file truncated"}, Live: &cpython.LiveInfo{PID: 7, PausedMS: 1.5}},
		{Python: cpython.PythonInfo{Version: "3.13.0"}, Live: &cpython.LiveInfo{PID: 9}},
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		j := SnapshotOf(s)
		if j.Threads == nil {
			j.Threads = []*Thread{} // streamed, an empty array is "[]"
		}
		if err := enc.Encode(j); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := WriteSnapshot(&got, s); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("streamed:\n%s\nencoded:\n%s", got.String(), want.String())
		}
		if !json.Valid(got.Bytes()) {
			t.Errorf("not one JSON document:\n%s", got.String())
		}
	}
}

// WriteNativeSnapshot's members are the snapshot's, its notes included,
// then the threads, then the crash.
func TestWriteNativeSnapshotOrder(t *testing.T) {
	py := &cpython.Snapshot{Python: cpython.PythonInfo{Version: "3.12.1"}, Notes: []string{"n"}}
	frame := native.Frame{PC: 0x10, Function: "abort", Module: "/lib/libc.so.6"}
	ns := &native.Snapshot{Snapshot: py, Threads: []*native.Thread{{LWP: 5, Frames: []native.Frame{frame}}}, CrashFrame: &frame}
	var b bytes.Buffer
	if err := WriteNativeSnapshot(&b, ns); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, b.String())
	}
	order := []string{`"notes"`, `"threads"`, `"crash_frame"`}
	at := -1
	for _, k := range order {
		i := bytes.Index(b.Bytes(), []byte(k))
		if i <= at {
			t.Fatalf("%s out of order in:\n%s", k, b.String())
		}
		at = i
	}
}
