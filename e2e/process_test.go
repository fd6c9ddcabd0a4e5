package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// TestProcessHeader checks the process header of `pycore threads` against
// what the program said about itself (os.getpid(), os.getppid(), uids,
// sys.executable, sys.argv, sys.orig_argv) and against the command line the
// test ran it with (the kernel's psargs and command name), on a kernel core
// and a gcore, with and without debug info.
func TestProcessHeader(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			for _, kind := range []pytest.CoreKind{pytest.Kernel, pytest.Gcore} {
				c := pytest.MakeCore(t, interp, "locals", kind)
				for _, a := range analyses(t, interp) {
					t.Run(string(kind)+"/"+a.name, func(t *testing.T) {
						args := append(append([]string{"threads", "--json"}, a.args...), c.Path)
						var got render.Snapshot
						out := pycoreOutput(t, args...)
						if err := json.Unmarshal(out, &got); err != nil {
							t.Fatalf("threads --json: %v\n%s", err, out)
						}
						for _, e := range compareProcess(c, got.Process) {
							t.Error(e)
						}
						text := string(pycoreOutput(t, append(append([]string{"threads"}, a.args...), c.Path)...))
						o := c.Oracle.Process
						ppid := o.PPID
						if got.Process != nil && got.Process.PPID != nil {
							ppid = *got.Process.PPID // checked above
						}
						for _, want := range []string{
							fmt.Sprintf("\nProcess: pid %d, ppid %d, uid %d, gid %d\n", o.PID, ppid, o.UID, o.GID),
							"\nExecutable: " + o.Executable + "\n",
						} {
							if !strings.Contains(text, want) {
								t.Errorf("text output lacks %q:\n%s", want, head(text, 12))
							}
						}
					})
				}
			}
		})
	}
}

func compareProcess(c *pytest.Core, pi *render.Process) []string {
	if pi == nil {
		return []string{"no process member"}
	}
	o := c.Oracle.Process
	var errs []string
	eqInt := func(what string, got *int, want int) {
		if got == nil || *got != want {
			errs = append(errs, fmt.Sprintf("%s: pycore %v, the process said %d", what, deref(got), want))
		}
	}
	eqInt("pid", pi.PID, o.PID)
	// A kernel core's pr_ppid is the parent's thread that forked (the
	// kernel writes task_pid_vnr of real_parent): in a multi-threaded
	// parent such as this test, one of its threads rather than its pid.
	if pi.PPID == nil || *pi.PPID != o.PPID && !(c.Kind == pytest.Kernel && o.PPID == os.Getpid() && fileExists(fmt.Sprintf("/proc/self/task/%d", *pi.PPID))) {
		errs = append(errs, fmt.Sprintf("ppid: pycore %v, the process said %d (and it is no thread of it)", deref(pi.PPID), o.PPID))
	}
	eqInt("uid", pi.UID, o.UID)
	eqInt("gid", pi.GID, o.GID)
	if pi.Executable == nil || *pi.Executable != o.Executable {
		errs = append(errs, fmt.Sprintf("executable: pycore %v, sys.executable %q", deref(pi.Executable), o.Executable))
	}
	if !reflect.DeepEqual(pi.Argv, o.Argv) {
		errs = append(errs, fmt.Sprintf("argv: pycore %q, sys.argv %q", pi.Argv, o.Argv))
	}
	if !reflect.DeepEqual(pi.OrigArgv, o.OrigArgv) {
		errs = append(errs, fmt.Sprintf("orig_argv: pycore %q, sys.orig_argv %q", pi.OrigArgv, o.OrigArgv))
	}
	// The kernel keeps the first 79 bytes of the exec'd command line (the
	// harness's) and the exec'd file's name cut to 15 bytes; gdb's gcore
	// one byte more of each, and of the command line sometimes only argv[0];
	// pycore drops a character cut in the middle.
	argv := append(append([]string(nil), c.Interp.Argv...), c.Script, filepath.Join(c.Dir, "oracle.json"), map[pytest.CoreKind]string{pytest.Kernel: "abort", pytest.Gcore: "wait"}[c.Kind])
	cut := func(what string, got *string, whole string, n int) {
		gdbArgv0 := c.Kind == pytest.Gcore && got != nil && *got == argv[0] && what == "psargs"
		if got == nil || !strings.HasPrefix(whole, *got) || len(*got) < min(n, len(whole))-utf8.UTFMax && !gdbArgv0 {
			errs = append(errs, fmt.Sprintf("%s: pycore %v, exec'd %q (the first %d bytes of it)", what, deref(got), whole, n))
		}
	}
	cut("psargs", pi.PsArgs, strings.Join(argv, " "), 79)
	cut("command", pi.Command, filepath.Base(argv[0]), 15)
	if len(pi.Errors) > 0 {
		errs = append(errs, fmt.Sprintf("errors: %q", pi.Errors))
	}
	return errs
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func head(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
