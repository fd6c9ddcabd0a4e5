package pytest

import (
	"bufio"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMakeCore makes real cores of the scenarios under every selected interpreter
// (PYCORE_FULL=1, as CI sets: all of them; else one pyenv and one Debian build) and checks
// each core against its oracle.
func TestMakeCore(t *testing.T) {
	interps := Select(interpreters(t))
	if !Full() {
		t.Logf("testing a representative subset; PYCORE_FULL=1 (as in CI) tests all %d interpreters", len(interpreters(t)))
	}
	plan := []struct {
		scenario string
		kind     CoreKind
	}{
		{"stacks", Kernel},
		{"stacks", Gcore},
		{"crash_worker", Kernel},
		{"deep_many", Kernel},
	}
	var mu sync.Mutex
	var rows []string
	t.Cleanup(func() {
		sort.Strings(rows)
		t.Logf("cores made:\n%-26s %-13s %-7s %7s %7s %8s %6s\n%s", "interpreter", "scenario", "kind", "threads", "frames", "core MB", "secs", strings.Join(rows, "\n"))
	})
	for _, i := range interps {
		for _, p := range plan {
			t.Run(fmt.Sprintf("%s/%s/%s", i.Name(), p.scenario, p.kind), func(t *testing.T) {
				t.Parallel()
				c := MakeCore(t, i, p.scenario, p.kind)
				checkCoreFile(t, c)
				checkScenario(t, c)
				fi, _ := os.Stat(c.Path)
				frames := 0
				for _, th := range c.Oracle.Threads {
					frames += len(th.Frames)
				}
				mu.Lock()
				rows = append(rows, fmt.Sprintf("%-26s %-13s %-7s %7d %7d %8.1f %6.1f", i.Name(), p.scenario, p.kind, len(c.Oracle.Threads), frames, float64(fi.Size())/(1<<20), c.Elapsed.Seconds()))
				mu.Unlock()
			})
		}
	}
}

func TestMakeCoreRefusesGcoreOfACrashingScenario(t *testing.T) {
	i := Select(interpreters(t))[0]
	if _, err := makeCore(t.TempDir(), ScenarioDir(), i, "crash_worker", Gcore); err == nil || !strings.Contains(err.Error(), "kernel cores only") {
		t.Fatalf("got %v, want an error saying crash_worker makes kernel cores only", err)
	}
}

// A broken scenario must fail MakeCore with a message that carries the program's stderr,
// whether it exits early, never gets ready, or dies without a core.
func TestMakeCoreReportsBrokenScenarios(t *testing.T) {
	i := Select(interpreters(t))[0]
	src := t.TempDir()
	if err := copyFile(filepath.Join(ScenarioDir(), oracleModule), filepath.Join(src, oracleModule)); err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"raises":    "import sys\nsys.stderr.write('boom from the scenario\\n')\nsys.exit(1)\n",
		"hangs":     "import sys, time\nsys.stderr.write('hanging\\n')\nsys.stderr.flush()\ntime.sleep(3600)\n",
		"no_oracle": "import os\nos.abort()\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(src, name+".py"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	saved := readyTimeout
	readyTimeout = 2 * time.Second
	defer func() { readyTimeout = saved }()
	cases := []struct {
		scenario string
		kind     CoreKind
		want     []string
	}{
		{"raises", Kernel, []string{"exited with status 1 instead of dying by a signal", "boom from the scenario"}},
		{"raises", Gcore, []string{"exited before it was ready", "boom from the scenario"}},
		{"hangs", Gcore, []string{"not ready after 2s (killed)", "hanging"}},
		{"no_oracle", Kernel, []string{"oracle", "no such file"}},
		{"missing", Kernel, []string{"copying scenario", "missing.py"}},
	}
	if err := kernelCoresUsable(); err != nil {
		t.Logf("kernel cases not run: %v", err)
	}
	for _, c := range cases {
		if c.kind == Kernel && kernelCoresUsable() != nil {
			continue
		}
		_, err := makeCore(t.TempDir(), src, i, c.scenario, c.kind)
		checkErr(t, c.scenario+" "+string(c.kind), err, c.want)
	}
}

func TestMakeCoreKillsGcoreOnTimeout(t *testing.T) {
	i := Select(interpreters(t))[0]
	saved := gcoreTimeout
	gcoreTimeout = 50 * time.Millisecond
	defer func() { gcoreTimeout = saved }()
	_, err := makeCore(t.TempDir(), ScenarioDir(), i, "stacks", Gcore)
	checkErr(t, "gcore with a 50ms timeout", err, []string{"gcore", "killed"})
}

func checkErr(t *testing.T, what string, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error does not say %q:\n%v", what, w, err)
		}
	}
}

func TestScenariosAreListed(t *testing.T) {
	got, err := Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	// New scenarios come and go; these must be there, and the oracle helper must not be.
	have := map[string]bool{}
	for _, s := range got {
		have[s] = true
	}
	for _, want := range []string{"crash_worker", "deep_many", "finalizing", "stacks"} {
		if !have[want] {
			t.Errorf("Scenarios() = %q lacks %q", got, want)
		}
	}
	if have["pycore_oracle"] {
		t.Errorf("Scenarios() = %q lists the oracle helper module", got)
	}
}

func TestFindKernelCoreExpandsCorePattern(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"core", "core.4242", "core.python3.4243.1700000000"} {
		if err := os.WriteFile(dir+"/"+name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		pattern string
		usesPID bool
		pid     int
		want    string
	}{
		{"core", false, 1, "core"},
		{"core", true, 4242, "core.4242"},
		{"core.%p", false, 4242, "core.4242"},
		{"core.%e.%p.%t", false, 4243, "core.python3.4243.1700000000"},
		{dir + "/core.%P", false, 4242, "core.4242"},
	}
	for _, c := range cases {
		got, err := findKernelCore(dir, c.pattern, c.usesPID, c.pid)
		if err != nil || got != dir+"/"+c.want {
			t.Errorf("pattern %q pid %d: got %q, %v; want %s", c.pattern, c.pid, got, err, c.want)
		}
	}
	if _, err := findKernelCore(dir, "core.%p", false, 1); err == nil {
		t.Error("no error for a missing core")
	}
}

// coreNotes is what the test reads from a core's PT_NOTE segments.
type coreNotes struct {
	psinfoPID int
	threads   []prstatus // NT_PRSTATUS in file order: the kernel puts the signalled thread first
}

type prstatus struct {
	pid    int
	cursig int
}

// readCoreNotes reads NT_PRSTATUS and NT_PRPSINFO (x86-64 layouts) from a core.
func readCoreNotes(f *elf.File) (coreNotes, error) {
	var cn coreNotes
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		if p.Filesz > 64<<20 {
			return cn, fmt.Errorf("PT_NOTE of %d bytes", p.Filesz)
		}
		data, err := io.ReadAll(io.LimitReader(p.Open(), int64(p.Filesz)))
		if err != nil {
			return cn, err
		}
		for len(data) >= 12 {
			namesz, descsz, typ := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:]), binary.LittleEndian.Uint32(data[8:])
			descOff := 12 + align4(uint64(namesz))
			end := descOff + align4(uint64(descsz))
			if end > uint64(len(data)) {
				return cn, fmt.Errorf("note of type %d overruns its segment", typ)
			}
			desc := data[descOff : descOff+uint64(descsz)]
			switch elf.NType(typ) {
			case elf.NT_PRSTATUS:
				if len(desc) >= 36 {
					cn.threads = append(cn.threads, prstatus{
						pid:    int(binary.LittleEndian.Uint32(desc[32:])),
						cursig: int(binary.LittleEndian.Uint16(desc[12:])),
					})
				}
			case elf.NT_PRPSINFO:
				if len(desc) >= 28 {
					cn.psinfoPID = int(binary.LittleEndian.Uint32(desc[24:]))
				}
			}
			data = data[end:]
		}
	}
	return cn, nil
}

// checkCoreFile: an ELF core of the oracle's process, with one thread per oracle thread.
func checkCoreFile(t *testing.T, c *Core) {
	t.Helper()
	f, err := elf.Open(c.Path)
	if err != nil {
		t.Fatalf("core %s: %v", c.Path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_CORE || f.Machine != elf.EM_X86_64 {
		t.Fatalf("core %s: type %v machine %v, want ET_CORE EM_X86_64", c.Path, f.Type, f.Machine)
	}
	cn, err := readCoreNotes(f)
	if err != nil {
		t.Fatalf("core %s: %v", c.Path, err)
	}
	o := c.Oracle
	if cn.psinfoPID != o.PID {
		t.Errorf("core's NT_PRPSINFO pid %d, oracle pid %d", cn.psinfoPID, o.PID)
	}
	if len(cn.threads) != len(o.Threads) {
		t.Errorf("core has %d threads (NT_PRSTATUS), the oracle %d", len(cn.threads), len(o.Threads))
	}
	lwps := map[int]bool{}
	for _, th := range cn.threads {
		lwps[th.pid] = true
	}
	for _, th := range o.Threads {
		if th.NativeID != 0 && !lwps[int(th.NativeID)] {
			t.Errorf("oracle thread %q native id %d is not a thread of the core", th.Name, th.NativeID)
		}
	}
	if c.Kind == Kernel && len(cn.threads) > 0 {
		first := cn.threads[0]
		if first.cursig != o.Signal {
			t.Errorf("kernel core: signalled thread got signal %d, oracle says %d", first.cursig, o.Signal)
		}
		if crashed := o.CrashedThread(); crashed.NativeID != 0 && int(crashed.NativeID) != first.pid {
			t.Errorf("kernel core: signalled thread is LWP %d, the oracle's crashed thread %q is %d", first.pid, crashed.Name, crashed.NativeID)
		}
	}
}

// threadWant is what a scenario thread's innermost frames must be.
type threadWant struct {
	functions []string
	qualnames []string // checked on 3.11+
}

var stacksWant = map[string]threadWant{
	"MainThread":       {[]string{"finish", "main", "<module>"}, []string{"finish", "main", "<module>"}},
	"nested":           {[]string{"nested_d", "nested_c", "nested_b", "nested_a"}, nil},
	"method":           {[]string{"m", "run_method"}, []string{"C.m", "run_method"}},
	"nested-class":     {[]string{"m", "run_nested_class"}, []string{"Outer.Inner.m", "run_nested_class"}},
	"closure":          {[]string{"inner", "outer"}, []string{"outer.<locals>.inner", "outer"}},
	"lambda":           {[]string{"<lambda>"}, []string{"<lambda>"}},
	"generator":        {[]string{"gen", "run_generator"}, nil},
	"coroutine":        {[]string{"coro_leaf", "coro_mid", "coro_top"}, nil},
	"sorted-key":       {[]string{"sleepy_key", "run_sorted"}, []string{"run_sorted.<locals>.sleepy_key", "run_sorted"}},
	"map":              {[]string{"f", "sleepy_map"}, []string{"sleepy_map.<locals>.f", "sleepy_map"}},
	"recursion":        {append(repeat("recurse", 151), "run_recursion"), nil},
	"unicode-function": {[]string{"naïve_función_ß"}, nil},
	"unicode-class":    {[]string{"método", "run_unicode_class"}, []string{"Ünïcödé.método", "run_unicode_class"}},
	"ucs2-function":    {[]string{"函数_ucs2"}, nil},
	"ucs4-function":    {[]string{"𠀀_ucs4"}, nil},
	"custom nâme ✓":    {[]string{"custom"}, nil},
}

var crashWant = map[string]threadWant{
	"MainThread": {[]string{"park_main", "main", "<module>"}, nil},
	"crasher":    {[]string{"string_at", "crash_here", "crasher"}, nil},
	"nested":     {[]string{"nested_c", "nested_b", "nested_a"}, nil},
	"method":     {[]string{"m", "run_method"}, []string{"C.m", "run_method"}},
	"generator":  {[]string{"gen", "run_generator"}, nil},
	"wörker ✓":   {[]string{"idle"}, nil},
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for k := range out {
		out[k] = s
	}
	return out
}

// checkScenario checks the oracle against what the scenario is known to do.
func checkScenario(t *testing.T, c *Core) {
	t.Helper()
	o := c.Oracle
	var want map[string]threadWant
	var nThreads int
	switch c.Scenario {
	case "stacks":
		want, nThreads = stacksWant, 36
		for n := 0; n < 20; n++ {
			if o.ThreadNamed(fmt.Sprintf("extra-%02d", n)) == nil {
				t.Errorf("thread extra-%02d missing", n)
			}
		}
	case "crash_worker":
		want, nThreads = crashWant, 6
	case "deep_many":
		want, nThreads = map[string]threadWant{
			"deep-000": {append(repeat("descend", 301), "worker"), nil},
			"deep-090": {append(repeat("descend", 391), "worker"), nil},
			"deep-007": {append(repeat("descend", 8), "worker"), nil},
		}, 101
	default:
		t.Fatalf("no expectations for scenario %s", c.Scenario)
	}
	if len(o.Threads) != nThreads {
		t.Errorf("%d threads, want %d", len(o.Threads), nThreads)
	}
	for name, w := range want {
		th := o.ThreadNamed(name)
		if th == nil {
			t.Errorf("no thread %q", name)
			continue
		}
		checkFrames(t, c, th, w)
	}

	// Who crashed and who holds the GIL (nobody in a free-threaded process, which runs
	// without one).
	main := o.MainThread()
	gil := !c.Interp.FreeThreaded()
	switch {
	case c.Kind == Gcore:
		if o.Crashed != 0 || o.GILHolder() != nil {
			t.Errorf("gcore: crashed %#x, GIL holder %v; want none", o.Crashed, o.GILHolder())
		}
	case c.Scenario == "crash_worker":
		crasher := o.ThreadNamed("crasher")
		if crasher == nil || o.Crashed != crasher.Ident || crasher.HoldsGIL != gil || o.Signal != 11 {
			t.Errorf("crash_worker: crashed %#x signal %d, want the crasher (holding the GIL: %v) and SIGSEGV", o.Crashed, o.Signal, gil)
		}
		if len(c.Faulthandler) != nThreads {
			t.Errorf("faulthandler dumped %d threads, want %d", len(c.Faulthandler), nThreads)
		}
	default:
		if o.Crashed != main.Ident || main.HoldsGIL != gil || o.Signal != 6 {
			t.Errorf("abort: crashed %#x signal %d, want the main thread %#x (holding the GIL: %v) and SIGABRT", o.Crashed, o.Signal, main.Ident, gil)
		}
	}
	if c.Interp.AtLeast(3, 8) {
		for _, th := range o.Threads {
			if th.NativeID == 0 {
				t.Errorf("thread %q: no native id on %s", th.Name, c.Interp.Version)
			}
		}
	}

	// Every innermost frame is on a marked line: PARK for parked threads, CORE-POINT
	// (os.abort / time.sleep / string_at) for the thread that makes the core.
	lines := scriptLines(t, c.Script)
	for _, th := range o.Threads {
		f := th.Frames[0]
		if f.File != c.Script {
			if th.Ident == o.Crashed && f.Function == "string_at" {
				f = th.Frames[1]
			} else {
				t.Errorf("thread %q: innermost frame %s is not in %s", th.Name, f, c.Script)
				continue
			}
		}
		if f.Line > len(lines) {
			t.Errorf("thread %q: line %d past the end of %s", th.Name, f.Line, c.Script)
			continue
		}
		text := lines[f.Line-1]
		marker := "# PARK"
		if th.Ident == o.Crashed || (c.Kind == Gcore && th.Main) {
			marker = "# CORE-POINT"
		}
		if !strings.Contains(text, marker) {
			t.Errorf("thread %q: innermost line %d is %q, want a %s line", th.Name, f.Line, strings.TrimSpace(text), marker)
		}
	}
}

func checkFrames(t *testing.T, c *Core, th *OracleThread, w threadWant) {
	t.Helper()
	if len(th.Frames) < len(w.functions) {
		t.Errorf("thread %q: %d frames, want at least %d", th.Name, len(th.Frames), len(w.functions))
		return
	}
	for n, fn := range w.functions {
		f := th.Frames[n]
		if f.Function != fn {
			t.Errorf("thread %q frame %d: function %q, want %q", th.Name, n, f.Function, fn)
			return
		}
		if f.Function != "string_at" && !strings.Contains(f.File, scenarioDirName) {
			t.Errorf("thread %q frame %d: file %q is not under %s", th.Name, n, f.File, scenarioDirName)
		}
	}
	if c.Interp.AtLeast(3, 11) {
		for n, q := range w.qualnames {
			if got := th.Frames[n].Qualname; got != q {
				t.Errorf("thread %q frame %d: qualname %q, want %q", th.Name, n, got, q)
			}
		}
	} else {
		for _, f := range th.Frames {
			if f.Qualname != "" {
				t.Errorf("thread %q: qualname %q before 3.11", th.Name, f.Qualname)
				break
			}
		}
	}
}

func scriptLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
