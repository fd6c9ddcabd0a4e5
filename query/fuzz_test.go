package query

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/typesys"
)

// bufMem is memory made of one buffer at base: for unit tests and fuzzing
// of the evaluator, whose real-core tests are in cprog_test.go.
type bufMem struct {
	base core.Address
	b    []byte
}

func (m *bufMem) ReadAt(p []byte, addr core.Address) (int, error) {
	// Compare unsigned: near the top of the address space addr - base as an
	// int64 is negative (the fuzzer's string(~0) sliced with it).
	if addr < m.base || uint64(addr-m.base) >= uint64(len(m.b)) {
		return 0, &core.ReadError{Addr: addr, Size: len(p), Reason: "not mapped"}
	}
	n := copy(p, m.b[uint64(addr-m.base):])
	if n < len(p) {
		return n, &core.ReadError{Addr: addr.Add(int64(n)), Size: len(p), Reason: "not mapped"}
	}
	return n, nil
}

// testEnv is a small world: a linked list of two nodes at 0x1000.
//
//	struct node { int v; struct node *next; char name[8]; union { long l; double d; }; unsigned f : 3; };
func testEnv() *Env {
	const base = 0x1000
	mem := &bufMem{base: base, b: make([]byte, 256)}
	r := core.Reader{Mem: mem, Order: binary.LittleEndian, PtrSize: 8}
	intT := &typesys.Type{Kind: typesys.Int, Name: "int", Size: 4, Signed: true}
	uintT := &typesys.Type{Kind: typesys.Int, Name: "unsigned int", Size: 4}
	longT := &typesys.Type{Kind: typesys.Int, Name: "long", Size: 8, Signed: true}
	dbl := &typesys.Type{Kind: typesys.Float, Name: "double", Size: 8}
	char := &typesys.Type{Kind: typesys.Int, Name: "char", Size: 1, Signed: true}
	node := &typesys.Type{Kind: typesys.Struct, Name: "struct node", Size: 40}
	u := &typesys.Type{Kind: typesys.Union, Size: 8, Members: []*typesys.Member{
		{Name: "l", Type: longT}, {Name: "d", Type: dbl}}}
	node.Members = []*typesys.Member{
		{Name: "v", Offset: 0, Type: intT},
		{Name: "next", Offset: 8, Type: typesys.PointerTo(node, 8)},
		{Name: "name", Offset: 16, Type: &typesys.Type{Kind: typesys.Array, Elem: char, Len: 8, Size: 8}},
		{Name: "", Offset: 24, Type: u},
		{Name: "f", Offset: 32, Type: uintT, BitSize: 3, BitOffset: 2},
	}
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(mem.b[off:], v) }
	put(0, 7)
	put(8, base+64)
	copy(mem.b[16:], "first")
	put(24, 1234)
	mem.b[32] = 5 << 2
	put(64, 8)
	put(72, 0)
	copy(mem.b[80:], "second!!")
	put(88, 0x4009000000000000) // 3.125
	types := map[string]*typesys.Type{"struct node": node, "node_t": {Kind: typesys.Typedef, Name: "node_t", Elem: node, Size: 40}}
	roots := map[string]typesys.Value{
		"head":  typesys.At(r, typesys.PointerTo(node, 8), base+128),
		"first": typesys.At(r, node, base),
	}
	put(128, base)
	return &Env{
		Mem: r,
		LookupRoot: func(name string) (typesys.Value, error) {
			if v, ok := roots[name]; ok {
				return v, nil
			}
			return typesys.Value{}, fmt.Errorf("%s: %w", name, ErrNotFound)
		},
		LookupType: func(name string) (*typesys.Type, error) {
			if t, ok := types[name]; ok {
				return t, nil
			}
			return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
		},
		RootNames: func() []string { return []string{"first", "head"} },
	}
}

func TestEvalOverAHandBuiltList(t *testing.T) {
	env := testEnv()
	tests := []struct{ expr, want string }{
		{"head->v", "7"},
		{"head->next->v", "8"},
		{"head->next->name", `"second!!"`},
		{"first.name", `"first"`},
		{"first.l", "1234"},
		{"head->next->d", "3.125"},
		{"first.f", "5"},
		{"first.f + 1", "6"},
		{"(node_t *)head->next == head->next", "1"},
		{"list(head, next)[1]->v", "8"},
		{"container_of(&head->next->name, struct node, name)->v", "8"},
		{"sizeof(node_t)", "40"},
		{"offsetof(struct node, l)", "24"},
		{"hex(head->v * 100)", "0x2bc"},
	}
	for _, tt := range tests {
		r, err := env.Eval(tt.expr)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		got := r.Text
		if r.Kind == ValueResult {
			got, err = typesys.FormatValue(r.Value, typesys.DefaultFormat())
			if err != nil {
				t.Errorf("%s: format: %v", tt.expr, err)
				continue
			}
		}
		if got != tt.want {
			t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
		}
	}
	if _, err := env.Eval("head->next->next->v"); err == nil || !strings.Contains(err.Error(), "head->next->next is NULL") {
		t.Errorf("NULL member access: %v", err)
	}
}

func TestCompleteMembersAndNames(t *testing.T) {
	env := testEnv()
	tests := []struct {
		src, word string
		want      []string
	}{
		{"head->n", "n", []string{"name", "next"}},
		{"head->next->", "", []string{"d", "f", "l", "name", "next", "v"}},
		{"first.na", "na", []string{"name"}},
		{"(*head).v", "v", []string{"v"}},
		{"list(head, next)[0]->ne", "ne", []string{"next"}},
		{"1 + fi", "fi", []string{"first"}},
		{"cont", "cont", []string{"container_of"}},
		{"head->nosuch->x", "x", nil},
		{"12", "12", nil},
	}
	for _, tt := range tests {
		word, got := env.Complete(tt.src)
		if word != tt.word || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Complete(%q) = %q %v, want %q %v", tt.src, word, got, tt.word, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"a.b->c[1]", "(struct _ts *)0x7f00", "(PyObject *)x", "sizeof(int) + sizeof x",
		"offsetof(T, m.n)", "container_of(p, T, m)", "-1 < 0u ? 'a' : \"b\"", "~x & y | z ^ w << 2 >> 1",
		"(x) - 1", "a && !b || c", "list(h, next, 10)[3]", "`completed.0`", "1.5e3f", "0x10UL",
		"(unsigned long long)(char)-1", "sizeof(struct s *)", "((((a))))", "f(,)", "\"\\x41\\101\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src, ParseOptions{IsType: func(s string) bool { return s == "T" || s == "PyObject" }})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q): error %T is not *Error", src, err)
			}
			if e.Pos < 0 || e.Pos > len(src) || e.End < e.Pos {
				t.Fatalf("Parse(%q): error span %d-%d outside the source", src, e.Pos, e.End)
			}
			_ = e.Error()
			return
		}
		pos, end := n.Span()
		if pos < 0 || end > len(src) || pos > end {
			t.Fatalf("Parse(%q): node span %d-%d outside the source", src, pos, end)
		}
		_ = n.String()
	})
}

func FuzzEval(f *testing.F) {
	for _, s := range []string{
		"head->next->name", "list(head, next)", "*(long *)0x1000 + 1", "first.f << 40", "head - head",
		"(double)first.v / 0", "container_of(head, struct node, name)", "string(head->name, 3)",
		"hex(-1)", "sizeof(node_t) * offsetof(struct node, d)", "head[1]", "&first.name[3]",
		"first.name == \"first\"", "(char)300", "1 / 0", "(struct node)first",
	} {
		f.Add(s)
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, src string) {
		r, err := env.Eval(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Eval(%q): error %T %v is not *Error", src, err, err)
			}
			return
		}
		if r.Kind != ValueResult {
			return
		}
		o := typesys.DefaultFormat()
		o.MaxLines = 100
		_, _ = typesys.Format(r.Value, o)
		if j, err := typesys.JSONOf(r.Value, o); err == nil {
			if _, err := json.Marshal(j); err != nil {
				t.Fatalf("Eval(%q): JSON: %v", src, err)
			}
		}
	})
}
