package symbols

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"

	"github.com/ulikunitz/xz"
)

// MiniDebugInfo (.gnu_debugdata, as Fedora ships): an xz-compressed ELF
// holding a .symtab of the functions .dynsym lacks. Its decompressed size
// is bounded: it is a symbol table, not DWARF.
const (
	maxMiniDebugInfo      = 256 << 20
	maxMiniDebugInfoRatio = 200
)

// miniDebugSymbols reads the symbol table of the module's MiniDebugInfo.
// ok is false when the module has none.
func (m *Module) miniDebugSymbols() (syms []rawSymbol, ok bool, err error) {
	s := m.ELF.Section(".gnu_debugdata")
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil, false, nil
	}
	label := m.name() + "[.gnu_debugdata]"
	b, err := sectionBytes(m.name(), m.data, s)
	if err != nil {
		return nil, true, err
	}
	r, err := xz.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", label, err)
	}
	limit := int64(len(b)) * maxMiniDebugInfoRatio
	if limit > maxMiniDebugInfo {
		limit = maxMiniDebugInfo
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", label, err)
	}
	if int64(len(data)) > limit {
		return nil, true, fmt.Errorf("%s: decompresses to more than %d bytes: refusing", label, limit)
	}
	f, err := openELF(label, data)
	if err != nil {
		return nil, true, err
	}
	for _, sec := range f.Sections {
		if sec.Type == elf.SHT_SYMTAB {
			syms, err := m.parseSymbols(label, f, data, sec)
			return syms, true, err
		}
	}
	return nil, true, fmt.Errorf("%s: no .symtab", label)
}
