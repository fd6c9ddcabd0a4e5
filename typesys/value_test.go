package typesys_test

import (
	"encoding/binary"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/typesys"
)

// flatMemory is a few bytes at a base address; reads elsewhere fail.
type flatMemory struct {
	base core.Address
	b    []byte
}

func (m flatMemory) ReadAt(p []byte, addr core.Address) (int, error) {
	if addr < m.base || uint64(addr-m.base) > uint64(len(m.b)) {
		return 0, &core.ReadError{Addr: addr, Size: len(p), Reason: "not mapped"}
	}
	n := copy(p, m.b[uint64(addr-m.base):])
	if n < len(p) {
		return n, &core.ReadError{Addr: addr.Add(int64(n)), Size: len(p), Reason: "not mapped"}
	}
	return n, nil
}

// Synthesized layouts put bitfields anywhere in a wider unit (3.14t keeps a
// str's kind at bits 8-10 of a u32): the bits are read from the bytes that
// hold them, in memory and in computed values alike, and a field at the end
// of memory is read without touching the bytes past it.
func TestBitfieldsOfSynthesizedStructsReadTheirOwnBytes(t *testing.T) {
	st := &typesys.Type{Kind: typesys.Struct, Name: "S"}
	err := typesys.FillStruct(st, 5, "a test layout", []typesys.LayoutMember{
		{Path: "kind", Offset: 0, Type: typesys.U32, BitOffset: 8, BitSize: 3},
		{Path: "wide", Offset: 1, Type: typesys.U32, BitOffset: 12, BitSize: 20},
		{Path: "sign", Offset: 4, Type: typesys.I32, BitOffset: 5, BitSize: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	// kind = 0b101 at bits 8-10; wide = 0xabcde at bits 20-39; sign = -2 (0b110) at bits 37-39.
	raw := uint64(0b101)<<8 | uint64(0xabcde)<<20
	raw = raw&^(7<<37) | uint64(0b110)<<37
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, raw)
	mem := core.Reader{Mem: flatMemory{0x1000, b[:5]}, Order: binary.LittleEndian, PtrSize: 8}
	v := typesys.At(mem, st, 0x1000)
	for _, c := range []struct {
		name string
		want int64
	}{{"kind", 5}, {"sign", -2}} {
		m, err := v.Member(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m.Int(); err != nil || got != c.want {
			t.Errorf("%s = %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	m, err := v.Member("wide")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Uint(); err != nil || got != uint64(raw>>20&0xfffff) {
		t.Errorf("wide = %#x, %v; want %#x", got, err, raw>>20&0xfffff)
	}
}
