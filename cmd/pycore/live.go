package main

import (
	"io"
	"sync"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/render"
)

// heldOutput keeps a command's output (stdout and stderr, in the order
// written) in memory while the live process it reads is stopped: a reader
// slow to take the output (a pager, a full pipe, a terminal on hold) must
// never keep the process stopped. The first write after the process has
// been resumed, or release, writes what was kept; later writes go straight
// through.
type heldOutput struct {
	mu       sync.Mutex
	c        *core.Process
	out, err io.Writer
	chunks   []heldChunk
	failed   error // the first write error once flushing, returned to later writes
	done     bool
}

type heldChunk struct {
	toErr bool
	data  []byte
}

// holdOutput points cmd's output at memory for as long as c stays stopped.
// For a core, a process read without stopping it or one already resumed
// it does nothing and returns nil.
func holdOutput(cmd *cobra.Command, c *core.Process) *heldOutput {
	if cmd == nil || c == nil || !c.Stopped() {
		return nil
	}
	h := &heldOutput{c: c, out: cmd.OutOrStdout(), err: cmd.ErrOrStderr()}
	cmd.SetOut(heldWriter{h, false})
	cmd.SetErr(heldWriter{h, true})
	return h
}

type heldWriter struct {
	h     *heldOutput
	toErr bool
}

func (w heldWriter) Write(b []byte) (int, error) {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done && h.c.Stopped() {
		if n := len(h.chunks); n > 0 && h.chunks[n-1].toErr == w.toErr {
			h.chunks[n-1].data = append(h.chunks[n-1].data, b...)
		} else {
			h.chunks = append(h.chunks, heldChunk{w.toErr, append([]byte(nil), b...)})
		}
		return len(b), nil
	}
	if err := h.flushLocked(); err != nil {
		return 0, err
	}
	if w.toErr {
		return h.err.Write(b)
	}
	return h.out.Write(b)
}

// flushLocked writes what was kept; the process must be running by now.
func (h *heldOutput) flushLocked() error {
	h.done = true
	for len(h.chunks) > 0 && h.failed == nil {
		c := h.chunks[0]
		h.chunks = h.chunks[1:]
		dst := h.out
		if c.toErr {
			dst = h.err
		}
		_, h.failed = dst.Write(c.data)
	}
	return h.failed
}

// release resumes the process, if it is still stopped, and writes what was
// kept. Safe on nil and more than once.
func (h *heldOutput) release() {
	if h == nil {
		return
	}
	h.c.Resume()
	h.mu.Lock()
	defer h.mu.Unlock()
	_ = h.flushLocked()
}

// liveInfo is the "live" member of a command's JSON: which process was read,
// how, and how long it was stopped (all of it once resumed). nil for a core.
func liveInfo(c *core.Process) *render.Live {
	if c == nil || c.Live == nil {
		return nil
	}
	return &render.Live{PID: c.Live.PID, NonBlocking: c.Live.NonBlocking, PausedMS: float64(c.PausedSoFar().Microseconds()) / 1000}
}

// resumeForOutput lets a live process run on once every read of a command
// is done, before its output, and says how it was read for the JSON.
func resumeForOutput(c *core.Process) *render.Live {
	if c == nil {
		return nil
	}
	c.Resume()
	return liveInfo(c)
}
