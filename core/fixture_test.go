package core

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fixtures are real cores of testdata/target.c, made once per test
// binary run and shared by the tests: building and dumping take a second
// or two, and every test reads them without changing them.

var fixtureRoot string

func TestMain(m *testing.M) {
	// Children inherit the limit: the shell's soft RLIMIT_CORE is 0.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &lim)
	}
	dir, err := os.MkdirTemp("", "pycore-core-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// oracle is what the target printed about itself before it died.
type oracle struct {
	PID, MainTID, CrashTID int
	ThreadTIDs             []int
	FaultAddr              Address
	GlobalAddr             Address
	GlobalValue            uint64
	RodataAddr             Address
	RodataValue            string
	HeapAddr               Address
	HeapSize               int
}

// scenario is one core of the target and what we know about it.
type scenario struct {
	Core   string // path of the core file
	Binary string // path the process ran (may have been deleted)
	How    string // "kernel" or "gcore"
	Comm   string // the process name the kernel recorded
	Oracle oracle
}

type fixtures struct {
	Target  string // the target as built (kept)
	Variant string // the same source built with -DVARIANT=1: another build ID
	Crash   *scenario
	Wait    *scenario // gcore of a live process
	Hidden  *scenario // crashed, then its binary deleted
	Loader  *scenario // started as ld.so ./target crash
	Deleted *scenario // gcore of a live process whose binary was deleted first
}

var (
	fixOnce sync.Once
	fix     *fixtures
	fixErr  error
	fixSkip string
)

func getFixtures(t testing.TB) *fixtures {
	t.Helper()
	fixOnce.Do(func() { fix, fixErr = makeFixtures() })
	if fixSkip != "" {
		t.Skip(fixSkip)
	}
	if fixErr != nil {
		t.Fatalf("making test cores: %v", fixErr)
	}
	return fix
}

func makeFixtures() (*fixtures, error) {
	if _, err := exec.LookPath("gcc"); err != nil {
		fixSkip = "gcc not found: cannot build the target program for real cores"
		return nil, nil
	}
	f := &fixtures{
		Target:  filepath.Join(fixtureRoot, "build", "target"),
		Variant: filepath.Join(fixtureRoot, "variant", "target"),
	}
	if err := buildTarget(f.Target); err != nil {
		return nil, err
	}
	if err := buildTarget(f.Variant, "-DVARIANT=1"); err != nil {
		return nil, err
	}
	var err error
	if f.Crash, err = crashScenario("crash", f.Target, false); err != nil {
		return nil, err
	}
	if f.Hidden, err = crashScenario("hidden", f.Target, false); err != nil {
		return nil, err
	}
	if err := os.Remove(f.Hidden.Binary); err != nil {
		return nil, err
	}
	if f.Loader, err = crashScenario("loader", f.Target, true); err != nil {
		return nil, err
	}
	if f.Wait, err = gcoreScenario("wait", f.Target, false); err != nil {
		return nil, err
	}
	if f.Deleted, err = gcoreScenario("deleted", f.Target, true); err != nil {
		return nil, err
	}
	return f, nil
}

func buildTarget(out string, flags ...string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	args := append([]string{"-g", "-O0", "-pthread", "-fPIE", "-pie", "-Wl,--build-id", "-o", out}, flags...)
	args = append(args, "testdata/target.c")
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc %v: %v\n%s", args, err, b)
	}
	return nil
}

// copyBinary puts a copy of the target in a fresh directory, so the
// scenario's recorded path is its own.
func copyBinary(name, src string) (string, error) {
	dir := filepath.Join(fixtureRoot, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "target")
	return bin, os.WriteFile(bin, data, 0o755)
}

// kernelCoresUsable reports whether a crashing child leaves a file named
// core* in its working directory.
func kernelCoresUsable() (bool, string) {
	b, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		return false, "cannot read core_pattern: " + err.Error()
	}
	pat := strings.TrimSpace(string(b))
	if strings.HasPrefix(pat, "|") || strings.Contains(pat, "/") {
		return false, fmt.Sprintf("core_pattern is %q, not a file in the working directory", pat)
	}
	return true, ""
}

func crashScenario(name, target string, viaLoader bool) (*scenario, error) {
	bin, err := copyBinary(name, target)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(bin)
	argv := []string{bin, "crash"}
	if viaLoader {
		argv = []string{"/lib64/ld-linux-x86-64.so.2", bin, "crash"}
	}
	s := &scenario{Binary: bin, Comm: "target"}
	if viaLoader {
		s.Comm = "ld-linux-x86-64"
	}
	if ok, why := kernelCoresUsable(); ok {
		s.How = "kernel"
		cmd := dieWithTest(exec.Command(argv[0], argv[1:]...))
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = &out
		err := runWithTimeout(cmd, 30*time.Second)
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("%s: target should have died of SIGSEGV, got %v\n%s", name, err, out.Bytes())
		}
		ws := ee.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGSEGV || !ws.CoreDump() {
			return nil, fmt.Errorf("%s: target ended with %v (core dumped: %v), want SIGSEGV with a core", name, ws, ws.CoreDump())
		}
		if s.Oracle, err = parseOracle(out.String()); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "core*"))
		if len(matches) != 1 {
			return nil, fmt.Errorf("%s: want one core file in %s, found %v", name, dir, matches)
		}
		s.Core = matches[0]
		return s, nil
	} else if _, err := exec.LookPath("gdb"); err != nil {
		fixSkip = "no kernel cores (" + why + ") and no gdb to make one"
		return nil, errors.New(fixSkip)
	} else {
		fmt.Fprintf(os.Stderr, "core tests: %s; crashing the target under gdb instead\n", why)
	}
	s.How = "gcore"
	s.Core = filepath.Join(dir, "core")
	args := append([]string{"-nx", "-batch", "-ex", "run", "-ex", "gcore " + s.Core, "--args"}, argv...)
	cmd := dieWithTest(exec.Command("gdb", args...))
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := runWithTimeout(cmd, 60*time.Second); err != nil {
		return nil, fmt.Errorf("%s: gdb: %v\n%s", name, err, out.Bytes())
	}
	if s.Oracle, err = parseOracle(out.String()); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func gcoreScenario(name, target string, deleteFirst bool) (*scenario, error) {
	if _, err := exec.LookPath("gcore"); err != nil {
		fixSkip = "gcore not found"
		return nil, errors.New(fixSkip)
	}
	bin, err := copyBinary(name, target)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(bin)
	cmd := dieWithTest(exec.Command(bin, "wait"))
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		var all strings.Builder
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if sc.Text() == "ready" {
				break
			}
		}
		lines <- all.String()
		io.Copy(io.Discard, stdout)
	}()
	var out string
	select {
	case out = <-lines:
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: target did not get ready", name)
	}
	s := &scenario{Binary: bin, How: "gcore", Comm: "target"}
	if s.Oracle, err = parseOracle(out); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if deleteFirst {
		if err := os.Remove(bin); err != nil {
			return nil, err
		}
	}
	prefix := filepath.Join(dir, "gcore")
	gc := dieWithTest(exec.Command("gcore", "-o", prefix, strconv.Itoa(cmd.Process.Pid)))
	if b, err := gc.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: gcore: %v\n%s", name, err, b)
	}
	s.Core = fmt.Sprintf("%s.%d", prefix, cmd.Process.Pid)
	if _, err := os.Stat(s.Core); err != nil {
		return nil, fmt.Errorf("%s: gcore wrote no core: %w", name, err)
	}
	return s, nil
}

// dieWithTest makes a fixture's process die with the test binary: a fuzz
// worker killed at its deadline while it made a fixture left its parked
// target running, which held the fuzz coordinator's pipes (inherited past
// exec) open, and the coordinator waited for them forever.
func dieWithTest(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func runWithTimeout(cmd *exec.Cmd, d time.Duration) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s timed out after %v", cmd.Path, d)
	}
}

var oracleLine = regexp.MustCompile(`^(pid|main_tid|thread_tid|crash_tid|fault_addr|global_addr|global_value|rodata_addr|rodata_value|heap_addr|heap_size) (.*)$`)

func parseOracle(out string) (oracle, error) {
	var o oracle
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		m := oracleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, val := m[1], m[2]
		seen[key] = true
		num := func(s string) uint64 {
			v, err := strconv.ParseUint(s, 0, 64)
			if err != nil {
				panic(fmt.Sprintf("oracle line %q: %v", line, err))
			}
			return v
		}
		switch key {
		case "pid":
			o.PID = int(num(val))
		case "main_tid":
			o.MainTID = int(num(val))
		case "thread_tid":
			o.ThreadTIDs = append(o.ThreadTIDs, int(num(strings.Fields(val)[1])))
		case "crash_tid":
			o.CrashTID = int(num(val))
		case "fault_addr":
			o.FaultAddr = Address(num(val))
		case "global_addr":
			o.GlobalAddr = Address(num(val))
		case "global_value":
			v, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return o, err
			}
			o.GlobalValue = uint64(v)
		case "rodata_addr":
			o.RodataAddr = Address(num(val))
		case "rodata_value":
			o.RodataValue = val
		case "heap_addr":
			o.HeapAddr = Address(num(val))
		case "heap_size":
			o.HeapSize = int(num(val))
		}
	}
	if len(seen) != 11 || len(o.ThreadTIDs) != 3 {
		return o, fmt.Errorf("incomplete oracle from the target:\n%s", out)
	}
	return o, nil
}

// readelfBuildID is the build ID of an ELF file as readelf reports it.
func readelfBuildID(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("readelf", "-n", path).Output()
	if err != nil {
		t.Skipf("readelf: %v", err)
	}
	m := regexp.MustCompile(`Build ID: ([0-9a-f]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("readelf -n %s shows no build ID:\n%s", path, out)
	}
	return string(m[1])
}
