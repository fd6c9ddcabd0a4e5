package render

import (
	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/asyncio"
)

// Asyncio is a asyncio.Snapshot as JSON (pycore tasks --json).
type Asyncio struct {
	Python          Python       `json:"python"`
	Sources         []string     `json:"sources"`
	Loops           []*EventLoop `json:"loops"`
	Tasks           []*Task      `json:"tasks"`
	AwaitedBy       string       `json:"awaited_by_source"`
	Missing         []string     `json:"missing,omitempty"`
	Notes           []string     `json:"notes,omitempty"`
	AsyncioImported bool         `json:"asyncio_imported"`
	Live            *Live        `json:"live,omitempty"` // read from a running process, not a core
}

// EventLoop is a asyncio.EventLoop.
type EventLoop struct {
	Address       core.Address  `json:"address"`
	Type          string        `json:"type"`
	InterpreterID int64         `json:"interpreter_id"`
	ThreadID      *uint64       `json:"thread_id"`
	ThreadName    *string       `json:"thread_name"`
	LWP           *int64        `json:"lwp"`
	RunningTask   *core.Address `json:"running_task"`
}

// Task is a asyncio.Task.
type Task struct {
	Address       core.Address   `json:"address"`
	Type          string         `json:"type"`
	Name          *string        `json:"name"`
	State         string         `json:"state"`
	Running       bool           `json:"running"`
	Loop          core.Address   `json:"loop"`
	InterpreterID int64          `json:"interpreter_id"`
	ThreadID      *uint64        `json:"thread_id"`
	Coroutine     core.Address   `json:"coroutine"`
	Stack         []Frame        `json:"coroutine_stack"`
	WaitingFor    *Awaited       `json:"waiting_for"`
	AwaitedBy     []core.Address `json:"awaited_by"`
	Awaits        []core.Address `json:"awaits"`
	Error         string         `json:"error,omitempty"`
}

// Awaited is a asyncio.AwaitedObject.
type Awaited struct {
	Address core.Address `json:"address"`
	Type    string       `json:"type"`
}

// AsyncioOf is s, read from the live process live says (nil for a core),
// as JSON.
func AsyncioOf(s *asyncio.Snapshot, live *Live) *Asyncio {
	j := &Asyncio{Python: PythonOf(s.Python), Sources: s.Sources, AwaitedBy: s.AwaitedBy, Missing: s.Missing,
		Notes: s.Notes, AsyncioImported: s.AsyncioImported, Live: live}
	if s.Loops != nil {
		j.Loops = make([]*EventLoop, len(s.Loops))
		for i, l := range s.Loops {
			j.Loops[i] = &EventLoop{Address: l.Address, Type: l.Type, InterpreterID: l.InterpreterID,
				ThreadID: l.ThreadID, ThreadName: l.ThreadName, LWP: l.LWP, RunningTask: l.RunningTask}
		}
	}
	if s.Tasks != nil {
		j.Tasks = make([]*Task, len(s.Tasks))
		for i, t := range s.Tasks {
			j.Tasks[i] = &Task{Address: t.Address, Type: t.Type, Name: t.Name, State: t.State, Running: t.Running,
				Loop: t.Loop, InterpreterID: t.InterpreterID, ThreadID: t.ThreadID, Coroutine: t.Coroutine,
				Stack: FramesOf(t.Stack), AwaitedBy: t.AwaitedBy, Awaits: t.Awaits, Error: t.Error}
			if w := t.WaitingFor; w != nil {
				j.Tasks[i].WaitingFor = &Awaited{Address: w.Address, Type: w.Type}
			}
		}
	}
	return j
}
