package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/report"
)

// The report corpus: cores of four crash sites (testdata/scenarios/report: a
// segfault in a worker, an abort in main, an exception in a C callback made
// fatal, a deadlock dumped by gcore), made under three Python versions and
// repeated, some compressed or bundled, plus the shipped sample bundle, plus
// files that are not readable cores. Each core's oracle says what its
// signature must be; the scenario that made it says which group it belongs to.

// reportScenarios maps each crash site to the kind of core it makes and how
// many cores of it each interpreter contributes.
var reportScenarios = []struct {
	name    string
	kind    pytest.CoreKind
	repeats int
}{
	{"segv_worker", pytest.Kernel, 2},
	{"abort_main", pytest.Kernel, 2},
	{"callback_abort", pytest.Kernel, 2},
	{"hang_deadlock", pytest.Gcore, 1},
	// Crashes in a C library (libnatcrash.c, built by the harness): the same
	// bug reached from two Python callers, with and without faulthandler, and
	// a second bug.
	{"native_segv_parse", pytest.Kernel, 1},
	{"native_segv_load", pytest.Kernel, 1},
	{"native_abort_check", pytest.Kernel, 1},
}

// reportNative is where the native_* scenarios crash, as their C source
// says: the C functions innermost first, from the frame the signal
// interrupted out to the call from Python. Their signatures are these, not
// their Python frames.
var reportNative = map[string][]string{
	"native_segv_parse.py":  {"nat_crash_inner", "nat_crash_mid", "nat_crash_outer"},
	"native_segv_load.py":   {"nat_crash_inner", "nat_crash_mid", "nat_crash_outer"},
	"native_abort_check.py": {"nat_check_fail", "nat_check"},
}

// natcrashLine is the line of libnatcrash.c that defines fn (one function a line).
func natcrashLine(fn string) int {
	data, err := os.ReadFile(filepath.Join(pytest.ReportScenarioDir(), "libnatcrash.c"))
	if err != nil {
		return 0
	}
	for n, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, " "+fn+"(") && strings.Contains(l, "{") {
			return n + 1
		}
	}
	return 0
}

// reportExceptions is the exception each crash site's signature thread has
// when its core is made (being raised, else the innermost being handled); the
// others have none.
var reportExceptions = map[string]*report.ExceptionInfo{
	"abort_main": {State: "handled", Type: "ValueError", Message: "invalid literal for int() with base 10: 'not-a-number'"},
}

// corpusCore is one readable core of the corpus and what made it.
type corpusCore struct {
	path     string // absolute
	scenario string // the group it must land in
	version  string
	oracle   *pytest.Oracle
	variant  string // "core", "gzip", "zstd", "bundle", "sample bundle (zstd)"
	exe      string // the interpreter that made it ("" for the sample bundle)
}

// corpusJunk is a file of the corpus that is not a readable core.
type corpusJunk struct {
	path   string
	reason string // a word the reason must contain
}

type reportCorpus struct {
	dir      string
	cores    []corpusCore
	junk     []corpusJunk
	versions []string // the interpreters' versions, sorted
}

var (
	corpusOnce sync.Once
	corpusVal  *reportCorpus
	corpusErr  error
	corpusSkip string
)

// theCorpus makes the corpus once for all report tests (under the directory
// TestMain removes).
func theCorpus(t *testing.T) *reportCorpus {
	t.Helper()
	corpusOnce.Do(func() {
		start := time.Now()
		corpusVal, corpusSkip, corpusErr = makeReportCorpus(filepath.Join(filepath.Dir(pycoreBin), "report-corpus"))
		if corpusErr == nil && corpusSkip == "" {
			t.Logf("report corpus: %d cores and %d other files in %v", len(corpusVal.cores), len(corpusVal.junk), time.Since(start).Round(time.Millisecond))
		}
	})
	if corpusSkip != "" {
		t.Skip(corpusSkip)
	}
	if corpusErr != nil {
		t.Fatalf("making the report corpus: %v", corpusErr)
	}
	return corpusVal
}

// corpusInterpreters picks three interpreters of distinct versions, spread
// from the oldest supported to the newest: the same crash must group across them.
func corpusInterpreters() ([]pytest.Interpreter, string, error) {
	all, err := pytest.Discover()
	if err != nil && len(all) == 0 {
		return nil, "", fmt.Errorf("discovering interpreters: %w", err)
	}
	var byMinor []pytest.Interpreter
	seen := map[string]bool{}
	sort.SliceStable(all, func(i, j int) bool { return corpusVersionLess(all[i].Version, all[j].Version) })
	for _, i := range all {
		// sys.unraisablehook, which callback_abort.py needs, is 3.8+.
		if i.AtLeast(3, 8) && !seen[i.Minor] {
			seen[i.Minor] = true
			byMinor = append(byMinor, i)
		}
	}
	switch n := len(byMinor); {
	case n == 0:
		return nil, "no CPython 3.8+ interpreter on this machine", nil
	case n < 3:
		if pytest.Full() {
			return nil, "", fmt.Errorf("the report corpus needs three Python versions, found %d", n)
		}
		return byMinor, "", nil
	default:
		return []pytest.Interpreter{byMinor[0], byMinor[n/2], byMinor[n-1]}, "", nil
	}
}

func corpusVersionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

func makeReportCorpus(dir string) (*reportCorpus, string, error) {
	if err := pytest.KernelCoresUsable(); err != nil {
		return nil, fmt.Sprintf("kernel cores: %v", err), nil
	}
	if _, err := exec.LookPath("gcore"); err != nil && pytest.GdbPath() == "" {
		return nil, "gcore not found (apt-get install gdb): the corpus needs a hang dump", nil
	}
	interps, skip, err := corpusInterpreters()
	if skip != "" || err != nil {
		return nil, skip, err
	}
	c := &reportCorpus{dir: dir}
	for _, i := range interps {
		c.versions = append(c.versions, i.Version)
	}
	work := filepath.Join(filepath.Dir(dir), "report-work")
	libs := filepath.Join(filepath.Dir(dir), "report-libs")
	for _, d := range []string{dir, work, libs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, "", err
		}
	}
	defer os.RemoveAll(work)

	type job struct {
		interp   pytest.Interpreter
		scenario string
		kind     pytest.CoreKind
		n        int
	}
	var jobs []job
	for _, i := range interps {
		for _, sc := range reportScenarios {
			if _, err := exec.LookPath("gcc"); err != nil && pytest.NeedsCLib(pytest.ReportScenarioDir(), sc.name) {
				continue // gcc not installed: no C library to crash in
			}
			for n := 1; n <= sc.repeats; n++ {
				jobs = append(jobs, job{i, sc.name, sc.kind, n})
			}
		}
	}
	made := make([]corpusCore, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for k, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A C library the program loaded must stay where it was: pycore
			// reads its symbols and CFI from there, as on the machine it crashed on.
			tmp, keep := work, pytest.NeedsCLib(pytest.ReportScenarioDir(), j.scenario)
			if keep {
				tmp = libs
			}
			core, err := pytest.MakeCoreIn(tmp, pytest.ReportScenarioDir(), j.interp, j.scenario, j.kind)
			if err != nil {
				errs[k] = err
				return
			}
			dst := filepath.Join(dir, "py"+j.interp.Version, fmt.Sprintf("%s-%d.core", j.scenario, j.n))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				errs[k] = err
				return
			}
			if err := os.Rename(core.Path, dst); err != nil {
				errs[k] = err
				return
			}
			if !keep {
				os.RemoveAll(core.Dir)
			}
			made[k] = corpusCore{path: dst, scenario: j.scenario, version: j.interp.Version, oracle: core.Oracle, variant: "core", exe: j.interp.Exe}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, "", err
	}
	c.cores = made

	// Compressed copies and a bundle: other containers of the same crashes.
	first := func(scenario string, version string) corpusCore {
		for _, m := range made {
			if m.scenario == scenario && m.version == version {
				return m
			}
		}
		panic("no core of " + scenario)
	}
	other := filepath.Join(dir, "other", "nested")
	if err := os.MkdirAll(other, 0o755); err != nil {
		return nil, "", err
	}
	for _, v := range []struct {
		src     corpusCore
		name    string
		variant string
	}{
		{first("segv_worker", c.versions[0]), "segv.core.gz", "gzip"},
		{first("hang_deadlock", c.versions[len(c.versions)-1]), "hang.core.zst", "zstd"},
	} {
		dst := filepath.Join(other, v.name)
		if err := corpusCompress(v.src.path, dst, v.variant); err != nil {
			return nil, "", err
		}
		cc := v.src
		cc.path, cc.variant = dst, v.variant
		c.cores = append(c.cores, cc)
	}
	src := first("callback_abort", c.versions[len(c.versions)/2])
	bundle := filepath.Join(dir, "other", "callback.pycore")
	if out, err := exec.Command(pycoreBin, "pack", src.path, "-o", bundle).CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("pycore pack: %v\n%s", err, out)
	}
	cb := src
	cb.path, cb.variant = bundle, "bundle"
	c.cores = append(c.cores, cb)

	// The shipped sample bundle (zstd), made on another machine: a fifth crash site.
	sample := filepath.Join(dir, "other", "sample.pycore.zst")
	if err := corpusCopy("../testdata/sample/sample.pycore.zst", sample); err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile("../testdata/sample/sample.oracle.json")
	if err != nil {
		return nil, "", err
	}
	var so pytest.Oracle
	if err := json.Unmarshal(data, &so); err != nil {
		return nil, "", fmt.Errorf("sample oracle: %w", err)
	}
	so.Signal = 11 // sample.py segfaults in a worker (TestSampleBundleMatchesItsOracle checks it)
	c.cores = append(c.cores, corpusCore{path: sample, scenario: "sample", version: so.Version, oracle: &so, variant: "sample bundle (zstd)"})

	// Files that are not readable cores, each with what its reason must say.
	junkDir := filepath.Join(dir, "junk")
	if err := os.MkdirAll(junkDir, 0o755); err != nil {
		return nil, "", err
	}
	aCore, err := os.ReadFile(made[0].path)
	if err != nil {
		return nil, "", err
	}
	corrupt := bytes.Clone(aCore[:1<<20])
	copy(corrupt[32:40], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}) // e_phoff far past the end
	notCore, err := os.ReadFile(pytest.ReportScenarioDir() + "/../pycore_oracle.py")
	if err != nil {
		return nil, "", err
	}
	elfFile, err := os.ReadFile("/proc/self/exe") // an ELF executable, not a core
	if err != nil {
		return nil, "", err
	}
	var randomGz bytes.Buffer
	zw := gzip.NewWriter(&randomGz)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(zw, "line %d of a log file that was gzipped\n", i)
	}
	zw.Close()
	for _, j := range []struct {
		name   string
		data   []byte
		reason string
	}{
		{"empty.core", nil, "empty file"},
		{"headers-cut.core", aCore[:3000], "truncated"},
		{"memory-cut.core", aCore[:firstLoadOffset(aCore)], "truncated"},
		{"corrupt.core", corrupt, "program header table"},
		{"notes.py", notCore, "not an ELF file"},
		{"pycore.test", elfFile, "not a core"},
		{"log.gz", randomGz.Bytes(), "not an ELF file"},
	} {
		p := filepath.Join(junkDir, j.name)
		if err := os.WriteFile(p, j.data, 0o644); err != nil {
			return nil, "", err
		}
		c.junk = append(c.junk, corpusJunk{p, j.reason})
	}
	return c, "", nil
}

// firstLoadOffset is where the first PT_LOAD segment's bytes start in an ELF
// core: cut there, the headers and notes are whole and no memory is left.
func firstLoadOffset(core []byte) int {
	phoff := int(coreLE64(core[32:]))
	phentsize, phnum := int(coreLE16(core[54:])), int(coreLE16(core[56:]))
	for i := 0; i < phnum; i++ {
		ph := core[phoff+i*phentsize:]
		if coreLE32(ph) == 1 { // PT_LOAD
			return int(coreLE64(ph[8:]))
		}
	}
	return len(core) / 2
}

func coreLE16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func coreLE32(b []byte) uint32 { return uint32(coreLE16(b)) | uint32(coreLE16(b[2:]))<<16 }
func coreLE64(b []byte) uint64 { return uint64(coreLE32(b)) | uint64(coreLE32(b[4:]))<<32 }

func corpusCompress(src, dst, kind string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	var zw io.WriteCloser
	if kind == "gzip" {
		zw = gzip.NewWriter(out)
	} else if zw, err = zstd.NewWriter(out); err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func corpusCopy(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// expectedSignature is the signature the rule gives a core, computed from the
// oracle the program wrote: the signal it died of, the crashed thread's (or,
// for a hang, the GIL holder's or the main thread's) innermost frames.
func expectedSignature(o *pytest.Oracle, depth int, withLines bool) string {
	signal := "no signal"
	if o.Signal != 0 {
		signal = map[int]string{6: "SIGABRT", 11: "SIGSEGV"}[o.Signal]
	}
	var th *pytest.OracleThread
	basis := ""
	for _, rule := range []struct {
		basis string
		is    func(t *pytest.OracleThread) bool
	}{
		{"crashed thread", func(t *pytest.OracleThread) bool { return o.Crashed != 0 && t.Ident == o.Crashed }},
		{"GIL holder", func(t *pytest.OracleThread) bool { return t.HoldsGIL }},
		{"main thread", func(t *pytest.OracleThread) bool { return t.Main }},
	} {
		for n := range o.Threads {
			if th == nil && rule.is(&o.Threads[n]) {
				th, basis = &o.Threads[n], rule.basis
			}
		}
	}
	var parts []string
	if fns := reportNative[o.Scenario]; fns != nil {
		for n := 0; n < len(fns) && n < depth; n++ {
			if withLines {
				parts = append(parts, fmt.Sprintf("%s (libnatcrash.so, libnatcrash.c:%d)", fns[n], natcrashLine(fns[n])))
			} else {
				parts = append(parts, fmt.Sprintf("%s (libnatcrash.so)", fns[n]))
			}
		}
		return fmt.Sprintf("%s, crashed thread, in native code: %s", signal, strings.Join(parts, " ← "))
	}
	for n := 0; n < len(th.Frames) && n < depth; n++ {
		f := th.Frames[n]
		if withLines {
			parts = append(parts, fmt.Sprintf("%s (%s:%d)", f.Function, report.ModulePath(f.File), f.Line))
		} else {
			parts = append(parts, fmt.Sprintf("%s (%s)", f.Function, report.ModulePath(f.File)))
		}
	}
	return fmt.Sprintf("%s, %s: %s", signal, basis, strings.Join(parts, " ← "))
}

// oracleSignatureThread is the oracle thread the signature comes from.
func oracleSignatureThread(o *pytest.Oracle) *pytest.OracleThread {
	for _, is := range []func(t *pytest.OracleThread) bool{
		func(t *pytest.OracleThread) bool { return o.Crashed != 0 && t.Ident == o.Crashed },
		func(t *pytest.OracleThread) bool { return t.HoldsGIL },
		func(t *pytest.OracleThread) bool { return t.Main },
	} {
		for n := range o.Threads {
			if is(&o.Threads[n]) {
				return &o.Threads[n]
			}
		}
	}
	return nil
}

// runReport runs pycore report with stdout and stderr captured (neither a terminal).
func runReport(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(pycoreBin, append([]string{"report"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func reportJSON(t *testing.T, args ...string) *report.Report {
	t.Helper()
	out, stderr, err := runReport(t, append([]string{"--format", "json"}, args...)...)
	if err != nil {
		t.Fatalf("pycore report %v: %v\n%s", args, err, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr is not a terminal, yet pycore wrote to it:\n%s", stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, out)
	}
	return &r
}

// checkReportGrouping checks a report of the whole corpus against how the corpus was
// made: one group per scenario holding exactly that scenario's cores, with the
// signature the oracles give, and every other file unreadable with its reason.
func checkReportGrouping(t *testing.T, c *reportCorpus, r *report.Report, depth int, withLines bool) {
	t.Helper()
	// Expected groups: cores keyed by the signature their oracle gives.
	want := map[string][]string{}
	for _, cc := range c.cores {
		sig := expectedSignature(cc.oracle, depth, withLines)
		want[sig] = append(want[sig], cc.path)
	}
	members := map[string][]string{} // group id -> paths
	for _, e := range r.Cores {
		members[e.Group] = append(members[e.Group], e.Path)
	}
	got := map[string][]string{}
	for _, g := range r.Groups {
		got[g.Signature.Text] = members[g.Signature.ID]
		if g.Count != len(members[g.Signature.ID]) {
			t.Errorf("group %q: count %d but %d cores list it", g.Signature.Text, g.Count, len(members[g.Signature.ID]))
		}
	}
	for sig, paths := range want {
		sort.Strings(paths)
		gp := append([]string(nil), got[sig]...)
		sort.Strings(gp)
		if strings.Join(gp, "\n") != strings.Join(paths, "\n") {
			t.Errorf("group %q:\n got cores %v\nwant cores %v", sig, gp, paths)
		}
	}
	for sig := range got {
		if want[sig] == nil {
			t.Errorf("unexpected group %q with cores %v", sig, got[sig])
		}
	}
	if len(r.Groups) != len(want) {
		t.Errorf("%d groups, want %d", len(r.Groups), len(want))
	}
	for n := 1; n < len(r.Groups); n++ {
		if r.Groups[n-1].Count < r.Groups[n].Count || r.Groups[n].Rank != n+1 {
			t.Errorf("groups not ranked by count: #%d has %d, #%d has %d", r.Groups[n-1].Rank, r.Groups[n-1].Count, r.Groups[n].Rank, r.Groups[n].Count)
		}
	}
	checkReportUnreadable(t, c, r.Unreadable)
	if r.Total != len(c.cores)+len(c.junk) || r.Readable != len(c.cores) {
		t.Errorf("total %d readable %d, want %d and %d", r.Total, r.Readable, len(c.cores)+len(c.junk), len(c.cores))
	}
}

func checkReportUnreadable(t *testing.T, c *reportCorpus, bad []report.Unreadable) {
	t.Helper()
	reasons := map[string]string{}
	for _, u := range bad {
		reasons[u.Path] = u.Reason
	}
	for _, j := range c.junk {
		r, ok := reasons[j.path]
		if !ok {
			t.Errorf("%s is not listed as unreadable", j.path)
		} else if !strings.Contains(r, j.reason) {
			t.Errorf("%s: reason %q does not say %q", j.path, r, j.reason)
		}
		delete(reasons, j.path)
	}
	for p, r := range reasons {
		t.Errorf("%s is unreadable (%s) but is a good core", p, r)
	}
}

// TestReportNativeSignatureMatchesGdb: for one core of each native_*
// scenario (through faulthandler's signal frame, and without a handler), the
// native signature's functions are the libnatcrash frames gdb's bt lists in
// the crashed thread from the frame the signal interrupted outward, in order.
func TestReportNativeSignatureMatchesGdb(t *testing.T) {
	c := theCorpus(t)
	gdb := pytest.GdbPath()
	if gdb == "" {
		if _, err := exec.LookPath("gdb"); err != nil {
			t.Skip("gdb not installed")
		}
		gdb = "gdb"
	}
	out, stderr, err := runReport(t, "--format", "jsonl", c.dir)
	if err != nil {
		t.Fatalf("pycore report: %v\n%s", err, stderr)
	}
	byPath := map[string]corpusCore{}
	for _, cc := range c.cores {
		byPath[cc.path] = cc
	}
	checked := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r report.CoreResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		cc, ok := byPath[r.Path]
		if !ok || reportNative[cc.oracle.Scenario] == nil || checked[cc.oracle.Scenario] || cc.variant != "core" {
			continue
		}
		checked[cc.oracle.Scenario] = true
		if r.Signature == nil || len(r.Signature.Native) == 0 || r.Thread == nil || r.Thread.LWP == nil {
			t.Errorf("%s: no native signature with a crashed thread: %s", r.Path, line)
			continue
		}
		bt := gdbBacktraces(t, gdb, cc.exe, cc.path)[int(*r.Thread.LWP)]
		start := 0
		for i, f := range bt {
			if f.signal {
				start = i + 1
				break
			}
		}
		var want []string
		for _, f := range bt[start:] {
			if strings.HasPrefix(f.fn, "nat_") {
				want = append(want, report.BaseSymbol(f.fn))
			}
		}
		var got []string
		for _, f := range r.Signature.Native {
			if f.Module != "libnatcrash.so" {
				t.Errorf("%s: native frame %v is not libnatcrash's", cc.path, f)
			}
			got = append(got, f.Function)
		}
		if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: native signature %v, gdb's bt of LWP %d from the interrupted frame has %v", cc.path, got, *r.Thread.LWP, want)
		}
	}
	if len(checked) != len(reportNative) {
		t.Errorf("checked %v, want every native scenario", checked)
	}
}

// TestReportGroupsTheCorpusAsMade is the main check: a JSON report of the
// corpus (plain, compressed and bundled cores of five crash sites under three
// Python versions, and junk) has exactly the groups the corpus was made of.
func TestReportGroupsTheCorpusAsMade(t *testing.T) {
	c := theCorpus(t)
	r := reportJSON(t, c.dir)
	checkReportGrouping(t, c, r, report.DefaultDepth, false)

	byPath := map[string]corpusCore{}
	for _, cc := range c.cores {
		byPath[cc.path] = cc
	}
	for _, e := range r.Cores {
		if cc := byPath[e.Path]; e.Python != cc.version {
			t.Errorf("%s: Python %s, made with %s", e.Path, e.Python, cc.version)
		}
	}
	for _, g := range r.Groups {
		var versions []string
		seen := map[string]bool{}
		var first, last time.Time
		newest, newestPath := time.Time{}, ""
		for _, e := range r.Cores {
			if e.Group != g.Signature.ID {
				continue
			}
			cc := byPath[e.Path]
			if !seen[cc.version] {
				seen[cc.version] = true
				versions = append(versions, cc.version)
			}
			fi, err := os.Stat(e.Path)
			if err != nil {
				t.Fatal(err)
			}
			m := fi.ModTime()
			if first.IsZero() || m.Before(first) {
				first = m
			}
			if m.After(last) {
				last = m
			}
			if m.After(newest) || m.Equal(newest) && e.Path < newestPath {
				newest, newestPath = m, e.Path
			}
		}
		sort.Slice(versions, func(i, j int) bool { return corpusVersionLess(versions[i], versions[j]) })
		if strings.Join(g.Versions, " ") != strings.Join(versions, " ") {
			t.Errorf("group %d: versions %v, want %v", g.Rank, g.Versions, versions)
		}
		if !g.First.Equal(first) || !g.Last.Equal(last) {
			t.Errorf("group %d: first/last %v/%v, want the files' times %v/%v", g.Rank, g.First, g.Last, first, last)
		}
		if g.Example != newestPath {
			t.Errorf("group %d: example %s, want the newest core %s", g.Rank, g.Example, newestPath)
		}
		if want := newestCores(t, r, g); strings.Join(g.Cores, " ") != strings.Join(want, " ") {
			t.Errorf("group %d lists cores %v, want its newest %v", g.Rank, g.Cores, want)
		}
		// The exception is the example core's; every core of the group has it.
		want := reportExceptions[byPath[g.Example].scenario]
		switch {
		case want == nil && (g.Exception != nil || len(g.Exceptions) != 0):
			t.Errorf("group %d (%s): exception %v, counts %v; its cores have none", g.Rank, byPath[g.Example].scenario, g.Exception, g.Exceptions)
		case want != nil && (g.Exception == nil || *g.Exception != *want):
			t.Errorf("group %d: exception %v, want %v", g.Rank, g.Exception, want)
		case want != nil && (len(g.Exceptions) != 1 || g.Exceptions[0] != report.ExceptionCount{Type: want.Type, Count: g.Count}):
			t.Errorf("group %d: exception counts %v, want %s ×%d", g.Rank, g.Exceptions, want.Type, g.Count)
		}
		// The representative stack is the example core's signature thread, whole.
		ot := oracleSignatureThread(byPath[g.Example].oracle)
		if len(g.Stack) != len(ot.Frames) {
			t.Errorf("group %d: stack of %d frames, the oracle of %s has %d", g.Rank, len(g.Stack), g.Example, len(ot.Frames))
			continue
		}
		for n, f := range ot.Frames {
			s := g.Stack[n]
			if s.Function != f.Function || s.File != f.File || s.Line != f.Line {
				t.Errorf("group %d frame %d: %s %s:%d, oracle %s %s:%d", g.Rank, n, s.Function, s.File, s.Line, f.Function, f.File, f.Line)
			}
		}
	}
	if t.Failed() {
		return
	}
	var kinds []string
	for _, cc := range c.cores {
		kinds = append(kinds, cc.variant)
	}
	t.Logf("%d groups over %d cores (%s) of Python %v; %d unreadable", len(r.Groups), r.Readable, countKinds(kinds), c.versions, len(r.Unreadable))
}

func coresWord(n int) string {
	if n == 1 {
		return "core"
	}
	return "cores"
}

func countKinds(ws []string) string {
	n := map[string]int{}
	var order []string
	for _, w := range ws {
		if n[w] == 0 {
			order = append(order, w)
		}
		n[w]++
	}
	var parts []string
	for _, w := range order {
		parts = append(parts, fmt.Sprintf("%d %s", n[w], w))
	}
	return strings.Join(parts, ", ")
}

// The signature options change the grouping exactly as the rule says: two
// frames with line numbers split the stdlib-topped segfault by version.
func TestReportSignatureOptions(t *testing.T) {
	c := theCorpus(t)
	for _, o := range []struct {
		depth     int
		withLines bool
	}{{1, false}, {2, true}, {50, true}} {
		t.Run(fmt.Sprintf("depth %d, lines %v", o.depth, o.withLines), func(t *testing.T) {
			args := []string{"--signature-depth", strconv.Itoa(o.depth), c.dir}
			if o.withLines {
				args = append(args, "--with-lines")
			}
			r := reportJSON(t, args...)
			if r.SignatureDepth != o.depth || r.WithLines != o.withLines || !strings.Contains(r.Rule, fmt.Sprintf("innermost %d Python frames", o.depth)) {
				t.Errorf("report says depth %d, lines %v, rule %q", r.SignatureDepth, r.WithLines, r.Rule)
			}
			checkReportGrouping(t, c, r, o.depth, o.withLines)
		})
	}
}

// -j 1 and -j 2 give the same report, and the same JSON lines in input order.
func TestReportIsTheSameWithAnyParallelism(t *testing.T) {
	c := theCorpus(t)
	strip := func(r *report.Report) string {
		r.Generated = time.Time{}
		b, _ := json.Marshal(r)
		return string(b)
	}
	one, two := reportJSON(t, "-j", "1", c.dir), reportJSON(t, "-j", "2", c.dir)
	if strip(one) != strip(two) {
		t.Error("-j 1 and -j 2 reports differ")
	}
	l1, _, err1 := runReport(t, "--format", "jsonl", "-j", "1", c.dir)
	l2, _, err2 := runReport(t, "--format", "jsonl", "-j", "2", c.dir)
	if err1 != nil || err2 != nil || l1 != l2 {
		t.Errorf("jsonl differs between -j 1 and -j 2 (%v, %v)", err1, err2)
	}
}

// --format jsonl: one line per file, in the order the directory walk gives.
func TestReportJSONLines(t *testing.T) {
	c := theCorpus(t)
	out, stderr, err := runReport(t, "--format", "jsonl", c.dir)
	if err != nil || stderr != "" {
		t.Fatalf("pycore report: %v\n%s", err, stderr)
	}
	var files []string
	filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d files", len(lines), len(files))
	}
	byPath := map[string]corpusCore{}
	for _, cc := range c.cores {
		byPath[cc.path] = cc
	}
	junk := map[string]string{}
	for _, j := range c.junk {
		junk[j.path] = j.reason
	}
	for n, line := range lines {
		var r report.CoreResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d: %v: %s", n+1, err, line)
		}
		if r.Path != files[n] {
			t.Errorf("line %d is %s, want %s (walk order)", n+1, r.Path, files[n])
		}
		if cc, ok := byPath[r.Path]; ok {
			want := expectedSignature(cc.oracle, report.DefaultDepth, false)
			if r.Error != "" || r.Signature == nil || r.Signature.Text != want || r.Python != cc.version {
				t.Errorf("%s: error %q, python %s, signature %+v; want %q of %s", r.Path, r.Error, r.Python, r.Signature, want, cc.version)
			}
		} else if reason, ok := junk[r.Path]; !ok || !strings.Contains(r.Error, reason) || r.Signature != nil {
			t.Errorf("%s: error %q, want one saying %q", r.Path, r.Error, reason)
		}
	}
}

// newestCores are a group's cores as it should list them: by the files'
// times, newest first, then by path, at most report.MaxGroupCores.
func newestCores(t *testing.T, r *report.Report, g *report.Group) []string {
	t.Helper()
	type at struct {
		path string
		m    time.Time
	}
	var cores []at
	for _, e := range r.Cores {
		if e.Group != g.Signature.ID {
			continue
		}
		fi, err := os.Stat(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		cores = append(cores, at{e.Path, fi.ModTime()})
	}
	sort.Slice(cores, func(i, j int) bool {
		if !cores[i].m.Equal(cores[j].m) {
			return cores[i].m.After(cores[j].m)
		}
		return cores[i].path < cores[j].path
	})
	var paths []string
	for _, c := range cores[:min(len(cores), report.MaxGroupCores)] {
		paths = append(paths, c.path)
	}
	return paths
}

// A group of more cores than it lists names its newest and says how many
// more there are, in the table, the HTML page and the JSON: 60 links to the
// corpus' cores make groups of a dozen or more.
func TestReportListsEachGroupsCores(t *testing.T) {
	c := theCorpus(t)
	dir := corpusLinks(t, c, 60)
	r := reportJSON(t, dir)
	table, stderr, err := runReport(t, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	page, stderr, err := runReport(t, "--format", "html", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	more := 0
	for _, g := range r.Groups {
		want := newestCores(t, r, g)
		if strings.Join(g.Cores, " ") != strings.Join(want, " ") {
			t.Errorf("group %d lists cores %v, want its newest %v", g.Rank, g.Cores, want)
		}
		n := g.Count - len(want)
		if n <= 0 {
			continue
		}
		more++
		// The table's cell: the listed cores one a line, then the count.
		cell := regexp.MustCompile(`│ ` + regexp.QuoteMeta(want[len(want)-1]) + ` *│[^\n]*\n[^\n]*│ and ` + strconv.Itoa(n) + ` more *│`)
		if !cell.MatchString(table) {
			t.Errorf("group %d: the table does not end its cores with %s then \"and %d more\":\n%s", g.Rank, want[len(want)-1], n, table)
		}
		var li strings.Builder
		for _, p := range want {
			fmt.Fprintf(&li, "<li><code>%s</code></li>", p)
		}
		fmt.Fprintf(&li, `<li class="more">and %d more</li>`, n)
		if !strings.Contains(page, li.String()) {
			t.Errorf("group %d: the HTML page lacks its list of cores %s", g.Rank, li.String())
		}
	}
	if more == 0 {
		t.Errorf("no group of more than %d cores among %d groups of 60 cores", report.MaxGroupCores, len(r.Groups))
	}
}

// The default table: summary, a row per group by count, each group's stack,
// and the unreadable files with their reasons, one a line.
func TestReportTable(t *testing.T) {
	c := theCorpus(t)
	out, stderr, err := runReport(t, c.dir)
	if err != nil {
		t.Fatalf("pycore report: %v\n%s", err, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr is a pipe, yet pycore wrote:\n%s", stderr)
	}
	r := reportJSON(t, c.dir)
	summary := fmt.Sprintf("pycore report: %d files: %d cores in %d groups, %d unreadable\n", r.Total, r.Readable, len(r.Groups), len(c.junk))
	if !strings.HasPrefix(out, summary) {
		t.Errorf("output does not start with %q:\n%s", summary, out)
	}
	if !strings.Contains(out, "\nSignature: fatal signal + innermost 5 Python frames (function, file; no line numbers) of the crashed thread, else the GIL holder, else the main thread") {
		t.Error("the rule is not stated")
	}
	pos := 0
	for _, g := range r.Groups {
		row := fmt.Sprintf("│ %d │ %5d │ %s", g.Rank, g.Count, g.Signature.Head())
		i := strings.Index(out[pos:], row)
		if i < 0 {
			t.Errorf("no table row %q after offset %d", row, pos)
			continue
		}
		pos += i
	}
	for _, g := range r.Groups {
		head := fmt.Sprintf("Group %d: %d %s, %s\n  signature %s: %s\n", g.Rank, g.Count, coresWord(g.Count), g.Signature.Head(), g.Signature.ID, g.Signature.FramesText())
		if !strings.Contains(out, head) {
			t.Errorf("no section %q", head)
		}
		// The innermost frame of the stack, as Python prints it.
		f := g.Stack[0]
		if line := fmt.Sprintf("    File \"%s\", line %d, in %s\n", f.File, f.Line, f.Name()); !strings.Contains(out, line) {
			t.Errorf("group %d: stack line %q missing", g.Rank, line)
		}
		// After it, the example's exception, and the group's counts in its head.
		if e := g.Exception; e != nil {
			if line := fmt.Sprintf("in %s\n  %s: %s (being %s)\n", f.Name(), e.Type, e.Message, e.State); !strings.Contains(out, line) {
				t.Errorf("group %d: no exception line %q after the stack", g.Rank, line)
			}
			if line := fmt.Sprintf("\n  exceptions: %s ×%d\n", e.Type, g.Count); !strings.Contains(out, line) {
				t.Errorf("group %d: no line %q", g.Rank, line)
			}
		}
	}
	if !strings.Contains(out, fmt.Sprintf("\nUnreadable (%d):\n", len(c.junk))) {
		t.Error("no unreadable section")
	}
	for _, u := range r.Unreadable {
		if !strings.Contains(out, fmt.Sprintf("\n  %s: %s\n", u.Path, u.Reason)) {
			t.Errorf("no line for unreadable %s", u.Path)
		}
	}
}

func TestReportMarkdown(t *testing.T) {
	c := theCorpus(t)
	out, stderr, err := runReport(t, "--format", "markdown", c.dir)
	if err != nil {
		t.Fatalf("pycore report: %v\n%s", err, stderr)
	}
	r := reportJSON(t, c.dir)
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| [") {
			rows++
		}
	}
	if rows != len(r.Groups) {
		t.Errorf("%d group rows, want %d", rows, len(r.Groups))
	}
	for _, g := range r.Groups {
		if !strings.Contains(out, fmt.Sprintf("| [%d](#group-%d) | %d | **%s**", g.Rank, g.Rank, g.Count, g.Signature.Head())) {
			t.Errorf("no row for group %d", g.Rank)
		}
		if !strings.Contains(out, fmt.Sprintf("## %d. %s: %d %s\n", g.Rank, g.Signature.Head(), g.Count, coresWord(g.Count))) {
			t.Errorf("no section for group %d", g.Rank)
		}
	}
	if n := strings.Count(out, "```text\nTraceback (most recent call last):\n"); n != len(r.Groups) {
		t.Errorf("%d fenced stacks, want %d", n, len(r.Groups))
	}
	if !strings.Contains(out, fmt.Sprintf("## Unreadable (%d)\n", len(c.junk))) {
		t.Error("no unreadable section")
	}
}

// Bundles, compressed cores and single files named on the command line are
// read as well as directories; --glob filters what directories hold.
func TestReportInputs(t *testing.T) {
	c := theCorpus(t)
	t.Run("glob", func(t *testing.T) {
		r := reportJSON(t, "--glob", "*.core", c.dir)
		n := 0
		for _, cc := range c.cores {
			if strings.HasSuffix(cc.path, ".core") {
				n++
			}
		}
		var badCore int
		for _, j := range c.junk {
			if strings.HasSuffix(j.path, ".core") {
				badCore++
			}
		}
		if r.Readable != n || len(r.Unreadable) != badCore {
			t.Errorf("--glob '*.core': %d readable, %d unreadable; want %d and %d", r.Readable, len(r.Unreadable), n, badCore)
		}
	})
	t.Run("named files", func(t *testing.T) {
		var args []string
		for _, cc := range c.cores {
			if cc.variant != "core" {
				args = append(args, cc.path)
			}
		}
		// A named path that does not exist is reported with the rest, and
		// then makes the exit status 1 with one line naming it.
		missing := filepath.Join(c.dir, "no-such-core")
		out, stderr, err := runReport(t, append([]string{"--format", "json"}, append(args, missing)...)...)
		var r report.Report
		if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
			t.Fatalf("report JSON: %v\n%s", jerr, out)
		}
		if r.Readable != len(args) || len(r.Unreadable) != 1 || !strings.Contains(r.Unreadable[0].Reason, "no such file") {
			t.Errorf("%d readable, unreadable %+v; want %d and the missing file", r.Readable, r.Unreadable, len(args))
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr, missing+": no such file") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %v, stderr %q; want exit 1 and one line naming %s", err, stderr, missing)
		}
	})
	t.Run("only a missing path", func(t *testing.T) {
		out, stderr, err := runReport(t, "/nonexistent")
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr, "/nonexistent: no such file") {
			t.Errorf("exit %v, stderr %q, stdout %q; want exit 1 naming /nonexistent", err, stderr, out)
		}
	})
	t.Run("no readable core", func(t *testing.T) {
		if len(c.junk) == 0 {
			t.Skip("no junk files in the corpus")
		}
		_, stderr, err := runReport(t, c.junk[0].path)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr, "no readable core") {
			t.Errorf("exit %v, stderr %q; want exit 1 and 'no readable core'", err, stderr)
		}
	})
	t.Run("format from -o extension", func(t *testing.T) {
		dir := t.TempDir()
		for ext, prefix := range map[string]string{".html": "<!DOCTYPE html>", ".json": "{", ".md": "#", ".txt": "pycore report:"} {
			path := filepath.Join(dir, "r"+ext)
			if _, stderr, err := runReport(t, "-o", path, c.cores[0].path); err != nil {
				t.Fatalf("-o %s: %v\n%s", path, err, stderr)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(strings.TrimSpace(string(b)), prefix) {
				t.Errorf("-o r%s starts %.60q; want %q", ext, b, prefix)
			}
		}
		// --format given wins over the extension.
		path := filepath.Join(dir, "forced.html")
		if _, stderr, err := runReport(t, "--format", "json", "-o", path, c.cores[0].path); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "{") {
			t.Errorf("--format json -o forced.html starts %.60q; want JSON", b)
		}
	})
	t.Run("nothing to read", func(t *testing.T) {
		_, stderr, err := runReport(t, "--glob", "nothing-matches-this", c.dir)
		if err == nil || !strings.Contains(stderr, "no files found") {
			t.Errorf("got %v, stderr %q", err, stderr)
		}
	})
	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{{"--format", "xml"}, {"--signature-depth", "0"}, {"-j", "0"}, {"--glob", "[x"}} {
			_, stderr, err := runReport(t, append(args, c.dir)...)
			if err == nil || !strings.Contains(stderr, args[0]) {
				t.Errorf("%v: got %v, stderr %q; want an error naming %s", args, err, stderr, args[0])
			}
		}
	})
}

// --baseline marks groups that an earlier report lacks as new and lists the
// earlier report's groups that are gone; it refuses reports it cannot compare.
func TestReportBaseline(t *testing.T) {
	c := theCorpus(t)
	dir := t.TempDir()
	var older []string
	for _, cc := range c.cores {
		if cc.scenario == "segv_worker" || cc.scenario == "abort_main" {
			older = append(older, cc.path)
		}
	}
	old := filepath.Join(dir, "old.json")
	if _, stderr, err := runReport(t, append([]string{"--format", "json", "-o", old}, older...)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	r := reportJSON(t, "--baseline", old, c.dir)
	for _, g := range r.Groups {
		isNew := true
		for _, e := range r.Cores {
			for _, o := range older {
				if e.Group == g.Signature.ID && e.Path == o {
					isNew = false
				}
			}
		}
		if g.New != isNew {
			t.Errorf("group %q: new=%v, want %v", g.Signature.Text, g.New, isNew)
		}
	}
	// Every group but the two sites of the older cores is new (callback,
	// hang, sample and the native_* ones).
	others := len(r.Groups) - 2
	if others < 3 || r.NewCount() != others || len(r.Gone) != 0 || r.Baseline != old {
		t.Errorf("%d new, %d gone, baseline %q; want %d new (all but segv_worker and abort_main), none gone", r.NewCount(), len(r.Gone), r.Baseline, others)
	}
	table, _, err := runReport(t, "--baseline", old, c.dir)
	if err != nil || !strings.Contains(table, fmt.Sprintf("; %d new since %s, 0 gone", others, old)) || strings.Count(table, " NEW │") != others {
		t.Errorf("table does not show %d new groups (%v):\n%s", others, err, table)
	}

	// The other way round: the full report as the baseline of the older cores.
	full := filepath.Join(dir, "full.json")
	if _, stderr, err := runReport(t, "--format", "json", "-o", full, c.dir); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	r = reportJSON(t, append([]string{"--baseline", full}, older...)...)
	if r.NewCount() != 0 || len(r.Gone) != others {
		t.Errorf("%d new, %d gone; want 0 new and %d gone", r.NewCount(), len(r.Gone), others)
	}

	_, stderr, err := runReport(t, "--baseline", old, "--signature-depth", "3", c.dir)
	if err == nil || !strings.Contains(stderr, "not comparable") {
		t.Errorf("a baseline of another depth: %v, %q", err, stderr)
	}
	_, stderr, err = runReport(t, "--baseline", c.junk[0].path, c.dir)
	if err == nil || !strings.Contains(stderr, "baseline") {
		t.Errorf("a baseline that is not a report: %v, %q", err, stderr)
	}
}

// -o writes the report whole or not at all: an interrupted run leaves the
// previous file as it was and no temporary file.
func TestReportOutputIsAtomic(t *testing.T) {
	c := theCorpus(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report.html")
	if _, stderr, err := runReport(t, "--format", "html", "-o", out, c.dir); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil || !bytes.HasSuffix(page, []byte("</html>\n")) {
		t.Fatalf("report.html: %v, %d bytes", err, len(page))
	}
	onlyFile := func() {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("directory holds %v, want only report.html", names)
		}
	}
	onlyFile()

	// Many inputs (links to the corpus cores) so the run lasts long enough to interrupt.
	many := corpusLinks(t, c, 400)
	cmd := exec.Command(pycoreBin, "report", "--format", "jsonl", "-j", "1", "-o", out, many)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the temporary file exists (the run has started), then interrupt.
	deadline := time.Now().Add(30 * time.Second)
	for {
		tmps, _ := filepath.Glob(filepath.Join(dir, ".report.html.*.tmp"))
		if len(tmps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no temporary output file appeared")
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // some JSON lines are written by now
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if err == nil || !strings.Contains(stderr.String(), "interrupted: no report written") {
		t.Errorf("interrupted run: %v, stderr %q", err, stderr.String())
	}
	if now, _ := os.ReadFile(out); !bytes.Equal(now, page) {
		t.Error("the interrupted run changed the previous report")
	}
	onlyFile()
}

// corpusLinks makes a directory of n symbolic links to the corpus's cores.
func corpusLinks(t testing.TB, c *reportCorpus, n int) string {
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		cc := c.cores[i%len(c.cores)]
		if err := os.Symlink(cc.path, filepath.Join(dir, fmt.Sprintf("core-%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A progress bar on stderr when it is a terminal, erased before the report is
// written; nothing on stderr when it is not (the other tests check that).
func TestReportProgressBarOnATerminal(t *testing.T) {
	c := theCorpus(t)
	total := len(c.cores) + len(c.junk)
	final := fmt.Sprintf("] %d/%d cores, %d unreadable", total, total, len(c.junk))

	t.Run("stderr on a terminal, the report to a pipe", func(t *testing.T) {
		var stdout bytes.Buffer
		screen := onTerminal(t, &stdout, false, "--format", "json", "-j", "1", c.dir)
		if !strings.Contains(screen, "\r\x1b[K[") || !strings.Contains(screen, final) || !strings.HasSuffix(screen, "\r\x1b[K") {
			t.Errorf("terminal got %q; want a bar redrawn with \\r, ending at %q, then erased", screen, final)
		}
		var r report.Report
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.Readable != len(c.cores) {
			t.Errorf("stdout is not the report (%v)", err)
		}
	})
	t.Run("both on the terminal: the bar is erased before the report", func(t *testing.T) {
		screen := onTerminal(t, nil, true, "-j", "1", c.dir)
		i := strings.Index(screen, "pycore report: ")
		if i < 0 || !strings.Contains(screen[:i], final) || !strings.HasSuffix(screen[:i], "\r\x1b[K") || strings.Contains(screen[i:], "\x1b[K") {
			t.Errorf("terminal got %q; want the bar, erased, then the report", screen)
		}
	})
	t.Run("JSON lines to the terminal: no bar", func(t *testing.T) {
		screen := onTerminal(t, nil, true, "--format", "jsonl", c.dir)
		if strings.Contains(screen, "\x1b[K") || strings.Count(screen, "\n") != total {
			t.Errorf("terminal got %q; want %d JSON lines and no bar", screen, total)
		}
	})
}

// onTerminal runs pycore report with stderr (and stdout, if bothOnTTY; else
// into stdout) on a pseudo-terminal and returns what the terminal received.
func onTerminal(t *testing.T, stdout io.Writer, bothOnTTY bool, args ...string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(pycoreBin, append([]string{"report"}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, tty
	if bothOnTTY {
		cmd.Stdout = tty
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&screen, ptmx); close(done) }() // ends with EIO when pycore exits
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reading the terminal did not end")
	}
	// The terminal turns "\n" into "\r\n"; undo that for comparisons.
	return strings.ReplaceAll(screen.String(), "\r\n", "\n")
}

// Memory does not grow with the number of cores: each worker has one core
// open at a time and closes it. Ten passes over the corpus peak at about
// what one does. (One pass, not the first 30 cores: those may lack the
// compressed ones, whose decoder windows are the largest allocation.)
func TestReportMemoryIsBounded(t *testing.T) {
	c := theCorpus(t)
	peak := func(n int) int64 {
		cmd := exec.Command(pycoreBin, "report", "--format", "json", "-j", "2", corpusLinks(t, c, n))
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
	}
	n := len(c.cores)
	small, big := peak(n), peak(10*n)
	t.Logf("peak RSS: %d MiB for %d cores, %d MiB for %d", small>>10, n, big>>10, 10*n)
	if big > small+small/2+16<<10 {
		t.Errorf("peak RSS grows with the number of cores: %d KiB for %d, %d KiB for %d", small, n, big, 10*n)
	}
}

// The HTML report in headless Chromium: it renders, shows the right counts
// with bars in proportion, and a group's stack expands when its summary is
// clicked.
func TestReportHTMLInChromium(t *testing.T) {
	c := theCorpus(t)
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("chromium not found (apt-get install chromium; .ci/run installs it)")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if _, stderr, err := runReport(t, "--format", "html", "-o", page, c.dir); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	r := reportJSON(t, c.dir)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, err := startChromium(ctx, browser, filepath.Join(dir, "profile"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if err := b.open("file://" + (&url.URL{Path: page}).EscapedPath()); err != nil {
		t.Fatalf("%v\nchromium stderr:\n%s", err, b.stderr.String())
	}

	// What the page shows, read from the rendered DOM.
	var shown struct {
		Title  string
		Groups []struct {
			Rank, Count, Head  string
			Frames             []string
			Bar, Track         float64
			Open, StackVisible bool
			Height             float64
		}
		Unreadable int
	}
	if err := b.eval(`(() => ({
		title: document.title,
		groups: [...document.querySelectorAll('tr.group')].map(tr => ({
			rank: tr.querySelector('.rank').innerText,
			count: tr.querySelector('.count').innerText,
			head: tr.querySelector('.head').innerText,
			frames: [...tr.querySelectorAll('ol.frames li')].map(li => li.innerText),
			bar: tr.querySelector('.bar-fill').getBoundingClientRect().width,
			track: tr.querySelector('.bar-track').getBoundingClientRect().width,
			open: tr.querySelector('details').open,
			stackVisible: tr.querySelector('pre.traceback').checkVisibility(),
			height: tr.querySelector('details').getBoundingClientRect().height,
		})),
		unreadable: document.querySelectorAll('tr.unreadable').length,
	}))()`, &shown); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(shown.Title, fmt.Sprintf("%d groups", len(r.Groups))) {
		t.Errorf("title %q", shown.Title)
	}
	if len(shown.Groups) != len(r.Groups) || shown.Unreadable != len(c.junk) {
		t.Fatalf("page shows %d groups and %d unreadable files, want %d and %d", len(shown.Groups), shown.Unreadable, len(r.Groups), len(c.junk))
	}
	maxCount := r.Groups[0].Count
	for n, g := range r.Groups {
		s := shown.Groups[n]
		if s.Rank != strconv.Itoa(g.Rank) || s.Count != strconv.Itoa(g.Count) || !strings.HasPrefix(s.Head, g.Signature.Head()) {
			t.Errorf("row %d shows #%s, count %s, %q; want #%d, %d, %q", n, s.Rank, s.Count, s.Head, g.Rank, g.Count, g.Signature.Head())
		}
		// A native signature's frames are its C functions, else the Python ones.
		var fns []string
		for _, f := range g.Signature.Native {
			fns = append(fns, f.Function)
		}
		if len(fns) == 0 {
			for _, f := range g.Signature.Frames {
				fns = append(fns, f.Function)
			}
		}
		if len(s.Frames) != len(fns) || len(s.Frames) > 0 && !strings.HasPrefix(s.Frames[0], fns[0]+" ") {
			t.Errorf("row %d frames %q, want %q", n, s.Frames, fns)
		}
		if want := s.Track * float64(g.Count) / float64(maxCount); s.Track < 50 || math.Abs(s.Bar-want) > 1 {
			t.Errorf("row %d: bar %.1f px of %.1f, want %.1f for %d of %d", n, s.Bar, s.Track, want, g.Count, maxCount)
		}
		if s.Open || s.StackVisible {
			t.Errorf("row %d: stack shown before any click (open %v, visible %v)", n, s.Open, s.StackVisible)
		}
	}

	// Click the second group's summary like a user would, then read the stack.
	const row = 1
	var box struct{ X, Y float64 }
	if err := b.eval(`(() => { const s = document.querySelectorAll('tr.group')[1].querySelector('summary');
		s.scrollIntoView({block: 'center'}); const r = s.getBoundingClientRect();
		return {x: r.left + 10, y: r.top + r.height / 2}; })()`, &box); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		if _, err := b.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1}); err != nil {
			t.Fatal(err)
		}
	}
	var after struct {
		Open, Visible         bool
		Height, DetailsHeight float64
		Text                  string
		OthersClosed          bool
	}
	if err := b.eval(`(() => { const rows = [...document.querySelectorAll('tr.group')]; const d = rows[1].querySelector('details');
		const pre = d.querySelector('pre.traceback');
		return {open: d.open, visible: pre.checkVisibility(), height: pre.getBoundingClientRect().height,
			detailsHeight: d.getBoundingClientRect().height, text: pre.innerText,
			othersClosed: rows.every((r, i) => i === 1 || !r.querySelector('details').open)}; })()`, &after); err != nil {
		t.Fatal(err)
	}
	g := r.Groups[row]
	f := g.Stack[0]
	want := fmt.Sprintf("File %q, line %d, in %s", f.File, f.Line, f.Name())
	grew := after.DetailsHeight - shown.Groups[row].Height
	if !after.Open || !after.Visible || after.Height < 20 || grew < 20 || !strings.Contains(after.Text, want) || !after.OthersClosed {
		t.Errorf("after the click: open %v, visible %v, stack %.0f px high, row grew %.0f px, others closed %v, text %q; want the stack with %q",
			after.Open, after.Visible, after.Height, grew, after.OthersClosed, after.Text, want)
	}
}

// browser drives headless Chromium through the DevTools protocol over a pipe
// (--remote-debugging-pipe: commands on fd 3, answers on fd 4, each a JSON
// message ended by a NUL byte). No network port is opened.
type devtools struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	stderr  *chromiumLog
	ctx     context.Context
	id      int
	session string
	msgs    chan []byte
}

type chromiumLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *chromiumLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *chromiumLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startChromium(ctx context.Context, exe, profile string) (*devtools, error) {
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	b := &devtools{in: cmdW, out: bufio.NewReader(outR), stderr: &chromiumLog{}, ctx: ctx, msgs: make(chan []byte, 64)}
	b.cmd = exec.CommandContext(ctx, exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+profile, "--window-size=1400,1000", "--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, outW} // fd 3 and fd 4
	b.cmd.Stdout, b.cmd.Stderr = b.stderr, b.stderr
	b.cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:")
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	b.cmd.Cancel = func() error { return syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) }
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", exe, err)
	}
	cmdR.Close()
	outW.Close()
	go func() {
		defer close(b.msgs)
		for {
			msg, err := b.out.ReadBytes(0)
			if err != nil {
				return
			}
			b.msgs <- msg[:len(msg)-1]
		}
	}()
	return b, nil
}

// call sends one DevTools command (to the page session once attached) and
// waits for its answer, skipping events.
func (b *devtools) call(method string, params map[string]any) (json.RawMessage, error) {
	b.id++
	msg := map[string]any{"id": b.id, "method": method, "params": params}
	if b.session != "" && !strings.HasPrefix(method, "Target.") {
		msg["sessionId"] = b.session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	for {
		select {
		case <-b.ctx.Done():
			return nil, fmt.Errorf("%s: %w", method, b.ctx.Err())
		case raw, ok := <-b.msgs:
			if !ok {
				return nil, fmt.Errorf("%s: chromium closed the pipe (exited?)", method)
			}
			var reply struct {
				ID     int             `json:"id"`
				Result json.RawMessage `json:"result"`
				Error  *struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(raw, &reply); err != nil {
				return nil, fmt.Errorf("%s: bad DevTools message %q: %w", method, raw, err)
			}
			if reply.ID != b.id {
				continue // an event
			}
			if reply.Error != nil {
				return nil, fmt.Errorf("%s: %s", method, reply.Error.Message)
			}
			return reply.Result, nil
		}
	}
}

// open loads url in a new page and waits until it has loaded.
func (b *devtools) open(u string) error {
	res, err := b.call("Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		return err
	}
	var target struct{ TargetID string }
	if err := json.Unmarshal(res, &target); err != nil {
		return err
	}
	if res, err = b.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}); err != nil {
		return err
	}
	var att struct{ SessionID string }
	if err := json.Unmarshal(res, &att); err != nil {
		return err
	}
	b.session = att.SessionID
	if _, err := b.call("Page.navigate", map[string]any{"url": u}); err != nil {
		return err
	}
	for {
		var state struct{ URL, State string }
		if err := b.eval(`({url: location.href, state: document.readyState})`, &state); err != nil {
			return err
		}
		if state.URL == u && state.State == "complete" {
			return nil
		}
		select {
		case <-b.ctx.Done():
			return fmt.Errorf("loading %s: %w (at %s, %s)", u, b.ctx.Err(), state.URL, state.State)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func (b *devtools) eval(expr string, into any) error {
	res, err := b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("javascript: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return json.Unmarshal(r.Result.Value, into)
}

func (b *devtools) close() {
	b.call("Browser.close", nil)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	b.in.Close()
}

// BenchmarkReport measures cores per second over at least 200 distinct real
// cores (the four crash sites under three Python versions), with -j 1 and
// -j 2. Not run by go test without -bench; bench/report.sh runs it.
func BenchmarkReport(b *testing.B) {
	dir, n := benchCorpus(b)
	for _, jobs := range []int{1, 2} {
		b.Run(fmt.Sprintf("j%d", jobs), func(b *testing.B) {
			start := time.Now()
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(pycoreBin, "report", "--format", "json", "-j", strconv.Itoa(jobs), "-o", os.DevNull, dir)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "cores/s")
		})
	}
}

var (
	benchOnce sync.Once
	benchDir  string
	benchN    int
	benchErr  error
)

// benchCorpus makes PYCORE_BENCH_CORES (default 200) real cores once, in a
// directory TestMain removes, or in PYCORE_BENCH_DIR, kept for later runs.
func benchCorpus(b *testing.B) (string, int) {
	benchOnce.Do(func() {
		want := 200
		if v, err := strconv.Atoi(os.Getenv("PYCORE_BENCH_CORES")); err == nil && v > 0 {
			want = v
		}
		if err := pytest.KernelCoresUsable(); err != nil {
			benchErr = err
			return
		}
		interps, skip, err := corpusInterpreters()
		if skip != "" {
			err = errors.New(skip)
		}
		if err != nil {
			benchErr = err
			return
		}
		benchDir = filepath.Join(filepath.Dir(pycoreBin), "bench-corpus")
		if d := os.Getenv("PYCORE_BENCH_DIR"); d != "" {
			// A kept corpus: reused when it has enough cores.
			benchDir = d
			if have, _ := filepath.Glob(filepath.Join(d, "*.core")); len(have) >= want {
				benchN = len(have)
				return
			}
		}
		work := benchDir + "-work"
		os.MkdirAll(benchDir, 0o755)
		os.MkdirAll(work, 0o755)
		defer os.RemoveAll(work)
		kernel := []string{"segv_worker", "abort_main", "callback_abort"}
		errs := make([]error, want)
		var wg sync.WaitGroup
		for k := 0; k < want; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Mostly kernel cores (fast to make); one in ten a gcore hang dump.
				sc, kind := kernel[k%len(kernel)], pytest.Kernel
				if k%10 == 9 {
					sc, kind = "hang_deadlock", pytest.Gcore
				}
				i := interps[k/len(kernel)%len(interps)] // every site under every version
				core, err := pytest.MakeCoreIn(work, pytest.ReportScenarioDir(), i, sc, kind)
				if err != nil {
					errs[k] = err
					return
				}
				errs[k] = os.Rename(core.Path, filepath.Join(benchDir, fmt.Sprintf("%04d-%s-%s.core", k, sc, i.Version)))
				os.RemoveAll(core.Dir)
			}()
		}
		wg.Wait()
		benchErr = errors.Join(errs...)
		benchN = want
	})
	if benchErr != nil {
		b.Fatalf("making the benchmark corpus: %v", benchErr)
	}
	return benchDir, benchN
}
