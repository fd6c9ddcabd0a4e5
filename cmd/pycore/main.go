// Command pycore reads core dumps of CPython processes: every thread's Python
// stack, the crashed thread, the GIL holder.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/symbols"
)

// fileFlags are the flags every command that opens a core shares.
type fileFlags struct {
	sysroot   string
	libPaths  []string
	debugDirs []string
	// debuginfod: servers to fetch missing debug files from (else
	// DEBUGINFOD_URLS); noDebuginfod: never fetch.
	debuginfod   []string
	noDebuginfod bool
	types        string

	pid         int  // --pid: read this running process instead of a core (-1: not given)
	nonblocking bool // --nonblocking: without stopping it
	// liveCopy: copy a stopped process's memory and resume it at once (the
	// shell reads for as long as the user likes).
	liveCopy bool

	// shell is the shell's open session: the command runs on it, takes no
	// core argument and no file flags, and must not close it.
	shell *session.Session

	// cmd is the command the flags are registered on; held keeps its output
	// in memory while a live process it opened is stopped (live.go).
	cmd  *cobra.Command
	held *heldOutput
}

func (f *fileFlags) register(cmd *cobra.Command) {
	f.cmd = cmd
	if f.shell != nil {
		f.inShell(cmd)
		return
	}
	fl := cmd.Flags()
	fl.StringVar(&f.sysroot, "sysroot", "", "look for the core's mapped files under `DIR` first")
	fl.StringArrayVar(&f.libPaths, "lib-path", nil, "look for mapped files in `DIR` by file name (repeatable)")
	fl.StringArrayVar(&f.debugDirs, "debug-dir", nil, "look for detached debug files under `DIR` (repeatable; default /usr/lib/debug)")
	fl.StringArrayVar(&f.debuginfod, "debuginfod", nil, "fetch missing debug files by build ID from the debuginfod server `URL` (repeatable; default $DEBUGINFOD_URLS)")
	fl.BoolVar(&f.noDebuginfod, "no-debuginfod", false, "never fetch debug files, whatever DEBUGINFOD_URLS says")
	fl.StringVar(&f.types, "types", "auto", "where struct layouts come from: auto, dwarf or builtin")
	f.pid = -1
	if strings.HasPrefix(cmd.Use, "pack ") || strings.HasPrefix(cmd.Use, "report ") {
		// They read files only: report would have read the process in
		// place of every core it was given.
		return
	}
	fl.IntVarP(&f.pid, "pid", "p", -1, "read the running process `PID` instead of a core (stopped for the read, then resumed)")
	fl.BoolVar(&f.nonblocking, "nonblocking", false, "with --pid: read without stopping the process (the answer may be inconsistent)")
	if strings.Contains(cmd.Use, " CORE ") && !strings.HasPrefix(cmd.Use, "pack ") {
		f.takeCoreArg(cmd)
	}
}

// takeCoreArg lets a "CMD CORE [EXECUTABLE]" command run with --pid and no
// CORE (the command sees livePath in CORE's place), or with no CORE and
// $PYCORE_CORE set.
func (f *fileFlags) takeCoreArg(cmd *cobra.Command) {
	args, run := cmd.Args, cmd.RunE
	withCore := func(a []string) []string {
		if f.pid < 0 {
			// No core on the command line: $PYCORE_CORE's, as eval, rd, sym, maps and shell take it.
			if env := os.Getenv(coreEnv); len(a) == 0 && env != "" {
				return []string{env}
			}
			return a
		}
		return append([]string{f.livePath()}, a...)
	}
	cmd.Args = func(c *cobra.Command, a []string) error {
		if args == nil {
			return nil
		}
		return args(c, withCore(a))
	}
	cmd.RunE = func(c *cobra.Command, a []string) error { return run(c, withCore(a)) }
}

// inShell makes a "CMD CORE [EXECUTABLE]" command run on the shell's core:
// it sees that core's path as CORE.
func (f *fileFlags) inShell(cmd *cobra.Command) {
	run := cmd.RunE
	cmd.Use = strings.Replace(cmd.Use, " CORE [EXECUTABLE]", "", 1)
	cmd.Args = func(c *cobra.Command, a []string) error {
		if len(a) > 0 {
			return fmt.Errorf("unexpected argument %q: in the shell, %s runs on the shell's core", a[0], c.Name())
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, a []string) error {
		if f.shell.Python == nil {
			return fmt.Errorf("%s needs CPython, and %s has none", c.Name(), f.shell.Core.Path)
		}
		return run(c, []string{f.shell.Core.Path})
	}
}

// livePath names the process in messages where a core's path would be.
func (f *fileFlags) livePath() string { return fmt.Sprintf("pid %d", f.pid) }

func (f *fileFlags) options(executable string) (session.Options, error) {
	mode := cpython.TypesMode(f.types)
	switch mode {
	case cpython.TypesAuto, cpython.TypesDWARF, cpython.TypesBuiltin:
	default:
		return session.Options{}, fmt.Errorf("--types %q: want auto, dwarf or builtin", f.types)
	}
	if f.nonblocking && f.pid < 0 {
		return session.Options{}, fmt.Errorf("--nonblocking reads a running process: give it with --pid PID")
	}
	var dbgd *symbols.Debuginfod
	switch {
	case f.noDebuginfod:
	case len(f.debuginfod) > 0:
		dbgd = symbols.NewDebuginfod(f.debuginfod)
	default:
		dbgd = symbols.DebuginfodFromEnv()
	}
	if dbgd != nil {
		dbgd.Log = os.Stderr
	}
	return session.Options{Executable: executable, Sysroot: f.sysroot, LibPaths: f.libPaths,
		DebugDirs: f.debugDirs, Debuginfod: dbgd, Types: mode, Live: f.pid >= 0, PID: f.pid, NonBlocking: f.nonblocking, Copy: f.liveCopy}, nil
}

// open opens the core of a "CORE [EXECUTABLE]" command line (in the shell,
// it is the shell's session).
func (f *fileFlags) open(args []string) (*session.Session, error) {
	if f.shell != nil {
		return f.shell, nil
	}
	exe := ""
	if len(args) > 1 {
		exe = args[1]
	}
	opts, err := f.options(exe)
	if err != nil {
		return nil, err
	}
	s, err := session.Open(args[0], opts)
	if err != nil {
		return nil, err
	}
	f.held = holdOutput(f.cmd, s.Core)
	return s, nil
}

// close closes what open opened, and leaves the shell's session open. A
// live process still stopped is resumed first, then the output kept while
// it was stopped is written.
func (f *fileFlags) close(s *session.Session) {
	if s != f.shell {
		f.held.release()
		s.Close()
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "pycore",
		Short: "Read core dumps of CPython processes",
		Long: `pycore opens a core dump of a crashed or hung CPython process and tells what
Python was doing: every thread's Python stack, the thread that crashed and the
one holding the GIL. It needs no Python and no debug info.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// --version prints what `pycore version` prints, as users of other CLIs expect.
		Version: pycoreVersion(),
	}
	root.SetVersionTemplate("pycore {{.Version}}\n")
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	checkCommandLines(root)
	return root
}

// commands are the subcommands; each command's file registers itself in an
// init function, so adding a command touches only its own file.
var commands []func() *cobra.Command

func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

func init() { register(newVersionCommand) }

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pycore's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "pycore", pycoreVersion())
			return nil
		},
	}
}

// pycoreVersion is the module version the binary was built from, "(devel)"
// for a build from a work tree.
func pycoreVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func main() {
	os.Exit(profiled(func() int { return run(os.Args[1:]) }))
}

// profiled runs f under a CPU profile written to $PYCORE_CPUPROFILE, if set
// (hidden: for bench/, to see where a single run spends its time).
func profiled(f func() int) int {
	path := os.Getenv("PYCORE_CPUPROFILE")
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pycore: PYCORE_CPUPROFILE:", err)
		return f()
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintln(os.Stderr, "pycore: PYCORE_CPUPROFILE:", err)
		return f()
	}
	defer pprof.StopCPUProfile()
	return f()
}

// run executes the command line and turns any panic into a bug report that
// names the input, never a bare Go stack trace.
func run(args []string) (code int) {
	root := newRootCommand()
	root.SetArgs(args)
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "pycore: internal error (a bug in pycore) while running %q: %v\n", args, r)
			fmt.Fprintln(os.Stderr, "Please report it with the core if you can share it.")
			if os.Getenv("PYCORE_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "%s\n", debug.Stack())
			}
			code = 3
		}
	}()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "pycore:", err)
		return 1
	}
	return 0
}
