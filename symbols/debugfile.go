package symbols

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pycore/pycore/core"
)

// debugFile is a detached debug file: DWARF and often .symtab, with the
// code and data sections present only as NOBITS headers.
type debugFile struct {
	path  string
	elf   *elf.File
	data  []byte // memory-mapped
	unmap func() error
}

// debugFile returns the module's detached debug file, searching for it the
// first time.
func (m *Module) debugFile() *debugFile {
	m.debugOnce.Do(func() {
		defer m.debugDone.Store(true)
		if m.ELF != nil {
			m.debug, m.debugLog = m.searchDebugFile()
		}
	})
	return m.debug
}

// close unmaps the debug file, and stops a later search from mapping one.
func (m *Module) close() error {
	m.debugOnce.Do(func() { m.debugDone.Store(true) })
	m.symsClosed.Store(true) // lookups must not read the mapping released below
	d := m.debug
	if d == nil {
		return nil
	}
	m.debug = nil
	if err := d.unmap(); err != nil {
		return fmt.Errorf("unmap %s: %w", d.path, err)
	}
	return nil
}

// debugCandidates lists where the debug file may be, in GDB's order: by build
// ID under each debug directory, then by debuglink name next to the file, in
// its .debug directory, and under each debug directory.
func (m *Module) debugCandidates() []string {
	var out []string
	if len(m.BuildID) >= 2 {
		h := hex.EncodeToString(m.BuildID)
		for _, dir := range m.debugDirs {
			out = append(out, filepath.Join(dir, ".build-id", h[:2], h[2:]+".debug"))
		}
	}
	// The debuglink is a bare file name; anything else is not followed.
	if m.hasDebugLink && filepath.Base(m.DebugLink) == m.DebugLink && m.DebugLink != ".." && m.DebugLink != "." {
		var fileDirs []string
		if m.LocalPath != "" {
			fileDirs = append(fileDirs, filepath.Dir(m.LocalPath))
		}
		// The recorded path also counts: the debug tree mirrors where the
		// file was installed, which may differ from where it was found here.
		// Only a clean absolute path: a forged one with ".." would lead the
		// search out of the debug directories.
		if filepath.IsAbs(m.Path) && filepath.Clean(m.Path) == m.Path && (m.LocalPath == "" || filepath.Dir(m.Path) != filepath.Dir(m.LocalPath)) {
			fileDirs = append(fileDirs, filepath.Dir(m.Path))
		}
		for _, fd := range fileDirs {
			out = append(out, filepath.Join(fd, m.DebugLink), filepath.Join(fd, ".debug", m.DebugLink))
		}
		for _, fd := range fileDirs {
			for _, dir := range m.debugDirs {
				out = append(out, filepath.Join(dir, fd, m.DebugLink))
			}
		}
	}
	return out
}

// bundleKindDebug is the core.BundleFile kind of a detached debug file.
const bundleKindDebug = core.KindDebug

func (m *Module) searchDebugFile() (*debugFile, []string) {
	var log []string
	// Debug files bundled with the core come first: they travelled with it.
	for _, bf := range m.bundled {
		if bf.Kind != bundleKindDebug || len(bf.Data) == 0 {
			continue
		}
		byID := m.BuildID != nil && (bf.BuildID == nil || bytes.Equal(bf.BuildID, m.BuildID))
		byLink := m.BuildID == nil && m.hasDebugLink && filepath.Base(bf.RecordedPath) == m.DebugLink
		if !byID && !byLink {
			continue
		}
		label := bf.LocalPath
		if label == "" {
			label = "bundled " + bf.RecordedPath
		}
		f, err := m.checkDebugData(label, bf.Data)
		if err == nil {
			return &debugFile{path: label, elf: f, data: bf.Data, unmap: func() error { return nil }}, log
		}
		log = append(log, err.Error())
	}
	tried := map[string]bool{}
	for _, path := range m.debugCandidates() {
		if tried[path] {
			continue
		}
		tried[path] = true
		d, err := m.openDebugCandidate(path)
		if err == nil {
			return d, log
		}
		if errors.Is(err, fs.ErrNotExist) {
			log = append(log, path+": not found")
		} else {
			log = append(log, err.Error())
		}
	}
	if m.debuginfod != nil && len(m.BuildID) > 0 {
		// Last, and only when nothing here has it: the network is slow.
		d, err := m.debuginfodFile()
		if err == nil {
			return d, log
		}
		log = append(log, err.Error())
	}
	return nil, log
}

// openDebugCandidate maps path and checks that it belongs to the module.
func (m *Module) openDebugCandidate(path string) (d *debugFile, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if m.LocalPath != "" {
		if li, err := os.Stat(m.LocalPath); err == nil && os.SameFile(fi, li) {
			return nil, fmt.Errorf("%s: is the module's own file", path)
		}
	}
	data, unmap, err := mmapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := m.checkDebugData(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	return &debugFile{path: path, elf: f, data: data, unmap: unmap}, nil
}

// checkDebugData parses a candidate debug file and checks that it belongs
// to the module: by build ID when the module has one, else by the CRC the
// debuglink records.
func (m *Module) checkDebugData(label string, data []byte) (*elf.File, error) {
	f, err := openELF(label, data)
	if err != nil {
		return nil, err
	}
	if f.Class != m.ELF.Class || f.Machine != m.ELF.Machine {
		return nil, fmt.Errorf("%s: %v %v file, the module is %v %v", label, f.Class, f.Machine, m.ELF.Class, m.ELF.Machine)
	}
	switch {
	case m.BuildID != nil:
		id := fileBuildID(f, data)
		if !bytes.Equal(id, m.BuildID) {
			if id == nil {
				return nil, fmt.Errorf("%s: has no build ID, the module's is %x", label, m.BuildID)
			}
			return nil, fmt.Errorf("%s: build ID %x does not match the module's %x", label, id, m.BuildID)
		}
	case m.hasDebugLink:
		if crc := crc32.ChecksumIEEE(data); crc != m.debugLinkCRC {
			return nil, fmt.Errorf("%s: CRC %08x does not match the debuglink CRC %08x", label, crc, m.debugLinkCRC)
		}
	default:
		return nil, fmt.Errorf("%s: the module has neither build ID nor debuglink CRC to check it against", label)
	}
	return f, nil
}
