package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/klauspost/compress/zstd"
	"github.com/spf13/cobra"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/core/elfcore"
)

func init() { register(newGcoreCommand) }

func newGcoreCommand() *cobra.Command {
	var out, compress string
	cmd := &cobra.Command{
		Use:   "gcore PID",
		Short: "Write a core dump of a running process and leave it running",
		Long: `Write an ELF core of running process PID, as gdb's gcore does, that gdb,
pystack and pycore read: every thread's registers (general, FP and XSAVE),
the process's auxiliary vector and mapped files, and the memory a kernel core
would hold (anonymous and written memory; the first page of each mapped file;
not the files' unwritten text, which readers take from the files). Thread
stacks are written as they are, also past guard pages inside their mapping.

The process is stopped only while its memory is copied, then resumed, and
left untraced whatever happens (also on Ctrl-C); the core is written after.
The default output is core.PID (core.PID.zst with --compress zstd); -o - writes
to standard output.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.Atoi(args[0])
			if err != nil {
				return fmt.Errorf("%q is not a process id: want a positive PID", args[0])
			}
			if compress != "" && compress != "zstd" {
				return fmt.Errorf("--compress %q: only zstd is supported", compress)
			}
			if out == "" {
				out = "core." + strconv.Itoa(pid)
				if compress == "zstd" {
					out += ".zst"
				}
			}
			return runGcore(cmd.ErrOrStderr(), cmd.OutOrStdout(), pid, out, compress)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the core to `FILE` (- for standard output); default core.PID")
	cmd.Flags().StringVar(&compress, "compress", "", "compress the core: zstd (pycore reads it as it is)")
	return cmd
}

func runGcore(msg, stdout io.Writer, pid int, out, compress string) error {
	// The output is created before the process is stopped: a path that
	// cannot be written fails without touching the process.
	var f *os.File
	if out != "-" {
		dir := filepath.Dir(out)
		var err error
		f, err = os.CreateTemp(dir, "."+filepath.Base(out)+".tmp*")
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("cannot create the core in %s: %w", dir, err)
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
	}
	d, err := core.DumpPID(pid)
	if err != nil {
		return err
	}
	defer d.Close()
	if f != nil {
		// The process runs again; Ctrl-C while the core is written
		// must not leave the temporary file behind. (Not earlier: while
		// the process is stopped, internal/ptrace handles the signal.)
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		tmp := f.Name()
		go func() {
			if s, ok := <-sigs; ok {
				os.Remove(tmp)
				fmt.Fprintf(os.Stderr, "pycore: interrupted by %v while writing %s: no core written; the process was left running\n", s, out)
				os.Exit(130)
			}
		}()
	}
	layout, err := d.Core.Plan()
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	where, size, onDisk := "standard output", uint64(0), uint64(0)
	if f == nil {
		cw := &countWriter{w: stdout}
		if err := writeStream(&d.Core, layout, cw, compress); err != nil {
			return fmt.Errorf("write the core: %w", err)
		}
		size, onDisk = cw.n, cw.n
	} else {
		where = out
		if size, onDisk, err = writeCoreFile(f, &d.Core, layout, compress); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		if err := os.Rename(f.Name(), out); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		f = nil
	}
	sizes := mapsHumanBytes(size)
	if onDisk < size {
		sizes += " (" + mapsHumanBytes(onDisk) + " on disk)"
	}
	fmt.Fprintf(msg, "Saved corefile %s: %d threads, %s of memory copied, a %s core, process paused %.1f ms\n",
		where, len(d.Core.Threads), mapsHumanBytes(d.Copied), sizes, float64(d.Paused.Microseconds())/1000)
	if d.GuardPages > 0 {
		fmt.Fprintf(msg, "%d guard pages (MADV_GUARD_INSTALL, as glibc puts in thread stacks) have no contents: they are zeros in the core\n", d.GuardPages)
	}
	if d.UnreadablePages > 0 {
		fmt.Fprintf(msg, "%d pages inside dumped mappings could not be read: they are zeros in the core\n", d.UnreadablePages)
	}
	return nil
}

// writeCoreFile writes the core into f and closes it; zero pages become
// holes in an uncompressed file. It returns the core's size and the space
// it takes on disk.
func writeCoreFile(f *os.File, c *elfcore.Core, l *elfcore.Layout, compress string) (size, onDisk uint64, err error) {
	if compress != "" {
		if err := writeStream(c, l, f, compress); err != nil {
			return 0, 0, err
		}
	} else {
		if err := c.Write(sparseFile{f}, l); err != nil {
			return 0, 0, err
		}
		if err := f.Truncate(int64(l.Size)); err != nil {
			return 0, 0, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size, onDisk = uint64(fi.Size()), uint64(fi.Size())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		onDisk = uint64(st.Blocks) * 512
	}
	return size, onDisk, f.Close()
}

func writeStream(c *elfcore.Core, l *elfcore.Layout, w io.Writer, compress string) error {
	if compress != "zstd" {
		return c.Write(w, l)
	}
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return err
	}
	if err := c.Write(zw, l); err != nil {
		zw.Close()
		return err
	}
	return zw.Close()
}

// sparseFile writes a file in order and leaves holes where the core is zeros.
type sparseFile struct{ f *os.File }

func (s sparseFile) Write(b []byte) (int, error) { return s.f.Write(b) }
func (s sparseFile) Skip(n int64) error {
	_, err := s.f.Seek(n, io.SeekCurrent)
	return err
}

type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += uint64(n)
	return n, err
}
