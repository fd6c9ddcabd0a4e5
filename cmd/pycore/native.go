package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/pycore/pycore/internal/textable"
	"github.com/spf13/cobra"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/native"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
)

// printNativeThreads writes threads --native / --native-all: the summary,
// a table of every kernel thread, then each thread's merged stack,
// innermost call last like a Python traceback.
func printNativeThreads(w io.Writer, s *native.Snapshot) error {
	fmt.Fprintf(w, "Python %s", s.Python.Version)
	if s.Python.FreeThreaded {
		fmt.Fprint(w, " (free-threaded)")
	}
	if s.Python.Debug {
		fmt.Fprint(w, " (Py_DEBUG build)")
	}
	fmt.Fprintln(w)
	writeSignal(w, s.Signal, s.Live != nil)
	if c := s.Crash; c != nil {
		fmt.Fprintf(w, "Crash: %s", c.Signal)
		var what []string
		if c.CodeName != "" {
			what = append(what, c.CodeName)
		}
		if c.Address != nil {
			what = append(what, fmt.Sprintf("address %#x", *c.Address))
		}
		if len(what) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(what, ", "))
		}
		fmt.Fprintf(w, " in %s\n", c.Frame.Where())
	}
	if s.Finalizing {
		fmt.Fprintln(w, "The interpreter was finalizing (shutting down).")
	}
	fmt.Fprintln(w)

	table := textable.New(w)
	table.Header("LWP", "Thread ID", "Interp", "Name", "State", "Python", "Native")
	for _, t := range s.Threads {
		id, interp, name, state := "-", "-", "-", "not a Python thread"
		if p := t.Python; p != nil {
			id, interp, name, state = fmt.Sprintf("%#x", p.ThreadID), fmt.Sprint(p.InterpreterID), optString(p.Name), threadState(p)
		}
		py, nat := 0, 0
		for _, f := range t.Frames {
			if f.Python != nil {
				py++
			} else {
				nat++
			}
		}
		if t.MergeError != "" && t.Python != nil {
			py = len(t.Python.Frames)
		}
		if err := table.Append(lwpText(t.LWP), id, interp, name, state, fmt.Sprint(py), fmt.Sprint(nat)); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	for _, t := range s.Threads {
		fmt.Fprintln(w)
		printNativeThreadHeader(w, t)
		if normalStop(t.Stop) || t.Cut >= 0 {
			// With a cut, the line where it is says why the unwinding stopped.
			fmt.Fprintln(w, "Stack (most recent call last):")
		} else {
			fmt.Fprintf(w, "Stack (most recent call last; native unwinding stopped: %s):\n", t.Stop)
		}
		if t.MergeError != "" {
			fmt.Fprintf(w, "  [%s: native frames only; the Python frames follow]\n", t.MergeError)
		}
		if t.Cut >= 0 && t.Cut <= len(t.Frames) {
			// The Python frames beyond the native unwinding's end, then
			// where it ended, then the merged stack it reached.
			printMixedFrames(w, t.Frames[t.Cut:])
			fmt.Fprintf(w, "  [native unwinding stopped here (%s); the Python frames above ran in native frames not unwound]\n", t.Stop)
			printMixedFrames(w, t.Frames[:t.Cut])
		} else {
			printMixedFrames(w, t.Frames)
		}
		if t.Python == nil {
			continue
		}
		if t.MergeError != "" {
			fmt.Fprintln(w, "Python frames (most recent call last):")
			printFrames(w, t.Python.Frames)
		}
		if t.Python.Error != "" {
			fmt.Fprintf(w, "  [Python stack incomplete: %s]\n", t.Python.Error)
		}
		printExceptions(w, t.Python)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	return nil
}

func lwpText(lwp int) string {
	if lwp == 0 {
		return "-"
	}
	return fmt.Sprint(lwp)
}

func printNativeThreadHeader(w io.Writer, t *native.Thread) {
	var tags []string
	if t.LWP != 0 {
		tags = append(tags, fmt.Sprintf("LWP %d", t.LWP))
	}
	p := t.Python
	if p == nil {
		fmt.Fprintf(w, "Thread (%s, not a Python thread)\n", strings.Join(tags, ", "))
		return
	}
	if p.Name != nil {
		tags = append(tags, fmt.Sprintf("%q", *p.Name))
	}
	if st := threadState(p); st != "" {
		tags = append(tags, st)
	}
	fmt.Fprintf(w, "Thread %#x (%s)\n", p.ThreadID, strings.Join(tags, ", "))
}

// normalStop: the stack was unwound to its outermost frame.
func normalStop(stop string) bool {
	return stop == "" || strings.HasSuffix(stop, "(outermost frame)")
}

// printMixedFrames writes a thread's merged frames (innermost first in
// frames) outermost first, repeated frames collapsed as printFrames does.
func printMixedFrames(w io.Writer, frames []native.Frame) {
	blocks := make([]string, 0, len(frames))
	var b bytes.Buffer
	for i := len(frames) - 1; i >= 0; i-- {
		b.Reset()
		printMixedFrame(&b, &frames[i])
		blocks = append(blocks, b.String())
	}
	for _, s := range render.CollapseRepeats(blocks, "  ") {
		io.WriteString(w, s)
	}
}

func printMixedFrame(w io.Writer, f *native.Frame) {
	if p := f.Python; p != nil {
		io.WriteString(w, render.FrameEntry(p, render.Locals(p)).Block())
		return
	}
	if f.Signal {
		fmt.Fprintf(w, "  (C) %#016x <signal handler called>\n", uint64(f.PC))
		return
	}
	fmt.Fprintf(w, "  (C) %#016x %s", uint64(f.PC), f.Symbol())
	if loc := f.Location(); loc != "" {
		fmt.Fprintf(w, " %s", loc)
	}
	if f.FramePointer {
		fmt.Fprint(w, " [by frame pointer]")
	}
	fmt.Fprintln(w)
}

// registerNativeFlags adds --native and --native-all; mode becomes the
// flag's name.
func registerNativeFlags(cmd *cobra.Command, mode *string) {
	var merged, all bool
	cmd.Flags().BoolVar(&merged, "native", false, "merge each thread's native (C) frames with its Python frames, hiding the interpreter's own")
	cmd.Flags().BoolVar(&all, "native-all", false, "like --native, with every native frame (gdb's bt), the interpreter's included")
	cmd.MarkFlagsMutuallyExclusive("native", "native-all")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		switch {
		case all:
			*mode = "native-all"
		case merged:
			*mode = "native"
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// writeNative unwinds every thread of the session's core and prints the
// merged stacks.
func writeNative(w io.Writer, s *session.Session, snap *cpython.Snapshot, mode string, asJSON bool, filter *threadFilter) error {
	m := native.Merged
	if mode == "native-all" {
		m = native.All
	}
	ns := native.Stacks(s.Core, s.Syms, snap, m)
	resumeLive(s, snap.Live)
	if err := filter.filterNative(ns); err != nil {
		return err
	}
	if asJSON {
		return render.WriteNativeSnapshot(w, ns)
	}
	return printNativeThreads(w, ns)
}
