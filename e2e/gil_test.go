package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// TestGILWaiters reads kernel cores and gcores of gilwait.py, whose main
// thread keeps the GIL while three threads, back from os.read(), wait for it
// (the program saw each blocked in futex() in /proc/self/task/TID/syscall
// before the core), and checks the GIL's holder, its waiters, each thread's
// waits_for_gil and the switch interval against what the program recorded.
func TestGILWaiters(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		if interp.FreeThreaded() {
			continue // no GIL
		}
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			for _, kind := range []pytest.CoreKind{pytest.Kernel, pytest.Gcore} {
				c := pytest.MakeCore(t, interp, "gilwait", kind)
				var want struct {
					Holder     uint64  `json:"holder"`
					Waiters    []int64 `json:"waiters"`
					IntervalUS uint64  `json:"interval_us"`
				}
				raw, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.gil.json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatal(err)
				}
				for _, a := range analyses(t, interp) {
					t.Run(string(kind)+"/"+a.name, func(t *testing.T) {
						var got render.Snapshot
						out := pycoreOutput(t, append(append([]string{"threads", "--json"}, a.args...), c.Path)...)
						if err := json.Unmarshal(out, &got); err != nil {
							t.Fatalf("threads --json: %v\n%s", err, out)
						}
						for _, e := range compareGIL(got, want.Holder, want.Waiters, want.IntervalUS, !interp.AtLeast(3, 7) && a.name != "dwarf") {
							t.Error(e)
						}
						if got.GIL != nil && got.GIL.Waiters != nil {
							text := string(pycoreOutput(t, append(append([]string{"threads"}, a.args...), c.Path)...))
							ws := make([]string, len(want.Waiters))
							for i, w := range want.Waiters {
								ws[i] = fmt.Sprint(w)
							}
							line := fmt.Sprintf("GIL: held by thread %#x", want.Holder)
							waiting := fmt.Sprintf(", %d waiting (LWP %s), switch interval 1000000 ms", len(ws), strings.Join(ws, ", "))
							if !strings.Contains(text, "\n"+line) || !strings.Contains(text, waiting) {
								t.Errorf("text lacks %q ... %q:\n%s", line, waiting, head(text, 8))
							}
						}
					})
				}
			}
		})
	}
}

func compareGIL(s render.Snapshot, holder uint64, waiters []int64, interval uint64, mayNotKnow bool) []string {
	var errs []string
	g := s.GIL
	if g == nil {
		return []string{"no gil member"}
	}
	for _, t := range s.Threads {
		if t.HoldsGIL != (t.ThreadID == holder) {
			errs = append(errs, fmt.Sprintf("thread %#x: holds_gil %v, the holder is %#x", t.ThreadID, t.HoldsGIL, holder))
		}
	}
	if g.Waiters == nil {
		if !mayNotKnow {
			errs = append(errs, fmt.Sprintf("waiters unknown: %s", g.WaitersNote))
		} else if g.WaitersNote == "" {
			errs = append(errs, "waiters unknown and no note says why")
		}
		return errs
	}
	got := append([]int64(nil), g.Waiters...)
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if fmt.Sprint(got) != fmt.Sprint(waiters) {
		errs = append(errs, fmt.Sprintf("waiters: pycore %v, blocked in futex() as the program saw %v", got, waiters))
	}
	isWaiter := map[int64]bool{}
	for _, w := range waiters {
		isWaiter[w] = true
	}
	for _, t := range s.Threads {
		if t.LWP == nil || t.WaitsForGIL == nil || *t.WaitsForGIL != isWaiter[*t.LWP] {
			errs = append(errs, fmt.Sprintf("thread %#x (LWP %v): waits_for_gil %v, want %v", t.ThreadID, deref(t.LWP), deref(t.WaitsForGIL), t.LWP != nil && isWaiter[*t.LWP]))
		}
	}
	if g.Locked == nil || !*g.Locked {
		errs = append(errs, fmt.Sprintf("locked: %v, want true", deref(g.Locked)))
	}
	if g.IntervalUS == nil || *g.IntervalUS != interval {
		errs = append(errs, fmt.Sprintf("interval_us: pycore %v, sys.getswitchinterval() %d µs", deref(g.IntervalUS), interval))
	}
	return errs
}
