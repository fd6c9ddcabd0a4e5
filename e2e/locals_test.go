package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// localsOracle is what testdata/scenarios/locals.py wrote about every frame's
// variables (ORACLE.locals.json), keyed by thread ident.
type localsOracle struct {
	Threads map[string][]struct {
		File     string        `json:"file"`
		Function string        `json:"function"`
		Locals   []oracleLocal `json:"locals"`
		// Arguments: the parameters inspect.getargs() read off the code.
		Arguments []string `json:"arguments"`
	} `json:"threads"`
}

type oracleLocal struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Argument   string `json:"argument"`
	Bound      bool   `json:"bound"`
	ID         uint64 `json:"id"`
	Repr       string `json:"repr"`
	Type       string `json:"type"`
	Renderable bool   `json:"renderable"`
}

func readLocalsOracle(t *testing.T, c *pytest.Core) *localsOracle {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.locals.json"))
	if err != nil {
		t.Fatalf("locals oracle: %v", err)
	}
	var o localsOracle
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatalf("locals oracle: %v", err)
	}
	if len(o.Threads) < 8 {
		t.Fatalf("locals oracle lists %d threads, want 8 or more", len(o.Threads))
	}
	return &o
}

// roomyLocals are limits that cut none of locals.py's values.
var roomyLocals = []string{"--locals", "--max-depth", "30", "--max-length", "5000", "--max-string", "10000", "--max-repr", "1000000"}

// TestLocalsMatchOracle makes kernel and gcore cores of locals.py and checks
// every frame's arguments and locals against what the program saw of them:
// names in order, kinds, argument kinds, bound or not, each value's identity
// and type, and its repr wherever a core reader can compute it.
func TestLocalsMatchOracle(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			for _, kind := range []pytest.CoreKind{pytest.Kernel, pytest.Gcore} {
				kind := kind
				t.Run(string(kind), func(t *testing.T) {
					c := pytest.MakeCore(t, interp, "locals", kind)
					want := readLocalsOracle(t, c)
					for _, a := range analyses(t, interp) {
						a := a
						t.Run(a.name, func(t *testing.T) {
							snap := runThreads(t, c.Path, append(append([]string{}, roomyLocals...), a.args...)...)
							for _, e := range compareLocals(want, snap) {
								t.Error(e)
							}
							checkLocalsCoverage(t, snap, interp)
							checkLocalsLabels(t, want, c.Path, a.args)
						})
					}
					// The default limits cut long values, and say so.
					snap := runThreads(t, c.Path, "--locals")
					checkLocalsLimits(t, snap)
				})
			}
		})
	}
}

func compareLocals(o *localsOracle, s *render.Snapshot) []string {
	var errs []string
	threads := map[string]*render.Thread{}
	for _, t := range s.Threads {
		threads[strconv.FormatUint(t.ThreadID, 10)] = t
	}
	for ident, frames := range o.Threads {
		pt := threads[ident]
		if pt == nil {
			errs = append(errs, fmt.Sprintf("thread %s missing", ident))
			continue
		}
		if len(pt.Frames) != len(frames) {
			errs = append(errs, fmt.Sprintf("thread %s: %d frames, the locals oracle has %d", ident, len(pt.Frames), len(frames)))
			continue
		}
		for i, of := range frames {
			pf := pt.Frames[i]
			where := fmt.Sprintf("thread %s frame %d (%s)", ident, i, of.Function)
			if pf.Function != of.Function || pf.File != of.File {
				errs = append(errs, fmt.Sprintf("%s: pycore has %s in %s", where, pf.Function, pf.File))
				continue
			}
			if pf.LocalsError != "" {
				errs = append(errs, fmt.Sprintf("%s: %s", where, pf.LocalsError))
				continue
			}
			errs = append(errs, compareFrameLocals(where, of.Locals, pf.Locals)...)
		}
	}
	return errs
}

func compareFrameLocals(where string, want []oracleLocal, got []render.Local) []string {
	names := func() string {
		var w, g []string
		for _, l := range want {
			w = append(w, l.Name)
		}
		for _, l := range got {
			g = append(g, l.Name)
		}
		return fmt.Sprintf("want %v, got %v", w, g)
	}
	if len(want) != len(got) {
		return []string{fmt.Sprintf("%s: %d locals, want %d: %s", where, len(got), len(want), names())}
	}
	var errs []string
	for i, w := range want {
		g := got[i]
		at := fmt.Sprintf("%s: local %d (%s)", where, i, w.Name)
		if g.Name != w.Name {
			return []string{fmt.Sprintf("%s: named %q: %s", at, g.Name, names())}
		}
		if g.Kind != w.Kind || g.Argument != w.Argument {
			errs = append(errs, fmt.Sprintf("%s: kind %q argument %q, want %q %q", at, g.Kind, g.Argument, w.Kind, w.Argument))
		}
		if g.Unbound == w.Bound {
			errs = append(errs, fmt.Sprintf("%s: unbound=%v, want bound=%v", at, g.Unbound, w.Bound))
			continue
		}
		if !w.Bound {
			continue
		}
		v := g.Value
		switch {
		case v == nil:
			errs = append(errs, fmt.Sprintf("%s: no value", at))
		case v.Error != "":
			errs = append(errs, fmt.Sprintf("%s: %s", at, v.Error))
		case uint64(v.Address) != w.ID:
			errs = append(errs, fmt.Sprintf("%s: object at %#x, want id %#x (%s)", at, uint64(v.Address), w.ID, w.Repr))
		case v.Type != w.Type:
			errs = append(errs, fmt.Sprintf("%s: type %q, want %q", at, v.Type, w.Type))
		case w.Renderable && (v.Repr != w.Repr || v.Truncated):
			errs = append(errs, fmt.Sprintf("%s:\n got  %s (truncated %v)\n want %s", at, v.Repr, v.Truncated, w.Repr))
		}
	}
	return errs
}

// checkLocalsCoverage makes sure the scenario exercised what it is for: every
// kind of variable and argument, unbound variables and cells.
func checkLocalsCoverage(t *testing.T, s *render.Snapshot, interp pytest.Interpreter) {
	t.Helper()
	seen := map[string]bool{}
	for _, th := range s.Threads {
		for _, f := range th.Frames {
			for _, l := range f.Locals {
				seen["kind "+l.Kind] = true
				seen["argument "+l.Argument] = true
				if l.Unbound {
					seen["unbound"] = true
				}
				if l.Kind == "cell" && l.Argument != "" {
					seen["argument in a cell"] = true
				}
			}
		}
	}
	want := []string{"kind local", "kind cell", "kind free", "argument positional", "argument keyword-only",
		"argument var-positional", "argument var-keyword", "unbound", "argument in a cell"}
	if interp.AtLeast(3, 8) {
		want = append(want, "argument positional-only")
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no local of %s in the snapshot", w)
		}
	}
}

// checkLocalsLimits reads long_values' locals under the default limits.
func checkLocalsLimits(t *testing.T, s *render.Snapshot) {
	t.Helper()
	want := map[string]string{
		"long_str":  "'" + strings.Repeat("x", 80) + "'...",
		"long_list": "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...]",
		"deep":      "[[[[...]]]]",
	}
	found := 0
	for _, th := range s.Threads {
		for _, f := range th.Frames {
			if f.Function != "long_values" {
				continue
			}
			for _, l := range f.Locals {
				w, ok := want[l.Name]
				if !ok {
					continue
				}
				found++
				if l.Value == nil || l.Value.Repr != w || !l.Value.Truncated {
					t.Errorf("default limits: %s = %+v, want %s, truncated", l.Name, l.Value, w)
				}
			}
		}
	}
	if found != len(want) {
		t.Errorf("default limits: found %d of long_values' %d locals", found, len(want))
	}
}
