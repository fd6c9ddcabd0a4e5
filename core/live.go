package core

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pycore/pycore/internal/ptrace"
)

// Live describes a process image read from a running process (OpenPID).
type Live struct {
	PID         int
	NonBlocking bool          // read without stopping: the image may be torn
	Paused      time.Duration // how long the process was stopped (0 with NonBlocking), once resumed
}

// Resume lets a process stopped by OpenPID run on, and records how long it
// was stopped. Reads made afterwards still work but see the process moving.
// A core, or a process read with NonBlocking, has nothing to resume.
func (p *Process) Resume() {
	if p.held == nil || p.Live == nil {
		return
	}
	p.Live.Paused, _ = p.held.Release()
	if p.direct != nil {
		p.direct.dropCache()
	}
	if p.held.Expired() {
		p.warnf(WarnLive, "the process was stopped for the longest pycore allows (%v) and then let run: reads after that may be torn", maxLiveHold)
	}
	p.held = nil
}

// Stopped reports whether p is a live process still stopped for the read:
// until Resume, whatever is written out keeps it stopped while it waits.
func (p *Process) Stopped() bool { return p.held != nil }

// PausedSoFar is how long a live process has been stopped: the whole pause
// once resumed, the time since it was stopped before that.
func (p *Process) PausedSoFar() time.Duration {
	if p.held != nil {
		return p.held.Elapsed()
	}
	if p.Live != nil {
		return p.Live.Paused
	}
	return 0
}

// LiveOptions say how to read a running process.
type LiveOptions struct {
	// NonBlocking reads memory while the process runs, as py-spy does; the
	// default stops every thread for the read, then resumes them.
	NonBlocking bool
	// Direct (with NonBlocking) opens the process for WriteLive too (pycore
	// exec): every read and write goes to the running process as it is now.
	Direct bool
	// Copy (without NonBlocking) copies the memory a core would hold while
	// the process is stopped and resumes it before OpenPID returns: an image
	// that stays consistent however long it is read (the shell). By default
	// a stopped process is read in place and stays stopped until Resume.
	Copy bool
}

// Limits on what a live process may make us read.
const (
	// maxLiveHold bounds how long a process stays stopped for one command:
	// past it the process runs on and later reads may see it move.
	maxLiveHold  = 10 * time.Second
	maxLiveMaps  = 1 << 20 // lines of /proc/PID/maps
	liveChunk    = 1 << 20 // bytes per process_vm_readv call
	livePageSize = 4096
)

// OpenPID reads the image of running process pid: its mappings, the memory
// a core would hold (private writable and anonymous memory, the first page
// of each mapped file, [vdso]), its threads and their registers. Unless
// live.NonBlocking, every thread is stopped for the read and resumed before
// OpenPID returns, whatever happens. Mapped files are read from where the
// process sees them (/proc/PID/map_files, /proc/PID/root), their build IDs
// checked against the copied first pages as for a core.
func OpenPID(pid int, opts Options, live LiveOptions) (*Process, error) {
	p := &Process{Path: fmt.Sprintf("pid %d", pid), ByteOrder: binary.LittleEndian, PtrSize: 8, Machine: "x86_64",
		Live: &Live{PID: pid, NonBlocking: live.NonBlocking}}
	if err := p.openLive(pid, opts, live); err != nil {
		p.release()
		return nil, fmt.Errorf("pid %d: %w", pid, err)
	}
	return p, nil
}

// procStatus is what pycore needs from /proc/PID/status.
type procStatus struct {
	name      string
	tgid      int
	ppid      int
	uid, gid  int
	tracerPID int
	state     byte
}

func readProcStatus(pid int) (*procStatus, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	st := &procStatus{uid: -1, gid: -1}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		first := v
		if f := strings.Fields(v); len(f) > 0 {
			first = f[0]
		}
		n, _ := strconv.Atoi(first)
		switch k {
		case "Name":
			st.name = v
		case "Tgid":
			st.tgid = n
		case "PPid":
			st.ppid = n
		case "Uid":
			st.uid = n
		case "Gid":
			st.gid = n
		case "TracerPid":
			st.tracerPID = n
		case "State":
			if len(v) > 0 {
				st.state = v[0]
			}
		}
	}
	return st, nil
}

// checkLiveTarget says, in one line, why process pid cannot be read (no
// such process, a thread, a zombie, permission, already traced unless
// nonBlocking), or returns its status.
func checkLiveTarget(pid int, nonBlocking bool) (*procStatus, error) {
	if pid <= 0 {
		return nil, errors.New("not a process id: want a positive PID")
	}
	if pid == os.Getpid() {
		return nil, errors.New("that is pycore itself")
	}
	st, err := readProcStatus(pid)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("no such process")
		}
		return nil, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	if st.tgid != 0 && st.tgid != pid {
		return nil, fmt.Errorf("%d is a thread of process %d: give the process's PID", pid, st.tgid)
	}
	if st.state == 'Z' || st.state == 'X' {
		return nil, fmt.Errorf("process %d (%s) has exited (a zombie): nothing left to read", pid, st.name)
	}
	if _, err := readProcMaps(pid); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, permissionError(pid, st)
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("no such process (it exited)")
		}
		return nil, err
	}
	if !nonBlocking && st.tracerPID != 0 {
		return nil, fmt.Errorf("process %d is already traced by process %d (%s): detach that debugger first (quit gdb, strace, ...), or read without stopping with --nonblocking",
			pid, st.tracerPID, procName(st.tracerPID))
	}
	return st, nil
}

func (p *Process) openLive(pid int, opts Options, live LiveOptions) error {
	st, err := checkLiveTarget(pid, live.NonBlocking)
	if err != nil {
		return err
	}
	p.PsInfo = &PsInfo{PID: pid, PPID: st.ppid, UID: st.uid, GID: st.gid, State: st.state, Fname: st.name}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		p.PsInfo.Args = strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid)); err == nil {
		if av, err := parseAuxv(data); err == nil {
			p.Auxv = av
		}
	}

	mem := newLiveMemory(pid)
	if live.Direct && !live.NonBlocking {
		mem.close()
		return errors.New("a direct read of a process does not stop it: ask for NonBlocking too")
	}
	// A process is read in place: a stopped one while it stays stopped
	// (Resume), a running one (NonBlocking) as it runs, as py-spy reads it;
	// copying would cost a pause, or a read of every page, as long as the
	// process is large. Copy copies instead.
	if live.Direct || !live.Copy {
		p.direct = mem
		p.writable = live.Direct
	} else {
		defer mem.close()
	}
	var loads []loadSeg
	var files []fileRange
	if live.NonBlocking {
		loads, files, err = p.copyLive(pid, mem, nil, live.Direct || !live.Copy)
		if err != nil {
			return err
		}
		tids, err := ptrace.ListTasks(pid)
		if err != nil {
			return liveGone(pid, err)
		}
		for _, tid := range tids {
			p.Threads = append(p.Threads, &Thread{TID: tid})
		}
	} else if live.Copy {
		p.Live.Paused, err = ptrace.WhileStopped(pid, func(s ptrace.Stopped) error {
			for _, t := range s.Threads {
				p.Threads = append(p.Threads, &Thread{TID: t.TID, Regs: regsFromPtrace(&t.Regs)})
			}
			loads, files, err = p.copyLive(pid, mem, s.Interrupted, false)
			return err
		})
		if err != nil {
			return stopFailure(pid, st, err, ", or read without stopping with --nonblocking")
		}
	} else {
		held, err := ptrace.Hold(pid, maxLiveHold)
		if err != nil {
			return stopFailure(pid, st, err, ", or read without stopping with --nonblocking")
		}
		p.held = held
		for _, t := range held.Threads {
			p.Threads = append(p.Threads, &Thread{TID: t.TID, Regs: regsFromPtrace(&t.Regs)})
		}
		// Only the mapped files' first pages (their build IDs) are copied;
		// every other read goes to the stopped process.
		if loads, files, err = p.copyLive(pid, mem, nil, true); err != nil {
			return err
		}
	}
	p.Mappings, _ = buildMappings(loads, files)
	if opts.Sysroot == "" {
		opts.Sysroot = fmt.Sprintf("/proc/%d/root", pid)
	}
	return p.resolveObjects(opts)
}

// stopFailure says in words why stopping pid failed: another tracer came
// first (hint says what else to do), permission, or the process exited.
func stopFailure(pid int, st *procStatus, err error, hint string) error {
	var se *ptrace.SeizeError
	switch {
	case errors.As(err, &se) && se.Errno == unix.EPERM:
		if st2, err2 := readProcStatus(pid); err2 == nil && st2.tracerPID != 0 {
			return fmt.Errorf("process %d is already traced by process %d (%s): detach that debugger first%s",
				pid, st2.tracerPID, procName(st2.tracerPID), hint)
		}
		return permissionError(pid, st)
	case errors.Is(err, ptrace.ErrExited):
		return errors.New("the process exited during the read")
	}
	return err
}

func liveGone(pid int, err error) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return errors.New("the process exited during the read")
	}
	return err
}

// procName is the command name of pid, or "?".
func procName(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(data))
}

// permissionError says which of the kernel's checks refuses access to pid.
func permissionError(pid int, st *procStatus) error {
	me := os.Geteuid()
	hasCap := hasCapSysPtrace()
	if st.uid >= 0 && st.uid != me && !hasCap {
		return fmt.Errorf("permission denied: process %d belongs to uid %d and pycore runs as uid %d without CAP_SYS_PTRACE: run pycore as that user or as root (in a container: --cap-add=SYS_PTRACE)",
			pid, st.uid, me)
	}
	if scope, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil {
		s := strings.TrimSpace(string(scope))
		switch {
		case s == "3":
			return fmt.Errorf("permission denied: kernel.yama.ptrace_scope is 3 (no process may be traced until reboot)")
		case s == "2" && !hasCap:
			return fmt.Errorf("permission denied: kernel.yama.ptrace_scope is 2 (only with CAP_SYS_PTRACE): run pycore as root, or set it to 1 or 0 with sysctl")
		case s == "1" && !hasCap:
			return fmt.Errorf("permission denied: kernel.yama.ptrace_scope is 1 (only descendants may be traced): run pycore as root or with CAP_SYS_PTRACE, or `sysctl kernel.yama.ptrace_scope=0`")
		}
	}
	if !hasCap {
		return fmt.Errorf("permission denied reading process %d: pycore lacks CAP_SYS_PTRACE (in a container: --cap-add=SYS_PTRACE)", pid)
	}
	return fmt.Errorf("permission denied reading process %d (it may have made itself non-dumpable, or a security module such as SELinux or AppArmor forbids it)", pid)
}

// hasCapSysPtrace reports whether pycore's effective capabilities include
// CAP_SYS_PTRACE (bit 19).
func hasCapSysPtrace() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<19) != 0
		}
	}
	return false
}

// procMap is one line of /proc/PID/maps.
type procMap struct {
	start, end Address
	perm       Perm
	shared     bool
	offset     uint64
	inode      uint64
	path       string
}

func readProcMaps(pid int) ([]procMap, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []procMap
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(out) >= maxLiveMaps {
			return nil, fmt.Errorf("/proc/%d/maps: more than %d mappings", pid, maxLiveMaps)
		}
		m, ok := parseMapsLine(sc.Text())
		if ok {
			out = append(out, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/proc/%d/maps: %w", pid, err)
	}
	if len(out) == 0 {
		// Reading maps of a process we may not trace gives nothing, not EACCES.
		return nil, os.ErrPermission
	}
	return out, nil
}

// parseMapsLine parses "start-end perms offset dev inode   path".
func parseMapsLine(line string) (procMap, bool) {
	var m procMap
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return m, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return m, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	off, err3 := strconv.ParseUint(fields[2], 16, 64)
	ino, err4 := strconv.ParseUint(fields[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || e <= s || len(fields[1]) < 4 {
		return m, false
	}
	m.start, m.end, m.offset, m.inode = Address(s), Address(e), off, ino
	perms := fields[1]
	if perms[0] == 'r' {
		m.perm |= PermRead
	}
	if perms[1] == 'w' {
		m.perm |= PermWrite
	}
	if perms[2] == 'x' {
		m.perm |= PermExec
	}
	m.shared = perms[3] == 's'
	if len(fields) > 5 {
		// The path is the rest of the line after the inode, spaces and all.
		idx := 0
		for i := 0; i < 5; i++ {
			j := strings.Index(line[idx:], fields[i])
			idx += j + len(fields[i])
		}
		m.path = strings.TrimLeft(line[idx:], " ")
	}
	return m, true
}

// MapsPython reports whether a python executable or libpython is mapped:
// how CPython's own remote reader recognises a Python process.
func (p *Process) MapsPython() bool {
	for _, m := range p.Mappings {
		if m.Path != "" && strings.Contains(filepath.Base(m.Path), "python") {
			return true
		}
	}
	return false
}

// fileBacked reports whether m maps a file (not [heap], [stack], anonymous).
func (m *procMap) fileBacked() bool { return m.inode != 0 && strings.HasPrefix(m.path, "/") }

// dumpSize is how many bytes from the start of m a core would hold, as the
// kernel's default coredump_filter decides: all of anonymous and private
// writable memory, the first page of a file mapped at offset 0 (build IDs),
// nothing of file-backed read-only text or of shared file mappings. With
// firstPages (a direct read), only those first pages.
func (m *procMap) dumpSize(firstPages bool) uint64 {
	switch {
	case firstPages && (m.perm&PermRead == 0 || !m.fileBacked() || m.shared || m.offset != 0):
		return 0
	case firstPages:
		return min(livePageSize, uint64(m.end-m.start))
	case m.perm&PermRead == 0:
		return 0
	case m.path == "[vvar]" || m.path == "[vvar_vclock]" || m.path == "[vsyscall]":
		return 0 // kernel pages the process cannot usefully show; reading vvar may fail
	case !m.fileBacked():
		return uint64(m.end - m.start)
	case m.shared:
		return 0
	case m.perm&PermWrite != 0:
		return uint64(m.end - m.start)
	case m.offset == 0:
		return min(livePageSize, uint64(m.end-m.start))
	}
	return 0
}

// copyLive reads /proc/PID/maps and copies the memory a core would hold into
// an anonymous mapping that becomes p.core, returning the segments and file
// ranges the core's notes would have described. Pages that cannot be read
// (guard pages inside a mapping, a mapping gone in a running process) are
// left out, so reads there fail instead of returning zeros.
func (p *Process) copyLive(pid int, mem *liveMemory, interrupted interface{ Load() bool }, firstPages bool) ([]loadSeg, []fileRange, error) {
	maps, err := readProcMaps(pid)
	if err != nil {
		return nil, nil, liveGone(pid, err)
	}
	total := uint64(0)
	for i := range maps {
		total += maps[i].dumpSize(firstPages)
	}
	var buf []byte
	if total > 0 {
		if int64(total) < 0 || uint64(int(total)) != total {
			return nil, nil, fmt.Errorf("%d bytes of memory to copy: too many", total)
		}
		buf, err = unix.Mmap(-1, 0, int(total), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			return nil, nil, fmt.Errorf("allocate %d bytes for the process's memory: %w", total, err)
		}
		p.maps = append(p.maps, buf)
		p.core = buf
	}
	p.liveFiles = map[string]string{}
	var loads []loadSeg
	var files []fileRange
	off := uint64(0)
	for i := range maps {
		m := &maps[i]
		if interrupted != nil && interrupted.Load() {
			return nil, nil, errors.New("interrupted")
		}
		if m.fileBacked() {
			files = append(files, fileRange{Start: m.start, End: m.end, Offset: m.offset, Path: m.path})
			if _, ok := p.liveFiles[m.path]; !ok && m.offset == 0 {
				p.liveFiles[m.path] = fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, uint64(m.start), uint64(m.end))
			}
		}
		n := m.dumpSize(firstPages)
		a := m.start
		// Runs of readable pages become dumped segments, unreadable runs
		// segments with nothing dumped.
		for done := uint64(0); done < n; {
			want := min(n-done, liveChunk)
			dst := buf[off : off+want]
			got := mem.read(dst, a)
			if got > 0 {
				loads = append(loads, loadSeg{Start: a, End: a + Address(got), Off: off, Filesz: got, Perm: m.perm})
				off += got
				done += got
				a += Address(got)
				continue
			}
			// Skip one unreadable page.
			skip := min(uint64(livePageSize)-uint64(a)%livePageSize, n-done)
			loads = append(loads, loadSeg{Start: a, End: a + Address(skip), Perm: m.perm})
			off += skip
			done += skip
			a += Address(skip)
		}
		if a < m.end {
			loads = append(loads, loadSeg{Start: a, End: m.end, Perm: m.perm})
		}
	}
	return mergeLoads(loads), files, nil
}

// mergeLoads joins adjacent segments that continue each other in the buffer
// (chunks of one mapping), so a large heap is one segment, not hundreds.
func mergeLoads(loads []loadSeg) []loadSeg {
	out := loads[:0]
	for _, l := range loads {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			if prev.End == l.Start && prev.Perm == l.Perm && prev.Filesz == uint64(prev.End-prev.Start) && l.Filesz > 0 && prev.Off+prev.Filesz == l.Off {
				prev.End = l.End
				prev.Filesz += l.Filesz
				continue
			}
		}
		out = append(out, l)
	}
	return out
}

// liveMemory reads a running process: process_vm_readv, falling back to
// /proc/PID/mem where that fails as a whole (e.g. a kernel without it).
type liveMemory struct {
	pid      int
	mem      *os.File
	noVMRead bool
	mu       sync.Mutex // held by direct reads and writes (liveaccess.go)
	// cache holds whole pages read while the process is stopped (readCached).
	cache map[Address][]byte
	slab  []byte
}

func newLiveMemory(pid int) *liveMemory { return &liveMemory{pid: pid} }

func (l *liveMemory) close() {
	if l.mem != nil {
		l.mem.Close()
		l.mem = nil
	}
}

// read copies as much of dst as is readable from addr on; it returns the
// number of bytes read before the first unreadable page (0 if the first is).
func (l *liveMemory) read(dst []byte, addr Address) uint64 {
	if !l.noVMRead {
		local := []unix.Iovec{{Base: unsafe.SliceData(dst)}}
		local[0].SetLen(len(dst))
		remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(dst)}}
		n, err := unix.ProcessVMReadv(l.pid, local, remote, 0)
		if n > 0 {
			return uint64(n)
		}
		if err == unix.ENOSYS || err == unix.EPERM {
			l.noVMRead = true
		} else if err == unix.EFAULT || err == unix.ESRCH {
			return 0
		}
	}
	if l.mem == nil {
		f, err := os.Open(fmt.Sprintf("/proc/%d/mem", l.pid))
		if err != nil {
			return 0
		}
		l.mem = f
	}
	n, err := l.mem.ReadAt(dst, int64(addr))
	if n < 0 || (err != nil && n == 0) {
		return 0
	}
	var errno syscall.Errno
	_ = errors.As(err, &errno)
	return uint64(n)
}

// regsFromPtrace converts ptrace's user_regs_struct, which has the layout of
// NT_PRSTATUS's registers.
func regsFromPtrace(r *unix.PtraceRegs) Registers {
	return Registers{
		R15: r.R15, R14: r.R14, R13: r.R13, R12: r.R12, RBP: r.Rbp, RBX: r.Rbx, R11: r.R11, R10: r.R10,
		R9: r.R9, R8: r.R8, RAX: r.Rax, RCX: r.Rcx, RDX: r.Rdx, RSI: r.Rsi, RDI: r.Rdi, OrigRAX: r.Orig_rax,
		RIP: r.Rip, CS: r.Cs, EFlags: r.Eflags, RSP: r.Rsp, SS: r.Ss, FSBase: r.Fs_base, GSBase: r.Gs_base,
		DS: r.Ds, ES: r.Es, FS: r.Fs, GS: r.Gs,
	}
}

// glibc's struct pthread on x86_64: the thread control block's self
// pointer and the kernel thread id (libthread_db's _thread_db_pthread_tid
// describes the latter; checked on glibc 2.36). A glibc that moved them
// fails the checks below and leaves the thread without an LWP.
const (
	pthreadSelfOffset = 0x10
	pthreadTIDOffset  = 0x2d0
)

// ThreadOfPthread says which kernel thread the pthread_t addr (the address
// of glibc's struct pthread, what CPython before 3.11 records as a thread
// state's thread_id) belongs to, for a process read without stopping it: it
// has no registers, so no fs_base to match thread states by. The struct is
// believed only if its self pointer is addr and its tid is one of the
// process's threads (from /proc/PID/task).
func (p *Process) ThreadOfPthread(addr Address) (int, bool) {
	if p.Live == nil || !p.Live.NonBlocking || addr == 0 {
		return 0, false
	}
	var b [8]byte
	if _, err := p.ReadAt(b[:], addr+pthreadSelfOffset); err != nil || Address(binary.LittleEndian.Uint64(b[:])) != addr {
		return 0, false
	}
	if _, err := p.ReadAt(b[:4], addr+pthreadTIDOffset); err != nil {
		return 0, false
	}
	tid := int(int32(binary.LittleEndian.Uint32(b[:4])))
	for _, t := range p.Threads {
		if t.TID == tid && tid > 0 {
			return tid, true
		}
	}
	return 0, false
}
