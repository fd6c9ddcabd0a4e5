package cpython

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// TypesMode chooses where CPython's struct layouts come from.
type TypesMode string

const (
	TypesAuto    TypesMode = "auto"    // debug offsets (3.13+) or generated tables, else DWARF
	TypesDWARF   TypesMode = "dwarf"   // the interpreter's DWARF (fails without debug info)
	TypesBuiltin TypesMode = "builtin" // never DWARF
)

// Options tune how a CPython process is read.
type Options struct {
	Types TypesMode
}

// Process is a CPython process image: where its runtime is, which version it
// runs, and its structs as types.
type Process struct {
	Core    *core.Process
	Syms    *symbols.Table
	R       core.Reader
	Version abi.Version
	// FreeThreaded is true for a --disable-gil build.
	FreeThreaded bool
	// Debug is true for a Py_DEBUG build (python3.Xd), whose structs differ
	// from the release build's; TraceRefs for one with Py_TRACE_REFS, whose
	// objects start with two more pointers. See detectBuild.
	Debug, TraceRefs bool
	// Evidence says how the runtime and version were found.
	Evidence []string
	// Runtime is _PyRuntime as a typed value.
	Runtime      typesys.Value
	RuntimeAddr  core.Address
	Module       *symbols.Module // the module whose _PyRuntime this is; nil if found by scanning memory
	Types        abi.TypeSource
	DebugOffsets *abi.DebugOffsets // 3.13+

	codeRd *codeReader
	flavor *abi.Flavor
	// The offsets of the walker's details, worked out once, on first use
	// (detailLayout).
	detailOnce sync.Once
	detailL    *detailLayout
	detailErr  error
	// once holds what the packages above work out once per process
	// (Process.Once).
	once    sync.Map
	codeTyp core.Address // &PyCode_Type, 0 if unknown
	// debugOffsetsErr says why no _Py_DebugOffsets were read at the runtime.
	debugOffsetsErr error
	codes           codeCache
	// frameBudget bounds the frames one snapshot reads in all: per-chain limits
	// multiply when a forged core points many thread states at one long chain.
	frameBudget int

	// objRd reads Python objects, worked out once on first use (reader).
	objOnce sync.Once
	objRd   *pyobj.Reader
	objErr  error
}

// Flavor is what this process's CPython version and build change in how it
// is read, chosen once when it was opened.
func (p *Process) Flavor() *abi.Flavor { return p.flavor }

// ErrNotPython is returned (wrapped) when the process shows no sign of CPython.
var ErrNotPython = errors.New("not a CPython process")

// runtimeCandidate is one place _PyRuntime may be.
type runtimeCandidate struct {
	addr   core.Address
	module *symbols.Module
	how    string
	// legacy: a 3.6 libpython, whose runtime is separate globals; addr is
	// its _PyThreadState_Current (see runtime36.go).
	legacy bool
}

// Open finds CPython's runtime in a process image and prepares to read it.
func Open(c *core.Process, syms *symbols.Table, opts Options) (*Process, error) {
	if opts.Types == "" {
		opts.Types = TypesAuto
	}
	p := &Process{Core: c, Syms: syms, R: c.Reader()}
	var errs []string
	tried := map[core.Address]bool{}
	// Exported symbols first, the full symbol tables only if none of those
	// is a live runtime (see findRuntimeCandidates).
	for _, full := range []bool{false, true} {
		for _, cand := range findRuntimeCandidates(c, syms, full) {
			if tried[cand.addr] {
				continue
			}
			tried[cand.addr] = true
			err := p.tryRuntime(cand, opts)
			if err == nil {
				return p, nil
			}
			errs = append(errs, err.Error())
		}
	}
	if len(tried) == 0 {
		if msg := missingRuntimeFile(c); msg != "" {
			return nil, fmt.Errorf("%s: %s", c.Path, msg)
		}
		return nil, fmt.Errorf("%s: %w: no _PyRuntime symbol or .PyRuntime section in any mapped file, and no _Py_DebugOffsets in memory%s%s",
			c.Path, ErrNotPython, missingFilesHint(c), damageHint(c))
	}
	return nil, fmt.Errorf("%s: cannot read the CPython runtime: %s%s", c.Path, strings.Join(errs, "; "), damageHint(c))
}

// damageHint quotes what is wrong with the core file itself, the likely
// reason CPython cannot be found or read in it: a cut core loses the notes
// that name its files, or the memory the runtime is in.
func damageHint(c *core.Process) string {
	if c.Truncated != nil {
		return "" // said first, by the session (it is the whole story)
	}
	for _, w := range c.Warnings {
		if w.Kind == core.WarnNoFiles {
			return " (" + w.Text + ")"
		}
	}
	return ""
}

// missingRuntimeFile names the file CPython's runtime is in when the core
// maps it but this machine has no copy of it (or only of another build): a
// CPython process whose libpython (or, for a static build, python
// executable) was moved, deleted or never copied. "" when there is none.
func missingRuntimeFile(c *core.Process) string {
	var libs, exes []*core.Object
	seen := map[string]bool{}
	for _, o := range c.Objects {
		base := filepath.Base(o.Path)
		if o.Status == core.FileFound || seen[o.Path] || strings.Contains(base, ".cpython-") {
			continue // extension modules (_ctypes.cpython-312-...) hold no runtime
		}
		seen[o.Path] = true
		switch {
		case strings.HasPrefix(base, "libpython"):
			libs = append(libs, o)
		case strings.HasPrefix(base, "python"):
			exes = append(exes, o)
		}
	}
	what, files := "libpython", libs
	if len(libs) == 0 {
		what, files = "python executable", exes
	}
	if len(files) == 0 {
		return ""
	}
	var parts []string
	for _, o := range files {
		id := "no build ID in the core"
		if len(o.BuildID) > 0 {
			id = fmt.Sprintf("build ID %x", o.BuildID)
		}
		if o.Status == core.FileMismatch {
			parts = append(parts, fmt.Sprintf("%s (%s) is here only in another build: %s", o.Path, id, o.StatusMsg))
		} else {
			parts = append(parts, fmt.Sprintf("%s (%s) is not on this machine", o.Path, id))
		}
	}
	o := files[0]
	return fmt.Sprintf("a CPython process whose %s is missing: %s, and CPython's runtime is in it; "+
		"give pycore that file with --lib-path DIR (a directory holding %s of that build) or --sysroot DIR (with it at DIR%s), "+
		"or pack the core with pycore pack on the machine it came from",
		what, strings.Join(parts, "; "), filepath.Base(o.Path), o.Path)
}

// missingFilesHint names files the core maps that could not be found, which
// is the usual reason symbols are missing.
func missingFilesHint(c *core.Process) string {
	var missing, mismatched []string
	seen := map[string]bool{}
	for _, o := range c.Objects {
		if o.Status == core.FileFound || !strings.Contains(filepath.Base(o.Path), "python") || seen[o.Path] {
			continue
		}
		seen[o.Path] = true
		if o.Status == core.FileMismatch {
			// A file of another build was offered: say which, not "not found".
			mismatched = append(mismatched, o.Path+": "+o.StatusMsg)
		} else {
			missing = append(missing, o.Path)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "not found on this machine: "+strings.Join(missing, ", "))
	}
	if len(mismatched) > 0 {
		parts = append(parts, "found only in other builds: "+strings.Join(mismatched, "; "))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s; try --sysroot, --lib-path or the executable argument)", strings.Join(parts, "; "))
}

// findRuntimeCandidates lists where _PyRuntime may be. Without full, from
// .PyRuntime sections, exported symbols and the debug offsets' cookie in
// memory: every libpython and python executable exports _PyRuntime
// (extension modules link against it), and asking .dynsym costs nothing,
// while a miss in .symtab means scanning it, for a stripped libc or ld.so
// in a detached debug file found for the purpose. With full, from every
// symbol table, local symbols included (a static python need not export).
func findRuntimeCandidates(c *core.Process, syms *symbols.Table, full bool) []runtimeCandidate {
	var cands []runtimeCandidate
	seen := map[core.Address]bool{}
	add := func(rc runtimeCandidate) {
		if rc.addr != 0 && !seen[rc.addr] {
			seen[rc.addr] = true
			cands = append(cands, rc)
		}
	}
	if syms != nil {
		for _, m := range syms.Modules {
			if m.ELF == nil {
				continue
			}
			lookup := m.LookupExported
			if full {
				lookup = m.Lookup
			} else if s, ok := m.Section(".PyRuntime"); ok {
				add(runtimeCandidate{addr: s.Addr, module: m, how: fmt.Sprintf("section .PyRuntime of %s", m.Path)})
			}
			if s, ok := lookup("_PyRuntime"); ok {
				add(runtimeCandidate{addr: s.Addr, module: m, how: fmt.Sprintf("symbol _PyRuntime of %s", m.Path)})
			} else if s, ok := lookup(legacyCurrentSymbol); ok && !s.Func {
				add(runtimeCandidate{addr: s.Addr, module: m, how: fmt.Sprintf("symbol %s of %s (no _PyRuntime: CPython 3.6 or older)", legacyCurrentSymbol, m.Path), legacy: true})
			}
		}
	}
	if !full {
		for _, addr := range scanForDebugCookie(c) {
			add(runtimeCandidate{addr: addr, how: fmt.Sprintf("_Py_DebugOffsets cookie found in memory at %s", addr)})
		}
	}
	return cands
}

// scanForDebugCookie looks for 3.13+'s _Py_DebugOffsets in the dumped writable
// memory of python mappings, for cores whose ELF files are not at hand.
func scanForDebugCookie(c *core.Process) []core.Address {
	var found []core.Address
	const window = 1 << 16
	buf := make([]byte, window)
	for _, m := range c.Mappings {
		if m.Perm&core.PermWrite == 0 || !strings.Contains(filepath.Base(m.Path), "python") {
			continue
		}
		if m.Object != nil && m.Object.Status == core.FileFound {
			continue // symbols already cover this file
		}
		for a := m.Start; a < m.End; a = a.Add(window - 8) {
			n := int(m.End.Sub(a))
			if n > window {
				n = window
			}
			got, _ := c.ReadAt(buf[:n], a)
			for i := 0; i+24 <= got; i += 8 {
				if bytes.Equal(buf[i:i+8], []byte(abi.DebugCookie)) {
					if _, err := abi.VersionFromHex(c.ByteOrder.Uint64(buf[i+8:])); err == nil {
						found = append(found, a.Add(int64(i)))
					}
				}
			}
			if len(found) > 8 {
				return found
			}
		}
	}
	return found
}

// tryRuntime checks one candidate and, if it is a live runtime, sets p up.
func (p *Process) tryRuntime(cand runtimeCandidate, opts Options) error {
	p.RuntimeAddr, p.Module = cand.addr, cand.module
	p.Evidence = []string{"runtime: " + cand.how}
	if err := p.detectVersion(cand); err != nil {
		return err
	}
	p.detectBuild(cand)
	fl, err := abi.FlavorFor(p.Version, p.FreeThreaded)
	if err != nil {
		return err
	}
	p.flavor = fl
	if err := p.chooseTypes(opts.Types); err != nil {
		return err
	}
	if cand.legacy {
		if !p.flavor.LegacyRuntime {
			return fmt.Errorf("%s: a runtime without _PyRuntime, but CPython %s has one", cand.module.Path, p.Version)
		}
		if p.Runtime, err = p.legacyRuntime(cand); err != nil {
			return err
		}
	} else {
		rt, err := p.Types.Struct("_PyRuntimeState")
		if err != nil {
			return err
		}
		p.Runtime = typesys.At(p.R, rt, cand.addr)
	}
	if p.codeRd.layout, err = abi.ResolveStr(p.Types, p.flavor.Str); err != nil {
		return fmt.Errorf("str layout: %w", err)
	}
	if p.Syms != nil {
		if s, ok := p.lookup("PyCode_Type"); ok {
			p.codeTyp = s.Addr
		}
	}
	head, err := p.Runtime.Path("interpreters.head")
	if err != nil {
		return err
	}
	what := "_PyRuntime"
	if cand.legacy {
		what = "3.6's runtime globals"
	}
	if null, err := head.IsNull(); err != nil {
		return fmt.Errorf("%s at %s: %w", what, p.RuntimeAddr, err)
	} else if null {
		return fmt.Errorf("%s at %s: no interpreters (not initialized, or already finalized)", what, p.RuntimeAddr)
	}
	return nil
}

var pyNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`python(\d)\.(\d+)`) })

// detectVersion reads the version from the strongest evidence available.
func (p *Process) detectVersion(cand runtimeCandidate) error {
	p.codeRd = &codeReader{r: p.R}
	d, err := abi.ReadDebugOffsets(p.R, cand.addr)
	p.debugOffsetsErr = err
	if err == nil {
		p.DebugOffsets = d
		p.Version, p.FreeThreaded = d.Version, d.FreeThreaded
		p.Evidence = append(p.Evidence, fmt.Sprintf("version: _Py_DebugOffsets.version %#x", d.VersionHex))
		if !d.Known {
			p.Evidence = append(p.Evidence, fmt.Sprintf("warning: the debug offsets layout of %s is not known to this pycore; reading it as %s", d.Version.Series(), "3.15"))
		}
		return nil
	}
	if p.Syms != nil {
		if s, ok := p.lookupNear("Py_Version", cand); ok {
			if h, err := p.R.Uint32(s.Addr); err == nil {
				if v, err := abi.VersionFromHex(uint64(h)); err == nil {
					p.Version = v
					p.Evidence = append(p.Evidence, fmt.Sprintf("version: Py_Version %#x in %s", h, s.Module.Path))
					return nil
				}
			}
		}
	}
	// 3.8-3.10: the minor from the file name, the exact version from the
	// PY_VERSION string in the file's read-only data.
	if cand.module == nil {
		return fmt.Errorf("cannot tell the CPython version: no debug offsets, and the runtime was not found in a file")
	}
	m := pyNameRE().FindStringSubmatch(filepath.Base(cand.module.Path))
	if m == nil {
		return fmt.Errorf("cannot tell the CPython version of %s: no Py_Version symbol and no version in its name", cand.module.Path)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	p.Version = abi.Version{Major: major, Minor: minor, Micro: -1}
	p.Evidence = append(p.Evidence, fmt.Sprintf("version: %d.%d from the file name %s", major, minor, filepath.Base(cand.module.Path)))
	if exact, ok := rodataVersion(cand.module, major, minor); ok {
		p.Version = exact
		p.Evidence = append(p.Evidence, fmt.Sprintf("version: PY_VERSION string %q in .rodata", exact.String()))
	}
	return nil
}

// buildNameRE reads the ABI flags off a CPython file name: python3.11d,
// libpython3.7dm.so.1.0, python3.13td.
var buildNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`python\d\.\d+(t?)(d?)m?(?:\.so|$|-)`) })

// detectBuild tells a Py_DEBUG build from a release build, which matters to
// the generated tables: Py_DEBUG changes struct layouts (3.6-3.12 have no debug
// offsets to say so). The evidence, any one of which is enough:
//   - _Py_NegativeRefcount, exported only under Py_REF_DEBUG, which Py_DEBUG
//     implies (3.6-3.15; checked absent from every release build here);
//   - the "d" ABI flag in the file name (python3.11d, libpython3.7dm.so).
//
// Py_TRACE_REFS (not implied by Py_DEBUG since 3.8) exports _Py_PrintReferences.
// Only free-threaded builds (3.13+) export _Py_MergeZeroLocalRefcount.
func (p *Process) detectBuild(cand runtimeCandidate) {
	m := cand.module
	if m == nil {
		return // found by scanning memory: the debug offsets describe the build
	}
	var why []string
	if s, ok := m.Lookup("_Py_NegativeRefcount"); ok && s.Func {
		why = append(why, "symbol _Py_NegativeRefcount")
	}
	if f := buildNameRE().FindStringSubmatch(filepath.Base(m.Path)); f != nil && f[2] == "d" {
		why = append(why, "the d ABI flag in "+filepath.Base(m.Path))
	}
	if len(why) > 0 {
		p.Debug = true
		p.Evidence = append(p.Evidence, "build: Py_DEBUG ("+strings.Join(why, ", ")+")")
	}
	if s, ok := m.Lookup("_Py_PrintReferences"); ok && s.Func {
		p.TraceRefs = true
		p.Evidence = append(p.Evidence, "build: Py_TRACE_REFS (symbol _Py_PrintReferences)")
	}
	// Free-threading is read from the debug offsets; without them (damaged,
	// or not found) the build says it itself: read as a GIL build, a
	// free-threaded process shows threads without frames and no error.
	if p.DebugOffsets == nil {
		var why []string
		if s, ok := m.Lookup("_Py_MergeZeroLocalRefcount"); ok && s.Func {
			why = append(why, "symbol _Py_MergeZeroLocalRefcount")
		}
		if f := buildNameRE().FindStringSubmatch(filepath.Base(m.Path)); f != nil && f[1] == "t" {
			why = append(why, "the t ABI flag in "+filepath.Base(m.Path))
		}
		if len(why) > 0 {
			p.FreeThreaded = true
			p.Evidence = append(p.Evidence, "build: free-threaded ("+strings.Join(why, ", ")+")")
		}
	}
}

// lookup finds one of CPython's symbols, in the runtime's module first: it
// is the one whose objects we read (a process may map a second libpython),
// and asking every other module first costs a scan of its .symtab.
func (p *Process) lookup(name string) (symbols.Symbol, bool) {
	if p.Module != nil {
		if s, ok := p.Module.Lookup(name); ok {
			return s, true
		}
	}
	if p.Syms == nil {
		return symbols.Symbol{}, false
	}
	return p.Syms.Lookup(name)
}

// lookupNear finds a symbol, preferring the module that holds the runtime.
func (p *Process) lookupNear(name string, cand runtimeCandidate) (symbols.Symbol, bool) {
	if cand.module != nil {
		if s, ok := cand.module.Lookup(name); ok {
			return s, true
		}
	}
	return p.Syms.Lookup(name)
}

// rodataVersion finds the NUL-terminated PY_VERSION literal ("3.9.18") in a
// module's .rodata, read from the file.
func rodataVersion(m *symbols.Module, major, minor int) (abi.Version, bool) {
	data, err := m.SectionData(".rodata")
	if err != nil || len(data) > 64<<20 {
		return abi.Version{}, false
	}
	// The linker may merge the literal into the tail of a longer string (a
	// pyenv prefix "/root/.pyenv/versions/3.8.18"), so any non-version byte
	// may precede it. Candidates are found by their fixed prefix: a regexp
	// over all of .rodata took 15 ms per core.
	prefix := []byte(fmt.Sprintf("%d.%d.", major, minor))
	re := regexp.MustCompile(fmt.Sprintf(`^(%d\.%d\.\d+(?:(?:a|b|rc)\d+)?)\+?\x00`, major, minor))
	for i := 1; i < len(data); {
		j := bytes.Index(data[i:], prefix)
		if j < 0 {
			break
		}
		j += i
		i = j + 1
		if c := data[j-1]; c == '.' || ('0' <= c && c <= '9') {
			continue
		}
		if mm := re.FindSubmatch(data[j:min(len(data), j+64)]); mm != nil {
			if v, err := abi.ParseVersion(string(mm[1])); err == nil {
				return v, true
			}
		}
	}
	return abi.Version{}, false
}

// chooseTypes picks where struct layouts come from.
func (p *Process) chooseTypes(mode TypesMode) error {
	dwarfSrc := func() (abi.TypeSource, error) {
		if p.Module == nil {
			return nil, fmt.Errorf("no debug info: the runtime was not found in a file")
		}
		dt, src, err := moduleDWARFTypes(p.Module, p.R.PtrSize, "")
		if err != nil {
			return nil, err
		}
		return abi.NewDWARFSource(dt, src), nil
	}
	builtin := func() (abi.TypeSource, error) {
		if p.DebugOffsets != nil {
			vl, err := p.DebugOffsets.Layouts()
			if err != nil {
				return nil, err
			}
			return abi.NewLayoutTypes(vl, p.R.PtrSize)
		}
		if p.TraceRefs {
			return nil, fmt.Errorf("a Py_TRACE_REFS build of CPython %s: its objects carry two more pointers and pycore has no layout table for it (give it the build's DWARF)", p.Version)
		}
		vl := abi.TableFor(p.Version, p.FreeThreaded, p.Debug)
		if vl == nil {
			why := ""
			if p.flavor.DebugOffsets && p.debugOffsetsErr != nil {
				// The tables stop at 3.13: newer versions need their own offsets.
				why = fmt.Sprintf(", and its _Py_DebugOffsets are unusable (%v)", p.debugOffsetsErr)
			}
			return nil, fmt.Errorf("no layout table for CPython %s%s in this pycore%s", p.Version, abi.BuildKind(p.FreeThreaded, p.Debug), why)
		}
		named := *vl
		named.Source = fmt.Sprintf("pycore's layout table for %s%s (generated from the %s)", vl.Version, abi.BuildKind(vl.FreeThreaded, vl.Debug), vl.Source)
		return abi.NewLayoutTypes(&named, p.R.PtrSize)
	}
	var ts abi.TypeSource
	var err error
	switch mode {
	case TypesDWARF:
		ts, err = dwarfSrc()
	case TypesBuiltin:
		ts, err = builtin()
	default:
		if ts, err = builtin(); err != nil {
			var derr error
			if ts, derr = dwarfSrc(); derr != nil {
				err = fmt.Errorf("%v, and %v", err, derr)
			} else {
				p.Evidence = append(p.Evidence, fmt.Sprintf("built-in layouts unusable (%v)", err))
				err = nil
			}
		}
	}
	if err != nil {
		return err
	}
	p.Types = ts
	p.Evidence = append(p.Evidence, "types: "+ts.Describe())
	return nil
}

// moduleDWARFTypes opens a module's DWARF (its own or a detached debug file's)
// as types; what says what the module is looked at for, in the error.
func moduleDWARFTypes(m *symbols.Module, ptrSize int, what string) (*typesys.DWARFTypes, string, error) {
	if !m.HasDWARF() {
		return nil, "", fmt.Errorf("no debug info for %s%s (install its debug symbols or pass --debug-dir)", m.Path, what)
	}
	d, err := m.DWARF()
	if err != nil {
		return nil, "", fmt.Errorf("debug info of %s: %w", m.Path, err)
	}
	src := "the DWARF of " + m.Path
	if f := m.DebugFile(); f != "" {
		src = "the DWARF of " + f
	}
	return typesys.NewDWARFTypes(d, ptrSize, src), src, nil
}
