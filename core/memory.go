package core

import (
	"debug/elf"
	"fmt"
	"sort"
)

// loadSeg is one PT_LOAD of the core.
type loadSeg struct {
	Start, End Address
	Off        uint64 // file offset in the core of the dumped bytes
	Filesz     uint64 // how many bytes from Start are dumped
	Perm       Perm
}

func permFromFlags(f elf.ProgFlag) Perm {
	var p Perm
	if f&elf.PF_R != 0 {
		p |= PermRead
	}
	if f&elf.PF_W != 0 {
		p |= PermWrite
	}
	if f&elf.PF_X != 0 {
		p |= PermExec
	}
	return p
}

// buildMappings splices the core's segments with the NT_FILE ranges into
// sorted, non-overlapping mappings. Every address covered by either list is
// in exactly one mapping; a mapping boundary falls wherever either list has
// one, so each mapping has at most one segment and one file range behind it.
// Overlaps within a list (which a sane core never has) are trimmed with a
// warning rather than trusted.
func buildMappings(loads []loadSeg, files []fileRange) ([]*Mapping, []string) {
	var warnings []string
	loads, w := trimLoads(loads)
	warnings = append(warnings, w...)
	files, w = trimFiles(files)
	warnings = append(warnings, w...)

	bounds := make([]Address, 0, 2*(len(loads)+len(files)))
	for _, l := range loads {
		bounds = append(bounds, l.Start, l.End)
	}
	for _, f := range files {
		bounds = append(bounds, f.Start, f.End)
	}
	sort.Slice(bounds, func(i, j int) bool { return bounds[i] < bounds[j] })
	bounds = uniqAddrs(bounds)

	var maps []*Mapping
	li, fi := 0, 0
	for i := 0; i+1 < len(bounds); i++ {
		a, b := bounds[i], bounds[i+1]
		for li < len(loads) && loads[li].End <= a {
			li++
		}
		for fi < len(files) && files[fi].End <= a {
			fi++
		}
		var l *loadSeg
		var f *fileRange
		if li < len(loads) && loads[li].Start <= a {
			l = &loads[li]
		}
		if fi < len(files) && files[fi].Start <= a {
			f = &files[fi]
		}
		if l == nil && f == nil {
			continue // a gap between mappings
		}
		m := &Mapping{Start: a, End: b, Perm: PermRead}
		if l != nil {
			into := uint64(a - l.Start)
			m.Perm = l.Perm
			m.permKnown = true
			m.coreOff = l.Off + into
			if into < l.Filesz {
				m.CoreSize = min(uint64(b-a), l.Filesz-into)
			}
		}
		if f != nil {
			m.Path = f.Path
			m.FileOffset = f.Offset + uint64(a-f.Start)
			m.noFileWhy = "file not found"
		} else {
			m.noFileWhy = "anonymous memory (not dumped)"
		}
		maps = append(maps, m)
	}
	return maps, warnings
}

func uniqAddrs(a []Address) []Address {
	out := a[:0]
	for i, v := range a {
		if i == 0 || v != a[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func trimLoads(loads []loadSeg) ([]loadSeg, []string) {
	var warnings []string
	sort.SliceStable(loads, func(i, j int) bool { return loads[i].Start < loads[j].Start })
	out := loads[:0]
	for _, l := range loads {
		if l.End <= l.Start {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End > l.Start {
			prev := out[n-1]
			if prev.End >= l.End {
				warnings = append(warnings, fmt.Sprintf("segment %s-%s lies inside segment %s-%s; ignored", l.Start, l.End, prev.Start, prev.End))
				continue
			}
			shift := uint64(prev.End - l.Start)
			warnings = append(warnings, fmt.Sprintf("segment %s-%s overlaps segment %s-%s; using it from %s", l.Start, l.End, prev.Start, prev.End, prev.End))
			l.Start = prev.End
			l.Off += shift
			if l.Filesz > shift {
				l.Filesz -= shift
			} else {
				l.Filesz = 0
			}
		}
		out = append(out, l)
	}
	return out, warnings
}

func trimFiles(files []fileRange) ([]fileRange, []string) {
	var warnings []string
	sort.SliceStable(files, func(i, j int) bool { return files[i].Start < files[j].Start })
	out := files[:0]
	for _, f := range files {
		if f.End <= f.Start {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End > f.Start {
			prev := out[n-1]
			if prev.End >= f.End {
				warnings = append(warnings, fmt.Sprintf("NT_FILE range %s-%s of %s lies inside %s-%s; ignored", f.Start, f.End, f.Path, prev.Start, prev.End))
				continue
			}
			warnings = append(warnings, fmt.Sprintf("NT_FILE range %s-%s of %s overlaps %s-%s; using it from %s", f.Start, f.End, f.Path, prev.Start, prev.End, prev.End))
			f.Offset += uint64(prev.End - f.Start)
			f.Start = prev.End
		}
		out = append(out, f)
	}
	return out, warnings
}

// FindMapping returns the mapping containing addr, or nil.
func (p *Process) FindMapping(addr Address) *Mapping {
	ms := p.Mappings
	lo, hi := 0, len(ms)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ms[mid].End <= addr {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(ms) && ms[lo].Start <= addr {
		return ms[lo]
	}
	return nil
}

// ReadAt implements Memory: core bytes win over file bytes; filtered ranges
// with no file behind them and unmapped addresses fail with a *ReadError.
// It is safe for concurrent use, but not concurrently with or after Close.
func (p *Process) ReadAt(b []byte, addr Address) (int, error) {
	if p.closed.Load() {
		return 0, &ReadError{Addr: addr, Size: len(b), Reason: "core is closed"}
	}
	p.countRead()
	if p.direct != nil {
		return p.readDirect(b, addr)
	}
	n := 0
	for n < len(b) {
		a := addr + Address(n)
		if a < addr {
			return n, &ReadError{Addr: a, Size: len(b), Reason: "not mapped (end of address space)"}
		}
		m := p.FindMapping(a)
		if m == nil {
			return n, &ReadError{Addr: a, Size: len(b), Reason: "not mapped"}
		}
		k, fail := m.read(p.core, b[n:], a)
		n += k
		if fail != readOK {
			return n, &ReadError{Addr: addr + Address(n), Size: len(b), Reason: m.failReason(fail, p.core)}
		}
	}
	return n, nil
}

type readFailure int

const (
	readOK readFailure = iota
	readTruncated
	readFiltered
	readPastFile
)

// read copies what m holds at addr into dst, up to the end of m. It does not
// allocate; on failure the caller builds the message with failReason.
func (m *Mapping) read(core, dst []byte, addr Address) (int, readFailure) {
	off := uint64(addr - m.Start)
	want := uint64(m.End - addr)
	if uint64(len(dst)) < want {
		want = uint64(len(dst))
	}
	done := uint64(0)
	if off < m.CoreSize {
		k := min(want, m.CoreSize-off)
		src := m.coreOff + off
		if src >= uint64(len(core)) {
			return 0, readTruncated
		}
		if want == 8 && k == 8 && uint64(len(core))-src >= 8 {
			// A word, the usual read: a move, not a call to memmove.
			*(*[8]byte)(dst) = [8]byte(core[src:])
			return 8, readOK
		}
		got := uint64(copy(dst[:k], core[src:]))
		if got < k {
			return int(got), readTruncated
		}
		done = k
	}
	if done < want {
		if m.file == nil {
			return int(done), readFiltered
		}
		foff := m.FileOffset + off + done
		if foff >= uint64(len(m.file)) || foff < m.FileOffset {
			return int(done), readPastFile
		}
		done += uint64(copy(dst[done:want], m.file[foff:]))
		if done < want {
			return int(done), readPastFile
		}
	}
	return int(done), readOK
}

func (m *Mapping) failReason(f readFailure, core []byte) string {
	switch f {
	case readTruncated:
		// The truncation is said once, with the sizes: not again per read.
		return "past the end of the truncated core"
	case readFiltered:
		if m.Path == "" {
			return "in filtered segment of " + m.noFileWhy
		}
		return "in filtered segment of " + m.Path + " (" + m.noFileWhy + ")"
	case readPastFile:
		return fmt.Sprintf("beyond the end of %s (mapping %s-%s at file offset %#x, the file has %#x bytes)",
			m.Path, m.Start, m.End, m.FileOffset, len(m.file))
	}
	return "unknown failure"
}

// Size is the length of the mapping in bytes.
func (m *Mapping) Size() uint64 { return uint64(m.End - m.Start) }

// Contains reports whether addr is inside the mapping.
func (m *Mapping) Contains(addr Address) bool { return m.Start <= addr && addr < m.End }

// Source reports where the mapping's bytes come from.
func (m *Mapping) Source() Source {
	switch {
	case m.CoreSize >= m.Size():
		return FromCore
	case m.file == nil:
		return Missing
	case m.CoreSize == 0:
		return FromFile
	}
	return FromBoth
}

// PermKnown reports whether Perm was recorded in the core. Ranges that only
// NT_FILE mentions (gdb omits read-only file mappings) get their protection
// from the ELF file's program headers when it is found, else PermRead.
func (m *Mapping) PermKnown() bool { return m.permKnown }

// String describes the mapping like a line of /proc/pid/maps.
func (m *Mapping) String() string {
	s := fmt.Sprintf("%s-%s %s %s", m.Start, m.End, m.Perm, m.Source())
	if m.Path != "" {
		s += fmt.Sprintf(" %s@%#x", m.Path, m.FileOffset)
	}
	return s
}

// coreBytes returns the n dumped bytes of m at offset off from its start,
// or nil if the core does not hold them all. Used where only the core's
// copy will do (build IDs of what the process had loaded).
func (m *Mapping) coreBytes(core []byte, off, n uint64) []byte {
	if off > m.CoreSize || m.CoreSize-off < n {
		return nil
	}
	src := m.coreOff + off
	if src > uint64(len(core)) || uint64(len(core))-src < n {
		return nil
	}
	return core[src : src+n]
}
