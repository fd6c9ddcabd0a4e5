package cpython_test

import (
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
				var want heapOracle
				c.SideOracle(t, "heap.json", &want)
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

// refsOracle is what heap.py recorded of its referrers and its chain.
type refsOracle struct {
	Referrers struct {
		Target uint64 `json:"target"`
		Refs   []struct {
			ID   uint64 `json:"id"`
			Type string `json:"type"`
		} `json:"refs"`
	} `json:"referrers"`
	Chain struct {
		Target uint64   `json:"target"`
		Steps  []uint64 `json:"steps"`
	} `json:"chain"`
}

// TestHeapReferrersAndPath checks Referrers against gc.get_referrers that
// heap.py recorded (the same objects, each said how), and PathTo against the
// one chain the program built to keep an object alive.
func TestHeapReferrersAndPath(t *testing.T) {
	for _, interp := range reprInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			if interp.FreeThreaded() {
				t.Skip("free-threaded builds: the heap walk over mimalloc is not written yet")
			}
			c := pytest.MakeCore(t, interp, "heap", pytest.Kernel)
			var want refsOracle
			c.SideOracle(t, "heap.json", &want)
			for _, a := range analysesOf(t, interp) {
				t.Run(a.name, func(t *testing.T) {
					s := openCore(t, c.Path, a.opts)
					refs, _, err := s.Python.Referrers(core.Address(want.Referrers.Target))
					if err != nil {
						t.Fatalf("Referrers: %v", err)
					}
					got := map[uint64][]string{}
					for _, r := range refs {
						got[uint64(r.Address)] = append(got[uint64(r.Address)], r.Via)
					}
					wantIDs := map[uint64]bool{}
					for _, r := range want.Referrers.Refs {
						wantIDs[r.ID] = true
						if len(got[r.ID]) == 0 {
							t.Errorf("referrer %s at %#x (gc.get_referrers) not found; got %+v", r.Type, r.ID, refs)
						}
					}
					for _, r := range refs {
						if !wantIDs[uint64(r.Address)] {
							t.Errorf("referrer %s at %#x (%s) is not one gc.get_referrers gave", r.Type, uint64(r.Address), r.Via)
						}
					}
					vias := map[string]bool{}
					for _, r := range refs {
						vias[r.Type+" "+r.Via] = true
					}
					attr := "__main__.Holder .attr"
					if !interp.AtLeast(3, 11) {
						attr = "dict ['attr']"
					}
					for _, v := range []string{`dict global "REF_TARGET"`, "list [1]", "dict ['key']", attr} {
						if !vias[v] {
							t.Errorf("no referrer %q in %v", v, vias)
						}
					}

					path, err := s.Python.PathTo(core.Address(want.Chain.Target))
					if err != nil {
						t.Fatalf("PathTo: %v", err)
					}
					// sys.modules, the module, then the recorded steps, then
					// the target: the only chain there is.
					if len(path) != 2+len(want.Chain.Steps)+1 {
						t.Fatalf("path of %d steps, want %d: %+v", len(path), 3+len(want.Chain.Steps), path)
					}
					if path[0].Type != "sys.modules" || path[0].Via != `["__main__"]` || path[1].Type != "module" || path[1].Via != "__dict__" {
						t.Errorf("path does not start at sys.modules['__main__']: %+v", path[:2])
					}
					for i, id := range want.Chain.Steps {
						if uint64(path[2+i].Address) != id {
							t.Errorf("step %d: %#x (%s), the program's chain has %#x", 2+i, uint64(path[2+i].Address), path[2+i].Type, id)
						}
					}
					if last := path[len(path)-1]; uint64(last.Address) != want.Chain.Target || last.Type != "__main__.Target" {
						t.Errorf("path ends at %+v, want the Target at %#x", last, want.Chain.Target)
					}
					wantVia := []string{`global "CHAIN"`, "['inner']", "[3]", ".attr"}
					if !interp.AtLeast(3, 11) {
						wantVia = []string{`global "CHAIN"`, "['inner']", "[3]", "__dict__", "['attr']"}
					}
					for i, v := range wantVia {
						if 2+i < len(path) && path[2+i].Via != v {
							t.Errorf("step %d (%s) via %q, want %q", 2+i, path[2+i].Type, path[2+i].Via, v)
						}
					}
				})
			}
		})
	}
}
