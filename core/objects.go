package core

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const deletedSuffix = " (deleted)"

// localFile is a candidate file on this machine (or in a bundle).
type localFile struct {
	path    string // where it came from, for messages and Object.LocalPath
	data    []byte
	buildID []byte
}

// objectLoad is one load of a file: the mappings from one offset-0 mapping
// up to the next one of the same path.
type objectLoad struct {
	maps    []*Mapping
	elf     int8 // 1: the core's copy of the first page is ELF, 0: it is not, -1: not dumped
	buildID []byte
}

// resolveObjects makes an Object for every ELF file the process mapped,
// finds each on this machine (or in the bundle), and points the mappings at
// the file contents so filtered ranges can be read.
func (p *Process) resolveObjects(opts Options) error {
	var exe *localFile
	if opts.Executable != "" {
		data, err := mmapPath(opts.Executable)
		if err != nil {
			return fmt.Errorf("executable %s: %w", opts.Executable, err)
		}
		p.maps = append(p.maps, data)
		if !isELF(data) {
			return fmt.Errorf("executable %s: not an ELF file", opts.Executable)
		}
		exe = &localFile{path: opts.Executable, data: data, buildID: buildIDFrom(sliceAt(data))}
	}

	// Group file-backed mappings by recorded path, in address order.
	var paths []string
	byPath := map[string][]*Mapping{}
	for _, m := range p.Mappings {
		if m.Path == "" {
			continue
		}
		if _, ok := byPath[m.Path]; !ok {
			paths = append(paths, m.Path)
		}
		byPath[m.Path] = append(byPath[m.Path], m)
	}
	// The program headers and the interpreter are ELF whatever else we know.
	knownELF := map[string]bool{}
	for _, tag := range []uint64{AtPhdr, AtBase} {
		if v, ok := p.AuxvValue(tag); ok && v != 0 {
			if m := p.FindMapping(Address(v)); m != nil && m.Path != "" {
				knownELF[m.Path] = true
			}
		}
	}

	for _, path := range paths {
		loads := p.splitLoads(byPath[path])
		coreSaysELF, coreSaysNot := false, false
		var id []byte
		for _, l := range loads {
			switch l.elf {
			case 1:
				coreSaysELF = true
			case 0:
				coreSaysNot = true
			}
			if id == nil {
				id = l.buildID
			}
		}
		if coreSaysNot && !coreSaysELF {
			for _, m := range byPath[path] {
				m.noFileWhy = "not an ELF file; its contents are not read from disk"
			}
			continue
		}
		found, status, msg, sawNonELF := p.locate(path, id, exe, opts)
		if found == nil && !coreSaysELF && !knownELF[path] && !looksLikeObject(path, byPath[path]) {
			// Nothing says this is an ELF file: a data file we could not find.
			why := "file not found"
			if sawNonELF {
				why = "not an ELF file; its contents are not read from disk"
			}
			for _, m := range byPath[path] {
				m.noFileWhy = why
			}
			continue
		}
		for _, l := range loads {
			p.addObject(path, l, found, status, msg)
		}
	}
	sortObjects(p.Objects)
	if exe != nil && !p.exeUsed {
		id := "none"
		if exe.buildID != nil {
			id = hex.EncodeToString(exe.buildID)
		}
		p.Warnings = append(p.Warnings, Warning{Kind: WarnExecutable, File: exe.path,
			Text: fmt.Sprintf("executable %s (build ID %s) matches no file the core maps", exe.path, id)})
	}
	return nil
}

// splitLoads cuts a path's mappings into loads, each starting at a mapping
// of file offset 0, and reads what the core holds of each load's headers.
func (p *Process) splitLoads(maps []*Mapping) []*objectLoad {
	var loads []*objectLoad
	for _, m := range maps {
		if m.FileOffset == 0 || len(loads) == 0 {
			loads = append(loads, &objectLoad{elf: -1})
		}
		l := loads[len(loads)-1]
		l.maps = append(l.maps, m)
	}
	for _, l := range loads {
		if l.maps[0].FileOffset != 0 {
			continue
		}
		head := l.maps[0].coreBytes(p.core, 0, 4)
		if head == nil {
			continue
		}
		if isELF(head) {
			l.elf = 1
			l.buildID = buildIDFrom(l.coreAt(p.core))
		} else {
			l.elf = 0
		}
	}
	return loads
}

// coreAt reads file offsets of the load from the core's copy only.
func (l *objectLoad) coreAt(core []byte) func(off, n uint64) []byte {
	return func(off, n uint64) []byte {
		for _, m := range l.maps {
			if m.FileOffset <= off && off-m.FileOffset < m.Size() {
				return m.coreBytes(core, off-m.FileOffset, n)
			}
		}
		return nil
	}
}

// looksLikeObject guesses, for a file neither dumped nor found, whether it
// was an ELF object: executable code, a shared-library name, or the several
// mappings a loaded ELF file has.
func looksLikeObject(path string, maps []*Mapping) bool {
	if strings.Contains(filepath.Base(path), ".so") || len(maps) > 1 {
		return true
	}
	for _, m := range maps {
		if m.permKnown && m.Perm&PermExec != 0 {
			return true
		}
	}
	return false
}

func (p *Process) addObject(path string, l *objectLoad, found *localFile, status FileStatus, msg string) {
	o := &Object{
		Path:      path,
		Base:      l.maps[0].Start,
		End:       l.maps[len(l.maps)-1].End,
		BuildID:   l.buildID,
		Status:    status,
		StatusMsg: msg,
	}
	if found != nil && l.buildID != nil && !bytes.Equal(l.buildID, found.buildID) {
		// Another load of the same path with a different build: rare, but
		// the file that matched the first load is not this one.
		o.Status = FileMismatch
		o.StatusMsg = fmt.Sprintf("%s has build ID %s, this load of %s has %s", found.path, hexID(found.buildID), path, hexID(l.buildID))
		found = nil
	}
	var progs []elf.Prog64
	if found != nil {
		o.LocalPath = found.path
		o.Data = found.data
		progs = objectProgs(sliceAt(found.data))
	}
	for _, m := range l.maps {
		m.Object = o
		if found == nil {
			if o.Status == FileMismatch {
				m.noFileWhy = "build ID mismatch: " + o.StatusMsg
			}
			continue
		}
		m.file = found.data
		if !m.permKnown {
			m.Perm = permFromProgs(progs, m.FileOffset)
		}
	}
	p.Objects = append(p.Objects, o)
}

// permFromProgs finds the protection of the PT_LOAD that maps file offset
// off, defaulting to read-only.
func permFromProgs(progs []elf.Prog64, off uint64) Perm {
	for _, ph := range progs {
		if elf.ProgType(ph.Type) != elf.PT_LOAD {
			continue
		}
		start := ph.Off &^ 0xfff
		if start <= off && off < ph.Off+ph.Filesz {
			return permFromFlags(elf.ProgFlag(ph.Flags))
		}
	}
	return PermRead
}

// locate finds the file a core recorded as path: the bundle's copy, the
// user's executable, under the sysroot, in the library paths, then the
// recorded path itself. Each candidate must be ELF and, when the core has
// a build ID (id), carry the same one. sawNonELF reports a candidate that
// exists but is not ELF.
func (p *Process) locate(path string, id []byte, exe *localFile, opts Options) (found *localFile, status FileStatus, msg string, sawNonELF bool) {
	clean := strings.TrimSuffix(path, deletedSuffix)
	base := filepath.Base(clean)
	var tried []string
	mismatch := false
	seen := map[string]bool{}

	// check accepts or rejects one candidate, recording why.
	check := func(c *localFile) bool {
		if !isELF(c.data) {
			tried = append(tried, c.path+" (not an ELF file)")
			sawNonELF = true
			return false
		}
		c.buildID = buildIDFrom(sliceAt(c.data))
		if id != nil && !bytes.Equal(c.buildID, id) {
			p.Warnings = append(p.Warnings, Warning{Kind: WarnBuildID, File: c.path,
				Text: fmt.Sprintf("%s: build ID %s does not match the core's %s (for %s)", c.path, hexID(c.buildID), hexID(id), path)})
			tried = append(tried, fmt.Sprintf("%s (build ID %s, the core's is %s)", c.path, hexID(c.buildID), hexID(id)))
			mismatch = true
			return false
		}
		return true
	}
	accept := func(c *localFile) (*localFile, FileStatus, string, bool) {
		how := "build ID matches"
		if id == nil {
			how = "the core has no build ID to check it against"
		}
		return c, FileFound, fmt.Sprintf("using %s (%s)", c.path, how), sawNonELF
	}
	tryPath := func(cand string) *localFile {
		if seen[cand] {
			return nil
		}
		seen[cand] = true
		data, err := mmapPath(cand)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				tried = append(tried, cand+" (not found)")
			} else {
				tried = append(tried, fmt.Sprintf("%s (%v)", cand, err))
			}
			return nil
		}
		c := &localFile{path: cand, data: data}
		if !check(c) {
			_ = unix.Munmap(data)
			return nil
		}
		p.maps = append(p.maps, data)
		return c
	}

	if p.bundle != nil {
		for _, bf := range p.bundle.files {
			if bf.Kind != KindObject || bf.RecordedPath != path || bf.Data == nil {
				continue
			}
			if id != nil && bf.BuildID != nil && !bytes.Equal(bf.BuildID, id) {
				continue // another build of the same path; a later one may match
			}
			if c := (&localFile{path: bf.LocalPath, data: bf.Data}); check(c) {
				return accept(c)
			}
		}
	}
	if exe != nil {
		if (id != nil && bytes.Equal(id, exe.buildID)) || filepath.Base(exe.path) == base {
			c := &localFile{path: exe.path, data: exe.data}
			seen[exe.path] = true
			if check(c) {
				p.exeUsed = true
				return accept(c)
			}
		}
	}
	if alt, ok := p.liveFiles[path]; ok {
		if c := tryPath(alt); c != nil {
			return accept(c)
		}
	}
	if opts.Sysroot != "" {
		// Clean after rooting so ".." in a recorded path cannot climb out.
		if c := tryPath(filepath.Join(opts.Sysroot, filepath.Clean("/"+clean))); c != nil {
			return accept(c)
		}
	}
	if base != "." && base != ".." && base != "/" {
		for _, dir := range opts.LibPaths {
			if c := tryPath(filepath.Join(dir, base)); c != nil {
				return accept(c)
			}
		}
	}
	switch {
	case !plainAbsPath(clean):
		// The kernel records absolute, clean paths: anything else is a
		// damaged or forged core, whose ".." must not lead out of the sysroot.
		tried = append(tried, clean+" (not tried as is: not an absolute path without . or .. components)")
	case opts.Sysroot != "" && id == nil:
		tried = append(tried, clean+" (not tried outside the sysroot: the core has no build ID to check it against)")
	default:
		if c := tryPath(clean); c != nil {
			return accept(c)
		}
	}
	status = FileMissing
	msg = "not found; tried " + strings.Join(tried, ", ")
	if mismatch {
		status = FileMismatch
		msg = "no file with the core's build ID " + hexID(id) + "; tried " + strings.Join(tried, ", ")
	}
	return nil, status, msg, sawNonELF
}

// plainAbsPath reports whether p is absolute and already clean: no ".", ".."
// or empty components.
func plainAbsPath(p string) bool {
	return filepath.IsAbs(p) && filepath.Clean(p) == p
}

func hexID(id []byte) string {
	if id == nil {
		return "(none)"
	}
	return hex.EncodeToString(id)
}

// FindObject returns the object whose mappings contain addr, or nil.
func (p *Process) FindObject(addr Address) *Object {
	if m := p.FindMapping(addr); m != nil {
		return m.Object
	}
	return nil
}

// ObjectByPath returns the first object recorded under path, or nil.
func (p *Process) ObjectByPath(path string) *Object {
	for _, o := range p.Objects {
		if o.Path == path {
			return o
		}
	}
	return nil
}
