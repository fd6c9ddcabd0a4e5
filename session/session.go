// Package session opens everything pycore needs to look at one core: the
// process image, its symbols and the CPython runtime in it. Commands, tests and
// batch reports all open cores through here.
package session

import (
	"fmt"

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
	Types      cpython.TypesMode
}

// Session is an opened core.
type Session struct {
	Core   *core.Process
	Syms   *symbols.Table
	Python *cpython.Process
}

// Open opens a core (or bundle) and finds CPython in it.
func Open(path string, opts Options) (*Session, error) {
	c, err := core.Open(path, core.Options{Sysroot: opts.Sysroot, LibPaths: opts.LibPaths, Executable: opts.Executable})
	if err != nil {
		return nil, err
	}
	s := &Session{Core: c}
	if s.Syms, err = symbols.Load(c, symbols.Options{DebugDirs: opts.DebugDirs}); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Python, err = cpython.Open(c, s.Syms, cpython.Options{Types: opts.Types}); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the core and its files.
func (s *Session) Close() error { return s.Core.Close() }
