package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/session"
)

func init() { register(newExecCommand) }

func newExecCommand() *cobra.Command {
	var tid int
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "exec PID SCRIPT",
		Short: "Run a Python script inside a running CPython 3.14+ process (PEP 768)",
		Long: `Ask running process PID to execute the Python file SCRIPT, as CPython 3.14's
sys.remote_exec does (PEP 768): pycore writes the script's path into the
thread's remote-debugger fields, sets its pending flag and the eval breaker's
please-stop bit. The thread runs the script, with its own privileges and
globals of its own, at its next eval-breaker check (a loop's back edge, a
call); a thread blocked in a system call or in C code runs it only when it
returns to Python. This executes code in the target: do it only to processes
you mean to change. The process is not stopped.

The thread is the main thread of the main interpreter, or --tid's. SCRIPT
must be an absolute path the process can open (as it sees the file system).
pycore refuses, writing nothing, when the process runs CPython before 3.14,
has remote debugging disabled (PYTHON_DISABLE_REMOTE_DEBUG,
-X disable-remote-debug, a build --without-remote-debug), or when the path
is relative or longer than CPython's buffer (511 bytes).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.Atoi(args[0])
			if err != nil {
				return fmt.Errorf("PID %q: want a process id", args[0])
			}
			if cmd.Flags().Changed("timeout") && !wait {
				return errors.New("--timeout bounds --wait: give --wait too")
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s: want a positive duration", timeout)
			}
			return runExec(cmd, pid, args[1], tid, wait, timeout)
		},
	}
	cmd.Flags().IntVar(&tid, "tid", 0, "run the script in the thread with native id `TID` (the LWP of pycore threads --pid) instead of the main thread")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the thread has taken the script (its pending flag cleared)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "with --wait: give up after `DURATION`")
	return cmd
}

func runExec(cmd *cobra.Command, pid int, script string, tid int, wait bool, timeout time.Duration) error {
	if tid < 0 {
		return fmt.Errorf("--tid %d: want a thread id", tid)
	}
	// Read the process where it runs, without stopping or copying it: a
	// handful of reads, the last ones the pending flag, fresh each time.
	s, err := session.Open(fmt.Sprintf("pid %d", pid), session.Options{Live: true, PID: pid, NonBlocking: true, Direct: true})
	if err != nil {
		return err
	}
	defer s.Close()
	t, err := s.Python.PrepareExec(script, tid)
	if err != nil {
		var off *cpython.RemoteDebugDisabledError
		if errors.As(err, &off) {
			err = fmt.Errorf("remote debugging is disabled in the process: %s (interpreter %d's config.remote_debug is %d)", remoteDebugDisabledWhy(pid), off.InterpID, off.Value)
		}
		return fmt.Errorf("pid %d: %w; nothing was written", pid, err)
	}
	if err := checkScriptFile(pid, script); err != nil {
		return fmt.Errorf("pid %d: %w; nothing was written", pid, err)
	}
	if err := s.Python.SendExec(t); err != nil {
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	who := fmt.Sprintf("thread %d", t.TID)
	if t.Main {
		who += " (main thread)"
	}
	if t.InterpID != 0 {
		who += fmt.Sprintf(" of interpreter %d", t.InterpID)
	}
	out := cmd.OutOrStdout()
	if !wait {
		fmt.Fprintf(out, "pid %d: sent %s to %s: it runs at the thread's next eval-breaker check\n", pid, script, who)
		return nil
	}
	start := time.Now()
	for {
		pending, err := s.Python.ExecPending(t)
		if err != nil {
			if _, serr := os.Stat(fmt.Sprintf("/proc/%d", pid)); serr != nil {
				return fmt.Errorf("pid %d: the process exited before %s took the script", pid, who)
			}
			return fmt.Errorf("pid %d: waiting for %s: %w", pid, who, err)
		}
		if !pending {
			fmt.Fprintf(out, "pid %d: %s took %s after %s and runs it\n", pid, who, script, time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Since(start) >= timeout {
			return fmt.Errorf("pid %d: %s has not taken %s within %s: it runs it at its next eval-breaker check, which a thread blocked in a system call or in C code reaches only when it returns to Python; the request stays pending", pid, who, script, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkScriptFile refuses a script the process could not open: it opens the
// path in its own mount namespace, which /proc/PID/root shows.
func checkScriptFile(pid int, script string) error {
	st, err := os.Stat(filepath.Join(fmt.Sprintf("/proc/%d/root", pid), script))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("script %s: no such file as the process sees the file system", script)
	case err != nil:
		return fmt.Errorf("script %s: %w", script, err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("script %s is %s, not a file", script, describeMode(st.Mode()))
	}
	return nil
}

func describeMode(m os.FileMode) string {
	if m.IsDir() {
		return "a directory"
	}
	return "a " + strings.TrimSpace(m.Type().String()) + " file"
}

// remoteDebugDisabledWhy names what disabled remote debugging, as far as
// /proc shows: the environment variable, the -X option, or neither (a build
// --without-remote-debug, or an embedding application's config).
func remoteDebugDisabledWhy(pid int) string {
	args, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	argv := strings.Split(string(args), "\x00")
	ignoreEnv := false
	for i, a := range argv {
		if a == "-Xdisable-remote-debug" || (a == "-X" && i+1 < len(argv) && argv[i+1] == "disable-remote-debug") {
			return "it was started with -X disable-remote-debug"
		}
		if a == "-E" || a == "-I" {
			ignoreEnv = true
		}
	}
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	for _, kv := range strings.Split(string(env), "\x00") {
		if strings.HasPrefix(kv, "PYTHON_DISABLE_REMOTE_DEBUG=") && !ignoreEnv {
			return "PYTHON_DISABLE_REMOTE_DEBUG is set in its environment"
		}
	}
	return "neither PYTHON_DISABLE_REMOTE_DEBUG nor -X disable-remote-debug is set, so by a build --without-remote-debug or the embedding application's configuration"
}
