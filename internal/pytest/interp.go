// Package pytest is pycore's test harness: it finds CPython interpreters on this machine,
// runs the scenario programs of testdata/scenarios under them and makes real core dumps
// (kernel cores and gcore cores) together with oracles, the description of every thread's
// Python stack that the program wrote itself just before the core was taken.
//
// Interpreters come from pyenv (~/.pyenv/versions, DWARF in their own files, PIE, shared
// libpython), the system (/usr/bin/python3.*, Debian's stripped non-PIE build) and the
// cache that testdata/pythons/fetch.sh fills with Debian's release builds and their
// detached debug files, two of Debian's Py_DEBUG interpreters (python3.11d, python3.13d)
// and a free-threaded 3.13 built from Debian's source by build-ft.sh. Each interpreter
// carries the ABI flags it reports ("t", "d"), since those builds lay out CPython's
// structs differently.
//
// Typical use in an end-to-end test:
//
//	all, err := pytest.Discover()
//	...
//	for _, i := range pytest.Select(all) { // all of them when PYCORE_FULL=1 (CI)
//		c := pytest.MakeCore(t, i, "stacks", pytest.Kernel)
//		// analyse c.Path (with c.Interp.DebugDir, or --sysroot pytest.StrippedSysroot(i))
//		// and compare with c.Oracle: threads by Ident, frames innermost first.
//	}
//
// Scenario programs (testdata/scenarios) park their threads at lines marked "# PARK" and
// record the oracle through pycore_oracle.py; see that file for how the oracle is made
// exact. At most 2 scenario programs run at once in a test process (PYCORE_JOBS).
package pytest

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Interpreter is one CPython build that tests can run.
type Interpreter struct {
	Version string // exact, from running it: "3.12.1"
	Minor   string // "3.12"
	// ABIFlags are the build's flags that change struct layouts, from running it:
	// "t" (free-threaded, --disable-gil), "d" (Py_DEBUG), "td", or "" for a release
	// build. (3.6/3.7's "m", pymalloc, is left out: every build here has it.)
	ABIFlags string
	Origin   string   // "pyenv", "debian-trixie", "system", "source-trixie" (build-ft.sh)
	Argv     []string // prefix that runs it (exe, or loader + flags + exe)
	Env      []string // extra environment
	Exe      string   // the python executable file itself
	DWARF    bool     // its own ELF files (exe, libpython) carry .debug_info
	DebugDir string   // a dir with .build-id/ detached debug files for it ("" if none)

	jsonFlags *string // the ABI flags its pycore-python*.json claims, checked against the probe
}

// Name identifies the interpreter in test names and logs: "pyenv-3.12.1",
// "debian-trixie-3.13.5", "system-3.11.2", "debian-bookworm-3.11.2d",
// "source-trixie-3.13.5t".
func (i Interpreter) Name() string { return i.Origin + "-" + i.Version + i.ABIFlags }

// Kind is the minor with the ABI flags, as PYCORE_REQUIRE names builds: "3.12",
// "3.13t", "3.11d".
func (i Interpreter) Kind() string { return i.Minor + i.ABIFlags }

// FreeThreaded reports a --disable-gil build.
func (i Interpreter) FreeThreaded() bool { return strings.Contains(i.ABIFlags, "t") }

// Debug reports a Py_DEBUG build.
func (i Interpreter) Debug() bool { return strings.Contains(i.ABIFlags, "d") }

// AtLeast reports whether the interpreter's version is at least major.minor.
func (i Interpreter) AtLeast(major, minor int) bool {
	ma, mi, ok := parseMinor(i.Minor)
	return ok && (ma > major || ma == major && mi >= minor)
}

// Command returns an exec.Cmd that runs the interpreter with args, with its extra
// environment on top of env (nil env means the current process's environment).
func (i Interpreter) Command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	argv := append(append([]string(nil), i.Argv...), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string(nil), env...), i.Env...)
	return cmd
}

// CacheDir is where downloaded interpreters and derived files are kept:
// $PYCORE_CACHE, or ~/.cache/pycore.
func CacheDir() string {
	if d := os.Getenv("PYCORE_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(os.TempDir(), "pycore-cache")
	}
	return filepath.Join(home, ".cache", "pycore")
}

// Discover finds the CPython 3.6+ interpreters of this machine: pyenv versions, the
// system's /usr/bin/python3.X and the Debian builds fetched by testdata/pythons/fetch.sh.
// Each is run once (cached per process) to learn its exact version. An interpreter that
// exists but fails to run is left out and named in the returned error; the list is still
// usable then. Interpreters reached through symlinks to the same file are listed once.
func Discover() ([]Interpreter, error) {
	all, err := DiscoverAll()
	var out []Interpreter
	for _, i := range all {
		if i.AtLeast(3, 6) {
			out = append(out, i)
		}
	}
	return out, err
}

// DiscoverAll is Discover including Python 2 (pyenv's 2.7), which the scenario programs
// do not support yet.
func DiscoverAll() ([]Interpreter, error) {
	var cands []Interpreter
	var errs []error
	cands = append(cands, pyenvCandidates()...)
	cands = append(cands, systemCandidates()...)
	deb, err := debianCandidates()
	if err != nil {
		errs = append(errs, err)
	}
	cands = append(cands, deb...)

	// Same file reached twice (python3 -> python3.11): keep the first.
	seen := map[string]bool{}
	var uniq []Interpreter
	for _, c := range cands {
		key := c.Exe
		if real, err := filepath.EvalSymlinks(c.Exe); err == nil {
			key = real
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		uniq = append(uniq, c)
	}

	// Learn versions in parallel: each run takes tens of milliseconds.
	out := make([]Interpreter, len(uniq))
	okv := make([]bool, len(uniq))
	errv := make([]error, len(uniq))
	var wg sync.WaitGroup
	for n := range uniq {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			i := uniq[n]
			v, flags, err := probeVersion(i)
			if err != nil {
				errv[n] = err
				return
			}
			i.Version, i.ABIFlags = v, flags
			i.Minor = minorOf(v)
			if i.jsonFlags != nil && *i.jsonFlags != flags {
				errv[n] = fmt.Errorf("%s: its json says ABI flags %q, running it says %q", strings.Join(i.Argv, " "), *i.jsonFlags, flags)
				return
			}
			if i.DWARF, err = hasOwnDWARF(i); err != nil {
				errv[n] = err
				return
			}
			if i.DebugDir == "" {
				i.DebugDir = systemDebugDir(i)
			}
			out[n], okv[n] = i, true
		}(n)
	}
	wg.Wait()
	var res []Interpreter
	for n := range out {
		if okv[n] {
			res = append(res, out[n])
		}
		if errv[n] != nil {
			errs = append(errs, errv[n])
		}
	}
	sort.SliceStable(res, func(a, b int) bool {
		if oa, ob := originRank(res[a].Origin), originRank(res[b].Origin); oa != ob {
			return oa < ob
		}
		if res[a].Version != res[b].Version {
			return versionLess(res[a].Version, res[b].Version)
		}
		return res[a].ABIFlags < res[b].ABIFlags
	})
	return res, errors.Join(errs...)
}

func originRank(o string) int {
	switch {
	case o == "pyenv":
		return 0
	case strings.HasPrefix(o, "debian-"):
		return 1
	default:
		return 2
	}
}

var pyNameRE = regexp.MustCompile(`^python([23])\.([0-9]+)$`)

// pyenvCandidates lists $PYENV_ROOT/versions/*/bin/pythonX.Y (before probing).
func pyenvCandidates() []Interpreter {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".pyenv")
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "versions", "*", "bin"))
	sort.Strings(dirs)
	var out []Interpreter
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !pyNameRE.MatchString(e.Name()) {
				continue
			}
			exe, err := filepath.EvalSymlinks(filepath.Join(d, e.Name()))
			if err != nil || !isELF(exe) {
				continue
			}
			out = append(out, Interpreter{Origin: "pyenv", Argv: []string{exe}, Exe: exe})
		}
	}
	return out
}

// systemCandidates lists /usr/bin/python3.Y (or $PYCORE_SYSTEM_BIN), ELF files only.
func systemCandidates() []Interpreter {
	dir := os.Getenv("PYCORE_SYSTEM_BIN")
	if dir == "" {
		dir = "/usr/bin"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Interpreter
	for _, e := range entries {
		if !pyNameRE.MatchString(e.Name()) {
			continue
		}
		exe, err := filepath.EvalSymlinks(filepath.Join(dir, e.Name()))
		if err != nil || !isELF(exe) {
			continue
		}
		out = append(out, Interpreter{Origin: "system", Argv: []string{exe}, Exe: exe})
	}
	return out
}

// debianInfo is ROOT/pycore-python*.json as written by testdata/pythons/fetch.sh (Debian's
// release builds, and their Py_DEBUG interpreters in pycore-python-d.json) and build-ft.sh
// (free-threaded builds from Debian's source).
type debianInfo struct {
	Version    string            `json:"version"`
	Suite      string            `json:"suite"`
	Origin     string            `json:"origin"`   // "" means debian-SUITE
	ABIFlags   *string           `json:"abiflags"` // sys.abiflags; absent in older caches
	Argv       []string          `json:"argv"`
	Env        map[string]string `json:"env"`
	Exe        string            `json:"exe"`
	DebugDir   string            `json:"debug_dir"`
	DWARFInExe bool              `json:"dwarf_in_exe"`
}

// debianCandidates reads CacheDir()/pythons/*/pycore-python*.json.
func debianCandidates() ([]Interpreter, error) {
	files, _ := filepath.Glob(filepath.Join(CacheDir(), "pythons", "*", "pycore-python*.json"))
	sort.Strings(files)
	var out []Interpreter
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var info debianInfo
		if err := json.Unmarshal(data, &info); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		if len(info.Argv) == 0 || info.Exe == "" || info.Suite == "" {
			errs = append(errs, fmt.Errorf("%s: argv, exe or suite missing", f))
			continue
		}
		var env []string
		for k, v := range info.Env {
			env = append(env, k+"="+v)
		}
		sort.Strings(env)
		origin := info.Origin
		if origin == "" {
			origin = "debian-" + info.Suite
		}
		out = append(out, Interpreter{
			Origin:    origin,
			Argv:      info.Argv,
			Env:       env,
			Exe:       info.Exe,
			DebugDir:  info.DebugDir,
			jsonFlags: info.ABIFlags,
		})
	}
	return out, errors.Join(errs...)
}

type probeResult struct {
	version, flags string
	err            error
}

var probeCache sync.Map // key string -> *probeResult (after once)

var probeOnce sync.Map // key string -> *sync.Once

// probeVersion runs the interpreter once per process to learn its exact version and
// ABI flags.
func probeVersion(i Interpreter) (version, flags string, err error) {
	key := strings.Join(i.Argv, "\x00") + "\x01" + strings.Join(i.Env, "\x00")
	once, _ := probeOnce.LoadOrStore(key, new(sync.Once))
	once.(*sync.Once).Do(func() {
		v, f, err := runProbe(i)
		probeCache.Store(key, &probeResult{v, f, err})
	})
	r, _ := probeCache.Load(key)
	res := r.(*probeResult)
	return res.version, res.flags, res.err
}

var versionRE = regexp.MustCompile(`^([0-9]+)\.([0-9]+)\.([0-9]+)$`)

// probeScript prints "X.Y.Z FLAGS": FLAGS has t for a free-threaded build
// (sys.abiflags), d for Py_DEBUG (sys.gettotalrefcount exists only under
// Py_REF_DEBUG, which Py_DEBUG implies; 3.6/3.7 abiflags say "dm"), "-" for none.
// Python 2 and 3 syntax alike, so 2.7 stays findable.
const probeScript = `import sys
a = getattr(sys, "abiflags", "")
f = ("t" if "t" in a else "") + ("d" if hasattr(sys, "gettotalrefcount") else "")
sys.stdout.write("%d.%d.%d %s\n" % (sys.version_info[:3] + (f or "-",)))
`

func runProbe(i Interpreter) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := i.Command(ctx, childEnv(), "-c", probeScript)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("running %s to learn its version: %w: %s", strings.Join(i.Argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	out := strings.TrimSpace(stdout.String())
	v, flags, _ := strings.Cut(out, " ")
	if flags == "-" {
		flags = ""
	}
	if !versionRE.MatchString(v) || !probeFlagsRE.MatchString(flags) {
		return "", "", fmt.Errorf("running %s: %q does not look like X.Y.Z and ABI flags", strings.Join(i.Argv, " "), out)
	}
	return v, flags, nil
}

var probeFlagsRE = regexp.MustCompile(`^t?d?$`)

func minorOf(v string) string {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

func parseMinor(s string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found {
		return 0, 0, false
	}
	ma, err1 := strconv.Atoi(a)
	mi, err2 := strconv.Atoi(b)
	return ma, mi, err1 == nil && err2 == nil
}

// versionLess compares X.Y.Z numerically.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for n := 0; n < len(pa) && n < len(pb); n++ {
		x, _ := strconv.Atoi(pa[n])
		y, _ := strconv.Atoi(pb[n])
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = f.ReadAt(magic[:], 0)
	return err == nil && string(magic[:]) == elf.ELFMAG
}

// Files returns the ELF files of the interpreter: the executable, then the libpython
// shared library it links against, if any (found the way the dynamic loader would:
// RPATH/RUNPATH with $ORIGIN, then the library path the interpreter is run with, then
// the executable's ../lib).
func (i Interpreter) Files() ([]string, error) {
	f, err := elf.Open(i.Exe)
	if err != nil {
		return nil, fmt.Errorf("interpreter %s: %w", i.Exe, err)
	}
	defer f.Close()
	needed, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("interpreter %s: reading DT_NEEDED: %w", i.Exe, err)
	}
	files := []string{i.Exe}
	for _, lib := range needed {
		if !strings.HasPrefix(lib, "libpython") {
			continue
		}
		path, err := i.findLibrary(f, lib)
		if err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}

func (i Interpreter) findLibrary(f *elf.File, lib string) (string, error) {
	origin := filepath.Dir(i.Exe)
	var dirs []string
	for _, tag := range []elf.DynTag{elf.DT_RPATH, elf.DT_RUNPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
				dirs = append(dirs, d)
			}
		}
	}
	for _, kv := range i.Env {
		if v, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			dirs = append(dirs, strings.Split(v, ":")...)
		}
	}
	for n, a := range i.Argv {
		if a == "--library-path" && n+1 < len(i.Argv) {
			dirs = append(dirs, strings.Split(i.Argv[n+1], ":")...)
		}
	}
	dirs = append(dirs, filepath.Join(origin, "..", "lib"))
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, lib)
		if real, err := filepath.EvalSymlinks(p); err == nil && isELF(real) {
			return real, nil
		}
	}
	return "", fmt.Errorf("interpreter %s needs %s, not found in %s", i.Exe, lib, strings.Join(dirs, ":"))
}

// hasOwnDWARF reports whether every ELF file of the interpreter carries .debug_info.
func hasOwnDWARF(i Interpreter) (bool, error) {
	files, err := i.Files()
	if err != nil {
		return false, err
	}
	for _, p := range files {
		f, err := elf.Open(p)
		if err != nil {
			return false, fmt.Errorf("interpreter %s: %w", p, err)
		}
		has := f.Section(".debug_info") != nil
		f.Close()
		if !has {
			return false, nil
		}
	}
	return true, nil
}

// BuildID returns the GNU build ID of an ELF file in hex, "" if it has none.
func BuildID(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			return "", fmt.Errorf("%s: section %s: %w", path, s.Name, err)
		}
		if id, ok := findBuildIDNote(data, f.ByteOrder); ok {
			return id, nil
		}
	}
	return "", nil
}

func findBuildIDNote(data []byte, order interface{ Uint32([]byte) uint32 }) (string, bool) {
	for len(data) >= 12 {
		namesz, descsz, typ := order.Uint32(data[0:]), order.Uint32(data[4:]), order.Uint32(data[8:])
		nameEnd := 12 + align4(uint64(namesz))
		descEnd := nameEnd + align4(uint64(descsz))
		if descEnd > uint64(len(data)) {
			return "", false
		}
		name := data[12 : 12+uint64(namesz)]
		if typ == 3 && string(bytes.TrimRight(name, "\x00")) == "GNU" { // NT_GNU_BUILD_ID
			return fmt.Sprintf("%x", data[nameEnd:nameEnd+uint64(descsz)]), true
		}
		data = data[descEnd:]
	}
	return "", false
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// systemDebugDir returns /usr/lib/debug if it holds a detached debug file for one of the
// interpreter's files by build ID (as Debian's python3.X-dbg would install), else "".
func systemDebugDir(i Interpreter) string {
	const dir = "/usr/lib/debug"
	files, err := i.Files()
	if err != nil {
		return ""
	}
	for _, p := range files {
		id, err := BuildID(p)
		if err != nil || len(id) < 3 {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, ".build-id", id[:2], id[2:]+".debug")); err == nil {
			return dir
		}
	}
	return ""
}

// Full reports whether tests should cover every interpreter (PYCORE_FULL=1, as CI sets)
// rather than a representative subset.
func Full() bool { return os.Getenv("PYCORE_FULL") == "1" }

// Select returns the interpreters a test should cover: all of them when Full(), else a
// representative subset: the newest pyenv build (DWARF, PIE, shared libpython) and the
// newest Debian build (stripped, non-PIE, detached debug files), release builds both.
func Select(all []Interpreter) []Interpreter {
	if Full() {
		return all
	}
	var pick []Interpreter
	var pyenv, debian *Interpreter
	for n := range all {
		i := &all[n]
		switch {
		case i.ABIFlags != "":
		case i.Origin == "pyenv":
			if pyenv == nil || versionLess(pyenv.Version, i.Version) {
				pyenv = i
			}
		case strings.HasPrefix(i.Origin, "debian-"):
			if debian == nil || versionLess(debian.Version, i.Version) {
				debian = i
			}
		}
	}
	for _, i := range []*Interpreter{pyenv, debian} {
		if i != nil {
			pick = append(pick, *i)
		}
	}
	return pick
}
