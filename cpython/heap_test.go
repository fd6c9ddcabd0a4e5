package cpython_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/internal/pytest"
)

// heapOracle is what testdata/scenarios/heap.py recorded about itself.
type heapOracle struct {
	GCCounts map[string]int64 `json:"gc_counts"`
	Sizes    map[string]int64 `json:"sizes"`
	Samples  []struct {
		ID   uint64 `json:"id"`
		Type string `json:"type"`
		Size int64  `json:"size"`
	} `json:"samples"`
}

// TestHeapCountsMatchGC walks the heap of a core of heap.py and compares with
// what the program recorded before it died: gc.get_objects() counts of its
// own types (exact), the sum of sys.getsizeof of their instances (within 1%),
// and sys.getsizeof of one sample object of each built-in kind (exact).
func TestHeapCountsMatchGC(t *testing.T) {
	for _, interp := range reprInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			if interp.FreeThreaded() {
				t.Skip("free-threaded builds: the heap walk over mimalloc is not written yet")
			}
			for _, kind := range []pytest.CoreKind{pytest.Kernel, pytest.Gcore} {
				kind := kind
				c := pytest.MakeCore(t, interp, "heap", kind)
				raw, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.heap.json"))
				if err != nil {
					t.Fatal(err)
				}
				var want heapOracle
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatal(err)
				}
				for _, a := range analysesOf(t, interp) {
					t.Run(string(kind)+"/"+a.name, func(t *testing.T) {
						s := openCore(t, c.Path, a.opts)
						objs := map[core.Address]cpython.HeapObject{}
						stats, err := s.Python.WalkHeap(func(o cpython.HeapObject) { objs[o.Address] = o })
						if err != nil {
							t.Fatalf("WalkHeap: %v", err)
						}
						got := map[string]cpython.HeapType{}
						for _, ht := range stats.Types {
							got[ht.Type] = ht
						}
						for typ, n := range want.GCCounts {
							if got[typ].Count != n {
								t.Errorf("%s: %d objects, gc.get_objects() had %d", typ, got[typ].Count, n)
							}
						}
						for typ, b := range want.Sizes {
							if d := got[typ].Bytes - b; d*100 > b || -d*100 > b {
								t.Errorf("%s: %d bytes, sys.getsizeof summed to %d", typ, got[typ].Bytes, b)
							}
						}
						for _, smp := range want.Samples {
							o, ok := objs[core.Address(smp.ID)]
							if !ok {
								t.Errorf("%s at %#x: not found", smp.Type, smp.ID)
								continue
							}
							if name := s.Python.TypeName(o.Type); name != smp.Type {
								t.Errorf("%#x: type %s, want %s", smp.ID, name, smp.Type)
							}
							if o.Size != smp.Size {
								t.Errorf("%s at %#x: size %d, sys.getsizeof said %d", smp.Type, smp.ID, o.Size, smp.Size)
							}
						}
						if stats.Skipped != 0 {
							t.Errorf("skipped %d on an undamaged core: %v", stats.Skipped, stats.Notes)
						}
					})
				}
			}
		})
	}
}
