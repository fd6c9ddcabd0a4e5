package unwind

import (
	"testing"
)

// FuzzEhFrame feeds damaged .eh_frame sections to the parser and executes
// every FDE's program at a few pcs: bounded, no panic.
func FuzzEhFrame(f *testing.F) {
	// A CIE (zR, pcrel sdata4, CFA rsp+8, RA at CFA-8) and one FDE covering
	// 0x1000..0x1010 that pushes rbp, as GCC emits them.
	f.Add([]byte{
		0x14, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b,
		0x0c, 0x07, 0x08, 0x90, 0x01, 0, 0,
		0x18, 0, 0, 0, 0x1c, 0, 0, 0, 0xe4, 0x0f, 0, 0, 0x10, 0, 0, 0, 0,
		0x41, 0x0e, 0x10, 0x86, 0x02, 0x0a, 0x0b, 0, 0, 0,
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, _ := parseEhFrame(data, 0)
		for i := range tab.fdes {
			fd := &tab.fdes[i]
			for _, pc := range []uint64{fd.start, fd.start + 1, fd.end - 1} {
				rowAt(fd, pc)
			}
			if i > 64 {
				break
			}
		}
		tab.find(0x1004)
	})
}

// FuzzDebugFrame feeds damaged .debug_frame sections to the parser and
// executes every FDE's program at a few pcs: bounded, no panic.
func FuzzDebugFrame(f *testing.F) {
	// GCC's, without unwind tables: a CIE (version 1, no augmentation, CFA
	// rsp+8, RA at CFA-8) and an FDE for 0x1200..0x1221 that pushes rbx.
	f.Add([]byte{
		0x14, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 0x10, 0x0c, 0x07, 0x08,
		0x90, 0x01, 0, 0, 0, 0, 0, 0,
		0x1c, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0,
		0x41, 0x0e, 0x10, 0x83, 0x02, 0x59, 0x0e, 0x08,
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, _ := parseDebugFrame(data)
		for i := range tab.fdes {
			fd := &tab.fdes[i]
			for _, pc := range []uint64{fd.start, fd.start + 1, fd.end - 1} {
				rowAt(fd, pc)
			}
			if i > 64 {
				break
			}
		}
		tab.find(0x1204)
	})
}

// TestDebugFrameSeed: the seed above is read as GCC wrote it.
func TestDebugFrameSeed(t *testing.T) {
	data := []byte{
		0x14, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 0x10, 0x0c, 0x07, 0x08,
		0x90, 0x01, 0, 0, 0, 0, 0, 0,
		0x1c, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0,
		0x41, 0x0e, 0x10, 0x83, 0x02, 0x59, 0x0e, 0x08,
	}
	tab, err := parseDebugFrame(data)
	if err != nil {
		t.Fatal(err)
	}
	fd := tab.find(0x1204)
	if fd == nil || fd.start != 0x1200 || fd.end != 0x1221 {
		t.Fatalf("FDE %+v, want 0x1200..0x1221", fd)
	}
	r, err := rowAt(fd, 0x1204)
	if err != nil {
		t.Fatal(err)
	}
	if r.cfaReg != regRSP || r.cfaOff != 16 || r.regs[regRBX].kind != ruleOffset || r.regs[regRBX].off != -16 || r.regs[regRA].off != -8 {
		t.Errorf("row at 0x1204: %+v; want CFA rsp+16, rbx at CFA-16, RA at CFA-8", r)
	}
	if _, err := parseDebugFrame(data[:30]); err == nil {
		t.Errorf("a truncated FDE parsed without error")
	}
}
