package core

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"testing"
)

// realNotes returns the note data of a fixture core, or nil when the
// fixtures could not be made (the fuzz targets then run on their other seeds).
func realNotes(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	h, err := parseCoreHeader(data)
	if err != nil {
		return nil
	}
	for _, ph := range h.progs {
		if elf.ProgType(ph.Type) == elf.PT_NOTE && ph.Off+ph.Filesz <= uint64(len(data)) {
			return data[ph.Off : ph.Off+ph.Filesz]
		}
	}
	return nil
}

func fixturesIfAny() *fixtures {
	fixOnce.Do(func() { fix, fixErr = makeFixtures() })
	return fix
}

// FuzzNotes feeds arbitrary bytes to the note parsers. testdata/fuzz/FuzzNotes
// holds the notes of a real kernel core as a seed.
func FuzzNotes(f *testing.F) {
	f.Add(noteRecord("CORE", ntFile, fileNote(4096, [][3]uint64{{0x1000, 0x2000, 1}}, "/lib/x.so")))
	f.Add(noteRecord("CORE", ntPrstatus, make([]byte, 336)))
	if fx := fixturesIfAny(); fx != nil {
		f.Add(realNotes(fx.Crash.Core))
		f.Add(realNotes(fx.Wait.Core))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n coreNotes
		n.parse(data, 0)
		for _, fr := range n.files {
			if fr.End < fr.Start {
				t.Fatalf("file range %s-%s ends before it starts", fr.Start, fr.End)
			}
		}
		parseFileNote(data)
		parsePrstatus(data)
		parsePrpsinfo(data)
		parseSiginfo(data)
		parseAuxv(data)
		maps, _ := buildMappings(nil, n.files)
		for i := range maps {
			if maps[i].Start >= maps[i].End || (i > 0 && maps[i-1].End > maps[i].Start) {
				t.Fatalf("mappings %v out of order", maps)
			}
		}
	})
}

// FuzzCoreImage opens arbitrary bytes as a core image and reads every
// mapping: no input may panic or hang.
func FuzzCoreImage(f *testing.F) {
	hdr := make([]byte, 64+56)
	copy(hdr, elfMagic)
	hdr[4], hdr[5], hdr[6] = 2, 1, 1
	binary.LittleEndian.PutUint16(hdr[16:], 4)
	binary.LittleEndian.PutUint16(hdr[18:], 62)
	binary.LittleEndian.PutUint64(hdr[32:], 64)
	binary.LittleEndian.PutUint16(hdr[54:], 56)
	binary.LittleEndian.PutUint16(hdr[56:], 1)
	f.Add(hdr)
	if fx := fixturesIfAny(); fx != nil {
		for _, path := range []string{fx.Crash.Core, fx.Wait.Core} {
			if data, err := os.ReadFile(path); err == nil {
				// The headers and notes, without most of the memory.
				f.Add(data[:min(len(data), 64<<10)])
			}
		}
	}
	sysroot := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &Process{ByteOrder: binary.LittleEndian, PtrSize: 8, core: data}
		if err := p.load(Options{Sysroot: sysroot}); err != nil {
			return
		}
		defer p.release()
		buf := make([]byte, 64)
		for _, m := range p.Mappings {
			p.ReadAt(buf, m.Start)
			p.ReadAt(buf, m.End-8)
		}
	})
}
