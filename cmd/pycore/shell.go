package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pycore/pycore/session"
)

func init() { register(newShellCommand) }

func newShellCommand() *cobra.Command {
	qs := &querySource{}
	cmd := &cobra.Command{
		Use:   "shell [CORE]",
		Short: "Interactive session over one core: threads, eval, ptype, rd, with history and completion",
		Long: `Open a core once and explore it interactively, in the style of crash: the
commands threads, tasks, eval (or p, print), ptype, rd, sym and maps work as on the command line
but without the core argument, and any line that is not a command is evaluated
as an expression. The line editor keeps a history (in $PYCORE_HISTORY, default
~/.cache/pycore/shell_history; set it empty for none) and completes commands,
symbol and variable names, and member names after '.' or '->' with Tab.
'help' lists the commands, 'help CMD' explains one, 'quit' or Ctrl-D leaves.

With standard input not a terminal, lines are read from it without editing
or prompt, so a file of commands can be run: pycore shell core < cmds.

` + coreUsage,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			qs.ff.liveCopy = true // an interactive session must not keep a process stopped
			q, rest, done, err := qs.open(args)
			if err != nil {
				return err
			}
			defer done()
			if len(rest) > 0 {
				return fmt.Errorf("unexpected argument %q", rest[0])
			}
			sh := &shell{q: q, out: cmd.OutOrStdout(), errw: cmd.ErrOrStderr()}
			return sh.loop(cmd.InOrStdin())
		},
	}
	qs.register(cmd)
	return cmd
}

// shell is an interactive session over one opened core.
type shell struct {
	q         *session.Query
	out, errw io.Writer
}

// shellCommand is one command of the shell: most are the one-shot commands
// built over the shell's session.
type shellCommand struct {
	name, short string
	aliases     []string
	// make builds the cobra command (nil for the shell's own commands).
	make func(qs *querySource) *cobra.Command
	// run handles the shell's own commands.
	run func(sh *shell, args []string) error
}

func (sh *shell) commands() []shellCommand {
	cmds := []shellCommand{
		{name: "eval", aliases: []string{"p", "print"}, short: "evaluate an expression (the rest of the line)", make: newEvalCommand},
		{name: "ptype", short: "layout of a type or of an expression's type", make: newPtypeCommand},
		{name: "rd", short: "dump memory: rd [-8|-4|-2|-1] ADDR|EXPR [COUNT]", make: newRdCommand},
		{name: "threads", short: "every thread's Python stack, as pycore threads (--locals, --native, --json, ...)",
			make: func(qs *querySource) *cobra.Command { return threadsCommand(qs.shell.S) }},
		{name: "tasks", short: "every asyncio task, as pycore tasks (--locals, --json, ...)",
			make: func(qs *querySource) *cobra.Command { return tasksCommand(qs.shell.S) }},
		{name: "sym", short: "symbol to address, address to symbol+offset: sym NAME|ADDR [--json]", run: (*shell).sym},
		{name: "maps", short: "the process's mappings and where their bytes come from (maps --json)", run: (*shell).maps},
		{name: "help", short: "list commands, or explain one: help CMD", run: (*shell).help},
		{name: "quit", aliases: []string{"exit", "q"}, short: "leave the shell"},
	}
	return cmds
}

func (sh *shell) find(name string) (shellCommand, bool) {
	for _, c := range sh.commands() {
		if c.name == name {
			return c, true
		}
		for _, a := range c.aliases {
			if a == name {
				return c, true
			}
		}
	}
	return shellCommand{}, false
}

// historyPath is where the line history is kept, "" for nowhere.
func historyPath() string {
	if p, ok := os.LookupEnv("PYCORE_HISTORY"); ok {
		return p
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	dir = filepath.Join(dir, "pycore")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return filepath.Join(dir, "shell_history")
}

// readerIsTerminal reports whether r is a terminal (report.go has isTerminal for files).
func readerIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (sh *shell) banner() {
	s := sh.q.S
	fmt.Fprintf(sh.out, "pycore shell: %s", s.Core.Path)
	if p := s.Python; p != nil {
		ft := ""
		if p.FreeThreaded {
			ft = " (free-threaded)"
		}
		fmt.Fprintf(sh.out, ", Python %s%s", p.Version, ft)
	} else if sh.q.PythonErr != nil {
		fmt.Fprintf(sh.out, " (no CPython: %v)", firstLine(sh.q.PythonErr.Error()))
	}
	fmt.Fprintln(sh.out)
	fmt.Fprintln(sh.out, "Type 'help' for commands; anything else is evaluated as an expression.")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (sh *shell) loop(in io.Reader) error {
	if !readerIsTerminal(in) {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if sh.execute(sc.Text()) {
				return nil
			}
		}
		return sc.Err()
	}
	sh.banner()
	rl, err := readline.NewEx(&readline.Config{
		Prompt:          "pycore> ",
		HistoryFile:     historyPath(),
		AutoComplete:    &completer{sh: sh},
		InterruptPrompt: "^C",
		EOFPrompt:       "quit",
		Stdin:           io.NopCloser(in),
		Stdout:          sh.out,
		Stderr:          sh.errw,
	})
	if err != nil {
		return err
	}
	defer rl.Close()
	sh.out, sh.errw = rl.Stdout(), rl.Stderr()
	for {
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			return nil
		}
		if sh.execute(line) {
			return nil
		}
	}
}

// execute runs one line; it reports whether the shell should end.
func (sh *shell) execute(line string) (quit bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return false
	}
	name, rest, _ := strings.Cut(line, " ")
	c, ok := sh.find(name)
	if !ok {
		sh.eval(line)
		return false
	}
	if c.name == "quit" {
		return true
	}
	// Not nil: cobra would take a nil argument list from os.Args.
	args := append([]string{}, splitArgs(strings.TrimSpace(rest))...)
	var err error
	switch {
	case c.run != nil:
		err = c.run(sh, args)
	default:
		cmd := c.make(&querySource{shell: sh.q})
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		cmd.SetArgs(args)
		cmd.SetOut(sh.out)
		cmd.SetErr(sh.errw)
		cmd.SetIn(strings.NewReader(""))
		err = cmd.Execute()
	}
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintf(sh.errw, "error: %v\n", err)
	}
	return false
}

// eval evaluates a bare expression line.
func (sh *shell) eval(expr string) {
	out := &output{w: sh.out, errw: sh.errw, opts: sh.q.FormatOptions()}
	r, err := sh.q.Eval(expr)
	if err == nil {
		err = out.result(r)
	}
	if err != nil {
		fmt.Fprintf(sh.errw, "error: %v\n", err)
	}
}

// splitArgs splits a command line at spaces, keeping quoted parts (with
// their quotes: they are usually C string or character literals) whole.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	quote := byte(0)
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			cur.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args
}

// jsonFlag takes --json out of args.
func jsonFlag(args []string) ([]string, bool) {
	var rest []string
	asJSON := false
	for _, a := range args {
		if a == "--json" {
			asJSON = true
			continue
		}
		rest = append(rest, a)
	}
	return rest, asJSON
}

func (sh *shell) sym(args []string) error {
	rest, asJSON := jsonFlag(args)
	if len(rest) != 1 {
		return errors.New("sym NAME|ADDR [--json]")
	}
	return runSym(sh.out, sh.q.S, rest[0], asJSON)
}

func (sh *shell) maps(args []string) error {
	rest, asJSON := jsonFlag(args)
	if len(rest) != 0 {
		return errors.New("maps [--json]")
	}
	return runMaps(sh.out, sh.q.S, asJSON)
}

func (sh *shell) help(args []string) error {
	if len(args) > 0 {
		c, ok := sh.find(args[0])
		if !ok {
			return fmt.Errorf("no command %q; 'help' lists them", args[0])
		}
		if c.make != nil {
			cmd := c.make(&querySource{shell: sh.q})
			fmt.Fprintf(sh.out, "%s\n\n%s\n\nFlags:\n%s", cmd.UseLine(), cmd.Long, cmd.Flags().FlagUsages())
			return nil
		}
		fmt.Fprintf(sh.out, "%s: %s\n", c.name, c.short)
		return nil
	}
	fmt.Fprintln(sh.out, "Commands:")
	for _, c := range sh.commands() {
		names := c.name
		if len(c.aliases) > 0 {
			names += " (" + strings.Join(c.aliases, ", ") + ")"
		}
		fmt.Fprintf(sh.out, "  %-22s %s\n", names, c.short)
	}
	fmt.Fprintln(sh.out, "Any other line is an expression, e.g. interp->threads.head->thread_id;")
	fmt.Fprintln(sh.out, "'help eval' describes the language. Tab completes names and members.")
	return nil
}

// completer completes command names, then names and members in expressions.
type completer struct{ sh *shell }

// Do implements readline.AutoCompleter: it returns the rest of each
// candidate after what is typed, and how much of the line they continue.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	text := string(line[:pos])
	trimmed := strings.TrimLeft(text, " ")
	var word string
	var cands []string
	if !strings.ContainsAny(trimmed, " \t") {
		// The first word: a command, or the start of an expression.
		word, cands = c.sh.q.Env().Complete(trimmed)
		if word == trimmed {
			for _, sc := range c.sh.commands() {
				for _, n := range append([]string{sc.name}, sc.aliases...) {
					if strings.HasPrefix(n, word) {
						cands = append(cands, n)
					}
				}
			}
			sort.Strings(cands)
		}
	} else {
		name, rest, _ := strings.Cut(trimmed, " ")
		if sc, ok := c.sh.find(name); ok {
			if sc.name == "help" {
				for _, s := range c.sh.commands() {
					if strings.HasPrefix(s.name, strings.TrimSpace(rest)) {
						cands = append(cands, s.name)
					}
				}
				word = strings.TrimSpace(rest)
			} else {
				// Skip the command's flags: complete the expression after them.
				expr := rest
				for strings.HasPrefix(strings.TrimLeft(expr, " "), "-") {
					_, expr, _ = strings.Cut(strings.TrimLeft(expr, " "), " ")
				}
				word, cands = c.sh.q.Env().Complete(expr)
			}
		} else {
			word, cands = c.sh.q.Env().Complete(trimmed)
		}
	}
	out := make([][]rune, 0, len(cands))
	for _, cand := range cands {
		if strings.HasPrefix(cand, word) {
			out = append(out, []rune(cand[len(word):]))
		}
	}
	return out, len([]rune(word))
}
