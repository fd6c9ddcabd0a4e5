package core

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// Open reads a core file (plain, gzip, zstd, xz, lz4 or a pycore bundle,
// told apart by their first bytes) and finds the files it maps. Memory is
// mapped, not read: opening a 10 GiB core costs what its headers cost
// (compressed cores are first decompressed into an unlinked temporary file).
func Open(path string, opts Options) (*Process, error) {
	p := &Process{Path: path, ByteOrder: binary.LittleEndian, PtrSize: 8, Machine: "x86_64"}
	if err := p.open(path, opts); err != nil {
		p.release()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func (p *Process) open(path string, opts Options) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open core: %w", err)
	}
	defer f.Close()
	data, err := mmapFile(f)
	if err != nil {
		return err
	}
	if kind := compressionOf(data); kind != "" {
		if err := unix.Munmap(data); err != nil {
			return fmt.Errorf("unmap: %w", err)
		}
		var warning string
		data, warning, err = decompressFile(f, kind)
		if err != nil {
			return err
		}
		if warning != "" {
			p.Warnings = append(p.Warnings, Warning{Kind: WarnStream, Text: warning})
		}
	}
	p.maps = append(p.maps, data)
	if isBundle(data) {
		b, core, err := readBundle(data, path)
		if err != nil {
			return err
		}
		p.bundle = b
		p.Warnings = append(p.Warnings, b.warnings...)
		data = core
	}
	p.core = data
	return p.load(opts)
}

// load parses the core image in p.core: headers, notes, mappings, objects.
func (p *Process) load(opts Options) error {
	hdr, err := parseCoreHeader(p.core)
	if err != nil {
		return err
	}
	var loads []loadSeg
	var notes coreNotes
	cut, dumped := 0, 0
	want := uint64(0) // the file size the headers need
	noteBytes := uint64(0)
	coreSize := uint64(len(p.core))
	for i, ph := range hdr.progs {
		switch elf.ProgType(ph.Type) {
		case elf.PT_LOAD:
			l := loadSeg{Start: Address(ph.Vaddr), End: Address(ph.Vaddr + ph.Memsz), Off: ph.Off, Filesz: ph.Filesz, Perm: permFromFlags(elf.ProgFlag(ph.Flags))}
			if ph.Vaddr+ph.Memsz < ph.Vaddr {
				p.warnf(WarnDamaged, "segment %d at %s: size %#x runs past the end of the address space; ignored", i, l.Start, ph.Memsz)
				continue
			}
			if l.Filesz > ph.Memsz {
				l.Filesz = ph.Memsz
			}
			if l.Off+l.Filesz < l.Off {
				p.warnf(WarnDamaged, "segment %d at %s: file offset %#x plus size %#x overflows; treating it as not dumped", i, l.Start, l.Off, l.Filesz)
				l.Filesz = 0
			}
			if l.Filesz > 0 {
				dumped++
				if l.Off+l.Filesz > coreSize {
					cut++
				}
			}
			want = max(want, l.Off+l.Filesz)
			loads = append(loads, l)
		case elf.PT_NOTE:
			if ph.Off+ph.Filesz >= ph.Off {
				want = max(want, ph.Off+ph.Filesz)
			}
			// The truncation itself is said once, below.
			if ph.Off >= coreSize {
				p.warnf(WarnDamaged, "notes lost: note segment %d at file offset %#x is past the end of the file (%#x bytes)", i, ph.Off, coreSize)
				continue
			}
			end := ph.Off + ph.Filesz
			if end > coreSize || end < ph.Off {
				p.warnf(WarnDamaged, "notes cut short: note segment %d ends at file offset %#x, the file has %#x bytes", i, end, coreSize)
				end = coreSize
			}
			if noteBytes+(end-ph.Off) > maxCoreNoteBytes {
				p.warnf(WarnDamaged, "note segment %d: more than %d bytes of notes in all; ignored", i, maxCoreNoteBytes)
				continue
			}
			noteBytes += end - ph.Off
			notes.parse(p.core[ph.Off:end], ph.Off)
		}
	}
	if want > coreSize {
		p.Truncated = &Truncation{Size: coreSize, Want: want, Cut: cut, Dumped: dumped, Threads: len(notes.threads)}
		p.warnf(WarnTruncated, "%s; %d of %d dumped memory segments extend past its end: reads there fail", p.Truncated, cut, dumped)
	}
	for _, w := range notes.warnings {
		p.Warnings = append(p.Warnings, Warning{Kind: WarnDamaged, Text: w})
	}
	if len(notes.threads) == 0 {
		p.warnf(WarnNoThreads, "core has no NT_PRSTATUS notes: no threads or registers")
	}
	p.Threads = notes.threads
	p.PsInfo = notes.psinfo
	p.Auxv = notes.auxv
	p.Signal = notes.signal
	if p.Signal != nil && p.Signal.Signo == 0 {
		p.Signal = nil // gdb writes an empty siginfo for a process it stopped itself
	}
	if p.Signal == nil && len(p.Threads) > 0 && p.Threads[0].Signal != 0 {
		p.Signal = &SignalInfo{Signo: p.Threads[0].Signal, NoSiginfo: true}
	}
	if notes.files == nil {
		p.warnf(WarnNoFiles, "core has no NT_FILE note: mapped files unknown, only dumped memory is readable")
	}

	var w []string
	p.Mappings, w = buildMappings(loads, notes.files)
	for _, w := range w {
		p.Warnings = append(p.Warnings, Warning{Kind: WarnDamaged, Text: w})
	}
	return p.resolveObjects(opts)
}

func (p *Process) warnf(kind WarningKind, format string, args ...any) {
	p.Warnings = append(p.Warnings, Warning{Kind: kind, Text: fmt.Sprintf(format, args...)})
}

// Thread returns the thread with the given TID, or nil.
func (p *Process) Thread(tid int) *Thread {
	for _, t := range p.Threads {
		if t.TID == tid {
			return t
		}
	}
	return nil
}

// CoreImage returns the bytes of the ELF core itself (decompressed, or the
// core member of a bundle). Valid until Close.
func (p *Process) CoreImage() []byte { return p.core }

// Close releases the mapped files. It is safe to call more than once; no
// other method may be running or called afterwards.
func (p *Process) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	return p.release()
}

func (p *Process) release() error {
	p.Resume()
	var errs []error
	for _, m := range p.maps {
		if err := unix.Munmap(m); err != nil {
			errs = append(errs, fmt.Errorf("unmap: %w", err))
		}
	}
	p.maps = nil
	p.core = nil
	if p.direct != nil {
		p.direct.close()
	}
	for _, m := range p.Mappings {
		m.file = nil
		m.noFileWhy = "core is closed"
	}
	for _, o := range p.Objects {
		o.Data = nil
	}
	if p.bundle != nil {
		for i := range p.bundle.files {
			p.bundle.files[i].Data = nil
		}
	}
	return errors.Join(errs...)
}

// FileKind names a file type in words; FileMode's String prints only a
// letter and nine dashes for the permissions Type() dropped.
func FileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return m.Type().String()
}

// mmapFile maps a whole regular file read-only.
func mmapFile(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory, not a core (pycore report DIR reads every core in a directory)")
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", FileKind(st.Mode()))
	}
	if st.Size() == 0 {
		return nil, errors.New("empty file")
	}
	if int64(int(st.Size())) != st.Size() {
		return nil, fmt.Errorf("file of %d bytes is too large to map", st.Size())
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return data, nil
}

// mmapPath maps the regular file at path. Paths come from untrusted cores,
// so nothing else is even opened: opening a FIFO waits for a writer, and
// opening a device may act on it.
func mmapPath(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", FileKind(st.Mode()))
	}
	// Non-blocking, should the path turn into a FIFO after the check;
	// mmapFile checks the opened file again.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mmapFile(f)
}

// sortObjects orders objects by base address.
func sortObjects(objs []*Object) {
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].Base < objs[j].Base })
}
