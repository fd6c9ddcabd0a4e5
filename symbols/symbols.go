// Package symbols reads the ELF files a process mapped: symbols, sections,
// build IDs and load bias, and (lazily) their DWARF, from the file itself or
// from a detached debug file found by build ID or .gnu_debuglink.
//
// Nothing is parsed at Load beyond ELF headers, the build ID note and the
// debuglink: symbol tables, the debug file search and DWARF are each built
// once, on first use, and are safe for concurrent use.
//
// The ELF bytes are the core package's memory-mapped copies, and detached
// debug files are memory-mapped here. Everything a Table hands out (DWARF
// included, whose uncompressed sections point into those mappings) stays
// valid until both the Table and its core.Process are closed.
package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/pycore/pycore/core"
)

// DefaultDebugDirs is where detached debug files are looked for when
// Options.DebugDirs is nil.
var DefaultDebugDirs = []string{"/usr/lib/debug"}

// Options says where detached debug files are looked for. Debug files in
// the bundle a core was opened from (core.BundleFile of kind "debug") are
// tried first.
type Options struct {
	DebugDirs []string // default: /usr/lib/debug; searched as DIR/.build-id/xx/rest.debug and by debuglink
	// Debuginfod, if set, fetches a module's debug file by build ID when
	// no local one is found (see DebuginfodFromEnv); nil: never.
	Debuginfod *Debuginfod
}

// Table is the set of modules of one process.
type Table struct {
	Modules []*Module // in address order

	// Warnings are problems that did not stop the load, e.g. an ELF file
	// that could not be parsed (its Module has ELF == nil and Err set).
	Warnings []string
}

// Module is one mapped ELF file with its load bias.
type Module struct {
	Path      string       // as recorded in the core
	LocalPath string       // the file used on this machine
	Start     core.Address // lowest mapped address
	End       core.Address
	Bias      uint64 // runtime address = link-time address + Bias
	BuildID   []byte
	DebugLink string // .gnu_debuglink name, "" if none
	ELF       *elf.File

	// Object is the core's record of the file this module was made from.
	Object *core.Object
	// Err says why ELF is nil: the file was not found, or could not be parsed.
	Err error

	baseOffset   uint64 // file offset mapped at Object.Base (normally 0)
	debugLinkCRC uint32
	hasDebugLink bool
	data         []byte // the file's bytes (the core's mapping)
	debugDirs    []string
	debuginfod   *Debuginfod       // nil: no fetching
	bundled      []core.BundleFile // extra files of the bundle the core came from

	symOnce   sync.Once
	symsBuilt atomic.Bool // symOnce has run: syms is the full table
	syms      symtab
	symErr    error

	lazyOnce   sync.Once
	lazySyms   atomic.Pointer[lazySyms] // set by lazyOnce; see lookup.go
	symsClosed atomic.Bool              // close has run: .symtab lookups use the full table

	debugOnce sync.Once
	debugDone atomic.Bool // set once the search has run
	debug     *debugFile  // nil if none found
	debugLog  []string    // candidates tried and why they were rejected

	dwarfOnce sync.Once
	dwarf     *dwarf.Data
	dwarfSecs map[string][]byte
	dwarfErr  error
}

// Symbol is an ELF symbol at its runtime address.
type Symbol struct {
	Name   string
	Addr   core.Address
	Size   uint64
	Func   bool // STT_FUNC (else data)
	Module *Module
}

// Section is an ELF section at its runtime address.
type Section struct {
	Name string
	Addr core.Address
	Size uint64
}

// Load builds the module table for every ELF object of p. Objects that were
// not found on this machine, or whose file cannot be parsed, are listed too,
// with ELF == nil and Err saying why, so callers can say what is missing.
func Load(p *core.Process, opts Options) (*Table, error) {
	if p == nil {
		return nil, errors.New("symbols: load: no process")
	}
	dirs := opts.DebugDirs
	if dirs == nil {
		dirs = DefaultDebugDirs
	}
	t := &Table{}
	bundled := p.BundleFiles()
	for _, o := range p.Objects {
		if o == nil {
			continue
		}
		start, end := o.Base, o.End
		baseOffset := uint64(0) // Base is meant to map file offset 0; the mappings say for sure
		for _, mp := range p.Mappings {
			if mp == nil || mp.Object != o {
				continue
			}
			if mp.Start < start || start == 0 {
				start = mp.Start
			}
			if mp.End > end {
				end = mp.End
			}
			if mp.Start == o.Base {
				baseOffset = mp.FileOffset
			}
		}
		m := newModule(o, start, end, baseOffset, dirs)
		m.bundled = bundled
		m.debuginfod = opts.Debuginfod
		if m.Err != nil && o.Status == core.FileFound {
			t.Warnings = append(t.Warnings, m.Err.Error())
		}
		if w := m.checkBase(); w != "" {
			t.Warnings = append(t.Warnings, w)
		}
		t.Modules = append(t.Modules, m)
	}
	sort.SliceStable(t.Modules, func(i, j int) bool { return t.Modules[i].Start < t.Modules[j].Start })
	return t, nil
}

// Close releases the detached debug files the table mapped. The core's own
// file mappings are released by core.Process.Close.
func (t *Table) Close() error {
	var first error
	for _, m := range t.Modules {
		if err := m.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Lookup finds a symbol by exact name in any module, in module order
// (.dynsym first, then .symtab, in each).
func (t *Table) Lookup(name string) (Symbol, bool) {
	for _, m := range t.Modules {
		if s, ok := m.Lookup(name); ok {
			return s, true
		}
	}
	return Symbol{}, false
}

// LookupAll finds every symbol of that name, in module order. A static
// python and a libpython mapped in the same process both define _PyRuntime,
// and a module may hold several local symbols of one name; the caller decides.
func (t *Table) LookupAll(name string) []Symbol {
	var all []Symbol
	for _, m := range t.Modules {
		all = append(all, m.LookupAll(name)...)
	}
	return all
}

// Module returns the module containing addr, or nil.
func (t *Table) Module(addr core.Address) *Module {
	// A linear scan: there are tens of modules, and a corrupt core may make
	// them overlap, which would defeat a binary search.
	for _, m := range t.Modules {
		if m.Start <= addr && addr < m.End {
			return m
		}
	}
	return nil
}

// Symbolize returns the symbol containing addr and the offset into it.
func (t *Table) Symbolize(addr core.Address) (Symbol, uint64, bool) {
	m := t.Module(addr)
	if m == nil {
		return Symbol{}, 0, false
	}
	return m.Symbolize(addr)
}

// Lookup finds a symbol in this module only (.dynsym first, then .symtab,
// global symbols before local ones).
func (m *Module) Lookup(name string) (Symbol, bool) {
	if !m.symsBuilt.Load() {
		if s, ok, handled := m.lookupLazy(m.lazy(), name); handled {
			return s, ok
		}
	}
	if err := m.LoadSymbols(); err != nil && len(m.syms.all) == 0 {
		return Symbol{}, false
	}
	i, ok := m.syms.first[name]
	if !ok {
		return Symbol{}, false
	}
	return m.syms.all[i], true
}

// LookupExported finds a symbol in this module's .dynsym only: what it
// exports to other modules. It never reads .symtab or looks for a detached
// debug file, so asking every module is cheap.
func (m *Module) LookupExported(name string) (Symbol, bool) {
	return m.lookupDynamic(m.lazy(), name)
}

// LookupAll finds every symbol of that name in this module, in Lookup's order.
func (m *Module) LookupAll(name string) []Symbol {
	if !m.symsBuilt.Load() {
		if all, handled := m.lookupAllLazy(m.lazy(), name); handled {
			return all
		}
	}
	m.LoadSymbols()
	i, ok := m.syms.first[name]
	if !ok {
		return nil
	}
	var out []Symbol
	for ; i >= 0; i = m.syms.next[i] {
		out = append(out, m.syms.all[i])
	}
	return out
}

// Symbolize returns the function or object symbol of this module containing
// addr and the offset into it: the nearest symbol at or below addr, if addr
// is within its size (or, for a symbol of size 0, within the module).
func (m *Module) Symbolize(addr core.Address) (Symbol, uint64, bool) {
	if !m.symsBuilt.Load() {
		if s, ok, handled := m.symbolizeLazy(m.lazy(), addr); handled {
			if !ok {
				return Symbol{}, 0, false
			}
			return m.symbolized(s, addr)
		}
	}
	m.LoadSymbols()
	byAddr := m.syms.byAddr
	i := sort.Search(len(byAddr), func(i int) bool { return m.syms.all[byAddr[i]].Addr > addr }) - 1
	if i < 0 {
		return Symbol{}, 0, false
	}
	return m.symbolized(m.syms.all[byAddr[i]], addr)
}

// symbolized is Symbolize's answer for s, the nearest symbol at or below addr.
func (m *Module) symbolized(s Symbol, addr core.Address) (Symbol, uint64, bool) {
	off := uint64(addr - s.Addr)
	if s.Size > 0 && off >= s.Size {
		return Symbol{}, 0, false
	}
	if s.Size == 0 && (addr < m.Start || addr >= m.End) {
		return Symbol{}, 0, false
	}
	return s, off, true
}

// Symbols returns every symbol of the module in Lookup's order, duplicates
// between .dynsym and .symtab removed. The slice must not be modified.
func (m *Module) Symbols() []Symbol {
	m.LoadSymbols()
	return m.syms.all
}

// LoadSymbols reads the symbol tables (once) and reports what went wrong
// reading them. Symbols that could be read are used even when it returns an
// error, e.g. .dynsym when .symtab is corrupt.
func (m *Module) LoadSymbols() error {
	m.symOnce.Do(func() {
		defer m.symsBuilt.Store(true)
		if m.ELF == nil {
			m.symErr = m.noELF()
			return
		}
		defer func() {
			// The package boundary: a bug must not take the caller down with it.
			if r := recover(); r != nil {
				m.syms, m.symErr = symtab{}, fmt.Errorf("%s: reading symbols: %v", m.name(), r)
			}
		}()
		m.syms, m.symErr = m.readSymbols()
	})
	return m.symErr
}

// Section returns an allocated section (one with a runtime address) by name
// at its runtime address. A file with no section headers uses its detached
// debug file's, which keeps them (as NOBITS) with their addresses.
func (m *Module) Section(name string) (Section, bool) {
	if m.ELF == nil {
		return Section{}, false
	}
	f := m.ELF
	if len(f.Sections) <= 1 {
		if d := m.debugFile(); d != nil {
			f = d.elf
		}
	}
	for _, s := range f.Sections {
		if s.Name == name && s.Flags&elf.SHF_ALLOC != 0 {
			return Section{Name: s.Name, Addr: core.Address(s.Addr + m.Bias), Size: s.Size}, true
		}
	}
	return Section{}, false
}

// SectionData returns the contents of a section of the module's own file by
// name: a slice of the mapped file (no copy) unless the section is
// compressed. It must not be modified.
func (m *Module) SectionData(name string) ([]byte, error) {
	if m.ELF == nil {
		return nil, m.noELF()
	}
	s := m.ELF.Section(name)
	if s == nil {
		return nil, fmt.Errorf("%s: no section %s", m.name(), name)
	}
	return sectionBytes(m.name(), m.data, s)
}

// HasDWARF reports, without parsing it, whether DWARF is available for the
// module (in the file or a detached debug file).
func (m *Module) HasDWARF() bool {
	if m.ELF == nil {
		return false
	}
	if hasDWARFSection(m.ELF) {
		return true
	}
	d := m.debugFile()
	return d != nil && hasDWARFSection(d.elf)
}

// DWARF parses (once) and returns the module's DWARF. The debug file used, if
// detached, is named by DebugFile.
func (m *Module) DWARF() (*dwarf.Data, error) {
	m.dwarfOnce.Do(func() {
		if m.ELF == nil {
			m.dwarfErr = m.noELF()
			return
		}
		switch {
		case hasDWARFSection(m.ELF):
			m.dwarf, m.dwarfSecs, m.dwarfErr = loadDWARF(m.name(), m.ELF, m.data)
		case m.debugFile() != nil && hasDWARFSection(m.debug.elf):
			m.dwarf, m.dwarfSecs, m.dwarfErr = loadDWARF(m.debug.path, m.debug.elf, m.debug.data)
		default:
			m.dwarfErr = m.noDWARFError()
		}
	})
	return m.dwarf, m.dwarfErr
}

// DWARFSection is the raw (decompressed) DWARF section .debug_NAME that
// DWARF parsed, nil if it has none or DWARF has not been called.
func (m *Module) DWARFSection(name string) []byte {
	if _, err := m.DWARF(); err != nil {
		return nil
	}
	return m.dwarfSecs[name]
}

// DebugFile is the detached debug file used for DWARF, "" if none or not yet looked up.
func (m *Module) DebugFile() string {
	if !m.debugDone.Load() || m.debug == nil {
		return ""
	}
	return m.debug.path
}

// FindDebugFile looks (once) for the module's detached debug file and returns
// its path, "" if none was found; DebugSearchLog says what was tried.
func (m *Module) FindDebugFile() string {
	if d := m.debugFile(); d != nil {
		return d.path
	}
	return ""
}

// DebugSearchLog lists the detached debug file candidates that were tried
// and why each was rejected (empty until the search has run).
func (m *Module) DebugSearchLog() []string {
	if !m.debugDone.Load() {
		return nil
	}
	return m.debugLog
}

func (m *Module) String() string {
	return fmt.Sprintf("%s [%s-%s] bias %#x", m.Path, m.Start, m.End, m.Bias)
}

func (m *Module) noELF() error {
	if m.Err != nil {
		return m.Err
	}
	return fmt.Errorf("%s: no ELF file", m.Path)
}

func (m *Module) noDWARFError() error {
	msg := fmt.Sprintf("%s: no DWARF in the file and no detached debug file found", m.name())
	if len(m.debugLog) > 0 {
		msg += fmt.Sprintf(" (tried %d candidates: %s", len(m.debugLog), m.debugLog[0])
		if len(m.debugLog) > 1 {
			msg += "; ..."
		}
		msg += ")"
	}
	return errors.New(msg)
}

// name is the file to name in messages: the local file, else the recorded one.
func (m *Module) name() string {
	if m.LocalPath != "" {
		return m.LocalPath
	}
	return m.Path
}
