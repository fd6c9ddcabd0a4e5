package unwind

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/symbols"
)

// gdbFrame is one frame of gdb's bt: its pc, function and whether it is the
// signal trampoline.
type gdbFrame struct {
	pc     uint64
	fn     string
	signal bool
}

// gdbScript lists every thread's frames as "lwp pc signal name", leaving
// out inlined frames (the unwinder yields physical frames) and the tail-call
// frames gdb makes up from DW_TAG_call_site (no stack holds them).
const gdbScript = `
import gdb
for th in gdb.selected_inferior().threads():
    th.switch()
    f = gdb.newest_frame()
    while f is not None:
        if f.type() not in (gdb.INLINE_FRAME, gdb.TAILCALL_FRAME):
            print("F %d %#x %d %s" % (th.ptid[1], f.pc(), f.type() == gdb.SIGTRAMP_FRAME, f.name() or "-"))
        f = f.older()
`

func gdbFrames(t *testing.T, exe, corePath string) map[int][]gdbFrame {
	t.Helper()
	script := filepath.Join(t.TempDir(), "bt.py")
	if err := os.WriteFile(script, []byte(gdbScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("gdb", "-nx", "-batch", "-ex", "set backtrace past-main on", "-ex", "source "+script, exe, corePath).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	frames := map[int][]gdbFrame{}
	for _, line := range strings.Split(string(out), "\n") {
		var lwp, sig int
		var pc uint64
		var name string
		if n, _ := fmt.Sscanf(line, "F %d %v %d %s", &lwp, &pc, &sig, &name); n == 4 {
			if name == "-" {
				name = ""
			}
			frames[lwp] = append(frames[lwp], gdbFrame{pc: pc, fn: name, signal: sig == 1})
		}
	}
	if len(frames) == 0 {
		t.Fatalf("gdb listed no frames:\n%s", out)
	}
	return frames
}

// TestUnwindMatchesGdb builds a C program without frame pointers, parks it
// with its threads 3 calls deep in poll() (one inside a signal handler),
// takes a gcore and checks every thread's frames against gdb's bt (with
// "backtrace past-main": the unwinder goes on to _start, gdb stops at main by default).
func TestUnwindMatchesGdb(t *testing.T) {
	for _, tool := range []string{"gcc", "gdb", "gcore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "nat")
	if out, err := exec.Command("gcc", "-O2", "-g", "-fomit-frame-pointer", "-pthread", "-o", exe, "testdata/nat.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("program did not get ready: %q %v", line, err)
	}
	corePath := filepath.Join(dir, "core")
	// Give the main thread time to enter poll() after printing.
	time.Sleep(200 * time.Millisecond)
	if out, err := exec.CommandContext(ctx, "gcore", "-o", corePath, strconv.Itoa(cmd.Process.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	corePath += "." + strconv.Itoa(cmd.Process.Pid)

	p, err := core.Open(corePath, core.Options{Executable: exe})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	syms, err := symbols.Load(p, symbols.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer syms.Close()
	want := gdbFrames(t, exe, corePath)
	u := New(p, syms)
	sawSignal := false
	for _, th := range p.Threads {
		st := u.Unwind(th)
		for _, f := range st.Frames {
			sawSignal = sawSignal || f.Signal
		}
		w := want[th.TID]
		var got, exp []string
		for _, f := range st.Frames {
			got = append(got, fmt.Sprintf("%#x sig=%v %s", uint64(f.PC), f.Signal, f.Function))
		}
		for _, f := range w {
			exp = append(exp, fmt.Sprintf("%#x sig=%v %s", f.pc, f.signal, f.fn))
		}
		ok := len(got) == len(exp)
		for i := 0; ok && i < len(got); i++ {
			g, e := st.Frames[i], w[i]
			// Names are compared in the program itself: in libc gdb names
			// functions by their DWARF names (__GI___poll), we by ELF symbol.
			ok = uint64(g.PC) == e.pc && g.Signal == e.signal &&
				(g.Module == nil || g.Module.Path != exe || g.Function == e.fn)
		}
		if !ok {
			t.Errorf("thread %d (stop: %s):\n got  %s\n want %s", th.TID, st.Stop,
				strings.Join(got, "\n      "), strings.Join(exp, "\n      "))
		} else {
			t.Logf("thread %d: %d frames match gdb; stop: %s", th.TID, len(got), st.Stop)
		}
	}
	if !sawSignal {
		t.Errorf("no thread unwound through a signal frame")
	}
}
