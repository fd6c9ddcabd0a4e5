package symbols

import (
	"debug/elf"
	"fmt"
)

// DebugFrameData returns the module's .debug_frame (the CFI -g emits, also
// for code built without unwind tables) from its file or else its detached
// debug file, and the file it was read from. Its addresses are the
// module's link-time ones either way. The slice must not be modified.
func (m *Module) DebugFrameData() (data []byte, file string, err error) {
	if m.ELF == nil {
		return nil, "", m.noELF()
	}
	if s := m.ELF.Section(".debug_frame"); s != nil && s.Type != elf.SHT_NOBITS {
		b, err := sectionBytes(m.name(), m.data, s)
		return b, m.name(), err
	}
	if d := m.debugFile(); d != nil {
		if s := d.elf.Section(".debug_frame"); s != nil && s.Type != elf.SHT_NOBITS {
			b, err := sectionBytes(d.path, d.data, s)
			return b, d.path, err
		}
	}
	return nil, "", fmt.Errorf("%s: no .debug_frame in the file or a detached debug file", m.name())
}
