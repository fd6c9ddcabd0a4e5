package e2e

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pycore/pycore/internal/pytest"
)

// gdbBtScript lists every thread's frames as "F lwp pc signal inlined name
// file line" (tail-call frames left out: no stack holds them; inlined
// frames kept, at the pc of the frame that contains them).
const gdbBtScript = `
import gdb, os
for th in gdb.selected_inferior().threads():
    th.switch()
    f = gdb.newest_frame()
    while f is not None:
        if f.type() != gdb.TAILCALL_FRAME:
            sal = f.find_sal()
            file = os.path.basename(sal.symtab.filename) if sal.symtab else "-"
            print("F %d %#x %d %d %s %s %d" % (th.ptid[1], f.pc(), f.type() == gdb.SIGTRAMP_FRAME,
                  f.type() == gdb.INLINE_FRAME, f.name() or "-", file, sal.line))
        f = f.older()
`

type btFrame struct {
	pc      uint64
	signal  bool
	inlined bool
	fn      string
	file    string // base name, "" without a line
	line    int
}

func gdbBacktraces(t *testing.T, gdb, exe, corePath string) map[int][]btFrame {
	t.Helper()
	return gdbBacktracesWith(t, gdb, exe, corePath, "")
}

// gdbBacktracesWith is gdbBacktraces with gdb reading detached debug files
// from debugDir (none if "").
func gdbBacktracesWith(t *testing.T, gdb, exe, corePath, debugDir string) map[int][]btFrame {
	t.Helper()
	script := filepath.Join(t.TempDir(), "bt.py")
	if err := os.WriteFile(script, []byte(gdbBtScript), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"-nx", "-batch"}
	if debugDir != "" {
		args = append(args, "-iex", "set debug-file-directory "+debugDir)
	}
	args = append(args, "-ex", "set backtrace past-main on", "-ex", "source "+script, exe, corePath)
	out, err := exec.CommandContext(ctx, gdb, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	frames := map[int][]btFrame{}
	for _, line := range strings.Split(string(out), "\n") {
		var lwp, sig, inl, ln int
		var pc uint64
		var name, file string
		if n, _ := fmt.Sscanf(line, "F %d %v %d %d %s %s %d", &lwp, &pc, &sig, &inl, &name, &file, &ln); n == 7 {
			if name == "-" {
				name = ""
			}
			if file == "-" {
				file, ln = "", 0
			}
			frames[lwp] = append(frames[lwp], btFrame{pc, sig == 1, inl == 1, name, file, ln})
		}
	}
	if len(frames) == 0 {
		t.Fatalf("gdb listed no frames:\n%s", out)
	}
	return frames
}

// nativeDoc is what the test reads of pycore threads --native[-all] --json.
type nativeDoc struct {
	Crash *struct {
		Signal  string  `json:"signal"`
		Code    *int    `json:"code"`
		Address *uint64 `json:"address"`
		Source  string  `json:"source"`
		PC      uint64  `json:"pc"`
		Frame   *struct {
			PC       uint64  `json:"pc"`
			Function *string `json:"function"`
		} `json:"frame"`
	} `json:"crash"`
	Threads []struct {
		LWP        int     `json:"lwp"`
		ThreadID   *uint64 `json:"thread_id"`
		NativeStop string  `json:"native_stop"`
		MergeError string  `json:"merge_error"`
		Frames     []struct {
			Kind     string  `json:"kind"`
			PC       uint64  `json:"pc"`
			Function *string `json:"function"`
			Module   *string `json:"module"`
			Signal   bool    `json:"signal"`
			Inlined  bool    `json:"inlined"`
			File     string  `json:"file"`
			Line     int     `json:"line"`
		} `json:"frames"`
	} `json:"threads"`
}

// buildLibnat compiles testdata/native/libnat.c as the tests need it:
// optimised, with DWARF, without frame pointers.
func buildLibnat(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	lib := filepath.Join(t.TempDir(), "libnat.so")
	if out, err := exec.Command("gcc", "-O2", "-g", "-fomit-frame-pointer", "-shared", "-fPIC", "-pthread",
		"-o", lib, "testdata/native/libnat.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return lib
}

// gcoreNat runs nat.py under interp, waits until its threads are parked and
// dumps it with gcore; the process is killed afterwards.
func gcoreNat(t *testing.T, interp pytest.Interpreter, lib string) string {
	t.Helper()
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	cmd := interp.Command(context.Background(), os.Environ(), "testdata/native/nat.py", lib, ready)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nat.py not ready after 90 s:\n%s", stderr.String())
		}
	}
	prefix := filepath.Join(dir, "core")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pid := strconv.Itoa(cmd.Process.Pid)
	var gc *exec.Cmd
	if gdb := pytest.GdbPath(); gdb != "" {
		gc = exec.CommandContext(ctx, gdb, "-batch", "-p", pid, "-ex", "gcore "+prefix+"."+pid)
	} else {
		gc = exec.CommandContext(ctx, "gcore", "-o", prefix, pid)
	}
	if out, err := gc.CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	return prefix + "." + pid
}

// TestNativeAllMatchesGdb: pycore threads --native-all lists, for every
// thread of a gcore of nat.py (a C thread that never ran Python included),
// the native frames gdb's bt lists: same pcs, same order, the signal frame in
// the same place, the same names and lines in libnat, its two inlined
// functions as frames of their own at nat_block_inner's pc as gdb lists
// them; and the callback thread reads Python -> C -> C -> C -> Python.
func TestNativeAllMatchesGdb(t *testing.T) {
	for _, tool := range []string{"gdb", "gcore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	lib := buildLibnat(t)
	gdb := pytest.Gdb()
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			corePath := gcoreNat(t, interp, lib)
			doc, seqs := compareWithGdb(t, gdb, interp, corePath)
			sawC, sawCallback := false, false
			for k, th := range doc.Threads {
				seq := seqs[k]
				if th.ThreadID == nil && strings.Contains(seq, "C:nat_poll_inl C:nat_wait_inl C:nat_block_inner C:nat_block_mid C:nat_block_outer") {
					sawC = true
				}
				if i := strings.Index(seq, "C:nat_cb_inner C:nat_cb_mid C:nat_cb_outer"); i >= 0 {
					sawCallback = strings.Contains(seq[:i], "P") && strings.Contains(seq[i:], "P")
					if !sawCallback {
						t.Errorf("thread %d: the callback's Python frames are not on both sides of libnat's: %s", th.LWP, seq)
					}
				}
			}
			if !sawC {
				t.Errorf("no thread unknown to Python blocked in nat_poll_inl <- nat_wait_inl (both inlined) <- nat_block_inner <- nat_block_mid <- nat_block_outer")
			}
			if !sawCallback {
				t.Errorf("no thread in nat_cb_inner <- nat_cb_mid <- nat_cb_outer")
			}
		})
	}
}

// TestNativeMergeWithoutDebugInfo: on the stripped builds that ship their
// debug info apart (Debian's; the system python3.11), pycore threads
// --native-all without --debug-dir still places every thread's Python frames
// on its native stack: no merge error, the Python frames are the ones
// sys._current_frames() listed in the program, and the native frame each run
// of them is placed on is the one gdb, given the debug files, names the eval
// loop (_PyEval_EvalFrameDefault, or its .cold part), whatever .dynsym says.
func TestNativeMergeWithoutDebugInfo(t *testing.T) {
	for _, tool := range []string{"gdb", "gcore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	lib := buildLibnat(t)
	gdb := pytest.Gdb()
	ran := 0
	for _, interp := range interpreters(t) {
		if interp.DebugDir == "" && interp.Origin != "system" {
			continue // its symbols are in the binary: TestNativeAllMatchesGdb
		}
		ran++
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			corePath := gcoreNat(t, interp, lib)
			var oracle map[string][]string
			if data, err := os.ReadFile(filepath.Join(filepath.Dir(corePath), "ready.frames")); err != nil || json.Unmarshal(data, &oracle) != nil {
				t.Fatalf("nat.py wrote no stacks: %v", err)
			}
			out, err := exec.Command(pycoreBin, "threads", "--native-all", "--json", corePath).Output()
			if err != nil {
				t.Fatalf("pycore threads --native-all: %v", err)
			}
			var doc nativeDoc
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			bt := gdbBacktracesWith(t, gdb, interp.Exe, corePath, interp.DebugDir)
			pythonThreads := 0
			for _, th := range doc.Threads {
				if th.ThreadID == nil {
					continue
				}
				pythonThreads++
				if th.MergeError != "" {
					t.Errorf("thread %d: %s", th.LWP, th.MergeError)
					continue
				}
				names := map[uint64]string{}
				for _, f := range bt[th.LWP] {
					names[f.pc] = f.fn
				}
				var py []string
				for i, f := range th.Frames {
					if f.Kind != "python" {
						continue
					}
					name := ""
					if f.Function != nil {
						name = *f.Function
					}
					py = append(py, name)
					if i+1 < len(th.Frames) && th.Frames[i+1].Kind == "native" {
						if fn := names[th.Frames[i+1].PC]; !strings.Contains(fn, "_PyEval_EvalFrameDefault") {
							t.Errorf("thread %d: Python frame %s placed on %#x, which gdb calls %q", th.LWP, name, th.Frames[i+1].PC, fn)
						}
					}
				}
				if want := oracle[strconv.FormatUint(*th.ThreadID, 10)]; strings.Join(py, " ") != strings.Join(want, " ") {
					t.Errorf("thread %d: Python frames %v, sys._current_frames() had %v", th.LWP, py, want)
				}
			}
			if pythonThreads != len(oracle) {
				t.Errorf("%d Python threads, the program had %d", pythonThreads, len(oracle))
			}
		})
	}
	if ran == 0 {
		t.Skip("no interpreter with detached debug info here")
	}
}

// compareWithGdb checks pycore threads --native-all --json of corePath
// against gdb's bt of every thread and returns the document with each
// thread's frames as "P" (Python) and "C:function" words, innermost first.
func compareWithGdb(t *testing.T, gdb string, interp pytest.Interpreter, corePath string) (nativeDoc, []string) {
	t.Helper()
	return compareWithGdbIn(t, gdb, interp, corePath, "", nil)
}

// compareWithGdbIn is compareWithGdb with gdb reading debug files from
// gdbDebugDir too and pycore run in env (os.Environ() if nil).
func compareWithGdbIn(t *testing.T, gdb string, interp pytest.Interpreter, corePath, gdbDebugDir string, env []string) (nativeDoc, []string) {
	t.Helper()
	var seqs []string
	dirs := interp.DebugDir
	if gdbDebugDir != "" {
		dirs = strings.Trim(gdbDebugDir+":"+interp.DebugDir, ":")
	}
	want := gdbBacktracesWith(t, gdb, interp.Exe, corePath, dirs)
	args := []string{"threads", "--native-all", "--json", corePath}
	if interp.DebugDir != "" {
		args = append(args, "--debug-dir", interp.DebugDir)
	}
	cmd := exec.Command(pycoreBin, args...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pycore threads --native-all: %v", err)
	}
	var doc nativeDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Threads) != len(want) {
		t.Errorf("%d threads, gdb has %d", len(doc.Threads), len(want))
	}
	for _, th := range doc.Threads {
		// Inlined frames are compared exactly in libnat, built here. In the
		// interpreters' and libc's code gdb 18 leaves out some inlined calls
		// that DWARF and addr2line -i have (LTO builds' nested inlined
		// subroutines whose abstract origins are in another unit): there
		// every physical frame must match, and the inlined frames that
		// differ are logged.
		libnat := map[uint64]bool{}
		var kinds []string
		type cmpFrame struct {
			key, name string
			pc        uint64
			inlined   bool
			file      string // base name
			line      int
		}
		var got, exp []cmpFrame
		for _, f := range th.Frames {
			if f.Kind == "python" {
				kinds = append(kinds, "P")
				continue
			}
			fn := ""
			if f.Function != nil {
				fn = *f.Function
			}
			kinds = append(kinds, "C:"+fn)
			if f.Module != nil && filepath.Base(*f.Module) == "libnat.so" {
				libnat[f.PC] = true
			}
			got = append(got, cmpFrame{fmt.Sprintf("%#x sig=%v inlined=%v", f.PC, f.Signal, f.Inlined), fn, f.PC, f.Inlined, filepath.Base(f.File), f.Line})
		}
		seqs = append(seqs, strings.Join(kinds, " "))
		for _, f := range want[th.LWP] {
			exp = append(exp, cmpFrame{fmt.Sprintf("%#x sig=%v inlined=%v", f.pc, f.signal, f.inlined), f.fn, f.pc, f.inlined, f.file, f.line})
		}
		// render lists the frames compared (with names, to read, if named).
		render := func(fs []cmpFrame, strict, named bool) string {
			var lines []string
			for _, f := range fs {
				if strict || !f.inlined || libnat[f.pc] {
					if named {
						lines = append(lines, f.key+" "+f.name)
					} else {
						lines = append(lines, f.key)
					}
				}
			}
			return strings.Join(lines, "\n      ")
		}
		if render(got, false, false) != render(exp, false, false) {
			t.Errorf("thread %d (stop: %s): native frames differ from gdb's\n got  %s\n want %s", th.LWP, th.NativeStop,
				render(got, false, true), render(exp, false, true))
			continue
		}
		strict := render(got, true, false) == render(exp, true, false)
		if !strict {
			t.Logf("thread %d: inlined frames outside libnat differ from gdb's\n got  %s\n want %s", th.LWP,
				render(got, true, true), render(exp, true, true))
		}
		// Names and lines in libnat, where both have its symbols and DWARF,
		// and of every inlined frame compared.
		var g, w []cmpFrame
		for k := range got {
			if strict || !got[k].inlined || libnat[got[k].pc] {
				g = append(g, got[k])
			}
		}
		for k := range exp {
			if strict || !exp[k].inlined || libnat[exp[k].pc] {
				w = append(w, exp[k])
			}
		}
		for k := range g {
			if !libnat[g[k].pc] && !g[k].inlined {
				continue
			}
			if g[k].name != w[k].name || w[k].file != "" && g[k].file != w[k].file || g[k].line != w[k].line {
				t.Errorf("thread %d: pc %#x (inlined %v): %s at %s:%d, gdb says %s at %s:%d", th.LWP, g[k].pc, g[k].inlined,
					g[k].name, g[k].file, g[k].line, w[k].name, w[k].file, w[k].line)
			}
		}
		if th.MergeError != "" {
			t.Errorf("thread %d: %s", th.LWP, th.MergeError)
		}
	}
	return doc, seqs
}

// crashGdbScript prints the crashed thread's siginfo as the core records it
// ("SI code addr"), the fault registers of glibc's ucontext_t (gregs
// REG_CR2 = 22, REG_RIP = 16; the type from libnat's DWARF, as not every
// libc has debug info) at the sp of gdb's innermost signal frame ("CTX cr2
// rip") and, when libnat's own handler ran, the fault address the kernel
// gave that handler ("INFO addr").
const crashGdbScript = `
import gdb
si = gdb.parse_and_eval("$_siginfo")
print("SI %d %#x" % (int(si["si_code"]), int(si["_sifields"]["_sigfault"]["si_addr"])))
f = gdb.newest_frame()
while f is not None:
    if f.type() == gdb.SIGTRAMP_FRAME:
        f.select()
        g = "((ucontext_t *)$sp)->uc_mcontext.gregs"
        print("CTX %#x %#x" % (int(gdb.parse_and_eval(g + "[22]")) & 0xffffffffffffffff,
                                int(gdb.parse_and_eval(g + "[16]")) & 0xffffffffffffffff))
        break
    f = f.older()
print("BUS %#x" % int(gdb.parse_and_eval("nat_bus_page")))
info = gdb.parse_and_eval("nat_last_info")
if int(info) != 0:
    print("INFO %#x" % int(info.dereference()["_sifields"]["_sigfault"]["si_addr"]))
`

// crashGdb is what crashGdbScript printed; -1 where it printed nothing.
type crashGdb struct {
	code               int
	siAddr, cr2, rip   int64
	handlerAddr        int64
	sawCtx, sawHandler bool
	busPage            uint64 // what nat_bus_inner stored to
}

func gdbCrash(t *testing.T, gdb, exe, corePath string) crashGdb {
	t.Helper()
	script := filepath.Join(t.TempDir(), "crash.py")
	if err := os.WriteFile(script, []byte(crashGdbScript), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gdb, "-nx", "-batch", "-ex", "source "+script, exe, corePath).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	g := crashGdb{code: 1 << 30}
	for _, line := range strings.Split(string(out), "\n") {
		var a, b uint64
		if n, _ := fmt.Sscanf(line, "SI %d %v", &g.code, &a); n == 2 {
			g.siAddr = int64(a)
		} else if n, _ := fmt.Sscanf(line, "CTX %v %v", &a, &b); n == 2 {
			g.cr2, g.rip, g.sawCtx = int64(a), int64(b), true
		} else if n, _ := fmt.Sscanf(line, "BUS %v", &a); n == 1 {
			g.busPage = a
		} else if n, _ := fmt.Sscanf(line, "INFO %v", &a); n == 1 {
			g.handlerAddr, g.sawHandler = int64(a), true
		}
	}
	if g.code == 1<<30 {
		t.Fatalf("gdb printed no siginfo:\n%s", out)
	}
	return g
}

// TestNativeCrashMatchesGdb: kernel cores of nat.py segfaulting in libnat 3
// calls deep, with faulthandler enabled, with no handler, and with libnat's
// own SA_SIGINFO handler (both handlers re-raise, so the core's siginfo is
// SI_TKILL without an address): every thread reads as gdb's bt (through the
// signal frame), and the Crash line and JSON name nat_crash_inner and the
// address the program stored to (which it recorded), the pc inside
// nat_crash_inner (its symbol's bounds from the ELF file), with the address
// where gdb finds it: $_siginfo without a handler, the signal frame's saved
// cr2 after faulthandler, the handler's own siginfo after libnat's.
func TestNativeCrashMatchesGdb(t *testing.T) {
	if _, err := exec.LookPath("gdb"); err != nil {
		t.Skip("gdb not installed")
	}
	if err := pytest.KernelCoresUsable(); err != nil {
		t.Skipf("kernel cores: %v (TestNativeAllMatchesGdb covers gcore cores)", err)
	}
	lib := buildLibnat(t)
	gdb := pytest.Gdb()
	script, err := filepath.Abs("testdata/native/nat.py")
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := ef.Symbols()
	ef.Close()
	if err != nil {
		t.Fatal(err)
	}
	var innerSize uint64
	for _, s := range syms {
		if s.Name == "nat_crash_inner" {
			innerSize = s.Size
		}
	}
	if innerSize == 0 {
		t.Fatal("libnat.so has no sized nat_crash_inner symbol")
	}
	for _, interp := range interpreters(t) {
		for _, mode := range []struct{ arg, source string }{
			{"crash", "signal frame registers"},
			{"crash-nofh", "core"},
			{"crash-handler", "signal frame siginfo"},
		} {
			interp := interp
			t.Run(interp.Name()+"/"+mode.arg, func(t *testing.T) {
				dir := t.TempDir()
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				ready := filepath.Join(dir, "ready")
				cmd := interp.Command(ctx, os.Environ(), script, lib, ready, mode.arg)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if err == nil || !ws.Signaled() || !ws.CoreDump() {
					t.Fatalf("nat.py %s did not dump core (%v):\n%s", mode.arg, err, out)
				}
				cores, _ := filepath.Glob(filepath.Join(dir, "core*"))
				if len(cores) != 1 {
					t.Fatalf("want one core file in %s, found %v", dir, cores)
				}
				var fault struct{ Address, Function uint64 }
				if data, err := os.ReadFile(ready + ".fault"); err != nil || json.Unmarshal(data, &fault) != nil {
					t.Fatalf("nat.py wrote no fault record: %v", err)
				}
				doc, seqs := compareWithGdb(t, gdb, interp, cores[0])
				sawCrash := false
				for k := range doc.Threads {
					fs := doc.Threads[k].Frames
					if !strings.Contains(seqs[k], "C:nat_crash_inner C:nat_crash_mid C:nat_crash_outer") {
						continue
					}
					for i := 0; i < len(fs); i++ {
						if fs[i].Function != nil && *fs[i].Function == "nat_crash_inner" {
							// After a handler, the signal frame is right above.
							sawCrash = (mode.arg == "crash-nofh") == (i == 0) && (i == 0 || fs[i-1].Signal)
						}
					}
				}
				if !sawCrash {
					t.Errorf("no thread reads nat_crash_inner <- nat_crash_mid <- nat_crash_outer with the signal frame where the handler ran: %q", seqs)
				}
				c := doc.Crash
				if c == nil || c.Frame == nil {
					t.Fatalf("JSON has no crash")
				}
				if c.Address == nil || *c.Address != fault.Address || c.Source != mode.source || c.Signal != "SIGSEGV" {
					t.Errorf("crash %+v (address %v): want address %#x (what nat.py stored to) from %q", c, c.Address, fault.Address, mode.source)
				}
				if c.Frame.Function == nil || *c.Frame.Function != "nat_crash_inner" || c.PC < fault.Function || c.PC >= fault.Function+innerSize || c.Frame.PC != c.PC {
					t.Errorf("crash pc %#x (%v): want inside nat_crash_inner [%#x, %#x)", c.PC, c.Frame.Function, fault.Function, fault.Function+innerSize)
				}
				g := gdbCrash(t, gdb, interp.Exe, cores[0])
				switch mode.arg {
				case "crash-nofh":
					if g.code != 1 || uint64(g.siAddr) != *c.Address || c.Code == nil || *c.Code != g.code {
						t.Errorf("gdb's $_siginfo: code %d, address %#x; pycore: %+v", g.code, g.siAddr, c)
					}
				default:
					if g.code != -6 {
						t.Errorf("gdb's $_siginfo code %d, want SI_TKILL (-6): the handler re-raised", g.code)
					}
					if !g.sawCtx || uint64(g.cr2) != *c.Address || uint64(g.rip) != c.PC {
						t.Errorf("gdb's signal frame: cr2 %#x, rip %#x (found %v); pycore: address %v, pc %#x", g.cr2, g.rip, g.sawCtx, c.Address, c.PC)
					}
					if mode.arg == "crash-handler" && (!g.sawHandler || uint64(g.handlerAddr) != *c.Address) {
						t.Errorf("gdb: libnat's handler got address %#x (found %v); pycore %v", g.handlerAddr, g.sawHandler, c.Address)
					}
				}
				text, err := exec.Command(pycoreBin, "threads", "--native", cores[0]).Output()
				if err != nil {
					t.Fatalf("pycore threads --native: %v", err)
				}
				if want := fmt.Sprintf("Crash: SIGSEGV (SEGV_MAPERR, address %#x) in nat_crash_inner (libnat.so+0x", fault.Address); !strings.Contains(string(text), want) ||
					!strings.Contains(string(text), "libnat.c:") {
					t.Errorf("no %q ... libnat.c:N line in:\n%s", want, text)
				}
			})
		}
	}
}

// TestNativeCrashFaults: kernel cores of nat.py dying in libnat 3 calls
// deep of SIGBUS (a store past a mapped file's end), SIGILL (ud2) and
// SIGFPE (an integer divide by zero), with no handler and after
// faulthandler: every thread reads as gdb's bt, and the crash names the
// signal, the si_code and the address gdb's $_siginfo has (without a
// handler; after faulthandler the same code and address, read from the
// signal frame), SIGBUS's address the one nat_bus_inner stored to (gdb
// prints it from libnat), the others' the faulting instruction in the
// inner function, which the Crash line names with its file:line.
func TestNativeCrashFaults(t *testing.T) {
	if _, err := exec.LookPath("gdb"); err != nil {
		t.Skip("gdb not installed")
	}
	if err := pytest.KernelCoresUsable(); err != nil {
		t.Skipf("kernel cores: %v", err)
	}
	lib := buildLibnat(t)
	gdb := pytest.Gdb()
	script, err := filepath.Abs("testdata/native/nat.py")
	if err != nil {
		t.Fatal(err)
	}
	faults := []struct {
		kind, signal, code, inner string
	}{
		{"bus", "SIGBUS", "BUS_ADRERR", "nat_bus_inner"},
		{"ill", "SIGILL", "ILL_ILLOPN", "nat_ill_inner"},
		{"fpe", "SIGFPE", "FPE_INTDIV", "nat_fpe_inner"},
	}
	for _, interp := range interpreters(t) {
		for _, fl := range faults {
			// Without a handler first: its $_siginfo is the oracle of the
			// faulthandler run's code and the inner function's address.
			var nofh *uint64
			for _, fh := range []bool{false, true} {
				interp, fl, fh := interp, fl, fh
				mode := fl.kind
				if fh {
					mode += "-fh"
				}
				t.Run(interp.Name()+"/"+mode, func(t *testing.T) {
					dir := t.TempDir()
					ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
					defer cancel()
					cmd := interp.Command(ctx, os.Environ(), script, lib, filepath.Join(dir, "ready"), mode)
					cmd.Dir = dir
					out, err := cmd.CombinedOutput()
					ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
					if err == nil || !ws.Signaled() || !ws.CoreDump() {
						t.Fatalf("nat.py %s did not dump core (%v):\n%s", mode, err, out)
					}
					if got := ws.Signal().String(); !strings.EqualFold(strings.ReplaceAll(got, " ", ""), strings.ReplaceAll(map[string]string{"SIGBUS": "bus error", "SIGILL": "illegal instruction", "SIGFPE": "floating point exception"}[fl.signal], " ", "")) {
						t.Fatalf("nat.py %s died of %q, want %s", mode, got, fl.signal)
					}
					cores, _ := filepath.Glob(filepath.Join(dir, "core*"))
					if len(cores) != 1 {
						t.Fatalf("want one core file in %s, found %v", dir, cores)
					}
					doc, seqs := compareWithGdb(t, gdb, interp, cores[0])
					want := "C:" + fl.inner + " C:nat_fault_mid C:nat_fault_outer"
					found := false
					for _, seq := range seqs {
						found = found || strings.Contains(seq, want)
					}
					if !found {
						t.Errorf("no thread reads %s: %q", want, seqs)
					}
					g := gdbCrash(t, gdb, interp.Exe, cores[0])
					c := doc.Crash
					busFH := fl.kind == "bus" && fh // no code from the saved registers
					if c == nil || c.Frame == nil || c.Address == nil || (c.Code == nil) != busFH {
						t.Fatalf("crash %+v: want signal, code (none for SIGBUS after a handler), address and frame", c)
					}
					if c.Signal != fl.signal || c.Frame.Function == nil || *c.Frame.Function != fl.inner || c.Frame.PC != c.PC {
						t.Errorf("crash %s in %v at %#x, want %s in %s", c.Signal, c.Frame.Function, c.PC, fl.signal, fl.inner)
					}
					wantAddr := c.PC // the faulting instruction
					if fl.kind == "bus" {
						wantAddr = g.busPage
					}
					if *c.Address != wantAddr {
						t.Errorf("crash address %#x, want %#x", *c.Address, wantAddr)
					}
					if !fh {
						if g.code != *c.Code || uint64(g.siAddr) != *c.Address || c.Source != "core" {
							t.Errorf("gdb's $_siginfo: code %d, address %#x; pycore: code %d, address %#x from %s", g.code, g.siAddr, *c.Code, *c.Address, c.Source)
						}
						code := uint64(g.code)
						nofh = &code
					} else {
						if c.Source != "signal frame registers" || !g.sawCtx || uint64(g.rip) != c.PC {
							t.Errorf("crash from %q, pc %#x; gdb's signal frame rip %#x (found %v)", c.Source, c.PC, g.rip, g.sawCtx)
						}
						if !busFH && nofh != nil && uint64(*c.Code) != *nofh {
							t.Errorf("after faulthandler code %d, the kernel gave %d without it", *c.Code, *nofh)
						}
					}
					text, err := exec.Command(pycoreBin, "threads", "--native", cores[0]).Output()
					if err != nil {
						t.Fatalf("pycore threads --native: %v", err)
					}
					line := fmt.Sprintf("Crash: %s (%s, address %#x) in %s (libnat.so+0x", fl.signal, fl.code, *c.Address, fl.inner)
					if busFH {
						line = fmt.Sprintf("Crash: %s (address %#x) in %s (libnat.so+0x", fl.signal, *c.Address, fl.inner)
					}
					if !strings.Contains(string(text), line) || !strings.Contains(string(text), "libnat.c:") {
						t.Errorf("no %q ... libnat.c:N) line in:\n%s", line, text)
					}
				})
			}
		}
	}
}

// TestNativeDebuginfod: with libnat's debug info only on an elfutils
// debuginfod server (started here on loopback over a directory of debug
// files), pycore threads --native-all given DEBUGINFOD_URLS fetches it by
// build ID into DEBUGINFOD_CACHE_PATH/ID/debuginfo (saying so on stderr),
// and then reads as gdb's bt given the same debug file: libnat's lines and
// its inlined frames, which only its DWARF has. With --no-debuginfod, or
// without DEBUGINFOD_URLS, nothing is fetched and libnat has no lines.
func TestNativeDebuginfod(t *testing.T) {
	for _, tool := range []string{"gdb", "gcore", "objcopy", "readelf", "debuginfod"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	lib := buildLibnat(t)
	gdb := pytest.Gdb()
	dir := t.TempDir()
	id := buildID(t, lib)
	served := filepath.Join(dir, "served")
	dbg := filepath.Join(served, ".build-id", id[:2], id[2:]+".debug")
	if err := os.MkdirAll(filepath.Dir(dbg), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"objcopy", "--only-keep-debug", lib, dbg}, {"objcopy", "--strip-debug", lib}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	url := startDebuginfod(t, served, id)
	interp := interpreters(t)[0]
	corePath := gcoreNat(t, interp, lib)

	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEBUGINFOD_") {
			env = append(env, kv)
		}
	}
	cache := filepath.Join(dir, "cache")
	withURL := append(append([]string{}, env...), "DEBUGINFOD_URLS="+url, "DEBUGINFOD_CACHE_PATH="+cache)

	// Fetched: pycore reads as gdb given the debug file.
	var stderr strings.Builder
	doc, seqs := compareWithGdbIn(t, gdb, interp, corePath, served, withURL)
	sawInlined := false
	for _, seq := range seqs {
		sawInlined = sawInlined || strings.Contains(seq, "C:nat_poll_inl C:nat_wait_inl C:nat_block_inner")
	}
	if !sawInlined {
		t.Errorf("no thread has libnat's inlined frames (from the fetched DWARF): %q", seqs)
	}
	if libnatLines(doc) == 0 {
		t.Errorf("no libnat frame has a line after the fetch")
	}
	want, err := os.ReadFile(dbg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(cache, id, "debuginfo")); err != nil || string(got) != string(want) {
		t.Errorf("cache %s/%s/debuginfo: %d bytes (%v), the served file has %d", cache, id, len(got), err, len(want))
	}
	// The stderr note, on a fresh cache.
	cmd := exec.Command(pycoreBin, "threads", "--native-all", corePath)
	cmd.Env = append(append([]string{}, env...), "DEBUGINFOD_URLS="+url, "DEBUGINFOD_CACHE_PATH="+filepath.Join(dir, "cache2"))
	cmd.Stderr = &stderr
	if _, err := cmd.Output(); err != nil {
		t.Fatalf("pycore threads --native-all: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "fetched the debug info of") || !strings.Contains(stderr.String(), "libnat.so") {
		t.Errorf("stderr does not say what was fetched:\n%s", stderr.String())
	}

	// Not fetched: --no-debuginfod, and no DEBUGINFOD_URLS.
	for _, c := range []struct {
		name string
		env  []string
		args []string
	}{
		{"--no-debuginfod", append(append([]string{}, env...), "DEBUGINFOD_URLS="+url, "DEBUGINFOD_CACHE_PATH="+filepath.Join(dir, "cache3")), []string{"--no-debuginfod"}},
		{"no DEBUGINFOD_URLS", append(append([]string{}, env...), "DEBUGINFOD_CACHE_PATH="+filepath.Join(dir, "cache3")), nil},
	} {
		var errOut strings.Builder
		cmd := exec.Command(pycoreBin, append([]string{"threads", "--native-all", "--json", corePath}, c.args...)...)
		cmd.Env, cmd.Stderr = c.env, &errOut
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: pycore: %v\n%s", c.name, err, errOut.String())
		}
		var d nativeDoc
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatal(err)
		}
		if n := libnatLines(d); n != 0 || strings.Contains(errOut.String(), "debuginfod") {
			t.Errorf("%s: %d libnat frames with lines, stderr %q: something was fetched", c.name, n, errOut.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "cache3")); err == nil {
			t.Errorf("%s: the cache was written", c.name)
		}
	}
}

// libnatLines counts libnat's frames that have a source line.
func libnatLines(d nativeDoc) int {
	n := 0
	for _, th := range d.Threads {
		for _, f := range th.Frames {
			if f.Module != nil && filepath.Base(*f.Module) == "libnat.so" && f.Line > 0 {
				n++
			}
		}
	}
	return n
}

// buildID is file's GNU build ID in hex.
func buildID(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("readelf", "-n", file).Output()
	if err != nil {
		t.Fatalf("readelf -n %s: %v", file, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, "Build ID: "); i >= 0 {
			if id := strings.TrimSpace(line[i+len("Build ID: "):]); len(id) > 2 {
				return id
			}
		}
	}
	t.Fatalf("%s has no build ID", file)
	return ""
}

// startDebuginfod runs elfutils' debuginfod over the debug files under dir
// on a free port and waits until it serves build ID id; it returns the
// server's loopback URL and is stopped when the test ends.
func startDebuginfod(t *testing.T, dir, id string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	db := filepath.Join(t.TempDir(), "debuginfod.sqlite")
	cmd := exec.Command("debuginfod", "-F", "-p", strconv.Itoa(port), "-d", db, "-t", "0", "-g", "0", "-c", "1", dir)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := client.Get(url + "/buildid/" + id + "/debuginfo")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("debuginfod does not serve %s after 90 s (last: %v):\n%s", id, err, logs.String())
		}
	}
}

// TestNativeFramesInEval: eval's native_frames(LWP) lists, for every thread
// of a gcore of nat.py, the frames gdb's bt lists, in order, with the same
// pcs (the physical frames everywhere; the inlined ones too in the thread
// that never ran Python, libc's and libnat's code only), names and lines in
// libnat; native_frames() is the main thread's (tstate's), and an LWP the
// core does not have is one clear error.
func TestNativeFramesInEval(t *testing.T) {
	for _, tool := range []string{"gdb", "gcore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	lib := buildLibnat(t)
	gdb := pytest.Gdb()
	interp := interpreters(t)[0]
	corePath := gcoreNat(t, interp, lib)
	bt := gdbBacktracesWith(t, gdb, interp.Exe, corePath, interp.DebugDir)
	type frameData struct {
		PC       uint64  `json:"pc"`
		Function *string `json:"function"`
		Module   *string `json:"module"`
		File     string  `json:"file"`
		Line     int     `json:"line"`
		Inlined  bool    `json:"inlined"`
		Signal   bool    `json:"signal"`
	}
	eval := func(expr string) ([]frameData, string, error) {
		args := []string{"eval", "--json", corePath, expr}
		if interp.DebugDir != "" {
			args = append(args, "--debug-dir", interp.DebugDir)
		}
		cmd := exec.Command(pycoreBin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, string(out) + stderr.String(), err
		}
		var docs []struct {
			Items []struct {
				Data frameData `json:"data"`
			} `json:"items"`
		}
		if err := json.Unmarshal(out, &docs); err != nil || len(docs) != 1 {
			t.Fatalf("eval --json %s: %v\n%s", expr, err, out)
		}
		var fs []frameData
		for _, it := range docs[0].Items {
			fs = append(fs, it.Data)
		}
		return fs, "", nil
	}
	var threads struct {
		Threads []struct {
			LWP      int     `json:"lwp"`
			ThreadID *uint64 `json:"thread_id"`
			Main     bool    `json:"main"`
		} `json:"threads"`
	}
	out, err := exec.Command(pycoreBin, "threads", "--json", corePath).Output()
	if err != nil || json.Unmarshal(out, &threads) != nil {
		t.Fatalf("pycore threads --json: %v", err)
	}
	mainLWP := 0
	for _, th := range threads.Threads {
		if th.Main {
			mainLWP = th.LWP
		}
	}
	sawC := false
	for lwp, want := range bt {
		got, _, err := eval(fmt.Sprintf("native_frames(%d)", lwp))
		if err != nil {
			t.Fatalf("native_frames(%d): %v", lwp, err)
		}
		cOnly := true
		for _, f := range got {
			if f.Module != nil && !strings.Contains(filepath.Base(*f.Module), "libc") && filepath.Base(*f.Module) != "libnat.so" {
				cOnly = false
			}
		}
		sawC = sawC || cOnly
		var g, w []string
		for _, f := range got {
			if cOnly || !f.Inlined {
				g = append(g, fmt.Sprintf("%#x inlined=%v sig=%v", f.PC, f.Inlined, f.Signal))
			}
		}
		for _, f := range want {
			if cOnly || !f.inlined {
				w = append(w, fmt.Sprintf("%#x inlined=%v sig=%v", f.pc, f.inlined, f.signal))
			}
		}
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("native_frames(%d):\n got  %s\n want %s", lwp, strings.Join(g, "\n      "), strings.Join(w, "\n      "))
			continue
		}
		if cOnly {
			for i, f := range got {
				if f.Module == nil || filepath.Base(*f.Module) != "libnat.so" {
					continue
				}
				if f.Function == nil || *f.Function != want[i].fn || f.Line != want[i].line || filepath.Base(f.File) != want[i].file {
					t.Errorf("native_frames(%d)[%d]: %v at %s:%d, gdb: %s at %s:%d", lwp, i, f.Function, f.File, f.Line, want[i].fn, want[i].file, want[i].line)
				}
			}
		}
		if lwp == mainLWP {
			def, _, err := eval("native_frames()")
			if err != nil || len(def) != len(got) || len(def) > 0 && def[0].PC != got[0].PC {
				t.Errorf("native_frames() is not the main thread's (LWP %d): %d frames (%v), want %d", lwp, len(def), err, len(got))
			}
		}
	}
	if !sawC {
		t.Errorf("no thread of libc and libnat frames only (nat.py's C thread)")
	}
	if _, msg, err := eval("native_frames(1)"); err == nil || !strings.Contains(msg, "no thread of the core has LWP 1") {
		t.Errorf("native_frames(1): %v, output %q; want one clear error", err, msg)
	}
}
