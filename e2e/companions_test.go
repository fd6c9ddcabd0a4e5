package e2e

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
)

// Wrong companions: a core read with the wrong files beside it, a core
// whose files are gone, a core of another program or another machine. Each
// gets a clear message, or, where the right answer can still be given, the
// right answer with a note saying what was refused.

// pyenvPair finds two pyenv release builds with shared libpythons: the
// core's and another minor's.
func pyenvPair(t *testing.T) (pytest.Interpreter, pytest.Interpreter, string, string) {
	all, err := pytest.Discover()
	if err != nil {
		t.Logf("discovering interpreters: %v", err)
	}
	libOf := func(i pytest.Interpreter) string {
		files, err := i.Files()
		if err != nil {
			return ""
		}
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), "libpython") {
				return f
			}
		}
		return ""
	}
	var cands []pytest.Interpreter
	for _, i := range all {
		if i.Origin == "pyenv" && i.ABIFlags == "" && i.AtLeast(3, 8) && libOf(i) != "" {
			cands = append(cands, i)
		}
	}
	// Prefer 3.11 (tables, no debug offsets to fall back on) read with 3.12's files.
	for _, a := range cands {
		for _, b := range cands {
			if a.Minor == "3.11" && b.Minor == "3.12" {
				return a, b, libOf(a), libOf(b)
			}
		}
	}
	if len(cands) >= 2 {
		return cands[0], cands[1], libOf(cands[0]), libOf(cands[1])
	}
	t.Skip("two pyenv CPython builds with a shared libpython are needed")
	return pytest.Interpreter{}, pytest.Interpreter{}, "", ""
}

func TestWrongCompanions(t *testing.T) {
	core, other, lib, otherLib := pyenvPair(t)
	t.Logf("core of %s, wrong files from %s", core.Name(), other.Name())

	// The core's interpreter runs on a copy of its libpython that is gone
	// when the core is read: only the files offered can stand in for it.
	libdir := filepath.Join(t.TempDir(), "lib")
	if err := os.MkdirAll(libdir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, lib, filepath.Join(libdir, filepath.Base(lib)))
	moved := core
	moved.Env = append(append([]string{}, core.Env...), "LD_LIBRARY_PATH="+libdir)
	c := pytest.MakeCore(t, moved, "stacks", pytest.Kernel)
	recorded := filepath.Join(libdir, filepath.Base(lib))
	if err := os.RemoveAll(libdir); err != nil {
		t.Fatal(err)
	}
	noDebug := []string{"--debug-dir", t.TempDir()}

	t.Run("missing library", func(t *testing.T) {
		runFail(t, []string{c.Path, "a CPython process whose libpython is missing: " + recorded + " (build ID " + gnuBuildID(t, lib) + ")", "is not on this machine",
			"--lib-path DIR (a directory holding " + filepath.Base(lib) + " of that build)", "--sysroot DIR (with it at DIR" + recorded + ")"},
			append([]string{"threads"}, append(noDebug, c.Path)...)...)
	})

	// What the message says to do works: the library at its recorded path
	// under --sysroot.
	t.Run("missing library given with --sysroot", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, libdir), 0o755); err != nil {
			t.Fatal(err)
		}
		copyFile(t, lib, filepath.Join(root, recorded))
		for _, e := range compare(c.Oracle, runThreads(t, c.Path, append(noDebug, "--sysroot", root)...), core) {
			t.Error(e)
		}
	})

	// The other build's library under the core's name, in a library path
	// and in a sysroot at the recorded path: refused for its build ID.
	wrongDir := filepath.Join(t.TempDir(), "wrong")
	if err := os.MkdirAll(wrongDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, otherLib, filepath.Join(wrongDir, filepath.Base(lib)))
	sysroot := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sysroot, libdir), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, otherLib, filepath.Join(sysroot, recorded))
	for name, args := range map[string][]string{
		"library of another build in --lib-path": {"--lib-path", wrongDir},
		"library of another build in --sysroot":  {"--sysroot", sysroot},
	} {
		t.Run(name, func(t *testing.T) {
			runFail(t, []string{c.Path, "a CPython process whose libpython is missing: " + recorded + " (build ID ", "is here only in another build", "--lib-path"},
				append(append([]string{"threads"}, noDebug...), append(args, c.Path)...)...)
		})
	}

	// The right library among wrong ones: used, and the answer is right.
	t.Run("right library after a wrong one", func(t *testing.T) {
		right := filepath.Join(t.TempDir(), "right")
		if err := os.MkdirAll(right, 0o755); err != nil {
			t.Fatal(err)
		}
		copyFile(t, lib, filepath.Join(right, filepath.Base(lib)))
		snap := runThreads(t, c.Path, append(noDebug, "--lib-path", wrongDir, "--lib-path", right)...)
		for _, e := range compare(c.Oracle, snap, core) {
			t.Error(e)
		}
		if notes := strings.Join(snap.Notes, "\n"); !strings.Contains(notes, filepath.Join(wrongDir, filepath.Base(lib))) || !strings.Contains(notes, "build ID") {
			t.Errorf("notes do not say the wrong library was refused: %q", snap.Notes)
		}
	})

	t.Run("executable of another build", func(t *testing.T) {
		runFail(t, []string{c.Path, other.Exe, "matches no file the core maps"}, "threads", c.Path, other.Exe)
	})
	t.Run("a shared library as the executable", func(t *testing.T) {
		runFail(t, []string{c.Path, otherLib, "matches no file the core maps"}, "threads", c.Path, otherLib)
	})
	t.Run("a core as the executable", func(t *testing.T) {
		runFail(t, []string{c.Path}, "threads", c.Path, c.Path)
	})
}

// TestCoresOfOtherMachines: a real i386 core when gcc can build 32-bit
// programs (gcc-multilib), else one made by patching e_ident and e_machine
// of a real x86-64 core; aarch64 and big-endian cores by patching.
func TestCoresOfOtherMachines(t *testing.T) {
	dir := t.TempDir()
	sample := sampleCore(t)
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	patched := func(name string, patch func([]byte)) string {
		b := append([]byte(nil), data[:min(len(data), 1<<20)]...)
		patch(b)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	i386 := realI386Core(t, dir)
	if i386 == "" {
		t.Log("gcc -m32 cannot build here (no gcc-multilib): the i386 core is a patched x86-64 one")
		i386 = patched("core.i386", func(b []byte) {
			b[elf.EI_CLASS] = byte(elf.ELFCLASS32)
			binary.LittleEndian.PutUint16(b[18:], uint16(elf.EM_386))
		})
	}
	for name, c := range map[string]struct {
		path string
		want string
	}{
		"i386":    {i386, "32-bit i386 core: only x86-64 is supported"},
		"aarch64": {patched("core.arm64", func(b []byte) { binary.LittleEndian.PutUint16(b[18:], uint16(elf.EM_AARCH64)) }), "aarch64 core: only x86-64 is supported"},
		"ppc64 (BE)": {patched("core.ppc64", func(b []byte) {
			b[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
			b[16], b[17], b[18], b[19] = 0, 4, 0, byte(elf.EM_PPC64)
		}), "ppc64 core: only x86-64 is supported"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, cmd := range [][]string{{"threads"}, {"eval"}, {"maps"}, {"pack", "-o", filepath.Join(dir, "out.pycore")}} {
				args := append(append([]string{}, cmd...), c.path)
				if cmd[0] == "eval" {
					args = append(args, "1")
				}
				runFail(t, []string{c.path, c.want}, args...)
			}
		})
	}
}

// realI386Core crashes a 32-bit program and returns its kernel core, or ""
// when gcc cannot build one.
func realI386Core(t *testing.T, dir string) string {
	src := filepath.Join(dir, "crash32.c")
	if err := os.WriteFile(src, []byte("int main(void) { return *(volatile int *)0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "crash32")
	if out, err := exec.Command("gcc", "-m32", "-o", bin, src).CombinedOutput(); err != nil {
		t.Logf("gcc -m32: %v: %s", err, out)
		return ""
	}
	work := filepath.Join(dir, "run32")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err == nil && lim.Cur != lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &lim)
	}
	cmd := exec.Command(bin)
	cmd.Dir = work
	_ = cmd.Run()
	matches, _ := filepath.Glob(filepath.Join(work, "core*"))
	if len(matches) != 1 {
		t.Logf("the 32-bit program left no core in %s (core_pattern?)", work)
		return ""
	}
	return matches[0]
}

// gnuBuildID is an ELF file's build ID in hex, read with debug/elf.
func gnuBuildID(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		t.Fatalf("%s has no .note.gnu.build-id", path)
	}
	d, err := s.Data()
	if err != nil || len(d) < 16 {
		t.Fatalf("%s: build ID note: %v", path, err)
	}
	// namesz, descsz, type, "GNU\0", then the ID.
	n := f.ByteOrder.Uint32(d[4:8])
	if uint64(16+n) > uint64(len(d)) {
		t.Fatalf("%s: build ID note of %d bytes in %d", path, n, len(d))
	}
	return fmt.Sprintf("%x", d[16:16+n])
}
