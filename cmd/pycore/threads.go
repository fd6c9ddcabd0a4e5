package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/pycore/pycore/internal/textable"
	"github.com/spf13/cobra"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/native"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
)

func init() { register(newThreadsCommand) }

func newThreadsCommand() *cobra.Command { return threadsCommand(nil) }

// threadsCommand is the threads command, run in the shell over its session
// when shell is not nil.
func threadsCommand(shell *session.Session) *cobra.Command {
	ff := fileFlags{shell: shell}
	var asJSON, locals, unbound bool
	var nativeMode string // "", "native" or "native-all"
	var filter threadFilter
	repr := threadsReprDefaults
	cmd := &cobra.Command{
		Use:   "threads CORE [EXECUTABLE]",
		Short: "Print every thread's Python stack",
		Long: `Print every Python thread's stack from a core dump (or a bundle made by
'pycore pack'), innermost call last like a Python traceback, headed by a table
of threads: which one crashed, which holds the GIL, how deep each stack is.
Each thread's exceptions follow its stack: the one being raised, and those
being handled (sys.exc_info()), with their tracebacks and chained causes and
contexts, printed as Python prints them (without source lines).

--locals lists every frame's arguments (under "Arguments:", in signature
order) and its other local variables (under "Locals:") below the frame, as
name = repr(value); cells show their contents. Variables not yet assigned (or
deleted) are left out, or shown as <unbound> with --unbound. --max-depth, --max-length and
--max-string (and --max-repr, the whole repr, "..." included) bound each
value, in the text and in --json alike. --attrs adds the attributes (slots,
then __dict__) of instances of Python classes after their repr.

CORE may be compressed (.gz, .zst, .xz, .lz4). EXECUTABLE is the program the
core is of, when the path recorded in the core is not right on this machine.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := ff.open(args)
			if err != nil {
				return err
			}
			defer ff.close(s)
			snap, err := s.Python.SnapshotWith(cpython.SnapshotOptions{Locals: locals, Repr: repr})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			snap.Notes = append(snap.Notes, s.Core.WarningTexts()...)
			if !asJSON && !unbound {
				for _, t := range snap.Threads {
					hideUnbound(t.Frames)
				}
			}
			if g := snap.GC; g != nil && g.Collecting != nil && *g.Collecting {
				native.FindCollector(native.Stacks(s.Core, s.Syms, snap, native.All))
			}
			bw := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			if nativeMode == "" {
				resumeLive(s, snap.Live)
			} else {
				if err := writeNative(bw, s, snap, nativeMode, asJSON, &filter); err != nil {
					return err
				}
				return bw.Flush()
			}
			if err := filter.filterThreads(snap); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if asJSON {
				if err := render.WriteSnapshot(bw, snap); err != nil {
					return err
				}
				return bw.Flush()
			}
			if err := printThreads(bw, snap); err != nil {
				return err
			}
			return bw.Flush()
		},
	}
	ff.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	cmd.Flags().BoolVar(&locals, "locals", false, "show each frame's arguments and local variables")
	cmd.Flags().BoolVar(&unbound, "unbound", false, "with --locals, also list the variables not yet assigned (or deleted), as <unbound> (--json always has them)")
	registerNativeFlags(cmd, &nativeMode)
	filter.register(cmd)
	cmd.Flags().IntVar(&repr.MaxDepth, "max-depth", repr.MaxDepth, "levels of nested containers shown in a value (`N`)")
	cmd.Flags().IntVar(&repr.MaxLength, "max-length", repr.MaxLength, "items shown per container (`N`)")
	cmd.Flags().IntVar(&repr.MaxString, "max-string", repr.MaxString, "characters of a str, bytes or int shown (`N`)")
	cmd.Flags().IntVar(&repr.MaxTotal, "max-repr", repr.MaxTotal, "characters of one value's whole repr (`N`)")
	cmd.Flags().BoolVar(&repr.Attrs, "attrs", false, "show the attributes of instances of Python classes after their repr: <mod.Foo object at 0x...>(a=1, b='x')")
	return cmd
}

// resumeLive lets a live process stopped for the read run on before any
// output is written (a reader slow to take the output must not keep it
// stopped) and puts the whole pause in the answer.
func resumeLive(s *session.Session, live *cpython.LiveInfo) {
	s.Core.Resume()
	if live != nil && s.Core.Live != nil {
		live.PausedMS = float64(s.Core.Live.Paused.Microseconds()) / 1000
	}
}

// threadsReprDefaults keep --locals of a 200-thread dump readable: a value
// takes at most about a line.
var threadsReprDefaults = cpython.ReprOptions{MaxDepth: 3, MaxLength: 10, MaxString: 80, MaxTotal: 400}

// printThreads writes the human form: a summary, a table of threads, then a
// traceback per thread.
func printThreads(w io.Writer, s *cpython.Snapshot) error {
	ft := ""
	if s.Python.FreeThreaded {
		ft = " (free-threaded)"
	}
	if s.Python.Debug {
		ft += " (Py_DEBUG build)"
	}
	fmt.Fprintf(w, "Python %s%s\n", s.Python.Version, ft)
	printProcess(w, s.Process)
	printGC(w, s.GC, s.Threads)
	printGIL(w, s.GIL, s.Threads)
	writeSignal(w, s.Signal, s.Live != nil)
	if s.Finalizing {
		fmt.Fprintln(w, "The interpreter was finalizing (shutting down).")
	}
	fmt.Fprintln(w)

	interps := map[int64]bool{}
	for _, t := range s.Threads {
		interps[t.InterpreterID] = true
	}
	threads := crashedFirst(s.Threads)

	table := textable.New(w)
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
		printFrames(w, t.Frames)
		if t.Error != "" {
			fmt.Fprintf(w, "  [stack incomplete: %s]\n", t.Error)
		}
		printExceptions(w, t)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	return nil
}

// printProcess writes the process header: pid and ids, the executable and
// the command line (sys.orig_argv where the version has it, else the
// kernel's psargs), sys.argv, and when the core was written if known.
func printProcess(w io.Writer, pi *cpython.ProcessInfo) {
	if pi == nil {
		return
	}
	var ids []string
	if pi.PID != nil {
		ids = append(ids, fmt.Sprintf("pid %d", *pi.PID))
	}
	if pi.PPID != nil {
		ids = append(ids, fmt.Sprintf("ppid %d", *pi.PPID))
	}
	if pi.UID != nil && pi.GID != nil {
		ids = append(ids, fmt.Sprintf("uid %d, gid %d", *pi.UID, *pi.GID))
	}
	if len(ids) > 0 {
		fmt.Fprintf(w, "Process: %s\n", strings.Join(ids, ", "))
	}
	switch {
	case pi.Executable != nil:
		fmt.Fprintf(w, "Executable: %s\n", *pi.Executable)
	case pi.Command != nil:
		fmt.Fprintf(w, "Executable: %s (the kernel's command name)\n", *pi.Command)
	}
	switch {
	case pi.OrigArgv != nil:
		fmt.Fprintf(w, "Command line: %s\n", shellJoin(pi.OrigArgv))
	case pi.PsArgs != nil:
		fmt.Fprintf(w, "Command line: %s (from the core's psinfo: at most 80 bytes)\n", *pi.PsArgs)
	}
	// sys.argv is the tail of sys.orig_argv unless the program changed it.
	if pi.Argv != nil && (pi.OrigArgv == nil || !isSuffix(pi.OrigArgv, pi.Argv)) {
		fmt.Fprintf(w, "sys.argv: %s\n", shellJoin(pi.Argv))
	}
	if pi.Time != nil {
		fmt.Fprintf(w, "Dumped: %s (from the %s)\n", pi.Time.Format("2006-01-02 15:04:05.000000 MST"), pi.TimeSource)
	}
	for _, e := range pi.Errors {
		fmt.Fprintf(w, "[process: %s]\n", e)
	}
}

func isSuffix(all, tail []string) bool {
	if len(tail) > len(all) {
		return false
	}
	for i, a := range tail {
		if all[len(all)-len(tail)+i] != a {
			return false
		}
	}
	return true
}

// printGC writes the collector's line: whether it is collecting and in
// which thread, then gc.get_count() and gc.get_threshold().
func printGC(w io.Writer, g *cpython.GCInfo, threads []*cpython.Thread) {
	if g == nil {
		return
	}
	var parts []string
	if g.Enabled != nil && !*g.Enabled {
		parts = append(parts, "disabled")
	}
	if g.Collecting != nil {
		if *g.Collecting {
			c := "collecting"
			switch {
			case g.Thread != nil:
				c += fmt.Sprintf(" in thread %#x", *g.Thread)
				if g.ThreadLWP != nil {
					c += fmt.Sprintf(" (LWP %d)", *g.ThreadLWP)
				}
			case g.ThreadLWP != nil:
				c += fmt.Sprintf(" in LWP %d", *g.ThreadLWP)
			default:
				c += " (which thread: unknown)"
			}
			parts = append(parts, c)
		} else {
			parts = append(parts, "not collecting")
		}
	}
	ints := func(v []int64) string {
		s := make([]string, len(v))
		for i, n := range v {
			s[i] = fmt.Sprint(n)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	if g.Counts != nil {
		parts = append(parts, "counts "+ints(g.Counts))
	}
	if g.Thresholds != nil {
		parts = append(parts, "thresholds "+ints(g.Thresholds))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "GC: %s\n", strings.Join(parts, ", "))
	}
	for _, e := range g.Errors {
		fmt.Fprintf(w, "[gc: %s]\n", e)
	}
}

// printGIL writes the GIL's line: who holds it, who waits for it, how
// often it changed hands.
func printGIL(w io.Writer, g *cpython.GILInfo, threads []*cpython.Thread) {
	if g == nil {
		return
	}
	var parts []string
	for _, t := range threads {
		if t.HoldsGIL {
			h := fmt.Sprintf("held by thread %#x", t.ThreadID)
			if t.LWP != nil {
				h += fmt.Sprintf(" (LWP %d)", *t.LWP)
			}
			parts = append(parts, h)
		}
	}
	if len(parts) == 0 && g.Locked != nil {
		if *g.Locked {
			parts = append(parts, "held")
		} else {
			parts = append(parts, "not held")
		}
	}
	switch {
	case g.Waiters == nil:
		parts = append(parts, "waiters unknown")
	case len(g.Waiters) == 0:
		parts = append(parts, "no thread waits for it")
	default:
		sorted := append([]int64(nil), g.Waiters...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		lwps := make([]string, len(sorted))
		for i, l := range sorted {
			lwps[i] = fmt.Sprint(l)
		}
		parts = append(parts, fmt.Sprintf("%d waiting (LWP %s)", len(g.Waiters), strings.Join(lwps, ", ")))
	}
	if g.IntervalUS != nil {
		parts = append(parts, "switch interval "+strconv.FormatFloat(float64(*g.IntervalUS)/1000, 'f', -1, 64)+" ms")
	}
	if g.SwitchNumber != nil {
		parts = append(parts, fmt.Sprintf("%d switches", *g.SwitchNumber))
	}
	fmt.Fprintf(w, "GIL: %s\n", strings.Join(parts, ", "))
}

// shellJoin quotes each argument as a POSIX shell would need it.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// hideUnbound drops the variables not yet assigned (or deleted) from the
// frames the text prints, unless --unbound asks for them; --json keeps them
// all, each with its "unbound" flag.
func hideUnbound(frames []cpython.Frame) {
	for i := range frames {
		f := &frames[i]
		var kept []cpython.Local
		for _, l := range f.Locals {
			if !l.Unbound {
				kept = append(kept, l)
			}
		}
		if len(kept) != len(f.Locals) {
			f.Locals = kept
		}
	}
}

// printExceptions writes the exception a thread was raising and those it
// was handling, each as Python's traceback module prints it, indented.
func printExceptions(w io.Writer, t *cpython.Thread) {
	block := func(title string, e *cpython.Exception) {
		fmt.Fprintf(w, "%s\n", title)
		for _, line := range render.FormatException(render.ExceptionOf(e)) {
			if line == "" {
				fmt.Fprintln(w)
				continue
			}
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	if t.Exception != nil {
		title := "Exception being raised:"
		if t.Exception.Unnormalized {
			title = "Exception being raised (not yet normalized):"
		}
		block(title, t.Exception)
	}
	for i, e := range t.HandledExceptions {
		title := "Exception being handled:"
		if len(t.HandledExceptions) > 1 {
			title = fmt.Sprintf("Exception being handled (%d of %d, innermost first):", i+1, len(t.HandledExceptions))
		}
		block(title, e)
	}
	for _, e := range t.DetailErrors {
		fmt.Fprintf(w, "  [%s]\n", e)
	}
}

// crashedFirst orders threads for the text: grouped by interpreter, in the
// order CPython lists them, except that the crashed thread (and the
// interpreter it is in) comes first: CPython lists the main thread last.
func crashedFirst(ts []*cpython.Thread) []*cpython.Thread {
	threads := append([]*cpython.Thread(nil), ts...)
	crashInterp, crashed := int64(0), false
	for _, t := range threads {
		if t.Crashed {
			crashInterp, crashed = t.InterpreterID, true
			break
		}
	}
	key := func(t *cpython.Thread) (bool, int64, bool) {
		return !crashed || t.InterpreterID != crashInterp, t.InterpreterID, !t.Crashed
	}
	sort.SliceStable(threads, func(i, j int) bool {
		oi, ii, ci := key(threads[i])
		oj, ij, cj := key(threads[j])
		if oi != oj {
			return !oi
		}
		if ii != ij {
			return ii < ij
		}
		return !ci && cj
	})
	return threads
}

// threadState lists what is known to be true of a thread (README: "States");
// "" when none of it is.
func threadState(t *cpython.Thread) string {
	var parts []string
	if t.Main {
		parts = append(parts, "main")
	}
	if t.Daemon != nil && *t.Daemon {
		parts = append(parts, "daemon")
	}
	if t.Crashed {
		parts = append(parts, "crashed")
	}
	if t.CollectingGarbage {
		parts = append(parts, "collecting garbage")
	}
	if t.HoldsGIL {
		parts = append(parts, "holds GIL")
	}
	if t.GILDropRequested != nil && *t.GILDropRequested {
		parts = append(parts, "asked to drop GIL")
	}
	if t.GILRequested != nil && *t.GILRequested || t.WaitsForGIL != nil && *t.WaitsForGIL {
		parts = append(parts, "waits for GIL")
	}
	if t.State != "" && t.State != "detached" && (t.State != "attached" || !t.HoldsGIL) {
		parts = append(parts, t.State)
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
