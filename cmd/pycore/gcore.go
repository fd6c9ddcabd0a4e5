package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

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
	d, err := core.DumpPID(pid)
	if err != nil {
		return err
	}
	defer d.Close()
	layout, err := d.Core.Plan()
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	written, err := writeCore(&d.Core, layout, out, stdout, compress)
	if err != nil {
		return err
	}
	where := out
	if out == "-" {
		where = "standard output"
	}
	fmt.Fprintf(msg, "Saved corefile %s: %d threads, %s of memory, %s written, process paused %.1f ms\n",
		where, len(d.Core.Threads), mapsHumanBytes(d.Copied), mapsHumanBytes(written), float64(d.Paused.Microseconds())/1000)
	if d.GuardPages > 0 {
		fmt.Fprintf(msg, "%d guard pages (MADV_GUARD_INSTALL, as glibc puts in thread stacks) have no contents: they are zeros in the core\n", d.GuardPages)
	}
	if d.UnreadablePages > 0 {
		fmt.Fprintf(msg, "%d pages inside dumped mappings could not be read: they are zeros in the core\n", d.UnreadablePages)
	}
	return nil
}

// writeCore writes the core to out (or stdout for "-"), through a temporary
// file renamed into place, so a failed write leaves no partial core. Zero
// pages become holes in an uncompressed file. It returns the bytes written.
func writeCore(c *elfcore.Core, l *elfcore.Layout, out string, stdout io.Writer, compress string) (uint64, error) {
	if out == "-" {
		cw := &countWriter{w: stdout}
		err := writeStream(c, l, cw, compress)
		return cw.n, err
	}
	dir := filepath.Dir(out)
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp*")
	if err != nil {
		return 0, fmt.Errorf("create the core in %s: %w", dir, err)
	}
	tmp := f.Name()
	fail := func(err error) (uint64, error) {
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("write %s: %w", out, err)
	}
	if compress != "" {
		if err := writeStream(c, l, f, compress); err != nil {
			return fail(err)
		}
	} else {
		if err := c.Write(sparseFile{f}, l); err != nil {
			return fail(err)
		}
		if err := f.Truncate(int64(l.Size)); err != nil {
			return fail(err)
		}
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write %s: %w", out, err)
	}
	return uint64(size), nil
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
