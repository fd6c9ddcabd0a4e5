package symbols

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	kzlib "github.com/klauspost/compress/zlib"

	"github.com/pycore/pycore/core"
)

// stbGNUUnique is STB_GNU_UNIQUE, a global binding debug/elf has no name for.
const stbGNUUnique = elf.SymBind(10)

// pageSize is the granule ld.so and the kernel map segments with on x86-64.
const pageSize = 4096

// newModule makes the module for one object of the core. It never fails:
// what went wrong is in m.Err, with m.ELF nil.
func newModule(o *core.Object, start, end core.Address, baseOffset uint64, dirs []string) (m *Module) {
	m = &Module{
		baseOffset: baseOffset,
		Path:       o.Path,
		LocalPath:  o.LocalPath,
		Start:      start,
		End:        end,
		BuildID:    o.BuildID,
		Object:     o,
		debugDirs:  dirs,
	}
	if o.Status != core.FileFound {
		msg := o.StatusMsg
		if msg == "" {
			msg = fileStatusText(o.Status)
		}
		m.Err = fmt.Errorf("%s: %s", o.Path, msg)
		return m
	}
	if len(o.Data) == 0 {
		m.Err = fmt.Errorf("%s: file found but no data was mapped for it", m.name())
		return m
	}
	defer func() {
		// Our own parsing below is bounded; this is the package boundary
		// against a panic in debug/elf on input it did not expect.
		if r := recover(); r != nil {
			m.ELF, m.data = nil, nil
			m.Err = fmt.Errorf("%s: corrupt ELF file: %v", m.name(), r)
		}
	}()
	f, err := openELF(m.name(), o.Data)
	if err != nil {
		m.Err = err
		return m
	}
	bias, err := loadBias(f, o.Base, baseOffset)
	if err != nil {
		m.Err = fmt.Errorf("%s: %w", m.name(), err)
		return m
	}
	m.ELF, m.data, m.Bias = f, o.Data, bias
	if id := fileBuildID(f, o.Data); id != nil {
		m.BuildID = id
	}
	if s := f.Section(".gnu_debuglink"); s != nil {
		if b, err := sectionBytes(m.name(), o.Data, s); err == nil {
			m.DebugLink, m.debugLinkCRC, m.hasDebugLink = parseDebugLink(b, f.ByteOrder)
		}
	}
	return m
}

func fileStatusText(s core.FileStatus) string {
	switch s {
	case core.FileMissing:
		return "file not found"
	case core.FileMismatch:
		return "file found but its build ID does not match the core's"
	}
	return fmt.Sprintf("file status %d", s)
}

// openELF parses the ELF headers of data, turning a panic into an error
// naming the file.
func openELF(name string, data []byte) (f *elf.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%s: corrupt ELF file: %v", name, r)
		}
	}()
	f, err = elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// linkAddr is the link-time address at which file offset off is mapped,
// from the PT_LOAD holding it: ld.so maps each segment from
// alignDown(p_offset, page) at alignDown(p_vaddr, page) + bias. For offset 0
// and the usual first segment this is alignDown(p_vaddr, p_align).
func linkAddr(f *elf.File, off uint64) (uint64, bool) {
	// A page can hold the end of one segment and the start of the next: a
	// segment starting on off's page is the one mapped there, else the one
	// whose file range holds off.
	for _, exact := range []bool{true, false} {
		for _, p := range f.Progs {
			if p.Type != elf.PT_LOAD {
				continue
			}
			segOff, end := p.Off&^(pageSize-1), p.Off+p.Filesz
			if end < p.Off {
				continue // corrupt size
			}
			if (exact && off == segOff) || (!exact && segOff <= off && off < end) {
				return p.Vaddr&^(pageSize-1) + (off - segOff), true
			}
		}
	}
	return 0, false
}

// loadBias is what is added to link-time addresses to get runtime ones:
// base is where file offset baseOffset was mapped.
func loadBias(f *elf.File, base core.Address, baseOffset uint64) (uint64, error) {
	switch f.Type {
	case elf.ET_EXEC:
		return 0, nil
	case elf.ET_DYN:
	default:
		return 0, fmt.Errorf("ELF type %v is not an executable or shared object", f.Type)
	}
	la, ok := linkAddr(f, baseOffset)
	if !ok {
		return 0, fmt.Errorf("no PT_LOAD program header maps file offset %#x (mapped at %s) to compute the load bias from", baseOffset, base)
	}
	return uint64(base) - la, nil
}

// checkBase returns a warning if a non-PIE executable is not mapped where it
// was linked: its symbols would then all be wrong.
func (m *Module) checkBase() string {
	if m.ELF == nil || m.ELF.Type != elf.ET_EXEC || m.Object == nil {
		return ""
	}
	la, ok := linkAddr(m.ELF, m.baseOffset)
	if ok && core.Address(la) != m.Object.Base {
		return fmt.Sprintf("%s: executable links file offset %#x at %#x but it was mapped at %s; its symbols will be wrong", m.name(), m.baseOffset, la, m.Object.Base)
	}
	return ""
}

// maxDecompressed bounds a compressed section's claimed size: real DWARF
// compresses a few times, not thousands.
const (
	maxDecompressedRatio = 2000
	maxDecompressed      = 4 << 30
)

// sectionBytes returns a section's contents: a slice of data itself when
// the section is stored as is (no copy), or its decompressed contents.
func sectionBytes(file string, data []byte, s *elf.Section) (b []byte, err error) {
	if s.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("%s: section %s has no data in the file (NOBITS)", file, s.Name)
	}
	end := s.Offset + s.FileSize
	if end < s.Offset || end > uint64(len(data)) {
		return nil, fmt.Errorf("%s: section %s at offset %#x size %#x runs past the end of the file (%#x bytes)", file, s.Name, s.Offset, s.FileSize, len(data))
	}
	raw := data[s.Offset:end:end]
	size := s.Size // SHF_COMPRESSED: debug/elf read it from the compression header
	if s.Flags&elf.SHF_COMPRESSED == 0 {
		// GNU-style .zdebug_*: "ZLIB" and a big-endian size before the zlib stream.
		if !strings.HasPrefix(s.Name, ".zdebug_") || len(raw) < 12 || string(raw[:4]) != "ZLIB" {
			return raw, nil
		}
		size = binary.BigEndian.Uint64(raw[4:12])
	}
	if size > maxDecompressed || size/maxDecompressedRatio > s.FileSize {
		return nil, fmt.Errorf("%s: compressed section %s claims %#x bytes from %#x compressed: refusing", file, s.Name, size, s.FileSize)
	}
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%s: section %s: corrupt compressed data: %v", file, s.Name, r)
		}
	}()
	if z, ok := zlibStream(s, raw); ok {
		// klauspost's inflate is about a quarter faster than debug/elf's
		// (compress/flate) on a libc debug file's .debug_info.
		b = make([]byte, size)
		zr, err := kzlib.NewReader(bytes.NewReader(z))
		if err == nil {
			_, err = io.ReadFull(zr, b)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: section %s: %w", file, s.Name, err)
		}
		return b, nil
	}
	b, err = s.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: section %s: %w", file, s.Name, err)
	}
	return b, nil
}

// zlibStream is the zlib stream of a compressed section: after the ELF
// compression header (Elf64_Chdr, ch_type ELFCOMPRESS_ZLIB) or GNU
// .zdebug's 12-byte header. ok is false for other compressions (zstd).
func zlibStream(s *elf.Section, raw []byte) (z []byte, ok bool) {
	if s.Flags&elf.SHF_COMPRESSED == 0 {
		return raw[12:], true // .zdebug_*, checked by the caller
	}
	// A 64-bit little-endian Elf64_Chdr (ch_size as debug/elf read it); a
	// 32-bit or big-endian file's is left to debug/elf.
	const chdr64 = 24
	le := binary.LittleEndian
	if len(raw) < chdr64+2 || elf.CompressionType(le.Uint32(raw)) != elf.COMPRESS_ZLIB || le.Uint64(raw[8:]) != s.Size {
		return nil, false
	}
	if z := raw[chdr64:]; z[0]&0x0f == 8 && (uint16(z[0])<<8|uint16(z[1]))%31 == 0 {
		return z, true
	}
	return nil, false
}

// fileBuildID finds the NT_GNU_BUILD_ID note in the note sections, or in
// PT_NOTE segments when there are no section headers.
func fileBuildID(f *elf.File, data []byte) []byte {
	const ntGNUBuildID = 3
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		b, err := sectionBytes("", data, s)
		if err != nil {
			continue
		}
		if id := findNote(b, f.ByteOrder, s.Addralign, "GNU", ntGNUBuildID); id != nil {
			return id
		}
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		end := p.Off + p.Filesz
		if end < p.Off || end > uint64(len(data)) {
			continue
		}
		if id := findNote(data[p.Off:end], f.ByteOrder, p.Align, "GNU", ntGNUBuildID); id != nil {
			return id
		}
	}
	return nil
}

// findNote returns a copy of the descriptor of the first note of that name
// and type in b. Notes are padded to 4 bytes, or 8 in an 8-aligned section.
func findNote(b []byte, order binary.ByteOrder, align uint64, name string, typ uint32) []byte {
	pad := uint64(4)
	if align == 8 {
		pad = 8
	}
	roundUp := func(n uint64) uint64 { return (n + pad - 1) &^ (pad - 1) }
	rest := uint64(len(b))
	for off := uint64(0); off+12 <= rest; {
		namesz := uint64(order.Uint32(b[off:]))
		descsz := uint64(order.Uint32(b[off+4:]))
		ntype := order.Uint32(b[off+8:])
		nameOff := off + 12
		descOff := nameOff + roundUp(namesz)
		next := descOff + roundUp(descsz)
		// namesz and descsz are 32-bit, so these sums cannot overflow.
		if descOff+descsz > rest {
			return nil
		}
		if ntype == typ && namesz == uint64(len(name))+1 && string(b[nameOff:nameOff+namesz-1]) == name {
			return bytes.Clone(b[descOff : descOff+descsz])
		}
		if next <= off {
			return nil
		}
		off = next
	}
	return nil
}

// parseDebugLink decodes .gnu_debuglink: a NUL-terminated file name, padding
// to 4 bytes, and the CRC-32 of the debug file.
func parseDebugLink(b []byte, order binary.ByteOrder) (name string, crc uint32, ok bool) {
	n := bytes.IndexByte(b, 0)
	if n <= 0 {
		return "", 0, false
	}
	crcOff := (n + 1 + 3) &^ 3
	if crcOff+4 > len(b) {
		return "", 0, false
	}
	return string(b[:n]), order.Uint32(b[crcOff:]), true
}

// hasDWARFSection reports whether f carries DWARF debugging information entries.
func hasDWARFSection(f *elf.File) bool {
	for _, s := range f.Sections {
		if (s.Name == ".debug_info" || s.Name == ".zdebug_info") && s.Type != elf.SHT_NOBITS && s.FileSize > 0 {
			return true
		}
	}
	return false
}

// symtab is a module's symbols: all in lookup order, a name index chaining
// symbols of one name, and the function/data symbols sorted by address (one
// per address) for Symbolize.
type symtab struct {
	all    []Symbol
	first  map[string]int32
	next   []int32 // next symbol of the same name, -1 at the end
	byAddr []int32
}

// symbol rank in lookup order: .dynsym, then .symtab globals, then .symtab locals.
const (
	rankDynsym = iota
	rankGlobal
	rankLocal
)

type rawSymbol struct {
	Symbol
	rank      int
	addressed bool // a function or data object: used by Symbolize
	global    bool
}

func (m *Module) readSymbols() (symtab, error) {
	var raw []rawSymbol
	var errs []error
	read := func(file string, f *elf.File, data []byte, typ elf.SectionType) bool {
		for _, s := range f.Sections {
			if s.Type != typ {
				continue
			}
			syms, err := m.parseSymbols(file, f, data, s)
			if err != nil {
				errs = append(errs, err)
			}
			raw = append(raw, syms...)
			return true
		}
		return false
	}
	read(m.name(), m.ELF, m.data, elf.SHT_DYNSYM)
	if !read(m.name(), m.ELF, m.data, elf.SHT_SYMTAB) {
		// Stripped: the detached debug file usually keeps the full .symtab,
		// else MiniDebugInfo may have the functions .dynsym lacks.
		d := m.debugFile()
		if d == nil || !read(d.path, d.elf, d.data, elf.SHT_SYMTAB) {
			syms, _, err := m.miniDebugSymbols()
			if err != nil {
				errs = append(errs, err)
			}
			raw = append(raw, syms...)
		}
	}
	return buildSymtab(raw), errors.Join(errs...)
}

// parseSymbols decodes one symbol table section, skipping undefined,
// absolute, section, file and TLS symbols (they have no address).
func (m *Module) parseSymbols(file string, f *elf.File, data []byte, s *elf.Section) ([]rawSymbol, error) {
	entSize := uint64(24)
	if f.Class == elf.ELFCLASS32 {
		entSize = 16
	}
	if s.Entsize != 0 && s.Entsize != entSize {
		return nil, fmt.Errorf("%s: section %s: entry size %d, want %d", file, s.Name, s.Entsize, entSize)
	}
	b, err := sectionBytes(file, data, s)
	if err != nil {
		return nil, err
	}
	if int(s.Link) <= 0 || int(s.Link) >= len(f.Sections) {
		return nil, fmt.Errorf("%s: section %s: string table link %d out of range", file, s.Name, s.Link)
	}
	strs, err := sectionBytes(file, data, f.Sections[s.Link])
	if err != nil {
		return nil, fmt.Errorf("%s: string table of %s: %w", file, s.Name, err)
	}
	order := f.ByteOrder
	n := uint64(len(b)) / entSize
	var out []rawSymbol
	badNames := 0
	for i := uint64(1); i < n; i++ {
		e := b[i*entSize : (i+1)*entSize]
		var nameOff uint32
		var value, size uint64
		var info uint8
		var shndx uint16
		if f.Class == elf.ELFCLASS32 {
			nameOff, value, size = order.Uint32(e), uint64(order.Uint32(e[4:])), uint64(order.Uint32(e[8:]))
			info, shndx = e[12], order.Uint16(e[14:])
		} else {
			nameOff, info, shndx = order.Uint32(e), e[4], order.Uint16(e[6:])
			value, size = order.Uint64(e[8:]), order.Uint64(e[16:])
		}
		typ, bind := elf.SymType(info&0xf), elf.SymBind(info>>4)
		if elf.SectionIndex(shndx) == elf.SHN_UNDEF || (shndx >= uint16(elf.SHN_LORESERVE) && elf.SectionIndex(shndx) != elf.SHN_XINDEX) {
			continue
		}
		addressed := typ == elf.STT_FUNC || typ == elf.STT_OBJECT || typ == elf.STT_GNU_IFUNC
		global := bind == elf.STB_GLOBAL || bind == elf.STB_WEAK || bind == stbGNUUnique
		// Untyped locals are assembler labels (and ARM mapping symbols), not names anyone looks up.
		if !addressed && !(typ == elf.STT_NOTYPE && global) {
			continue
		}
		if uint64(nameOff) >= uint64(len(strs)) {
			badNames++
			continue
		}
		name := strs[nameOff:]
		if z := bytes.IndexByte(name, 0); z >= 0 {
			name = name[:z]
		}
		if len(name) == 0 {
			continue
		}
		rank := rankGlobal
		switch {
		case s.Type == elf.SHT_DYNSYM:
			rank = rankDynsym
		case !global:
			rank = rankLocal
		}
		out = append(out, rawSymbol{
			Symbol: Symbol{
				Name:   string(name),
				Addr:   core.Address(value + m.Bias),
				Size:   size,
				Func:   typ == elf.STT_FUNC || typ == elf.STT_GNU_IFUNC,
				Module: m,
			},
			rank:      rank,
			addressed: addressed,
			global:    global,
		})
	}
	if uint64(len(b))%entSize != 0 {
		return out, fmt.Errorf("%s: section %s: size %#x is not a multiple of the entry size %d", file, s.Name, len(b), entSize)
	}
	if badNames > 0 {
		return out, fmt.Errorf("%s: section %s: %d symbols have a name offset beyond the string table (%#x bytes)", file, s.Name, badNames, len(strs))
	}
	return out, nil
}

// betterSymbol says which of the symbols at one address Symbolize names, the
// one most likely meant: sized over unsized, global over local, function over
// data, then (when neither is better) the earliest in lookup order.
func betterSymbol(a, b *rawSymbol) bool {
	if (a.Size > 0) != (b.Size > 0) {
		return a.Size > 0
	}
	if a.global != b.global {
		return a.global
	}
	if a.Func != b.Func {
		return a.Func
	}
	return false
}

func buildSymtab(raw []rawSymbol) symtab {
	// Lookup order: by rank, stable. Ranks are three small numbers, so the
	// order is a counting pass over indexes; sort.SliceStable moved the
	// 80-byte entries through reflection, 8 ms of every report's core.
	var counts [rankLocal + 2]int
	for i := range raw {
		counts[raw[i].rank+1]++
	}
	for r := 1; r < len(counts); r++ {
		counts[r] += counts[r-1]
	}
	order := make([]int32, len(raw))
	for i := range raw {
		order[counts[raw[i].rank]] = int32(i)
		counts[raw[i].rank]++
	}
	type key struct {
		name string
		addr core.Address
	}
	seen := make(map[key]bool, len(raw))
	t := symtab{first: make(map[string]int32, len(raw))}
	last := make(map[string]int32, len(raw))
	var addressed []int32
	meta := make([]*rawSymbol, 0, len(raw)) // parallel to t.all
	for _, i := range order {
		r := &raw[i]
		k := key{r.Name, r.Addr}
		if seen[k] {
			continue
		}
		seen[k] = true
		idx := int32(len(t.all))
		t.all = append(t.all, r.Symbol)
		meta = append(meta, r)
		t.next = append(t.next, -1)
		if l, ok := last[r.Name]; ok {
			t.next[l] = idx
		} else {
			t.first[r.Name] = idx
		}
		last[r.Name] = idx
		if r.addressed {
			addressed = append(addressed, idx)
		}
	}
	better := betterSymbol
	slices.SortStableFunc(addressed, func(i, j int32) int {
		sa, sb := meta[i], meta[j]
		switch {
		case sa.Addr != sb.Addr:
			return cmp.Compare(sa.Addr, sb.Addr)
		case better(sa, sb):
			return -1
		case better(sb, sa):
			return 1
		}
		return 0
	})
	for _, idx := range addressed {
		if n := len(t.byAddr); n > 0 && t.all[t.byAddr[n-1]].Addr == t.all[idx].Addr {
			continue
		}
		t.byAddr = append(t.byAddr, idx)
	}
	return t
}
