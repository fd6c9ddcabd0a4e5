// Package session opens everything pycore needs to look at one core: the
// process image, its symbols and the CPython runtime in it. Commands, tests and
// batch reports all open cores through here.
package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/symbols"
)

// Options gather what the command line says about where files are.
type Options struct {
	Executable string   // the program the core is of, if the user named it
	Sysroot    string   // look for the core's files under this root
	LibPaths   []string // and in these directories by basename
	DebugDirs  []string // detached debug files; nil means /usr/lib/debug
	// Debuginfod fetches missing debug files by build ID; nil: never.
	Debuginfod *symbols.Debuginfod
	Types      cpython.TypesMode

	// Live reads running process PID instead of a core; the path
	// arguments of Open are then only names for messages.
	Live        bool
	PID         int
	NonBlocking bool // read the process without stopping it
	// Direct (with NonBlocking) reads the process's memory on every
	// access instead of copying it (core.LiveOptions.Direct).
	Direct bool
	// Copy (stopping the process) copies the memory a core would hold and
	// resumes the process at once, for a session read at length (the shell),
	// instead of reading it in place while it stays stopped.
	Copy bool
}

// openCore opens the process image: a core file, or a live process.
func openCore(path string, opts Options) (*core.Process, error) {
	copts := core.Options{Sysroot: opts.Sysroot, LibPaths: opts.LibPaths, Executable: opts.Executable}
	if opts.Live {
		return core.OpenPID(opts.PID, copts, core.LiveOptions{NonBlocking: opts.NonBlocking, Direct: opts.Direct, Copy: opts.Copy})
	}
	c, err := core.Open(path, copts)
	if err != nil && errors.Is(err, fs.ErrNotExist) && looksLikePID(path) {
		return nil, fmt.Errorf("%s: no such file; it looks like a process id: to read that running process, give --pid %s", path, path)
	}
	return c, err
}

// looksLikePID is true of a path that is only digits and names a process
// that exists: a user who typed a PID where a core goes.
func looksLikePID(path string) bool {
	if path == "" || len(path) > 10 {
		return false
	}
	for _, r := range path {
		if r < '0' || r > '9' {
			return false
		}
	}
	_, err := os.Stat(filepath.Join("/proc", path))
	return err == nil
}

// Session is an opened core.
type Session struct {
	Core   *core.Process
	Syms   *symbols.Table
	Python *cpython.Process
}

// Open opens a core (or bundle), or the live process opts.PID, and finds
// CPython in it.
func Open(path string, opts Options) (*Session, error) {
	c, err := openCore(path, opts)
	if err != nil {
		return nil, err
	}
	if opts.Executable != "" {
		if err := checkExecutableUsed(c, opts.Executable); err != nil {
			c.Close()
			return nil, err
		}
	}
	s := &Session{Core: c}
	if s.Syms, err = symbols.Load(c, symbols.Options{DebugDirs: opts.DebugDirs, Debuginfod: opts.Debuginfod}); err != nil {
		c.Close()
		return nil, truncated(c, fmt.Errorf("%s: %w", path, err))
	}
	if s.Python, err = cpython.Open(c, s.Syms, cpython.Options{Types: opts.Types}); err != nil {
		s.Close()
		return nil, truncated(c, notPython(c, err))
	}
	return s, nil
}

// notPython says so when a live process without CPython was read, rather
// than why the runtime could not be found in it.
// truncated puts a cut core's truncation first in err: it is the likely
// reason for the failure, and what to fix; what can still be read follows.
func truncated(c *core.Process, err error) error {
	if c.Truncated == nil {
		return err
	}
	return &truncatedError{c: c, err: err}
}

type truncatedError struct {
	c   *core.Process
	err error
}

func (e *truncatedError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), e.c.Path+": ")
	// The process may well be CPython's: what is left does not show it.
	msg = strings.Replace(msg, cpython.ErrNotPython.Error()+": ", "no CPython in what is left: ", 1)
	return fmt.Sprintf("%s: %s; %s; %s", e.c.Path, e.c.Truncated, msg, e.c.Truncated.Left())
}

func (e *truncatedError) Unwrap() error { return e.err }

func notPython(c *core.Process, err error) error {
	if c.Live != nil && !c.MapsPython() {
		name := "?"
		if c.PsInfo != nil {
			name = c.PsInfo.Fname
		}
		return fmt.Errorf("pid %d (%s) is not a Python process: no python executable or libpython is mapped", c.Live.PID, name)
	}
	return err
}

// checkExecutableUsed fails when the user named an executable that matches no
// file of the core: analysing the core with other files would answer a
// question the user did not ask.
func checkExecutableUsed(c *core.Process, exe string) error {
	abs, err := filepath.Abs(exe)
	if err != nil {
		abs = exe
	}
	for _, o := range c.Objects {
		if o.LocalPath == exe || o.LocalPath == abs {
			return nil
		}
	}
	var why []string
	for _, w := range c.Warnings {
		if (w.Kind == core.WarnExecutable || w.Kind == core.WarnBuildID) && (w.File == exe || w.File == abs) {
			why = append(why, w.Text)
		}
	}
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("executable %s matches no file the core maps", exe))
	}
	return fmt.Errorf("%s: %s", c.Path, strings.Join(why, "; "))
}

// Close releases the core, its files and the debug files found for them.
func (s *Session) Close() error {
	var err error
	if s.Syms != nil {
		err = s.Syms.Close()
	}
	if cerr := s.Core.Close(); err == nil {
		err = cerr
	}
	return err
}
