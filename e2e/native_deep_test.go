package e2e

import (
	"context"
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

// TestNativeDeepMatchesGdb: threads 150, 400 and 700 Python calls deep
// under an interpreter whose eval loop recurses in C (up to 3.10: ~4 native
// frames a call, so up to ~3000 native frames, far past the old bound of 512)
// are unwound to their outermost frame: pycore threads --native-all gives
// exactly gdb's bt for every thread (pcs, order), the Python frames are
// merged with no error, and each thread has the frames of down() the
// program recorded from sys._current_frames().
func TestNativeDeepMatchesGdb(t *testing.T) {
	for _, tool := range []string{"gdb", "gcore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	gdb := pytest.Gdb()
	all, err := pytest.Discover()
	if err != nil {
		t.Fatal(err)
	}
	var interps []pytest.Interpreter
	for _, i := range all {
		if i.AtLeast(3, 6) && !i.AtLeast(3, 11) && i.ABIFlags == "" {
			interps = append(interps, i)
		}
	}
	if len(interps) == 0 {
		t.Skip("no CPython 3.6-3.10 here (the ones whose eval loop recurses in C)")
	}
	if !pytest.Full() {
		interps = interps[len(interps)-1:]
	}
	for _, interp := range interps {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			corePath, depths := gcoreDeep(t, interp)
			doc, _ := compareWithGdb(t, gdb, interp, corePath)
			deepest := 0
			for _, th := range doc.Threads {
				py, nat := 0, 0
				for _, f := range th.Frames {
					if f.Kind == "python" {
						if f.Function != nil && *f.Function == "down" {
							py++
						}
					} else {
						nat++
					}
				}
				deepest = max(deepest, nat)
				if !strings.HasSuffix(th.NativeStop, "(outermost frame)") {
					t.Errorf("thread %d: native unwinding stopped: %s", th.LWP, th.NativeStop)
				}
				if th.ThreadID != nil {
					if want, ok := depths[*th.ThreadID]; !ok || py != want {
						t.Errorf("thread %d: %d Python frames of down() merged, the program recorded %d", th.LWP, py, want)
					}
				}
			}
			if deepest <= 2000 {
				t.Errorf("the deepest thread has %d native frames; the test wants one past 2000", deepest)
			}
		})
	}
}

// gcoreDeep runs deep.py under interp, waits until its threads are parked
// and dumps it with gcore; it returns the core and each thread's count of
// down() frames by thread ident, as the program recorded them.
func gcoreDeep(t *testing.T, interp pytest.Interpreter) (string, map[uint64]int) {
	t.Helper()
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	cmd := interp.Command(context.Background(), os.Environ(), "testdata/native/deep.py", ready)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }()
	var recorded []byte
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil {
			recorded = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deep.py not ready after 90 s:\n%s", stderr.String())
		}
	}
	depths := map[uint64]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(recorded)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("deep.py recorded %q", line)
		}
		id, err1 := strconv.ParseUint(f[0], 10, 64)
		d, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("deep.py recorded %q", line)
		}
		depths[id] = d
	}
	prefix := filepath.Join(dir, "core")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pid := strconv.Itoa(cmd.Process.Pid)
	gdb := pytest.Gdb()
	if out, err := exec.CommandContext(ctx, gdb, "-batch", "-p", pid, "-ex", "gcore "+prefix+"."+pid).CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	return prefix + "." + pid, depths
}
