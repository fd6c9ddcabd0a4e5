package main

import (
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// input is one build to tabulate.
type input struct {
	Path    string // ELF file with DWARF (a libpython, or a detached debug file)
	Data    string // ELF file with the build's code and data ("" if unknown)
	Version string // exact CPython version, e.g. "3.12.1"
	// Flags are the build's ABI flags that change struct layouts: "t"
	// (free-threaded, --disable-gil), "d" (Py_DEBUG), "td", or "" (release).
	Flags  string
	Origin string // "pyenv", "debian-bookworm", or a -in label's words after the version
	Source string // machine-independent description, written into the table
}

// key is what the tables are chosen by: the minor and the flags ("3.13t").
func (in input) key() string {
	m, _ := minorOf(in.Version)
	return fmt.Sprintf("3.%d%s", m, in.Flags)
}

// Minors the default discovery tabulates; 3.14+ carry _Py_DebugOffsets.
const (
	firstMinor = 6
	lastMinor  = 13
)

// requiredFlavors are the non-release builds the default discovery must find
// (testdata/pythons/fetch.sh keeps Debian's Py_DEBUG interpreters of these,
// build-ft.sh builds the free-threaded one), besides a release build of every
// minor firstMinor..lastMinor.
var requiredFlavors = []string{"3.11d", "3.13d", "3.13t"}

var versionRE = regexp.MustCompile(`^3\.(\d+)\.(\d+)((a|b|rc)(\d+))?$`)

// flagsRE: ABI flags this generator tabulates.
var flagsRE = regexp.MustCompile(`^(t?d?)$`)

// minorOf is the minor of a version string such as "3.12.1" or "3.13.0rc2".
func minorOf(v string) (int, bool) {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// pyenvDirRE is a pyenv version directory: "3.12.1", or "3.13.0t" for a
// free-threaded build.
var pyenvDirRE = regexp.MustCompile(`^(3\.\d+\.\d+(?:(?:a|b|rc)\d+)?)(t?)$`)

// pyenvInputs finds pyenv's shared libpython builds of 3.6-3.13 under root.
func pyenvInputs(root string) ([]input, []string, error) {
	dirs, err := filepath.Glob(filepath.Join(root, "versions", "3.*"))
	if err != nil {
		return nil, nil, err
	}
	var ins []input
	var notes []string
	for _, dir := range dirs {
		dm := pyenvDirRE.FindStringSubmatch(filepath.Base(dir))
		if dm == nil {
			notes = append(notes, fmt.Sprintf("skipping %s: not a plain release version", dir))
			continue
		}
		v, flags := dm[1], dm[2]
		minor, ok := minorOf(v)
		if !ok {
			notes = append(notes, fmt.Sprintf("skipping %s: not a plain release version", dir))
			continue
		}
		if minor < firstMinor || minor > lastMinor {
			continue
		}
		// 3.6 and 3.7 name the library with their "m" (pymalloc) ABI flag.
		var lib string
		var tried []string
		for _, name := range []string{fmt.Sprintf("libpython3.%d%s.so.1.0", minor, flags), fmt.Sprintf("libpython3.%d%sm.so.1.0", minor, flags)} {
			p := filepath.Join(dir, "lib", name)
			tried = append(tried, name)
			if _, err := os.Stat(p); err == nil {
				lib = p
				break
			}
		}
		if lib == "" {
			notes = append(notes, fmt.Sprintf("skipping %s: no %s (not a shared build?)", dir, strings.Join(tried, " or ")))
			continue
		}
		if err := checkPyVersion(lib, v); err != nil {
			return nil, nil, err
		}
		ins = append(ins, input{
			Path:    lib,
			Data:    lib,
			Version: v,
			Flags:   flags,
			Origin:  "pyenv",
			Source:  fmt.Sprintf("DWARF of %s (pyenv %s%s)", filepath.Base(lib), v, flags),
		})
	}
	return ins, notes, nil
}

// debianMeta is the part of the pycore-python*.json files of
// testdata/pythons/fetch.sh and build-ft.sh used here.
type debianMeta struct {
	Version    string `json:"version"`
	Suite      string `json:"suite"`
	Origin     string `json:"origin"`   // when not "debian-SUITE" (build-ft.sh's builds)
	ABIFlags   string `json:"abiflags"` // "t", "d", or "" (release)
	Exe        string `json:"exe"`
	DWARFInExe bool   `json:"dwarf_in_exe"`
}

// debianInputs finds the builds under cache/pythons/*: Debian release builds
// unpacked by testdata/pythons/fetch.sh with their executable's detached debug
// file, Debian's Py_DEBUG interpreters it keeps (pycore-python-d.json, DWARF in
// the executable), and build-ft.sh's free-threaded builds (DWARF in the executable).
func debianInputs(cache string) ([]input, []string, error) {
	metas, err := filepath.Glob(filepath.Join(cache, "pythons", "*", "pycore-python*.json"))
	if err != nil {
		return nil, nil, err
	}
	var ins []input
	var notes []string
	for _, mf := range metas {
		root := filepath.Dir(mf)
		b, err := readSmallFile(mf, 1<<20)
		if err != nil {
			return nil, nil, err
		}
		var meta debianMeta
		if err := json.Unmarshal(b, &meta); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", mf, err)
		}
		minor, ok := minorOf(meta.Version)
		if !ok {
			return nil, nil, fmt.Errorf("%s: version %q is not a CPython 3 version", mf, meta.Version)
		}
		if minor < firstMinor || minor > lastMinor {
			continue
		}
		if !flagsRE.MatchString(meta.ABIFlags) {
			return nil, nil, fmt.Errorf("%s: abiflags %q: want \"\", \"t\", \"d\" or \"td\"", mf, meta.ABIFlags)
		}
		exe := meta.Exe
		if !filepath.IsAbs(exe) {
			exe = filepath.Join(root, exe)
		}
		dbg := exe
		what := "DWARF"
		if !meta.DWARFInExe {
			id, err := buildID(exe)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", mf, err)
			}
			if len(id) < 2 {
				notes = append(notes, fmt.Sprintf("skipping %s: no build ID", exe))
				continue
			}
			dbg = filepath.Join(root, "usr", "lib", "debug", ".build-id", id[:2], id[2:]+".debug")
			if _, err := os.Stat(dbg); err != nil {
				notes = append(notes, fmt.Sprintf("skipping %s: no detached debug file %s", exe, dbg))
				continue
			}
			what = "detached DWARF"
		}
		if err := checkPyVersion(exe, meta.Version); err != nil {
			return nil, nil, err
		}
		origin := meta.Origin
		if origin == "" {
			origin = "debian"
			if meta.Suite != "" {
				origin = "debian-" + meta.Suite
			}
		}
		relExe, err := filepath.Rel(root, exe)
		if err != nil || strings.HasPrefix(relExe, "..") {
			relExe = filepath.Base(exe)
		}
		ins = append(ins, input{
			Path:    dbg,
			Data:    exe,
			Version: meta.Version,
			Flags:   meta.ABIFlags,
			Origin:  origin,
			Source:  fmt.Sprintf("%s of %s (%s %s%s)", what, relExe, origin, meta.Version, meta.ABIFlags),
		})
	}
	return ins, notes, nil
}

// labelVersionRE splits a -in label's version from its ABI flags.
var labelVersionRE = regexp.MustCompile(`^(\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?)(t?d?)$`)

// flagInput parses -in PATH=LABEL, LABEL being "VERSION" or "VERSION ORIGIN...".
func flagInput(s string) (input, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return input{}, fmt.Errorf("-in %q: want PATH=LABEL, LABEL starting with the exact version", s)
	}
	path, label := s[:i], strings.TrimSpace(s[i+1:])
	fields := strings.Fields(label)
	vm := labelVersionRE.FindStringSubmatch(fields[0])
	if vm == nil {
		return input{}, fmt.Errorf("-in %q: label must start with a version such as 3.11.2 (3.13.5t free-threaded, 3.11.2d Py_DEBUG), not %q", s, fields[0])
	}
	if _, ok := minorOf(vm[1]); !ok {
		return input{}, fmt.Errorf("-in %q: label must start with a version such as 3.11.2, not %q", s, fields[0])
	}
	if _, err := os.Stat(path); err != nil {
		return input{}, fmt.Errorf("-in %q: %w", s, err)
	}
	if err := checkPyVersion(path, vm[1]); err != nil {
		return input{}, fmt.Errorf("-in %q: %w", s, err)
	}
	return input{
		Path:    path,
		Version: vm[1],
		Flags:   vm[2],
		Origin:  strings.Join(fields[1:], " "),
		Source:  fmt.Sprintf("DWARF of %s (%s)", filepath.Base(path), label),
	}, nil
}

// sortInputs orders inputs by version, then pyenv first, then by source.
func sortInputs(ins []input) {
	sort.SliceStable(ins, func(i, j int) bool {
		a, b := ins[i], ins[j]
		if c := compareVersions(a.Version, b.Version); c != 0 {
			return c < 0
		}
		if a.Flags != b.Flags {
			return a.Flags < b.Flags
		}
		if (a.Origin == "pyenv") != (b.Origin == "pyenv") {
			return a.Origin == "pyenv"
		}
		return a.Source < b.Source
	})
}

func compareVersions(a, b string) int {
	ha, _ := versionHex(a)
	hb, _ := versionHex(b)
	switch {
	case ha < hb:
		return -1
	case ha > hb:
		return 1
	}
	return strings.Compare(a, b)
}

// versionHex is PY_VERSION_HEX for a version string.
func versionHex(v string) (uint32, bool) {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return 0, false
	}
	minor, _ := strconv.Atoi(m[1])
	micro, _ := strconv.Atoi(m[2])
	if minor > 255 || micro > 255 {
		return 0, false
	}
	level, serial := uint32(0xF), 0
	if m[3] != "" {
		level = map[string]uint32{"a": 0xA, "b": 0xB, "rc": 0xC}[m[4]]
		serial, _ = strconv.Atoi(m[5])
		if serial > 15 {
			return 0, false
		}
	}
	return 3<<24 | uint32(minor)<<16 | uint32(micro)<<8 | level<<4 | uint32(serial), true
}

// checkPyVersion compares want with the Py_Version the ELF file exports
// (3.11+); files without it (older builds) are taken at their word.
func checkPyVersion(path, want string) error {
	hex, ok, err := readPyVersion(path)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	wantHex, valid := versionHex(want)
	if !valid {
		return fmt.Errorf("%s: %q is not a version", path, want)
	}
	if hex != wantHex {
		return fmt.Errorf("%s: Py_Version is 0x%08x but the build is labelled %s (0x%08x)", path, hex, want, wantHex)
	}
	return nil
}

// readPyVersion reads the exported Py_Version from the file's own data.
func readPyVersion(path string) (uint32, bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return 0, false, fmt.Errorf("%s: reading dynamic symbols: %w", path, err)
	}
	for _, s := range syms {
		if s.Name != "Py_Version" {
			continue
		}
		// `const unsigned long Py_Version`: 8 bytes on LP64, 4 elsewhere;
		// the value fits the low 4 either way (little endian).
		if s.Size != 4 && s.Size != 8 {
			return 0, false, fmt.Errorf("%s: Py_Version has size %d, want 4 or 8", path, s.Size)
		}
		for _, sec := range f.Sections {
			if sec.Type == elf.SHT_NOBITS || s.Value < sec.Addr || s.Value+4 > sec.Addr+sec.Size {
				continue
			}
			var b [4]byte
			if _, err := sec.ReadAt(b[:], int64(s.Value-sec.Addr)); err != nil {
				return 0, false, fmt.Errorf("%s: reading Py_Version at 0x%x: %w", path, s.Value, err)
			}
			return binary.LittleEndian.Uint32(b[:]), true, nil
		}
		return 0, false, nil // a detached debug file: the value is not in it
	}
	return 0, false, nil
}

// buildID is the hex GNU build ID of an ELF file, "" if it has none.
func buildID(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_NOTE || sec.Size > 1<<16 {
			continue
		}
		b, err := sec.Data()
		if err != nil {
			return "", fmt.Errorf("%s: reading %s: %w", path, sec.Name, err)
		}
		for len(b) >= 12 {
			nsz := binary.LittleEndian.Uint32(b[0:])
			dsz := binary.LittleEndian.Uint32(b[4:])
			typ := binary.LittleEndian.Uint32(b[8:])
			nEnd := 12 + align4(uint64(nsz))
			dEnd := nEnd + align4(uint64(dsz))
			if dEnd > uint64(len(b)) {
				break
			}
			if typ == 3 && nsz == 4 && string(b[12:15]) == "GNU" { // NT_GNU_BUILD_ID
				return fmt.Sprintf("%x", b[nEnd:nEnd+uint64(dsz)]), nil
			}
			b = b[dEnd:]
		}
	}
	return "", nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// defaultDir is $env, or home/rel if the variable is unset.
func defaultDir(env, rel string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, rel)
}
