package cpython

import (
	"errors"
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// GCInfo is the cyclic garbage collector's state as the gc module reports
// it: gc.isenabled(), gc.get_count(), gc.get_threshold(), and whether a
// collection is running. Members are null where this build's layout does
// not say where they are.
type GCInfo struct {
	Enabled    *bool
	Collecting *bool
	Counts     []int64 // gc.get_count()
	Thresholds []int64 // gc.get_threshold()
	// Thread is the thread running the collection, from its native stack
	// (a frame in the gc module's C functions); null when none is, or
	// nobody could tell. ThreadLWP is its kernel thread.
	Thread    *uint64
	ThreadLWP *int64
	// ThreadNote says why the collecting thread is unknown, when it is.
	ThreadNote string
	Errors     []string
}

// numGenerations is NUM_GENERATIONS, 3 on every version (3.14's
// incremental collector was reverted to three generations in 3.14.x).
const numGenerations = 3

// gcLayout says where the gc state's members are, relative to its start.
type gcLayout struct {
	generations, stride int64 // the gc_generation array and its element size
	threshold, count    int64 // within a gc_generation
	collecting, enabled int64 // -1 when unknown
}

// gcMember finds a member of struct _gc_runtime_state: in the struct itself
// (DWARF, or what the debug offsets say of it), else as "gc.NAME" of the
// struct that embeds it (the generated tables).
func (p *Process) gcMember(name string) int64 {
	if o := p.offsetIn("struct _gc_runtime_state", name); o >= 0 {
		return o
	}
	outer := p.flavor.GC.Outer()
	base, o := p.offsetIn(outer, "gc"), p.offsetIn(outer, "gc."+name)
	if base < 0 || o < base {
		return -1
	}
	return o - base
}

// newGCLayout works out gcLayout for this version. struct gc_generation is
// { PyGC_Head head; int threshold; int count; } on every version; PyGC_Head
// is 32 bytes (a union with a long double, 16-aligned) before 3.8, and 16
// from 3.8.
func (p *Process) newGCLayout() (*gcLayout, error) {
	hdr := p.gcHeaderSize()
	align := int64(p.R.PtrSize)
	if hdr > 2*int64(p.R.PtrSize) {
		align = 16
	}
	l := &gcLayout{threshold: hdr, count: hdr + 4, stride: abi.AlignUp(hdr+8, align), collecting: -1, enabled: -1}
	if t, err := p.Types.Struct("struct gc_generation"); err == nil && t.Resolve() != nil && t.Resolve().Size > 0 {
		th, err1 := memberOffset(t, "threshold")
		co, err2 := memberOffset(t, "count")
		if err1 == nil && err2 == nil {
			l.threshold, l.count, l.stride = th, co, t.Resolve().Size
		}
	}
	if p.flavor.GC == abi.GCStatic {
		// 3.6: static globals of gcmodule.c; gcState gives generations[0].
		return l, nil
	}
	l.generations = p.gcMember("generations")
	l.collecting = p.gcMember("collecting")
	l.enabled = p.gcMember("enabled")
	if l.generations < 0 {
		if k, ok := abi.GCCheckedLayout(p.DebugOffsets, p.flavor, p.Version, p.FreeThreaded, p.Debug); ok {
			l.generations, l.enabled = k.Generations, k.Enabled
		}
	}
	if l.generations < 0 {
		return l, fmt.Errorf("%s does not say where the GC's generations are", p.Types.Describe())
	}
	return l, nil
}

// gcInfo reads the collector's state of the main interpreter.
func (p *Process) gcInfo() *GCInfo {
	g := &GCInfo{}
	base, _, err := p.gcState()
	if err != nil {
		g.Errors = append(g.Errors, err.Error())
		return g
	}
	l, lerr := p.newGCLayout()
	readInt := func(a core.Address) (int64, error) {
		u, err := p.R.Uint32(a)
		return int64(int32(u)), err
	}
	flag := func(off int64, what string) *bool {
		if off < 0 {
			return nil
		}
		v, err := readInt(base.Add(off))
		if err != nil {
			g.Errors = append(g.Errors, fmt.Sprintf("%s: %v", what, err))
			return nil
		}
		b := v != 0
		return &b
	}
	if p.flavor.GC == abi.GCStatic {
		// 3.6 keeps collecting and enabled in static ints that only a
		// symbol table names.
		if p.Module != nil {
			for _, f := range []struct {
				name string
				dst  **bool
			}{{"collecting", &g.Collecting}, {"enabled", &g.Enabled}} {
				if s, ok := p.Module.Lookup(f.name); ok && !s.Func {
					if v, err := readInt(s.Addr); err == nil {
						b := v != 0
						*f.dst = &b
					}
				}
			}
		}
	} else {
		g.Collecting = flag(l.collecting, "collecting")
		g.Enabled = flag(l.enabled, "enabled")
	}
	if p.FreeThreaded {
		return g // 3.13t+ counts per thread and per heap: counts and thresholds not read yet
	}
	if lerr != nil {
		g.Errors = append(g.Errors, lerr.Error())
		return g
	}
	var counts, thresholds []int64
	var errs []error
	for i := int64(0); i < numGenerations; i++ {
		gen := base.Add(l.generations + i*l.stride)
		c, err1 := readInt(gen.Add(l.count))
		t, err2 := readInt(gen.Add(l.threshold))
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("generation %d at %#x: %w", i, uint64(gen), err))
			break
		}
		counts, thresholds = append(counts, c), append(thresholds, t)
	}
	if len(errs) > 0 {
		g.Errors = append(g.Errors, errors.Join(errs...).Error())
		return g
	}
	g.Counts, g.Thresholds = counts, thresholds
	return g
}
