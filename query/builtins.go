package query

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/typesys"
)

// ArgKind says what a built-in's argument is.
type ArgKind int

const (
	ArgValue  ArgKind = iota // an expression evaluated to a typed value
	ArgAny                   // an expression of any result (a list, a string, ...)
	ArgType                  // a type name: PyObject, struct _ts, char *
	ArgMember                // a member name or dotted path: next, ob_base.ob_type
)

// Builtin is a function callable from expressions.
type Builtin struct {
	Name  string
	Usage string // "container_of(p, T, member)"
	Doc   string // what it does, one or two sentences
	Args  []ArgKind
	// Optional is how many trailing Args may be left out.
	Optional int
	Fn       func(c *CallContext, args []Arg) (Result, error)
}

// Arg is one evaluated argument.
type Arg struct {
	Node   Node
	Result Result        // ArgValue, ArgAny
	Value  typesys.Value // ArgValue: Result.Value
	Type   *typesys.Type // ArgType
	Name   string        // ArgMember
}

// CallContext is what a built-in sees of the call.
type CallContext struct {
	Env  *Env
	Call *Call
	ev   *evaluator
}

// Errorf makes an error pointing at argument i (or at the whole call if i < 0).
func (c *CallContext) Errorf(i int, cause error, format string, args ...any) error {
	var n Node = c.Call
	if i >= 0 && i < len(c.Call.Args) {
		n = c.Call.Args[i]
	}
	return c.ev.errAt(n, cause, format, args...)
}

// ReadError says that reading argument i's value v failed, and why.
func (c *CallContext) ReadError(i int, v typesys.Value, err error) error {
	var n Node = c.Call
	if i >= 0 && i < len(c.Call.Args) {
		n = c.Call.Args[i]
	}
	return c.ev.readErr(n, v, err)
}

// Text is the source text of argument i.
func (c *CallContext) Text(i int) string { return c.ev.text(c.Call.Args[i]) }

// Int reads argument i as an integer.
func (c *CallContext) Int(i int, v typesys.Value) (int64, error) {
	return c.ev.intValue(c.Call.Args[i], v)
}

// Address reads argument i as an address: a pointer's value, an integer, or
// the address of an array or other object in memory.
func (c *CallContext) Address(i int, v typesys.Value) (core.Address, error) {
	v = decay(v)
	r := v.Type.Resolve()
	if r != nil && r.Kind == typesys.Pointer {
		p, err := v.Ptr()
		if err != nil {
			return 0, c.ReadError(i, v, err)
		}
		return p, nil
	}
	if r != nil && (r.Kind == typesys.Int || r.Kind == typesys.Enum) {
		n, err := c.ev.num(c.Call.Args[i], v)
		if err != nil {
			return 0, err
		}
		return core.Address(n.u), nil
	}
	if v.InMemory {
		return v.Addr, nil
	}
	return 0, c.Errorf(i, nil, "%s is %s, not an address", c.Text(i), v.Type)
}

func (ev *evaluator) call(n *Call) (Result, error) {
	b, ok := ev.env.Builtin(n.Name)
	if !ok {
		return Result{}, ev.errAt(n, nil, "unknown function '%s'%s; functions are: %s", n.Name,
			didYouMean(Suggest(n.Name, ev.env.BuiltinNames())), strings.Join(ev.env.BuiltinNames(), ", "))
	}
	lo, hi := len(b.Args)-b.Optional, len(b.Args)
	if len(n.Args) < lo || len(n.Args) > hi {
		want := fmt.Sprint(lo)
		if lo != hi {
			want = fmt.Sprintf("%d to %d", lo, hi)
		}
		return Result{}, ev.errAt(n, nil, "%s takes %s arguments, not %d: %s", n.Name, want, len(n.Args), b.Usage)
	}
	args := make([]Arg, len(n.Args))
	for i, an := range n.Args {
		args[i].Node = an
		var err error
		switch b.Args[i] {
		case ArgValue, ArgAny:
			args[i].Result, err = ev.eval(an)
			if err == nil && b.Args[i] == ArgValue {
				if args[i].Result.Kind != ValueResult {
					err = ev.errAt(an, nil, "argument %d of %s must be a typed value, not %s", i+1, n.Name, args[i].Result.Kind)
				}
				args[i].Value = args[i].Result.Value
			}
		case ArgType:
			args[i].Type, err = ev.typeArg(an, n.Name, i)
		case ArgMember:
			args[i].Name, err = ev.memberArg(an, n.Name, i)
		}
		if err != nil {
			return Result{}, err
		}
	}
	r, err := b.Fn(&CallContext{Env: ev.env, Call: n, ev: ev}, args)
	if err != nil {
		var qe *Error
		if !errors.As(err, &qe) {
			err = ev.errAt(n, err, "%s: %v", n.Name, err)
		}
		return Result{}, err
	}
	return r, nil
}

// typeArg reads a type argument: a TypeName, or a bare identifier naming a type.
func (ev *evaluator) typeArg(n Node, fn string, i int) (*typesys.Type, error) {
	switch a := n.(type) {
	case *TypeName:
		return ev.resolveTypeName(a)
	case *Ident:
		return ev.resolveTypeName(&TypeName{span: a.span, Base: a.Name})
	}
	return nil, ev.errAt(n, nil, "argument %d of %s must be a type", i+1, fn)
}

// memberArg reads a member path argument: name or name.name...
func (ev *evaluator) memberArg(n Node, fn string, i int) (string, error) {
	switch a := n.(type) {
	case *Ident:
		return a.Name, nil
	case *TypeName:
		if a.Stars == 0 && !strings.Contains(a.Base, " ") {
			return a.Base, nil
		}
	case *Member:
		if !a.Arrow {
			head, err := ev.memberArg(a.X, fn, i)
			if err == nil {
				return head + "." + a.Name, nil
			}
		}
	}
	return "", ev.errAt(n, nil, "argument %d of %s must be a member name (or a path like a.b)", i+1, fn)
}

// memberOffset finds the offset of a dotted member path in t.
func memberOffset(t *typesys.Type, path string) (int64, *typesys.Type, error) {
	var off int64
	cur := t
	for _, name := range strings.Split(path, ".") {
		r := cur.Resolve()
		if r == nil || (r.Kind != typesys.Struct && r.Kind != typesys.Union) {
			return 0, nil, fmt.Errorf("%s is not a struct or union (looking for '%s')", cur, name)
		}
		m, o, ok := cur.Member(name)
		if !ok {
			msg := fmt.Sprintf("unknown member '%s' of %s%s", name, cur, didYouMean(Suggest(name, cur.MemberNames())))
			if r.Partial != "" {
				msg += fmt.Sprintf(": %s is known only from %s; debug info would give all members", cur, r.Partial)
			}
			return 0, nil, errors.New(msg)
		}
		if m.BitSize > 0 {
			return 0, nil, fmt.Errorf("'%s' is a bitfield: it has no byte offset", name)
		}
		off += o
		cur = m.Type
	}
	return off, cur, nil
}

// Limits of list(): the default and the most items it walks.
const (
	DefaultListMax = 1000
	MaxListItems   = 100_000
)

// maxStringArg bounds string(p, n).
const maxStringArg = 1 << 20

var generic = map[string]*Builtin{}

func init() {
	for _, b := range []*Builtin{
		{
			Name: "container_of", Usage: "container_of(p, T, member)",
			Doc:  "The T that contains the member p points at, as (T *)((char *)p - offsetof(T, member)).",
			Args: []ArgKind{ArgValue, ArgType, ArgMember}, Fn: containerOf,
		},
		{
			Name: "offsetof", Usage: "offsetof(T, member)",
			Doc:  "The byte offset of member (a name or a path like a.b) in T.",
			Args: []ArgKind{ArgType, ArgMember}, Fn: offsetOf,
		},
		{
			Name: "list", Usage: "list(head, next [, max])",
			Doc: fmt.Sprintf("Walk a linked list from pointer head by member next (a name or a path) until NULL, a cycle or back at head; "+
				"the items are pointers, indexable as list(h, next)[i]. At most max items (default %d, limit %d).", DefaultListMax, MaxListItems),
			Args: []ArgKind{ArgValue, ArgMember, ArgValue}, Optional: 1, Fn: walkList,
		},
		{
			Name: "hex", Usage: "hex(x)",
			Doc:  "x (an integer or pointer) in hexadecimal.",
			Args: []ArgKind{ArgValue}, Fn: hexOf,
		},
		{
			Name: "string", Usage: "string(p [, max])",
			Doc:  fmt.Sprintf("The NUL-terminated C string at p (a pointer, array or address), at most max bytes (default 4096, limit %d).", maxStringArg),
			Args: []ArgKind{ArgValue, ArgValue}, Optional: 1, Fn: cString,
		},
	} {
		generic[b.Name] = b
	}
}

// GenericBuiltins lists the built-ins every Env has, sorted by name.
func GenericBuiltins() []*Builtin {
	out := make([]*Builtin, 0, len(generic))
	for _, b := range generic {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func containerOf(c *CallContext, args []Arg) (Result, error) {
	addr, err := c.Address(0, args[0].Value)
	if err != nil {
		return Result{}, err
	}
	off, _, err := memberOffset(args[1].Type, args[2].Name)
	if err != nil {
		return Result{}, c.Errorf(2, err, "%v", err)
	}
	pt := typesys.PointerTo(args[1].Type, int64(c.Env.Mem.PtrSize))
	return ValueOf(typesys.FromUint(c.Env.Mem, pt, uint64(addr.Add(-off)))), nil
}

func offsetOf(c *CallContext, args []Arg) (Result, error) {
	off, _, err := memberOffset(args[0].Type, args[1].Name)
	if err != nil {
		return Result{}, c.Errorf(1, err, "%v", err)
	}
	return ValueOf(typesys.FromUint(c.Env.Mem, c.Env.ctypes().ulongT, uint64(off))), nil
}

func walkList(c *CallContext, args []Arg) (Result, error) {
	limit := int64(DefaultListMax)
	if len(args) > 2 {
		n, err := c.Int(2, args[2].Value)
		if err != nil {
			return Result{}, err
		}
		if n < 0 || n > MaxListItems {
			return Result{}, c.Errorf(2, nil, "max must be 0 to %d", MaxListItems)
		}
		limit = n
	}
	head := decay(args[0].Value)
	if r := head.Type.Resolve(); r == nil || r.Kind != typesys.Pointer {
		if head.InMemory && head.Type.IsStructLike() {
			var err error
			if head, err = head.AddrOf(); err != nil {
				return Result{}, c.Errorf(0, err, "%v", err)
			}
		} else {
			return Result{}, c.Errorf(0, nil, "%s is %s: list() starts from a pointer to a struct", c.Text(0), head.Type)
		}
	}
	first, err := head.Ptr()
	if err != nil {
		return Result{}, c.ReadError(0, head, err)
	}
	out := Result{Kind: ListResult}
	seen := map[core.Address]bool{}
	cur := head
	for {
		p, err := cur.Ptr()
		if err != nil {
			out.Note = fmt.Sprintf("stopped after %d items: cannot read the next link: %v", len(out.Items), err)
			break
		}
		if p == 0 {
			break
		}
		if len(out.Items) > 0 && p == first {
			break // a circular list is back at its head
		}
		if seen[p] {
			out.Note = fmt.Sprintf("stopped after %d items: the list loops back to %s", len(out.Items), p)
			break
		}
		if int64(len(out.Items)) >= limit {
			out.Note = fmt.Sprintf("stopped at the limit of %d items", limit)
			break
		}
		seen[p] = true
		out.Items = append(out.Items, ValueOf(cur))
		if !cur.Type.Resolve().Elem.IsStructLike() {
			return Result{}, c.Errorf(0, nil, "%s is %s: list() follows a member of a struct", c.Text(0), cur.Type)
		}
		next, err := cur.Path(args[1].Name)
		if err != nil {
			if errors.Is(err, typesys.ErrNoMember) {
				return Result{}, c.Errorf(1, err, "unknown member '%s' of %s%s", args[1].Name, cur.Type.Resolve().Elem,
					didYouMean(Suggest(args[1].Name, cur.Type.Resolve().Elem.MemberNames())))
			}
			out.Note = fmt.Sprintf("stopped after %d items: %v", len(out.Items), err)
			break
		}
		next = decay(next)
		if r := next.Type.Resolve(); r == nil || r.Kind != typesys.Pointer {
			return Result{}, c.Errorf(1, nil, "member '%s' is %s, not a pointer", args[1].Name, next.Type)
		}
		// The link may be a different pointer type (a list_head inside the
		// node); the walk keeps the head's type, as list_for_each_entry does
		// with container_of.
		u, err := next.Ptr()
		if err != nil {
			out.Note = fmt.Sprintf("stopped after %d items: cannot read %s of %s: %v", len(out.Items), args[1].Name, p, err)
			break
		}
		cur = typesys.FromUint(c.Env.Mem, head.Type, uint64(u))
	}
	return out, nil
}

func hexOf(c *CallContext, args []Arg) (Result, error) {
	v := decay(args[0].Value)
	r := v.Type.Resolve()
	if r != nil && r.Kind == typesys.Pointer {
		p, err := v.Ptr()
		if err != nil {
			return Result{}, c.ReadError(0, v, err)
		}
		return Result{Kind: TextResult, Text: fmt.Sprintf("%#x", uint64(p))}, nil
	}
	n, err := c.ev.num(c.Call.Args[0], v)
	if err != nil {
		return Result{}, err
	}
	if n.float {
		return Result{}, c.Errorf(0, nil, "hex() needs an integer or pointer, not %s", v.Type)
	}
	// Two's complement in the value's own width, as printf("%#x") shows it.
	return Result{Kind: TextResult, Text: fmt.Sprintf("%#x", truncate(n.u, n.size))}, nil
}

func cString(c *CallContext, args []Arg) (Result, error) {
	limit := int64(4096)
	if len(args) > 1 {
		n, err := c.Int(1, args[1].Value)
		if err != nil {
			return Result{}, err
		}
		if n < 0 || n > maxStringArg {
			return Result{}, c.Errorf(1, nil, "max must be 0 to %d", maxStringArg)
		}
		limit = n
	}
	v := args[0].Value
	if r := v.Type.Resolve(); r != nil && r.Kind == typesys.Array && !v.InMemory {
		s, err := v.CString(int(limit))
		if err != nil {
			return Result{}, c.Errorf(0, err, "%v", err)
		}
		return Result{Kind: StringResult, Text: s, Value: v}, nil
	}
	addr, err := c.Address(0, v)
	if err != nil {
		return Result{}, err
	}
	if addr == 0 {
		return Result{}, c.Errorf(0, nil, "%s is NULL", c.Text(0))
	}
	b, _, err := c.Env.Mem.CString(addr, int(limit))
	if err != nil {
		return Result{}, c.Errorf(0, err, "cannot read a string at %s: %v", addr, err)
	}
	pt := typesys.PointerTo(c.Env.ctypes().charT, int64(c.Env.Mem.PtrSize))
	return Result{Kind: StringResult, Text: string(b), Value: typesys.FromUint(c.Env.Mem, pt, uint64(addr))}, nil
}
