package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// signalsDir holds the scenario programs of TestSignalCause.
func signalsDir() string { return filepath.Join("testdata", "signals") }

// TestSignalCause makes the four kinds of core a user meets and checks what pycore says
// about the signal against what the test knows: a gcore of a parked process (no fatal
// signal), kill -ABRT sent by this test (a dump request from this test's pid and uid),
// os.abort() in the main thread (a crash of the main thread, printed first) and a read of
// an unmapped address through ctypes in a worker (SEGV_MAPERR at the address the program
// recorded; the faulting thread printed first).
func TestSignalCause(t *testing.T) {
	if err := pytest.KernelCoresUsable(); err != nil {
		t.Skipf("kernel cores: %v", err)
	}
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			var sent, abort *pytest.Core
			tmp := t.TempDir() // outlives the subtests: the report reads two of their cores
			t.Run("gcore", func(t *testing.T) {
				c := makeSignalCore(t, tmp, interp, "sig_park", pytest.Gcore)
				snap := runThreads(t, c.Path)
				checkOracle(t, c, snap, interp)
				if si := snap.Signal; si != nil && (si.Cause != "stop" || si.Fatal) {
					t.Errorf("gcore: signal %+v, want cause stop, not fatal", *si)
				}
				text := threadsText(t, c.Path)
				if !strings.Contains(text, "No fatal signal: ") || !strings.Contains(text, "dump of a running process") || strings.Contains(text, "Signal:") {
					t.Errorf("gcore: the text does not say there was no fatal signal:\n%s", head(text, 15))
				}
			})
			t.Run("sent", func(t *testing.T) {
				c := makeSignalCore(t, tmp, interp, "sig_park", pytest.Sent)
				sent = c
				snap := runThreads(t, c.Path)
				checkOracle(t, c, snap, interp)
				si := snap.Signal
				pid, uid := os.Getpid(), os.Getuid()
				if si == nil || si.Name != "SIGABRT" || si.Cause != "sent" || si.CodeName != "SI_USER" || si.Fatal || si.HasAddress ||
					si.SenderPID == nil || *si.SenderPID != pid || si.SenderUID == nil || *si.SenderUID != uid {
					t.Errorf("kill -ABRT from pid %d uid %d: signal %s", pid, uid, signalString(si))
				}
				text := threadsText(t, c.Path)
				want := fmt.Sprintf("Signal: SIGABRT (6), SI_USER from pid %d (uid %d): a dump request, not a crash", pid, uid)
				if !strings.Contains(text, want) || strings.Contains(text, "crashed") {
					t.Errorf("kill -ABRT: the text lacks %q or calls a thread crashed:\n%s", want, head(text, 15))
				}
			})
			t.Run("abort", func(t *testing.T) {
				c := makeSignalCore(t, tmp, interp, "sig_park", pytest.Kernel)
				abort = c
				snap := runThreads(t, c.Path)
				checkOracle(t, c, snap, interp)
				si := snap.Signal
				if si == nil || si.Name != "SIGABRT" || si.Cause != "self" || si.CodeName != "SI_TKILL" || !si.Fatal ||
					si.SenderPID == nil || *si.SenderPID != c.Oracle.PID {
					t.Errorf("os.abort() in pid %d: signal %s", c.Oracle.PID, signalString(si))
				}
				text := threadsText(t, c.Path)
				if want := "SI_TKILL from the process itself"; !strings.Contains(text, want) {
					t.Errorf("os.abort(): the text lacks %q:\n%s", want, head(text, 15))
				}
				checkPrintedFirst(t, text, c.Oracle)
			})
			t.Run("segv", func(t *testing.T) {
				c := makeSignalCore(t, tmp, interp, "sig_segv", pytest.Kernel)
				snap := runThreads(t, c.Path)
				checkOracle(t, c, snap, interp)
				b, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.addr"))
				if err != nil {
					t.Fatal(err)
				}
				addr, err := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 64)
				if err != nil {
					t.Fatalf("oracle.json.addr: %v", err)
				}
				si := snap.Signal
				if si == nil || si.Name != "SIGSEGV" || si.Cause != "fault" || si.CodeName != "SEGV_MAPERR" || !si.Fatal ||
					!si.HasAddress || si.Address != addr || si.SenderPID != nil {
					t.Errorf("read of %#x: signal %s", addr, signalString(si))
				}
				text := threadsText(t, c.Path)
				if want := fmt.Sprintf("Signal: SIGSEGV (11), SEGV_MAPERR at address %#x: a crash in thread", addr); !strings.Contains(text, want) {
					t.Errorf("segfault: the text lacks %q:\n%s", want, head(text, 15))
				}
				checkPrintedFirst(t, text, c.Oracle)
			})
			if sent == nil || abort == nil {
				return
			}
			t.Run("report", func(t *testing.T) {
				r := reportJSON(t, sent.Path, abort.Path)
				if len(r.Groups) != 2 {
					t.Fatalf("kill -ABRT and os.abort() cores: %d groups, want 2", len(r.Groups))
				}
				for _, g := range r.Groups {
					request := g.Example == sent.Path
					if g.Signature.DumpRequest != request || g.Thread == nil || g.Thread.Crashed == request ||
						strings.HasPrefix(g.Signature.Text, "dump request (SIGABRT), main thread") != request {
						t.Errorf("group of %s (dump request: %v): %s, thread %v", g.Example, request, g.Signature.Text, g.Thread)
					}
				}
			})
		})
	}
}

func makeSignalCore(t *testing.T, tmp string, interp pytest.Interpreter, scenario string, kind pytest.CoreKind) *pytest.Core {
	t.Helper()
	c, err := pytest.MakeCoreIn(tmp, signalsDir(), interp, scenario, kind)
	if err != nil {
		t.Fatalf("%s %s %s core: %v", interp.Name(), scenario, kind, err)
	}
	return c
}

// checkOracle checks threads, stacks and the crashed thread against the program's oracle.
func checkOracle(t *testing.T, c *pytest.Core, snap *render.Snapshot, interp pytest.Interpreter) {
	t.Helper()
	for _, e := range compare(c.Oracle, snap, interp) {
		t.Error(e)
	}
}

func threadsText(t *testing.T, core string) string {
	t.Helper()
	cmd := exec.Command(pycoreBin, "threads", core)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pycore threads %s: %v\n%s", core, err, stderr.String())
	}
	return stdout.String()
}

// checkPrintedFirst checks that the first thread of the table and of the tracebacks is
// the one the oracle says crashed.
func checkPrintedFirst(t *testing.T, text string, o *pytest.Oracle) {
	t.Helper()
	id := fmt.Sprintf("%#x", o.Crashed)
	var row, block string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(strings.Trim(line, "│ "))
		if row == "" && len(f) > 0 && strings.HasPrefix(f[0], "0x") {
			row = f[0]
		}
		if block == "" && strings.HasPrefix(line, "Thread 0x") {
			block = strings.Fields(line)[1]
		}
	}
	if row != id || block != id {
		t.Errorf("the crashed thread %s is not printed first (first row %s, first traceback %s):\n%s", id, row, block, head(text, 15))
	}
}

func signalString(si *render.Signal) string {
	if si == nil {
		return "none"
	}
	p := func(v *int) string {
		if v == nil {
			return "null"
		}
		return strconv.Itoa(*v)
	}
	return fmt.Sprintf("%s %s cause %s fatal %v address %#x (has %v) sender pid %s uid %s thread %d",
		si.Name, si.CodeName, si.Cause, si.Fatal, si.Address, si.HasAddress, p(si.SenderPID), p(si.SenderUID), si.Thread)
}
