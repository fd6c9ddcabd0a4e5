// Package elfcore writes an x86-64 Linux ELF core file: the layout the kernel
// writes on a crash (ELF header, program headers, one PT_NOTE, one PT_LOAD
// per mapping), so that gdb, pystack and pycore read it as they read kernel
// cores. It knows nothing of how the process was read nor of Python.
package elfcore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Note types, from <linux/elf.h>.
const (
	NTPrstatus  = 1
	NTPrfpreg   = 2
	NTPrpsinfo  = 3
	NTAuxv      = 6
	NTX86XState = 0x202
	// NTX86XSaveLayout describes where each feature's registers are in the
	// NT_X86_XSTATE areas (Linux 6.x writes it once, after every thread).
	NTX86XSaveLayout = 0x205
	NTFile           = 0x46494c45
)

// Segment permission bits (PF_X, PF_W, PF_R).
const (
	FlagX = 1
	FlagW = 2
	FlagR = 4
)

const (
	ehdrSize     = 64
	phdrSize     = 56
	shdrSize     = 64
	prstatusSize = 336
	prpsinfoSize = 136
	numRegs      = 27
	pnXNum       = 0xffff
	// PageSize aligns the segments' file offsets, as the kernel does.
	PageSize = 4096
	// Bounds on what one note may hold, so a writer given nonsense fails
	// instead of writing gigabytes of notes.
	maxNoteDesc = 64 << 20
	maxRegSet   = 1 << 20
)

// Thread is one thread's NT_PRSTATUS and register sets.
type Thread struct {
	TID          int32
	Signal       int16 // pr_cursig: 0 for a process that was not signalled
	SigPend      uint64
	SigHold      uint64
	UTime, STime Timeval
	// Regs is elf_gregset_t: user_regs_struct's 27 words, r15 first.
	Regs   [numRegs]uint64
	FPRegs []byte // NT_PRFPREG (user_fxsr_struct, 512 bytes); nil: absent
	XState []byte // NT_X86_XSTATE (the XSAVE area); nil: absent
}

// Timeval is a struct timeval.
type Timeval struct{ Sec, Usec int64 }

// Process is what NT_PRPSINFO and the process-wide NT_PRSTATUS fields say.
type Process struct {
	PID, PPID, PGRP, SID int32
	UID, GID             uint32
	State                byte // /proc/PID/stat's state letter: R, S, D, T, Z, ...
	Nice                 int8
	Flag                 uint64
	Fname                string // the command name (truncated to 15 bytes)
	Args                 string // the command line, arguments separated by spaces (truncated to 79)
}

// File is one NT_FILE entry: [Start, End) maps Path from byte Offset on.
type File struct {
	Start, End uint64
	Offset     uint64 // a multiple of PageSize
	Path       string
}

// Segment is one PT_LOAD: Memsz bytes at Vaddr, of which the first Filesz
// are in the file (p_filesz; the rest reads from the mapped file). Chunks
// hold those bytes, in order of Off; bytes no chunk holds are zeros (holes
// in a sparse file).
type Segment struct {
	Vaddr  uint64
	Memsz  uint64
	Filesz uint64
	Flags  uint32
	Chunks []Chunk
}

// Chunk is len(Data) bytes at offset Off of a segment.
type Chunk struct {
	Off  uint64
	Data []byte
}

// Core is everything one core file holds. Threads[0] is the thread the
// notes describe first (gdb's and pycore's current thread).
type Core struct {
	Process  Process
	Threads  []Thread
	Auxv     []byte
	Files    []File
	Segments []Segment
	// XSaveLayout is NT_X86_XSAVE_LAYOUT's contents ({type, size, offset,
	// flags} u32 records); nil: absent.
	XSaveLayout []byte
}

type note struct {
	name string
	typ  uint32
	desc []byte
}

func (c *Core) notes() ([]note, error) {
	if len(c.Threads) == 0 {
		return nil, errors.New("a core needs at least one thread")
	}
	var ns []note
	for i := range c.Threads {
		t := &c.Threads[i]
		ns = append(ns, note{"CORE", NTPrstatus, c.prstatus(t)})
		if i == 0 {
			// The kernel's order: the process-wide notes after the first
			// thread's NT_PRSTATUS.
			ns = append(ns, note{"CORE", NTPrpsinfo, c.prpsinfo()})
			if len(c.Auxv) > 0 {
				ns = append(ns, note{"CORE", NTAuxv, c.Auxv})
			}
			if len(c.Files) > 0 {
				d, err := fileNote(c.Files)
				if err != nil {
					return nil, err
				}
				ns = append(ns, note{"CORE", NTFile, d})
			}
		}
		if t.FPRegs != nil {
			ns = append(ns, note{"CORE", NTPrfpreg, t.FPRegs})
		}
		if t.XState != nil {
			ns = append(ns, note{"LINUX", NTX86XState, t.XState})
		}
	}
	if c.XSaveLayout != nil {
		ns = append(ns, note{"LINUX", NTX86XSaveLayout, c.XSaveLayout})
	}
	for _, n := range ns {
		if len(n.desc) > maxNoteDesc || (n.typ != NTFile && n.typ != NTAuxv && len(n.desc) > maxRegSet) {
			return nil, fmt.Errorf("note %#x of %d bytes: too large", n.typ, len(n.desc))
		}
	}
	return ns, nil
}

func (c *Core) prstatus(t *Thread) []byte {
	le := binary.LittleEndian
	d := make([]byte, prstatusSize)
	le.PutUint32(d[0:], uint32(t.Signal)) // pr_info.si_signo
	le.PutUint16(d[12:], uint16(t.Signal))
	le.PutUint64(d[16:], t.SigPend)
	le.PutUint64(d[24:], t.SigHold)
	le.PutUint32(d[32:], uint32(t.TID))
	le.PutUint32(d[36:], uint32(c.Process.PPID))
	le.PutUint32(d[40:], uint32(c.Process.PGRP))
	le.PutUint32(d[44:], uint32(c.Process.SID))
	for i, tv := range []Timeval{t.UTime, t.STime} {
		le.PutUint64(d[48+16*i:], uint64(tv.Sec))
		le.PutUint64(d[56+16*i:], uint64(tv.Usec))
	}
	for i, r := range t.Regs {
		le.PutUint64(d[112+8*i:], r)
	}
	if t.FPRegs != nil {
		le.PutUint32(d[112+8*numRegs:], 1) // pr_fpvalid
	}
	return d
}

func (c *Core) prpsinfo() []byte {
	le := binary.LittleEndian
	p := &c.Process
	d := make([]byte, prpsinfoSize)
	// pr_state is the index of the state in "RSDTZW", as the kernel
	// writes it; pr_sname the letter.
	state := 0
	for i, s := range []byte("RSDTZW") {
		if p.State == s {
			state = i
		}
	}
	d[0] = byte(state)
	d[1] = p.State
	if p.State == 'Z' {
		d[2] = 1
	}
	d[3] = byte(p.Nice)
	le.PutUint64(d[8:], p.Flag)
	le.PutUint32(d[16:], p.UID)
	le.PutUint32(d[20:], p.GID)
	le.PutUint32(d[24:], uint32(p.PID))
	le.PutUint32(d[28:], uint32(p.PPID))
	le.PutUint32(d[32:], uint32(p.PGRP))
	le.PutUint32(d[36:], uint32(p.SID))
	copy(d[40:40+15], p.Fname)
	copy(d[56:56+79], p.Args)
	return d
}

// fileNote encodes NT_FILE: count, page size, {start, end, offset in
// pages} per entry, then the NUL-terminated paths.
func fileNote(files []File) ([]byte, error) {
	le := binary.LittleEndian
	size := 16 + 24*len(files)
	for _, f := range files {
		size += len(f.Path) + 1
	}
	if size > maxNoteDesc {
		return nil, fmt.Errorf("NT_FILE for %d mapped files would be %d bytes: too large", len(files), size)
	}
	d := make([]byte, 16+24*len(files), size)
	le.PutUint64(d[0:], uint64(len(files)))
	le.PutUint64(d[8:], PageSize)
	for i, f := range files {
		if f.End < f.Start || f.Offset%PageSize != 0 {
			return nil, fmt.Errorf("file mapping %#x-%#x of %s at offset %#x: not a page-aligned range", f.Start, f.End, f.Path, f.Offset)
		}
		e := d[16+24*i:]
		le.PutUint64(e[0:], f.Start)
		le.PutUint64(e[8:], f.End)
		le.PutUint64(e[16:], f.Offset/PageSize)
	}
	for _, f := range files {
		d = append(d, f.Path...)
		d = append(d, 0)
	}
	return d, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

func encodeNotes(ns []note) []byte {
	le := binary.LittleEndian
	var out []byte
	for _, n := range ns {
		hdr := make([]byte, 12, 12+align4(len(n.name)+1))
		le.PutUint32(hdr[0:], uint32(len(n.name)+1))
		le.PutUint32(hdr[4:], uint32(len(n.desc)))
		le.PutUint32(hdr[8:], n.typ)
		hdr = append(hdr, n.name...)
		hdr = append(hdr, make([]byte, align4(len(n.name)+1)-len(n.name))...)
		out = append(out, hdr...)
		out = append(out, n.desc...)
		out = append(out, make([]byte, align4(len(n.desc))-len(n.desc))...)
	}
	return out
}

// Layout is where each part of the core lies in the file.
type Layout struct {
	headers   []byte // ELF header, program headers, section header 0 (PN_XNUM)
	notes     []byte
	notesOff  uint64
	segOffs   []uint64
	Size      uint64 // the file's total size
	DataBytes uint64 // bytes of memory in the file
}

// Plan computes the file layout: headers, then the notes, then each
// segment's data at a page-aligned offset.
func (c *Core) Plan() (*Layout, error) {
	ns, err := c.notes()
	if err != nil {
		return nil, err
	}
	l := &Layout{notes: encodeNotes(ns)}
	nph := uint64(len(c.Segments)) + 1
	if nph > 1<<32-1 {
		return nil, fmt.Errorf("%d segments: too many for one core", len(c.Segments))
	}
	hdrLen := uint64(ehdrSize) + nph*phdrSize
	xnum := nph >= pnXNum
	if xnum {
		hdrLen += shdrSize
	}
	l.notesOff = hdrLen
	off := alignUp(hdrLen+uint64(len(l.notes)), PageSize)
	l.segOffs = make([]uint64, len(c.Segments))
	for i, s := range c.Segments {
		if s.Filesz > s.Memsz {
			return nil, fmt.Errorf("segment at %#x: %d bytes in the file for %d bytes of memory", s.Vaddr, s.Filesz, s.Memsz)
		}
		end := uint64(0)
		for _, ch := range s.Chunks {
			if ch.Off < end || ch.Off > s.Filesz || uint64(len(ch.Data)) > s.Filesz-ch.Off {
				return nil, fmt.Errorf("segment at %#x: chunk at offset %#x of %d bytes overlaps another or ends past its %d bytes", s.Vaddr, ch.Off, len(ch.Data), s.Filesz)
			}
			end = ch.Off + uint64(len(ch.Data))
			l.DataBytes += uint64(len(ch.Data))
		}
		l.segOffs[i] = off
		off += alignUp(s.Filesz, PageSize)
	}
	l.Size = off

	le := binary.LittleEndian
	h := make([]byte, hdrLen)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1 // ELFCLASS64, little-endian, EV_CURRENT
	le.PutUint16(h[16:], 4)    // ET_CORE
	le.PutUint16(h[18:], 62)   // EM_X86_64
	le.PutUint32(h[20:], 1)
	le.PutUint64(h[32:], ehdrSize) // e_phoff
	le.PutUint16(h[52:], ehdrSize)
	le.PutUint16(h[54:], phdrSize)
	if xnum {
		// More program headers than e_phnum holds: the count goes into
		// section header 0's sh_info, as the kernel does.
		shoff := uint64(ehdrSize) + nph*phdrSize
		le.PutUint64(h[40:], shoff)
		le.PutUint16(h[56:], pnXNum)
		le.PutUint16(h[58:], shdrSize)
		le.PutUint16(h[60:], 1)
		le.PutUint32(h[shoff+44:], uint32(nph))
	} else {
		le.PutUint16(h[56:], uint16(nph))
	}
	ph := h[ehdrSize:]
	le.PutUint32(ph[0:], 4) // PT_NOTE
	le.PutUint64(ph[8:], l.notesOff)
	le.PutUint64(ph[32:], uint64(len(l.notes)))
	le.PutUint64(ph[48:], 4)
	for i, s := range c.Segments {
		p := ph[phdrSize*(i+1):]
		le.PutUint32(p[0:], 1) // PT_LOAD
		le.PutUint32(p[4:], s.Flags)
		le.PutUint64(p[8:], l.segOffs[i])
		le.PutUint64(p[16:], s.Vaddr)
		le.PutUint64(p[32:], s.Filesz)
		le.PutUint64(p[40:], s.Memsz)
		le.PutUint64(p[48:], PageSize)
	}
	l.headers = h
	return l, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }

// Write writes the core laid out by l (from c.Plan) to w, in file order.
// Bytes no chunk holds, and zero pages inside chunks, are left as holes
// through w's Skip when w has one (a sparse file), else written as zeros.
func (c *Core) Write(w io.Writer, l *Layout) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	pos := uint64(0)
	put := func(b []byte) error {
		_, err := bw.Write(b)
		pos += uint64(len(b))
		return err
	}
	sk, sparse := w.(Skipper)
	zero := make([]byte, PageSize)
	// skipTo leaves zeros up to file offset to: a hole where it can.
	skipTo := func(to uint64) error {
		if sparse && to > pos {
			if err := bw.Flush(); err != nil {
				return err
			}
			if err := sk.Skip(int64(to - pos)); err != nil {
				return err
			}
			pos = to
		}
		for pos < to {
			if err := put(zero[:min(uint64(len(zero)), to-pos)]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := put(l.headers); err != nil {
		return err
	}
	if err := put(l.notes); err != nil {
		return err
	}
	for i, s := range c.Segments {
		base := l.segOffs[i]
		if err := skipTo(base); err != nil {
			return err
		}
		for _, ch := range s.Chunks {
			if err := skipTo(base + ch.Off); err != nil {
				return err
			}
			for d := ch.Data; len(d) > 0; {
				n := min(len(d), PageSize)
				if sparse && n == PageSize && allZero(d[:n]) {
					k := n
					for k+PageSize <= len(d) && allZero(d[k:k+PageSize]) {
						k += PageSize
					}
					if err := skipTo(pos + uint64(k)); err != nil {
						return err
					}
					d = d[k:]
					continue
				}
				if err := put(d[:n]); err != nil {
					return err
				}
				d = d[n:]
			}
		}
	}
	// The file ends with the last segment's padding: a writer with holes
	// must be truncated to l.Size by its owner (Skip past the end writes
	// nothing).
	if !sparse {
		if err := skipTo(l.Size); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Skipper is a writer that can leave a hole of n zero bytes (a sparse file).
type Skipper interface {
	Skip(n int64) error
}

// zeroPage is compared against: bytes.Equal is vectorised, a byte loop is not.
var zeroPage [PageSize]byte

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), PageSize)
		if !bytes.Equal(b[:n], zeroPage[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
