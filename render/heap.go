package render

import "github.com/pycore/pycore/cpython"

// Heap is a cpython.HeapStats as JSON (pycore heap --json).
type Heap struct {
	Types      []HeapType `json:"types"`
	Objects    int64      `json:"objects"`
	Bytes      int64      `json:"bytes"`
	GCLists    int        `json:"gc_lists"`
	GCObjects  int64      `json:"gc_objects"`
	Referenced int64      `json:"referenced"`
	Skipped    int64      `json:"skipped"`
	Unreadable int64      `json:"unreadable"`
	Method     string     `json:"method"`
	Notes      []string   `json:"notes,omitempty"`
	Live       *Live      `json:"live,omitempty"` // read from a running process, not a core
}

// HeapType is a cpython.HeapType.
type HeapType struct {
	Type  string `json:"type"`
	Count int64  `json:"count"`
	Bytes int64  `json:"bytes"`
}

// Obmalloc is a cpython.Obmalloc (in pycore heap --summary --json).
type Obmalloc struct {
	ArenaSize      int64  `json:"arena_size"`
	PoolSize       int64  `json:"pool_size"`
	Arenas         int64  `json:"arenas"`
	Highwater      int64  `json:"arenas_highwater"`
	Allocated      int64  `json:"arenas_allocated_total"`
	UsedPools      int64  `json:"used_pools"`
	FreePools      int64  `json:"free_pools"`
	AllocatedBytes int64  `json:"allocated_bytes"`
	AvailableBytes int64  `json:"available_bytes"`
	Unreadable     int64  `json:"unreadable,omitempty"`
	Where          string `json:"where"`
}

// HeapOf is s, read from the live process live says (nil for a core), as
// JSON.
func HeapOf(s *cpython.HeapStats, live *Live) *Heap {
	j := &Heap{Objects: s.Objects, Bytes: s.Bytes, GCLists: s.GCLists, GCObjects: s.GCObjects,
		Referenced: s.Referenced, Skipped: s.Skipped, Unreadable: s.Unreadable, Method: s.Method,
		Notes: s.Notes, Live: live}
	if s.Types != nil {
		j.Types = make([]HeapType, len(s.Types))
		for i, t := range s.Types {
			j.Types[i] = HeapType{Type: t.Type, Count: t.Count, Bytes: t.Bytes}
		}
	}
	return j
}

// ObmallocOf is o as JSON, nil for nil.
func ObmallocOf(o *cpython.Obmalloc) *Obmalloc {
	if o == nil {
		return nil
	}
	return &Obmalloc{ArenaSize: o.ArenaSize, PoolSize: o.PoolSize, Arenas: o.Arenas, Highwater: o.Highwater,
		Allocated: o.Allocated, UsedPools: o.UsedPools, FreePools: o.FreePools, AllocatedBytes: o.AllocatedBytes,
		AvailableBytes: o.AvailableBytes, Unreadable: o.Unreadable, Where: o.Where}
}
