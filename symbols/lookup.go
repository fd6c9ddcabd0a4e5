package symbols

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/pycore/pycore/core"
)

// Looking a few names up must not cost building the whole table: finding
// CPython asks every module for _PyRuntime, and libpython's .symtab alone has
// 15,000 symbols (a detached libc's 10,000). So Lookup and LookupAll read the
// symbol sections in place: .dynsym through its .gnu.hash table, .symtab
// (found, with the debug file, only when .dynsym does not answer) by one
// scan without allocating. They give exactly what the full table would
// (buildSymtab's order and filters), which is still built, once, for
// Symbols, and used by lookups from then on. Symbolize uses an index of
// addresses (addrIndex) until then.

// symSection is one symbol table section read in place.
type symSection struct {
	file    string
	name    string
	class   elf.Class
	order   binary.ByteOrder
	dynamic bool
	ents    []byte // whole entries only
	entSize int
	strs    []byte
	// firstGlobal is .symtab's sh_info: locals come before it.
	firstGlobal int
	hash        *gnuHash // .dynsym only, nil if none (or unusable)
	le64        bool     // ELFCLASS64, little-endian: decoded without the ByteOrder interface
}

// lazySyms is what lookups read before (or instead of) the full table.
type lazySyms struct {
	dyn *symSection // the file's own .dynsym; nil if absent or unreadable

	stabOnce sync.Once
	stab     *symSection // .symtab of the file, else of its debug file; nil if none
	// stabFull says .symtab lookups must use the full table: the symbols
	// come from MiniDebugInfo (decompressed anyway), or reading failed.
	stabFull bool

	addrOnce sync.Once
	addrs    *addrIndex // for Symbolize until the full table is built
}

// lazy returns the module's in-place .dynsym, found the first time; nil if
// the module has no ELF file.
func (m *Module) lazy() *lazySyms {
	m.lazyOnce.Do(func() {
		lz := &lazySyms{}
		defer func() {
			// The package boundary, as in LoadSymbols.
			if r := recover(); r != nil {
				lz = &lazySyms{stabFull: true}
			}
			m.lazySyms.Store(lz)
		}()
		if m.ELF != nil {
			lz.dyn, _ = m.symSectionOf(m.name(), m.ELF, m.data, elf.SHT_DYNSYM)
		}
	})
	return m.lazySyms.Load()
}

// symtab returns the in-place .symtab, found the first time, or nil with
// full true when lookups must use the full table instead.
func (m *Module) symtabSection(lz *lazySyms) (s *symSection, full bool) {
	if m.symsClosed.Load() {
		return nil, true // the debug file may be unmapped
	}
	lz.stabOnce.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				lz.stab, lz.stabFull = nil, true
			}
		}()
		if m.ELF == nil {
			lz.stabFull = true
			return
		}
		var found bool
		if lz.stab, found = m.symSectionOf(m.name(), m.ELF, m.data, elf.SHT_SYMTAB); found {
			return
		}
		// As readSymbols: a stripped file's .symtab is its debug file's, else
		// MiniDebugInfo's.
		if d := m.debugFile(); d != nil {
			if lz.stab, found = m.symSectionOf(d.path, d.elf, d.data, elf.SHT_SYMTAB); found {
				return
			}
		}
		if s := m.ELF.Section(".gnu_debugdata"); s != nil && s.Type != elf.SHT_NOBITS {
			lz.stabFull = true
		}
	})
	return lz.stab, lz.stabFull
}

// symSectionOf prepares the first section of type typ, as readSymbols reads
// it. found is whether there is one; s is nil when it cannot be read (then
// it contributes no symbols, as parseSymbols' error does).
func (m *Module) symSectionOf(file string, f *elf.File, data []byte, typ elf.SectionType) (s *symSection, found bool) {
	for _, sec := range f.Sections {
		if sec.Type != typ {
			continue
		}
		s, err := newSymSection(file, f, data, sec)
		if err != nil {
			return nil, true
		}
		if typ == elf.SHT_DYNSYM {
			s.hash = findGNUHash(f, data, sec, s)
		}
		return s, true
	}
	return nil, false
}

// newSymSection checks a symbol section as parseSymbols does.
func newSymSection(file string, f *elf.File, data []byte, sec *elf.Section) (*symSection, error) {
	entSize := 24
	if f.Class == elf.ELFCLASS32 {
		entSize = 16
	}
	if sec.Entsize != 0 && sec.Entsize != uint64(entSize) {
		return nil, fmt.Errorf("%s: section %s: entry size %d, want %d", file, sec.Name, sec.Entsize, entSize)
	}
	b, err := sectionBytes(file, data, sec)
	if err != nil {
		return nil, err
	}
	if int(sec.Link) <= 0 || int(sec.Link) >= len(f.Sections) {
		return nil, fmt.Errorf("%s: section %s: string table link %d out of range", file, sec.Name, sec.Link)
	}
	strs, err := sectionBytes(file, data, f.Sections[sec.Link])
	if err != nil {
		return nil, err
	}
	n := len(b) / entSize
	first := int(sec.Info)
	if first < 1 || first > n {
		first = 1 // not trustworthy: treat every symbol as possibly global
	}
	return &symSection{
		file: file, name: sec.Name, class: f.Class, order: f.ByteOrder,
		dynamic: sec.Type == elf.SHT_DYNSYM,
		ents:    b[:n*entSize], entSize: entSize, strs: strs, firstGlobal: first,
		le64: f.Class == elf.ELFCLASS64 && f.ByteOrder == binary.LittleEndian,
	}, nil
}

func (s *symSection) count() int { return len(s.ents) / s.entSize }

// entry decodes symbol i.
func (s *symSection) entry(i int) (nameOff uint32, value, size uint64, info uint8, shndx uint16) {
	e := s.ents[i*s.entSize : (i+1)*s.entSize]
	if s.class == elf.ELFCLASS32 {
		return s.order.Uint32(e), uint64(s.order.Uint32(e[4:])), uint64(s.order.Uint32(e[8:])), e[12], s.order.Uint16(e[14:])
	}
	return s.order.Uint32(e), s.order.Uint64(e[8:]), s.order.Uint64(e[16:]), e[4], s.order.Uint16(e[6:])
}

// nameIs reports whether symbol i is called name, without copying it.
func (s *symSection) nameIs(i int, name string) bool {
	var off uint64
	if s.le64 {
		off = uint64(binary.LittleEndian.Uint32(s.ents[i*24:])) // inlined, unlike the ByteOrder call
	} else {
		off = uint64(s.order.Uint32(s.ents[i*s.entSize:]))
	}
	end := off + uint64(len(name))
	if end >= uint64(len(s.strs)) || s.strs[end] != 0 {
		return false
	}
	return string(s.strs[off:end]) == name
}

// symbol returns symbol i as parseSymbols would keep it, or ok false if it
// would skip it.
func (m *Module) symbol(s *symSection, i int) (sym Symbol, global, ok bool) {
	nameOff, value, size, info, shndx := s.entry(i)
	typ, bind := elf.SymType(info&0xf), elf.SymBind(info>>4)
	if elf.SectionIndex(shndx) == elf.SHN_UNDEF || (shndx >= uint16(elf.SHN_LORESERVE) && elf.SectionIndex(shndx) != elf.SHN_XINDEX) {
		return Symbol{}, false, false
	}
	addressed := typ == elf.STT_FUNC || typ == elf.STT_OBJECT || typ == elf.STT_GNU_IFUNC
	global = bind == elf.STB_GLOBAL || bind == elf.STB_WEAK || bind == stbGNUUnique
	if !addressed && !(typ == elf.STT_NOTYPE && global) {
		return Symbol{}, false, false
	}
	if uint64(nameOff) >= uint64(len(s.strs)) {
		return Symbol{}, false, false
	}
	name := s.strs[nameOff:]
	if z := bytes.IndexByte(name, 0); z >= 0 {
		name = name[:z]
	}
	if len(name) == 0 {
		return Symbol{}, false, false
	}
	return Symbol{
		Name:   string(name),
		Addr:   core.Address(value + m.Bias),
		Size:   size,
		Func:   typ == elf.STT_FUNC || typ == elf.STT_GNU_IFUNC,
		Module: m,
	}, global, true
}

// each calls yield with every symbol called name in the section, in index
// order, kept as parseSymbols keeps them; yield returns false to stop.
func (m *Module) each(s *symSection, name string, yield func(sym Symbol, global bool) bool) {
	if s == nil || name == "" {
		return
	}
	visit := func(i int) bool {
		if !s.nameIs(i, name) {
			return true
		}
		sym, global, ok := m.symbol(s, i)
		return !ok || yield(sym, global)
	}
	if s.hash != nil {
		// Symbols before symoffset are not in the hash table (imports,
		// mostly): scanned, as they come first in index order.
		for i := 1; i < s.hash.symOffset; i++ {
			if !visit(i) {
				return
			}
		}
		s.hash.each(s, name, visit)
		return
	}
	for i, n := 1, s.count(); i < n; i++ {
		// The name test first, without visit's call: this is a scan of all
		// of .symtab (15,000 entries in libpython) for a name .dynsym lacks.
		if s.nameIs(i, name) && !visit(i) {
			return
		}
	}
}

// lookupDynamic finds the first .dynsym symbol called name.
func (m *Module) lookupDynamic(lz *lazySyms, name string) (found Symbol, ok bool) {
	m.each(lz.dyn, name, func(s Symbol, _ bool) bool {
		found, ok = s, true
		return false
	})
	return found, ok
}

// lookupLazy is Lookup over the sections in place: .dynsym, then .symtab's
// globals, then its locals. handled is false when the full table must answer.
func (m *Module) lookupLazy(lz *lazySyms, name string) (found Symbol, ok, handled bool) {
	if found, ok = m.lookupDynamic(lz, name); ok {
		return found, true, true
	}
	stab, full := m.symtabSection(lz)
	if full {
		return Symbol{}, false, false
	}
	var local Symbol
	var hasLocal bool
	m.each(stab, name, func(s Symbol, global bool) bool {
		if global {
			found, ok = s, true
			return false
		}
		if !hasLocal {
			local, hasLocal = s, true
		}
		return true
	})
	if ok {
		return found, true, true
	}
	return local, hasLocal, true
}

// lookupAllLazy is LookupAll over the sections in place, duplicates of one
// name at one address dropped as buildSymtab does. handled is false when
// the full table must answer.
func (m *Module) lookupAllLazy(lz *lazySyms, name string) (out []Symbol, handled bool) {
	stab, full := m.symtabSection(lz)
	if full {
		return nil, false
	}
	var locals []Symbol
	seen := func(s Symbol) bool {
		for _, o := range out {
			if o.Addr == s.Addr {
				return true
			}
		}
		return false
	}
	m.each(lz.dyn, name, func(s Symbol, _ bool) bool {
		if !seen(s) {
			out = append(out, s)
		}
		return true
	})
	m.each(stab, name, func(s Symbol, global bool) bool {
		if !global {
			locals = append(locals, s)
		} else if !seen(s) {
			out = append(out, s)
		}
		return true
	})
	for _, s := range locals {
		if !seen(s) {
			out = append(out, s)
		}
	}
	return out, true
}

// gnuHash is a .gnu.hash section: a bloom filter, buckets and hash chains
// over the .dynsym symbols from symOffset on.
type gnuHash struct {
	order      binary.ByteOrder
	bloomWords int // 64-bit words on ELF64, 32-bit on ELF32
	wordBits   uint32
	bloomShift uint32
	bloom      []byte
	buckets    []byte // uint32 each
	chains     []byte // uint32 each, for symbols symOffset..
	symOffset  int
	nbuckets   uint32
}

// findGNUHash finds and checks the .gnu.hash section of dynsym; nil if
// there is none or it does not make sense, and lookups then scan.
func findGNUHash(f *elf.File, data []byte, dynsym *elf.Section, s *symSection) *gnuHash {
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_GNU_HASH || int(sec.Link) >= len(f.Sections) || f.Sections[sec.Link] != dynsym {
			continue
		}
		b, err := sectionBytes("", data, sec)
		if err != nil {
			return nil
		}
		return parseGNUHash(b, f.Class, f.ByteOrder, s.count())
	}
	return nil
}

// parseGNUHash decodes a .gnu.hash section for a .dynsym of nsyms symbols.
func parseGNUHash(b []byte, class elf.Class, order binary.ByteOrder, nsyms int) *gnuHash {
	if len(b) < 16 {
		return nil
	}
	h := &gnuHash{order: order, wordBits: 64}
	if class == elf.ELFCLASS32 {
		h.wordBits = 32
	}
	h.nbuckets = order.Uint32(b)
	symOffset := order.Uint32(b[4:])
	bloomWords := order.Uint32(b[8:])
	h.bloomShift = order.Uint32(b[12:])
	rest := uint64(len(b) - 16)
	bloomLen := uint64(bloomWords) * uint64(h.wordBits/8)
	bucketsLen := uint64(h.nbuckets) * 4
	if h.nbuckets == 0 || bloomWords == 0 || symOffset == 0 || uint64(symOffset) > uint64(nsyms) ||
		bloomLen+bucketsLen > rest {
		return nil
	}
	h.symOffset = int(symOffset)
	h.bloomWords = int(bloomWords)
	h.bloom = b[16 : 16+bloomLen]
	h.buckets = b[16+bloomLen : 16+bloomLen+bucketsLen]
	h.chains = b[16+bloomLen+bucketsLen:]
	return h
}

// gnuHashOf is the GNU hash of a symbol name (dl_new_hash).
func gnuHashOf(name string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(name); i++ {
		h = h*33 + uint32(name[i])
	}
	return h
}

// each calls visit with the index of every hashed symbol whose hash matches
// name's, in index order, until visit returns false.
func (h *gnuHash) each(s *symSection, name string, visit func(int) bool) {
	hv := gnuHashOf(name)
	// The bloom filter answers most misses without touching the chains.
	w := (hv / h.wordBits) % uint32(h.bloomWords)
	var word uint64
	if h.wordBits == 64 {
		word = h.order.Uint64(h.bloom[w*8:])
	} else {
		word = uint64(h.order.Uint32(h.bloom[w*4:]))
	}
	mask := uint64(1)<<(hv%h.wordBits) | uint64(1)<<((hv>>h.bloomShift)%h.wordBits)
	if word&mask != mask {
		return
	}
	idx := h.order.Uint32(h.buckets[(hv%h.nbuckets)*4:])
	if idx < uint32(h.symOffset) {
		return // empty bucket
	}
	n := s.count()
	for i := int(idx); i < n; i++ {
		c := uint64(i-h.symOffset) * 4
		if c+4 > uint64(len(h.chains)) {
			return
		}
		ch := h.order.Uint32(h.chains[c:])
		if ch|1 == hv|1 && !visit(i) {
			return
		}
		if ch&1 != 0 {
			return // end of the chain
		}
	}
}

// addrEntry is one symbol of the address index: where it is, and where it
// is in lookup order (rank, then index in its section).
type addrEntry struct {
	addr  core.Address
	order uint64 // rank<<32 | index
}

// addrIndex is what Symbolize needs of the symbol sections, built without
// copying a name: every symbol parseSymbols keeps, by address then lookup
// order. A tenth of the full table's cost (names, maps, two stable sorts),
// which report paid on every core to name a dozen native frames.
type addrIndex struct {
	ents []addrEntry
}

// addrOf decodes what the index needs of symbol i without copying its name:
// whether parseSymbols keeps it, its address, and its binding.
func (m *Module) addrOf(s *symSection, i int) (addr core.Address, global, ok bool) {
	var nameOff uint32
	var value uint64
	var info uint8
	var shndx uint16
	if s.le64 {
		e := s.ents[i*24 : i*24+24]
		nameOff, info, shndx, value = binary.LittleEndian.Uint32(e), e[4], binary.LittleEndian.Uint16(e[6:]), binary.LittleEndian.Uint64(e[8:])
	} else {
		nameOff, value, _, info, shndx = s.entry(i)
	}
	typ, bind := elf.SymType(info&0xf), elf.SymBind(info>>4)
	if elf.SectionIndex(shndx) == elf.SHN_UNDEF || (shndx >= uint16(elf.SHN_LORESERVE) && elf.SectionIndex(shndx) != elf.SHN_XINDEX) {
		return 0, false, false
	}
	addressed := typ == elf.STT_FUNC || typ == elf.STT_OBJECT || typ == elf.STT_GNU_IFUNC
	global = bind == elf.STB_GLOBAL || bind == elf.STB_WEAK || bind == stbGNUUnique
	if !addressed && !(typ == elf.STT_NOTYPE && global) {
		return 0, false, false
	}
	if uint64(nameOff) >= uint64(len(s.strs)) || s.strs[nameOff] == 0 {
		return 0, false, false
	}
	return core.Address(value + m.Bias), global, true
}

// buildAddrIndex indexes .dynsym and the .symtab lookups read.
func (m *Module) buildAddrIndex(dyn, stab *symSection) *addrIndex {
	x := &addrIndex{}
	n := 0
	if dyn != nil {
		n += dyn.count()
	}
	if stab != nil {
		n += stab.count()
	}
	x.ents = make([]addrEntry, 0, n)
	for si, s := range [2]*symSection{dyn, stab} {
		if s == nil {
			continue
		}
		for i := 1; i < s.count(); i++ {
			a, global, ok := m.addrOf(s, i)
			if !ok {
				continue
			}
			rank := uint64(rankDynsym)
			if si == 1 {
				rank = rankGlobal
				if !global {
					rank = rankLocal
				}
			}
			x.ents = append(x.ents, addrEntry{a, rank<<32 | uint64(i)})
		}
	}
	slices.SortFunc(x.ents, func(a, b addrEntry) int {
		if c := cmp.Compare(a.addr, b.addr); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	return x
}

// symbolizeLazy is Symbolize through the address index, choosing what the
// full table's byAddr would: the highest address at or below addr with a
// function or object symbol, and of the symbols there (duplicates of one
// name dropped, the first in lookup order kept) the best by buildSymtab's
// rule. handled is false when the full table must answer.
func (m *Module) symbolizeLazy(lz *lazySyms, addr core.Address) (found Symbol, ok, handled bool) {
	stab, full := m.symtabSection(lz)
	if full {
		return Symbol{}, false, false
	}
	lz.addrOnce.Do(func() { lz.addrs = m.buildAddrIndex(lz.dyn, stab) })
	ents := lz.addrs.ents
	end, _ := slices.BinarySearchFunc(ents, addr+1, func(e addrEntry, t core.Address) int {
		return cmp.Compare(e.addr, t)
	})
	if addr == ^core.Address(0) {
		end = len(ents)
	}
	for end > 0 {
		a := ents[end-1].addr
		start := end - 1
		for start > 0 && ents[start-1].addr == a {
			start--
		}
		var meta []rawSymbol
	group:
		for _, e := range ents[start:end] {
			s := lz.dyn
			if e.order>>32 != rankDynsym {
				s = stab
			}
			i := int(e.order & 0xffffffff)
			sym, global, _ := m.symbol(s, i)
			for _, o := range meta {
				if o.Name == sym.Name {
					continue group
				}
			}
			_, _, _, info, _ := s.entry(i)
			typ := elf.SymType(info & 0xf)
			addressed := typ == elf.STT_FUNC || typ == elf.STT_OBJECT || typ == elf.STT_GNU_IFUNC
			meta = append(meta, rawSymbol{Symbol: sym, addressed: addressed, global: global})
		}
		choice := -1
		for i := range meta {
			if meta[i].addressed && (choice < 0 || betterSymbol(&meta[i], &meta[choice])) {
				choice = i
			}
		}
		if choice >= 0 {
			return meta[choice].Symbol, true, true
		}
		end = start // only symbols of no type here: the table has nothing at a
	}
	return Symbol{}, false, true
}
