package report

import (
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/symbols"
)

// openSession opens a core the way session.Open does, but releases everything
// it opened on every path: session.Open leaves the symbol table's detached
// debug files mapped when it finds no CPython in the core, and Session.Close
// does not release them either. One command can afford that; a batch of
// thousands of cores cannot (every leaked mapping counts against
// vm.max_map_count). close releases the session.
func openSession(path string, o session.Options) (s *session.Session, close func(), err error) {
	c, err := core.Open(path, core.Options{Sysroot: o.Sysroot, LibPaths: o.LibPaths, Executable: o.Executable})
	if err != nil {
		return nil, nil, err
	}
	syms, err := symbols.Load(c, symbols.Options{DebugDirs: o.DebugDirs})
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	py, err := cpython.Open(c, syms, cpython.Options{Types: o.Types})
	if err != nil {
		syms.Close()
		c.Close()
		return nil, nil, err
	}
	return &session.Session{Core: c, Syms: syms, Python: py}, func() { syms.Close(); c.Close() }, nil
}
