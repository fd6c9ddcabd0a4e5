package session

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/query"
	"github.com/pycore/pycore/typesys"
)

// MemoryKind is one kind of the process's mapped memory.
type MemoryKind struct {
	Kind  string `json:"kind"`
	Bytes uint64 `json:"bytes"`
	// Count is how many mappings (files, stacks, arenas) make it up.
	Count int `json:"count"`
}

// MemoryFile is one mapped file's share.
type MemoryFile struct {
	Path  string `json:"path"`
	Bytes uint64 `json:"bytes"`
}

// Memory is where a process's mapped memory went: its kinds add up to Total.
type Memory struct {
	Total uint64
	Kinds []MemoryKind
	// Files are the mapped files, largest first.
	Files []MemoryFile
	// Obmalloc is pymalloc's own account of its arenas; ObmallocErr says why
	// it is missing.
	Obmalloc    *cpython.Obmalloc
	ObmallocErr string
}

// The kinds of memory.
const (
	KindArenas = "pymalloc arenas (small Python objects)"
	KindStacks = "thread stacks"
	KindAnon   = "other anonymous memory (C heap, large objects, mmap)"
	KindFiles  = "mapped files"
)

// Memory sorts every mapping of the process into kinds: thread stacks (the
// anonymous mappings a thread's stack pointer is in), pymalloc's arenas
// (from the interpreter's arena table, which needs its debug info), the rest
// of anonymous memory, and mapped files.
func (s *Session) Memory() *Memory {
	m := &Memory{}
	var arenas [][2]core.Address
	if s.Python != nil {
		q := NewQuery(s, cpython.TypesAuto, nil)
		eval := func(expr string) (typesys.Value, error) {
			r, err := q.Eval(expr)
			if err != nil {
				return typesys.Value{}, err
			}
			if r.Kind != query.ValueResult {
				return typesys.Value{}, fmt.Errorf("%s is not a value", expr)
			}
			return r.Value, nil
		}
		o, err := s.Python.ReadObmalloc(eval)
		if err != nil {
			m.ObmallocErr = err.Error()
		} else {
			m.Obmalloc = o
			arenas = o.Ranges
		}
	} else {
		m.ObmallocErr = "no CPython runtime found"
	}
	slices.SortFunc(arenas, func(a, b [2]core.Address) int { return cmp.Compare(a[0], b[0]) })

	// In the order they are listed; the indexes name them below.
	m.Kinds = []MemoryKind{{Kind: KindArenas}, {Kind: KindStacks}, {Kind: KindAnon}, {Kind: KindFiles}}
	arenaK, stacks, anon, mapped := &m.Kinds[0], &m.Kinds[1], &m.Kinds[2], &m.Kinds[3]
	files := map[string]uint64{}
	for _, mp := range s.Core.Mappings {
		size := uint64(mp.End - mp.Start)
		m.Total += size
		if mp.Path != "" {
			mapped.Bytes += size
			mapped.Count++
			files[mp.Path] += size
			continue
		}
		if s.hasStackPointer(mp) {
			stacks.Bytes += size
			stacks.Count++
			continue
		}
		in := min(arenaBytesIn(arenas, mp.Start, mp.End), size) // overlapping arenas of a damaged core
		arenaK.Bytes += in
		anon.Bytes += size - in
		if size > in {
			anon.Count++
		}
	}
	if m.Obmalloc != nil {
		arenaK.Count = len(arenas)
	}
	for p, b := range files {
		m.Files = append(m.Files, MemoryFile{Path: p, Bytes: b})
	}
	slices.SortFunc(m.Files, func(a, b MemoryFile) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Path, b.Path))
	})
	return m
}

// hasStackPointer reports whether a thread's stack pointer lies in mp.
func (s *Session) hasStackPointer(mp *core.Mapping) bool {
	for _, t := range s.Core.Threads {
		sp := core.Address(t.Regs.RSP)
		if sp >= mp.Start && sp < mp.End {
			return true
		}
	}
	return false
}

// arenaBytesIn is how much of [start, end) the sorted arena ranges cover.
func arenaBytesIn(arenas [][2]core.Address, start, end core.Address) uint64 {
	var n uint64
	i, _ := slices.BinarySearchFunc(arenas, start, func(a [2]core.Address, t core.Address) int {
		return cmp.Compare(a[1], t+1)
	})
	for ; i < len(arenas) && arenas[i][0] < end; i++ {
		lo, hi := max(arenas[i][0], start), min(arenas[i][1], end)
		if hi > lo {
			n += uint64(hi - lo)
		}
	}
	return n
}
