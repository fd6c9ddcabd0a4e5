package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// valuesOracle is what testdata/scenarios/values.py wrote about hold()'s locals.
type valuesOracle struct {
	Locals map[string]struct {
		ID   uint64 `json:"id"`
		Repr string `json:"repr"`
	} `json:"locals"`
}

// TestThreadsAttrsAndMaxRepr runs `threads --locals` on a core of values.py:
// in the text, every local of hold() prints as the repr() the program
// recorded, and with --attrs the instances add their attributes; with
// --max-repr N no value, in the text or the JSON, is longer than N
// characters, and every value cut says so.
func TestThreadsAttrsAndMaxRepr(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "values", pytest.Kernel)
			data, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.values.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want valuesOracle
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			text := runThreadsText(t, c.Path, append(append([]string{}, roomyLocals...), "--attrs")...)
			for name, w := range want.Locals {
				line := "    " + name + " = " + w.Repr
				switch name {
				case "instance_attrs":
					line += "(an_int=42, name='x', items=[1, 2, 3])"
				case "instance_slots":
					line += "(a=1, b='bee')"
				}
				if !strings.Contains(text, line+"\n") {
					t.Errorf("threads --locals --attrs lacks the line %q", line)
				}
			}
			for _, n := range []int{1, 3, 4, 20, 45, 80, 200} {
				snap := runThreads(t, c.Path, "--locals", "--attrs", "--max-repr", strconv.Itoa(n))
				seen := 0
				for _, th := range snap.Threads {
					for _, f := range th.Frames {
						for _, l := range f.Locals {
							if l.Value == nil {
								continue
							}
							seen++
							for _, r := range reprsOf(*l.Value, 0) {
								if c := utf8.RuneCountInString(r); c > n {
									t.Errorf("--max-repr %d: %s (or an item of it) is %d characters: %q", n, l.Name, c, r)
								}
							}
							if w, ok := want.Locals[l.Name]; ok && f.Function == "hold" && utf8.RuneCountInString(w.Repr) > n && !l.Value.Truncated {
								t.Errorf("--max-repr %d: %s = %q is not marked truncated", n, l.Name, l.Value.Repr)
							}
						}
					}
				}
				if seen < len(want.Locals) {
					t.Errorf("--max-repr %d: %d values, want %d or more", n, seen, len(want.Locals))
				}
				text := runThreadsText(t, c.Path, "--locals", "--attrs", "--max-repr", strconv.Itoa(n))
				for _, line := range strings.Split(text, "\n") {
					if _, v, ok := strings.Cut(line, " = "); ok && strings.HasPrefix(line, "    ") && v != "<unbound>" && utf8.RuneCountInString(v) > n {
						t.Errorf("--max-repr %d: text line %q has a value of %d characters", n, line, utf8.RuneCountInString(v))
					}
				}
			}
		})
	}
}

// reprsOf lists the repr of o and of every object its JSON value holds.
func reprsOf(o render.Object, depth int) []string {
	out := []string{o.Repr}
	if depth > 64 {
		return out
	}
	// Decoded from JSON, nested objects are maps.
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 64 {
			return
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case map[string]any:
			if r, ok := x["repr"].(string); ok {
				out = append(out, r)
			}
			for _, k := range []string{"value", "key"} {
				if e, ok := x[k]; ok {
					walk(e, depth+1)
				}
			}
		}
	}
	walk(o.Value, depth)
	return out
}
