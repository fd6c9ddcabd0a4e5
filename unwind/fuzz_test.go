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
