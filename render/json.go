package render

import (
	"time"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
)

// The JSON of pycore threads --json (and of the commands that print its
// parts): these types are its schema. Members keep the order and the
// null/omitted rules they have always had; slices stay null where the
// model's are nil.

// Snapshot is a cpython.Snapshot as JSON. Its members before and after
// "threads" are structs of their own so that WriteSnapshot can stream the
// threads between them.
type Snapshot struct {
	SnapshotHead
	Threads []*Thread `json:"threads"`
	SnapshotTail
}

// SnapshotHead is what a snapshot's JSON has before its threads.
type SnapshotHead struct {
	Python     Python   `json:"python"`
	Process    *Process `json:"process"`
	GC         *GC      `json:"gc"`
	GIL        *GIL     `json:"gil"`
	Signal     *Signal  `json:"signal"`
	Finalizing bool     `json:"finalizing"`
}

// SnapshotTail is what a snapshot's JSON has after its threads.
type SnapshotTail struct {
	Notes []string `json:"notes,omitempty"`
	Live  *Live    `json:"live,omitempty"` // read from a running process, not a core
}

// Live is a cpython.LiveInfo: the "live" member of every command's JSON
// when it read a running process.
type Live struct {
	PID         int     `json:"pid"`
	NonBlocking bool    `json:"nonblocking"`
	PausedMS    float64 `json:"paused_ms"`
}

// Python is a cpython.PythonInfo.
type Python struct {
	Version      string `json:"version"`
	FreeThreaded bool   `json:"free_threaded"`
	Debug        bool   `json:"debug"`
	Evidence     string `json:"evidence"`
}

// Signal is a cpython.SignalInfo.
type Signal struct {
	Number     int    `json:"number"`
	Name       string `json:"name"`
	Code       int    `json:"code"`
	CodeName   string `json:"code_name"`
	Cause      string `json:"cause"`
	Address    uint64 `json:"address"`
	HasAddress bool   `json:"has_address"`
	SenderPID  *int   `json:"sender_pid"`
	SenderUID  *int   `json:"sender_uid"`
	Thread     int    `json:"thread"`
	Fatal      bool   `json:"fatal"`
}

// Process is a cpython.ProcessInfo.
type Process struct {
	PID        *int       `json:"pid"`
	PPID       *int       `json:"ppid"`
	UID        *int       `json:"uid"`
	GID        *int       `json:"gid"`
	Command    *string    `json:"command"`
	PsArgs     *string    `json:"psargs"`
	Executable *string    `json:"executable"`
	Argv       []string   `json:"argv"`
	OrigArgv   []string   `json:"orig_argv"`
	Time       *time.Time `json:"time,omitempty"`
	TimeSource string     `json:"time_source,omitempty"`
	Errors     []string   `json:"errors,omitempty"`
}

// GC is a cpython.GCInfo.
type GC struct {
	Enabled    *bool    `json:"enabled"`
	Collecting *bool    `json:"collecting"`
	Counts     []int64  `json:"counts"`
	Thresholds []int64  `json:"thresholds"`
	Thread     *uint64  `json:"thread"`
	ThreadLWP  *int64   `json:"thread_lwp"`
	ThreadNote string   `json:"thread_note,omitempty"`
	Errors     []string `json:"errors,omitempty"`
}

// GIL is a cpython.GILInfo.
type GIL struct {
	Locked       *bool   `json:"locked"`
	SwitchNumber *uint64 `json:"switch_number"`
	IntervalUS   *uint64 `json:"interval_us"`
	Waiters      []int64 `json:"waiters"`
	WaitersNote  string  `json:"waiters_note,omitempty"`
}

// Thread is a cpython.Thread.
type Thread struct {
	ThreadID          uint64       `json:"thread_id"`
	NativeThreadID    *int64       `json:"native_thread_id"`
	LWP               *int64       `json:"lwp"`
	InterpreterID     int64        `json:"interpreter_id"`
	Name              *string      `json:"name"`
	Crashed           bool         `json:"crashed"`
	HoldsGIL          bool         `json:"holds_gil"`
	Main              bool         `json:"main"`
	Frames            []Frame      `json:"frames"`
	Error             string       `json:"error,omitempty"`
	TState            core.Address `json:"tstate"`
	State             string       `json:"state,omitempty"`
	Daemon            *bool        `json:"daemon"`
	GILRequested      *bool        `json:"gil_requested"`
	GILDropRequested  *bool        `json:"gil_drop_requested,omitempty"`
	Exception         *Exception   `json:"exception"`
	HandledExceptions []*Exception `json:"handled_exceptions"`
	DetailErrors      []string     `json:"detail_errors,omitempty"`
	WaitsForGIL       *bool        `json:"waits_for_gil"`
	CollectingGarbage bool         `json:"collecting_garbage,omitempty"`
}

// Frame is a cpython.Frame. Kind is "python", which tells it from the
// native frames of pycore threads --native.
type Frame struct {
	Kind        string       `json:"kind"`
	Function    string       `json:"function"`
	Qualname    *string      `json:"qualname"`
	File        string       `json:"file"`
	Line        int          `json:"line"`
	Generator   bool         `json:"generator,omitempty"`
	GenKind     string       `json:"generator_kind,omitempty"`
	Entry       bool         `json:"entry,omitempty"`
	Code        core.Address `json:"code"`
	Address     core.Address `json:"address"`
	Locals      []Local      `json:"locals,omitempty"`
	LocalsError string       `json:"locals_error,omitempty"`
}

// Local is a cpython.Local.
type Local struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	Argument string  `json:"argument,omitempty"`
	Unbound  bool    `json:"unbound,omitempty"`
	Value    *Object `json:"value,omitempty"`
}

// Object is a cpython.Object. Value holds what the model's does (see
// cpython.Object), with []Object for its []cpython.Object, []DictItem for
// its []cpython.DictItem and Code for its cpython.CodeValue.
type Object struct {
	Address   core.Address `json:"address"`
	Type      string       `json:"type"`
	Repr      string       `json:"repr"`
	Value     any          `json:"value,omitempty"`
	Truncated bool         `json:"truncated,omitempty"`
	Error     string       `json:"error,omitempty"`
}

// DictItem is a cpython.DictItem.
type DictItem struct {
	Key   Object `json:"key"`
	Value Object `json:"value"`
}

// Code is a cpython.CodeValue.
type Code struct {
	Name      string `json:"name"`
	File      string `json:"file"`
	FirstLine int    `json:"first_line"`
}

// Exception is a cpython.Exception.
type Exception struct {
	Address         core.Address     `json:"address"`
	Type            string           `json:"type"`
	Message         string           `json:"message"`
	Repr            string           `json:"repr"`
	Traceback       []TracebackEntry `json:"traceback"`
	TracebackCut    int              `json:"traceback_cut,omitempty"`
	Notes           []string         `json:"notes,omitempty"`
	Cause           *Exception       `json:"cause,omitempty"`
	Context         *Exception       `json:"context,omitempty"`
	Exceptions      []*Exception     `json:"exceptions,omitempty"`
	ExceptionsTotal int              `json:"exceptions_total,omitempty"`
	Syntax          *Syntax          `json:"syntax,omitempty"`
	SuppressContext bool             `json:"suppress_context"`
	Seen            bool             `json:"seen,omitempty"`
	Unnormalized    bool             `json:"unnormalized,omitempty"`
	Error           string           `json:"error,omitempty"`
}

// Syntax is a cpython.SyntaxDetail.
type Syntax struct {
	Msg      *string `json:"msg"`
	Filename *string `json:"filename"`
	Lineno   *string `json:"lineno"`
	Located  bool    `json:"located"`
}

// TracebackEntry is a cpython.TracebackEntry.
type TracebackEntry struct {
	File     string       `json:"file"`
	Function string       `json:"function"`
	Line     int          `json:"line"`
	Frame    core.Address `json:"frame"`
	Error    string       `json:"error,omitempty"`
}

// SnapshotOf is s as JSON.
func SnapshotOf(s *cpython.Snapshot) *Snapshot {
	j := &Snapshot{SnapshotHead: headOf(s), SnapshotTail: tailOf(s)}
	if s.Threads != nil {
		j.Threads = make([]*Thread, len(s.Threads))
		for i, t := range s.Threads {
			j.Threads[i] = ThreadOf(t)
		}
	}
	return j
}

func headOf(s *cpython.Snapshot) SnapshotHead {
	return SnapshotHead{Python: PythonOf(s.Python), Process: ProcessOf(s.Process), GC: GCOf(s.GC),
		GIL: GILOf(s.GIL), Signal: SignalOf(s.Signal), Finalizing: s.Finalizing}
}

func tailOf(s *cpython.Snapshot) SnapshotTail {
	return SnapshotTail{Notes: s.Notes, Live: liveOf(s.Live)}
}

func liveOf(l *cpython.LiveInfo) *Live {
	if l == nil {
		return nil
	}
	return &Live{PID: l.PID, NonBlocking: l.NonBlocking, PausedMS: l.PausedMS}
}

// PythonOf is p as JSON.
func PythonOf(p cpython.PythonInfo) Python {
	return Python{Version: p.Version, FreeThreaded: p.FreeThreaded, Debug: p.Debug, Evidence: p.Evidence}
}

// SignalOf is s as JSON, nil for nil.
func SignalOf(s *cpython.SignalInfo) *Signal {
	if s == nil {
		return nil
	}
	return &Signal{Number: s.Number, Name: s.Name, Code: s.Code, CodeName: s.CodeName, Cause: s.Cause,
		Address: s.Address, HasAddress: s.HasAddress, SenderPID: s.SenderPID, SenderUID: s.SenderUID,
		Thread: s.Thread, Fatal: s.Fatal}
}

// ProcessOf is p as JSON, nil for nil.
func ProcessOf(p *cpython.ProcessInfo) *Process {
	if p == nil {
		return nil
	}
	return &Process{PID: p.PID, PPID: p.PPID, UID: p.UID, GID: p.GID, Command: p.Command, PsArgs: p.PsArgs,
		Executable: p.Executable, Argv: p.Argv, OrigArgv: p.OrigArgv, Time: p.Time, TimeSource: p.TimeSource,
		Errors: p.Errors}
}

// GCOf is g as JSON, nil for nil.
func GCOf(g *cpython.GCInfo) *GC {
	if g == nil {
		return nil
	}
	return &GC{Enabled: g.Enabled, Collecting: g.Collecting, Counts: g.Counts, Thresholds: g.Thresholds,
		Thread: g.Thread, ThreadLWP: g.ThreadLWP, ThreadNote: g.ThreadNote, Errors: g.Errors}
}

// GILOf is g as JSON, nil for nil.
func GILOf(g *cpython.GILInfo) *GIL {
	if g == nil {
		return nil
	}
	return &GIL{Locked: g.Locked, SwitchNumber: g.SwitchNumber,
		IntervalUS: g.IntervalUS, Waiters: g.Waiters, WaitersNote: g.WaitersNote}
}

// ThreadOf is t as JSON, nil for nil.
func ThreadOf(t *cpython.Thread) *Thread {
	if t == nil {
		return nil
	}
	return &Thread{
		ThreadID: t.ThreadID, NativeThreadID: t.NativeThreadID, LWP: t.LWP, InterpreterID: t.InterpreterID,
		Name: t.Name, Crashed: t.Crashed, HoldsGIL: t.HoldsGIL, Main: t.Main, Frames: FramesOf(t.Frames),
		Error: t.Error, TState: t.TState, State: t.State, Daemon: t.Daemon, GILRequested: t.GILRequested,
		GILDropRequested: t.GILDropRequested, Exception: ExceptionOf(t.Exception),
		HandledExceptions: exceptionsOf(t.HandledExceptions), DetailErrors: t.DetailErrors,
		WaitsForGIL: t.WaitsForGIL, CollectingGarbage: t.CollectingGarbage,
	}
}

// FramesOf is fs as JSON (nil for nil).
func FramesOf(fs []cpython.Frame) []Frame {
	if fs == nil {
		return nil
	}
	out := make([]Frame, len(fs))
	for i := range fs {
		out[i] = FrameOf(&fs[i])
	}
	return out
}

// FrameOf is f as JSON.
func FrameOf(f *cpython.Frame) Frame {
	j := Frame{Kind: "python", Function: f.Function, Qualname: f.Qualname, File: f.File, Line: f.Line,
		Generator: f.Generator, GenKind: f.Kind, Entry: f.Entry, Code: f.Code, Address: f.Address,
		LocalsError: f.LocalsError}
	if f.Locals != nil {
		j.Locals = make([]Local, len(f.Locals))
		for i, l := range f.Locals {
			j.Locals[i] = Local{Name: l.Name, Kind: l.Kind, Argument: l.Argument, Unbound: l.Unbound, Value: objectPtr(l.Value)}
		}
	}
	return j
}

func objectPtr(o *cpython.Object) *Object {
	if o == nil {
		return nil
	}
	j := ObjectOf(*o)
	return &j
}

// ObjectOf is o as JSON.
func ObjectOf(o cpython.Object) Object {
	return Object{Address: o.Address, Type: o.Type, Repr: o.Repr, Value: valueOf(o.Value), Truncated: o.Truncated, Error: o.Error}
}

// valueOf converts the model's composite values; the others are JSON as
// they are.
func valueOf(v any) any {
	switch v := v.(type) {
	case []cpython.Object:
		out := make([]Object, len(v))
		for i, o := range v {
			out[i] = ObjectOf(o)
		}
		return out
	case []cpython.DictItem:
		out := make([]DictItem, len(v))
		for i, it := range v {
			out[i] = DictItem{Key: ObjectOf(it.Key), Value: ObjectOf(it.Value)}
		}
		return out
	case cpython.CodeValue:
		return Code{Name: v.Name, File: v.File, FirstLine: v.FirstLine}
	}
	return v
}

// ExceptionOf is e as JSON, nil for nil.
func ExceptionOf(e *cpython.Exception) *Exception {
	if e == nil {
		return nil
	}
	j := &Exception{
		Address: e.Address, Type: e.Type, Message: e.Message, Repr: e.Repr, TracebackCut: e.TracebackCut,
		Notes: e.Notes, Cause: ExceptionOf(e.Cause), Context: ExceptionOf(e.Context),
		Exceptions: exceptionsOf(e.Exceptions), ExceptionsTotal: e.ExceptionsTotal,
		SuppressContext: e.SuppressContext, Seen: e.Seen, Unnormalized: e.Unnormalized, Error: e.Error,
	}
	if e.Traceback != nil {
		j.Traceback = make([]TracebackEntry, len(e.Traceback))
		for i, t := range e.Traceback {
			j.Traceback[i] = TracebackEntry{File: t.File, Function: t.Function, Line: t.Line, Frame: t.Frame, Error: t.Error}
		}
	}
	if s := e.Syntax; s != nil {
		j.Syntax = &Syntax{Msg: s.Msg, Filename: s.Filename, Lineno: s.Lineno, Located: s.Located}
	}
	return j
}

func exceptionsOf(es []*cpython.Exception) []*Exception {
	if es == nil {
		return nil
	}
	out := make([]*Exception, len(es))
	for i, e := range es {
		out[i] = ExceptionOf(e)
	}
	return out
}
