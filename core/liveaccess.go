package core

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readDirect serves ReadAt for a process opened with LiveOptions.Direct:
// the bytes are the running process's, read now. Addresses outside the
// mappings read when it was opened fail as in a core.
func (p *Process) readDirect(b []byte, addr Address) (int, error) {
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
		want := min(uint64(len(b)-n), uint64(m.End-a))
		p.direct.mu.Lock()
		var got uint64
		if p.held != nil && !p.held.Expired() {
			// Stopped: its memory cannot change until Resume, so a page
			// read once serves every later read of it.
			got = p.direct.readCached(b[n:n+int(want)], a)
		} else {
			got = p.direct.read(b[n:n+int(want)], a)
		}
		p.direct.mu.Unlock()
		n += int(got)
		if got < want {
			return n, &ReadError{Addr: a + Address(got), Size: len(b), Reason: "not readable in the running process (unmapped since, or a guard page)"}
		}
	}
	return n, nil
}

// maxCachedPages bounds the pages kept of a stopped process (64 MiB); past
// it the cache starts again empty.
const maxCachedPages = 16384

// readCached is read through a cache of whole pages: a heap walk reads a
// few bytes at a time, and one process_vm_readv per read made its pause
// mostly system calls. A page that cannot be read whole is read uncached.
func (l *liveMemory) readCached(dst []byte, addr Address) uint64 {
	done := uint64(0)
	for done < uint64(len(dst)) {
		a := addr + Address(done)
		page := a &^ (livePageSize - 1)
		pg, ok := l.cache[page]
		if !ok {
			if len(l.slab) < livePageSize {
				l.slab = make([]byte, 16*livePageSize)
			}
			buf := l.slab[:livePageSize:livePageSize]
			if l.read(buf, page) != livePageSize {
				return done + l.read(dst[done:], a)
			}
			l.slab = l.slab[livePageSize:]
			if l.cache == nil || len(l.cache) >= maxCachedPages {
				l.cache = map[Address][]byte{}
			}
			l.cache[page] = buf
			pg = buf
		}
		done += uint64(copy(dst[done:], pg[a-page:]))
	}
	return done
}

// dropCache forgets the pages read while the process was stopped.
func (l *liveMemory) dropCache() {
	l.mu.Lock()
	l.cache, l.slab = nil, nil
	l.mu.Unlock()
}

// MaxLiveWrite bounds one WriteLive: pycore writes a script path and two
// small integers, nothing larger.
const MaxLiveWrite = 4096

// WriteLive writes data at addr in the running process. This is the only
// code in pycore that writes into another process; it exists for pycore
// exec, which asks CPython 3.14+ to run a script (PEP 768) by writing the
// fields CPython reserves for that, at the user's explicit request. The
// write must lie inside one mapping that is writable in the process, so a
// wrong address can never patch code or read-only data (/proc/PID/mem,
// the fallback, would write those). Needs a process opened with
// LiveOptions.Direct.
func (p *Process) WriteLive(addr Address, data []byte) error {
	if p.direct == nil || p.Live == nil || !p.writable {
		return errors.New("not a running process opened for direct access")
	}
	if len(data) == 0 || len(data) > MaxLiveWrite {
		return fmt.Errorf("write of %d bytes at %s: want 1 to %d", len(data), addr, MaxLiveWrite)
	}
	// The mappings as they are now, not as they were at the open: a
	// process may have changed protections since (the loader's RELRO).
	maps, err := readProcMaps(p.direct.pid)
	if err != nil {
		return liveGone(p.direct.pid, err)
	}
	end := addr + Address(len(data))
	var m *procMap
	for i := range maps {
		if maps[i].start <= addr && addr < maps[i].end {
			m = &maps[i]
		}
	}
	if end < addr || m == nil || end > m.end {
		return fmt.Errorf("write of %d bytes at %s: not inside one mapping of the process", len(data), addr)
	}
	if m.perm&PermWrite == 0 {
		return fmt.Errorf("write of %d bytes at %s: mapping %s-%s is not writable", len(data), addr, m.start, m.end)
	}
	l := p.direct
	l.mu.Lock()
	defer l.mu.Unlock()
	local := []unix.Iovec{{Base: unsafe.SliceData(data)}}
	local[0].SetLen(len(data))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(data)}}
	n, err := unix.ProcessVMWritev(l.pid, local, remote, 0)
	switch {
	case err == nil && n == len(data):
		return nil
	case err == nil:
		return fmt.Errorf("write of %d bytes at %s: only %d written", len(data), addr, n)
	case err == unix.ESRCH:
		return errors.New("the process exited")
	case err != unix.ENOSYS && err != unix.EPERM:
		return fmt.Errorf("write of %d bytes at %s: process_vm_writev: %w", len(data), addr, err)
	}
	// process_vm_writev unavailable (no such syscall, or a seccomp filter).
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", l.pid), os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			if st, err2 := readProcStatus(l.pid); err2 == nil {
				return permissionError(l.pid, st)
			}
		}
		return fmt.Errorf("write of %d bytes at %s: %w", len(data), addr, err)
	}
	defer f.Close()
	if k, err := f.WriteAt(data, int64(addr)); err != nil || k != len(data) {
		return fmt.Errorf("write of %d bytes at %s through /proc/%d/mem: %d written: %v", len(data), addr, l.pid, k, err)
	}
	return nil
}
