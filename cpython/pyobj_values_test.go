package cpython_test

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/internal/pytest"
)

// valuesOracle is what testdata/scenarios/values.py wrote about hold()'s locals.
type valuesOracle struct {
	Function string `json:"function"`
	Locals   map[string]struct {
		ID   uint64 `json:"id"`
		Repr string `json:"repr"`
		Type string `json:"type"`
	} `json:"locals"`
	Attrs map[string]map[string]string `json:"attrs"`
}

func readValuesOracle(t *testing.T, c *pytest.Core) *valuesOracle {
	t.Helper()
	var o valuesOracle
	c.SideOracle(t, "values.json", &o)
	if len(o.Locals) < 40 {
		t.Fatalf("values oracle lists only %d locals", len(o.Locals))
	}
	return &o
}

// valueExceptions are the locals whose repr Python computes from data a core
// does not have, per version: none so far.
var valueExceptions = map[string]string{}

// TestValueReprsMatchPythonsOwnRepr reads hold()'s locals in a core of
// values.py (built-in functions and methods, bound methods, frames, cells,
// generators, partials, descriptors, ranges, struct sequences, threads...)
// and compares each with the repr() the program computed just before it
// died, addresses included.
func TestValueReprsMatchPythonsOwnRepr(t *testing.T) {
	for _, interp := range reprInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "values", pytest.Kernel)
			want := readValuesOracle(t, c)
			for _, a := range analysesOf(t, interp) {
				a := a
				t.Run(a.name, func(t *testing.T) {
					s := openCore(t, c.Path, a.opts)
					snap, err := s.Python.SnapshotWith(cpython.SnapshotOptions{Locals: true, Repr: roomy})
					if err != nil {
						t.Fatal(err)
					}
					var frame *cpython.Frame
					for _, th := range snap.Threads {
						for i := range th.Frames {
							if th.Frames[i].Function == want.Function {
								frame = &th.Frames[i]
							}
						}
					}
					if frame == nil {
						t.Fatalf("no frame of %s", want.Function)
					}
					got := map[string]*cpython.Object{}
					for _, l := range frame.Locals {
						got[l.Name] = l.Value
					}
					names := make([]string, 0, len(want.Locals))
					for name := range want.Locals {
						names = append(names, name)
					}
					sort.Strings(names)
					for _, name := range names {
						w := want.Locals[name]
						o := got[name]
						if o == nil {
							t.Errorf("%s: not among %s's locals", name, want.Function)
							continue
						}
						if why, ok := valueExceptions[name]; ok {
							t.Logf("%s: not compared (%s): got %q, Python %q", name, why, o.Repr, w.Repr)
							continue
						}
						if o.Repr != w.Repr || o.Type != w.Type || o.Error != "" || o.Truncated || o.Address != core.Address(w.ID) {
							t.Errorf("%s:\n got  %s %q at %#x (error %q, truncated %v)\n want %s %q at %#x", name, o.Type, o.Repr, uint64(o.Address), o.Error, o.Truncated, w.Type, w.Repr, w.ID)
						}
					}
					checkAttrs(t, s.Python, want)
					checkMaxRepr(t, s.Python, want)
				})
			}
		})
	}
}

// checkAttrs renders the instances with Attrs: Python's repr, then every
// attribute the program listed (slots and __dict__) as name=repr.
func checkAttrs(t *testing.T, p *cpython.Process, want *valuesOracle) {
	t.Helper()
	if len(want.Attrs) == 0 {
		t.Fatal("the values oracle lists no instance attributes")
	}
	for name, attrs := range want.Attrs {
		w := want.Locals[name]
		o := p.Object(core.Address(w.ID), cpython.ReprOptions{MaxDepth: 20, MaxLength: 5000, MaxString: 5000, MaxTotal: 1 << 20, Attrs: true})
		var parts []string
		for k, v := range attrs {
			parts = append(parts, k+"="+v)
		}
		rest, ok := strings.CutPrefix(o.Repr, w.Repr+"(")
		if !ok || !strings.HasSuffix(rest, ")") || len(rest) != len(strings.Join(parts, ", "))+1 || o.Truncated || o.Error != "" {
			t.Errorf("%s with attributes: %q (truncated %v, error %q), want %q followed by (%s) in some order", name, o.Repr, o.Truncated, o.Error, w.Repr, strings.Join(parts, ", "))
			continue
		}
		for _, part := range parts {
			if !strings.Contains(rest, part) {
				t.Errorf("%s with attributes: %q lacks %s", name, o.Repr, part)
			}
		}
		// Without the flag, Python's repr alone.
		if o := p.Object(core.Address(w.ID), roomy); o.Repr != w.Repr {
			t.Errorf("%s without attributes: %q, want %q", name, o.Repr, w.Repr)
		}
	}
}

// checkMaxRepr renders every local with MaxTotal from 1 to 300 (and small
// other bounds, with and without Attrs): never more than MaxTotal
// characters, and marked truncated whenever the full repr was longer.
func checkMaxRepr(t *testing.T, p *cpython.Process, want *valuesOracle) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	for name, w := range want.Locals {
		full := []rune(w.Repr)
		for i := 0; i < 12; i++ {
			n := 1 + rng.IntN(300)
			if i == 0 {
				n = len(full) // exactly fits
			}
			opts := cpython.ReprOptions{MaxTotal: n, MaxDepth: 1 + rng.IntN(4), MaxLength: 1 + rng.IntN(8), MaxString: 1 + rng.IntN(50), Attrs: i%2 == 1}
			o := p.Object(core.Address(w.ID), opts)
			if c := utf8.RuneCountInString(o.Repr); c > n {
				t.Errorf("%s with %+v: %d characters: %q", name, opts, c, o.Repr)
			}
			if len(full) > n && !o.Truncated {
				t.Errorf("%s with %+v: %q is not marked truncated (Python's repr has %d characters)", name, opts, o.Repr, len(full))
			}
		}
	}
}
