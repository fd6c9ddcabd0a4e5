package pytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CoreKind says how a core is made.
type CoreKind string

const (
	// Kernel: the program kills itself (os.abort, a segfault) and the kernel writes the core.
	Kernel CoreKind = "kernel"
	// Gcore: the program parks and gdb's gcore dumps it alive.
	Gcore CoreKind = "gcore"
	// Sent: the program parks as for Gcore, then this process sends it SIGABRT (kill
	// -ABRT PID, SI_USER from os.Getpid()) and the kernel writes the core: a dump
	// request, no thread crashed.
	Sent CoreKind = "sent"
)

// Core is a core dump made by MakeCore, with what the program said about itself.
type Core struct {
	Path     string
	Kind     CoreKind
	Interp   Interpreter
	Scenario string
	Oracle   *Oracle
	// Faulthandler is CPython's own dump of the threads (crash_worker only, else nil),
	// already checked to agree with Oracle.
	Faulthandler []FaultThread
	Dir          string        // the scenario's directory (non-ASCII name); the core is made there
	Script       string        // the scenario file as run (its path is in the oracle's frames)
	Stderr       string        // the program's stderr (and gcore's, for gcore cores)
	Elapsed      time.Duration // time to make the core
}

// Timeouts; every wait on a child is bounded by one of them.
var (
	readyTimeout = 90 * time.Second  // program start until the oracle is written
	exitTimeout  = 90 * time.Second  // program start until it died (kernel cores)
	gcoreTimeout = 180 * time.Second // one gcore run
)

// scenarioDirName is deliberately non-ASCII, with a character outside the BMP, so that
// frames' file names are stored as 1-, 2- and 4-byte str objects across the scenarios.
const scenarioDirName = "dír-ü-🐍"

// jobs bounds the scenario programs that run at once, over all tests of the process: each
// one starts 5-100 threads and gcore is CPU-heavy. PYCORE_JOBS overrides the default 2.
var jobs = func() chan struct{} {
	n := 2
	if v, err := strconv.Atoi(os.Getenv("PYCORE_JOBS")); err == nil && v > 0 {
		n = v
	}
	return make(chan struct{}, n)
}()

// ScenarioDir is testdata/scenarios of this repository.
func ScenarioDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", "scenarios")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "scenarios")
}

// oracleModule is the helper module every scenario imports; it is not a scenario.
const oracleModule = "pycore_oracle.py"

// Scenarios lists the scenario names ("stacks", "crash_worker", ...).
func Scenarios() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(ScenarioDir(), "*.py"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		if filepath.Base(f) == oracleModule {
			continue
		}
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".py"))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenarios in %s", ScenarioDir())
	}
	return out, nil
}

// KernelOnly lists the scenarios that crash by themselves and so make kernel cores only.
var KernelOnly = map[string]bool{"crash_worker": true, "finalizing": true}

// MakeCore runs scenario (a name from Scenarios, e.g. "stacks") under interpreter i and
// makes a core of kind: Kernel (the program ends by os.abort() or a segfault) or Gcore (the
// program parks, gcore dumps it, then it is killed). Files go to t.TempDir(). Failure is
// t.Fatal with the program's stderr; a kernel core when core_pattern pipes cores elsewhere
// (systemd-coredump, apport) is t.Skip.
func MakeCore(t testing.TB, i Interpreter, scenario string, kind CoreKind) *Core {
	t.Helper()
	if kind == Kernel || kind == Sent {
		if err := kernelCoresUsable(); err != nil {
			t.Skipf("kernel cores: %v", err)
		}
	}
	if major, minor, ok := scenarioRequires(ScenarioDir(), scenario); ok && !i.AtLeast(major, minor) {
		t.Skipf("scenario %s needs CPython %d.%d or newer (# pycore-requires); %s is older", scenario, major, minor, i.Name())
	}
	c, err := makeCore(t.TempDir(), ScenarioDir(), i, scenario, kind)
	if err != nil {
		t.Fatalf("%s %s %s core: %v", i.Name(), scenario, kind, err)
	}
	return c
}

var requiresRE = regexp.MustCompile(`(?m)^# pycore-requires: (\d+)\.(\d+)\s*$`)

// scenarioRequires reads a scenario's "# pycore-requires: 3.8" line: the oldest CPython
// that has what the scenario uses (subinterpreter modules, for instance).
func scenarioRequires(dir, scenario string) (major, minor int, ok bool) {
	data, err := os.ReadFile(filepath.Join(dir, scenario+".py"))
	if err != nil {
		return 0, 0, false
	}
	m := requiresRE.FindSubmatch(data)
	if m == nil {
		return 0, 0, false
	}
	major, _ = strconv.Atoi(string(m[1]))
	minor, _ = strconv.Atoi(string(m[2]))
	return major, minor, true
}

// makeCore is MakeCore with the scenarios taken from srcDir.
func makeCore(tmp, srcDir string, i Interpreter, scenario string, kind CoreKind) (*Core, error) {
	if kind != Kernel && kind != Gcore && kind != Sent {
		return nil, fmt.Errorf("unknown core kind %q (want %q, %q or %q)", kind, Kernel, Gcore, Sent)
	}
	if kind != Kernel && KernelOnly[scenario] {
		return nil, fmt.Errorf("scenario %s crashes by itself: it makes kernel cores only", scenario)
	}
	if kind == Gcore {
		if _, err := exec.LookPath("gcore"); err != nil {
			return nil, fmt.Errorf("gcore not found (apt-get install gdb): %w", err)
		}
	}
	dir := filepath.Join(tmp, scenarioDirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, scenario+".py")
	// Scenarios kept in other directories (MakeCoreIn) share ScenarioDir's oracle module.
	oracleSrc := filepath.Join(srcDir, oracleModule)
	if !fileExists(oracleSrc) {
		oracleSrc = filepath.Join(ScenarioDir(), oracleModule)
	}
	for src, name := range map[string]string{filepath.Join(srcDir, scenario+".py"): scenario + ".py", oracleSrc: oracleModule} {
		if err := copyFile(src, filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("copying scenario: %w", err)
		}
	}

	if err := buildCLibs(srcDir, script, dir); err != nil {
		return nil, err
	}

	jobs <- struct{}{}
	defer func() { <-jobs }()

	start := time.Now()
	c := &Core{Kind: kind, Interp: i, Scenario: scenario, Dir: dir, Script: script}
	oraclePath := filepath.Join(dir, "oracle.json")
	var err error
	switch kind {
	case Kernel:
		err = runKernel(c, oraclePath)
	case Gcore:
		err = runGcore(c, oraclePath)
	default:
		err = runSent(c, oraclePath)
	}
	if err != nil {
		return nil, err
	}
	c.Elapsed = time.Since(start)

	if c.Oracle, err = ReadOracle(oraclePath); err != nil {
		return nil, fmt.Errorf("%w\nstderr:\n%s", err, c.Stderr)
	}
	if err := c.checkOracle(); err != nil {
		return nil, err
	}
	if fh := oraclePath + ".faulthandler"; fileExists(fh) {
		f, err := os.Open(fh)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if c.Faulthandler, err = ParseFaulthandler(f); err != nil {
			return nil, fmt.Errorf("%s: %w", fh, err)
		}
		if err := CompareFaulthandler(c.Oracle, c.Faulthandler); err != nil {
			return nil, fmt.Errorf("the two oracles of %s disagree: %w", scenario, err)
		}
	}
	return c, nil
}

// checkOracle ties the oracle to the run: the right interpreter, process and mode.
func (c *Core) checkOracle() error {
	o := c.Oracle
	if o.Version != c.Interp.Version {
		return fmt.Errorf("oracle says Python %s, interpreter %s is %s", o.Version, c.Interp.Exe, c.Interp.Version)
	}
	if c.Kind == Kernel && o.Crashed == 0 {
		return fmt.Errorf("kernel core of %s but the oracle names no crashed thread", c.Scenario)
	}
	if c.Kind != Kernel && o.Crashed != 0 {
		return fmt.Errorf("gcore core of %s but the oracle names crashed thread %#x", c.Scenario, o.Crashed)
	}
	return nil
}

// childEnv is the environment scenario programs and probes run in: the current one minus
// PYTHON* settings that would change what the interpreter loads, plus a UTF-8 locale so
// that non-ASCII paths decode the same on every version (3.6 has no UTF-8 mode).
// MALLOC_ARENA_MAX: gcore writes every mapping in full, including the 64 MB reservation
// of each per-thread malloc arena; with at most 2 arenas a gcore of stacks.py is ~350 MB
// instead of 1.3 GB.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PYTHON") || k == "LC_ALL" || k == "LANG" || k == "DEBUGINFOD_URLS" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"LC_ALL=C.UTF-8",
		"PYTHONIOENCODING=utf-8",
		"PYTHONUTF8=1",
		"PYTHONHASHSEED=0",
		"PYTHONDONTWRITEBYTECODE=1",
		"MALLOC_ARENA_MAX=2",
	)
}

// startScenario starts the program in its own process group, its stderr kept in buf.
func startScenario(c *Core, oraclePath, mode string, stderr *syncBuffer) (*exec.Cmd, error) {
	args := []string{c.Script, oraclePath, mode}
	cmd := c.Interp.Command(context.Background(), childEnv(), args...)
	cmd.Dir = c.Dir
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", strings.Join(cmd.Args, " "), err)
	}
	return cmd, nil
}

// waitTimeout waits for cmd, killing its process group after d.
func waitTimeout(cmd *exec.Cmd, d time.Duration) (*os.ProcessState, error) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return nil, err
		}
		return cmd.ProcessState, nil
	case <-time.After(d):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return cmd.ProcessState, fmt.Errorf("timed out after %v (killed)", d)
	}
}

func runKernel(c *Core, oraclePath string) error {
	pattern, usesPID, err := corePattern()
	if err != nil {
		return err
	}
	var stderr syncBuffer
	cmd, err := startScenario(c, oraclePath, "abort", &stderr)
	if err != nil {
		return err
	}
	pid := cmd.Process.Pid
	st, err := waitTimeout(cmd, exitTimeout)
	c.Stderr = stderr.String()
	if err != nil {
		return fmt.Errorf("%s did not die: %w\nstderr:\n%s", c.Script, err, c.Stderr)
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() {
		return fmt.Errorf("%s exited with status %d instead of dying by a signal\nstderr:\n%s", c.Script, ws.ExitStatus(), c.Stderr)
	}
	if !ws.CoreDump() {
		return fmt.Errorf("%s died by %v but the kernel wrote no core (RLIMIT_CORE, core_pattern %q, /proc/sys/fs/suid_dumpable?)\nstderr:\n%s", c.Script, ws.Signal(), pattern, c.Stderr)
	}
	path, err := findKernelCore(c.Dir, pattern, usesPID, pid)
	if err != nil {
		return fmt.Errorf("%w\nstderr:\n%s", err, c.Stderr)
	}
	c.Path = path
	return nil
}

func runGcore(c *Core, oraclePath string) error {
	pp, err := startParked(c, oraclePath)
	if err != nil {
		return err
	}
	pid, stderr, kill := pp.pid, &pp.stderr, pp.kill

	prefix := filepath.Join(c.Dir, "core")
	ctx, cancel := context.WithTimeout(context.Background(), gcoreTimeout)
	defer cancel()
	gc := gcoreCommand(ctx, prefix, pid)
	gc.Env = childEnv() // no DEBUGINFOD_URLS: gdb must not go to the network
	var gout syncBuffer
	gc.Stdout, gc.Stderr = &gout, &gout
	// gcore is a shell script around gdb: on timeout kill its whole process group, or gdb
	// would stay attached to the program.
	gc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	gc.Cancel = func() error { return syscall.Kill(-gc.Process.Pid, syscall.SIGKILL) }
	gc.WaitDelay = 5 * time.Second
	gerr := gc.Run()
	kill()
	c.Stderr = stderr.String() + "\n--- gcore:\n" + gout.String()
	if gerr != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(gc.Args, " "), gerr, c.Stderr)
	}
	c.Path = fmt.Sprintf("%s.%d", prefix, pid)
	if !fileExists(c.Path) {
		return fmt.Errorf("gcore succeeded but wrote no %s\n%s", c.Path, c.Stderr)
	}
	return nil
}

// parked is a scenario program started in wait mode and parked at its CORE-POINT
// lines (it wrote ORACLE.ready).
type parked struct {
	cmd    *exec.Cmd
	pid    int
	stderr syncBuffer
	exited chan struct{} // closed once cmd.Wait returned
}

// kill kills the program's process group and waits for it.
func (pp *parked) kill() {
	_ = syscall.Kill(-pp.pid, syscall.SIGKILL)
	<-pp.exited
}

// startParked starts the program in wait mode and waits for ORACLE.ready, or for it to
// die first; on timeout it kills the program.
func startParked(c *Core, oraclePath string) (*parked, error) {
	pp := &parked{exited: make(chan struct{})}
	cmd, err := startScenario(c, oraclePath, "wait", &pp.stderr)
	if err != nil {
		return nil, err
	}
	pp.cmd, pp.pid = cmd, cmd.Process.Pid
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(pp.exited) }()
	deadline := time.Now().Add(readyTimeout)
	for !fileExists(oraclePath + ".ready") {
		select {
		case <-pp.exited:
			c.Stderr = pp.stderr.String()
			return nil, fmt.Errorf("%s exited before it was ready (%v)\nstderr:\n%s", c.Script, waitErr, c.Stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			pp.kill()
			c.Stderr = pp.stderr.String()
			return nil, fmt.Errorf("%s not ready after %v (killed)\nstderr:\n%s", c.Script, readyTimeout, c.Stderr)
		}
	}
	return pp, nil
}

// runSent starts the program in wait mode and, once it is ready, sends it SIGABRT from
// this process, as `kill -ABRT PID` would; the kernel writes the core.
func runSent(c *Core, oraclePath string) error {
	pattern, usesPID, err := corePattern()
	if err != nil {
		return err
	}
	pp, err := startParked(c, oraclePath)
	if err != nil {
		return err
	}
	cmd, pid, stderr, exited, kill := pp.cmd, pp.pid, &pp.stderr, pp.exited, pp.kill
	if err := syscall.Kill(pid, syscall.SIGABRT); err != nil {
		kill()
		return fmt.Errorf("kill -ABRT %d: %w", pid, err)
	}
	select {
	case <-exited:
	case <-time.After(exitTimeout):
		kill()
		c.Stderr = stderr.String()
		return fmt.Errorf("%s did not die of SIGABRT in %v (killed)\nstderr:\n%s", c.Script, exitTimeout, c.Stderr)
	}
	c.Stderr = stderr.String()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGABRT || !ws.CoreDump() {
		return fmt.Errorf("%s sent SIGABRT ended with %v, want death by SIGABRT with a core (core_pattern %q)\nstderr:\n%s", c.Script, cmd.ProcessState, pattern, c.Stderr)
	}
	path, err := findKernelCore(c.Dir, pattern, usesPID, pid)
	if err != nil {
		return fmt.Errorf("%w\nstderr:\n%s", err, c.Stderr)
	}
	c.Path = path
	return nil
}

// Gdb is the gdb a test compares pycore with: GdbPath's when there is one,
// else the system's "gdb".
func Gdb() string {
	if g := GdbPath(); g != "" {
		return g
	}
	return "gdb"
}

// GdbPath is the gdb that makes gcore cores: sid's, from the cache (fetch.sh), when it is
// there, else "" and the system's gcore script is used. The host's gdb 13 zero-fills
// thread-stack pages of processes on glibc 2.42+ (madvise guard regions next to them), so
// cores of Debian's 3.14 and 3.15 made with it lose the frames on those pages.
func GdbPath() string {
	p := filepath.Join(CacheDir(), "pythons", "gdb-sid", "gdb")
	if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// gcoreCommand dumps process pid to PREFIX.PID, as gdb's gcore script does.
func gcoreCommand(ctx context.Context, prefix string, pid int) *exec.Cmd {
	if gdb := GdbPath(); gdb != "" {
		return exec.CommandContext(ctx, gdb, "-batch", "-p", strconv.Itoa(pid),
			"-ex", fmt.Sprintf("gcore %s.%d", prefix, pid))
	}
	return exec.CommandContext(ctx, "gcore", "-o", prefix, strconv.Itoa(pid))
}

var rlimitOnce sync.Once
var rlimitErr error

// kernelCoresUsable raises RLIMIT_CORE of this process to its hard limit (children
// inherit it) and checks that the kernel writes cores to files.
func kernelCoresUsable() error {
	rlimitOnce.Do(func() {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
			rlimitErr = fmt.Errorf("getrlimit(RLIMIT_CORE): %w", err)
			return
		}
		if lim.Max == 0 {
			rlimitErr = errors.New("the hard RLIMIT_CORE is 0: cores are disabled for this process")
			return
		}
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
			rlimitErr = fmt.Errorf("setrlimit(RLIMIT_CORE): %w", err)
		}
	})
	if rlimitErr != nil {
		return rlimitErr
	}
	pattern, _, err := corePattern()
	if err != nil {
		return err
	}
	if strings.HasPrefix(pattern, "|") {
		return fmt.Errorf("/proc/sys/kernel/core_pattern is %q: cores are piped to a program, not written to files (gcore cores still work)", pattern)
	}
	return nil
}

func corePattern() (pattern string, usesPID bool, err error) {
	data, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		return "", false, fmt.Errorf("reading core_pattern: %w", err)
	}
	pattern = strings.TrimRight(string(data), "\n")
	if pattern == "" {
		pattern = "core"
	}
	if v, err := os.ReadFile("/proc/sys/kernel/core_uses_pid"); err == nil {
		usesPID = strings.TrimSpace(string(v)) == "1"
	}
	return pattern, usesPID, nil
}

// findKernelCore finds the core the kernel wrote for pid given core_pattern: relative
// patterns land in the program's cwd. Specifiers that name the process are expanded, the
// others (time, executable path, ...) matched by glob.
func findKernelCore(cwd, pattern string, usesPID bool, pid int) (string, error) {
	var b strings.Builder
	hasPID := false
	for n := 0; n < len(pattern); n++ {
		ch := pattern[n]
		if ch != '%' || n+1 == len(pattern) {
			if strings.ContainsRune("*?[\\", rune(ch)) {
				b.WriteByte('\\')
			}
			b.WriteByte(ch)
			continue
		}
		n++
		switch pattern[n] {
		case '%':
			b.WriteByte('%')
		case 'p', 'P', 'i', 'I':
			b.WriteString(strconv.Itoa(pid))
			hasPID = true
		default: // %e %E %t %s %h %u %g %c %d %f ...
			b.WriteString("*")
		}
	}
	glob := b.String()
	if usesPID && !hasPID {
		glob += "." + strconv.Itoa(pid)
	}
	if !filepath.IsAbs(glob) {
		glob = filepath.Join(cwd, glob)
	}
	matches, err := filepath.Glob(glob)
	if err != nil {
		return "", fmt.Errorf("core_pattern %q: %w", pattern, err)
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no core file matching %s (core_pattern %q)", glob, pattern)
	case 1:
		return matches[0], nil
	default:
		return "", fmt.Errorf("several core files match %s (core_pattern %q): %s", glob, pattern, strings.Join(matches, ", "))
	}
}

// NeedsCLib says whether a scenario of srcDir loads one of the C libraries
// kept beside it (srcDir/libNAME.c, named by the script as libNAME.so), which
// MakeCore then builds with gcc.
func NeedsCLib(srcDir, scenario string) bool {
	libs, err := scenarioCLibs(srcDir, filepath.Join(srcDir, scenario+".py"))
	return err == nil && len(libs) > 0
}

func scenarioCLibs(srcDir, script string) ([]string, error) {
	text, err := os.ReadFile(script)
	if err != nil {
		return nil, err
	}
	srcs, _ := filepath.Glob(filepath.Join(srcDir, "lib*.c"))
	var out []string
	for _, src := range srcs {
		if bytes.Contains(text, []byte(strings.TrimSuffix(filepath.Base(src), ".c")+".so")) {
			out = append(out, src)
		}
	}
	return out, nil
}

// buildCLibs compiles the C libraries the scenario script names into dir:
// optimised, with DWARF and without frame pointers, so that only CFI unwinds
// them, as in a release build of a C extension.
func buildCLibs(srcDir, script, dir string) error {
	srcs, err := scenarioCLibs(srcDir, script)
	if err != nil || len(srcs) == 0 {
		return err
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		return fmt.Errorf("%s loads a C library and gcc is not installed: %w", filepath.Base(script), err)
	}
	for _, src := range srcs {
		lib := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c")+".so")
		if out, err := exec.Command("gcc", "-O2", "-g", "-fomit-frame-pointer", "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
			return fmt.Errorf("gcc %s: %v\n%s", src, err, out)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a child's stdout and
// stderr, capped so a runaway child cannot fill memory.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const maxChildOutput = 1 << 20

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxChildOutput - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// SideOracle decodes what a scenario wrote beside its oracle, ORACLE_PATH + "." +
// name (e.g. "heap.json": heap.py's counts), into v, failing the test if it cannot.
func (c *Core) SideOracle(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json."+name))
	if err != nil {
		t.Fatalf("%s oracle: %v", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s oracle: %v", name, err)
	}
}

// Selected is Select of the interpreters Discover finds (3.6+), for a test
// that runs on each; t is skipped when the machine has none.
func Selected(t testing.TB) []Interpreter {
	t.Helper()
	all, err := Discover()
	if err != nil {
		t.Logf("discovering interpreters: %v", err)
	}
	if len(all) == 0 {
		t.Skip("no CPython 3.6+ interpreter on this machine (run testdata/pythons/fetch.sh)")
	}
	return Select(all)
}
