//go:build unix

package symbols

import (
	"fmt"
	"os"
	"syscall"
)

// mmapFile maps a whole file read-only: debug files can be hundreds of MB
// and only the parts used should be paged in.
func mmapFile(path string) ([]byte, func() error, error) {
	// Non-blocking: a path that became a FIFO after the caller's check must
	// not make the open wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := fi.Size()
	if size <= 0 {
		return nil, nil, fmt.Errorf("%s: empty file", path)
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("%s: too large to map (%d bytes)", path, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
