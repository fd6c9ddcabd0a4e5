package session

import (
	"fmt"
	"sync"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/native"
	"github.com/pycore/pycore/query"
	"github.com/pycore/pycore/render"
)

// nativeStacks are every thread's native stacks, unwound once per query
// session on first use.
type nativeStacks struct {
	once sync.Once
	snap *native.Snapshot
	err  error
}

// NativeFrameData is one native frame as native_frames() gives it to JSON:
// its index in the list and the frame as threads --native --json writes it.
type NativeFrameData struct {
	Index int `json:"index"`
	render.NativeFrame
}

// maxNativeFrames bounds what native_frames lists (unwind.MaxDepth
// bounds physical frames; inlined ones come on top).
const maxNativeFrames = 4096

func nativeBuiltin(q *Query) *query.Builtin {
	return &query.Builtin{
		Name: "native_frames", Usage: "native_frames([lwp])",
		Doc: "The native (C) frames of thread lwp (default: the thread tstate is of), innermost first, as gdb's bt lists them " +
			"(inlined calls as frames of their own): each with its pc, function, module and file:line; with --json as data.",
		Args: []query.ArgKind{query.ArgValue}, Optional: 1, Fn: q.nativeFrames,
	}
}

func (q *Query) nativeFrames(c *query.CallContext, args []query.Arg) (query.Result, error) {
	if q.S.Python == nil {
		why := "no CPython runtime was found"
		if q.PythonErr != nil {
			why = q.PythonErr.Error()
		}
		return query.Result{}, c.Errorf(-1, q.PythonErr, "native_frames needs CPython: %s", why)
	}
	var lwp int64
	if len(args) > 0 {
		var err error
		if lwp, err = c.Int(0, args[0].Value); err != nil {
			return query.Result{}, err
		}
	} else {
		th, err := q.thread()
		if err != nil {
			return query.Result{}, c.Errorf(-1, err, "native_frames: %v", err)
		}
		if th.LWP == nil {
			return query.Result{}, c.Errorf(-1, nil, "native_frames: thread %#x has no known LWP: name one, native_frames(LWP)", th.ThreadID)
		}
		lwp = *th.LWP
	}
	q.native.once.Do(func() {
		var snap *cpython.Snapshot
		q.snapOnce.Do(func() { q.snap, q.snapErr = q.S.Python.Snapshot() })
		if snap, q.native.err = q.snap, q.snapErr; q.native.err == nil {
			q.native.snap = native.Stacks(q.S.Core, q.S.Syms, snap, native.All)
		}
	})
	if q.native.err != nil {
		return query.Result{}, c.Errorf(-1, q.native.err, "native_frames: %v", q.native.err)
	}
	var th *native.Thread
	var lwps []int
	for _, t := range q.native.snap.Threads {
		if t.LWP != 0 {
			lwps = append(lwps, t.LWP)
		}
		if int64(t.LWP) == lwp && t.LWP != 0 {
			th = t
		}
	}
	if th == nil {
		return query.Result{}, c.Errorf(0, nil, "no thread of the core has LWP %d (it has %v)", lwp, lwps)
	}
	out := query.Result{Kind: query.ListResult}
	n := 0
	for i := range th.Frames {
		f := &th.Frames[i]
		if f.Python != nil {
			continue
		}
		if n >= maxNativeFrames {
			out.Note = fmt.Sprintf("stopped at the limit of %d frames", maxNativeFrames)
			break
		}
		d := NativeFrameData{Index: n, NativeFrame: render.NativeFrameOf(f)}
		text := fmt.Sprintf("#%-2d %#016x %s", n, uint64(f.PC), f.Symbol())
		if f.Signal {
			text = fmt.Sprintf("#%-2d %#016x <signal handler called>", n, uint64(f.PC))
		} else if loc := f.Location(); loc != "" {
			text += " " + loc
		}
		out.Items = append(out.Items, query.Result{Kind: query.TextResult, Text: text, Data: d})
		n++
	}
	if th.Stop != "" && out.Note == "" {
		out.Note = "unwinding stopped: " + th.Stop
	}
	return out, nil
}
