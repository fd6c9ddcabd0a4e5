package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/pycore/pycore/internal/textable"
	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/cpython/asyncio"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
)

func init() { register(newTasksCommand) }

func newTasksCommand() *cobra.Command { return tasksCommand(nil) }

// tasksCommand is the tasks command, run in the shell over its session when
// shell is not nil.
func tasksCommand(shell *session.Session) *cobra.Command {
	ff := fileFlags{shell: shell}
	var asJSON, locals, unbound bool
	repr := threadsReprDefaults
	cmd := &cobra.Command{
		Use:   "tasks CORE [EXECUTABLE]",
		Short: "Print every asyncio task: its coroutine stack and who awaits whom",
		Long: `Print the asyncio tasks of a core dump (or a bundle made by 'pycore pack'),
per event loop and thread: each task's name and state, its coroutine stack
(innermost call last), and who awaits whom as a tree, like
'python -m asyncio pstree' does for a live process; then a table of tasks.

CPython 3.14 and newer record every task and who awaits whom, and say where
(the .AsyncioDebug section). For 3.8-3.13 pycore reads the tasks from
asyncio's own sets and derives the awaited-by edges of tasks awaiting tasks,
gather() and TaskGroup; what a version cannot give is said at the end.

--locals lists every coroutine frame's arguments and local variables, as
'pycore threads --locals' does, bounded by the same --max-* flags.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := ff.open(args)
			if err != nil {
				return err
			}
			defer ff.close(s)
			snap, err := asyncio.TasksWith(s.Python, cpython.SnapshotOptions{Locals: locals, Repr: repr})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			live := resumeForOutput(s.Core)
			snap.Notes = append(snap.Notes, s.Core.WarningTexts()...)
			if !asJSON && !unbound {
				for _, t := range snap.Tasks {
					hideUnbound(t.Stack)
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(render.AsyncioOf(snap, live))
			}
			return printTasks(cmd.OutOrStdout(), snap)
		},
	}
	ff.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	cmd.Flags().BoolVar(&locals, "locals", false, "show each coroutine frame's arguments and local variables")
	cmd.Flags().BoolVar(&unbound, "unbound", false, "with --locals, also list the variables not yet assigned (or deleted), as <unbound> (--json always has them)")
	cmd.Flags().IntVar(&repr.MaxDepth, "max-depth", repr.MaxDepth, "levels of nested containers shown in a value (`N`)")
	cmd.Flags().IntVar(&repr.MaxLength, "max-length", repr.MaxLength, "items shown per container (`N`)")
	cmd.Flags().IntVar(&repr.MaxString, "max-string", repr.MaxString, "characters of a str, bytes or int shown (`N`)")
	cmd.Flags().IntVar(&repr.MaxTotal, "max-repr", repr.MaxTotal, "characters of one value's whole repr (`N`)")
	cmd.Flags().BoolVar(&repr.Attrs, "attrs", false, "show the attributes of instances of Python classes after their repr: <mod.Foo object at 0x...>(a=1, b='x')")
	return cmd
}

// printTasks writes the human form: per loop a tree of tasks (roots are the
// tasks nothing awaits), each with its coroutine stack, then a table.
func printTasks(w io.Writer, s *asyncio.Snapshot) error {
	if !s.AsyncioImported {
		// Where pycore looked is in --json; the user needs only the answer.
		fmt.Fprintf(w, "Python %s: no asyncio event loop in this process (asyncio was never imported)\n", s.Python.Version)
		for _, n := range s.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		return nil
	}
	fmt.Fprintf(w, "Python %s: %d asyncio task(s) on %d event loop(s)\n", s.Python.Version, len(s.Tasks), len(s.Loops))
	byAddr := map[core.Address]*asyncio.Task{}
	for _, t := range s.Tasks {
		byAddr[t.Address] = t
	}
	seenLoop := map[core.Address]bool{}
	for _, lp := range s.Loops {
		seenLoop[lp.Address] = true
		var tasks []*asyncio.Task
		for _, t := range s.Tasks {
			if t.Loop == lp.Address {
				tasks = append(tasks, t)
			}
		}
		if len(tasks) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nEvent loop %#x (%s), %s\n", uint64(lp.Address), orDash(lp.Type), loopThread(lp))
		printTree(w, tasks, byAddr)
	}
	var orphans []*asyncio.Task
	for _, t := range s.Tasks {
		if !seenLoop[t.Loop] {
			orphans = append(orphans, t)
		}
	}
	if len(orphans) > 0 {
		fmt.Fprintf(w, "\nTasks whose loop is unknown\n")
		printTree(w, orphans, byAddr)
	}
	if len(s.Tasks) > 0 {
		fmt.Fprintln(w)
		if err := taskTable(w, s.Tasks, byAddr); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nawaited-by edges: %s\n", map[string]string{
		"recorded": "recorded by CPython (task_awaited_by)",
		"derived":  "derived by pycore (tasks awaiting tasks, gather, TaskGroup)",
	}[s.AwaitedBy])
	for _, src := range s.Sources {
		fmt.Fprintf(w, "source: %s\n", src)
	}
	for _, m := range s.Missing {
		fmt.Fprintf(w, "missing: %s\n", m)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

func loopThread(lp *asyncio.EventLoop) string {
	if lp.ThreadID == nil {
		return "not running"
	}
	var tags []string
	if lp.LWP != nil {
		tags = append(tags, fmt.Sprintf("LWP %d", *lp.LWP))
	}
	if lp.ThreadName != nil {
		tags = append(tags, fmt.Sprintf("%q", *lp.ThreadName))
	}
	out := fmt.Sprintf("running in thread %#x", *lp.ThreadID)
	if len(tags) > 0 {
		out += " (" + strings.Join(tags, ", ") + ")"
	}
	return out
}

// printTree prints the tasks of one loop as trees from the tasks nothing
// (on this loop) awaits; a task awaited by several shows under each.
func printTree(w io.Writer, tasks []*asyncio.Task, byAddr map[core.Address]*asyncio.Task) {
	onLoop := map[core.Address]bool{}
	for _, t := range tasks {
		onLoop[t.Address] = true
	}
	var roots []*asyncio.Task
	for _, t := range tasks {
		root := true
		for _, by := range t.AwaitedBy {
			if onLoop[by] {
				root = false
			}
		}
		if root {
			roots = append(roots, t)
		}
	}
	// Tasks in a cycle of awaits have no root: show them from any member.
	shown := map[core.Address]bool{}
	visit := func(t *asyncio.Task) {
		todo := []*asyncio.Task{t}
		for len(todo) > 0 {
			t := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			if shown[t.Address] {
				continue
			}
			shown[t.Address] = true
			for _, a := range t.Awaits {
				if c := byAddr[a]; c != nil {
					todo = append(todo, c)
				}
			}
		}
	}
	for _, r := range roots {
		visit(r)
	}
	for _, t := range tasks {
		if !shown[t.Address] {
			roots = append(roots, t)
			visit(t)
		}
	}
	for i, r := range roots {
		printTask(w, r, byAddr, "", i == len(roots)-1, map[core.Address]bool{})
	}
}

func printTask(w io.Writer, t *asyncio.Task, byAddr map[core.Address]*asyncio.Task, indent string, last bool, path map[core.Address]bool) {
	branch, cont := "├── ", "│   "
	if last {
		branch, cont = "└── ", "    "
	}
	fmt.Fprintf(w, "%s%s(T) %s [%s]\n", indent, branch, taskLabel(t), taskStatus(t))
	inner := indent + cont
	var children []*asyncio.Task
	for _, a := range t.Awaits {
		if c := byAddr[a]; c != nil {
			children = append(children, c)
		}
	}
	bar := "    "
	if len(children) > 0 {
		bar = "│   "
	}
	blocks := make([]string, 0, len(t.Stack))
	for i := len(t.Stack) - 1; i >= 0; i-- {
		f := t.Stack[i]
		name := f.Function
		if f.Qualname != nil && *f.Qualname != "" {
			name = *f.Qualname
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s%s  %s %s:%d\n", inner, bar, name, filepath.Base(f.File), f.Line)
		if f.Locals != nil || f.LocalsError != "" {
			// As threads --locals prints them, inside the tree's indentation.
			for _, line := range strings.SplitAfter(render.Locals(&f), "\n") {
				if line != "" {
					fmt.Fprintf(&b, "%s%s%s", inner, bar, line)
				}
			}
		}
		blocks = append(blocks, b.String())
	}
	for _, s := range render.CollapseRepeats(blocks, inner+bar+"  ") {
		io.WriteString(w, s)
	}
	if t.WaitingFor != nil && len(children) == 0 {
		fmt.Fprintf(w, "%s%s  waiting for %s at %#x\n", inner, bar, orDash(t.WaitingFor.Type), uint64(t.WaitingFor.Address))
	}
	if t.Error != "" {
		fmt.Fprintf(w, "%s%s  [incomplete: %s]\n", inner, bar, t.Error)
	}
	if path[t.Address] {
		fmt.Fprintf(w, "%s%s  (awaits itself through the tasks above)\n", inner, bar)
		return
	}
	if len(path) >= maxTreeDepth && len(children) > 0 {
		fmt.Fprintf(w, "%s%s  (%d awaited task(s) not shown: deeper than %d levels)\n", inner, bar, len(children), maxTreeDepth)
		return
	}
	path[t.Address] = true
	defer delete(path, t.Address)
	for i, c := range children {
		printTask(w, c, byAddr, inner, i == len(children)-1, path)
	}
}

// maxTreeDepth bounds how deep the tree of awaited tasks is printed.
const maxTreeDepth = 64

func taskLabel(t *asyncio.Task) string {
	if t.Name != nil {
		return *t.Name
	}
	return fmt.Sprintf("<unnamed task at %#x>", uint64(t.Address))
}

func taskStatus(t *asyncio.Task) string {
	if t.Running {
		return "running"
	}
	return t.State
}

func taskTable(w io.Writer, tasks []*asyncio.Task, byAddr map[core.Address]*asyncio.Task) error {
	table := textable.New(w)
	table.Header("Task", "Name", "State", "Thread", "Awaited by", "Innermost frame")
	for _, t := range tasks {
		thread := "-"
		if t.ThreadID != nil {
			thread = fmt.Sprintf("%#x", *t.ThreadID)
		}
		var by []string
		for _, a := range t.AwaitedBy {
			if o := byAddr[a]; o != nil {
				by = append(by, taskLabel(o))
			} else {
				by = append(by, fmt.Sprintf("%#x", uint64(a)))
			}
		}
		inner := "-"
		if len(t.Stack) > 0 {
			f := t.Stack[0]
			inner = fmt.Sprintf("%s (%s:%d)", f.Function, filepath.Base(f.File), f.Line)
		}
		if err := table.Append(fmt.Sprintf("%#x", uint64(t.Address)), taskLabel(t), taskStatus(t), thread,
			orDash(strings.Join(by, ", ")), inner); err != nil {
			return err
		}
	}
	return table.Render()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
