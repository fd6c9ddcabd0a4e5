package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
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

// mapsReport is `pycore maps --json`.
type mapsReport struct {
	Mappings []struct {
		Start      uint64 `json:"start"`
		End        uint64 `json:"end"`
		Perm       string `json:"perm"`
		PermKnown  bool   `json:"perm_known"`
		Offset     uint64 `json:"offset"`
		Path       string `json:"path"`
		Source     string `json:"source"`
		CoreBytes  uint64 `json:"core_bytes"`
		BuildID    string `json:"build_id"`
		FileMatch  string `json:"file_match"`
		MissingWhy string `json:"missing_why"`
	} `json:"mappings"`
	Files []struct {
		Path         string `json:"path"`
		BuildID      string `json:"build_id"`
		LocalPath    string `json:"local_path"`
		LocalBuildID string `json:"local_build_id"`
		Match        string `json:"match"`
		Why          string `json:"why"`
	} `json:"files"`
}

func mapsJSON(t *testing.T, args ...string) mapsReport {
	t.Helper()
	out := pycoreOut(t, nil, append([]string{"maps", "--json"}, args...)...)
	var r mapsReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pycore maps --json %v: %v\n%s", args, err, out)
	}
	return r
}

// procMap is one line of /proc/PID/maps.
type procMap struct {
	start, end, offset uint64
	perm, path         string
}

func readProcMaps(t *testing.T, path string) []procMap {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("maps oracle: %v", err)
	}
	defer f.Close()
	var out []procMap
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode [path]; the path may hold spaces.
		fields := strings.SplitN(sc.Text(), " ", 6)
		if len(fields) < 5 {
			t.Fatalf("maps oracle: bad line %q", sc.Text())
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		var m procMap
		m.start, _ = strconv.ParseUint(lo, 16, 64)
		m.end, _ = strconv.ParseUint(hi, 16, 64)
		m.offset, _ = strconv.ParseUint(fields[2], 16, 64)
		m.perm = fields[1][:3]
		if len(fields) == 6 {
			m.path = strings.TrimLeft(fields[5], " ")
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil || len(out) < 10 {
		t.Fatalf("maps oracle: %d lines, %v", len(out), err)
	}
	return out
}

// checkMaps compares `pycore maps` with the process's own /proc/self/maps:
// every file mapping is there with its range, offset and protection, every
// anonymous range the core dumped is covered, and each file's build ID is
// the one of the file on disk.
func checkMaps(t *testing.T, c *pytest.Core, kind pytest.CoreKind, args []string) {
	want := readProcMaps(t, filepath.Join(c.Dir, "oracle.json.maps"))
	got := mapsJSON(t, append(args, c.Path)...)
	// covered returns the pycore mappings inside [start, end), checking they
	// tile it without gaps.
	covered := func(pm procMap) (idx []int, ok bool) {
		at := pm.start
		for i, m := range got.Mappings {
			if m.End <= pm.start || m.Start >= pm.end {
				continue
			}
			if m.Start != at || m.End > pm.end {
				return nil, false
			}
			idx, at = append(idx, i), m.End
		}
		return idx, at == pm.end
	}
	var anonMissing []string
	for _, pm := range want {
		switch {
		case strings.HasPrefix(pm.path, "/"):
			idx, ok := covered(pm)
			if !ok {
				t.Errorf("file mapping %#x-%#x of %s is not listed as such", pm.start, pm.end, pm.path)
				continue
			}
			for _, i := range idx {
				m := got.Mappings[i]
				if m.Path != pm.path || m.Offset != pm.offset+(m.Start-pm.start) {
					t.Errorf("%#x-%#x: path %q offset %#x; want %q offset %#x", m.Start, m.End, m.Path, m.Offset, pm.path, pm.offset+(m.Start-pm.start))
				}
				if m.PermKnown && m.Perm != pm.perm {
					t.Errorf("%#x-%#x of %s: protection %s, want %s", m.Start, m.End, pm.path, m.Perm, pm.perm)
				}
			}
		case pm.path == "[vvar]" || pm.path == "[vvar_vclock]" || pm.path == "[vsyscall]":
			// Not dumped by the kernel or gdb.
		default:
			if _, ok := covered(pm); !ok && pm.perm != "---" {
				anonMissing = append(anonMissing, fmt.Sprintf("%#x-%#x %s %s", pm.start, pm.end, pm.perm, pm.path))
			}
		}
	}
	if len(anonMissing) > 0 {
		t.Errorf("anonymous mappings of the process not listed: %s", strings.Join(anonMissing, "; "))
	}
	// Sources: the heap is in the core; a kernel core leaves code out, to be
	// read from the file.
	sources := map[string]int{}
	for _, m := range got.Mappings {
		sources[m.Source]++
		if m.Source == "missing" && m.MissingWhy == "" {
			t.Errorf("%#x-%#x is missing but no reason is given", m.Start, m.End)
		}
	}
	if sources["core"] == 0 || (kind == pytest.Kernel && sources["file"] == 0) {
		t.Errorf("sources of the mappings: %v", sources)
	}
	// Build IDs: the core's, and the file's on disk, read independently.
	for _, f := range got.Files {
		if f.Match != "yes" {
			t.Errorf("file %s: match %q (%s); every file of this process is on this machine", f.Path, f.Match, f.Why)
			continue
		}
		id, err := pytest.BuildID(f.LocalPath)
		if err != nil {
			t.Errorf("build ID of %s: %v", f.LocalPath, err)
			continue
		}
		if f.BuildID != id || f.LocalBuildID != id {
			t.Errorf("file %s: build IDs %s (core), %s (file %s); the file has %s", f.Path, f.BuildID, f.LocalBuildID, f.LocalPath, id)
		}
	}
	// The human form has both tables.
	out := string(pycoreOut(t, nil, append(append([]string{"maps"}, args...), c.Path)...))
	for _, w := range []string{"START", "SOURCE", "BUILD ID", "MATCH", filepath.Base(c.Interp.Exe)} {
		if !strings.Contains(out, w) {
			t.Errorf("maps output lacks %q:\n%.2000s", w, out)
		}
	}
}

// The sample bundle carries every file: each one matches.
func TestMapsOfTheSampleBundle(t *testing.T) {
	r := mapsJSON(t, "--debug-dir", t.TempDir(), sampleBundle)
	if len(r.Files) == 0 || len(r.Mappings) < len(r.Files) {
		t.Fatalf("%d files, %d mappings", len(r.Files), len(r.Mappings))
	}
	for _, f := range r.Files {
		if f.Match != "yes" || f.BuildID == "" || f.BuildID != f.LocalBuildID {
			t.Errorf("file %s: match %q, build IDs %q / %q (%s)", f.Path, f.Match, f.BuildID, f.LocalBuildID, f.Why)
		}
	}
}

// A program whose executable is deleted after the core is made: maps says
// the file is missing, and which bytes are missing with it.
func TestMapsSaysWhichFilesAreMissing(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "sleeper")
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1) to make a core of")
	}
	copyFile(t, src, exe)
	if err := os.Chmod(exe, 0o755); err != nil {
		t.Fatal(err)
	}
	corePath := symsKernelCore(t, dir, exe, "60")
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}
	r := mapsJSON(t, corePath)
	found := false
	for _, f := range r.Files {
		if f.Path == exe {
			found = true
			if f.Match != "missing" || !strings.Contains(f.Why, "sleeper") {
				t.Errorf("the deleted executable: match %q, why %q", f.Match, f.Why)
			}
		}
	}
	if !found {
		t.Fatalf("%s is not among the files: %+v", exe, r.Files)
	}
	missing := 0
	for _, m := range r.Mappings {
		if m.Path == exe && m.Source == "missing" {
			missing++
			if !strings.Contains(m.MissingWhy, "sleeper") {
				t.Errorf("%#x-%#x: missing because %q", m.Start, m.End, m.MissingWhy)
			}
		}
	}
	if missing == 0 {
		t.Errorf("no mapping of the deleted %s is missing", exe)
	}
}

// symsKernelCore runs exe with args in dir, kills it with SIGABRT and
// returns the core the kernel wrote there (core_pattern "core"), skipping
// when the kernel writes cores elsewhere.
func symsKernelCore(t *testing.T, dir, exe string, args ...string) string {
	t.Helper()
	pattern, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil || strings.TrimSpace(string(pattern)) != "core" {
		t.Skipf("core_pattern is %q, not \"core\": this test finds cores only in the cwd", strings.TrimSpace(string(pattern)))
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil || lim.Max == 0 {
		t.Skip("RLIMIT_CORE hard limit is 0: no kernel cores")
	}
	cmd := exec.Command("sh", "-c", "ulimit -c unlimited && exec \"$0\" \"$@\"", exe)
	cmd.Args = append(cmd.Args, args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let it map its libraries
	_ = cmd.Process.Signal(syscall.SIGABRT)
	_ = cmd.Wait()
	for _, name := range []string{"core", fmt.Sprintf("core.%d", cmd.Process.Pid)} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	t.Fatalf("no core of %s in %s", exe, dir)
	return ""
}
