package report

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
)

// fileMappings counts this process's mappings of files. Anonymous mappings are
// left out: the Go heap and thread stacks grow them with the machine's load,
// while every mapping Analyze makes is of a file (the core and the ELF files
// it maps).
func fileMappings(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		// address perms offset dev inode path: a file's path starts with '/'.
		if f := bytes.Fields(line); len(f) >= 6 && f[5][0] == '/' {
			n++
		}
	}
	return n
}

// Analysing a core must release every file it mapped, whether the core is
// good or CPython cannot be read from it: a batch of thousands of cores would
// otherwise run out of mappings. Checked on a real core and on the same core
// cut where its memory starts (headers and notes whole, CPython unreadable).
func TestAnalyzeReleasesEveryMapping(t *testing.T) {
	all, _ := pytest.Discover()
	var interp *pytest.Interpreter
	for n := range all {
		if all[n].AtLeast(3, 8) {
			interp = &all[n]
			break
		}
	}
	if interp == nil {
		t.Skip("no CPython 3.8+ interpreter on this machine")
	}
	if err := pytest.KernelCoresUsable(); err != nil {
		t.Skipf("kernel cores: %v", err)
	}
	c, err := pytest.MakeCoreIn(t.TempDir(), pytest.ReportScenarioDir(), *interp, "abort_main", pytest.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	cutAt := int64(-1)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && cutAt < 0 {
			cutAt = int64(p.Off)
		}
	}
	f.Close()
	data, err := os.ReadFile(c.Path)
	if err != nil || cutAt <= 0 {
		t.Fatalf("reading %s: %v (first PT_LOAD at %d)", c.Path, err, cutAt)
	}
	cut := filepath.Join(t.TempDir(), "cut.core")
	if err := os.WriteFile(cut, data[:cutAt], 0o644); err != nil {
		t.Fatal(err)
	}

	if r := Analyze(c.Path, Options{}); r.Error != "" || r.Signature == nil || !strings.Contains(r.Signature.Text, "check_invariants (abort_main.py)") {
		t.Fatalf("good core: error %q, signature %+v", r.Error, r.Signature)
	}
	if r := Analyze(cut, Options{}); !strings.Contains(r.Error, "truncated") {
		t.Fatalf("cut core: error %q, want one saying it is truncated", r.Error)
	}
	before := fileMappings(t)
	for i := 0; i < 10; i++ {
		Analyze(c.Path, Options{})
		Analyze(cut, Options{})
		if after := fileMappings(t); after != before {
			t.Fatalf("file mappings went from %d to %d after analysis %d of the good and the cut core", before, after, i+1)
		}
	}
}
