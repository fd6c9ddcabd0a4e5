package query

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/typesys"
)

// ErrNotFound is wrapped by the errors of Env.LookupRoot and Env.LookupType
// for names that do not exist (as opposed to names that exist but could not
// be read).
var ErrNotFound = errors.New("not found")

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// Env is what expressions are evaluated against. The language knows nothing
// of any particular program: names, types and extra built-in functions all
// come from here.
type Env struct {
	// Mem is the process's memory; literals and results use its byte order
	// and pointer size.
	Mem core.Reader
	// LookupRoot finds a value by name: a variable, a symbol, a convenience
	// name. Unknown names give an error wrapping ErrNotFound.
	LookupRoot func(name string) (typesys.Value, error)
	// LookupType finds a type by C name ("PyObject", "struct _ts"). C's base
	// types (int, unsigned long, char, ...) are built in and never asked for.
	LookupType func(name string) (*typesys.Type, error)
	// Builtins are functions added to the generic ones (container_of, list, ...).
	Builtins map[string]*Builtin
	// RootNames lists names LookupRoot knows, for "did you mean" and
	// completion. May be nil.
	RootNames func() []string

	once sync.Once
	ct   *cTypes
}

func (e *Env) ctypes() *cTypes {
	e.once.Do(func() {
		ps := e.Mem.PtrSize
		if ps == 0 {
			ps = 8
		}
		e.ct = newCTypes(ps)
	})
	return e.ct
}

func (e *Env) lookupType(name string) (*typesys.Type, error) {
	if b, ok := e.ctypes().byName[name]; ok {
		return b, nil
	}
	if e.LookupType == nil {
		return nil, fmt.Errorf("no types: %w", ErrNotFound)
	}
	return e.LookupType(name)
}

// IsType reports whether name names a type.
func (e *Env) IsType(name string) bool {
	_, err := e.lookupType(name)
	return err == nil
}

// ResultKind says what a Result holds.
type ResultKind int

const (
	ValueResult  ResultKind = iota // a typed value (Value)
	TextResult                     // text printed as is (repr(x), hex(x))
	StringResult                   // a decoded string (Text), printed quoted; Value is where it came from
	ListResult                     // Items, e.g. from list(head, next)
)

// Result is what an expression evaluates to.
type Result struct {
	Expr  string
	Kind  ResultKind
	Value typesys.Value
	Text  string
	Items []Result
	// Note says why a list stopped early (a cycle, an unreadable link, the bound).
	Note string
	// Data is a built-in's result as data for JSON output (e.g. a Python
	// object's value beside its repr in Text), nil if none.
	Data any
}

// ValueOf makes a Result of a value.
func ValueOf(v typesys.Value) Result { return Result{Kind: ValueResult, Value: v} }

// Eval parses and evaluates one expression.
func (e *Env) Eval(src string) (Result, error) {
	n, err := Parse(src, ParseOptions{IsType: e.IsType})
	if err != nil {
		return Result{Expr: src}, err
	}
	ev := &evaluator{env: e, src: src}
	r, err := ev.eval(n)
	if err == nil && r.Kind == ValueResult {
		err = ev.checkReadable(n, r.Value)
	}
	r.Expr = src
	return r, err
}

// checkReadable reads a top-level value in memory once (a scalar whole, a
// struct or array its first byte), so that an expression whose value cannot
// be read is an error pointing at it, not a value that prints as unreadable.
func (ev *evaluator) checkReadable(n Node, v typesys.Value) error {
	if !v.InMemory {
		return nil
	}
	r := v.Type.Resolve()
	if r == nil {
		return nil
	}
	var err error
	switch r.Kind {
	case typesys.Int, typesys.Bool, typesys.Enum, typesys.Pointer:
		_, err = v.Uint()
	case typesys.Float:
		_, err = v.Float()
		if r.Size != 4 && r.Size != 8 {
			err = nil
		}
	case typesys.Struct, typesys.Union, typesys.Array:
		if r.Size > 0 {
			_, err = v.Reader().Uint8(v.Addr)
		}
	}
	if err != nil {
		return ev.readErr(n, v, err)
	}
	return nil
}

// ParseType parses a type name ("struct _ts", "PyObject *", "unsigned long")
// and resolves it. ok is false when src is not a type name (it may still be
// an expression).
func (e *Env) ParseType(src string) (t *typesys.Type, ok bool, err error) {
	const pre = "sizeof("
	n, perr := Parse(pre+src+")", ParseOptions{IsType: e.IsType})
	if perr != nil {
		return nil, false, nil
	}
	st, isType := n.(*SizeofType)
	if !isType {
		return nil, false, nil
	}
	ev := &evaluator{env: e, src: pre + src + ")"}
	t, err = ev.resolveTypeName(st.Type)
	if err != nil {
		var qe *Error
		if errors.As(err, &qe) {
			qe.Src, qe.Pos, qe.End = src, max(qe.Pos-len(pre), 0), max(qe.End-len(pre), 0)
		}
		return nil, true, err
	}
	return t, true, nil
}

// TypeOf evaluates src far enough to know its type, without reading the
// final value (for completion and ptype).
func (e *Env) TypeOf(src string) (*typesys.Type, error) {
	r, err := e.Eval(src)
	if err != nil {
		return nil, err
	}
	if r.Kind != ValueResult {
		return nil, &Error{Src: src, Pos: 0, End: len(src), Msg: "not a typed value"}
	}
	return r.Value.Type, nil
}

type evaluator struct {
	env   *Env
	src   string
	depth int
}

// errAt makes an Error about node n.
func (ev *evaluator) errAt(n Node, cause error, format string, args ...any) error {
	pos, end := n.Span()
	return &Error{Src: ev.src, Pos: pos, End: end, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// text is the source of node n.
func (ev *evaluator) text(n Node) string {
	pos, end := n.Span()
	if pos < 0 || end > len(ev.src) || pos > end {
		return n.String()
	}
	return strings.TrimSpace(ev.src[pos:end])
}

// readErr says that reading the value of node n failed, and why.
func (ev *evaluator) readErr(n Node, v typesys.Value, err error) error {
	var qe *Error
	if errors.As(err, &qe) {
		return err
	}
	where := ""
	if v.InMemory {
		where = fmt.Sprintf(" (%s at %s)", v.Type, v.Addr)
	}
	return ev.errAt(n, err, "cannot read %s%s: %v", ev.text(n), where, err)
}

const maxEvalDepth = 256

func (ev *evaluator) eval(n Node) (Result, error) {
	ev.depth++
	defer func() { ev.depth-- }()
	if ev.depth > maxEvalDepth {
		return Result{}, ev.errAt(n, nil, "expression nests too deeply")
	}
	switch n := n.(type) {
	case *Number:
		return ValueOf(ev.number(n)), nil
	case *CharLit:
		return ValueOf(typesys.FromUint(ev.env.Mem, ev.env.ctypes().intT, uint64(n.Value))), nil
	case *StringLit:
		b := append([]byte(n.Value), 0)
		t := &typesys.Type{Kind: typesys.Array, Elem: ev.env.ctypes().charT, Len: int64(len(b)), Size: int64(len(b))}
		return ValueOf(typesys.FromBytes(ev.env.Mem, t, b)), nil
	case *Ident:
		return ev.ident(n)
	case *Member:
		v, err := ev.member(n)
		return ValueOf(v), err
	case *Index:
		return ev.index(n)
	case *Unary:
		v, err := ev.unary(n)
		return ValueOf(v), err
	case *Binary:
		v, err := ev.binary(n)
		return ValueOf(v), err
	case *Cond:
		c, err := ev.value(n.X)
		if err != nil {
			return Result{}, err
		}
		t, err := ev.truth(n.X, c)
		if err != nil {
			return Result{}, err
		}
		if t {
			return ev.eval(n.Y)
		}
		return ev.eval(n.Z)
	case *Cast:
		t, err := ev.resolveTypeName(n.Type)
		if err != nil {
			return Result{}, err
		}
		x, err := ev.value(n.X)
		if err != nil {
			return Result{}, err
		}
		v, err := ev.convert(n, n.X, x, t)
		return ValueOf(v), err
	case *SizeofType:
		t, err := ev.resolveTypeName(n.Type)
		if err != nil {
			return Result{}, err
		}
		return ev.sizeof(n, t)
	case *SizeofExpr:
		x, err := ev.value(n.X)
		if err != nil {
			return Result{}, err
		}
		return ev.sizeof(n, x.Type)
	case *Call:
		return ev.call(n)
	case *TypeName:
		if n.Stars == 0 && !strings.Contains(n.Base, " ") {
			return ev.ident(&Ident{span: n.span, Name: n.Base})
		}
		return Result{}, ev.errAt(n, nil, "%s is a type, not a value", n.Base)
	}
	return Result{}, ev.errAt(n, nil, "cannot evaluate %T", n)
}

// value evaluates n and requires a typed value.
func (ev *evaluator) value(n Node) (typesys.Value, error) {
	r, err := ev.eval(n)
	if err != nil {
		return typesys.Value{}, err
	}
	if r.Kind != ValueResult {
		return typesys.Value{}, ev.errAt(n, nil, "%s is not a typed value (it is %s)", ev.text(n), r.Kind)
	}
	return r.Value, nil
}

func (k ResultKind) String() string {
	switch k {
	case ValueResult:
		return "a value"
	case TextResult:
		return "text"
	case StringResult:
		return "a string"
	case ListResult:
		return "a list"
	}
	return "unknown"
}

func (ev *evaluator) number(n *Number) typesys.Value {
	ct := ev.env.ctypes()
	if n.IsFloat {
		return typesys.FromUint(ev.env.Mem, ct.doubleT, math.Float64bits(n.Float))
	}
	var t *typesys.Type
	switch {
	case n.Long && n.Unsigned:
		t = ct.ulongT
	case n.Long:
		t = ct.longT
	case n.Unsigned:
		t = ct.uintT
	default:
		t = ct.intT
	}
	return typesys.FromUint(ev.env.Mem, t, n.Int)
}

func (ev *evaluator) ident(n *Ident) (Result, error) {
	if ev.env.LookupRoot != nil {
		v, err := ev.env.LookupRoot(n.Name)
		if err == nil {
			return ValueOf(v), nil
		}
		if !isNotFound(err) {
			return Result{}, ev.errAt(n, err, "%s: %v", n.Name, err)
		}
	}
	if _, err := ev.env.lookupType(n.Name); err == nil {
		return Result{}, ev.errAt(n, nil, "'%s' is a type, not a value (use it in a cast or sizeof)", n.Name)
	}
	var names []string
	if ev.env.RootNames != nil {
		names = ev.env.RootNames()
	}
	return Result{}, ev.errAt(n, ErrNotFound, "unknown name '%s'%s", n.Name, didYouMean(Suggest(n.Name, names)))
}

// structOf returns the struct a member access applies to: x itself, or what
// the pointer x points at, with errors that say which it was.
func (ev *evaluator) structOf(n *Member, x typesys.Value) (typesys.Value, error) {
	r := x.Type.Resolve()
	if r != nil && r.Kind == typesys.Pointer {
		elem := r.Elem.Resolve()
		switch {
		case elem == nil || elem.Kind == typesys.Void:
			return x, ev.errAt(n, nil, "%s is %s: cast it to a pointer to a struct to reach member '%s'", ev.text(n.X), x.Type, n.Name)
		case elem.Kind == typesys.Pointer:
			return x, ev.errAt(n, nil, "%s is %s, a pointer to a pointer: dereference it first, as (*%s).%s", ev.text(n.X), x.Type, ev.text(n.X), n.Name)
		case elem.Kind != typesys.Struct && elem.Kind != typesys.Union:
			return x, ev.errAt(n, nil, "%s is %s, not a pointer to a struct or union (looking for member '%s')", ev.text(n.X), x.Type, n.Name)
		}
		p, err := x.Ptr()
		if err != nil {
			return x, ev.readErr(n.X, x, err)
		}
		if p == 0 {
			return x, ev.errAt(n.X, nil, "%s is NULL (%s): it has no member '%s'", ev.text(n.X), x.Type, n.Name)
		}
		return x.Deref()
	}
	if r == nil || (r.Kind != typesys.Struct && r.Kind != typesys.Union) {
		return x, ev.errAt(n.X, nil, "%s is %s, not a struct or union (looking for member '%s')", ev.text(n.X), x.Type, n.Name)
	}
	return x, nil
}

func (ev *evaluator) member(n *Member) (typesys.Value, error) {
	x, err := ev.value(n.X)
	if err != nil {
		return typesys.Value{}, err
	}
	s, err := ev.structOf(n, x)
	if err != nil {
		return typesys.Value{}, err
	}
	m, err := s.Member(n.Name)
	if err != nil {
		return typesys.Value{}, ev.memberErr(n, s.Type, err)
	}
	return m, nil
}

// memberErr explains a failed member lookup, pointing at the member name.
func (ev *evaluator) memberErr(n *Member, t *typesys.Type, err error) error {
	_, end := n.Span()
	at := &Member{span: span{n.NamePos, end}, X: n.X, Name: n.Name}
	if !errors.Is(err, typesys.ErrNoMember) {
		return ev.errAt(at, err, "member '%s' of %s: %v", n.Name, t, err)
	}
	r := t.Resolve()
	msg := fmt.Sprintf("unknown member '%s' of %s%s", n.Name, t, didYouMean(Suggest(n.Name, t.MemberNames())))
	switch {
	case r != nil && r.Partial != "":
		msg += fmt.Sprintf(": %s is known only from %s; debug info would give all members", t, r.Partial)
	case r != nil && len(r.Members) == 0 && r.Size == 0:
		msg += fmt.Sprintf(": %s is incomplete (declared but not defined in the debug info)", t)
	}
	return ev.errAt(at, err, "%s", msg)
}

func (ev *evaluator) index(n *Index) (Result, error) {
	xr, err := ev.eval(n.X)
	if err != nil {
		return Result{}, err
	}
	iv, err := ev.value(n.I)
	if err != nil {
		return Result{}, err
	}
	i, err := ev.intValue(n.I, iv)
	if err != nil {
		return Result{}, err
	}
	if xr.Kind == ListResult {
		if i < 0 || i >= int64(len(xr.Items)) {
			return Result{}, ev.errAt(n.I, nil, "index %d out of range: the list has %d items", i, len(xr.Items))
		}
		return xr.Items[i], nil
	}
	if xr.Kind != ValueResult {
		return Result{}, ev.errAt(n.X, nil, "%s is %s and cannot be indexed", ev.text(n.X), xr.Kind)
	}
	x := xr.Value
	r := x.Type.Resolve()
	switch {
	case r != nil && r.Kind == typesys.Array:
		if r.Len >= 0 && (i < 0 || i >= r.Len) {
			return Result{}, ev.errAt(n.I, nil, "index %d out of range for %s", i, x.Type)
		}
		if r.Elem.Resolve() == nil || r.Elem.Resolve().Size <= 0 {
			return Result{}, ev.errAt(n.X, nil, "cannot index %s: the size of %s is unknown", x.Type, r.Elem)
		}
		v, err := x.Index(i)
		if err != nil {
			return Result{}, ev.errAt(n, err, "%s: %v", ev.text(n), err)
		}
		return ValueOf(v), nil
	case r != nil && r.Kind == typesys.Pointer:
		if err := ev.checkDeref(n.X, x); err != nil {
			return Result{}, err
		}
		p, err := x.Add(i)
		if err != nil {
			return Result{}, ev.errAt(n, err, "%s: %v", ev.text(n), err)
		}
		v, err := p.Deref()
		if err != nil {
			return Result{}, ev.errAt(n, err, "%s: %v", ev.text(n), err)
		}
		return ValueOf(v), nil
	}
	return Result{}, ev.errAt(n.X, nil, "%s is %s: only arrays and pointers can be indexed", ev.text(n.X), x.Type)
}

// checkDeref checks that pointer x (node n) can be followed: it points at a
// sized type, it can be read, and it is not NULL.
func (ev *evaluator) checkDeref(n Node, x typesys.Value) error {
	r := x.Type.Resolve()
	elem := r.Elem.Resolve()
	if elem == nil || elem.Kind == typesys.Void {
		return ev.errAt(n, nil, "%s is %s: cast it to a typed pointer first, e.g. *(long *)%s", ev.text(n), x.Type, ev.text(n))
	}
	if elem.Kind != typesys.Func && elem.Size <= 0 && elem.Kind != typesys.Struct && elem.Kind != typesys.Union {
		return ev.errAt(n, nil, "%s is %s: the size of %s is unknown", ev.text(n), x.Type, r.Elem)
	}
	p, err := x.Ptr()
	if err != nil {
		return ev.readErr(n, x, err)
	}
	if p == 0 {
		return ev.errAt(n, nil, "%s is NULL (%s)", ev.text(n), x.Type)
	}
	return nil
}

func (ev *evaluator) unary(n *Unary) (typesys.Value, error) {
	x, err := ev.value(n.X)
	if err != nil {
		return typesys.Value{}, err
	}
	ct := ev.env.ctypes()
	switch n.Op {
	case "*":
		r := x.Type.Resolve()
		switch {
		case r != nil && r.Kind == typesys.Pointer:
			if err := ev.checkDeref(n.X, x); err != nil {
				return typesys.Value{}, err
			}
			return x.Deref()
		case r != nil && r.Kind == typesys.Array:
			v, err := x.Index(0)
			if err != nil {
				return typesys.Value{}, ev.errAt(n, err, "%s: %v", ev.text(n), err)
			}
			return v, nil
		case r != nil && r.Kind == typesys.Func:
			return x, nil
		}
		return typesys.Value{}, ev.errAt(n.X, nil, "%s is %s, not a pointer: cannot dereference it", ev.text(n.X), x.Type)
	case "&":
		if !x.InMemory {
			return typesys.Value{}, ev.errAt(n.X, nil, "cannot take the address of %s: it is a computed %s, not in memory", ev.text(n.X), x.Type)
		}
		if _, bits := x.BitField(); bits > 0 {
			return typesys.Value{}, ev.errAt(n.X, nil, "cannot take the address of bitfield %s", ev.text(n.X))
		}
		return x.AddrOf()
	case "!":
		t, err := ev.truth(n.X, x)
		if err != nil {
			return typesys.Value{}, err
		}
		return ev.boolValue(!t), nil
	}
	a, err := ev.num(n.X, x)
	if err != nil {
		return typesys.Value{}, err
	}
	switch n.Op {
	case "+":
		return ev.fromNum(a), nil
	case "-":
		if a.float {
			a.f = -a.f
		} else {
			a.u = -a.u
		}
		return ev.fromNum(a), nil
	case "~":
		if a.float {
			return typesys.Value{}, ev.errAt(n.X, nil, "~ needs an integer, not %s", x.Type)
		}
		a.u = ^a.u
		return ev.fromNum(a), nil
	}
	_ = ct
	return typesys.Value{}, ev.errAt(n, nil, "unknown operator %s", n.Op)
}

// num is an arithmetic operand after C's integer promotions.
type num struct {
	float  bool
	f      float64
	u      uint64 // the integer's bits, sign-extended to 64 when signed
	size   int    // 4 or 8
	signed bool
}

func (a num) int64() int64 { return int64(a.u) }

func (a num) asFloat() float64 {
	switch {
	case a.float:
		return a.f
	case a.signed:
		return float64(int64(a.u))
	}
	return float64(a.u)
}

// num reads an arithmetic operand: integers (promoted to int at least),
// enums, bools and floats.
func (ev *evaluator) num(n Node, v typesys.Value) (num, error) {
	r := v.Type.Resolve()
	if r == nil {
		return num{}, ev.errAt(n, nil, "%s is void", ev.text(n))
	}
	switch r.Kind {
	case typesys.Float:
		f, err := v.Float()
		if err != nil {
			if r.Size != 4 && r.Size != 8 {
				return num{}, ev.errAt(n, err, "%s: %v", ev.text(n), err)
			}
			return num{}, ev.readErr(n, v, err)
		}
		return num{float: true, f: f, size: 8, signed: true}, nil
	case typesys.Int, typesys.Bool, typesys.Enum:
		size := int(r.Size)
		signed := r.Signed
		if _, bits := v.BitField(); bits > 0 && bits < 32 {
			size, signed = 4, true
		} else if _, bits := v.BitField(); bits >= 32 {
			size = 8
		}
		if size <= 0 || size > 8 {
			size = 8
		}
		var u uint64
		var err error
		if signed {
			var i int64
			i, err = v.Int()
			u = uint64(i)
		} else {
			u, err = v.Uint()
		}
		if err != nil {
			return num{}, ev.readErr(n, v, err)
		}
		if size < 4 {
			size, signed = 4, true // integer promotion: everything narrower than int becomes int
		}
		return num{u: u, size: size, signed: signed}, nil
	case typesys.Pointer:
		return num{}, ev.errAt(n, nil, "%s is %s: this operator needs a number", ev.text(n), v.Type)
	}
	return num{}, ev.errAt(n, nil, "%s is %s, not a number", ev.text(n), v.Type)
}

// fromNum makes a computed value of the type arithmetic gives.
func (ev *evaluator) fromNum(a num) typesys.Value {
	ct := ev.env.ctypes()
	if a.float {
		return typesys.FromUint(ev.env.Mem, ct.doubleT, math.Float64bits(a.f))
	}
	return typesys.FromUint(ev.env.Mem, ct.intType(a.size, a.signed), a.u)
}

func (ev *evaluator) boolValue(b bool) typesys.Value {
	u := uint64(0)
	if b {
		u = 1
	}
	return typesys.FromUint(ev.env.Mem, ev.env.ctypes().intT, u)
}

// intValue reads an integer operand (an index, a count).
func (ev *evaluator) intValue(n Node, v typesys.Value) (int64, error) {
	a, err := ev.num(n, v)
	if err != nil {
		return 0, err
	}
	if a.float {
		return 0, ev.errAt(n, nil, "%s is %s: an integer is needed here", ev.text(n), v.Type)
	}
	if !a.signed && a.u > math.MaxInt64 {
		return 0, ev.errAt(n, nil, "%s is too large (%d)", ev.text(n), a.u)
	}
	return a.int64(), nil
}

// truth is C's test of a scalar against zero.
func (ev *evaluator) truth(n Node, v typesys.Value) (bool, error) {
	v = decay(v)
	r := v.Type.Resolve()
	if r != nil && r.Kind == typesys.Pointer {
		p, err := v.Ptr()
		if err != nil {
			return false, ev.readErr(n, v, err)
		}
		return p != 0, nil
	}
	a, err := ev.num(n, v)
	if err != nil {
		return false, err
	}
	if a.float {
		return a.f != 0, nil
	}
	return a.u != 0, nil
}

// decay turns an array in memory into a pointer to its first element, and a
// function into a pointer to it, as C does in expressions.
func decay(v typesys.Value) typesys.Value {
	r := v.Type.Resolve()
	if r == nil || !v.InMemory {
		return v
	}
	switch r.Kind {
	case typesys.Array:
		pt := typesys.PointerTo(r.Elem, int64(v.Reader().PtrSize))
		return typesys.FromUint(v.Reader(), pt, uint64(v.Addr))
	case typesys.Func:
		p, err := v.AddrOf()
		if err == nil {
			return p
		}
	}
	return v
}

func isPointer(v typesys.Value) bool {
	r := v.Type.Resolve()
	return r != nil && r.Kind == typesys.Pointer
}

func isCharArrayOrPointer(v typesys.Value) bool {
	r := v.Type.Resolve()
	return r != nil && (r.Kind == typesys.Array || r.Kind == typesys.Pointer) && r.Elem.IsCharLike()
}

func (ev *evaluator) binary(n *Binary) (typesys.Value, error) {
	if n.Op == "&&" || n.Op == "||" {
		x, err := ev.value(n.X)
		if err != nil {
			return typesys.Value{}, err
		}
		t, err := ev.truth(n.X, x)
		if err != nil {
			return typesys.Value{}, err
		}
		if (n.Op == "&&") != t {
			return ev.boolValue(t), nil // short circuit: the right side is not evaluated
		}
		y, err := ev.value(n.Y)
		if err != nil {
			return typesys.Value{}, err
		}
		t, err = ev.truth(n.Y, y)
		if err != nil {
			return typesys.Value{}, err
		}
		return ev.boolValue(t), nil
	}
	xr, err := ev.eval(n.X)
	if err != nil {
		return typesys.Value{}, err
	}
	yr, err := ev.eval(n.Y)
	if err != nil {
		return typesys.Value{}, err
	}
	if (n.Op == "==" || n.Op == "!=") && (isStringOperand(xr) && isStringOperand(yr)) && (isStringLike(xr) || isStringLike(yr)) {
		return ev.compareStrings(n, xr, yr)
	}
	if xr.Kind != ValueResult {
		return typesys.Value{}, ev.errAt(n.X, nil, "%s is %s: operator %s needs a value", ev.text(n.X), xr.Kind, n.Op)
	}
	if yr.Kind != ValueResult {
		return typesys.Value{}, ev.errAt(n.Y, nil, "%s is %s: operator %s needs a value", ev.text(n.Y), yr.Kind, n.Op)
	}
	x, y := decay(xr.Value), decay(yr.Value)
	if isPointer(x) || isPointer(y) {
		return ev.pointerOp(n, x, y)
	}
	a, err := ev.num(n.X, x)
	if err != nil {
		return typesys.Value{}, err
	}
	b, err := ev.num(n.Y, y)
	if err != nil {
		return typesys.Value{}, err
	}
	return ev.arith(n, a, b)
}

// isStringOperand: string results, string literals and char arrays/pointers
// may be compared as text with == and !=.
func isStringOperand(r Result) bool {
	return r.Kind == StringResult || (r.Kind == ValueResult && isCharArrayOrPointer(r.Value))
}

// isStringLike: a decoded string or a literal (a computed char array), which
// makes == compare text rather than addresses.
func isStringLike(r Result) bool {
	if r.Kind == StringResult {
		return true
	}
	rt := r.Value.Type.Resolve()
	return r.Kind == ValueResult && !r.Value.InMemory && rt != nil && rt.Kind == typesys.Array
}

const maxCompareString = 1 << 16

func (ev *evaluator) compareStrings(n *Binary, xr, yr Result) (typesys.Value, error) {
	text := func(node Node, r Result) (string, error) {
		if r.Kind == StringResult {
			return r.Text, nil
		}
		s, err := r.Value.CString(maxCompareString)
		if err != nil {
			return "", ev.readErr(node, r.Value, err)
		}
		return s, nil
	}
	a, err := text(n.X, xr)
	if err != nil {
		return typesys.Value{}, err
	}
	b, err := text(n.Y, yr)
	if err != nil {
		return typesys.Value{}, err
	}
	return ev.boolValue((a == b) == (n.Op == "==")), nil
}

func (ev *evaluator) opErr(n *Binary, format string, args ...any) error {
	return &Error{Src: ev.src, Pos: n.OpPos, End: n.OpPos + n.OpSpan, Msg: fmt.Sprintf(format, args...)}
}

// pointerOp does the operators C allows on pointers: p + i, i + p, p - i,
// p - q, and comparisons.
func (ev *evaluator) pointerOp(n *Binary, x, y typesys.Value) (typesys.Value, error) {
	xp, yp := isPointer(x), isPointer(y)
	addr := func(node Node, v typesys.Value) (uint64, error) {
		if isPointer(v) {
			p, err := v.Ptr()
			if err != nil {
				return 0, ev.readErr(node, v, err)
			}
			return uint64(p), nil
		}
		a, err := ev.num(node, v)
		if err != nil {
			return 0, err
		}
		if a.float {
			return 0, ev.errAt(node, nil, "%s is %s: cannot mix pointers and floating point", ev.text(node), v.Type)
		}
		return a.u, nil
	}
	switch n.Op {
	case "+", "-":
		if xp && yp {
			if n.Op == "+" {
				return typesys.Value{}, ev.opErr(n, "cannot add two pointers (%s + %s)", x.Type, y.Type)
			}
			return ev.pointerDiff(n, x, y)
		}
		p, pn, i, in := x, n.X, y, n.Y
		if yp {
			if n.Op == "-" {
				return typesys.Value{}, ev.opErr(n, "cannot subtract a pointer from a number")
			}
			p, pn, i, in = y, n.Y, x, n.X
		}
		k, err := ev.intValue(in, i)
		if err != nil {
			return typesys.Value{}, err
		}
		if n.Op == "-" {
			k = -k
		}
		if _, err := p.Ptr(); err != nil {
			return typesys.Value{}, ev.readErr(pn, p, err)
		}
		v, err := p.Add(k)
		if err != nil {
			return typesys.Value{}, ev.errAt(n, err, "%s: %v", ev.text(n), err)
		}
		return v, nil
	case "==", "!=", "<", ">", "<=", ">=":
		a, err := addr(n.X, x)
		if err != nil {
			return typesys.Value{}, err
		}
		b, err := addr(n.Y, y)
		if err != nil {
			return typesys.Value{}, err
		}
		return ev.boolValue(compare(n.Op, a, b)), nil
	}
	return typesys.Value{}, ev.opErr(n, "operator %s does not apply to pointers (%s %s %s); cast to unsigned long first", n.Op, x.Type, n.Op, y.Type)
}

func (ev *evaluator) pointerDiff(n *Binary, x, y typesys.Value) (typesys.Value, error) {
	size := func(v typesys.Value) int64 {
		e := v.Type.Resolve().Elem.Resolve()
		if e == nil || e.Kind == typesys.Void {
			return 1
		}
		return e.Size
	}
	sx, sy := size(x), size(y)
	if sx != sy || sx <= 0 {
		return typesys.Value{}, ev.opErr(n, "cannot subtract %s from %s: the element sizes differ or are unknown", y.Type, x.Type)
	}
	a, err := x.Ptr()
	if err != nil {
		return typesys.Value{}, ev.readErr(n.X, x, err)
	}
	b, err := y.Ptr()
	if err != nil {
		return typesys.Value{}, ev.readErr(n.Y, y, err)
	}
	d := int64(a-b) / sx
	return typesys.FromUint(ev.env.Mem, ev.env.ctypes().longT, uint64(d)), nil
}

// compare applies a C comparison operator to two numbers of one kind.
func compare[T ~int64 | ~uint64 | ~float64](op string, a, b T) bool {
	switch op {
	case "==":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case ">":
		return a > b
	case "<=":
		return a <= b
	}
	return a >= b
}

// arith does C's usual arithmetic conversions and the operation.
func (ev *evaluator) arith(n *Binary, a, b num) (typesys.Value, error) {
	if a.float || b.float {
		x, y := a.asFloat(), b.asFloat()
		switch n.Op {
		case "+":
			return ev.fromNum(num{float: true, f: x + y}), nil
		case "-":
			return ev.fromNum(num{float: true, f: x - y}), nil
		case "*":
			return ev.fromNum(num{float: true, f: x * y}), nil
		case "/":
			return ev.fromNum(num{float: true, f: x / y}), nil
		case "==", "!=", "<", ">", "<=", ">=":
			return ev.boolValue(compare(n.Op, x, y)), nil
		}
		return typesys.Value{}, ev.opErr(n, "operator %s needs integers, not floating point", n.Op)
	}
	if n.Op == "<<" || n.Op == ">>" {
		// The result has the promoted type of the left operand.
		count := b.int64()
		if !b.signed && b.u > 1<<16 {
			count = 1 << 16
		}
		bits := int64(a.size * 8)
		if count < 0 || count >= bits {
			return typesys.Value{}, ev.opErr(n, "shift by %d: the count must be 0 to %d for %d-bit %s", count, bits-1, bits, ev.env.ctypes().intType(a.size, a.signed))
		}
		r := a
		if n.Op == "<<" {
			r.u = a.u << uint(count)
		} else if a.signed {
			r.u = uint64(signExtend(a.u, a.size) >> uint(count))
		} else {
			r.u = truncate(a.u, a.size) >> uint(count)
		}
		r.u = normalize(r.u, r.size, r.signed)
		return ev.fromNum(r), nil
	}
	// Common type: the larger size; unsigned wins at equal size.
	size := max(a.size, b.size)
	signed := true
	if (!a.signed && a.size >= size) || (!b.signed && b.size >= size) {
		signed = false
	}
	x, y := normalize(a.u, size, signed), normalize(b.u, size, signed)
	r := num{size: size, signed: signed}
	switch n.Op {
	case "+":
		r.u = x + y
	case "-":
		r.u = x - y
	case "*":
		r.u = x * y
	case "/", "%":
		if truncate(y, size) == 0 {
			return typesys.Value{}, ev.opErr(n, "division by zero")
		}
		if signed {
			if n.Op == "/" {
				r.u = uint64(int64(x) / int64(y))
			} else {
				r.u = uint64(int64(x) % int64(y))
			}
		} else {
			if n.Op == "/" {
				r.u = truncate(x, size) / truncate(y, size)
			} else {
				r.u = truncate(x, size) % truncate(y, size)
			}
		}
	case "&":
		r.u = x & y
	case "|":
		r.u = x | y
	case "^":
		r.u = x ^ y
	case "==", "!=", "<", ">", "<=", ">=":
		if signed {
			return ev.boolValue(compare(n.Op, int64(x), int64(y))), nil
		}
		return ev.boolValue(compare(n.Op, truncate(x, size), truncate(y, size))), nil
	default:
		return typesys.Value{}, ev.opErr(n, "unknown operator %s", n.Op)
	}
	r.u = normalize(r.u, size, signed)
	return ev.fromNum(r), nil
}

func truncate(u uint64, size int) uint64 {
	if size >= 8 {
		return u
	}
	return u & (1<<(8*uint(size)) - 1)
}

func signExtend(u uint64, size int) int64 {
	if size >= 8 {
		return int64(u)
	}
	shift := 64 - 8*uint(size)
	return int64(u<<shift) >> shift
}

// normalize keeps an integer's bits in canonical form: truncated to its size,
// sign-extended to 64 bits when signed.
func normalize(u uint64, size int, signed bool) uint64 {
	if signed {
		return uint64(signExtend(u, size))
	}
	return truncate(u, size)
}

// convert is a C cast of x (node xn) to t.
func (ev *evaluator) convert(n, xn Node, x typesys.Value, t *typesys.Type) (typesys.Value, error) {
	to := t.Resolve()
	if to == nil || to.Kind == typesys.Void {
		return typesys.Value{}, ev.errAt(n, nil, "cannot cast to void")
	}
	scalarTo := to.Kind == typesys.Int || to.Kind == typesys.Pointer || to.Kind == typesys.Enum || to.Kind == typesys.Bool || to.Kind == typesys.Float
	if scalarTo {
		x = decay(x)
	}
	from := x.Type.Resolve()
	if from == nil {
		return typesys.Value{}, ev.errAt(xn, nil, "%s has no type", ev.text(xn))
	}
	scalarFrom := from.Kind == typesys.Int || from.Kind == typesys.Pointer || from.Kind == typesys.Enum || from.Kind == typesys.Bool || from.Kind == typesys.Float
	if scalarTo && scalarFrom {
		var a num
		if from.Kind == typesys.Pointer {
			p, err := x.Ptr()
			if err != nil {
				return typesys.Value{}, ev.readErr(xn, x, err)
			}
			a = num{u: uint64(p), size: int(from.Size), signed: false}
		} else {
			var err error
			if a, err = ev.num(xn, x); err != nil {
				return typesys.Value{}, err
			}
		}
		switch to.Kind {
		case typesys.Float:
			f := a.asFloat()
			if to.Size == 4 {
				return typesys.FromUint(ev.env.Mem, t, uint64(math.Float32bits(float32(f)))), nil
			}
			if to.Size != 8 {
				return typesys.Value{}, ev.errAt(n, nil, "%d-byte floating point is not supported", to.Size)
			}
			return typesys.FromUint(ev.env.Mem, t, math.Float64bits(f)), nil
		case typesys.Bool:
			nz := a.u != 0
			if a.float {
				nz = a.f != 0
			}
			return typesys.FromUint(ev.env.Mem, t, map[bool]uint64{false: 0, true: 1}[nz]), nil
		case typesys.Pointer:
			if a.float {
				return typesys.Value{}, ev.errAt(n, nil, "cannot cast floating point %s to a pointer", ev.text(xn))
			}
		}
		u := a.u
		if a.float {
			switch {
			case math.IsNaN(a.f) || math.IsInf(a.f, 0):
				return typesys.Value{}, ev.errAt(n, nil, "cannot cast %v to an integer", a.f)
			case to.Signed || a.f < 0:
				u = uint64(int64(a.f))
			default:
				u = uint64(a.f)
			}
		}
		return typesys.FromUint(ev.env.Mem, t, truncate(u, int(to.Size))), nil
	}
	if !x.InMemory {
		return typesys.Value{}, ev.errAt(n, nil, "cannot cast computed %s to %s: only values in memory can be viewed as another type", x.Type, t)
	}
	// Anything in memory can be viewed as another type at the same address.
	return typesys.At(x.Reader(), t, x.Addr), nil
}

func (ev *evaluator) sizeof(n Node, t *typesys.Type) (Result, error) {
	r := t.Resolve()
	if r == nil || r.Kind == typesys.Void {
		return Result{}, ev.errAt(n, nil, "sizeof void")
	}
	if r.Size <= 0 {
		why := "unknown"
		if r.Kind == typesys.Func {
			why = "not defined for a function"
		} else if r.Kind == typesys.Array && r.Len < 0 {
			why = "unknown (the array has no length)"
		}
		return Result{}, ev.errAt(n, nil, "the size of %s is %s", t, why)
	}
	return ValueOf(typesys.FromUint(ev.env.Mem, ev.env.ctypes().ulongT, uint64(r.Size))), nil
}

// BuiltinNames lists the generic built-ins and env's, sorted.
func (e *Env) BuiltinNames() []string {
	var names []string
	for n := range generic {
		names = append(names, n)
	}
	for n := range e.Builtins {
		if _, dup := generic[n]; !dup {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Builtin finds a built-in function by name: env's own first, then the generic ones.
func (e *Env) Builtin(name string) (*Builtin, bool) {
	if b, ok := e.Builtins[name]; ok {
		return b, true
	}
	b, ok := generic[name]
	return b, ok
}
