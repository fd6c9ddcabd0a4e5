// Package symbols reads the ELF files a process mapped: symbols, sections,
// build IDs and load bias, and (lazily) their DWARF, from the file itself or
// from a detached debug file found by build ID or .gnu_debuglink.
package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"errors"

	"github.com/pycore/pycore/core"
)

// Options says where detached debug files are looked for.
type Options struct {
	DebugDirs []string // default: /usr/lib/debug; searched as DIR/.build-id/xx/rest.debug and by debuglink
}

// Table is the set of modules of one process.
type Table struct {
	Modules []*Module // in address order
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

var errNotImplemented = errors.New("not implemented")

// Load builds the module table for every ELF object of p that was found on this machine.
func Load(p *core.Process, opts Options) (*Table, error) { return nil, errNotImplemented }

// Lookup finds a symbol by exact name in any module (.dynsym first, then .symtab).
func (t *Table) Lookup(name string) (Symbol, bool) { return Symbol{}, false }

// Module returns the module containing addr, or nil.
func (t *Table) Module(addr core.Address) *Module { return nil }

// Symbolize returns the symbol containing addr and the offset into it.
func (t *Table) Symbolize(addr core.Address) (Symbol, uint64, bool) { return Symbol{}, 0, false }

// Lookup finds a symbol in this module only.
func (m *Module) Lookup(name string) (Symbol, bool) { return Symbol{}, false }

// Section returns a section by name at its runtime address.
func (m *Module) Section(name string) (Section, bool) { return Section{}, false }

// HasDWARF reports, without parsing it, whether DWARF is available for the
// module (in the file or a detached debug file).
func (m *Module) HasDWARF() bool { return false }

// DWARF parses (once) and returns the module's DWARF. The debug file used, if
// detached, is named by DebugFile.
func (m *Module) DWARF() (*dwarf.Data, error) { return nil, errNotImplemented }

// DebugFile is the detached debug file used for DWARF, "" if none or not yet looked up.
func (m *Module) DebugFile() string { return "" }
