package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pycore/pycore/internal/pytest"
)

// sampleCore extracts the plain core from the shipped sample bundle.
func sampleCore(t *testing.T) string {
	t.Helper()
	f, err := os.Open(sampleBundle)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no core in %s: %v", sampleBundle, err)
		}
		if h.Name == "core" {
			path := filepath.Join(t.TempDir(), "core")
			out, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
			return path
		}
	}
}

// runFail runs pycore expecting failure: a non-zero exit and exactly one line
// on stderr that contains every want.
func runFail(t *testing.T, want []string, args ...string) {
	t.Helper()
	cmd := exec.Command(pycoreBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatalf("pycore %v succeeded; stdout:\n%s", args, stdout.String())
	}
	msg := strings.TrimRight(stderr.String(), "\n")
	if strings.Contains(msg, "\n") || msg == "" {
		t.Errorf("pycore %v: want one line on stderr, got:\n%s", args, msg)
	}
	if strings.Contains(msg, "goroutine") || strings.Contains(msg, "panic") {
		t.Errorf("pycore %v: Go panic:\n%s", args, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("pycore %v: stderr %q lacks %q", args, msg, w)
		}
	}
}

func TestUnusableInputsFailWithOneClearLine(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a core at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	core := sampleCore(t)
	data, err := os.ReadFile(core)
	if err != nil {
		t.Fatal(err)
	}
	truncated := func(n int) string {
		p := filepath.Join(dir, "core.cut")
		if err := os.WriteFile(p, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("text file", func(t *testing.T) { runFail(t, []string{text, "not an ELF file"}, "threads", text) })
	t.Run("missing file", func(t *testing.T) {
		runFail(t, []string{"no-such-core"}, "threads", filepath.Join(dir, "no-such-core"))
	})
	t.Run("executable, not a core", func(t *testing.T) {
		runFail(t, []string{pycoreBin, "not a core"}, "threads", pycoreBin)
	})
	t.Run("cut in the ELF header", func(t *testing.T) {
		runFail(t, []string{"core.cut"}, "threads", truncated(40))
	})
	t.Run("cut in the program headers", func(t *testing.T) {
		runFail(t, []string{"core.cut", "truncated"}, "threads", truncated(2000))
	})
	t.Run("cut before the runtime's memory", func(t *testing.T) {
		runFail(t, []string{"core.cut", "truncated"}, "threads", truncated(len(data)/8))
	})
	t.Run("executable that does not match", func(t *testing.T) {
		runFail(t, []string{core, pycoreBin, "matches no file the core maps"}, "threads", core, pycoreBin)
	})
	t.Run("directory", func(t *testing.T) {
		runFail(t, []string{dir, "is a directory", "pycore report DIR"}, "threads", dir)
	})
	t.Run("damaged zstd", func(t *testing.T) {
		// A zstd frame header followed by garbage, as a cut or corrupted copy gives.
		p := filepath.Join(dir, "core.zst")
		if err := os.WriteFile(p, []byte{0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8}, 0o644); err != nil {
			t.Fatal(err)
		}
		runFail(t, []string{p, "damaged zstd stream"}, "threads", p)
	})
	t.Run("a PID where a core goes", func(t *testing.T) {
		// This test's own process exists, and no file in the e2e directory has its number as name.
		pid := itoa(os.Getpid())
		for _, cmd := range [][]string{{"threads", pid}, {"tasks", pid}} {
			runFail(t, []string{pid + ": no such file", "looks like a process id", "--pid " + pid}, cmd...)
		}
	})
	t.Run("bad --types", func(t *testing.T) {
		runFail(t, []string{"--types"}, "threads", "--types", "guess", core)
	})
}

// A core of a program that is not Python says so.
func TestNonPythonCoreIsNamedAsSuch(t *testing.T) {
	if _, err := exec.LookPath("gcore"); err != nil {
		t.Skip("gcore not found (apt-get install gdb)")
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	time.Sleep(100 * time.Millisecond)
	prefix := filepath.Join(t.TempDir(), "core")
	if out, err := exec.Command("gcore", "-o", prefix, itoa(sleep.Process.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	runFail(t, []string{"not a CPython process"}, "threads", prefix+"."+itoa(sleep.Process.Pid))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Without the ELF files (here libpython was deleted after the process
// started), 3.13+ is still found through the _Py_DebugOffsets cookie in
// memory, and every stack is right.
func TestRuntimeFoundWithoutItsFiles(t *testing.T) {
	var interp *pytest.Interpreter
	all, err := pytest.Discover()
	if err != nil {
		t.Fatal(err)
	}
	for i := range all {
		if all[i].Origin == "pyenv" && all[i].AtLeast(3, 13) {
			interp = &all[i]
		}
	}
	if interp == nil {
		t.Skip("no pyenv CPython 3.13+ on this machine")
	}
	files, err := interp.Files()
	if err != nil {
		t.Fatal(err)
	}
	var libpython string
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "libpython") {
			libpython = f
		}
	}
	if libpython == "" {
		t.Skipf("%s has no shared libpython", interp.Name())
	}
	// Run the interpreter on a copy of libpython that is gone when the core is read.
	libdir := filepath.Join(t.TempDir(), "lib")
	if err := os.MkdirAll(libdir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, libpython, filepath.Join(libdir, filepath.Base(libpython)))
	moved := *interp
	moved.Env = append(append([]string{}, interp.Env...), "LD_LIBRARY_PATH="+libdir)
	c := pytest.MakeCore(t, moved, "stacks", pytest.Kernel)
	if err := os.RemoveAll(libdir); err != nil {
		t.Fatal(err)
	}
	snap := runThreads(t, c.Path, "--debug-dir", t.TempDir())
	if !strings.Contains(snap.Python.Evidence, "cookie") {
		t.Errorf("evidence %q does not say the runtime was found by its cookie", snap.Python.Evidence)
	}
	for _, e := range compare(c.Oracle, snap, *interp) {
		t.Error(e)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// Command-line mistakes fail with one line that says what was wrong and,
// for arguments, how the command is used.
func TestCommandLineMistakesFailWithOneClearLine(t *testing.T) {
	core := sampleCore(t)
	t.Run("no core", func(t *testing.T) {
		runFail(t, []string{"threads: accepts between 1 and 2", "usage: pycore threads CORE [EXECUTABLE]", "pycore threads --help"}, "threads")
	})
	t.Run("too many arguments", func(t *testing.T) {
		runFail(t, []string{"usage: pycore tasks CORE [EXECUTABLE]"}, "tasks", core, core, core)
	})
	t.Run("report without a path", func(t *testing.T) {
		runFail(t, []string{"usage: pycore report PATH..."}, "report")
	})
	t.Run("completion of an unknown shell", func(t *testing.T) {
		runFail(t, []string{`completion "tcsh"`, "bash"}, "completion", "tcsh")
	})
	t.Run("completion of bash still works", func(t *testing.T) {
		out, err := exec.Command(pycoreBin, "completion", "bash").Output()
		if err != nil || !strings.Contains(string(out), "bash completion") {
			t.Errorf("completion bash: %v, %.80q", err, out)
		}
	})
	for _, flag := range []string{"--max-depth", "--max-length", "--max-string", "--max-repr"} {
		t.Run("negative "+flag, func(t *testing.T) {
			runFail(t, []string{flag + " -1", "want 0 or more"}, "threads", "--locals", flag, "-1", core)
		})
	}
}

// threads and tasks take $PYCORE_CORE when no core is named, as eval does.
func TestCoreFromEnvironment(t *testing.T) {
	core := sampleCore(t)
	for _, cmd := range []string{"threads", "tasks"} {
		named := string(pycoreOut(t, nil, cmd, core))
		fromEnv := string(pycoreOut(t, []string{"PYCORE_CORE=" + core}, cmd))
		if named != fromEnv || named == "" {
			t.Errorf("%s with $PYCORE_CORE differs from %s CORE:\n%s\n---\n%s", cmd, cmd, fromEnv, named)
		}
	}
}

// TestTruncatedCoreSaysItOnce cuts a real kernel core short, as ulimit -c or
// a full disk would, and checks that pycore says so once, with the sizes the
// ELF headers give (read here with debug/elf) and what to check, instead of
// a list of the segments cut off; then what could still be read.
func TestTruncatedCoreSaysItOnce(t *testing.T) {
	interps := interpreters(t)
	interp := interps[len(interps)-1]
	c := pytest.MakeCore(t, interp, "stacks", pytest.Kernel)
	f, err := elf.Open(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	want, firstLoad := uint64(0), uint64(0)
	for _, p := range f.Progs {
		want = max(want, p.Off+p.Filesz)
		if p.Type == elf.PT_LOAD && p.Filesz > 0 && firstLoad == 0 {
			firstLoad = p.Off
		}
	}
	f.Close()
	data, err := os.ReadFile(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(data)) != want || want < 4e6 {
		t.Fatalf("the intact core has %d bytes, its headers need %d: want them equal and over 4 MB", len(data), want)
	}
	failed := 0
	t.Cleanup(func() {
		if failed == 0 {
			t.Error("no cut left the core unreadable: the error's form is not checked")
		}
	})
	mb := func(n uint64) string { return fmt.Sprintf("%d.%d MB", n/1e6, n%1e6/1e5) }
	for _, cut := range []struct {
		name string
		size uint64
	}{{"at half", want / 2}, {"a megabyte short", want - 1<<20}, {"at a quarter", want / 4}, {"just past the notes", firstLoad + 4096}} {
		t.Run(cut.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "core")
			if err := os.WriteFile(path, data[:cut.size], 0o600); err != nil {
				t.Fatal(err)
			}
			present := mb(cut.size)[:len(mb(cut.size))-3] + " of " + mb(want)
			if cut.size < 1e6 {
				present = fmt.Sprintf("%d bytes of %s", cut.size, mb(want))
			}
			head := fmt.Sprintf("core file truncated: %s present (check ulimit -c, disk space, systemd-coredump's limits)", present)
			cmd := exec.Command(pycoreBin, "threads", "--debug-dir", t.TempDir(), path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			all := stdout.String() + stderr.String()
			if n := strings.Count(all, "core file truncated"); n != 1 || !strings.Contains(all, head) {
				t.Errorf("pycore says %q %d times; want once, as %q:\n%s", "core file truncated", n, head, all)
			}
			// No list of address ranges: the segments cut off are counted.
			if strings.Contains(all, "0x") && strings.Count(all, "-0x") > 2 {
				t.Errorf("pycore lists address ranges:\n%s", all)
			}
			if runErr != nil {
				msg := strings.TrimRight(stderr.String(), "\n")
				if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "pycore: "+path+": "+head) || !strings.Contains(msg, "still readable: the registers of ") {
					t.Errorf("want one line starting with the truncation, then what is still readable; got:\n%s", msg)
				}
				failed++
				return
			}
			// Read anyway: the truncation is a note, the threads still print.
			if !strings.Contains(stdout.String(), "\nnote: "+head+"; ") || !strings.Contains(stdout.String(), "\nThread 0x") {
				t.Errorf("a readable cut core: want its threads and one note %q:\n%s", head, stdout.String())
			}
		})
	}
}
