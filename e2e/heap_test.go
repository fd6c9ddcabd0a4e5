package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
)

// TestHeapCommand runs `pycore heap --json` and `--type` on a core of heap.py
// and checks the counts of the program's own types against what
// gc.get_objects() said before it died.
func TestHeapCommand(t *testing.T) {
	all, err := pytest.Discover()
	if err != nil || len(all) == 0 {
		t.Skipf("no interpreters: %v", err)
	}
	for _, interp := range pytest.Select(all) {
		interp := interp
		if interp.FreeThreaded() || !interp.AtLeast(3, 6) {
			continue
		}
		t.Run(interp.Name(), func(t *testing.T) {
			c := pytest.MakeCore(t, interp, "heap", pytest.Kernel)
			raw, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.heap.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				GCCounts map[string]int64 `json:"gc_counts"`
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			args := []string{"heap", "--json", "--top", "1000", c.Path}
			if interp.DebugDir != "" {
				args = append(args, "--debug-dir", interp.DebugDir)
			}
			var got struct {
				Types []struct {
					Type  string `json:"type"`
					Count int64  `json:"count"`
				} `json:"types"`
			}
			out := pycoreOutput(t, args...)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("heap --json: %v\n%s", err, out)
			}
			counts := map[string]int64{}
			for _, ty := range got.Types {
				counts[ty.Type] = ty.Count
			}
			for typ, n := range want.GCCounts {
				if counts[typ] != n {
					t.Errorf("%s: pycore heap counts %d, gc.get_objects() had %d", typ, counts[typ], n)
				}
			}
			targs := []string{"heap", "--type", "__main__.Node", c.Path}
			if interp.DebugDir != "" {
				targs = append(targs, "--debug-dir", interp.DebugDir)
			}
			text := string(pycoreOutput(t, targs...))
			if !strings.HasPrefix(text, "2 object(s) of type __main__.Node\n") || strings.Count(text, "<__main__.Node object at 0x") != 2 {
				t.Errorf("heap --type __main__.Node:\n%s", text)
			}
		})
	}
}
