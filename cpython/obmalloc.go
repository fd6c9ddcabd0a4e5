package cpython

import (
	"errors"
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// Obmalloc is what CPython's small-object allocator (pymalloc) holds, counted
// the way sys._debugmallocstats() counts it: arenas, the pools carved from
// them, and the blocks of those pools in use and free.
type Obmalloc struct {
	ArenaSize int64
	PoolSize  int64
	// Arenas is how many arenas are allocated now; Highwater the most there
	// ever were at once; Allocated how many were ever allocated.
	Arenas    int64
	Highwater int64
	Allocated int64
	// UsedPools hold at least one block in use; FreePools none (either
	// returned or never carved from their arena).
	UsedPools int64
	FreePools int64
	// AllocatedBytes are the blocks in use, AvailableBytes the free blocks
	// of used pools (sys._debugmallocstats' "bytes in allocated blocks" and
	// "bytes in available blocks").
	AllocatedBytes int64
	AvailableBytes int64
	// Unreadable counts arenas and pool headers the core does not hold.
	Unreadable int64
	// Where says which variable the arena table was read from.
	Where string
	// Ranges are the allocated arenas' address ranges, [start, end).
	Ranges [][2]core.Address
}

// obmallocRoots are where the arena table lives, as expressions over the
// interpreter's DWARF: the static globals of Objects/obmalloc.c up to 3.11,
// the main interpreter's obmalloc state from 3.12 (embedded in 3.12, a
// pointer from 3.13; '.' follows either). The first that evaluates is used,
// so no version decides it.
var obmallocRoots = []string{
	"_PyRuntime.interpreters.main.obmalloc.mgmt.",
	"",
}

// maxArenas bounds the arena table read from an untrusted core: 2^18 arenas
// of 1 MiB are 256 GiB of Python objects.
const maxArenas = 1 << 18

// ErrNoObmalloc says pymalloc's state could not be located.
var ErrNoObmalloc = errors.New("pymalloc's arenas not located")

// obmallocVars are the allocator's globals that are read.
type obmallocVars struct {
	where                                string
	arenas                               core.Address // the arena_object table
	arenaType                            *typesys.Type
	maxarenas, highwater, total, current int64
}

// ReadObmalloc reads pymalloc's arena table through eval, which evaluates an
// expression over the process's types (session.Query.Eval): the arena globals
// are static, so only debug info names them. Where link-time optimisation
// renamed them (arenas.lto_priv.0 in Debian's builds) and the DWARF has no
// location for them, the symbols give the addresses and the DWARF the types.
func (p *Process) ReadObmalloc(eval func(expr string) (typesys.Value, error)) (*Obmalloc, error) {
	if p.FreeThreaded {
		return nil, fmt.Errorf("%w: a free-threaded build allocates objects with mimalloc, which pycore does not read yet", ErrNoObmalloc)
	}
	if p.R.PtrSize != 8 {
		return nil, fmt.Errorf("%w: only 64-bit builds are known", ErrNoObmalloc)
	}
	var lastErr error
	for _, prefix := range obmallocRoots {
		v, err := p.obmallocByName(prefix, eval)
		if err == nil {
			return p.readArenas(v, eval)
		}
		lastErr = err
	}
	if v, err := p.obmallocBySymbol(eval); err == nil {
		return p.readArenas(v, eval)
	}
	return nil, fmt.Errorf("%w (they are static variables, named only by debug info: give the interpreter's with --debug-dir): %v", ErrNoObmalloc, lastErr)
}

func (p *Process) obmallocByName(prefix string, eval func(string) (typesys.Value, error)) (*obmallocVars, error) {
	arenas, err := eval(prefix + "arenas")
	if err != nil {
		return nil, err
	}
	v := &obmallocVars{where: prefix + "arenas"}
	if v.arenas, err = arenas.Ptr(); err != nil {
		return nil, fmt.Errorf("pymalloc's arena table: %w", err)
	}
	v.arenaType = arenas.Type.Resolve().Elem
	num := func(name string) (int64, error) {
		x, err := eval(prefix + name)
		if err != nil {
			return 0, err
		}
		u, err := x.Uint()
		return int64(u), err
	}
	if v.maxarenas, err = num("maxarenas"); err != nil {
		return nil, fmt.Errorf("pymalloc's maxarenas: %w", err)
	}
	v.highwater, _ = num("narenas_highwater")
	v.total, _ = num("ntimes_arena_allocated")
	v.current, _ = num("narenas_currently_allocated")
	return v, nil
}

// obmallocBySymbol finds the 3.6-3.11 globals by their (possibly LTO-renamed)
// symbols.
func (p *Process) obmallocBySymbol(eval func(string) (typesys.Value, error)) (*obmallocVars, error) {
	sym := func(name string) (symbols.Symbol, bool) {
		if s, ok := p.lookup(name); ok {
			return s, true
		}
		for i := range 4 {
			if s, ok := p.lookup(fmt.Sprintf("%s.lto_priv.%d", name, i)); ok {
				return s, true
			}
		}
		return symbols.Symbol{}, false
	}
	num := func(name string) (int64, error) {
		s, ok := sym(name)
		if !ok || s.Size == 0 || s.Size > 8 {
			return 0, fmt.Errorf("no symbol %s", name)
		}
		u, err := p.R.Uint(s.Addr, int(s.Size))
		return int64(u), err
	}
	a, ok := sym("arenas")
	if !ok || a.Size != 8 {
		return nil, errors.New("no symbol arenas")
	}
	t, err := eval("(struct arena_object *)0")
	if err != nil {
		return nil, fmt.Errorf("struct arena_object: %w", err)
	}
	v := &obmallocVars{where: a.Name + " (by its symbol)", arenaType: t.Type.Resolve().Elem}
	if v.arenas, err = p.R.Ptr(a.Addr); err != nil {
		return nil, fmt.Errorf("pymalloc's arena table: %w", err)
	}
	if v.maxarenas, err = num("maxarenas"); err != nil {
		return nil, err
	}
	v.highwater, _ = num("narenas_highwater")
	v.total, _ = num("ntimes_arena_allocated")
	v.current, _ = num("narenas_currently_allocated")
	return v, nil
}

func (p *Process) readArenas(v *obmallocVars, eval func(string) (typesys.Value, error)) (*Obmalloc, error) {
	o := &Obmalloc{Where: v.where, Highwater: v.highwater, Allocated: v.total}
	o.ArenaSize, o.PoolSize = p.flavor.ArenaSize, p.flavor.PoolSize
	if v.maxarenas < 0 || v.maxarenas > maxArenas {
		return nil, fmt.Errorf("pymalloc's maxarenas is %d, more than %d: the core is damaged", v.maxarenas, maxArenas)
	}
	arenaType := v.arenaType
	if arenaType == nil || arenaType.Size <= 0 {
		return nil, fmt.Errorf("pymalloc's arena table has no element type")
	}
	pool, err := eval("(struct pool_header *)0")
	if err != nil {
		return nil, fmt.Errorf("pymalloc's struct pool_header: %w", err)
	}
	poolType := pool.Type.Resolve().Elem
	if poolType == nil || poolType.Size <= 0 {
		return nil, fmt.Errorf("pymalloc's struct pool_header has no size")
	}
	// POOL_OVERHEAD: the header rounded up to the alignment (16 or 8; the
	// header's 48 bytes are a multiple of both).
	poolHeader := (poolType.Size + 15) &^ 15
	for i := range v.maxarenas {
		a := typesys.At(p.R, arenaType, v.arenas+core.Address(i*arenaType.Size))
		addr, err := memberUint(a, "address")
		if err != nil {
			o.Unreadable++
			continue
		}
		if addr == 0 {
			continue // an unused arena_object
		}
		o.Arenas++
		start := core.Address(addr)
		o.Ranges = append(o.Ranges, [2]core.Address{start, start + core.Address(o.ArenaSize)})
		carvedTo, err1 := memberUint(a, "pool_address")
		free, err2 := memberUint(a, "nfreepools")
		total, err3 := memberUint(a, "ntotalpools")
		if err1 != nil || err2 != nil || err3 != nil {
			o.Unreadable++
			continue
		}
		// The first pool starts at the arena's first pool-aligned address; an
		// arena that mmap did not align loses one pool.
		first := (addr + uint64(o.PoolSize) - 1) &^ uint64(o.PoolSize-1)
		perArena := uint64(o.ArenaSize / o.PoolSize)
		if total != perArena && total != perArena-1 {
			return nil, fmt.Errorf("pymalloc arena %d has %d pools, not the %d a %d KiB arena of %d KiB pools has: this build's geometry is not the one known for %s",
				i, total, perArena, o.ArenaSize>>10, o.PoolSize>>10, p.Version.Series())
		}
		if carvedTo < first || carvedTo > first+total*uint64(o.PoolSize) {
			o.Unreadable++
			continue
		}
		o.FreePools += int64(free)
		for at := first; at < carvedTo; at += uint64(o.PoolSize) {
			count, size, ok := poolUse(typesys.At(p.R, poolType, core.Address(at)), o.PoolSize)
			if !ok {
				o.Unreadable++
				continue
			}
			if count == 0 {
				continue // on the arena's free list, counted in nfreepools
			}
			blocks := (o.PoolSize - poolHeader) / size
			if count > blocks {
				o.Unreadable++
				continue
			}
			o.UsedPools++
			o.AllocatedBytes += count * size
			o.AvailableBytes += (blocks - count) * size
		}
	}
	if v.current != 0 && v.current != o.Arenas {
		o.Unreadable += abs64(v.current - o.Arenas)
	}
	return o, nil
}

// poolUse reads a pool header: its blocks in use and its block size, which
// init_pool records as maxnextoffset = POOL_SIZE - size.
func poolUse(h typesys.Value, poolSize int64) (count, size int64, ok bool) {
	c, err := h.Path("ref.count")
	if err != nil {
		return 0, 0, false
	}
	cu, err := c.Uint()
	if err != nil {
		return 0, 0, false
	}
	if cu == 0 {
		return 0, 0, true
	}
	m, err := memberUint(h, "maxnextoffset")
	if err != nil {
		return 0, 0, false
	}
	size = poolSize - int64(m)
	if size < 8 || size > 512 || size%8 != 0 {
		return 0, 0, false
	}
	return int64(cu), size, true
}

func memberUint(v typesys.Value, name string) (uint64, error) {
	m, err := v.Member(name)
	if err != nil {
		return 0, err
	}
	if m.Type != nil && m.Type.Kind == typesys.Pointer {
		a, err := m.Ptr()
		return uint64(a), err
	}
	return m.Uint()
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
