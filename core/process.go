package core

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/pycore/pycore/internal/ptrace"
)

// Options says where to find the files the process had mapped.
type Options struct {
	Sysroot    string   // look for recorded paths under this directory first
	LibPaths   []string // then look in these directories by basename
	Executable string   // a file given by the user: matched to a mapping by build ID (or basename)
}

// Process is the image of a process read from a core file (or a bundle).
type Process struct {
	Path      string // the file opened
	ByteOrder binary.ByteOrder
	PtrSize   int
	Machine   string // "x86_64"

	Mappings []*Mapping // sorted by Start, non-overlapping
	Objects  []*Object  // mapped ELF files, in order of lowest address
	Threads  []*Thread  // from NT_PRSTATUS; Threads[0] is the thread that dumped
	Signal   *SignalInfo
	PsInfo   *PsInfo
	Auxv     []AuxvEntry
	Live     *Live // set when read from a running process (OpenPID)

	// Warnings are problems that did not stop the open, e.g. a file whose
	// build ID does not match the core's.
	Warnings []Warning
	// Truncated is set when the core file is shorter than its headers say:
	// a core cut short by ulimit -c, a full disk or systemd-coredump's limits.
	Truncated *Truncation

	core     []byte      // the ELF core image (mapped; a slice of maps[i])
	maps     [][]byte    // every region we mapped, released by Close
	bundle   *bundleInfo // set when opened from a bundle
	closed   atomic.Bool
	reads    atomic.Uint64 // ReadAt calls, for trim
	nextTrim atomic.Uint64 // the read count at which to trim next (0: trimEvery)
	exeUsed  bool          // whether Options.Executable backed some object
	// liveFiles maps a live process's recorded paths to where it sees the
	// file (/proc/PID/map_files/...), tried first: deleted, replaced and
	// other-namespace files still match.
	liveFiles map[string]string
	// direct, for a live process opened with LiveOptions.Direct, reads
	// memory from the running process on every ReadAt.
	direct *liveMemory
	// writable: opened with LiveOptions.Direct, the only way WriteLive may
	// write (pycore exec); every other live read is read-only.
	writable bool
	// held keeps a live process stopped while it is read (Resume).
	held *ptrace.Held
}

// Warning is a problem that did not stop the open: its kind, for code that
// acts on it, and the text shown to the user.
type Warning struct {
	Kind WarningKind
	Text string
	// File is the local file it is about (WarnBuildID, WarnExecutable), ""
	// for the other kinds.
	File string
}

// String is the warning's text.
func (w Warning) String() string { return w.Text }

// WarningKind says what a Warning is about.
type WarningKind int

// The kinds of warnings.
const (
	// WarnDamaged: the core's own structure is damaged (segments, notes).
	WarnDamaged WarningKind = iota
	// WarnTruncated: the core file is cut short (Process.Truncated says
	// how much).
	WarnTruncated
	WarnNoThreads  // the core has no NT_PRSTATUS notes
	WarnNoFiles    // the core has no NT_FILE note: mapped files are unknown
	WarnStream     // a compressed core's stream breaks: the rest is missing
	WarnBundle     // a bundle is cut short: members lost or unusable
	WarnBuildID    // a local file's build ID does not match the core's
	WarnExecutable // the executable given matches no file the core maps
	WarnLive       // a live process was let run before pycore was done
)

// WarningTexts is every warning's text, in order (the notes a command
// prints).
func (p *Process) WarningTexts() []string {
	out := make([]string, len(p.Warnings))
	for i, w := range p.Warnings {
		out[i] = w.Text
	}
	return out
}

// Truncation says how much of a cut-short core file is there.
type Truncation struct {
	Size, Want uint64 // bytes the file has, bytes its segments need
	// Cut and Dumped count the memory segments (PT_LOAD with bytes in the
	// file) that extend past the end, and all of them.
	Cut, Dumped int
	Threads     int // threads whose registers are still there
}

// String says it once, with what to check.
func (t *Truncation) String() string {
	return fmt.Sprintf("core file truncated: %s present (check ulimit -c, disk space, systemd-coredump's limits)", t.sizes())
}

func (t *Truncation) sizes() string {
	// Rounded down, so a core one byte short does not read "31.3 of 31.3".
	mb := func(n uint64) string { return fmt.Sprintf("%d.%d MB", n/1e6, n%1e6/1e5) }
	switch {
	case t.Want < 1e6:
		return fmt.Sprintf("%d of %d bytes", t.Size, t.Want)
	case t.Size < 1e6:
		return fmt.Sprintf("%d bytes of %s", t.Size, mb(t.Want))
	}
	return fmt.Sprintf("%s of %s", mb(t.Size)[:len(mb(t.Size))-3], mb(t.Want))
}

// Left says what can still be read.
func (t *Truncation) Left() string {
	return fmt.Sprintf("still readable: the registers of %d thread(s) and %d of %d dumped memory segments (pycore maps, sym, eval and rd read them)",
		t.Threads, t.Dumped-t.Cut, t.Dumped)
}

// Perm is a mapping's protection.
type Perm uint8

const (
	PermRead Perm = 1 << iota
	PermWrite
	PermExec
)

// Source tells where a mapping's bytes come from.
type Source int

const (
	FromCore Source = iota // every byte is in the core
	FromFile               // bytes come from the mapped file (not dumped)
	FromBoth               // partly dumped, the rest from the file
	Missing                // not dumped and no file backs it (filtered)
)

// Mapping is one contiguous range of the process's address space.
type Mapping struct {
	Start, End Address
	Perm       Perm
	Path       string  // file as recorded in NT_FILE; "" if anonymous
	FileOffset uint64  // offset in Path of Start
	CoreSize   uint64  // bytes of the mapping present in the core, from Start (p_filesz)
	Object     *Object // the ELF object this mapping belongs to, if any

	coreOff   uint64 // offset in the core image of Start (valid for CoreSize bytes)
	file      []byte // contents of the backing file, nil if none is usable
	noFileWhy string // why file is nil, for ReadError reasons
	permKnown bool   // Perm came from a PT_LOAD (else guessed)
}

// FileStatus is the outcome of looking for a mapped file on this machine.
type FileStatus int

const (
	FileFound    FileStatus = iota // found, build ID matches (or the core had none to check)
	FileMissing                    // not found anywhere
	FileMismatch                   // found, but the build ID differs; not used
)

// Object is an ELF file the process had mapped (executable, shared library, loader).
type Object struct {
	Path      string  // as recorded in the core
	LocalPath string  // the file used on this machine ("" if none)
	Base      Address // start of the mapping with file offset 0
	End       Address // end of the highest mapping of this file
	BuildID   []byte  // as read from the core's copy of the first page (nil if not dumped)
	Status    FileStatus
	StatusMsg string // why Missing or Mismatch, naming the paths tried
	Data      []byte // the file's contents (memory-mapped), nil unless Status == FileFound
}

// Thread is one thread of the process from its NT_PRSTATUS note.
type Thread struct {
	TID    int
	Signal int       // pr_cursig
	Regs   Registers // general registers
}

// Registers holds x86-64 general registers (user_regs_struct). Other
// architectures will add their own register sets here.
type Registers struct {
	R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8    uint64
	RAX, RCX, RDX, RSI, RDI, OrigRAX, RIP, CS, EFlags uint64
	RSP, SS, FSBase, GSBase, DS, ES, FS, GS           uint64
}

// SignalInfo is the NT_SIGINFO note: the signal that caused the dump.
type SignalInfo struct {
	Signo int
	Code  int
	Errno int
	Addr  Address // fault address for SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP raised by the kernel (Code > 0)

	// For signals sent by a process (Code <= 0: kill, tgkill, abort, sigqueue).
	SenderPID int
	SenderUID int

	// NoSiginfo: the core has no NT_SIGINFO; Signo is NT_PRSTATUS's
	// pr_cursig and nothing else is known.
	NoSiginfo bool
}

// PsInfo is the NT_PRPSINFO note.
type PsInfo struct {
	PID, PPID int
	UID, GID  int
	State     byte
	Fname     string // up to 16 bytes
	Args      string // up to 80 bytes
}

// AuxvEntry is one entry of the auxiliary vector (NT_AUXV).
type AuxvEntry struct{ Tag, Val uint64 }

// Reader returns a typed reader over the process's memory.
func (p *Process) Reader() Reader { return Reader{Mem: p, Order: p.ByteOrder, PtrSize: p.PtrSize} }
