package core

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/core/elfcore"
)

// TestElfcoreRoundTrip writes a core with elfcore (two threads, auxv, a
// mapped file, segments with and without data, zero pages written as holes)
// and reads it back with pycore's core reader.
func TestElfcoreRoundTrip(t *testing.T) {
	for _, nseg := range []int{3, 70000} { // 70000: more than e_phnum holds (PN_XNUM)
		c := elfcore.Core{
			Process: elfcore.Process{PID: 42, PPID: 1, UID: 1000, GID: 100, State: 'S', Fname: "python3", Args: "python3 -c pass"},
			Threads: []elfcore.Thread{{TID: 42}, {TID: 43, FPRegs: make([]byte, 512), XState: make([]byte, 832)}},
			Auxv:    binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 6), 4096),
			Files:   []elfcore.File{{Start: 0x400000, End: 0x401000, Offset: 0, Path: "/usr/bin/python3"}},
		}
		c.Auxv = append(c.Auxv, make([]byte, 16)...) // AT_NULL
		c.Threads[0].Regs[16] = 0x401234             // rip
		c.Threads[1].Regs[19] = 0x7ffd0000           // rsp
		data := make([]byte, 4*4096)
		copy(data, "first page")
		copy(data[2*4096:], "third page") // the second page is zeros: a hole
		copy(data[3*4096+100:], "fourth")
		c.Segments = append(c.Segments,
			elfcore.Segment{Vaddr: 0x400000, Memsz: 0x1000, Flags: elfcore.FlagR | elfcore.FlagX},
			// The second page is in no chunk, the third a zero chunk.
			elfcore.Segment{Vaddr: 0x10000000, Memsz: 5 * 4096, Filesz: 4 * 4096, Flags: elfcore.FlagR | elfcore.FlagW, Chunks: []elfcore.Chunk{
				{Off: 0, Data: data[:4096]}, {Off: 2 * 4096, Data: data[2*4096:]}}})
		for i := len(c.Segments); i < nseg; i++ {
			c.Segments = append(c.Segments, elfcore.Segment{Vaddr: 0x20000000 + uint64(i)*0x2000, Memsz: 0x1000, Flags: elfcore.FlagR})
		}
		l, err := c.Plan()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "core")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		var w io.Writer = holes{f} // a sparse file, and a plain writer
		if nseg > 3 {
			w = f
		}
		if err := c.Write(w, l); err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(int64(l.Size)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if fi, _ := os.Stat(path); uint64(fi.Size()) != l.Size {
			t.Fatalf("%d segments: file is %d bytes, the layout says %d", nseg, fi.Size(), l.Size)
		}
		p, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("%d segments: %v", nseg, err)
		}
		if len(p.Threads) != 2 || p.Threads[0].TID != 42 || p.Threads[0].Regs.RIP != 0x401234 || p.Threads[1].Regs.RSP != 0x7ffd0000 {
			t.Errorf("threads: %+v", p.Threads)
		}
		if p.PsInfo == nil || p.PsInfo.PID != 42 || p.PsInfo.Fname != "python3" || p.PsInfo.Args != "python3 -c pass" || p.PsInfo.State != 'S' {
			t.Errorf("psinfo: %+v", p.PsInfo)
		}
		if len(p.Auxv) == 0 || p.Auxv[0] != (AuxvEntry{6, 4096}) {
			t.Errorf("auxv: %+v", p.Auxv)
		}
		got := make([]byte, len(data))
		if _, err := p.ReadAt(got, 0x10000000); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d segments: memory read back %q..., %v", nseg, got[:16], err)
		}
		p.Close()
	}
}

// holes writes a sparse file.
type holes struct{ f *os.File }

func (h holes) Write(b []byte) (int, error) { return h.f.Write(b) }
func (h holes) Skip(n int64) error {
	_, err := h.f.Seek(n, io.SeekCurrent)
	return err
}
