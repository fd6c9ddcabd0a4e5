package core

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// maxDecompressedSize bounds what a compressed core may expand to, so a
// small hostile file cannot fill the disk. A variable so tests can lower it.
var maxDecompressedSize int64 = 64 << 30

// compressionOf names the compression format data starts with, or "".
func compressionOf(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return "xz"
	case bytes.HasPrefix(data, []byte{0x04, 0x22, 0x4d, 0x18}), bytes.HasPrefix(data, []byte{0x02, 0x21, 0x4c, 0x18}):
		return "lz4"
	}
	return ""
}

// decompressFile expands f into an unlinked temporary file and maps it. The
// file disappears when the mapping is released (or the process exits). A
// stream that breaks off after some data (a cut download, a full disk when
// it was written) still gives the part before the break, with a warning:
// the core reader copes with truncated cores.
func decompressFile(f *os.File, kind string) (data []byte, warning string, err error) {
	// One at a time: a zstd or xz decoder holds a window of history as large
	// as the stream asks (the whole core for a single-segment zstd frame, 43
	// MiB for the shipped sample; an xz dictionary of up to 64 MiB), so cores
	// decompressed in parallel (pycore report -j) would need that much memory
	// each, and peak memory would depend on how many coincide.
	decompressMu.Lock()
	defer decompressMu.Unlock()
	data, warning, err = decompress(f, kind)
	if kind == "zstd" || kind == "xz" {
		// The decoder is unreachable now: give its window back at once. Left
		// to the garbage collector, whose next goal is twice the heap that
		// held it, windows of successive cores piled up, and pycore report's
		// peak memory grew with the number of compressed cores. A collection
		// costs little beside a decompression.
		debug.FreeOSMemory()
	}
	return data, warning, err
}

func decompress(f *os.File, kind string) (data []byte, warning string, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, "", err
	}
	src := bufio.NewReaderSize(f, 1<<20)
	var r io.Reader
	switch kind {
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, "", fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, "", fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	case "xz":
		zr, err := xz.NewReader(src)
		if err != nil {
			return nil, "", fmt.Errorf("xz: %w", err)
		}
		r = zr
	case "lz4":
		r = lz4.NewReader(src)
	default:
		return nil, "", fmt.Errorf("unknown compression %q", kind)
	}

	tmp, err := os.CreateTemp("", "pycore-core-*")
	if err != nil {
		return nil, "", fmt.Errorf("decompressing %s core: temporary file: %w", kind, err)
	}
	// Unlink at once: nothing is left behind however we exit; the open fd
	// and then the mapping keep the data alive.
	os.Remove(tmp.Name())
	defer tmp.Close()

	size, readErr, err := copySparse(tmp, r, maxDecompressedSize)
	if err != nil {
		return nil, "", fmt.Errorf("decompressing %s core into %s: %w", kind, os.TempDir(), err)
	}
	if size == 0 {
		if readErr != nil {
			return nil, "", fmt.Errorf("the file is a damaged %s stream: nothing could be decompressed (%w)", kind, readErr)
		}
		return nil, "", fmt.Errorf("%s data decompresses to nothing", kind)
	}
	if readErr != nil {
		warning = fmt.Sprintf("%s stream broken after %d decompressed bytes (%v): the rest of the core is missing", kind, size, readErr)
	}
	data, err = unix.Mmap(int(tmp.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, "", fmt.Errorf("mmap decompressed core: %w", err)
	}
	return data, warning, nil
}

var decompressMu sync.Mutex

var errTooLarge = errors.New("too large")

// copySparse copies r into f, leaving holes for all-zero blocks (cores are
// mostly zeros), and returns the size written. A failure of r is returned
// as readErr with what came before it kept; err is a failure to write or
// more than limit bytes coming out.
func copySparse(f *os.File, r io.Reader, limit int64) (size int64, readErr, err error) {
	const block = 64 << 10
	buf := make([]byte, 1<<20)
	for {
		n := 0
		for n < len(buf) && readErr == nil {
			var k int
			k, readErr = r.Read(buf[n:])
			n += k
		}
		if int64(n) > limit-size {
			return size, nil, fmt.Errorf("decompressed size exceeds the limit of %d bytes (%s); not a core pycore can open: %w", limit, humanSize(limit), errTooLarge)
		}
		for i := 0; i < n; i += block {
			chunk := buf[i:min(i+block, n)]
			if allZero(chunk) {
				continue
			}
			if _, err := f.WriteAt(chunk, size+int64(i)); err != nil {
				return size, nil, err
			}
		}
		size += int64(n)
		if readErr == io.EOF {
			readErr = nil
			break
		}
		if readErr != nil {
			break
		}
	}
	if err := f.Truncate(size); err != nil {
		return size, nil, err
	}
	return size, readErr, nil
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
