package core

import "golang.org/x/sys/unix"

// Pages of the core that reads touch stay mapped into the process, and the
// kernel maps up to 16 neighbours of a page with it (fault-around): walking
// two hundred threads' stacks kept 20-30 MiB of the core resident, though
// only a few pages are in use at a time. Every trimEvery reads, the core's
// mapping is dropped from the process's page tables (MADV_DONTNEED on a
// shared file mapping: the bytes stay in the page cache and the next read
// maps them again), which bounds the resident set whatever the core holds.
//
// The interval doubles after each trim: a walk that reads the whole core (a
// heap walk of millions of objects reads every page again and again) would
// otherwise fault its pages back in after every trim, which made `heap` on a
// 445 MB core spend 50 s in the kernel; small commands trim as before.
const trimEvery = 1 << 16

// countRead is called by every ReadAt (not after Close).
func (p *Process) countRead() {
	n := p.reads.Add(1)
	next := p.nextTrim.Load()
	if next == 0 {
		next = trimEvery
	}
	if n >= next && p.nextTrim.CompareAndSwap(p.nextTrim.Load(), 2*n) {
		p.trim()
	}
}

// trim drops the core's pages from the process. Every region in p.maps is a
// MAP_SHARED mapping of a file (the core, its decompressed copy, or a
// bundle), so no byte is lost.
func (p *Process) trim() {
	if len(p.maps) > 0 {
		// An error (there is none for a valid mapping) only leaves pages mapped.
		_ = unix.Madvise(p.maps[0], unix.MADV_DONTNEED)
	}
}
