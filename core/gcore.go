package core

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pycore/pycore/core/elfcore"
	"github.com/pycore/pycore/internal/ptrace"
)

// Dump is a core of a running process, copied while it was stopped (DumpPID).
// Its memory lives in an anonymous mapping until Close.
type Dump struct {
	Core   elfcore.Core
	Paused time.Duration // how long the process was stopped
	// Bytes of memory copied (pages that were never touched are left out:
	// they are holes in the file, zeros when read).
	Copied uint64
	// UnreadablePages are pages inside dumped mappings that could not be
	// read (written as zeros); GuardPages those the kernel reports as guard
	// regions (MADV_GUARD_INSTALL, e.g. glibc's thread-stack guards).
	UnreadablePages int
	GuardPages      int
	pool            pool
}

// Close releases the copied memory.
func (d *Dump) Close() error {
	d.Core.Segments = nil
	return d.pool.release()
}

// pool hands out memory for the copy from regions mapped, and faulted in,
// before the process is stopped: faulting pages in (and the kernel zeroing
// them) costs as much as the copy itself, and would otherwise lengthen the
// pause.
type pool struct {
	regions [][]byte
	free    []byte
}

// reserve maps and faults in n bytes (rounded up to pages).
func (p *pool) reserve(n uint64, populate bool) error {
	n = (n + livePageSize - 1) &^ (livePageSize - 1)
	if n == 0 {
		return nil
	}
	if int64(n) < 0 || uint64(int(n)) != n {
		return fmt.Errorf("%d bytes of memory to copy: too many", n)
	}
	flags := unix.MAP_PRIVATE | unix.MAP_ANONYMOUS
	if populate {
		flags |= unix.MAP_POPULATE
	} else {
		flags |= unix.MAP_NORESERVE
	}
	r, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, flags)
	if err != nil {
		return fmt.Errorf("allocate %d bytes for the process's memory: %w", n, err)
	}
	p.regions = append(p.regions, r)
	p.free = r
	return nil
}

// take returns n bytes of the pool, mapping more (not faulted in) when the
// process grew since the estimate.
func (p *pool) take(n uint64) ([]byte, error) {
	if uint64(len(p.free)) < n {
		if err := p.reserve(max(n, 64<<20), false); err != nil {
			return nil, err
		}
	}
	b := p.free[:n:n]
	p.free = p.free[n:]
	return b, nil
}

func (p *pool) release() error {
	var first error
	for _, r := range p.regions {
		if err := unix.Munmap(r); err != nil && first == nil {
			first = err
		}
	}
	p.regions, p.free = nil, nil
	return first
}

// Limits of a dump.
const (
	maxXState     = 64 << 10 // XSAVE area; AMX makes it about 11 KiB today
	pagemapChunk  = 1 << 16  // pagemap entries per read
	pmPresent     = 1 << 63
	pmSwapped     = 1 << 62
	pmFile        = 1 << 61 // a file page (or shared anonymous): not copied on write
	pmGuardRegion = 1 << 58 // PM_GUARD_REGION (Linux 6.15+)
)

// smapsMap is a /proc/PID/smaps entry: the maps line and what decides
// whether a core holds it.
type smapsMap struct {
	procMap
	rssKB   uint64
	anonKB  uint64 // Anonymous: private pages written (COW) or anonymous
	swapKB  uint64
	vmFlags []string
}

func (m *smapsMap) hasFlag(f string) bool {
	for _, v := range m.vmFlags {
		if v == f {
			return true
		}
	}
	return false
}

func readSmaps(pid int) ([]smapsMap, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []smapsMap
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		k, v, ok := strings.Cut(line, ":")
		if ok && !strings.Contains(k, " ") && !strings.Contains(k, "-") {
			if len(out) == 0 {
				continue
			}
			m := &out[len(out)-1]
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch k {
			case "Rss":
				m.rssKB = kb
			case "Anonymous":
				m.anonKB = kb
			case "Swap":
				m.swapKB = kb
			case "VmFlags":
				m.vmFlags = strings.Fields(v)
			}
			continue
		}
		if len(out) >= maxLiveMaps {
			return nil, fmt.Errorf("/proc/%d/smaps: more than %d mappings", pid, maxLiveMaps)
		}
		if pm, ok := parseMapsLine(line); ok {
			out = append(out, smapsMap{procMap: pm})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("/proc/%d/smaps: %w", pid, err)
	}
	if len(out) == 0 {
		return nil, os.ErrPermission
	}
	return out, nil
}

// stoppedMaps is the stopped process's mappings as copyMemory needs them,
// without reading /proc/PID/smaps while it is stopped: smaps walks every
// page table of the process to count its pages (6-18 ms of a 50-100 ms
// pause on a 180 MiB process), where /proc/PID/maps does not. Each mapping
// takes its VmFlags from pre, the smaps read before the stop; whether a
// private file mapping was written (smaps' Anonymous) is asked of the
// pagemap, page by page, now. A mapping that is not in pre (made since)
// makes it read smaps after all.
func stoppedMaps(pid int, pre []smapsMap, pagemap *os.File) ([]smapsMap, error) {
	maps, err := readProcMaps(pid)
	if err != nil || pagemap == nil {
		return readSmaps(pid)
	}
	type key struct {
		start, end Address
		offset     uint64
		inode      uint64
		perm       Perm
		shared     bool
	}
	byKey := make(map[key]*smapsMap, len(pre))
	for i := range pre {
		m := &pre[i]
		byKey[key{m.start, m.end, m.offset, m.inode, m.perm, m.shared}] = m
	}
	out := make([]smapsMap, 0, len(maps))
	for _, pm := range maps {
		p := byKey[key{pm.start, pm.end, pm.offset, pm.inode, pm.perm, pm.shared}]
		if p == nil || p.path != pm.path {
			return readSmaps(pid)
		}
		m := smapsMap{procMap: pm, vmFlags: p.vmFlags}
		if pm.fileBacked() && !pm.shared {
			written, ok := privateWritten(pagemap, pm.start, pm.end)
			if !ok {
				return readSmaps(pid)
			}
			if written {
				m.anonKB = livePageSize >> 10
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// privateWritten reports whether a page of the private file mapping
// [start, end) is anonymous now (written: copied on write) or swapped, as
// smaps' Anonymous and Swap would say; ok is false if the pagemap could not
// be read.
func privateWritten(pagemap *os.File, start, end Address) (written, ok bool) {
	var buf [8 * 512]byte
	for a := start; a < end; {
		n := min(uint64(end-a)/livePageSize, uint64(len(buf)/8))
		if n == 0 {
			break
		}
		got, err := pagemap.ReadAt(buf[:8*n], int64(uint64(a)/livePageSize*8))
		if err != nil || uint64(got) != 8*n {
			return false, false
		}
		for k := uint64(0); k < n; k++ {
			e := binary.LittleEndian.Uint64(buf[8*k:])
			if e&pmSwapped != 0 || (e&pmPresent != 0 && e&pmFile == 0) {
				return true, true
			}
		}
		a += Address(n * livePageSize)
	}
	return false, true
}

// coreDumpSize is how many bytes from the start of m the kernel's default
// coredump_filter (0x33) puts in a core: anonymous and written private
// memory whole, the first page of a file mapped from offset 0 (so its build
// ID can be checked), nothing of unwritten file text or shared file maps.
// anon says the whole of it is anonymous memory, where pages never touched
// are zeros and need not be read.
func (m *smapsMap) coreDumpSize() (size uint64, anon bool) {
	n := uint64(m.end - m.start)
	switch {
	case m.perm&PermRead == 0:
		return 0, false
	case m.path == "[vvar]" || m.path == "[vvar_vclock]" || m.path == "[vsyscall]":
		return 0, false
	case m.hasFlag("dd") || m.hasFlag("io"):
		return 0, false // madvise(MADV_DONTDUMP), device memory
	case !m.fileBacked():
		return n, !m.shared && m.path != "[vdso]"
	case m.shared:
		if strings.HasSuffix(m.path, " (deleted)") {
			return n, false // shared memory no file holds any more
		}
		return 0, false
	case m.anonKB > 0 || m.swapKB > 0:
		return n, false // written: relocated data, .data, .bss in the file's page
	case m.offset == 0:
		return min(livePageSize, n), false
	}
	return 0, false
}

// DumpPID stops every thread of process pid, copies its registers and the
// memory a kernel core would hold, and resumes it, whatever happens (also on
// SIGINT and SIGTERM). The core is written afterwards from the copy, so the
// process is stopped only for the copy.
func DumpPID(pid int) (*Dump, error) {
	d, err := dumpPID(pid)
	if err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, err)
	}
	return d, nil
}

func dumpPID(pid int) (*Dump, error) {
	st, err := checkLiveTarget(pid, true)
	if err != nil {
		return nil, err
	}
	if st.tracerPID != 0 {
		return nil, fmt.Errorf("process %d is already traced by process %d (%s): detach that debugger first (quit gdb, strace, ...)",
			pid, st.tracerPID, procName(st.tracerPID))
	}
	d := &Dump{}
	c := &d.Core
	c.Process = elfcore.Process{PID: int32(pid), PPID: int32(st.ppid), UID: uint32(st.uid), GID: uint32(st.gid), State: st.state, Fname: st.name}
	if f := procStatFields(fmt.Sprintf("/proc/%d/stat", pid)); len(f) > 18 {
		c.Process.PGRP = int32(atoi(f[4]))
		c.Process.SID = int32(atoi(f[5]))
		c.Process.Flag = uint64(atoi(f[8]))
		c.Process.Nice = int8(atoi(f[18]))
	}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		c.Process.Args = strings.TrimRight(strings.ReplaceAll(string(cmdline), "\x00", " "), " ")
	}
	if av, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid)); err == nil && len(av) <= maxAuxvBytes {
		c.Auxv = av
	}

	// What the copy will need, from the mappings as they are now.
	pre, err := readSmaps(pid)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, permissionError(pid, st)
		}
		return nil, liveGone(pid, err)
	}
	need := residentDumpSize(pre)
	if avail := memAvailable(); avail > 0 && need > avail {
		return nil, fmt.Errorf("the process has %d MiB of memory to copy and this machine has %d MiB available: free memory or dump it with gdb's gcore (which writes while the process stays stopped)",
			need>>20, avail>>20)
	}
	if err := d.pool.reserve(need+need/16+(1<<20), true); err != nil {
		return nil, err
	}

	mem := newLiveMemory(pid)
	defer mem.close()
	d.Paused, err = ptrace.WhileStopped(pid, func(s ptrace.Stopped) error {
		xbuf := make([]byte, maxXState)
		for _, t := range s.Threads {
			th := elfcore.Thread{TID: int32(t.TID)}
			th.Regs = *(*[27]uint64)(unsafe.Pointer(&t.Regs))
			if fp, err := ptrace.RegSet(t.TID, elfcore.NTPrfpreg, make([]byte, 512)); err == nil {
				th.FPRegs = fp
			}
			if xs, err := ptrace.RegSet(t.TID, elfcore.NTX86XState, xbuf); err == nil {
				th.XState = append([]byte(nil), xs...)
			}
			c.Threads = append(c.Threads, th)
		}
		return d.copyMemory(pid, mem, pre, s.Interrupted)
	})
	if err != nil {
		d.Close()
		return nil, stopFailure(pid, st, err, "")
	}
	if len(c.Threads) > 0 {
		c.XSaveLayout = xsaveLayout(c.Threads[0].XState)
	}
	// Signal masks and CPU times are read after the process runs again: they
	// are for the record, and reading them stopped would lengthen the pause.
	for i := range c.Threads {
		t := &c.Threads[i]
		task := fmt.Sprintf("/proc/%d/task/%d/", pid, t.TID)
		if f := procStatFields(task + "stat"); len(f) > 14 {
			t.UTime = ticksToTimeval(atoi(f[13]))
			t.STime = ticksToTimeval(atoi(f[14]))
		}
		if data, err := os.ReadFile(task + "status"); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				k, v, _ := strings.Cut(line, ":")
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				switch k {
				case "SigPnd":
					t.SigPend = n
				case "SigBlk":
					t.SigHold = n
				}
			}
		}
	}
	return d, nil
}

// memAvailable is MemAvailable of /proc/meminfo in bytes, 0 if unknown.
func memAvailable() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// maxAuxvBytes bounds /proc/PID/auxv (a few hundred bytes in practice).
const maxAuxvBytes = 64 << 10

// residentDumpSize estimates the bytes a copy of maps will hold: what the
// kernel would dump of each, less the never-touched pages of anonymous ones.
func residentDumpSize(maps []smapsMap) uint64 {
	total := uint64(0)
	for i := range maps {
		n, anon := maps[i].coreDumpSize()
		if anon {
			n = min(n, (maps[i].rssKB+maps[i].swapKB)<<10)
		}
		total += n
	}
	return total
}

// copyMemory reads /proc/PID/smaps and copies, page run by page run, what a
// kernel core would hold into d.pool, and describes it as segments and files.
func (d *Dump) copyMemory(pid int, mem *liveMemory, pre []smapsMap, interrupted interface{ Load() bool }) error {
	pagemap, _ := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if pagemap != nil {
		defer pagemap.Close()
	}
	maps, err := stoppedMaps(pid, pre, pagemap)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("permission denied reading /proc/%d/smaps", pid)
		}
		return liveGone(pid, err)
	}
	c := &d.Core
	for i := range maps {
		if interrupted != nil && interrupted.Load() {
			return errors.New("interrupted")
		}
		m := &maps[i]
		if m.fileBacked() {
			c.Files = append(c.Files, elfcore.File{Start: uint64(m.start), End: uint64(m.end), Offset: m.offset, Path: m.path})
		}
		n, anon := m.coreDumpSize()
		seg := elfcore.Segment{Vaddr: uint64(m.start), Memsz: uint64(m.end - m.start), Filesz: n, Flags: segFlags(m.perm)}
		if n > 0 {
			chunks, err := d.copyRange(mem, pagemap, m.start, n, anon)
			if err != nil {
				return err
			}
			seg.Chunks = chunks
		}
		c.Segments = append(c.Segments, seg)
	}
	return nil
}

// copyRange copies the n bytes at addr as chunks at their offsets from addr.
// Anonymous pages the pagemap says were never touched (neither present nor
// swapped) are zeros and are not read; nor are guard regions. Pages that
// cannot be read are left out (zeros) and counted.
func (d *Dump) copyRange(mem *liveMemory, pagemap *os.File, addr Address, n uint64, anon bool) ([]elfcore.Chunk, error) {
	pages := (n + livePageSize - 1) / livePageSize
	var chunks []elfcore.Chunk
	var entries []byte
	for first := uint64(0); first < pages; first += pagemapChunk {
		cnt := min(pages-first, pagemapChunk)
		have := false
		if pagemap != nil {
			entries = append(entries[:0], make([]byte, 8*cnt)...)
			got, _ := pagemap.ReadAt(entries, int64(uint64(addr)/livePageSize+first)*8)
			have = uint64(got) == 8*cnt
		}
		entry := func(k uint64) uint64 { return binary.LittleEndian.Uint64(entries[8*k:]) }
		want := func(k uint64) bool {
			if !have {
				return true
			}
			e := entry(k)
			return e&pmGuardRegion == 0 && (!anon || e&(pmPresent|pmSwapped) != 0)
		}
		for j := uint64(0); j < cnt; {
			if !want(j) {
				if have && entry(j)&pmGuardRegion != 0 {
					d.GuardPages++
				}
				j++
				continue
			}
			k := j + 1
			for k < cnt && want(k) && k-j < liveChunk/livePageSize {
				k++
			}
			lo := (first + j) * livePageSize
			hi := min((first+k)*livePageSize, n)
			dst, err := d.pool.take(hi - lo)
			if err != nil {
				return nil, err
			}
			chunks = d.readPages(mem, dst, addr, lo, chunks)
			j = k
		}
	}
	return chunks, nil
}

// readPages fills dst from addr+off page by page past pages that fail, and
// appends what it read as chunks at their offsets from addr.
func (d *Dump) readPages(mem *liveMemory, dst []byte, addr Address, off uint64, chunks []elfcore.Chunk) []elfcore.Chunk {
	for done := uint64(0); done < uint64(len(dst)); {
		got := mem.read(dst[done:], addr+Address(off+done))
		if got > 0 {
			chunks = append(chunks, elfcore.Chunk{Off: off + done, Data: dst[done : done+got : done+got]})
			d.Copied += got
			done += got
			continue
		}
		d.UnreadablePages++
		done += min(livePageSize-(uint64(addr)+off+done)%livePageSize, uint64(len(dst))-done)
	}
	return chunks
}

func segFlags(p Perm) uint32 {
	var f uint32
	if p&PermRead != 0 {
		f |= elfcore.FlagR
	}
	if p&PermWrite != 0 {
		f |= elfcore.FlagW
	}
	if p&PermExec != 0 {
		f |= elfcore.FlagX
	}
	return f
}

// procStatFields splits /proc/.../stat into fields, the command (which may
// hold spaces and parentheses) as one: f[0] is the pid, f[1] the command,
// f[2] the state, f[13] utime: the field numbers of proc(5) less one.
func procStatFields(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return nil
	}
	return append([]string{strings.TrimSpace(s[:open]), s[open+1 : end]}, strings.Fields(s[end+1:])...)
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// ticksToTimeval converts clock ticks (USER_HZ, 100 on Linux) to a timeval.
func ticksToTimeval(t int64) elfcore.Timeval {
	return elfcore.Timeval{Sec: t / 100, Usec: (t % 100) * 10000}
}
