package query

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Limits on what is parsed: an expression is typed by a person, so these are
// generous, and they keep a hostile or fuzzed input from exhausting the stack.
const (
	MaxExprLen  = 4096
	maxTokens   = 1024
	maxNesting  = 64
	maxUnaryRun = 64
)

// exprRules split an expression into tokens. TypeName and Keyword never match
// text: identifiers are re-typed into them after lexing (see classify), since
// whether "(x) - 1" is a cast depends on whether x names a type, as in C.
var exprRules = []lexer.SimpleRule{
	{Name: "Whitespace", Pattern: `[ \t\r\n]+`},
	{Name: "Number", Pattern: `(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)[uUlLfF]*`},
	{Name: "Char", Pattern: `'(?:\\.|[^'\\])*'`},
	{Name: "String", Pattern: `"(?:\\.|[^"\\])*"`},
	{Name: "Backtick", Pattern: "`[^`]*`"},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Punct", Pattern: `->|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>()\[\].,?:]`},
	{Name: "TypeName", Pattern: `[^\x00-\x{10FFFF}]`},
	{Name: "Keyword", Pattern: `[^\x00-\x{10FFFF}]`},
}

// The grammar. Binary operators are parsed as a flat list and grouped by C's
// precedence afterwards (see climb), which keeps the grammar small.
type gExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Bin    *gBinary `parser:"@@"`
	Then   *gExpr   `parser:"( '?' @@"`
	Else   *gExpr   `parser:"  ':' @@ )?"`
}

type gBinary struct {
	Head *gUnary     `parser:"@@"`
	Tail []*gBinTail `parser:"@@*"`
}

type gBinTail struct {
	Pos   lexer.Position
	Op    string  `parser:"@('||' | '&&' | '|' | '^' | '&' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '<<' | '>>' | '+' | '-' | '*' | '/' | '%')"`
	Right *gUnary `parser:"@@"`
}

type gUnary struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Op      string    `parser:"(  @('-' | '+' | '!' | '~' | '*' | '&')"`
	Operand *gUnary   `parser:"   @@ )"`
	Sizeof  *gSizeof  `parser:"| @@"`
	Cast    *gCast    `parser:"| @@"`
	Postfix *gPostfix `parser:"| @@"`
}

type gSizeof struct {
	Type *gType  `parser:"'sizeof' ( '(' @@ ')'"`
	Expr *gUnary `parser:"        | @@ )"`
}

type gCast struct {
	Type *gType  `parser:"'(' @@ ')'"`
	X    *gUnary `parser:"@@"`
}

type gType struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Pre     []string `parser:"@('const' | 'volatile')*"`
	Tag     string   `parser:"( @('struct' | 'union' | 'enum')"`
	TagName string   `parser:"  @(Ident | TypeName)"`
	Base    []string `parser:"| @('unsigned' | 'signed' | 'char' | 'short' | 'int' | 'long' | 'float' | 'double' | 'void' | '_Bool' | 'const' | 'volatile')+"`
	Name    string   `parser:"| @TypeName )"`
	Post    []string `parser:"@('const' | 'volatile')*"`
	Stars   []string `parser:"( @'*' ('const' | 'volatile')* )*"`
}

type gPostfix struct {
	Primary *gPrimary  `parser:"@@"`
	Ops     []*gPostOp `parser:"@@*"`
}

type gPostOp struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Arrow  string `parser:"(  @('.' | '->')"`
	Name   string `parser:"   @(Ident | TypeName | Backtick) )"`
	Index  *gExpr `parser:"| '[' @@ ']'"`
}

type gPrimary struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Call   *gCall   `parser:"  @@"`
	Number string   `parser:"| @Number"`
	Char   string   `parser:"| @Char"`
	String []string `parser:"| @String+"`
	Ident  string   `parser:"| @(Ident | Backtick)"`
	Paren  *gExpr   `parser:"| '(' @@ ')'"`
}

type gCall struct {
	Name string  `parser:"@Ident '('"`
	Args []*gArg `parser:"( @@ ( ',' @@ )* )? ')'"`
}

type gArg struct {
	Type *gType `parser:"  @@"`
	Expr *gExpr `parser:"| @@"`
}

// grammar is the parser and its lexer's token types, built together on first
// use, not at package init: building the lexer's regexps and the grammar takes
// about 2 ms, which every command paid at start-up though most never parse an
// expression.
type grammar struct {
	parser *participle.Parser[gExpr]
	tok    tokenTypes
}

// tokenTypes are the lexer's token types; classify retypes tokens by them.
type tokenTypes struct {
	ident, typeName, keyword, punct, ws lexer.TokenType
}

var exprGrammar = sync.OnceValue(func() grammar {
	lex := lexer.MustSimple(exprRules)
	sym := lex.Symbols()
	return grammar{
		parser: participle.MustBuild[gExpr](
			participle.Lexer(lex),
			participle.UseLookahead(participle.MaxLookahead),
		),
		tok: tokenTypes{
			ident: sym["Ident"], typeName: sym["TypeName"], keyword: sym["Keyword"],
			punct: sym["Punct"], ws: sym["Whitespace"],
		},
	}
})

const tokEOF = lexer.EOF

// keywords are the identifiers C reserves that the grammar uses.
var keywords = map[string]bool{
	"struct": true, "union": true, "enum": true, "sizeof": true,
	"unsigned": true, "signed": true, "char": true, "short": true, "int": true, "long": true,
	"float": true, "double": true, "void": true, "_Bool": true, "const": true, "volatile": true,
}

// ParseOptions tune parsing.
type ParseOptions struct {
	// IsType says whether an identifier names a type. It decides the one case
	// C's grammar leaves to the symbol table: "(x) - 1" is a cast of -1 when x
	// is a type and a subtraction otherwise. Nil means no bare identifier is a
	// type there (casts to named types still work with a '*' or a keyword).
	IsType func(name string) bool
}

// Parse parses one expression.
func Parse(src string, opts ParseOptions) (Node, error) {
	if len(src) > MaxExprLen {
		return nil, &Error{Src: src, Pos: MaxExprLen, End: len(src), Msg: fmt.Sprintf("expression too long (%d bytes; at most %d)", len(src), MaxExprLen)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Src: src, Msg: "empty expression"}
	}
	g := exprGrammar()
	tt := g.tok
	raw, err := g.parser.Lex("", strings.NewReader(src))
	if err != nil {
		return nil, syntaxError(src, err)
	}
	toks := raw[:0:0]
	for _, t := range raw {
		if t.Type != tt.ws {
			toks = append(toks, t)
		}
	}
	if err := tt.checkShape(src, toks); err != nil {
		return nil, err
	}
	tt.classify(toks, opts.IsType)
	peek, err := lexer.Upgrade(&sliceLexer{toks: toks})
	if err != nil {
		return nil, syntaxError(src, err)
	}
	ast, err := g.parser.ParseFromLexer(peek)
	if err != nil {
		return nil, syntaxError(src, err)
	}
	c := converter{src: src}
	n := c.expr(ast)
	if c.err != nil {
		return nil, c.err
	}
	return n, nil
}

// checkShape bounds the token count and nesting before the recursive parser runs.
func (tt tokenTypes) checkShape(src string, toks []lexer.Token) error {
	if len(toks) > maxTokens {
		return &Error{Src: src, Pos: toks[maxTokens].Pos.Offset, End: len(src), Msg: fmt.Sprintf("expression has more than %d tokens", maxTokens)}
	}
	depth, unary := 0, 0
	for _, t := range toks {
		if t.Type != tt.punct {
			unary = 0
			continue
		}
		switch t.Value {
		case "(", "[":
			depth++
			if depth > maxNesting {
				return &Error{Src: src, Pos: t.Pos.Offset, End: t.Pos.Offset + 1, Msg: fmt.Sprintf("expression nests deeper than %d levels", maxNesting)}
			}
		case ")", "]":
			depth--
		case "-", "+", "!", "~", "*", "&":
			unary++
			if unary > maxUnaryRun {
				return &Error{Src: src, Pos: t.Pos.Offset, End: t.Pos.Offset + 1, Msg: fmt.Sprintf("more than %d operators in a row", maxUnaryRun)}
			}
			continue
		}
		unary = 0
	}
	return nil
}

// classify re-types keywords, and identifiers that are type names in a
// position where only a type fits, or where isType says so.
func (tt tokenTypes) classify(toks []lexer.Token, isType func(string) bool) {
	for i := range toks {
		if toks[i].Type == tt.ident && keywords[toks[i].Value] {
			toks[i].Type = tt.keyword
		}
	}
	punct := func(i int, v string) bool {
		return i >= 0 && i < len(toks) && toks[i].Type == tt.punct && toks[i].Value == v
	}
	qual := func(i int) bool {
		return i >= 0 && i < len(toks) && toks[i].Type == tt.keyword && (toks[i].Value == "const" || toks[i].Value == "volatile")
	}
	askType := func(name string) bool { return isType != nil && isType(name) }
	for i := range toks {
		if toks[i].Type != tt.ident {
			continue
		}
		j, quals := i-1, false
		for qual(j) {
			j, quals = j-1, true
		}
		if !punct(j, "(") && !punct(j, ",") {
			continue
		}
		k, stars := i+1, 0
		for punct(k, "*") || (stars > 0 && qual(k)) {
			if punct(k, "*") {
				stars++
			}
			k++
		}
		closes := punct(k, ")") || punct(k, ",")
		name := toks[i].Value
		isTypeHere := false
		switch {
		case closes && (stars > 0 || quals):
			// "(T *)" and "(const T)" cannot be expressions.
			isTypeHere = true
		case stars == 0 && punct(j, "(") && punct(k, ")"):
			switch {
			case j > 0 && toks[j-1].Type == tt.keyword && toks[j-1].Value == "sizeof":
				isTypeHere = askType(name)
			case j > 0 && toks[j-1].Type == tt.ident:
				// A call's argument: the built-in decides what it wants.
			case tt.startsOperandOnly(toks, k+1):
				isTypeHere = true // "(x) y" parses only as a cast
			case tt.startsOperandOrOperator(toks, k+1):
				isTypeHere = askType(name)
			}
		}
		if isTypeHere {
			toks[i].Type = tt.typeName
		}
	}
}

// startsOperandOnly reports whether token i can begin an operand but cannot
// continue an expression as a binary or postfix operator.
func (tt tokenTypes) startsOperandOnly(toks []lexer.Token, i int) bool {
	if i >= len(toks) || toks[i].Type == tokEOF {
		return false
	}
	t := toks[i]
	switch t.Type {
	case tt.punct:
		return t.Value == "!" || t.Value == "~" || t.Value == "("
	case tt.keyword:
		return t.Value == "sizeof"
	}
	return true // identifiers, type names, numbers, characters, strings
}

// startsOperandOrOperator reports whether token i is one of - + * &, which
// begin an operand after a cast and are binary operators after a parenthesis.
func (tt tokenTypes) startsOperandOrOperator(toks []lexer.Token, i int) bool {
	if i >= len(toks) || toks[i].Type != tt.punct {
		return false
	}
	switch toks[i].Value {
	case "-", "+", "*", "&":
		return true
	}
	return false
}

// sliceLexer replays classified tokens to the parser.
type sliceLexer struct {
	toks []lexer.Token
	i    int
}

func (l *sliceLexer) Next() (lexer.Token, error) {
	if l.i >= len(l.toks) {
		pos := lexer.Position{}
		if n := len(l.toks); n > 0 {
			pos = l.toks[n-1].Pos
			pos.Offset += len(l.toks[n-1].Value)
		}
		return lexer.EOFToken(pos), nil
	}
	t := l.toks[l.i]
	l.i++
	return t, nil
}

// syntaxError turns a participle error into an Error pointing at the token.
func syntaxError(src string, err error) error {
	var perr participle.Error
	if errors.As(err, &perr) {
		pos := perr.Position().Offset
		end := pos + 1
		var ut *participle.UnexpectedTokenError
		msg := perr.Message()
		if errors.As(err, &ut) {
			if ut.Unexpected.EOF() {
				msg = "unexpected end of expression"
			} else {
				end = pos + len(ut.Unexpected.Value)
				msg = fmt.Sprintf("unexpected %q", ut.Unexpected.Value)
				if ut.Expect != "" {
					msg += " (expected " + ut.Expect + ")"
				}
			}
		}
		if pos > len(src) {
			pos = len(src)
		}
		if end > len(src) {
			end = len(src)
		}
		return &Error{Src: src, Pos: pos, End: end, Msg: "syntax error: " + msg}
	}
	var lerr *lexer.Error
	if errors.As(err, &lerr) {
		pos := lerr.Pos.Offset
		if pos > len(src) {
			pos = len(src)
		}
		end := pos + 1
		if end > len(src) {
			end = len(src)
		}
		return &Error{Src: src, Pos: pos, End: end, Msg: "syntax error: " + lerr.Msg}
	}
	return &Error{Src: src, Msg: "syntax error: " + err.Error()}
}

// converter turns the grammar's tree into Nodes.
type converter struct {
	src string
	err error
}

// sp makes a span from participle positions. EndPos is where the next token
// starts, so whitespace before it is trimmed off.
func (c *converter) sp(pos, end lexer.Position) span {
	e := end.Offset
	if e > len(c.src) {
		e = len(c.src)
	}
	for e > pos.Offset && strings.IndexByte(" \t\r\n", c.src[e-1]) >= 0 {
		e--
	}
	return span{pos.Offset, e}
}

func (c *converter) fail(pos, end int, format string, args ...any) {
	if c.err == nil {
		c.err = &Error{Src: c.src, Pos: pos, End: end, Msg: fmt.Sprintf(format, args...)}
	}
}

func (c *converter) expr(g *gExpr) Node {
	x := c.binary(g.Bin)
	if g.Then == nil {
		return x
	}
	y, z := c.expr(g.Then), c.expr(g.Else)
	return &Cond{span: c.sp(g.Pos, g.EndPos), X: x, Y: y, Z: z}
}

var precedence = map[string]int{
	"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5,
	"==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
	"<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}

func (c *converter) binary(g *gBinary) Node {
	operands := []Node{c.unary(g.Head)}
	for _, t := range g.Tail {
		operands = append(operands, c.unary(t.Right))
	}
	// Precedence climbing over the flat list; every operator is left-associative.
	i := 0
	var climb func(minPrec int) Node
	climb = func(minPrec int) Node {
		lhs := operands[i]
		for i < len(g.Tail) {
			t := g.Tail[i]
			p := precedence[t.Op]
			if p < minPrec {
				break
			}
			i++
			rhs := climb(p + 1)
			pos, _ := lhs.Span()
			_, end := rhs.Span()
			lhs = &Binary{span: span{pos, end}, Op: t.Op, X: lhs, Y: rhs, OpPos: t.Pos.Offset, OpSpan: len(t.Op)}
		}
		return lhs
	}
	return climb(1)
}

func (c *converter) unary(g *gUnary) Node {
	sp := c.sp(g.Pos, g.EndPos)
	switch {
	case g.Operand != nil:
		return &Unary{span: sp, Op: g.Op, X: c.unary(g.Operand)}
	case g.Sizeof != nil:
		if g.Sizeof.Type != nil {
			return &SizeofType{span: sp, Type: c.typeName(g.Sizeof.Type)}
		}
		return &SizeofExpr{span: sp, X: c.unary(g.Sizeof.Expr)}
	case g.Cast != nil:
		return &Cast{span: sp, Type: c.typeName(g.Cast.Type), X: c.unary(g.Cast.X)}
	case g.Postfix != nil:
		return c.postfix(g.Postfix)
	}
	c.fail(sp.Pos, sp.End, "empty operand")
	return &Ident{span: sp}
}

func (c *converter) postfix(g *gPostfix) Node {
	x := c.primary(g.Primary)
	start, _ := x.Span()
	for _, op := range g.Ops {
		sp := span{start, c.sp(op.Pos, op.EndPos).End}
		if op.Index != nil {
			x = &Index{span: sp, X: x, I: c.expr(op.Index)}
			continue
		}
		name := op.Name
		if strings.HasPrefix(name, "`") {
			name = strings.Trim(name, "`")
		}
		namePos := sp.End - len(op.Name)
		x = &Member{span: sp, X: x, Name: name, Arrow: op.Arrow == "->", NamePos: namePos}
	}
	return x
}

func (c *converter) primary(g *gPrimary) Node {
	sp := c.sp(g.Pos, g.EndPos)
	switch {
	case g.Call != nil:
		call := &Call{span: sp, Name: g.Call.Name}
		for _, a := range g.Call.Args {
			if a.Type != nil {
				call.Args = append(call.Args, c.typeName(a.Type))
			} else {
				call.Args = append(call.Args, c.expr(a.Expr))
			}
		}
		return call
	case g.Number != "":
		return c.number(sp, g.Number)
	case g.Char != "":
		s, err := unescape(g.Char[1 : len(g.Char)-1])
		if err != nil {
			c.fail(sp.Pos, sp.End, "bad character literal %s: %v", g.Char, err)
		} else if len(s) != 1 {
			c.fail(sp.Pos, sp.End, "character literal %s must hold one byte", g.Char)
		}
		var v int64
		if len(s) > 0 {
			v = int64(int8(s[0])) // char is signed on x86-64
		}
		return &CharLit{span: sp, Value: v}
	case len(g.String) > 0:
		var b strings.Builder
		for _, lit := range g.String {
			s, err := unescape(lit[1 : len(lit)-1])
			if err != nil {
				c.fail(sp.Pos, sp.End, "bad string literal %s: %v", lit, err)
			}
			b.WriteString(s)
		}
		return &StringLit{span: sp, Value: b.String()}
	case g.Ident != "":
		return &Ident{span: sp, Name: strings.Trim(g.Ident, "`")}
	case g.Paren != nil:
		x := c.expr(g.Paren)
		return x
	}
	c.fail(sp.Pos, sp.End, "empty expression")
	return &Ident{span: sp}
}

// number parses a C literal: decimal, hex or octal integers with u/l
// suffixes, and decimal floating-point numbers.
func (c *converter) number(sp span, text string) Node {
	n := &Number{span: sp, Text: text}
	body := strings.TrimRight(text, "uUlL")
	hex := strings.HasPrefix(body, "0x") || strings.HasPrefix(body, "0X")
	if !hex {
		body = strings.TrimRight(body, "uUlLfF")
	}
	suffix := strings.ToLower(text[len(body):])
	if !hex && (strings.ContainsAny(body, ".eE") || strings.Contains(suffix, "f")) {
		if strings.ContainsAny(suffix, "ul") {
			c.fail(sp.Pos, sp.End, "bad number %s", text)
			return n
		}
		f, err := strconv.ParseFloat(body, 64)
		if err != nil {
			c.fail(sp.Pos, sp.End, "bad number %s", text)
		}
		n.Float, n.IsFloat = f, true
		return n
	}
	if strings.Contains(suffix, "f") || strings.Count(suffix, "u") > 1 || strings.Count(suffix, "l") > 2 {
		c.fail(sp.Pos, sp.End, "bad suffix %q on %s", suffix, text)
		return n
	}
	base := 10
	digits := body
	switch {
	case hex:
		base, digits = 16, body[2:]
	case len(body) > 1 && body[0] == '0':
		base, digits = 8, body[1:]
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		c.fail(sp.Pos, sp.End, "bad number %s: %v", text, errors.Unwrap(err))
		return n
	}
	n.Int = v
	n.Unsigned = strings.Contains(suffix, "u")
	n.Long = strings.Contains(suffix, "l")
	// C's rules for the type of an unsuffixed literal: the first of int, (unsigned int
	// for hex/octal), long, (unsigned long) that holds the value.
	switch {
	case n.Unsigned && v > math.MaxUint32:
		n.Long = true
	case !n.Unsigned && v > math.MaxInt64:
		n.Long, n.Unsigned = true, true
	case !n.Unsigned && v > math.MaxInt32:
		if base != 10 && v <= math.MaxUint32 && !n.Long {
			n.Unsigned = true
		} else {
			n.Long = true
		}
	}
	return n
}

func (c *converter) typeName(g *gType) *TypeName {
	t := &TypeName{span: c.sp(g.Pos, g.EndPos), Stars: len(g.Stars)}
	switch {
	case g.Tag != "":
		t.Base = g.Tag + " " + g.TagName
	case len(g.Base) > 0:
		var words []string
		for _, w := range g.Base {
			if w != "const" && w != "volatile" {
				words = append(words, w)
			}
		}
		if len(words) == 0 {
			c.fail(t.Pos, t.End, "a type needs more than qualifiers")
		}
		base, err := canonicalBase(words)
		if err != nil {
			c.fail(t.Pos, t.End, "%v", err)
		}
		t.Base = base
	default:
		t.Base = g.Name
	}
	return t
}

// canonicalBase spells a base type the way DWARF names it: "unsigned long"
// for "long unsigned int", "long long" for "long long int".
func canonicalBase(words []string) (string, error) {
	count := map[string]int{}
	for _, w := range words {
		count[w]++
	}
	unsigned, signed := count["unsigned"] > 0, count["signed"] > 0
	if unsigned && signed {
		return "", fmt.Errorf("a type cannot be both signed and unsigned")
	}
	if count["unsigned"] > 1 || count["signed"] > 1 || count["short"] > 1 || count["long"] > 2 || count["int"] > 1 || count["char"] > 1 {
		return "", fmt.Errorf("repeated words in type %q", strings.Join(words, " "))
	}
	kinds := 0
	for _, k := range []string{"char", "float", "double", "void", "_Bool"} {
		kinds += count[k]
	}
	if kinds > 1 || (kinds == 1 && count["int"] > 0) {
		return "", fmt.Errorf("bad type %q", strings.Join(words, " "))
	}
	switch {
	case count["void"] > 0, count["_Bool"] > 0, count["float"] > 0:
		if len(words) > 1 {
			return "", fmt.Errorf("bad type %q", strings.Join(words, " "))
		}
		return words[0], nil
	case count["double"] > 0:
		if len(words) == 2 && count["long"] == 1 {
			return "long double", nil
		}
		if len(words) > 1 {
			return "", fmt.Errorf("bad type %q", strings.Join(words, " "))
		}
		return "double", nil
	case count["char"] > 0:
		if count["short"]+count["long"] > 0 {
			return "", fmt.Errorf("bad type %q", strings.Join(words, " "))
		}
		switch {
		case unsigned:
			return "unsigned char", nil
		case signed:
			return "signed char", nil
		}
		return "char", nil
	}
	var base string
	switch {
	case count["short"] > 0 && count["long"] > 0:
		return "", fmt.Errorf("bad type %q", strings.Join(words, " "))
	case count["short"] > 0:
		base = "short"
	case count["long"] == 2:
		base = "long long"
	case count["long"] == 1:
		base = "long"
	default:
		base = "int"
	}
	if unsigned {
		if base == "int" {
			return "unsigned int", nil
		}
		return "unsigned " + base, nil
	}
	return base, nil
}

// unescape decodes C escapes: \n \t \r \0 \a \b \f \v \\ \' \" \xHH \ooo.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("trailing backslash")
		}
		switch c := s[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\', '\'', '"', '?':
			b.WriteByte(c)
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && strings.IndexByte("0123456789abcdefABCDEF", s[j]) >= 0 {
				j++
			}
			if j == i+1 {
				return "", fmt.Errorf(`\x without hex digits`)
			}
			v, _ := strconv.ParseUint(s[i+1:j], 16, 8)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			if c < '0' || c > '7' {
				return "", fmt.Errorf(`unknown escape \%c`, c)
			}
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 16)
			if v > 255 {
				return "", fmt.Errorf(`octal escape \%s out of range`, s[i:j])
			}
			b.WriteByte(byte(v))
			i = j - 1
		}
	}
	return b.String(), nil
}
