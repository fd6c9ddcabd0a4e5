package core

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// Sizes of the ELF64 structures we read by hand. We parse the header and
// program headers ourselves (with debug/elf's types and constants) rather
// than through elf.NewFile: a truncated core loses its section headers,
// which debug/elf insists on, while its program headers are still usable.
const (
	ehdr64Size = 64
	phdr64Size = 56
	shdr64Size = 64
)

// Limits on what an untrusted header may ask us to read.
const (
	maxCoreNoteBytes = 256 << 20 // all PT_NOTE data of a core
	maxObjPhnum      = 1024      // program headers of a mapped ELF object
	maxObjNoteBytes  = 1 << 20   // one PT_NOTE of a mapped ELF object
	maxBuildIDLen    = 512
	noteHeaderSize   = 12
	elfMagic         = "\x7fELF"
	ntGNUBuildID     = 3
	pnXNum           = 0xffff
)

// coreHeader is what we need from a core's ELF header and program headers.
type coreHeader struct {
	progs []elf.Prog64
}

// parseCoreHeader checks that data is an x86-64 little-endian ELF64 core and
// returns its program headers. name is used in error messages.
func parseCoreHeader(data []byte) (*coreHeader, error) {
	if len(data) < 4 || string(data[:4]) != elfMagic {
		n := len(data)
		if n > 8 {
			n = 8
		}
		return nil, fmt.Errorf("not an ELF file (starts with %q)", data[:n])
	}
	if len(data) < elf.EI_NIDENT+4 {
		return nil, fmt.Errorf("truncated: ELF header needs %d bytes, file is %d bytes", ehdr64Size, len(data))
	}
	var order binary.ByteOrder
	switch elf.Data(data[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		order = binary.LittleEndian
	case elf.ELFDATA2MSB:
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("ELF file with invalid data encoding %d in e_ident", data[elf.EI_DATA])
	}
	typ := elf.Type(order.Uint16(data[16:]))
	machine := elf.Machine(order.Uint16(data[18:]))
	class := elf.Class(data[elf.EI_CLASS])
	if typ != elf.ET_CORE {
		return nil, fmt.Errorf("%s, not a core", describeELFType(typ))
	}
	if machine != elf.EM_X86_64 {
		if class == elf.ELFCLASS32 {
			return nil, fmt.Errorf("32-bit %s core: only x86-64 is supported", machineName(machine))
		}
		return nil, fmt.Errorf("%s core: only x86-64 is supported", machineName(machine))
	}
	if class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("32-bit core (%s, x32 ABI): only 64-bit x86-64 cores are supported", class)
	}
	if order != binary.LittleEndian {
		return nil, fmt.Errorf("big-endian x86-64 core: only little-endian is supported")
	}
	if len(data) < ehdr64Size {
		return nil, fmt.Errorf("truncated: ELF header needs %d bytes, file is %d bytes", ehdr64Size, len(data))
	}
	le := binary.LittleEndian
	phoff := le.Uint64(data[32:])
	shoff := le.Uint64(data[40:])
	phentsize := uint64(le.Uint16(data[54:]))
	phnum := uint64(le.Uint16(data[56:]))
	shentsize := uint64(le.Uint16(data[58:]))
	if phnum == pnXNum {
		// More than 65534 segments: the real count is in section 0's sh_info.
		if shoff == 0 || shentsize < shdr64Size {
			return nil, fmt.Errorf("e_phnum is PN_XNUM but there is no section header 0 to hold the count")
		}
		if shoff > uint64(len(data)) || uint64(len(data))-shoff < shdr64Size {
			return nil, fmt.Errorf("truncated: section header 0 (holding the segment count) ends at %d, file is %d bytes", shoff+shdr64Size, len(data))
		}
		phnum = uint64(le.Uint32(data[shoff+44:]))
	}
	if phnum == 0 {
		return nil, fmt.Errorf("core has no program headers")
	}
	if phentsize != phdr64Size {
		return nil, fmt.Errorf("e_phentsize is %d, want %d for ELF64", phentsize, phdr64Size)
	}
	if phoff > uint64(len(data)) || (uint64(len(data))-phoff)/phdr64Size < phnum {
		return nil, fmt.Errorf("truncated: program header table ends at %d, file is %d bytes", phoff+phnum*phdr64Size, len(data))
	}
	h := &coreHeader{progs: make([]elf.Prog64, phnum)}
	for i := range h.progs {
		h.progs[i] = readProg64(data[phoff+uint64(i)*phdr64Size:])
	}
	return h, nil
}

func readProg64(b []byte) elf.Prog64 {
	le := binary.LittleEndian
	return elf.Prog64{
		Type:   le.Uint32(b[0:]),
		Flags:  le.Uint32(b[4:]),
		Off:    le.Uint64(b[8:]),
		Vaddr:  le.Uint64(b[16:]),
		Paddr:  le.Uint64(b[24:]),
		Filesz: le.Uint64(b[32:]),
		Memsz:  le.Uint64(b[40:]),
		Align:  le.Uint64(b[48:]),
	}
}

func describeELFType(t elf.Type) string {
	switch t {
	case elf.ET_EXEC:
		return "an ELF executable"
	case elf.ET_DYN:
		return "an ELF shared object or PIE executable"
	case elf.ET_REL:
		return "an ELF relocatable object"
	case elf.ET_NONE:
		return "an ELF file of type ET_NONE"
	}
	return fmt.Sprintf("an ELF file of type %#x", uint16(t))
}

func machineName(m elf.Machine) string {
	switch m {
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_386:
		return "i386"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		return "riscv"
	case elf.EM_PPC64:
		return "ppc64"
	case elf.EM_PPC:
		return "ppc"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_MIPS:
		return "mips"
	case elf.EM_LOONGARCH:
		return "loongarch"
	case elf.EM_SPARCV9:
		return "sparc64"
	}
	return fmt.Sprintf("machine %d", uint16(m))
}

// note is one ELF note record.
type note struct {
	Name string
	Type uint32
	Desc []byte
	Off  uint64 // offset of the record from the start of the note data
}

// parseNoteRecords splits note data into records. align is the padding of
// name and desc (4 in cores; 4 or 8 in executables, from p_align).
func parseNoteRecords(data []byte, align uint64) ([]note, error) {
	if align != 8 {
		align = 4
	}
	var notes []note
	off := uint64(0)
	size := uint64(len(data))
	for off < size {
		if size-off < noteHeaderSize {
			return notes, fmt.Errorf("note at offset %d: header needs %d bytes, %d left", off, noteHeaderSize, size-off)
		}
		namesz := uint64(binary.LittleEndian.Uint32(data[off:]))
		descsz := uint64(binary.LittleEndian.Uint32(data[off+4:]))
		typ := binary.LittleEndian.Uint32(data[off+8:])
		nameOff := off + noteHeaderSize
		descOff := nameOff + alignUp(namesz, align)
		next := descOff + alignUp(descsz, align)
		// Sizes are at most 2^32 each, so these sums cannot overflow uint64.
		if descOff+descsz > size {
			return notes, fmt.Errorf("note at offset %d (type %#x): name of %d and desc of %d bytes run past the end of the notes (%d bytes)", off, typ, namesz, descsz, size)
		}
		name := data[nameOff : nameOff+namesz]
		name = bytes.TrimRight(name, "\x00")
		notes = append(notes, note{Name: string(name), Type: typ, Desc: data[descOff : descOff+descsz], Off: off})
		if next <= off { // cannot happen with the header counted, but never loop forever
			break
		}
		off = next
	}
	return notes, nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

// buildIDFrom finds the GNU build ID of an ELF64 little-endian image through
// its program headers. at returns n bytes at file offset off, or nil when
// they are not available; every read is bounded.
func buildIDFrom(at func(off, n uint64) []byte) []byte {
	progs := objectProgs(at)
	for _, ph := range progs {
		if elf.ProgType(ph.Type) != elf.PT_NOTE || ph.Filesz == 0 || ph.Filesz > maxObjNoteBytes {
			continue
		}
		data := at(ph.Off, ph.Filesz)
		if data == nil {
			continue
		}
		notes, _ := parseNoteRecords(data, ph.Align)
		for _, n := range notes {
			if n.Name == "GNU" && n.Type == ntGNUBuildID && len(n.Desc) > 0 && len(n.Desc) <= maxBuildIDLen {
				return bytes.Clone(n.Desc)
			}
		}
	}
	return nil
}

// objectProgs returns the program headers of an ELF64 little-endian image,
// or nil if the header is not available or not of that kind.
func objectProgs(at func(off, n uint64) []byte) []elf.Prog64 {
	hdr := at(0, ehdr64Size)
	if hdr == nil || string(hdr[:4]) != elfMagic || elf.Class(hdr[elf.EI_CLASS]) != elf.ELFCLASS64 ||
		elf.Data(hdr[elf.EI_DATA]) != elf.ELFDATA2LSB {
		return nil
	}
	le := binary.LittleEndian
	phoff := le.Uint64(hdr[32:])
	phentsize := uint64(le.Uint16(hdr[54:]))
	phnum := uint64(le.Uint16(hdr[56:]))
	if phentsize != phdr64Size || phnum == 0 || phnum > maxObjPhnum {
		return nil
	}
	tab := at(phoff, phnum*phdr64Size)
	if tab == nil {
		return nil
	}
	progs := make([]elf.Prog64, phnum)
	for i := range progs {
		progs[i] = readProg64(tab[uint64(i)*phdr64Size:])
	}
	return progs
}

// sliceAt adapts a byte slice to the at functions above.
func sliceAt(data []byte) func(off, n uint64) []byte {
	return func(off, n uint64) []byte {
		if off > uint64(len(data)) || uint64(len(data))-off < n {
			return nil
		}
		return data[off : off+n]
	}
}

func isELF(b []byte) bool { return len(b) >= 4 && string(b[:4]) == elfMagic }
