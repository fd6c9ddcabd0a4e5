package symbols

import (
	"bytes"
	"debug/dwarf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
)

// makeCore dumps the child: "gcore" while it runs, "kernel" by making it
// abort (core_pattern "core" writes it to the child's directory).
func makeCore(t *testing.T, lp *liveProcess, dir, how string) string {
	t.Helper()
	switch how {
	case "gcore":
		needTool(t, "gcore")
		prefix := filepath.Join(dir, "gcore")
		pid := strconv.Itoa(lp.cmd.Process.Pid)
		if out, err := exec.Command("gcore", "-o", prefix, pid).CombinedOutput(); err != nil {
			t.Fatalf("gcore: %v\n%s", err, out)
		}
		return prefix + "." + pid
	case "kernel":
		pattern, err := os.ReadFile("/proc/sys/kernel/core_pattern")
		if err != nil || strings.HasPrefix(string(pattern), "|") || strings.Contains(string(pattern), "/") {
			t.Skipf("kernel cores do not go to the working directory here (core_pattern %q)", pattern)
		}
		lp.abort(t)
		matches, _ := filepath.Glob(filepath.Join(dir, "core*"))
		if len(matches) != 1 {
			t.Fatalf("want one kernel core in %s, found %v", dir, matches)
		}
		return matches[0]
	}
	t.Fatalf("unknown core kind %q", how)
	return ""
}

func openCore(t *testing.T, path string) *core.Process {
	t.Helper()
	p, err := core.Open(path, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// checkModulesMatchMaps checks each module's range and build ID against the
// process's own /proc/self/maps and the core's record.
func checkModulesMatchMaps(t *testing.T, tab *Table, maps string) {
	t.Helper()
	lines := parseMaps(t, maps)
	for _, m := range tab.Modules {
		if m.ELF == nil {
			continue
		}
		var lo, hi core.Address
		for _, l := range lines {
			if l.path == m.Path {
				if lo == 0 || l.start < lo {
					lo = l.start
				}
				if l.end > hi {
					hi = l.end
				}
			}
		}
		if lo == 0 {
			t.Errorf("module %s is not in the process's maps", m.Path)
			continue
		}
		if m.Start != lo || m.End != hi {
			t.Errorf("module %s: [%s, %s), maps say [%s, %s)", m.Path, m.Start, m.End, lo, hi)
		}
		if m.Object.BuildID != nil && !bytes.Equal(m.Object.BuildID, m.BuildID) {
			t.Errorf("module %s: build ID %x, the core's copy says %x", m.Path, m.BuildID, m.Object.BuildID)
		}
	}
}

func TestLoadFromCoresOfPyenvPython(t *testing.T) {
	python := pyenvPython(t, "3.12.1", "python3.12")
	for _, how := range []string{"gcore", "kernel"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			lp, o := startOracle(t, python, dir)
			p := openCore(t, makeCore(t, lp, dir, how))
			tab, err := Load(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tab.Close()
			if len(tab.Warnings) > 0 {
				t.Errorf("warnings: %v", tab.Warnings)
			}
			checkModulesMatchMaps(t, tab, o.Maps)
			checkPythonSymbols(t, tab, o)
			rt, _ := tab.Lookup("_PyRuntime")
			if !rt.Module.HasDWARF() {
				t.Fatal("libpython: HasDWARF false")
			}
			d, err := rt.Module.DWARF()
			if err != nil {
				t.Fatal(err)
			}
			if findDWARFEntry(t, d, dwarf.TagTypedef, "PyThreadState") == nil {
				t.Error("libpython DWARF: no typedef PyThreadState")
			}
			checkLibcDebugFile(t, tab, o)
		})
	}
}

func TestLoadFromKernelCoreOfDebianPython(t *testing.T) {
	const python = "/usr/bin/python3.11"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not installed", python)
	}
	dir := t.TempDir()
	lp, o := startOracle(t, python, dir)
	p := openCore(t, makeCore(t, lp, dir, "kernel"))
	tab, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	checkModulesMatchMaps(t, tab, o.Maps)
	checkPythonSymbols(t, tab, o)
	exe := moduleByPath(t, tab, python)
	if exe.Bias != 0 || exe.HasDWARF() {
		t.Errorf("python3.11: bias %#x HasDWARF %v, want 0 and false", exe.Bias, exe.HasDWARF())
	}
}

// TestDebugFileFromBundle bundles a core with libc's detached debug file
// and finds it there, with the file system's debug directories turned off.
func TestDebugFileFromBundle(t *testing.T) {
	python := pyenvPython(t, "3.12.1", "python3.12")
	dir := t.TempDir()
	lp, o := startOracle(t, python, dir)
	p := openCore(t, makeCore(t, lp, dir, "gcore"))
	var libc *core.Object
	for _, ob := range p.Objects {
		if filepath.Base(ob.Path) == "libc.so.6" {
			libc = ob
		}
	}
	if libc == nil || libc.Status != core.FileFound {
		t.Fatal("libc.so.6 not found for the core")
	}
	pre, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	lm := moduleByPath(t, pre, libc.Path)
	debugPath := lm.FindDebugFile()
	if debugPath == "" {
		t.Skip("libc has no detached debug file installed (libc6-dbg) to bundle")
	}

	bundle := filepath.Join(dir, "bundle.tar")
	extra := []core.BundleFile{{Kind: bundleKindDebug, LocalPath: debugPath, BuildID: lm.BuildID}}
	if err := core.WriteBundle(p, bundle, extra); err != nil {
		t.Fatal(err)
	}
	bp := openCore(t, bundle)
	tab, err := Load(bp, Options{DebugDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	checkPythonSymbols(t, tab, o)
	bl := moduleByPath(t, tab, libc.Path)
	got := bl.FindDebugFile()
	if !strings.HasPrefix(got, bundle) {
		t.Fatalf("libc debug file %q, want one in %s; tried %v", got, bundle, bl.DebugSearchLog())
	}
	s, ok := bl.Lookup("_int_malloc")
	if want := bl.Bias + nmValue(t, debugPath, "_int_malloc"); !ok || uint64(s.Addr) != want {
		t.Errorf("_int_malloc from the bundled debug file: %s %v, want %#x", s.Addr, ok, want)
	}
	if _, err := bl.DWARF(); err != nil {
		t.Error(err)
	}
}
