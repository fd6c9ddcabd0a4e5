package core

import "testing"

// TestCoreDumpSize: which part of each kind of mapping a core holds, as the
// kernel's default coredump_filter (0x33) decides.
func TestCoreDumpSize(t *testing.T) {
	for _, c := range []struct {
		line     string
		anonKB   uint64
		flags    []string
		want     uint64
		wantAnon bool
	}{
		{"00400000-00402000 r--p 00000000 fe:00 10 /usr/bin/python3", 0, nil, 4096, false},                  // ELF header page
		{"00402000-00500000 r-xp 00002000 fe:00 10 /usr/bin/python3", 0, nil, 0, false},                     // text
		{"00600000-00602000 r--p 00100000 fe:00 10 /usr/bin/python3", 8, nil, 0x2000, false},                // RELRO, written
		{"00602000-00604000 rw-p 00102000 fe:00 10 /usr/bin/python3", 0, nil, 0, false},                     // .data never written
		{"00604000-00704000 rw-p 00000000 00:00 0 [heap]", 0, nil, 0x100000, true},                          // heap
		{"7f0000000000-7f0000800000 rw-p 00000000 00:00 0 ", 0, []string{"rd", "wr", "gu"}, 0x800000, true}, // stack with guard regions
		{"7f0000800000-7f0000801000 ---p 00000000 00:00 0 ", 0, nil, 0, false},                              // PROT_NONE guard
		{"7f0000900000-7f0000a00000 rw-p 00000000 00:00 0 ", 0, []string{"rd", "wr", "dd"}, 0, false},       // MADV_DONTDUMP
		{"7f0000a00000-7f0000a10000 r--s 00000000 fe:00 11 /usr/lib/locale/cache", 0, nil, 0, false},        // shared file
		{"7f0000b00000-7f0000b10000 rw-s 00000000 00:01 12 /memfd:buf (deleted)", 0, nil, 0x10000, false},   // shared memory
		{"7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0 [vvar]", 0, nil, 0, false},                        // vvar
		{"7ffff7fc5000-7ffff7fc7000 r-xp 00000000 00:00 0 [vdso]", 0, nil, 0x2000, false},                   // vdso
	} {
		pm, ok := parseMapsLine(c.line)
		if !ok {
			t.Fatalf("%q does not parse", c.line)
		}
		m := smapsMap{procMap: pm, anonKB: c.anonKB, vmFlags: c.flags}
		got, anon := m.coreDumpSize()
		if got != c.want || anon != c.wantAnon {
			t.Errorf("%s: %#x bytes (anonymous %v), want %#x (%v)", c.line, got, anon, c.want, c.wantAnon)
		}
	}
}
