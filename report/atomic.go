package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// AtomicFile is an output file that appears whole or not at all: it is written
// under a temporary name beside its destination and renamed over it by Commit.
// Until then the destination is untouched; Abort (or a crash) leaves no report.
type AtomicFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
	done bool
	// direct: path is not a regular file (a device, a FIFO) and is written in place.
	direct bool
}

// CreateAtomic starts writing path.
func CreateAtomic(path string) (*AtomicFile, error) {
	// A device or FIFO (-o /dev/stdout, /dev/null) is written in place: renaming
	// a temporary file over it would replace the device itself.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return &AtomicFile{path: path, f: f, w: bufio.NewWriterSize(f, 1<<16), direct: true}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &AtomicFile{path: path, f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// TempPath is the temporary file written until Commit.
func (a *AtomicFile) TempPath() string { return a.f.Name() }

func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.done {
		return 0, fmt.Errorf("write %s: already committed or aborted", a.path)
	}
	return a.w.Write(p)
}

// Commit makes the written bytes the destination file's content.
func (a *AtomicFile) Commit() error {
	if a.done {
		return fmt.Errorf("commit %s: already committed or aborted", a.path)
	}
	err := a.w.Flush()
	if a.direct {
		a.done = true
		if cerr := a.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", a.path, err)
		}
		return nil
	}
	if err == nil {
		err = a.f.Chmod(0o644)
	}
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.f.Name(), a.path)
	}
	a.done = true
	if err != nil {
		os.Remove(a.f.Name())
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	return nil
}

// Abort drops what was written; the destination stays as it was. It does
// nothing after Commit.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	if !a.direct {
		os.Remove(a.f.Name())
	}
}

// WriteFileAtomic writes path with write, atomically.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	a, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	if err := write(a); err != nil {
		a.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return a.Commit()
}
