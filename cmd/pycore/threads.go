package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/session"
)

func init() { register(newThreadsCommand) }

func newThreadsCommand() *cobra.Command {
	var ff fileFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "threads CORE [EXECUTABLE]",
		Short: "Print every thread's Python stack",
		Long: `Print every Python thread's stack from a core dump (or a bundle made by
'pycore pack'), innermost call last like a Python traceback, headed by a table
of threads: which one crashed, which holds the GIL, how deep each stack is.

CORE may be compressed (.gz, .zst, .xz, .lz4). EXECUTABLE is the program the
core is of, when the path recorded in the core is not right on this machine.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			exe := ""
			if len(args) > 1 {
				exe = args[1]
			}
			opts, err := ff.options(exe)
			if err != nil {
				return err
			}
			s, err := session.Open(args[0], opts)
			if err != nil {
				return err
			}
			defer s.Close()
			snap, err := s.Python.Snapshot()
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			snap.Notes = append(snap.Notes, s.Core.Warnings...)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(snap)
			}
			return printThreads(cmd.OutOrStdout(), snap)
		},
	}
	ff.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

// printThreads writes the human form: a summary, a table of threads, then a
// traceback per thread.
func printThreads(w io.Writer, s *cpython.Snapshot) error {
	ft := ""
	if s.Python.FreeThreaded {
		ft = " (free-threaded)"
	}
	fmt.Fprintf(w, "Python %s%s\n", s.Python.Version, ft)
	if s.Signal != nil {
		fmt.Fprintf(w, "Signal: %s (%d), code %d", s.Signal.Name, s.Signal.Number, s.Signal.Code)
		if s.Signal.Address != 0 {
			fmt.Fprintf(w, ", address %#x", s.Signal.Address)
		}
		if s.Signal.Thread != 0 {
			fmt.Fprintf(w, ", in thread %d", s.Signal.Thread)
		}
		fmt.Fprintln(w)
	}
	if s.Finalizing {
		fmt.Fprintln(w, "The interpreter was finalizing (shutting down).")
	}
	fmt.Fprintln(w)

	interps := map[int64]bool{}
	for _, t := range s.Threads {
		interps[t.InterpreterID] = true
	}
	// Threads grouped by interpreter, in the order CPython lists them.
	threads := append([]*cpython.Thread(nil), s.Threads...)
	sort.SliceStable(threads, func(i, j int) bool { return threads[i].InterpreterID < threads[j].InterpreterID })

	table := tablewriter.NewWriter(w)
	table.Header("Thread ID", "LWP", "Interp", "Name", "State", "Depth")
	for _, t := range threads {
		if err := table.Append(fmt.Sprintf("%#x", t.ThreadID), optInt(t.LWP), fmt.Sprint(t.InterpreterID),
			optString(t.Name), threadState(t), fmt.Sprint(len(t.Frames))); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	lastInterp := int64(-1)
	for _, t := range threads {
		if len(interps) > 1 && t.InterpreterID != lastInterp {
			fmt.Fprintf(w, "\n=== Interpreter %d ===\n", t.InterpreterID)
			lastInterp = t.InterpreterID
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Thread %#x", t.ThreadID)
		var tags []string
		if t.LWP != nil {
			tags = append(tags, fmt.Sprintf("LWP %d", *t.LWP))
		}
		if t.Name != nil {
			tags = append(tags, fmt.Sprintf("%q", *t.Name))
		}
		if st := threadState(t); st != "" {
			tags = append(tags, st)
		}
		if len(tags) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(tags, ", "))
		}
		fmt.Fprintln(w)
		if len(t.Frames) > 0 {
			fmt.Fprintln(w, "Traceback (most recent call last):")
		} else if t.Error == "" {
			fmt.Fprintln(w, "  (no Python frames)")
		}
		for i := len(t.Frames) - 1; i >= 0; i-- {
			f := t.Frames[i]
			name := f.Function
			if f.Qualname != nil && *f.Qualname != "" {
				name = *f.Qualname
			}
			fmt.Fprintf(w, "  File \"%s\", line %d, in %s", f.File, f.Line, name)
			if f.Kind != "" {
				fmt.Fprintf(w, " (%s)", f.Kind)
			}
			fmt.Fprintln(w)
		}
		if t.Error != "" {
			fmt.Fprintf(w, "  [stack incomplete: %s]\n", t.Error)
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	return nil
}

func threadState(t *cpython.Thread) string {
	var parts []string
	if t.Main {
		parts = append(parts, "main")
	}
	if t.Crashed {
		parts = append(parts, "crashed")
	}
	if t.HoldsGIL {
		parts = append(parts, "holds GIL")
	}
	if len(parts) == 0 {
		return "idle"
	}
	return strings.Join(parts, ", ")
}

func optInt(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func optString(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}
