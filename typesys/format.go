package typesys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
)

// FormatOptions tune how Format and JSON print a value. Start from
// DefaultFormat; the zero value prints the least.
type FormatOptions struct {
	// Depth is how many levels of structs and arrays are printed member by
	// member; deeper ones print as {...}.
	Depth int
	// Hex prints integers in hexadecimal.
	Hex bool
	// MemberNames prints ".name = " before each member.
	MemberNames bool
	// MemberTypes prints each member's type in parentheses before its value.
	MemberTypes bool
	// ArrayLimit is how many elements of an array are printed.
	ArrayLimit int
	// StringLimit is how many bytes a char * string is read up to (the
	// string stops earlier at a NUL or at the end of readable memory).
	StringLimit int
	// MaxLines bounds the whole output of one value.
	MaxLines int
	// Symbolize names an address ("PyLong_Type", "main+0x10"), "" if unknown.
	Symbolize func(core.Address) string
	// Annotate adds text after a pointer or struct (e.g. a Python repr), "" for none.
	Annotate func(Value) string
}

// DefaultFormat are the options commands start from.
func DefaultFormat() FormatOptions {
	return FormatOptions{Depth: 3, MemberNames: true, MemberTypes: true, ArrayLimit: 200, StringLimit: 256, MaxLines: 20000}
}

// maxArrayString bounds the bytes of a char array read to print it.
const maxArrayString = 1 << 16

// Format prints v the way a debugger's print command does: its type, then its
// value, structs member by member. Members that cannot be read show why in
// place; the error is only for a top-level value that cannot be read at all.
func Format(v Value, opts FormatOptions) (string, error) {
	f := &formatter{opts: opts}
	if err := f.checkTop(v); err != nil {
		return "", err
	}
	f.b.WriteString("(" + v.typeName() + ") ")
	f.value(v, 0, "")
	if f.cut {
		fmt.Fprintf(&f.b, "\n... output cut at %d lines (print a member, or lower the depth)", f.opts.MaxLines)
	}
	return f.b.String(), nil
}

// FormatValue prints only the value part of Format (no leading type).
func FormatValue(v Value, opts FormatOptions) (string, error) {
	f := &formatter{opts: opts}
	if err := f.checkTop(v); err != nil {
		return "", err
	}
	f.value(v, 0, "")
	return f.b.String(), nil
}

// typeName is the type as printed, with a bitfield's width.
func (v Value) typeName() string {
	if v.bitSize > 0 {
		return fmt.Sprintf("%s:%d", v.Type, v.bitSize)
	}
	return v.Type.String()
}

type formatter struct {
	opts  FormatOptions
	b     strings.Builder
	lines int
	cut   bool
}

// checkTop reads a scalar top-level value once, so that an unreadable one is
// an error rather than a printed reason.
func (f *formatter) checkTop(v Value) error {
	r := v.Type.Resolve()
	if r == nil {
		return nil
	}
	switch r.Kind {
	case Int, Bool, Enum, Pointer:
		_, err := v.Uint()
		return err
	case Float:
		_, err := v.Float()
		return err
	}
	return nil
}

func (f *formatter) newline(indent string) bool {
	if !f.countLine() {
		return false
	}
	f.b.WriteString("\n" + indent)
	return true
}

// countLine counts a line against MaxLines, false once it is exceeded.
func (f *formatter) countLine() bool {
	f.lines++
	if f.opts.MaxLines > 0 && f.lines > f.opts.MaxLines {
		f.cut = true
		return false
	}
	return true
}

func unreadable(err error) string { return "<unreadable: " + err.Error() + ">" }

// value prints v at nesting level depth; indent is the current line's indent.
func (f *formatter) value(v Value, depth int, indent string) {
	r := v.Type.Resolve()
	if r == nil {
		f.b.WriteString("<void>")
		return
	}
	switch r.Kind {
	case Int:
		f.b.WriteString(f.integer(v, r))
	case Bool:
		u, err := v.Uint()
		switch {
		case err != nil:
			f.b.WriteString(unreadable(err))
		case u == 0:
			f.b.WriteString("false")
		case u == 1:
			f.b.WriteString("true")
		default:
			fmt.Fprintf(&f.b, "true (%d)", u)
		}
	case Enum:
		f.b.WriteString(f.enum(v, r))
	case Float:
		x, err := v.Float()
		if err != nil {
			f.b.WriteString(unreadable(err))
		} else {
			f.b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case Pointer:
		f.pointer(v, r)
	case Array:
		f.array(v, r, depth, indent)
	case Struct, Union:
		f.structValue(v, r, depth, indent)
	case Func:
		if v.InMemory {
			fmt.Fprintf(&f.b, "%s%s", v.Addr, f.symbol(v.Addr))
		} else {
			f.b.WriteString("<function>")
		}
	default:
		if v.InMemory {
			if r.Size > 0 {
				fmt.Fprintf(&f.b, "<no type: %d bytes at %s; cast it to its type>", r.Size, v.Addr)
			} else {
				fmt.Fprintf(&f.b, "<no type: at %s; cast it to its type>", v.Addr)
			}
		} else {
			f.b.WriteString("<void>")
		}
	}
}

func (f *formatter) symbol(a core.Address) string {
	if f.opts.Symbolize == nil || a == 0 {
		return ""
	}
	if s := f.opts.Symbolize(a); s != "" {
		return " <" + s + ">"
	}
	return ""
}

func (f *formatter) integer(v Value, r *Type) string {
	if r.Signed {
		i, err := v.Int()
		if err != nil {
			return unreadable(err)
		}
		s := strconv.FormatInt(i, 10)
		if f.opts.Hex {
			s = fmt.Sprintf("%#x", uint64(i)&sizeMask(v, r))
		}
		if isCharType(v.Type) {
			s += " " + charLiteral(byte(i))
		}
		return s
	}
	u, err := v.Uint()
	if err != nil {
		return unreadable(err)
	}
	s := strconv.FormatUint(u, 10)
	if f.opts.Hex {
		s = fmt.Sprintf("%#x", u)
	}
	if isCharType(v.Type) {
		s += " " + charLiteral(byte(u))
	}
	return s
}

// sizeMask keeps a negative number's hex form to its own width.
func sizeMask(v Value, r *Type) uint64 {
	bits := int(r.Size * 8)
	if v.bitSize > 0 {
		bits = v.bitSize
	}
	if bits <= 0 || bits >= 64 {
		return math.MaxUint64
	}
	return 1<<uint(bits) - 1
}

func (f *formatter) enum(v Value, r *Type) string {
	var n int64
	var err error
	if r.Signed {
		n, err = v.Int()
	} else {
		var u uint64
		u, err = v.Uint()
		n = int64(u)
	}
	if err != nil {
		return unreadable(err)
	}
	for _, e := range r.Enumerators {
		if e.Value == n {
			return e.Name
		}
	}
	return fmt.Sprintf("%d", n)
}

func (f *formatter) pointer(v Value, r *Type) {
	p, err := v.Ptr()
	if err != nil {
		f.b.WriteString(unreadable(err))
		return
	}
	f.b.WriteString(p.String())
	if p == 0 {
		return
	}
	if isStringElem(r.Elem) {
		s, err := v.smartString(f.opts.StringLimit)
		if err != nil {
			f.b.WriteString(" " + unreadable(err))
		} else {
			f.b.WriteString(" " + s.quoted())
		}
		return
	}
	f.b.WriteString(f.symbol(p))
	if f.opts.Annotate != nil {
		if a := f.opts.Annotate(v); a != "" {
			f.b.WriteString(" " + a)
		}
	}
}

func (f *formatter) array(v Value, r *Type, depth int, indent string) {
	if isStringElem(r.Elem) {
		s, err := v.smartString(maxArrayString)
		if err != nil {
			f.b.WriteString(unreadable(err))
		} else {
			f.b.WriteString(s.quoted())
		}
		return
	}
	if r.Len < 0 {
		f.b.WriteString("{}") // a flexible array: index it to see elements
		return
	}
	if depth >= f.opts.Depth && r.Len > 0 {
		f.b.WriteString("{...}")
		return
	}
	es := r.Elem.Resolve()
	n := r.Len
	shown := n
	if f.opts.ArrayLimit >= 0 && shown > int64(f.opts.ArrayLimit) {
		shown = int64(f.opts.ArrayLimit)
	}
	multiline := es != nil && (es.Kind == Struct || es.Kind == Union || es.Kind == Array)
	f.b.WriteString("{")
	inner := indent + "\t"
	for i := int64(0); i < shown; i++ {
		e, err := v.Index(i)
		if multiline {
			if !f.newline(inner) {
				return
			}
		} else if i%64 == 63 && !f.countLine() {
			// A long one-line array counts a line per 64 elements, so that
			// MaxLines bounds it too (an array's length comes from DWARF).
			return
		}
		if !multiline && i > 0 {
			f.b.WriteString(",")
		}
		if !multiline {
			f.b.WriteString(" ")
		}
		if err != nil {
			f.b.WriteString(unreadable(err))
		} else {
			f.value(e, depth+1, inner)
		}
		if multiline {
			f.b.WriteString(",")
		}
	}
	if shown < n {
		if multiline {
			if !f.newline(inner) {
				return
			}
		} else {
			f.b.WriteString(",")
		}
		fmt.Fprintf(&f.b, " ... (%d more)", n-shown)
	}
	if multiline {
		f.newline(indent)
		f.b.WriteString("}")
	} else {
		f.b.WriteString(" }")
	}
}

func (f *formatter) structValue(v Value, r *Type, depth int, indent string) {
	if len(r.Members) == 0 {
		switch {
		case r.Partial != "":
			fmt.Fprintf(&f.b, "{<no members known from %s>}", r.Partial)
		case r.Size == 0:
			f.b.WriteString("{<incomplete type>}")
		default:
			f.b.WriteString("{}")
		}
		return
	}
	if depth >= f.opts.Depth {
		f.b.WriteString("{...}")
		return
	}
	f.b.WriteString("{")
	inner := indent + "\t"
	f.members(v, r, depth, inner)
	f.newline(indent)
	f.b.WriteString("}")
	if f.opts.Annotate != nil && depth == 0 {
		if a := f.opts.Annotate(v); a != "" {
			f.b.WriteString(" " + a)
		}
	}
}

// members prints the members of r, which v holds; anonymous struct and union
// members print inline, as C reaches their members directly.
func (f *formatter) members(v Value, r *Type, depth int, indent string) {
	for _, m := range r.Members {
		if f.cut {
			return
		}
		mv := v.member(m, m.Offset)
		if !f.newline(indent) {
			return
		}
		if f.opts.MemberNames && m.Name != "" {
			f.b.WriteString("." + m.Name + " = ")
		}
		if f.opts.MemberTypes {
			f.b.WriteString("(" + mv.typeName() + ") ")
		}
		f.value(mv, depth+1, indent)
		f.b.WriteString(",")
	}
	if r.Partial != "" && f.opts.MemberNames && depth == 0 {
		if f.newline(indent) {
			fmt.Fprintf(&f.b, "/* other members unknown: %s describes only these */", r.Partial)
		}
	}
}

// member is the value of member m at offset off (from the start of v).
func (v Value) member(m *Member, off int64) Value {
	var mv Value
	if !v.InMemory {
		mv = Value{Type: m.Type, buf: sliceBytes(v.buf, off, m.Type.sizeOr(0)), mem: v.mem}
	} else {
		mv = At(v.mem, m.Type, v.Addr.Add(off))
	}
	mv.bitOffset, mv.bitSize = m.BitOffset, m.BitSize
	return mv
}

// isStringElem reports whether arrays of and pointers to t are shown as
// strings: one-byte character types, but not int8_t/uint8_t byte buffers.
func isStringElem(t *Type) bool {
	for i := 0; t != nil && i < 16; i++ {
		if t.Kind == Typedef {
			if strings.Contains(t.Name, "uint8") {
				return false
			}
			t = t.Elem
			continue
		}
		// Layout tables spell char as int8_t, so only uint8_t means bytes.
		return t.Kind == Int && t.Size == 1 && !strings.Contains(t.Name, "uint8")
	}
	return false
}

// isCharType reports whether an integer prints with its character: char,
// signed char and unsigned char, not int8_t or uint8_t.
func isCharType(t *Type) bool {
	for i := 0; t != nil && i < 16; i++ {
		if t.Kind != Typedef {
			return t.Kind == Int && t.Size == 1 && strings.Contains(t.Name, "char")
		}
		if strings.Contains(t.Name, "int8") {
			return false
		}
		t = t.Elem
	}
	return false
}

// SmartString is a C string read from memory: where it is, its bytes, and
// whether the read stopped before a NUL (at the limit or the end of memory).
type SmartString struct {
	Addr      core.Address
	Bytes     []byte
	Truncated bool
}

// ReadString reads the string a char pointer points at (up to limit bytes,
// stopping at a NUL or the end of readable memory) or a char array holds
// (its whole length, up to limit; trailing NULs dropped).
func (v Value) ReadString(limit int) (SmartString, error) { return v.smartString(limit) }

func (v Value) smartString(limit int) (SmartString, error) {
	r := v.Type.Resolve()
	if r == nil {
		return SmartString{}, fmt.Errorf("void is not a string")
	}
	if limit <= 0 {
		limit = 256
	}
	switch r.Kind {
	case Pointer:
		p, err := v.Ptr()
		if err != nil {
			return SmartString{}, err
		}
		if p == 0 {
			return SmartString{}, fmt.Errorf("NULL %s", v.Type)
		}
		b, trunc, err := v.mem.CString(p, limit)
		if err != nil {
			return SmartString{}, err
		}
		// CString stops without error at the end of readable memory.
		if !trunc && len(b) < limit {
			if _, err := v.mem.Uint8(p.Add(int64(len(b)))); err != nil {
				trunc = true
			}
		}
		return SmartString{Addr: p, Bytes: b, Truncated: trunc}, nil
	case Array:
		n := int(r.Len)
		trunc := false
		if n < 0 || n > limit {
			n, trunc = limit, true
		}
		var b []byte
		if !v.InMemory {
			b = v.buf
			if len(b) > n {
				b = b[:n]
			}
		} else {
			b = make([]byte, n)
			if err := v.mem.Read(b, v.Addr); err != nil {
				return SmartString{}, err
			}
		}
		end := len(b)
		for end > 0 && b[end-1] == 0 {
			end--
		}
		return SmartString{Addr: v.Addr, Bytes: b[:end], Truncated: trunc && end == len(b)}, nil
	}
	return SmartString{}, fmt.Errorf("%s is not a string", v.Type)
}

// quoted is the string as a C literal, with "..." after it if cut short.
func (s SmartString) quoted() string {
	q := QuoteC(s.Bytes)
	if s.Truncated {
		q += "..."
	}
	return q
}

// QuoteC quotes bytes as a C string literal; valid UTF-8 prints as is, other
// bytes as octal escapes (which, unlike \x, cannot swallow a following digit).
func QuoteC(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&sb, "\\%03o", b[0])
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, "\\%03o", r)
		case r >= 0x80 && !strconv.IsPrint(r):
			for _, c := range b[:size] {
				fmt.Fprintf(&sb, "\\%03o", c)
			}
		default:
			sb.WriteRune(r)
		}
		b = b[size:]
	}
	sb.WriteByte('"')
	return sb.String()
}

func charLiteral(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '\\':
		return `'\\'`
	case c >= 0x20 && c < 0x7f:
		return "'" + string(rune(c)) + "'"
	case c == '\n':
		return `'\n'`
	case c == '\t':
		return `'\t'`
	case c == 0:
		return `'\000'`
	}
	return fmt.Sprintf("'\\%03o'", c)
}

// JSON is a value as JSON: its type, its address (nil for a computed value),
// and the value itself. For strings (char pointers and arrays) Value is the
// decoded text, Address is where the text is and Bytes its raw bytes in hex.
type JSON struct {
	Type      string  `json:"type"`
	Address   *uint64 `json:"address"`
	Value     any     `json:"value"`
	Bytes     *string `json:"bytes,omitempty"`
	Truncated bool    `json:"truncated,omitempty"`
}

// JSONOf converts v for JSON output. Structs become objects of their members
// (in declaration order), arrays lists, nested to opts.Depth; pointers are
// their integer value, enums their enumerator's name, strings their text.
// Members that cannot be read become {"error": "..."}.
func JSONOf(v Value, opts FormatOptions) (JSON, error) {
	f := &formatter{opts: opts}
	if err := f.checkTop(v); err != nil {
		return JSON{}, err
	}
	out := JSON{Type: v.typeName()}
	if v.InMemory {
		a := uint64(v.Addr)
		out.Address = &a
	}
	r := v.Type.Resolve()
	if r != nil && (r.Kind == Pointer || r.Kind == Array) && isStringElem(r.Elem) {
		if r.Kind == Pointer {
			if p, err := v.Ptr(); err == nil && p == 0 {
				out.Value = nil
				return out, nil
			}
		}
		limit := opts.StringLimit
		if r.Kind == Array {
			limit = maxArrayString
		}
		s, err := v.smartString(limit)
		if err != nil {
			out.Value = jsonError(err)
			return out, nil
		}
		a := uint64(s.Addr)
		out.Address = &a
		out.Value = string(s.Bytes)
		if !utf8.Valid(s.Bytes) {
			out.Value = strings.ToValidUTF8(string(s.Bytes), "\uFFFD")
		}
		h := hex.EncodeToString(s.Bytes)
		out.Bytes = &h
		out.Truncated = s.Truncated
		return out, nil
	}
	out.Value = f.jsonValue(v, 0)
	return out, nil
}

// Object is a JSON object that keeps its keys in order (struct members in
// declaration order).
type Object []Field

// Field is one key of an Object.
type Field struct {
	Key   string
	Value any
}

// MarshalJSON writes the fields in order. Text is not HTML-escaped: these
// are C expressions and Python reprs, full of '<', '>' and '&'.
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(f.Key); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode ends with a newline
		b.WriteByte(':')
		if err := enc.Encode(f.Value); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func jsonError(err error) Object { return Object{{"error", err.Error()}} }

func (f *formatter) jsonValue(v Value, depth int) any {
	r := v.Type.Resolve()
	if r == nil {
		return nil
	}
	// MaxLines bounds the values of one JSON document as it bounds lines of text.
	f.lines++
	if f.opts.MaxLines > 0 && f.lines > f.opts.MaxLines {
		f.cut = true
		return Object{{"truncated", "size"}}
	}
	switch r.Kind {
	case Int:
		if r.Signed {
			i, err := v.Int()
			if err != nil {
				return jsonError(err)
			}
			return i
		}
		u, err := v.Uint()
		if err != nil {
			return jsonError(err)
		}
		return u
	case Bool:
		u, err := v.Uint()
		if err != nil {
			return jsonError(err)
		}
		return u != 0
	case Enum:
		s := f.enum(v, r)
		if strings.HasPrefix(s, "<unreadable") {
			_, err := v.Uint()
			return jsonError(err)
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		return s
	case Float:
		x, err := v.Float()
		if err != nil {
			return jsonError(err)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64) // JSON has no NaN or Inf
		}
		return x
	case Pointer:
		p, err := v.Ptr()
		if err != nil {
			return jsonError(err)
		}
		if isStringElem(r.Elem) && p != 0 {
			s, err := v.smartString(f.opts.StringLimit)
			if err != nil {
				return Object{{"pointer", uint64(p)}, {"error", err.Error()}}
			}
			return strings.ToValidUTF8(string(s.Bytes), "\uFFFD")
		}
		return uint64(p)
	case Array:
		if isStringElem(r.Elem) {
			s, err := v.smartString(maxArrayString)
			if err != nil {
				return jsonError(err)
			}
			return strings.ToValidUTF8(string(s.Bytes), "\uFFFD")
		}
		if r.Len < 0 {
			return []any{}
		}
		if depth >= f.opts.Depth && r.Len > 0 {
			return Object{{"truncated", "depth"}}
		}
		n := r.Len
		if f.opts.ArrayLimit >= 0 && n > int64(f.opts.ArrayLimit) {
			n = int64(f.opts.ArrayLimit)
		}
		// The length comes from DWARF: allocate as the elements come.
		list := make([]any, 0, min(n, 1024)+1)
		for i := int64(0); i < n && !f.cut; i++ {
			e, err := v.Index(i)
			if err != nil {
				list = append(list, jsonError(err))
				continue
			}
			list = append(list, f.jsonValue(e, depth+1))
		}
		if n < r.Len {
			list = append(list, Object{{"truncated", r.Len - n}})
		}
		return list
	case Struct, Union:
		if depth >= f.opts.Depth {
			return Object{{"truncated", "depth"}}
		}
		return f.jsonMembers(v, r, depth)
	case Func:
		if v.InMemory {
			return uint64(v.Addr)
		}
	}
	return nil
}

// jsonMembers lists the members of r; anonymous ones are merged in, as C
// reaches their members directly.
func (f *formatter) jsonMembers(v Value, r *Type, depth int) Object {
	obj := Object{}
	for _, m := range r.Members {
		mv := v.member(m, m.Offset)
		if m.Name == "" {
			if mr := m.Type.Resolve(); mr != nil && (mr.Kind == Struct || mr.Kind == Union) {
				obj = append(obj, f.jsonMembers(mv, mr, depth)...)
				continue
			}
		}
		obj = append(obj, Field{m.Name, f.jsonValue(mv, depth+1)})
	}
	return obj
}

// LayoutOptions tune FormatLayout.
type LayoutOptions struct {
	// Expand is how many levels of named struct and union members are
	// expanded in place (anonymous ones always are).
	Expand int
}

// FormatLayout prints a type's layout like gdb's "ptype /o": each member with
// its offset and size, holes between them, and the total size. For a type
// synthesized from a partial layout it says which members are unknown.
func FormatLayout(t *Type, opts LayoutOptions) string {
	var b strings.Builder
	r := t.Resolve()
	if r == nil {
		return "type = void\n"
	}
	header := "type = " + t.String()
	if t.Kind == Typedef && r.Name != "" && r.Name != t.Name {
		header = fmt.Sprintf("type = %s /* typedef %s */", r.String(), t.Name)
	}
	switch r.Kind {
	case Struct, Union:
	case Enum:
		fmt.Fprintf(&b, "%s {\n", header)
		for _, e := range r.Enumerators {
			fmt.Fprintf(&b, "    %s = %d,\n", e.Name, e.Value)
		}
		fmt.Fprintf(&b, "} /* size: %d */\n", r.Size)
		return b.String()
	case Pointer:
		fmt.Fprintf(&b, "%s /* size: %d */\n", header, r.Size)
		if target := r.Elem.Resolve(); target != nil && (target.Kind == Struct || target.Kind == Union) {
			b.WriteString("\n" + FormatLayout(r.Elem, opts))
		}
		return b.String()
	default:
		fmt.Fprintf(&b, "%s /* size: %d */\n", header, r.Size)
		return b.String()
	}
	if r.Partial != "" {
		fmt.Fprintf(&b, "/* %s is known only from %s: unlisted bytes are members it does not describe */\n", r.Name, r.Partial)
	}
	if len(r.Members) == 0 && r.Size == 0 && r.Partial == "" {
		fmt.Fprintf(&b, "%s; /* incomplete: declared, not defined, in the debug info */\n", header)
		return b.String()
	}
	fmt.Fprintf(&b, "/* %-9s | %7s */  %s {\n", "offset", "size", header)
	l := &layout{b: &b, opts: opts}
	l.members(r, 0, 1, 0)
	if r.Kind == Struct && r.Size > 0 {
		l.hole(l.end, r.Size, 1, r.Partial != "")
	}
	fmt.Fprintf(&b, "\n%s/* total size (bytes): %4d */\n", strings.Repeat(" ", 31), r.Size)
	fmt.Fprintf(&b, "%s}\n", strings.Repeat(" ", 27))
	return b.String()
}

type layout struct {
	b     *strings.Builder
	opts  LayoutOptions
	end   int64 // end of the last member printed, for holes
	lines int
}

const maxLayoutLines = 20000

func (l *layout) line(off int64, bit int, size string, indent int, text string) {
	l.lines++
	if l.lines > maxLayoutLines {
		if l.lines == maxLayoutLines+1 {
			l.b.WriteString("/* ... layout cut */\n")
		}
		return
	}
	pos := fmt.Sprintf("%6d", off)
	if bit >= 0 {
		pos = fmt.Sprintf("%6d:%2d", off, bit)
	}
	fmt.Fprintf(l.b, "/* %-9s | %7s */  %s%s\n", pos, size, strings.Repeat("    ", indent), text)
}

func (l *layout) hole(from, to int64, indent int, partial bool) {
	if to <= from {
		return
	}
	what := "hole"
	if partial {
		what = "unknown"
	}
	l.lines++
	if l.lines > maxLayoutLines {
		return
	}
	fmt.Fprintf(l.b, "/* XXX %4d-byte %-7s */\n", to-from, what)
}

// members prints r's members at base offset base.
func (l *layout) members(r *Type, base int64, indent, depth int) {
	isUnion := r.Kind == Union
	for _, m := range r.Members {
		off := base + m.Offset
		if !isUnion && m.BitSize == 0 {
			l.hole(l.end, off, indent, r.Partial != "")
		}
		mr := m.Type.Resolve()
		// Anonymous members and a synthesized layout's by-value members (known
		// only by their members, not their size) always show in place.
		expand := mr != nil && (mr.Kind == Struct || mr.Kind == Union) && len(mr.Members) > 0 &&
			(m.Name == "" || mr.anon || m.Type.Name == "" || mr.Size == 0 || depth < l.opts.Expand) && depth < 16
		size := fmt.Sprint(m.Type.sizeOr(0))
		if m.Type.sizeOr(0) == 0 {
			size = "?" // a synthesized struct member knows only its members
		}
		if m.BitSize > 0 {
			size = fmt.Sprintf("%d:%d", m.Type.sizeOr(0), m.BitSize)
		}
		bit := -1
		if m.BitSize > 0 {
			bit = m.BitOffset
		}
		if expand {
			kw := "struct"
			if mr.Kind == Union {
				kw = "union"
			}
			name := kw
			if !mr.anon && mr.Name != "" {
				name = mr.Name
			}
			l.line(off, bit, size, indent, name+" {")
			save := l.end
			l.end = off
			l.members(mr, off, indent+1, depth+1)
			if mr.Kind == Struct && mr.Size > 0 {
				l.hole(l.end, off+mr.Size, indent+1, mr.Partial != "")
			}
			inner := l.end
			l.end = save
			if inner > off+m.Type.sizeOr(0) && !isUnion && inner > l.end {
				l.end = inner // a synthesized struct knows its members, not its size
			}
			closing := "}"
			if m.Name != "" {
				closing += " " + m.Name
			}
			l.lines++
			if l.lines <= maxLayoutLines {
				fmt.Fprintf(l.b, "%s%s%s;\n", strings.Repeat(" ", 27), strings.Repeat("    ", indent), closing)
			}
		} else {
			decl := m.Type.declare(m.Name, 0)
			if m.BitSize > 0 {
				decl += fmt.Sprintf(" : %d", m.BitSize)
			}
			l.line(off, bit, size, indent, decl+";")
		}
		// A bitfield's storage unit is its declared type; padding bits in
		// it are not a hole.
		end := off + m.Type.sizeOr(0)
		if m.BitSize > 0 {
			end = max(end, off+int64((m.BitOffset+m.BitSize+7)/8))
		}
		if isUnion {
			continue
		}
		if end > l.end {
			l.end = end
		}
	}
	if isUnion {
		l.end = base + r.Size
	}
}
