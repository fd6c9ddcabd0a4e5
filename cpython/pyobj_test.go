package cpython_test

import (
	"encoding/json"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/session"
)

// objectsOracle is what testdata/scenarios/objects.py wrote about its objects.
type objectsOracle struct {
	Objects map[string]struct {
		ID   uint64 `json:"id"`
		Repr string `json:"repr"`
		Type string `json:"type"`
	} `json:"objects"`
}

func readObjectsOracle(t *testing.T, c *pytest.Core) *objectsOracle {
	t.Helper()
	var o objectsOracle
	c.SideOracle(t, "objects.json", &o)
	if len(o.Objects) < 50 {
		t.Fatalf("objects oracle lists only %d objects", len(o.Objects))
	}
	return &o
}

// reprInterpreters are the interpreters the renderer is tested on: every
// one in CI (PYCORE_FULL=1), a representative pair otherwise.
func reprInterpreters(t *testing.T) []pytest.Interpreter { return pytest.Selected(t) }

// analysis is one way to open a core: with the interpreter's DWARF, or as a
// stripped build is seen (types from the tables or the debug offsets).
type analysis struct {
	name string
	opts session.Options
}

func analysesOf(t *testing.T, i pytest.Interpreter) []analysis {
	noDebug := []string{t.TempDir()}
	var out []analysis
	switch {
	case i.DWARF:
		out = append(out, analysis{"dwarf", session.Options{Types: cpython.TypesDWARF}})
		root, err := pytest.StrippedSysroot(i)
		if err != nil {
			t.Fatalf("stripped copies of %s: %v", i.Name(), err)
		}
		out = append(out, analysis{"builtin", session.Options{Sysroot: root, DebugDirs: noDebug, Types: cpython.TypesBuiltin}})
	case i.DebugDir != "":
		out = append(out, analysis{"dwarf", session.Options{DebugDirs: []string{i.DebugDir}, Types: cpython.TypesDWARF}})
		out = append(out, analysis{"builtin", session.Options{DebugDirs: noDebug, Types: cpython.TypesBuiltin}})
	default:
		out = append(out, analysis{"builtin", session.Options{DebugDirs: noDebug, Types: cpython.TypesBuiltin}})
	}
	return out
}

func openCore(t *testing.T, path string, opts session.Options) *session.Session {
	t.Helper()
	s, err := session.Open(path, opts)
	if err != nil {
		t.Fatalf("session.Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// roomy options: nothing in objects.py is cut by them.
var roomy = cpython.ReprOptions{MaxDepth: 20, MaxLength: 5000, MaxString: 5000, MaxTotal: 1 << 20}

// TestReprMatchesPythonsOwnRepr renders every object objects.py kept in its
// globals from a core of it, and compares with the repr() the program
// computed of the same object (found by its id()) just before it died.
func TestReprMatchesPythonsOwnRepr(t *testing.T) {
	for _, interp := range reprInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "objects", pytest.Kernel)
			want := readObjectsOracle(t, c)
			for _, a := range analysesOf(t, interp) {
				a := a
				t.Run(a.name, func(t *testing.T) {
					s := openCore(t, c.Path, a.opts)
					names := make([]string, 0, len(want.Objects))
					for name := range want.Objects {
						names = append(names, name)
					}
					sort.Strings(names)
					for _, name := range names {
						w := want.Objects[name]
						o := s.Python.Object(core.Address(w.ID), roomy)
						if o.Repr != w.Repr || o.Type != w.Type || o.Error != "" || o.Truncated {
							t.Errorf("%s:\n got  %s %q (error %q, truncated %v)\n want %s %q", name, o.Type, o.Repr, o.Error, o.Truncated, w.Type, w.Repr)
						}
					}
					checkLimits(t, s.Python, want)
					checkGarbage(t, s, want)
					checkThreadNames(t, s.Python, c.Oracle)
				})
			}
		})
	}
}

// checkLimits renders with small limits: every cut is marked.
func checkLimits(t *testing.T, p *cpython.Process, want *objectsOracle) {
	t.Helper()
	obj := func(name string) core.Address { return core.Address(want.Objects[name].ID) }
	for _, c := range []struct {
		name string
		opts cpython.ReprOptions
		want string
	}{
		{"list_long", cpython.ReprOptions{MaxLength: 3}, "[0, 1, 2, ...]"},
		{"str_long", cpython.ReprOptions{MaxString: 5}, "'abcab'..."},
		{"bytes_all", cpython.ReprOptions{MaxString: 3}, `b'\x00\x01\x02'...`},
		{"int_huge", cpython.ReprOptions{MaxString: 4}, want.Objects["int_huge"].Repr[:4] + "..."},
		{"tuple_nested", cpython.ReprOptions{MaxDepth: 1}, "((...), [...])"},
		{"dict_str", cpython.ReprOptions{MaxLength: 1}, "{'a': 1, ...}"},
		{"set_ints", cpython.ReprOptions{MaxLength: 2}, "{1, 2, ...}"},
		{"list_long", cpython.ReprOptions{MaxTotal: 20}, "[0, 1, 2, 3, 4, 5..."},
	} {
		o := p.Object(obj(c.name), c.opts)
		if o.Repr != c.want || !o.Truncated {
			t.Errorf("%s with %+v: %q (truncated %v), want %q, truncated", c.name, c.opts, o.Repr, o.Truncated, c.want)
		}
	}
	// The default limits keep a long list short, and say so.
	o := p.Object(obj("list_long"), cpython.ReprOptions{})
	if !o.Truncated || !strings.HasSuffix(o.Repr, ", ...]") || len(o.Repr) > cpython.DefaultReprOptions.MaxTotal+3 {
		t.Errorf("list_long with the default limits: %d characters, truncated %v: %.80q", len(o.Repr), o.Truncated, o.Repr)
	}
	// Go values for JSON.
	if v := p.Object(obj("int_above64"), roomy).Value; v != "18446744073709551617" {
		t.Errorf("int_above64's value is %#v, want the decimal string", v)
	}
	if v := p.Object(obj("int_min64"), roomy).Value; v != int64(-1<<63) {
		t.Errorf("int_min64's value is %#v", v)
	}
	if v := p.Object(obj("str_ucs4"), roomy).Value; v != "\U00020000 \U0001f40d ok" {
		t.Errorf("str_ucs4's value is %#v", v)
	}
	if v := p.Object(obj("float_nan"), roomy).Value; v != "nan" {
		t.Errorf("float_nan's value is %#v", v)
	}
	if items, ok := p.Object(obj("dict_str"), roomy).Value.([]cpython.DictItem); !ok || len(items) != 3 || items[0].Key.Value != "a" || items[0].Value.Value != int64(1) {
		t.Errorf("dict_str's value is %#v", p.Object(obj("dict_str"), roomy).Value)
	}
	if _, err := json.Marshal(p.Object(obj("dict_keys"), roomy)); err != nil {
		t.Errorf("dict_keys as JSON: %v", err)
	}
	// The exported readers.
	if s, complete, err := p.ReadStr(obj("str_latin1"), 100); err != nil || !complete || s != "h\u00e9llo w\u00f6rld \u00a0nbsp" {
		t.Errorf("ReadStr(str_latin1) = %q, %v, %v", s, complete, err)
	}
	if b, complete, err := p.ReadBytes(obj("bytes_escapes"), 100); err != nil || !complete || string(b) != "\x00\xff\n\t\\ \"q\" \x7f" {
		t.Errorf("ReadBytes(bytes_escapes) = %q, %v, %v", b, complete, err)
	}
	if v, err := p.ReadInt(obj("int_neg_big")); err != nil || v.String() != want.Objects["int_neg_big"].Repr {
		t.Errorf("ReadInt(int_neg_big) = %v, %v", v, err)
	}
	if _, _, err := p.ReadStr(obj("int_small"), 10); err == nil || !strings.Contains(err.Error(), "not a str") {
		t.Errorf("ReadStr of an int: error %v, want one saying it is not a str", err)
	}
	// Bad addresses fail with the reason.
	if _, err := p.Repr(0x10, roomy); err == nil || !strings.Contains(err.Error(), "0x10") {
		t.Errorf("Repr of an unmapped address: error %v", err)
	}
}

// checkGarbage renders what is not an object: addresses inside and around
// the real objects, the words stored there taken as pointers, and addresses
// all over the process's mappings. A core is untrusted input: each must give
// a rendering or an error, never a panic, within a bounded time.
func checkGarbage(t *testing.T, s *session.Session, want *objectsOracle) {
	t.Helper()
	start := time.Now()
	small := cpython.ReprOptions{MaxDepth: 3, MaxLength: 8, MaxString: 32, MaxTotal: 256}
	var addrs []core.Address
	for _, w := range want.Objects {
		for off := int64(-64); off <= 64; off += 8 {
			a := core.Address(w.ID).Add(off)
			addrs = append(addrs, a)
			if p, err := s.Core.Reader().Ptr(a); err == nil {
				addrs = append(addrs, p)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range s.Core.Mappings {
		for i := 0; i < 16; i++ {
			addrs = append(addrs, m.Start.Add(int64(rng.Uint64N(m.Size()))&^7))
		}
	}
	rendered := 0
	for _, a := range addrs {
		o := s.Python.Object(a, small)
		if o.Repr == "" {
			t.Errorf("object at %#x: empty rendering (error %q)", uint64(a), o.Error)
		}
		if utf8.RuneCountInString(o.Repr) > small.MaxTotal {
			t.Errorf("object at %#x: %d characters, more than MaxTotal %d", uint64(a), len(o.Repr), small.MaxTotal)
		}
		if o.Error == "" {
			rendered++
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("rendering %d garbage addresses took %v", len(addrs), d)
	}
	t.Logf("%d addresses that are mostly not objects: %d rendered, the rest errors, in %v", len(addrs), rendered, time.Since(start))
}

// checkThreadNames compares threading's names with the oracle's.
func checkThreadNames(t *testing.T, p *cpython.Process, o *pytest.Oracle) {
	t.Helper()
	names, err := p.ThreadNames()
	if err != nil {
		t.Errorf("ThreadNames: %v", err)
		return
	}
	for _, th := range o.Threads {
		if got, ok := names[th.Ident]; !ok || got != th.Name {
			t.Errorf("thread %#x: name %q (found %v), want %q", th.Ident, got, ok, th.Name)
		}
	}
	if len(names) != len(o.Threads) {
		t.Errorf("ThreadNames found %d threads, the oracle lists %d: %v", len(names), len(o.Threads), names)
	}
}

// TestThreadNamesOfTheStacksScenario checks the names of 35 threads, some
// non-ASCII, against the oracle of the stacks scenario.
func TestThreadNamesOfTheStacksScenario(t *testing.T) {
	for _, interp := range reprInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "stacks", pytest.Kernel)
			for _, a := range analysesOf(t, interp) {
				a := a
				t.Run(a.name, func(t *testing.T) {
					checkThreadNames(t, openCore(t, c.Path, a.opts).Python, c.Oracle)
				})
			}
		})
	}
}
