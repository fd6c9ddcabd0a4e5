package core

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestReaderDoesNotAllocate: the typed reads a frame walk makes by the
// hundred thousand must not allocate their buffers on a core.
func TestReaderDoesNotAllocate(t *testing.T) {
	f := getFixtures(t)
	p := openT(t, f.Crash.Core, Options{})
	r := p.Reader()
	o := f.Crash.Oracle
	var sum uint64
	allocs := testing.AllocsPerRun(100, func() {
		v8, _ := r.Uint8(o.HeapAddr)
		v16, _ := r.Uint16(o.HeapAddr)
		v32, _ := r.Uint32(o.HeapAddr)
		v64, _ := r.Uint64(o.GlobalAddr)
		ptr, _ := r.Ptr(o.RodataAddr)
		sum += uint64(v8) + uint64(v16) + uint64(v32) + v64 + uint64(ptr)
	})
	if allocs != 0 {
		t.Errorf("Reader reads allocate %v times per run", allocs)
	}
	if v, err := r.Uint64(o.GlobalAddr); err != nil || v != o.GlobalValue {
		t.Errorf("global at %s = %#x, %v; the target printed %#x", o.GlobalAddr, v, err, o.GlobalValue)
	}
}

// BenchmarkReaderUint64 reads words of a real core (the crash fixture) the
// way a frame walk does: a global in the core, a string in the file, heap.
func BenchmarkReaderUint64(b *testing.B) {
	f := getFixtures(b)
	p, err := Open(f.Crash.Core, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	r := p.Reader()
	o := f.Crash.Oracle
	addrs := []Address{o.GlobalAddr, o.RodataAddr, o.HeapAddr, o.HeapAddr + 64}
	b.ReportAllocs()
	for b.Loop() {
		for _, a := range addrs {
			if _, err := r.Uint64(a); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// residentKiB is the Rss of the mapping of this process starting at b.
func residentKiB(t *testing.T, b []byte) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = strings.HasPrefix(f[0], start)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			var kib int
			fmt.Sscanf(strings.TrimPrefix(line, "Rss:"), "%d", &kib)
			return kib
		}
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", start)
	return 0
}

// TestTrimDropsCorePagesKeepsBytes: reading a core maps its pages into the
// process; every trimEvery reads they are dropped, and reads after that
// still give the core's bytes.
func TestTrimDropsCorePagesKeepsBytes(t *testing.T) {
	f := getFixtures(t)
	p := openT(t, f.Crash.Core, Options{})
	o := f.Crash.Oracle
	r := p.Reader()
	check := func() {
		t.Helper()
		if v, err := r.Uint64(o.GlobalAddr); err != nil || v != o.GlobalValue {
			t.Fatalf("global at %s = %#x, %v; the target printed %#x", o.GlobalAddr, v, err, o.GlobalValue)
		}
		heap := make([]byte, o.HeapSize)
		if err := r.Read(heap, o.HeapAddr); err != nil {
			t.Fatal(err)
		}
		for i, b := range heap {
			if want := byte(i*7 + 3); b != want {
				t.Fatalf("heap[%d] = %#x, want %#x", i, b, want)
			}
		}
	}
	// Touch every page of the core.
	buf := make([]byte, 1)
	for _, m := range p.Mappings {
		for a := m.Start; a < m.Start+Address(m.CoreSize); a += 4096 {
			p.ReadAt(buf, a)
		}
	}
	check()
	before := residentKiB(t, p.maps[0])
	if before == 0 {
		t.Fatal("no page of the core resident after reading all of it")
	}
	// Reads up to the next multiple of trimEvery trim the mapping.
	for p.reads.Load()%trimEvery != trimEvery-1 {
		p.ReadAt(buf, o.GlobalAddr)
	}
	p.ReadAt(buf, o.GlobalAddr)
	after := residentKiB(t, p.maps[0])
	if after*4 > before {
		t.Errorf("core resident: %d KiB before the trim, %d KiB after", before, after)
	}
	check()
	t.Logf("core resident: %d KiB read, %d KiB after the trim", before, after)
}
