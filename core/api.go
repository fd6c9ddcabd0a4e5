package core

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Address is a virtual address in the process.
type Address uint64

func (a Address) Add(n int64) Address        { return Address(int64(a) + n) }
func (a Address) Sub(b Address) int64        { return int64(a - b) }
func (a Address) Align(n uint64) Address     { return Address((uint64(a) + n - 1) &^ (n - 1)) }
func (a Address) AlignDown(n uint64) Address { return Address(uint64(a) &^ (n - 1)) }
func (a Address) String() string             { return fmt.Sprintf("%#x", uint64(a)) }

// Memory is a process's address space. ReadAt reads len(p) bytes at addr; it
// returns n < len(p) only together with a non-nil error (a *ReadError naming
// the first address that could not be read and why).
type Memory interface {
	ReadAt(p []byte, addr Address) (n int, err error)
}

// ReadError is the error for a read that memory could not satisfy.
type ReadError struct {
	Addr   Address // first address that could not be read
	Size   int     // size of the whole read that was asked for
	Reason string  // e.g. "not mapped", "in filtered segment of /usr/lib/libpython3.13.so.1.0 (file not found)"
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("read %d bytes at %s: %s", e.Size, e.Addr, e.Reason)
}

// Reader layers typed reads over a Memory for one byte order and pointer size.
type Reader struct {
	Mem     Memory
	Order   binary.ByteOrder
	PtrSize int
}

// Read fills p from addr, wrapping any failure.
func (r Reader) Read(p []byte, addr Address) error {
	n, err := r.readAt(p, addr)
	if err != nil {
		return err
	}
	if n < len(p) {
		return &ReadError{Addr: addr.Add(int64(n)), Size: len(p), Reason: "short read"}
	}
	return nil
}

// readAt reads a core directly: through the Memory interface p would
// escape, and every small read below would allocate its buffer on the heap
// (a frame walk does hundreds of thousands).
func (r Reader) readAt(p []byte, addr Address) (int, error) {
	if pr, ok := r.Mem.(*Process); ok {
		return pr.ReadAt(p, addr)
	}
	return r.readVia(p, addr)
}

// readVia reads through the Memory interface into a buffer of its own, so
// that p does not escape.
func (r Reader) readVia(p []byte, addr Address) (int, error) {
	buf := make([]byte, len(p))
	n, err := r.Mem.ReadAt(buf, addr)
	copy(p, buf[:max(0, min(n, len(buf)))])
	return n, err
}

// uint16, uint32 and uint64 decode without b escaping (which a call
// through the ByteOrder interface would make it do).
func (r Reader) uint16(b []byte) uint16 {
	switch r.Order {
	case binary.LittleEndian:
		return binary.LittleEndian.Uint16(b)
	case binary.BigEndian:
		return binary.BigEndian.Uint16(b)
	}
	return r.Order.Uint16(bytes.Clone(b))
}

func (r Reader) uint32(b []byte) uint32 {
	switch r.Order {
	case binary.LittleEndian:
		return binary.LittleEndian.Uint32(b)
	case binary.BigEndian:
		return binary.BigEndian.Uint32(b)
	}
	return r.Order.Uint32(bytes.Clone(b))
}

func (r Reader) uint64(b []byte) uint64 {
	switch r.Order {
	case binary.LittleEndian:
		return binary.LittleEndian.Uint64(b)
	case binary.BigEndian:
		return binary.BigEndian.Uint64(b)
	}
	return r.Order.Uint64(bytes.Clone(b))
}

func (r Reader) Uint8(addr Address) (uint8, error) {
	var b [1]byte
	err := r.Read(b[:], addr)
	return b[0], err
}

func (r Reader) Uint16(addr Address) (uint16, error) {
	var b [2]byte
	if err := r.Read(b[:], addr); err != nil {
		return 0, err
	}
	return r.uint16(b[:]), nil
}

func (r Reader) Uint32(addr Address) (uint32, error) {
	var b [4]byte
	if err := r.Read(b[:], addr); err != nil {
		return 0, err
	}
	return r.uint32(b[:]), nil
}

func (r Reader) Uint64(addr Address) (uint64, error) {
	var b [8]byte
	if err := r.Read(b[:], addr); err != nil {
		return 0, err
	}
	return r.uint64(b[:]), nil
}

// Ptr reads a pointer-sized value.
func (r Reader) Ptr(addr Address) (Address, error) {
	if r.PtrSize == 4 {
		v, err := r.Uint32(addr)
		return Address(v), err
	}
	v, err := r.Uint64(addr)
	return Address(v), err
}

// Uint reads an unsigned integer of size 1, 2, 4 or 8 bytes.
func (r Reader) Uint(addr Address, size int) (uint64, error) {
	switch size {
	case 1:
		v, err := r.Uint8(addr)
		return uint64(v), err
	case 2:
		v, err := r.Uint16(addr)
		return uint64(v), err
	case 4:
		v, err := r.Uint32(addr)
		return uint64(v), err
	case 8:
		return r.Uint64(addr)
	}
	return 0, fmt.Errorf("read %s: unsupported integer size %d", addr, size)
}

// CString reads a NUL-terminated string of at most max bytes. It stops early,
// without error, at the end of readable memory if at least one byte was read.
// The NUL is not included; truncated reports whether max was reached first.
func (r Reader) CString(addr Address, max int) (s []byte, truncated bool, err error) {
	const chunk = 64
	var buf [chunk]byte
	for len(s) < max {
		n := chunk
		if rest := max - len(s); rest < n {
			n = rest
		}
		// Do not read across a page boundary in one go: the next page may be unmapped.
		if toPage := int(4096 - uint64(addr)%4096); toPage < n {
			n = toPage
		}
		got, rerr := r.readAt(buf[:n], addr)
		for i := 0; i < got; i++ {
			if buf[i] == 0 {
				return append(s, buf[:i]...), false, nil
			}
		}
		s = append(s, buf[:got]...)
		if rerr == nil && got < n {
			// A Memory that breaks its contract must not make us spin.
			rerr = &ReadError{Addr: addr.Add(int64(got)), Size: n, Reason: "short read"}
		}
		if rerr != nil {
			if len(s) > 0 {
				return s, false, nil
			}
			return nil, false, rerr
		}
		addr = addr.Add(int64(got))
	}
	return s, true, nil
}
