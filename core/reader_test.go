package core

import "testing"

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
