package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
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
			// The same objects through eval's objects() built-in.
			eargs := []string{"eval", "--json", c.Path, `objects("__main__.Plain", 100000)`, `objects("collections.deque", 100000)`}
			if interp.DebugDir != "" {
				eargs = append(eargs, "--debug-dir", interp.DebugDir)
			}
			var listed []struct {
				Items []struct {
					Value uint64 `json:"value"`
				} `json:"items"`
			}
			eout := pycoreOutput(t, eargs...)
			if err := json.Unmarshal(eout, &listed); err != nil || len(listed) != 2 {
				t.Fatalf("eval --json objects(): %v\n%s", err, eout)
			}
			for i, typ := range []string{"__main__.Plain", "collections.deque"} {
				if n := int64(len(listed[i].Items)); n != want.GCCounts[typ] {
					t.Errorf("objects(%q) lists %d, gc.get_objects() had %d", typ, n, want.GCCounts[typ])
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

// TestHeapSummaryMatchesDebugMallocStats runs `pycore heap --summary --json` on a core of
// heap.py and checks pymalloc's arenas, pools and block bytes against what
// sys._debugmallocstats() printed right before os.abort(); the kinds of memory must add
// up to every mapping of the core. Without debug info (the stripped system build, no
// debug directory) the arenas cannot be located, and the summary must say so.
func TestHeapSummaryMatchesDebugMallocStats(t *testing.T) {
	all, err := pytest.Discover()
	if err != nil || len(all) == 0 {
		t.Skipf("no interpreters: %v", err)
	}
	for _, interp := range pytest.Select(all) {
		interp := interp
		if !interp.AtLeast(3, 6) {
			continue
		}
		t.Run(interp.Name(), func(t *testing.T) {
			c := pytest.MakeCore(t, interp, "heap", pytest.Kernel)
			args := []string{"heap", "--summary", "--json", c.Path}
			if interp.DebugDir != "" {
				args = append(args, "--debug-dir", interp.DebugDir)
			}
			var got struct {
				Total uint64 `json:"total"`
				Kinds []struct {
					Kind  string `json:"kind"`
					Bytes uint64 `json:"bytes"`
					Count int    `json:"count"`
				} `json:"kinds"`
				Obmalloc *struct {
					Arenas         int64 `json:"arenas"`
					ArenaSize      int64 `json:"arena_size"`
					PoolSize       int64 `json:"pool_size"`
					FreePools      int64 `json:"free_pools"`
					AllocatedBytes int64 `json:"allocated_bytes"`
					AvailableBytes int64 `json:"available_bytes"`
					Unreadable     int64 `json:"unreadable"`
				} `json:"obmalloc"`
				ObmallocErr string `json:"obmalloc_error"`
				Objects     int64  `json:"python_objects"`
			}
			out := pycoreOutput(t, args...)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("heap --summary --json: %v\n%s", err, out)
			}
			var sum uint64
			for _, k := range got.Kinds {
				sum += k.Bytes
			}
			if sum != got.Total || got.Total == 0 {
				t.Errorf("kinds add up to %d bytes, the mappings to %d", sum, got.Total)
			}
			if got.Objects < 1000 && !interp.FreeThreaded() { // whose objects are not walked yet
				t.Errorf("only %d Python objects found", got.Objects)
			}
			if got.Kinds[1].Count < 1 {
				t.Errorf("no thread stack found: %+v", got.Kinds)
			}
			if interp.FreeThreaded() || (!interp.DWARF && interp.DebugDir == "") {
				if got.Obmalloc != nil || got.ObmallocErr == "" {
					t.Errorf("expected pymalloc to be unknown here, got %+v", got.Obmalloc)
				}
				return
			}
			if got.Obmalloc == nil {
				t.Fatalf("pymalloc not read: %s", got.ObmallocErr)
			}
			want := readMallocStats(t, filepath.Join(c.Dir, "oracle.json.mallocstats"))
			o := got.Obmalloc
			if o.Arenas != want["# arenas allocated current"] {
				t.Errorf("arenas: pycore %d, sys._debugmallocstats %d", o.Arenas, want["# arenas allocated current"])
			}
			if o.FreePools != want["unused pools"] || o.PoolSize != want["pool size"] {
				t.Errorf("free pools: pycore %d of %d bytes, sys._debugmallocstats %d of %d", o.FreePools, o.PoolSize, want["unused pools"], want["pool size"])
			}
			if o.ArenaSize != want["arena size"] {
				t.Errorf("arena size: pycore %d, sys._debugmallocstats %d", o.ArenaSize, want["arena size"])
			}
			// The os.close/os.dup2 calls after the stats were printed may take or give a block.
			for name, g := range map[string]int64{"# bytes in allocated blocks": o.AllocatedBytes, "# bytes in available blocks": o.AvailableBytes} {
				if d := g - want[name]; d < -1024 || d > 1024 {
					t.Errorf("%s: pycore %d, sys._debugmallocstats %d", name, g, want[name])
				}
			}
			if o.Unreadable != 0 {
				t.Errorf("%d arenas or pools unreadable", o.Unreadable)
			}
			if got.Kinds[0].Bytes != uint64(o.Arenas*o.ArenaSize) {
				t.Errorf("arena kind has %d bytes, %d arenas of %d were read", got.Kinds[0].Bytes, o.Arenas, o.ArenaSize)
			}
		})
	}
}

// readMallocStats reads the numbers of sys._debugmallocstats() output that the test
// compares: "# name = 1,234" lines, "N unused pools * S bytes" and "N arenas * S bytes/arena".
func readMallocStats(t *testing.T, path string) map[string]int64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) int64 {
		n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 10, 64)
		if err != nil {
			t.Fatalf("mallocstats number %q: %v", s, err)
		}
		return n
	}
	m := map[string]int64{}
	for _, line := range strings.Split(string(raw), "\n") {
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		switch f := strings.Fields(name); {
		case strings.HasPrefix(name, "#"):
			m[name] = num(val)
		case len(f) == 6 && f[1] == "unused" && f[2] == "pools": // 13 unused pools * 16384 bytes
			m["unused pools"] = num(f[0])
			m["pool size"] = num(f[4])
		case len(f) == 5 && f[1] == "arenas" && f[4] == "bytes/arena": // 8 arenas * 1048576 bytes/arena
			m["arena size"] = num(f[3])
		}
	}
	return m
}
