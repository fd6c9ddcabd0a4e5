package render

import (
	"github.com/pycore/pycore/native"
)

// NativeThread is a native.Thread as JSON: the Python thread's members
// (none for a thread the interpreter does not know), then its merged stack.
type NativeThread struct {
	*Thread
	LWP        int    `json:"lwp"`
	Frames     []any  `json:"frames"` // Frame or NativeFrame
	NativeStop string `json:"native_stop"`
	MergeError string `json:"merge_error,omitempty"`
	// PythonFrames, only when the merge failed: the Python stack as read.
	PythonFrames []Frame `json:"python_frames,omitempty"`
}

// NativeFrame is a native frame of a merged stack.
type NativeFrame struct {
	Kind         string  `json:"kind"` // "native"
	PC           uint64  `json:"pc"`
	Function     *string `json:"function"`
	Offset       *uint64 `json:"offset"`
	Module       *string `json:"module"`
	ModuleOffset *uint64 `json:"module_offset"`
	File         *string `json:"file,omitempty"`
	Line         *int    `json:"line,omitempty"`
	Signal       bool    `json:"signal,omitempty"`
	FramePointer bool    `json:"frame_pointer,omitempty"`
	Inlined      bool    `json:"inlined,omitempty"`
}

// Crash is a native.Crash.
type Crash struct {
	Signal   string  `json:"signal"`
	Number   int     `json:"number"`
	Code     *int    `json:"code"`
	CodeName string  `json:"code_name,omitempty"`
	Address  *uint64 `json:"address"`
	Source   string  `json:"source"`
	PC       uint64  `json:"pc"`
	Frame    any     `json:"frame"` // Frame, NativeFrame or null
}

// nativeTail is what a native snapshot's JSON has after its threads.
type nativeTail struct {
	CrashFrame any    `json:"crash_frame,omitempty"`
	Crash      *Crash `json:"crash,omitempty"`
}

func crashTail(s *native.Snapshot) nativeTail {
	var t nativeTail
	if s.CrashFrame != nil {
		t.CrashFrame = StackFrameOf(s.CrashFrame)
	}
	if c := s.Crash; c != nil {
		t.Crash = &Crash{Signal: c.Signal, Number: c.Number, Code: c.Code, CodeName: c.CodeName, Address: c.Address, Source: c.Source, PC: c.PC}
		if c.Frame != nil {
			t.Crash.Frame = StackFrameOf(c.Frame)
		}
	}
	return t
}

// NativeThreadOf is t as JSON.
func NativeThreadOf(t *native.Thread) *NativeThread {
	j := &NativeThread{Thread: ThreadOf(t.Python), LWP: t.LWP, Frames: make([]any, len(t.Frames)),
		NativeStop: t.Stop, MergeError: t.MergeError}
	for i := range t.Frames {
		j.Frames[i] = StackFrameOf(&t.Frames[i])
	}
	if t.MergeError != "" && t.Python != nil {
		j.PythonFrames = FramesOf(t.Python.Frames)
	}
	return j
}

// StackFrameOf is a frame of a merged stack as JSON: a Frame for a Python
// frame, a NativeFrame with its pc, symbol and module for a native one.
func StackFrameOf(f *native.Frame) any {
	if f.Python != nil {
		return FrameOf(f.Python)
	}
	return NativeFrameOf(f)
}

// NativeFrameOf is a native frame as JSON (f.Python is not looked at).
func NativeFrameOf(f *native.Frame) NativeFrame {
	j := NativeFrame{Kind: "native", PC: uint64(f.PC), Signal: f.Signal, FramePointer: f.FramePointer, Inlined: f.Inlined}
	if f.Function != "" {
		fn, off := f.Function, f.Offset
		j.Function = &fn
		if !f.Inlined { // an inlined function has no symbol of its own
			j.Offset = &off
		}
	}
	if f.Module != "" {
		m, off := f.Module, f.ModuleOffset
		j.Module, j.ModuleOffset = &m, &off
	}
	if f.File != "" {
		file, line := f.File, f.Line
		j.File, j.Line = &file, &line
	}
	return j
}
