package query

import (
	"strings"
	"testing"
)

func isTestType(name string) bool {
	switch name {
	case "PyObject", "Py_ssize_t", "PyThreadState", "size_t":
		return true
	}
	return false
}

func TestParseGroupsByCPrecedence(t *testing.T) {
	tests := []struct{ src, want string }{
		{"1 + 2 * 3", "(1 + (2 * 3))"},
		{"1 * 2 + 3", "((1 * 2) + 3)"},
		{"1 - 2 - 3", "((1 - 2) - 3)"},
		{"1 << 2 + 3", "(1 << (2 + 3))"},
		{"a < b == c > d", "((a < b) == (c > d))"},
		{"a & b ^ c | d", "(((a & b) ^ c) | d)"},
		{"a || b && c", "(a || (b && c))"},
		{"a == b && c != d || !e", "(((a == b) && (c != d)) || (!e))"},
		{"a % b / c", "((a % b) / c)"},
		{"a >= b <= c", "((a >= b) <= c)"},
		{"a >> 1 << 2", "((a >> 1) << 2)"},
		{"a ? b : c ? d : e", "(a ? b : (c ? d : e))"},
		{"-a.b", "(-(a.b))"},
		{"*p->next", "(*(p->next))"},
		{"&x[3]", "(&(x[3]))"},
		{"~x + !y", "((~x) + (!y))"},
		{"a.b.c->d[1][2]", "(((((a.b).c)->d)[1])[2])"},
		{"a & &b", "(a & (&b))"},
		{"a && &b", "(a && (&b))"},
		{"- -1", "(-(-1))"},
		{"+x", "(+x)"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.src, ParseOptions{IsType: isTestType})
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := n.String(); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestParseTellsCastsFromParentheses(t *testing.T) {
	tests := []struct{ src, want string }{
		{"(struct _ts *)0x7f00", "((struct _ts *)0x7f00)"},
		{"(PyObject *)x", "((PyObject *)x)"},
		{"(PyObject **)x", "((PyObject **)x)"},
		{"(unsigned long)x", "((unsigned long)x)"},
		{"(long unsigned int)x", "((unsigned long)x)"},
		{"(const char *)p", "((char *)p)"},
		{"(char const *)p", "((char *)p)"},
		{"(union u)x", "((union u)x)"},
		{"(enum e)1", "((enum e)1)"},
		{"(Py_ssize_t)-1", "((Py_ssize_t)(-1))"},
		{"(x)-1", "(x - 1)"},
		{"(x) * y", "(x * y)"},
		{"(PyObject) *y", "((PyObject)(*y))"},
		{"(x)y", "((x)y)"}, // only a cast parses here, whatever x is
		{"(a * b)", "(a * b)"},
		{"(a)", "a"},
		{"(a)[1]", "(a[1])"},
		{"(a).b", "(a.b)"},
		{"(void *)0", "((void *)0)"},
		{"(struct _ts *)(PyObject *)p", "((struct _ts *)((PyObject *)p))"},
		{"(const PyObject *)p", "((PyObject *)p)"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.src, ParseOptions{IsType: isTestType})
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := n.String(); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestParseSizeofOffsetofAndCalls(t *testing.T) {
	tests := []struct{ src, want string }{
		{"sizeof(PyObject)", "sizeof(PyObject)"},
		{"sizeof(struct _ts)", "sizeof(struct _ts)"},
		{"sizeof(PyObject *)", "sizeof(PyObject *)"},
		{"sizeof(int)", "sizeof(int)"},
		{"sizeof x", "sizeof(x)"},
		{"sizeof(x)", "sizeof(x)"},
		{"sizeof(x) + 1", "(sizeof(x) + 1)"},
		{"sizeof *p", "sizeof((*p))"},
		{"sizeof(x.y)", "sizeof((x.y))"},
		{"offsetof(struct _ts, interp)", "offsetof(struct _ts, interp)"},
		{"offsetof(PyObject, ob_type)", "offsetof(PyObject, ob_type)"},
		{"container_of(p, PyObject, ob_type)", "container_of(p, PyObject, ob_type)"},
		{"container_of(p, struct _ts, next)", "container_of(p, struct _ts, next)"},
		{"list(interp.threads.head, next)", "list(((interp.threads).head), next)"},
		{"f()", "f()"},
		{"f(a + 1, b)->c", "(f((a + 1), b)->c)"},
		{"g(PyObject *, x)", "g(PyObject *, x)"},
		{"pyobj(x) + 1", "(pyobj(x) + 1)"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.src, ParseOptions{IsType: isTestType})
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := n.String(); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestParseLiterals(t *testing.T) {
	tests := []struct {
		src           string
		val           uint64
		unsigned, lng bool
	}{
		{"0", 0, false, false},
		{"42", 42, false, false},
		{"0x10", 16, false, false},
		{"0X1f", 31, false, false},
		{"017", 15, false, false},
		{"2147483647", 2147483647, false, false},
		{"2147483648", 2147483648, false, true},
		{"0x80000000", 0x80000000, true, false},
		{"0x100000000", 0x100000000, false, true},
		{"0xffffffffffffffff", 0xffffffffffffffff, true, true},
		{"1u", 1, true, false},
		{"1UL", 1, true, true},
		{"1l", 1, false, true},
		{"1ll", 1, false, true},
		{"18446744073709551615", 18446744073709551615, true, true},
	}
	for _, tt := range tests {
		n, err := Parse(tt.src, ParseOptions{})
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		num, ok := n.(*Number)
		if !ok {
			t.Errorf("Parse(%q) = %T, want *Number", tt.src, n)
			continue
		}
		if num.Int != tt.val || num.Unsigned != tt.unsigned || num.Long != tt.lng {
			t.Errorf("Parse(%q) = %d unsigned=%v long=%v, want %d %v %v", tt.src, num.Int, num.Unsigned, num.Long, tt.val, tt.unsigned, tt.lng)
		}
	}
	chars := map[string]int64{`'a'`: 'a', `'\n'`: '\n', `'\0'`: 0, `'\x41'`: 0x41, `'\101'`: 0101, `'\''`: '\'', `'\xff'`: -1}
	for src, want := range chars {
		n, err := Parse(src, ParseOptions{})
		if err != nil {
			t.Errorf("Parse(%s): %v", src, err)
			continue
		}
		if c, ok := n.(*CharLit); !ok || c.Value != want {
			t.Errorf("Parse(%s) = %v, want char %d", src, n, want)
		}
	}
	n, err := Parse(`"ab\tc" "d\x41"`, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := n.(*StringLit); !ok || s.Value != "ab\tcdA" {
		t.Errorf("string literal = %v, want \"ab\\tcdA\"", n)
	}
	n, err = Parse("1.5e3", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := n.(*Number); !ok || !f.IsFloat || f.Float != 1500 {
		t.Errorf("1.5e3 = %#v", n)
	}
	n, err = Parse("`completed.0`", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := n.(*Ident); !ok || id.Name != "completed.0" {
		t.Errorf("backquoted name = %#v", n)
	}
}

func TestParseErrorsPointAtTheProblem(t *testing.T) {
	tests := []struct {
		src      string
		msg      string
		caretCol int
	}{
		{"a +", "unexpected end of expression", 3},
		{"a + )", `unexpected ")"`, 4},
		{"a.", "unexpected end of expression", 2},
		{"(struct)x", `unexpected ")"`, 7},
		{"1 @ 2", "syntax error", 2},
		{"0x", "", 0},
		{"09", "bad number 09", 0},
		{"1.5u", "bad number", 0},
		{"'ab'", "must hold one byte", 0},
		{`'\q'`, `unknown escape \q`, 0},
		{"(unsigned signed)x", "both signed and unsigned", 1},
		{"(short long)x", "bad type", 1},
		{"", "empty expression", 0},
		{"   ", "empty expression", 0},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), "deeper than 64", 64},
		{strings.Repeat("-", 100) + "1", "operators in a row", 64},
		{strings.Repeat("a+", 600) + "a", "more than 1024 tokens", 1024},
	}
	for _, tt := range tests {
		_, err := Parse(tt.src, ParseOptions{})
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %q", tt.src, tt.msg)
			continue
		}
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("Parse(%q) error is %T, want *Error", tt.src, err)
			continue
		}
		if !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("Parse(%q) error %q, want it to contain %q", tt.src, e.Msg, tt.msg)
		}
		if tt.msg != "" && e.Pos != tt.caretCol {
			t.Errorf("Parse(%q) error at %d, want %d (%s)", tt.src, e.Pos, tt.caretCol, err)
		}
	}
}

func TestErrorShowsACaretUnderTheSpan(t *testing.T) {
	e := &Error{Src: "interp.thread", Pos: 7, End: 13, Msg: "unknown member 'thread' of PyInterpreterState (did you mean 'threads'?)"}
	want := "unknown member 'thread' of PyInterpreterState (did you mean 'threads'?)\n  interp.thread\n         ^~~~~~"
	if got := e.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	e = &Error{Src: "é.x", Pos: 3, End: 4, Msg: "m"}
	if got := e.Caret(); got != "  ^" {
		t.Errorf("caret after a 2-byte character = %q, want %q", got, "  ^")
	}
	e = &Error{Src: "a +", Pos: 3, End: 3, Msg: "m"}
	if got := e.Caret(); got != "   ^" {
		t.Errorf("caret at the end = %q", got)
	}
}

func TestSuggestFindsNearNames(t *testing.T) {
	names := []string{"threads", "thread_id", "next", "prev", "interp", "id", "ceval", "imports"}
	tests := []struct {
		name string
		want []string
	}{
		{"thread", []string{"threads", "thread_id"}},
		{"nxet", []string{"next"}},
		{"intrep", []string{"interp"}},
		{"zzzzzz", nil},
		{"threads", nil},
	}
	for _, tt := range tests {
		got := Suggest(tt.name, names)
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Suggest(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
