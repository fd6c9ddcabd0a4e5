package query

import (
	"fmt"
	"strings"
)

// Node is a parsed expression. Pos and End are byte offsets into the source,
// so errors can underline the part of the expression they are about.
type Node interface {
	Span() (pos, end int)
	String() string // a fully parenthesized form, for tests and debugging
}

type span struct{ Pos, End int }

func (s span) Span() (int, int) { return s.Pos, s.End }

// Number is an integer or floating-point literal.
type Number struct {
	span
	Text     string
	Int      uint64
	Float    float64
	IsFloat  bool
	Unsigned bool // a 'u' suffix, or a hex/octal literal too big for the signed type
	Long     bool // an 'l' suffix, or a value too big for int
}

// CharLit is a character literal such as 'a' or '\n'; its type is int.
type CharLit struct {
	span
	Value int64
}

// StringLit is a string literal; its value is a char array holding the bytes and a NUL.
type StringLit struct {
	span
	Value string
}

// Ident names a root: a variable, symbol or convenience name.
type Ident struct {
	span
	Name string
}

// Member is x.name or x->name; both follow pointers as needed.
type Member struct {
	span
	X       Node
	Name    string
	Arrow   bool
	NamePos int // offset of the member name, for errors about it
}

// Index is x[i].
type Index struct {
	span
	X, I Node
}

// Unary is one of - + ! ~ * & applied to X.
type Unary struct {
	span
	Op string
	X  Node
}

// Binary is X op Y for arithmetic, shift, bitwise, comparison and logical operators.
type Binary struct {
	span
	Op     string
	X, Y   Node
	OpPos  int
	OpSpan int
}

// Cond is C's X ? Y : Z.
type Cond struct {
	span
	X, Y, Z Node
}

// Cast is (T)X.
type Cast struct {
	span
	Type *TypeName
	X    Node
}

// SizeofType is sizeof(T).
type SizeofType struct {
	span
	Type *TypeName
}

// SizeofExpr is sizeof X (or sizeof(X)).
type SizeofExpr struct {
	span
	X Node
}

// Call is a built-in function call, e.g. container_of(p, T, member).
type Call struct {
	span
	Name string
	Args []Node // each an expression or a *TypeName
}

// TypeName is a type as written in a cast, sizeof or built-in argument:
// "struct _ts", "unsigned long", "PyObject" followed by Stars pointer levels.
type TypeName struct {
	span
	Base  string
	Stars int
}

func (n *Number) String() string    { return n.Text }
func (n *CharLit) String() string   { return fmt.Sprintf("%d", n.Value) }
func (n *StringLit) String() string { return fmt.Sprintf("%q", n.Value) }
func (n *Ident) String() string     { return n.Name }
func (n *Member) String() string {
	op := "."
	if n.Arrow {
		op = "->"
	}
	return "(" + n.X.String() + op + n.Name + ")"
}
func (n *Index) String() string  { return "(" + n.X.String() + "[" + n.I.String() + "])" }
func (n *Unary) String() string  { return "(" + n.Op + n.X.String() + ")" }
func (n *Binary) String() string { return "(" + n.X.String() + " " + n.Op + " " + n.Y.String() + ")" }
func (n *Cond) String() string {
	return "(" + n.X.String() + " ? " + n.Y.String() + " : " + n.Z.String() + ")"
}
func (n *Cast) String() string       { return "((" + n.Type.String() + ")" + n.X.String() + ")" }
func (n *SizeofType) String() string { return "sizeof(" + n.Type.String() + ")" }
func (n *SizeofExpr) String() string { return "sizeof(" + n.X.String() + ")" }
func (n *Call) String() string {
	args := make([]string, len(n.Args))
	for i, a := range n.Args {
		args[i] = a.String()
	}
	return n.Name + "(" + strings.Join(args, ", ") + ")"
}
func (n *TypeName) String() string {
	if n.Stars == 0 {
		return n.Base
	}
	return n.Base + " " + strings.Repeat("*", n.Stars)
}
