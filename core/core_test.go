package core

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func openT(t *testing.T, path string, opts Options) *Process {
	t.Helper()
	p, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// checkMemory compares the global, the .rodata string and the heap pattern
// with what the target printed. rodataFromFile says the dumper left .rodata
// out (the kernel and gdb do for read-only file mappings, but gdb dumps
// them when the file was deleted).
func checkMemory(t *testing.T, p *Process, o oracle, rodataFromFile bool) {
	t.Helper()
	r := p.Reader()
	if v, err := r.Uint64(o.GlobalAddr); err != nil || v != o.GlobalValue {
		t.Errorf("global at %s = %#x, %v; the target printed %#x", o.GlobalAddr, v, err, o.GlobalValue)
	}
	if s, _, err := r.CString(o.RodataAddr, 200); err != nil || string(s) != o.RodataValue {
		t.Errorf("rodata string at %s = %q, %v; the target printed %q", o.RodataAddr, s, err, o.RodataValue)
	}
	heap := make([]byte, o.HeapSize)
	if err := r.Read(heap, o.HeapAddr); err != nil {
		t.Errorf("heap: %v", err)
	}
	for i, b := range heap {
		if want := byte(i*7 + 3); b != want {
			t.Errorf("heap[%d] = %#x, want %#x", i, b, want)
			break
		}
	}
	if m := p.FindMapping(o.RodataAddr); rodataFromFile && (m == nil || m.Source() != FromFile) {
		t.Errorf("mapping of .rodata is %v, want one read from the file", m)
	}
	if m := p.FindMapping(o.GlobalAddr); m == nil || m.Source() != FromCore {
		t.Errorf("mapping of the global is %v, want one from the core", m)
	}
}

func checkThreads(t *testing.T, p *Process, s *scenario) {
	t.Helper()
	o := s.Oracle
	var got []int
	for _, th := range p.Threads {
		got = append(got, th.TID)
	}
	want := append([]int{o.MainTID}, o.ThreadTIDs...)
	sort.Ints(got)
	sort.Ints(want)
	if !equalInts(got, want) {
		t.Errorf("thread IDs %v, the target printed %v", got, want)
	}
	for _, tid := range want {
		if th := p.Thread(tid); th == nil || th.TID != tid {
			t.Errorf("Thread(%d) = %v", tid, th)
		}
	}
	if p.Thread(-5) != nil {
		t.Errorf("Thread(-5) found something")
	}
	if p.PsInfo == nil || p.PsInfo.PID != o.PID || p.PsInfo.Fname != s.Comm {
		t.Errorf("psinfo %+v, want pid %d and name %s", p.PsInfo, o.PID, s.Comm)
	}
}

// checkCrash is everything a crash core of the target must show.
func checkCrash(t *testing.T, p *Process, s *scenario) {
	t.Helper()
	o := s.Oracle
	checkThreads(t, p, s)
	if len(p.Threads) > 0 {
		th := p.Threads[0]
		if th.TID != o.CrashTID || th.Signal != SIGSEGV {
			t.Errorf("Threads[0] is %d with signal %d, want the crashing thread %d with SIGSEGV", th.TID, th.Signal, o.CrashTID)
		}
		// The fault is in worker(), in the target's own code.
		if obj := p.FindObject(Address(th.Regs.RIP)); obj == nil || filepath.Base(obj.Path) != "target" {
			t.Errorf("crashing RIP %#x is in %v, want the target", th.Regs.RIP, obj)
		}
		if m := p.FindMapping(Address(th.Regs.RSP)); m == nil || m.Path != "" || m.Perm&PermWrite == 0 {
			t.Errorf("crashing RSP %#x is in %v, want a writable anonymous stack", th.Regs.RSP, m)
		}
	}
	si := p.Signal
	if si == nil {
		t.Fatalf("no signal info")
	}
	if si.Signo != SIGSEGV || si.Name() != "SIGSEGV" || si.Code != 1 || si.CodeName() != "SEGV_MAPERR" || si.Addr != o.FaultAddr || !si.IsFatal() {
		t.Errorf("signal %+v (%s), want SIGSEGV SEGV_MAPERR at %s", *si, si, o.FaultAddr)
	}
	if c := p.SignalCause(); c != CauseFault || !si.HasAddr() {
		t.Errorf("segfault: cause %q, has address %v; want a fault with an address", c, si.HasAddr())
	}
	checkMemory(t, p, o, true)

	var exe *Object
	for _, obj := range p.Objects {
		if filepath.Base(obj.Path) == "target" {
			exe = obj
		}
	}
	if exe == nil {
		t.Fatalf("no object for the target among %v", p.Objects)
	}
	if exe.Status != FileFound || exe.Data == nil {
		t.Errorf("target object: %v %s", exe.Status, exe.StatusMsg)
	}
	if exe.Base%4096 != 0 || exe.Base > o.GlobalAddr || exe.End <= o.GlobalAddr {
		t.Errorf("target object %s-%s does not hold the global at %s", exe.Base, exe.End, o.GlobalAddr)
	}
	// The ELF header is at the base.
	var magic [4]byte
	if err := p.Reader().Read(magic[:], exe.Base); err != nil || string(magic[:]) != elfMagic {
		t.Errorf("at the target's base %s: %q, %v", exe.Base, magic, err)
	}

	// A read across mappings: the dumped header page and the text from the file.
	if m := p.FindMapping(exe.Base); m != nil && exe.Data != nil {
		boundary := m.End
		buf := make([]byte, 64)
		if err := p.Reader().Read(buf, boundary-32); err != nil {
			t.Errorf("read across %s: %v", boundary, err)
		} else if fo := m.FileOffset + m.Size() - 32; !bytes.Equal(buf, exe.Data[fo:fo+64]) {
			t.Errorf("read across %s differs from the file at %#x", boundary, fo)
		}
	}

	// Unmapped memory: the fault address itself.
	_, err := p.ReadAt(make([]byte, 8), o.FaultAddr)
	var re *ReadError
	if !errors.As(err, &re) || re.Reason != "not mapped" || re.Addr != o.FaultAddr || re.Size != 8 {
		t.Errorf("reading the fault address: %v, want a not-mapped ReadError", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCrashCore(t *testing.T) {
	f := getFixtures(t)
	t.Logf("crash core made by %s: %s", f.Crash.How, f.Crash.Core)
	p := openT(t, f.Crash.Core, Options{})
	checkCrash(t, p, f.Crash)
	for _, w := range p.Warnings {
		t.Errorf("unexpected warning: %s", w)
	}

	exe := p.ObjectByPath(f.Crash.Binary)
	if exe == nil {
		t.Fatalf("no object recorded as %s", f.Crash.Binary)
	}
	if got, want := hex.EncodeToString(exe.BuildID), readelfBuildID(t, f.Crash.Binary); got != want {
		t.Errorf("target build ID from the core %s, readelf says %s", got, want)
	}
	if exe.LocalPath != f.Crash.Binary || !strings.Contains(exe.StatusMsg, "build ID matches") {
		t.Errorf("target found at %q (%s)", exe.LocalPath, exe.StatusMsg)
	}
	for _, obj := range p.Objects {
		if strings.Contains(obj.Path, "libc.so") {
			if got, want := hex.EncodeToString(obj.BuildID), readelfBuildID(t, obj.Path); got != want {
				t.Errorf("libc build ID from the core %s, readelf says %s", got, want)
			}
		}
	}
	if phdr, ok := p.AuxvValue(AtPhdr); !ok || p.FindObject(Address(phdr)) != exe {
		t.Errorf("AT_PHDR %#x (%v) is not in the target", phdr, ok)
	}
	if _, ok := p.AuxvValue(0xdead); ok {
		t.Errorf("AuxvValue found a tag that is not there")
	}

	if f.Crash.How == "kernel" {
		// Thread stack guard pages: in the core's segment list, never dumped.
		found := false
		for _, m := range p.Mappings {
			if m.Path == "" && m.Source() == Missing {
				found = true
				_, err := p.ReadAt(make([]byte, 4), m.Start)
				var re *ReadError
				if !errors.As(err, &re) || re.Reason != "in filtered segment of anonymous memory (not dumped)" {
					t.Errorf("reading guard page %v: %v", m, err)
				}
				break
			}
		}
		if !found {
			t.Errorf("no filtered anonymous mapping (thread guard page) in a kernel core")
		}
	}

	// Mappings are sorted and do not overlap.
	for i := 1; i < len(p.Mappings); i++ {
		if p.Mappings[i-1].End > p.Mappings[i].Start || p.Mappings[i].Start >= p.Mappings[i].End {
			t.Errorf("mappings %v and %v out of order or overlapping", p.Mappings[i-1], p.Mappings[i])
		}
	}
}

func TestGcoreOfLiveProcess(t *testing.T) {
	f := getFixtures(t)
	p := openT(t, f.Wait.Core, Options{})
	o := f.Wait.Oracle
	checkThreads(t, p, f.Wait)
	checkMemory(t, p, o, true)
	if p.Signal != nil && p.Signal.IsFatal() {
		t.Errorf("gcore of a live process reports fatal signal %s", p.Signal)
	}
	if c := p.SignalCause(); c != CauseStop {
		t.Errorf("gcore of a live process: cause %q, want %q", c, CauseStop)
	}
	// gdb leaves .rodata out of the core altogether: only NT_FILE knows the
	// range, and its protection comes from the ELF program headers.
	m := p.FindMapping(o.RodataAddr)
	if m == nil || m.CoreSize != 0 || m.PermKnown() || m.Perm != PermRead {
		t.Errorf(".rodata mapping %v (perm known %v), want read-only from the file", m, m != nil && m.PermKnown())
	}
	for _, w := range p.Warnings {
		t.Errorf("unexpected warning: %s", w)
	}
}

func TestBinaryDeletedBeforeDump(t *testing.T) {
	f := getFixtures(t)
	s := f.Deleted
	recorded := s.Binary + " (deleted)"
	p := openT(t, s.Core, Options{})
	exe := p.ObjectByPath(recorded)
	if exe == nil || exe.Status != FileMissing || !strings.Contains(exe.StatusMsg, s.Binary+" (not found)") {
		t.Fatalf("object for %q: %+v", recorded, exe)
	}
	// The build ID in the core picks the file given by the user.
	p = openT(t, s.Core, Options{Executable: f.Target})
	checkThreads(t, p, s)
	checkMemory(t, p, s.Oracle, false)
	// gdb could not read the deleted file, so it dumped the text too; the
	// file is still needed for nothing but the build ID check and symbols.
	if m := p.FindMapping(s.Oracle.RodataAddr); m == nil || m.Source() != FromCore || m.Object == nil {
		t.Errorf(".rodata of a deleted binary: %v", m)
	}
	if exe := p.ObjectByPath(recorded); exe == nil || exe.Status != FileFound || exe.LocalPath != f.Target {
		t.Errorf("object for %q with --exe: %+v", recorded, exe)
	}
}

func TestStartedThroughLoader(t *testing.T) {
	f := getFixtures(t)
	p := openT(t, f.Loader.Core, Options{})
	checkCrash(t, p, f.Loader)
	// The loader was exec'd: AT_EXECFN names it, not the program.
	v, ok := p.AuxvValue(AtExecfn)
	execfn, _, err := p.Reader().CString(Address(v), 4096)
	if !ok || err != nil || !strings.Contains(string(execfn), "ld-linux") {
		t.Errorf("AT_EXECFN = %q (%v, %v), want the loader", execfn, ok, err)
	}
	if obj := p.ObjectByPath(f.Loader.Binary); obj == nil || obj.Status != FileFound {
		t.Errorf("the program itself: %v", obj)
	}
}

func TestFilteredSegmentWithoutFile(t *testing.T) {
	f := getFixtures(t)
	s := f.Hidden
	p := openT(t, s.Core, Options{Sysroot: t.TempDir()})
	exe := p.ObjectByPath(s.Binary)
	if exe == nil || exe.Status != FileMissing || exe.Data != nil {
		t.Fatalf("deleted target: %+v, want a missing object", exe)
	}
	if !strings.Contains(exe.StatusMsg, s.Binary+" (not found)") {
		t.Errorf("status message %q does not name the recorded path", exe.StatusMsg)
	}
	_, err := p.ReadAt(make([]byte, 16), s.Oracle.RodataAddr)
	var re *ReadError
	want := "in filtered segment of " + s.Binary + " (file not found)"
	if !errors.As(err, &re) || re.Reason != want || re.Addr != s.Oracle.RodataAddr {
		t.Errorf("reading .rodata of a deleted binary: %v, want %q", err, want)
	}
	if m := p.FindMapping(s.Oracle.RodataAddr); m.Source() != Missing {
		t.Errorf(".rodata source %v, want missing", m.Source())
	}
	// What the core holds is still there.
	if v, err := p.Reader().Uint64(s.Oracle.GlobalAddr); err != nil || v != s.Oracle.GlobalValue {
		t.Errorf("global: %#x, %v", v, err)
	}

	// Offered again, the file is used: by build ID with --exe, by name in a library path.
	for name, opts := range map[string]Options{
		"executable": {Executable: f.Target},
		"libpath":    {LibPaths: []string{t.TempDir(), filepath.Dir(f.Target)}},
		"sysroot":    {Sysroot: sysrootWith(t, s.Binary, f.Target)},
	} {
		t.Run(name, func(t *testing.T) {
			p := openT(t, s.Core, opts)
			checkCrash(t, p, s)
			if exe := p.ObjectByPath(s.Binary); exe == nil || exe.Status != FileFound {
				t.Errorf("target: %+v", exe)
			}
			if len(p.Warnings) != 0 {
				t.Errorf("warnings: %q", p.Warnings)
			}
		})
	}
}

// sysrootWith makes a sysroot holding src at recorded path rec.
func sysrootWith(t *testing.T, rec, src string) string {
	root := t.TempDir()
	dst := filepath.Join(root, rec)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestBuildIDMismatch(t *testing.T) {
	f := getFixtures(t)
	s := f.Hidden
	for name, opts := range map[string]Options{
		"executable": {Executable: f.Variant},
		"libpath":    {LibPaths: []string{filepath.Dir(f.Variant)}},
		"sysroot":    {Sysroot: sysrootWith(t, s.Binary, f.Variant)},
	} {
		t.Run(name, func(t *testing.T) {
			p := openT(t, s.Core, opts)
			exe := p.ObjectByPath(s.Binary)
			if exe == nil || exe.Status != FileMismatch || exe.Data != nil {
				t.Fatalf("target with only a rebuilt file offered: %+v, want a mismatch", exe)
			}
			warned := false
			for _, w := range p.Warnings {
				if w.Kind == WarnBuildID && strings.Contains(w.Text, "does not match the core's "+hex.EncodeToString(exe.BuildID)) {
					warned = true
				}
			}
			if !warned {
				t.Errorf("no build ID mismatch warning in %q", p.Warnings)
			}
			_, err := p.ReadAt(make([]byte, 8), s.Oracle.RodataAddr)
			if err == nil || !strings.Contains(err.Error(), "build ID mismatch") {
				t.Errorf("reading .rodata: %v, want a build ID mismatch", err)
			}
		})
	}
	// An executable that matches nothing in the core is reported.
	p := openT(t, f.Crash.Core, Options{Executable: "/bin/sh"})
	if !strings.Contains(strings.Join(p.WarningTexts(), "\n"), "/bin/sh") {
		t.Errorf("no warning about an unused executable: %q", p.Warnings)
	}
}

// compressCopy compresses the core with a command-line tool into dir.
func compressCopy(t *testing.T, core, tool, ext string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed", tool)
	}
	out := filepath.Join(t.TempDir(), "core"+ext)
	fout, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fout.Close()
	cmd := exec.Command(tool, append(args, "-c", core)...)
	cmd.Stdout = fout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v %s", tool, err, stderr.Bytes())
	}
	return out
}

func TestCompressedCores(t *testing.T) {
	f := getFixtures(t)
	for _, c := range []struct {
		tool, ext string
		args      []string
	}{
		{"gzip", ".gz", []string{"-1"}},
		{"zstd", ".zst", []string{"-q", "-1"}},
		{"xz", ".xz", []string{"-0", "-T1"}},
		{"lz4", ".lz4", []string{"-q", "-1"}},
	} {
		t.Run(c.tool, func(t *testing.T) {
			path := compressCopy(t, f.Crash.Core, c.tool, c.ext, c.args...)
			// A misleading name: detection is by content.
			renamed := strings.TrimSuffix(path, c.ext) + ".bin"
			if err := os.Rename(path, renamed); err != nil {
				t.Fatal(err)
			}
			p := openT(t, renamed, Options{})
			checkCrash(t, p, f.Crash)
			plain, err := os.ReadFile(f.Crash.Core)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.CoreImage(), plain) {
				t.Errorf("decompressed image differs from the original core")
			}
		})
	}
}

func TestDecompressionLimit(t *testing.T) {
	f := getFixtures(t)
	path := compressCopy(t, f.Crash.Core, "gzip", ".gz", "-1")
	old := maxDecompressedSize
	maxDecompressedSize = 1 << 20
	defer func() { maxDecompressedSize = old }()
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "exceeds the limit of 1048576 bytes (1 MiB)") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open of a core bigger than the limit: %v", err)
	}

	maxDecompressedSize = old
	// A cut stream gives what came before the cut, and says so.
	cut := filepath.Join(t.TempDir(), "cut.gz")
	data := mustRead(t, path)
	os.WriteFile(cut, data[:len(data)/2], 0o644)
	p, err := Open(cut, Options{})
	if err != nil {
		t.Fatalf("Open of a cut gzip core: %v", err)
	}
	defer p.Close()
	if w := strings.Join(p.WarningTexts(), "\n"); !strings.Contains(w, "gzip stream broken after") || !strings.Contains(w, "core file truncated") ||
		!hasWarning(p, WarnStream) || !hasWarning(p, WarnTruncated) {
		t.Errorf("cut gzip core: warnings %q", p.Warnings)
	}
	if f.Crash.How == "kernel" && len(p.Threads) != 4 { // the kernel writes notes first
		t.Errorf("cut gzip core: %d threads, want the 4 of the notes before the cut", len(p.Threads))
	}
}

func TestBundle(t *testing.T) {
	f := getFixtures(t)
	s := f.Hidden
	dir := t.TempDir()
	// The program the core needs, as a file that goes away after packing.
	exe := filepath.Join(dir, "target-copy")
	data, _ := os.ReadFile(f.Target)
	os.WriteFile(exe, data, 0o755)
	variantID := fileBuildID(f.Variant)
	if variantID == nil {
		t.Fatal("variant has no build ID")
	}

	p := openT(t, s.Core, Options{Executable: exe})
	bundle := filepath.Join(dir, "crash.pycore")
	extra := []BundleFile{{LocalPath: f.Variant, Kind: "debug"}}
	if err := WriteBundle(p, bundle, extra); err != nil {
		t.Fatal(err)
	}
	p.Close()
	os.Remove(exe)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("after writing the bundle the directory holds %v, want only the bundle", ents)
	}

	check := func(t *testing.T, path string) {
		b := openT(t, path, Options{})
		checkCrash(t, b, s)
		for _, obj := range b.Objects {
			if obj.Status != FileFound || !strings.HasPrefix(obj.LocalPath, path+"#files/") {
				t.Errorf("object %s: %v from %q, want it from the bundle", obj.Path, obj.Status, obj.LocalPath)
			}
		}
		if got := b.ExtraFile("debug", variantID); !bytes.Equal(got, mustRead(t, f.Variant)) {
			t.Errorf("ExtraFile(debug, %x) = %d bytes, want the variant", variantID, len(got))
		}
		if b.ExtraFile("debug", []byte{1, 2, 3}) != nil || b.ExtraFile("nope", nil) != nil {
			t.Errorf("ExtraFile found files that are not there")
		}
		kinds := map[string]int{}
		for _, bf := range b.BundleFiles() {
			kinds[bf.Kind]++
		}
		if kinds[KindObject] != len(b.Objects) || kinds["debug"] != 1 {
			t.Errorf("bundle files by kind %v, want %d objects and 1 debug", kinds, len(b.Objects))
		}
	}
	t.Run("plain", func(t *testing.T) { check(t, bundle) })
	t.Run("zstd", func(t *testing.T) { check(t, compressCopy(t, bundle, "zstd", ".zst", "-q", "-1")) })
	t.Run("rebundled", func(t *testing.T) {
		b := openT(t, bundle, Options{})
		again := filepath.Join(t.TempDir(), "again.pycore")
		if err := WriteBundle(b, again, nil); err != nil {
			t.Fatal(err)
		}
		check(t, again)
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenRejects(t *testing.T) {
	f := getFixtures(t)
	dir := t.TempDir()
	core := mustRead(t, f.Crash.Core)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	patched := func(name string, patch func(b []byte)) string {
		b := bytes.Clone(core)
		patch(b)
		return write(name, b)
	}
	for _, c := range []struct {
		name, path, want string
	}{
		{"text file", write("notes.txt", []byte("hello, world\n")), `not an ELF file (starts with "hello, w")`},
		{"empty file", write("empty", nil), "empty file"},
		{"missing file", filepath.Join(dir, "nope"), "no such file"},
		{"directory", dir, "is a directory, not a core (pycore report DIR"},
		{"executable", f.Target, "an ELF shared object or PIE executable, not a core"},
		{"aarch64 core", patched("arm", func(b []byte) { binary.LittleEndian.PutUint16(b[18:], 183) }), "aarch64 core: only x86-64 is supported"},
		{"i386 core", patched("i386", func(b []byte) { b[4] = 1; binary.LittleEndian.PutUint16(b[18:], 3) }), "32-bit i386 core: only x86-64 is supported"},
		{"x32 core", patched("x32", func(b []byte) { b[4] = 1 }), "32-bit core"},
		{"big-endian", patched("be", func(b []byte) { b[5] = 2; b[16], b[17], b[18], b[19] = 0, 4, 0, 62 }), "big-endian x86-64 core"},
		{"cut in the program headers", write("cut", core[:100]), "truncated: program header table ends at"},
		{"bad phentsize", patched("phent", func(b []byte) { b[54] = 32 }), "e_phentsize is 32"},
		{"corrupt zstd", write("bad.zst", []byte{0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6}), "damaged zstd stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Open(c.path, Options{})
			if err == nil {
				p.Close()
				t.Fatalf("Open succeeded, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), c.path+": ") {
				t.Errorf("error %q, want it to name %s and say %q", err, c.path, c.want)
			}
		})
	}
	if _, err := Open(f.Crash.Core, Options{Executable: filepath.Join(dir, "missing-exe")}); err == nil || !strings.Contains(err.Error(), "missing-exe") {
		t.Errorf("Open with a missing executable: %v", err)
	}
}

func TestTruncatedCore(t *testing.T) {
	f := getFixtures(t)
	full := openT(t, f.Crash.Core, Options{})
	o := f.Crash.Oracle
	heap := full.FindMapping(o.HeapAddr)
	if heap == nil || heap.CoreSize == 0 {
		t.Fatalf("heap mapping %v", heap)
	}
	// Cut the core in the middle of the heap's bytes.
	cutAt := heap.coreOff + uint64(o.HeapAddr-heap.Start) + 100
	path := filepath.Join(t.TempDir(), "core")
	if err := os.WriteFile(path, mustRead(t, f.Crash.Core)[:cutAt], 0o644); err != nil {
		t.Fatal(err)
	}
	p := openT(t, path, Options{})
	if !strings.Contains(strings.Join(p.WarningTexts(), "\n"), "core file truncated") || !hasWarning(p, WarnTruncated) {
		t.Errorf("no truncation warning in %q", p.Warnings)
	}
	buf := make([]byte, 200)
	n, err := p.ReadAt(buf, o.HeapAddr)
	var re *ReadError
	if !errors.As(err, &re) || n != 100 || re.Addr != o.HeapAddr+100 || !strings.HasPrefix(re.Reason, "past the end of the truncated core") {
		t.Errorf("read across the cut: %d bytes, %v; want 100 then core file truncated", n, err)
	}
	if !bytes.Equal(buf[:n], mustRead(t, f.Crash.Core)[cutAt-100:cutAt]) {
		t.Errorf("bytes before the cut differ")
	}
	if v, err := p.Reader().Uint64(o.GlobalAddr); err != nil || v != o.GlobalValue {
		t.Errorf("global before the cut: %#x, %v", v, err)
	}
}

func TestCloseTwice(t *testing.T) {
	f := getFixtures(t)
	p, err := Open(f.Crash.Core, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.ReadAt(make([]byte, 8), f.Crash.Oracle.GlobalAddr); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("ReadAt after Close: %v", err)
	}
	for _, o := range p.Objects {
		if o.Data != nil {
			t.Errorf("object %s keeps its data after Close", o.Path)
		}
	}
}

func TestReadAtDoesNotAllocate(t *testing.T) {
	f := getFixtures(t)
	p := openT(t, f.Crash.Core, Options{})
	o := f.Crash.Oracle
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		p.ReadAt(buf[:8], o.GlobalAddr)
		p.ReadAt(buf, o.RodataAddr)
		p.ReadAt(buf, o.HeapAddr)
	})
	if allocs != 0 {
		t.Errorf("ReadAt allocates %v times per run", allocs)
	}
}

func BenchmarkReadAt(b *testing.B) {
	f := getFixtures(b)
	p, err := Open(f.Crash.Core, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	o := f.Crash.Oracle
	addrs := []Address{o.GlobalAddr, o.RodataAddr, o.HeapAddr + 128, o.HeapAddr + Address(o.HeapSize) - 8}
	var buf [8]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.ReadAt(buf[:], addrs[i%len(addrs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// hasWarning says whether p warned of kind.
func hasWarning(p *Process, kind WarningKind) bool {
	for _, w := range p.Warnings {
		if w.Kind == kind {
			return true
		}
	}
	return false
}
