package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// TestGCState reads a kernel core of gcstate.py, taken while its "collector"
// thread is inside gc.collect() (parked in a gc.callbacks callback), and
// checks the collector's state against what the program recorded:
// gc.isenabled(), gc.get_threshold(), gc.get_count(), that a collection is
// running, and in which thread (where libpython's symbols name gc's
// functions on that thread's native stack).
func TestGCState(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		if interp.FreeThreaded() {
			continue // 3.13t keeps its collector's state differently; not read yet
		}
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "gcstate", pytest.Kernel)
			var want struct {
				Enabled    bool    `json:"enabled"`
				Thresholds []int64 `json:"thresholds"`
				Collecting bool    `json:"collecting"`
				Collector  uint64  `json:"collector"`
			}
			raw, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.gc.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			rawCounts, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.gc.counts"))
			if err != nil {
				t.Fatal(err)
			}
			var counts [3]int64
			if _, err := fmt.Sscanf(string(rawCounts), "%d %d %d", &counts[0], &counts[1], &counts[2]); err != nil {
				t.Fatalf("gc.counts %q: %v", rawCounts, err)
			}
			for _, a := range analyses(t, interp) {
				t.Run(a.name, func(t *testing.T) {
					var got render.Snapshot
					out := pycoreOutput(t, append(append([]string{"threads", "--json"}, a.args...), c.Path)...)
					if err := json.Unmarshal(out, &got); err != nil {
						t.Fatalf("threads --json: %v\n%s", err, out)
					}
					g := got.GC
					if g == nil {
						t.Fatal("no gc member")
					}
					if len(g.Errors) > 0 {
						t.Errorf("gc errors: %q", g.Errors)
					}
					// 3.6 keeps collecting and enabled in static ints only a
					// symbol table names.
					flagsKnown := interp.AtLeast(3, 7) || a.name == "dwarf"
					if flagsKnown || g.Enabled != nil {
						if g.Enabled == nil || *g.Enabled != want.Enabled {
							t.Errorf("enabled: pycore %v, gc.isenabled() %v", deref(g.Enabled), want.Enabled)
						}
					}
					if flagsKnown || g.Collecting != nil {
						if g.Collecting == nil || *g.Collecting != want.Collecting {
							t.Errorf("collecting: pycore %v, want %v", deref(g.Collecting), want.Collecting)
						}
					}
					if !reflect.DeepEqual(g.Thresholds, want.Thresholds) {
						t.Errorf("thresholds: pycore %v, gc.get_threshold() %v", g.Thresholds, want.Thresholds)
					}
					// counts[0] may be one higher: the tuple gc.get_count()
					// returned is alive at the core and counts when it did not
					// come from a freelist.
					if len(g.Counts) != 3 || g.Counts[1] != counts[1] || g.Counts[2] != counts[2] ||
						g.Counts[0] != counts[0] && g.Counts[0] != counts[0]+1 {
						t.Errorf("counts: pycore %v, gc.get_count() %v right before the core", g.Counts, counts)
					}
					switch {
					case g.Collecting == nil: // no collection known, so no thread
					case g.Thread != nil:
						if *g.Thread != want.Collector {
							t.Errorf("collecting thread: pycore %#x, the collector is %#x", *g.Thread, want.Collector)
						}
					case a.name == "dwarf":
						t.Errorf("collecting thread unknown with debug info: %q", g.ThreadNote)
					case g.ThreadNote == "":
						t.Errorf("collecting thread unknown and no note says why")
					}
					text := string(pycoreOutput(t, append(append([]string{"threads"}, a.args...), c.Path)...))
					wantLine := fmt.Sprintf("GC: disabled, collecting in thread %#x", want.Collector)
					if g.Thread == nil {
						wantLine = "GC: disabled, collecting (which thread: unknown)"
					}
					if g.Collecting == nil {
						wantLine = "GC: disabled, counts"
						if g.Enabled == nil {
							wantLine = "GC: counts"
						}
					}
					if !strings.Contains(text, "\n"+wantLine) {
						t.Errorf("text output lacks %q:\n%s", wantLine, head(text, 8))
					}
				})
			}
		})
	}
}
