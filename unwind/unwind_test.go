package unwind

import (
	"bufio"
	"context"
	"debug/elf"
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

func gdbFrames(t *testing.T, exe, corePath, debugDir string) map[int][]gdbFrame {
	t.Helper()
	script := filepath.Join(t.TempDir(), "bt.py")
	if err := os.WriteFile(script, []byte(gdbScript), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-nx", "-batch"}
	if debugDir != "" {
		args = append(args, "-iex", "set debug-file-directory "+debugDir)
	}
	args = append(args, "-ex", "set backtrace past-main on", "-ex", "source "+script, exe, corePath)
	out, err := exec.Command("gdb", args...).CombinedOutput()
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
// "backtrace past-main": the unwinder goes on to _start, gdb stops at main
// by default). The program is built three ways: with unwind tables
// (.eh_frame), without them (its functions' CFI only in -g's .debug_frame),
// and so with its debug info moved to a detached debug file found by build
// ID (.debug_frame there only).
func TestUnwindMatchesGdb(t *testing.T) {
	for _, tool := range []string{"gcc", "gdb", "gcore", "objcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	noTables := []string{"-fno-asynchronous-unwind-tables", "-fno-unwind-tables"}
	for _, tc := range []struct {
		name     string
		flags    []string
		detached bool
	}{
		{"eh_frame", nil, false},
		{"debug_frame", noTables, false},
		{"detached_debug_frame", noTables, true},
	} {
		t.Run(tc.name, func(t *testing.T) { unwindMatchesGdb(t, tc.flags, tc.detached) })
	}
}

func unwindMatchesGdb(t *testing.T, flags []string, detached bool) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "nat")
	args := append([]string{"-O2", "-g", "-fomit-frame-pointer", "-Wl,--build-id", "-pthread", "-o", exe}, flags...)
	if out, err := exec.Command("gcc", append(args, "testdata/nat.c")...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	debugDir := ""
	if detached {
		debugDir = detachDebug(t, exe)
	}
	if len(flags) > 0 {
		// The test means something only if the program's own functions
		// have no .eh_frame FDE.
		ef, err := elf.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		defer ef.Close()
		syms, _ := ef.Symbols()
		eh := ef.Section(".eh_frame")
		data, err := eh.Data()
		if err != nil {
			t.Fatal(err)
		}
		tab, _ := parseEhFrame(data, eh.Addr)
		for _, sym := range syms {
			if sym.Name == "nat_block_inner" && tab.find(sym.Value) != nil {
				t.Fatalf("%s has an .eh_frame FDE for nat_block_inner despite %v", exe, flags)
			}
		}
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
	var opts symbols.Options
	if debugDir != "" {
		opts.DebugDirs = []string{debugDir}
	}
	syms, err := symbols.Load(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer syms.Close()
	want := gdbFrames(t, exe, corePath, debugDir)
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
			ok = uint64(g.PC) == e.pc && g.Signal == e.signal && !(g.FramePointer && g.Module != nil && g.Module.Path == exe) &&
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

// detachDebug moves exe's debug info (.debug_frame among it) to a detached
// debug file under a new debug directory, by build ID, as distributions
// ship it, and returns the directory.
func detachDebug(t *testing.T, exe string) string {
	t.Helper()
	out, err := exec.Command("readelf", "-n", exe).Output()
	if err != nil {
		t.Fatalf("readelf -n: %v", err)
	}
	var id string
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, "Build ID: "); i >= 0 {
			id = strings.TrimSpace(line[i+len("Build ID: "):])
		}
	}
	if len(id) < 3 {
		t.Fatalf("%s has no build ID:\n%s", exe, out)
	}
	debugDir := filepath.Join(filepath.Dir(exe), "debug")
	dbg := filepath.Join(debugDir, ".build-id", id[:2], id[2:]+".debug")
	if err := os.MkdirAll(filepath.Dir(dbg), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"objcopy", "--only-keep-debug", exe, dbg},
		{"objcopy", "--strip-debug", exe},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	if out, _ := exec.Command("readelf", "-S", exe).Output(); strings.Contains(string(out), ".debug_frame") {
		t.Fatalf("%s still has .debug_frame after objcopy --strip-debug", exe)
	}
	return debugDir
}
