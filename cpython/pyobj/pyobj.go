package pyobj

// Python objects rendered as Python's repr() shows them, read from the
// process's memory through the object reader (objreader*.go): what
// `threads --locals` and `eval pyobj(x)` are built on.
//
// Struct offsets come from the TypeSource (DWARF, generated tables, or 3.13+'s
// debug offsets). Where the source lacks a member the renderer needs, the
// offset is derived from CPython's public headers the way CPython's own
// out-of-process readers do it (Modules/_remote_debugging compiles against the
// headers and takes offsetof of whatever _Py_DebugOffsets does not carry):
// every such derivation is anchored on a member the source does give (the
// object header's size, tp_name, sizeof(PyTypeObject)), checked against
// another where one exists, and written down in Layout's constructor.
// Type identity is the type object's address, compared with the exported
// type objects (PyLong_Type, PyDict_Type, ...) and singletons (_Py_NoneStruct,
// ...); tp_flags subclass bits and tp_name are the fallbacks when symbols
// are missing.

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// ReprOptions bound what rendering one object reads and writes. A zero field
// takes its default (DefaultReprOptions).
type ReprOptions struct {
	MaxDepth  int // levels of containers shown (the root is one); deeper ones print as [...]
	MaxLength int // items shown per container, then ...
	MaxString int // characters of a str, bytes of a bytes, digits of an int, then ...
	MaxTotal  int // characters of the whole rendering, "..." included
	// Attrs shows the attributes (slots, then __dict__) of instances of
	// Python classes after their repr: <mod.Foo object at 0x...>(a=1, b='x').
	Attrs bool
}

// DefaultReprOptions keep one object's rendering to a few lines.
var DefaultReprOptions = ReprOptions{MaxDepth: 6, MaxLength: 50, MaxString: 200, MaxTotal: 2000}

// Hard limits, whatever the options say: a corrupt length or a cyclic
// structure must not make pycore read or allocate without bound.
const (
	MaxStringChars = 1 << 16 // characters of one str read
	MaxBytesLen    = 1 << 20 // bytes of one bytes object read
	HardMaxItems   = 1 << 20 // items of one container looked at
	HardMaxDepth   = 64
	HardMaxObjects = 1 << 18 // objects visited by one rendering
	MaxLongDigits  = 1 << 14 // 30-bit digits of an int (~150,000 decimal digits)
	MaxTypeChain   = 32      // tp_base links followed
	MaxEntryChunk  = 256     // hash table entries read at once
)

func (o ReprOptions) WithDefaults() ReprOptions {
	d := DefaultReprOptions
	if o.MaxDepth > 0 {
		d.MaxDepth = min(o.MaxDepth, HardMaxDepth)
	}
	if o.MaxLength > 0 {
		d.MaxLength = min(o.MaxLength, HardMaxItems)
	}
	if o.MaxString > 0 {
		d.MaxString = min(o.MaxString, MaxStringChars)
	}
	if o.MaxTotal > 0 {
		d.MaxTotal = o.MaxTotal
	}
	d.Attrs = o.Attrs
	return d
}

// Object is a Python object as read from the core: its type, Python's repr
// of it, and its value as Go data for JSON.
//
// Value is nil for None and for objects without a plain value (instances,
// functions, ...); bool; int64, or a decimal string for ints beyond 64 bits;
// float64, or "inf", "-inf", "nan"; [2]float64 for complex; string for str
// (lone surrogates become U+FFFD); []byte for bytes; []Object for tuples,
// lists, sets and an exception's args; []DictItem for dicts; the qualified
// name for classes, functions and modules; CodeValue for code objects.
type Object struct {
	Address   core.Address
	Type      string
	Repr      string
	Value     any
	Truncated bool   // limits cut the value or its repr
	Error     string // why the object could not be read (in full)
}

// DictItem is one key and value of a dict.
type DictItem struct {
	Key   Object
	Value Object
}

// CodeValue is what a code object's Value holds.
type CodeValue struct {
	Name      string
	File      string
	FirstLine int
}

// Object renders the object at obj, within opts, as repr() shows it.
func (r *Reader) Object(obj core.Address, opts ReprOptions) Object {
	opts = opts.WithDefaults()
	rd := r.NewRenderer(opts, opts.MaxTotal)
	o := rd.Render(obj, 0)
	boundRepr(&o, opts.MaxTotal, 0)
	return o
}

// ErrorObject is the object at obj when no reader could be made: err says why.
func ErrorObject(obj core.Address, err error, opts ReprOptions) Object {
	o := Object{Address: obj, Repr: Unreadable(obj, err), Error: err.Error()}
	if n := opts.WithDefaults().MaxTotal; utf8.RuneCountInString(o.Repr) > n {
		o.Repr, o.Truncated = cutRepr(o.Repr, n), true
	}
	return o
}

// boundRepr cuts the repr of o, and of every object its value holds (the
// items JSON shows), to n characters.
func boundRepr(o *Object, n, depth int) {
	if utf8.RuneCountInString(o.Repr) > n {
		o.Repr, o.Truncated = cutRepr(o.Repr, n), true
	}
	if depth >= HardMaxDepth {
		return
	}
	switch v := o.Value.(type) {
	case []Object:
		for i := range v {
			boundRepr(&v[i], n, depth+1)
		}
	case []DictItem:
		for i := range v {
			boundRepr(&v[i].Key, n, depth+1)
			boundRepr(&v[i].Value, n, depth+1)
		}
	}
}

// cutRepr shortens s to n characters, the last three of them "..." (all
// of them dots when n is under 4): --max-repr N means at most N, always.
func cutRepr(s string, n int) string {
	const dots = "..."
	if n <= len(dots) {
		return dots[:max(n, 0)]
	}
	keep, i := n-len(dots), 0
	for at := range s {
		if i == keep {
			return s[:at] + dots
		}
		i++
	}
	return s
}

func Unreadable(obj core.Address, err error) string {
	return fmt.Sprintf("<unreadable object at %#x: %v>", uint64(obj), err)
}

// Kind is what the renderer knows how to show.
type Kind int

const (
	KindObject Kind = iota // anything else: <Foo object at 0x...>
	KindNone
	KindBool
	KindInt
	KindFloat
	KindComplex
	KindStr
	KindBytes
	KindTuple
	KindList
	KindDict
	KindSet
	KindFrozenSet
	KindType
	KindCode
	KindFunction
	KindModule
	KindEllipsis
	KindNotImplemented
	KindException
	KindExcGroup // BaseExceptionGroup and subclasses that keep its repr
)

// builtinTypes are the exported type objects the renderer tells apart, with
// their tp_name for when the symbols are missing.
var builtinTypes = []struct {
	sym, name string
	kind      Kind
}{
	{"_PyNone_Type", "NoneType", KindNone},
	{"PyBool_Type", "bool", KindBool},
	{"PyLong_Type", "int", KindInt},
	{"PyFloat_Type", "float", KindFloat},
	{"PyComplex_Type", "complex", KindComplex},
	{"PyUnicode_Type", "str", KindStr},
	{"PyBytes_Type", "bytes", KindBytes},
	{"PyTuple_Type", "tuple", KindTuple},
	{"PyList_Type", "list", KindList},
	{"PyDict_Type", "dict", KindDict},
	{"PySet_Type", "set", KindSet},
	{"PyFrozenSet_Type", "frozenset", KindFrozenSet},
	{"PyType_Type", "type", KindType},
	{"PyCode_Type", "code", KindCode},
	{"PyFunction_Type", "function", KindFunction},
	{"PyModule_Type", "module", KindModule},
	{"PyEllipsis_Type", "ellipsis", KindEllipsis},
	{"_PyNotImplemented_Type", "NotImplementedType", KindNotImplemented},
	{"PyBaseObject_Type", "object", KindObject},
}

// Singleton objects, by their exported symbols.
var singletonSymbols = []struct {
	sym  string
	kind Kind
	repr string
}{
	{"_Py_NoneStruct", KindNone, "None"},
	{"_Py_TrueStruct", KindBool, "True"},
	{"_Py_FalseStruct", KindBool, "False"},
	{"_Py_EllipsisObject", KindEllipsis, "Ellipsis"},
	{"_Py_NotImplementedStruct", KindNotImplemented, "NotImplemented"},
}

// tp_flags bits (Include/object.h; the subclass bits are in codereader.go too).
const (
	TPFlagsInlineValues    = 1 << 2 // 3.13+: instance attributes inline after the object
	TPFlagsManagedDict     = 1 << 4 // 3.11+: the instance dict sits before the object
	TPFlagsHeapType        = 1 << 9
	TPFlagsLongSubclass    = 1 << 24
	TPFlagsListSubclass    = 1 << 25
	TPFlagsTupleSubclass   = 1 << 26
	TPFlagsDictSubclass    = 1 << 29
	TPFlagsBaseExcSubcl    = 1 << 30
	TPFlagsTypeSubclass    = 1 << 31
	TPFlagsBytesSubclass   = 1 << 27
	TPFlagsUnicodeSubclass = 1 << 28
	PySetDummyHash         = -1 // hash of a set entry whose key was removed
	DictKeysGeneral        = 0  // dk_kind: entries are {hash, key, value}
	LongSignMask           = 3  // 3.12+ lv_tag: 0 positive, 1 zero, 2 negative
	LongNonSizeBits        = 3
)

// Layout is every offset the object reader and the renderer read (abi's
// Objects), with what one process's symbols say of its builtin objects.
type Layout struct {
	*abi.Objects

	singletons map[core.Address]int // address -> index in singletonSymbols
	Types      map[core.Address]Kind
	reprOf     map[Kind]core.Address // tp_repr of the builtin types found
	baseExc    core.Address
	excGroup   core.Address // BaseExceptionGroup (3.11+)
}

// NewLayout is the layout of a process read with objs; lookup finds its
// exported symbols (nil when it has none: type identity then falls back on
// tp_flags and names).
func NewLayout(objs *abi.Objects, mem core.Reader, lookup func(sym string) (core.Address, bool)) *Layout {
	l := &Layout{Objects: objs}
	l.singletons = map[core.Address]int{}
	l.Types = map[core.Address]Kind{}
	l.reprOf = map[Kind]core.Address{}
	if lookup != nil {
		for i, s := range singletonSymbols {
			if addr, ok := lookup(s.sym); ok {
				l.singletons[addr] = i
			}
		}
		for _, bt := range append(builtinTypes[:len(builtinTypes):len(builtinTypes)], valueTypes...) {
			addr, ok := lookup(bt.sym)
			if bt.sym == "" || !ok {
				continue
			}
			l.Types[addr] = bt.kind
			if rp, err := mem.Ptr(addr.Add(l.Type.Repr)); err == nil {
				l.reprOf[bt.kind] = rp
			}
		}
		// PyExc_BaseException is a pointer to the (static) type, and so is
		// PyExc_BaseExceptionGroup (3.11+).
		for _, e := range []struct {
			sym  string
			kind Kind
		}{{"PyExc_BaseException", KindException}, {"PyExc_BaseExceptionGroup", KindExcGroup}} {
			addr, ok := lookup(e.sym)
			if !ok {
				continue
			}
			if tp, err := mem.Ptr(addr); err == nil && tp != 0 {
				switch e.kind {
				case KindException:
					l.baseExc = tp
				case KindExcGroup:
					l.excGroup = tp
				}
				l.Types[tp] = e.kind
				if rp, err := mem.Ptr(tp.Add(l.Type.Repr)); err == nil {
					l.reprOf[e.kind] = rp
				}
			}
		}
	}
	return l
}

// renderer renders one object tree.
type Renderer struct {
	*Reader // what it renders is read through the object reader
	opts    ReprOptions
	left    int                   // characters of output still allowed
	active  map[core.Address]bool // containers being rendered: Python's Py_ReprEnter
	visits  int

	threadIdents map[uint64]string // threading._active of every interpreter, once read
}

// object renders the object at a, depth levels below the root.
func (r *Renderer) Render(a core.Address, depth int) Object {
	o := Object{Address: a}
	if a == 0 {
		o.Repr, o.Error = "<NULL>", "NULL object pointer"
		return o
	}
	r.visits++
	if r.visits > HardMaxObjects {
		o.Repr, o.Truncated = "...", true
		return o
	}
	if i, ok := r.L.singletons[a]; ok {
		s := singletonSymbols[i]
		o.Repr = s.repr
		switch s.kind {
		case KindNone:
			o.Type = "NoneType"
		case KindBool:
			o.Type, o.Value = "bool", s.repr == "True"
		case KindEllipsis:
			o.Type = "ellipsis"
		case KindNotImplemented:
			o.Type = "NotImplementedType"
		}
		r.spend(len(o.Repr))
		return o
	}
	tp, err := r.Ptr(a.Add(r.L.Object.Type))
	if err != nil {
		return r.fail(o, fmt.Errorf("object at %#x: ob_type: %w", uint64(a), err))
	}
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return r.fail(o, ti.Err)
	}
	o.Type = ti.Basename
	switch ti.Kind {
	case KindNone:
		o.Repr = "None"
	case KindEllipsis:
		o.Repr = "Ellipsis"
	case KindNotImplemented:
		o.Repr = "NotImplemented"
	case KindBool, KindInt:
		err = r.renderInt(&o, a, ti)
	case KindFloat:
		err = r.renderFloat(&o, a)
	case KindComplex:
		err = r.renderComplex(&o, a)
	case KindStr:
		err = r.renderStr(&o, a)
	case KindBytes:
		err = r.renderBytes(&o, a)
	case KindTuple, KindList:
		err = r.renderSequence(&o, a, ti, depth)
	case KindDict:
		err = r.renderDict(&o, a, depth)
	case KindSet, KindFrozenSet:
		err = r.renderSet(&o, a, ti, depth)
	case KindType:
		err = r.renderType(&o, a)
	case KindCode:
		err = r.renderCode(&o, a)
	case KindFunction:
		err = r.renderFunction(&o, a)
	case KindModule:
		err = r.renderModule(&o, a)
	case KindException:
		err = r.renderException(&o, a, ti, depth)
	case KindExcGroup:
		err = r.renderExcGroup(&o, a, ti, depth)
	default:
		if ti.Kind > KindFirstValue {
			err = r.renderValue(&o, a, ti, depth)
		} else if err = r.renderInstance(&o, a, ti); err == nil && r.opts.Attrs && ti.Heap {
			r.appendAttrs(&o, a, depth)
		}
	}
	if err != nil {
		return r.fail(o, err)
	}
	r.spend(len(o.Repr))
	return o
}

func (r *Renderer) fail(o Object, err error) Object {
	o.Error = err.Error()
	o.Repr = Unreadable(o.Address, err)
	o.Value = nil
	r.spend(len(o.Repr))
	return o
}

// spend counts characters against MaxTotal (leaves only: containers
// consist of their items' characters).
func (r *Renderer) spend(n int) { r.left -= n }

// --- numbers ---

func (r *Renderer) renderInt(o *Object, a core.Address, ti *TypeInfo) error {
	v, err := r.IntValue(a)
	if err != nil {
		return err
	}
	if ti.Kind == KindBool {
		o.Value = v.Sign() != 0
		o.Repr = "False"
		if v.Sign() != 0 {
			o.Repr = "True"
		}
		return nil
	}
	if v.IsInt64() {
		o.Value = v.Int64()
		o.Repr = strconv.FormatInt(v.Int64(), 10)
		return nil
	}
	s := v.String()
	o.Value = s
	o.Repr = s
	if r.opts.MaxString > 0 && len(s) > r.opts.MaxString+1 {
		o.Repr, o.Truncated = s[:r.opts.MaxString]+"...", true
	}
	return nil
}

func (r *Renderer) renderFloat(o *Object, a core.Address) error {
	f, err := r.float64At(a.Add(r.L.Float.Value))
	if err != nil {
		return fmt.Errorf("float at %#x: %w", uint64(a), err)
	}
	o.Repr = floatRepr(f, true, false)
	o.Value = jsonFloat(f)
	return nil
}

func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return f
}

func (r *Renderer) renderComplex(o *Object, a core.Address) error {
	re, err := r.float64At(a.Add(r.L.Complex.Value))
	if err != nil {
		return fmt.Errorf("complex at %#x: %w", uint64(a), err)
	}
	im, err := r.float64At(a.Add(r.L.Complex.Value + 8))
	if err != nil {
		return fmt.Errorf("complex at %#x: %w", uint64(a), err)
	}
	// complex_repr: a +0 real part is left out, with the parentheses.
	if re == 0 && !math.Signbit(re) {
		o.Repr = floatRepr(im, false, false) + "j"
	} else {
		o.Repr = "(" + floatRepr(re, false, false) + floatRepr(im, false, true) + "j)"
	}
	o.Value = [2]any{jsonFloat(re), jsonFloat(im)}
	return nil
}

// floatRepr is Python's repr of a float (format code 'r'): the shortest
// digits that read back the same, in positional notation when the decimal
// exponent is in -4..15 and in scientific notation (two exponent digits at
// least) otherwise. addDot0 appends ".0" to integral positional values (float
// repr does, complex parts do not); sign forces a leading + on non-negatives.
func floatRepr(f float64, addDot0, sign bool) string {
	var s string
	switch {
	case math.IsNaN(f):
		s = "nan"
	case math.IsInf(f, 0):
		s = "inf"
		if f < 0 {
			s = "-inf"
		}
	default:
		e := strconv.FormatFloat(math.Abs(f), 'e', -1, 64) // "d.ddde±XX"
		mant, exp, _ := strings.Cut(e, "e")
		x, _ := strconv.Atoi(exp)
		digits := strings.Replace(mant, ".", "", 1)
		decpt := x + 1 // digits are 0.DIGITS * 10**decpt
		var b strings.Builder
		if math.Signbit(f) {
			b.WriteByte('-')
		}
		if decpt <= -4 || decpt > 16 {
			b.WriteString(digits[:1])
			if len(digits) > 1 {
				b.WriteString("." + digits[1:])
			}
			fmt.Fprintf(&b, "e%c%02d", "+-"[boolInt(x < 0)], abs(x))
		} else if decpt <= 0 {
			b.WriteString("0." + strings.Repeat("0", -decpt) + digits)
		} else if decpt >= len(digits) {
			b.WriteString(digits + strings.Repeat("0", decpt-len(digits)))
			if addDot0 {
				b.WriteString(".0")
			}
		} else {
			b.WriteString(digits[:decpt] + "." + digits[decpt:])
		}
		s = b.String()
	}
	if sign && !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// --- str and bytes ---

func (r *Renderer) renderStr(o *Object, a core.Address) error {
	cps, total, err := r.StrCodepoints(a, r.opts.MaxString)
	if err != nil {
		return err
	}
	o.Value = CodepointsToString(cps)
	o.Repr = strRepr(cps)
	if int64(len(cps)) < total {
		o.Repr += "..."
		o.Truncated = true
	}
	return nil
}

// strRepr is unicode_repr: single quotes unless the text has single quotes
// and no double ones; backslash escapes for the quote, backslash, \t \n \r,
// other control characters and characters Python does not print.
func strRepr(cps []rune) string {
	quote := '\''
	if containsRune(cps, '\'') && !containsRune(cps, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, c := range cps {
		switch {
		case c == quote || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < ' ' || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c < 0x7f:
			b.WriteRune(c)
		case utf8.ValidRune(c) && unicode.IsPrint(c):
			b.WriteRune(c)
		case c <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			fmt.Fprintf(&b, `\U%08x`, uint32(c))
		}
	}
	b.WriteRune(quote)
	return b.String()
}

func containsRune(cps []rune, c rune) bool {
	for _, x := range cps {
		if x == c {
			return true
		}
	}
	return false
}

func (r *Renderer) renderBytes(o *Object, a core.Address) error {
	b, total, err := r.bytesValue(a, r.opts.MaxString)
	if err != nil {
		return err
	}
	o.Value = b
	o.Repr = bytesRepr(b)
	if int64(len(b)) < total {
		o.Repr += "..."
		o.Truncated = true
	}
	return nil
}

// bytesRepr is bytes_repr: b'...' with the same choice of quotes as str.
func bytesRepr(b []byte) string {
	quote := byte('\'')
	if strings.IndexByte(string(b), '\'') >= 0 && strings.IndexByte(string(b), '"') < 0 {
		quote = '"'
	}
	var s strings.Builder
	s.WriteByte('b')
	s.WriteByte(quote)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c == '\t':
			s.WriteString(`\t`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\r':
			s.WriteString(`\r`)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&s, `\x%02x`, c)
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte(quote)
	return s.String()
}

// --- containers ---

// enter marks a container as being rendered; Python prints a container
// already on the stack as [...] (Py_ReprEnter), and so does the depth limit.
func (r *Renderer) enter(a core.Address, depth int) (ok, cut bool) {
	if r.active[a] {
		return false, false
	}
	if depth >= r.opts.MaxDepth {
		return false, true
	}
	r.active[a] = true
	return true, false
}

func (r *Renderer) leave(a core.Address) { delete(r.active, a) }

// room says whether another item fits in the output and the item limit.
func (r *Renderer) room(shown int) bool {
	return shown < r.opts.MaxLength && r.left > 0
}

func (r *Renderer) renderSequence(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	l := r.L
	n, err := r.I64(a.Add(l.Object.Size))
	if err != nil {
		return fmt.Errorf("%s at %#x: ob_size: %w", ti.Basename, uint64(a), err)
	}
	if n < 0 || n > 1<<40 {
		return fmt.Errorf("%s at %#x: size %d is not plausible", ti.Basename, uint64(a), n)
	}
	open, closing := "(", ")"
	items := a.Add(l.Tuple.Items)
	if ti.Kind == KindList {
		open, closing = "[", "]"
		if items, err = r.Ptr(a.Add(l.List.Items)); err != nil {
			return fmt.Errorf("list at %#x: ob_item: %w", uint64(a), err)
		}
		if items == 0 && n > 0 {
			return fmt.Errorf("list at %#x: %d items but a NULL ob_item", uint64(a), n)
		}
	}
	return r.renderItems(o, a, items, n, open, closing, ti.Kind == KindTuple, ti.Basename, depth)
}

// renderItems renders the n object pointers at items of the container at a
// between open and closing; a one-item tuple gets its comma.
func (r *Renderer) renderItems(o *Object, a, items core.Address, n int64, open, closing string, tuple bool, what string, depth int) error {
	l := r.L
	ok, cut := r.enter(a, depth)
	if !ok {
		o.Repr, o.Truncated = open+"..."+closing, cut
		return nil
	}
	defer r.leave(a)
	want := min(n, int64(r.opts.MaxLength))
	ptrs := make([]byte, want*l.Ptr)
	if err := r.p.R.Read(ptrs, items); err != nil {
		return fmt.Errorf("%s at %#x: items: %w", what, uint64(a), err)
	}
	var b strings.Builder
	b.WriteString(open)
	vals := []Object{}
	for i := int64(0); i < want; i++ {
		if !r.room(len(vals)) {
			break
		}
		item := r.Render(core.Address(r.Word(ptrs[i*l.Ptr:])), depth+1)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(item.Repr)
		vals = append(vals, item)
		o.Truncated = o.Truncated || item.Truncated
	}
	if int64(len(vals)) < n {
		if len(vals) > 0 {
			b.WriteString(", ")
		}
		b.WriteString("...")
		o.Truncated = true
	} else if n == 1 && tuple {
		b.WriteString(",")
	}
	b.WriteString(closing)
	o.Repr, o.Value = b.String(), vals
	return nil
}

func (r *Renderer) renderDict(o *Object, a core.Address, depth int) error {
	ok, cut := r.enter(a, depth)
	if !ok {
		o.Repr, o.Truncated = "{...}", cut
		return nil
	}
	defer r.leave(a)
	items, more, err := r.DictItems(a, r.opts.MaxLength)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("{")
	vals := []DictItem{}
	for i, it := range items {
		if !r.room(len(vals)) {
			more = true
			break
		}
		k := r.Render(it.Key, depth+1)
		r.spend(2)
		v := r.Render(it.Value, depth+1)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.Repr + ": " + v.Repr)
		vals = append(vals, DictItem{k, v})
		o.Truncated = o.Truncated || k.Truncated || v.Truncated
	}
	if more {
		if len(vals) > 0 {
			b.WriteString(", ")
		}
		b.WriteString("...")
		o.Truncated = true
	}
	b.WriteString("}")
	o.Repr, o.Value = b.String(), vals
	return nil
}

func (r *Renderer) renderSet(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	l := r.L
	mask, err := r.I64(a.Add(l.Set.Mask))
	if err != nil {
		return fmt.Errorf("set at %#x: mask: %w", uint64(a), err)
	}
	if mask < 0 || mask > 1<<32 || (mask+1)&mask != 0 {
		return fmt.Errorf("set at %#x: mask %#x is not a power of two minus one", uint64(a), mask)
	}
	table, err := r.Ptr(a.Add(l.Set.Table))
	if err != nil {
		return fmt.Errorf("set at %#x: table: %w", uint64(a), err)
	}
	exact := ti.Exact && ti.Kind == KindSet
	if ok, cut := r.enter(a, depth); !ok {
		o.Repr, o.Truncated = ti.Name+"(...)", cut
		return nil
	}
	defer r.leave(a)
	// setentry is {key, hash}; a removed key leaves the dummy, hash -1.
	esize := 2 * l.Ptr
	var keys []core.Address
	more := false
	n := mask + 1
	buf := make([]byte, min(n, MaxEntryChunk)*esize)
scan:
	for start := int64(0); start < n && start < HardMaxItems; start += MaxEntryChunk {
		cnt := min(n-start, MaxEntryChunk)
		chunk := buf[:cnt*esize]
		if err := r.p.R.Read(chunk, table.Add(start*esize)); err != nil {
			return fmt.Errorf("set at %#x: table entries %d..%d: %w", uint64(a), start, start+cnt, err)
		}
		for i := int64(0); i < cnt; i++ {
			e := chunk[i*esize:]
			k := core.Address(r.Word(e))
			h := int64(r.Word(e[l.Ptr:]))
			if k == 0 || h == PySetDummyHash {
				continue
			}
			if len(keys) >= r.opts.MaxLength {
				more = true
				break scan
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		o.Repr, o.Value = ti.Name+"()", []Object{}
		return nil
	}
	var b strings.Builder
	if !exact {
		b.WriteString(ti.Name + "(")
	}
	b.WriteString("{")
	vals := []Object{}
	for i, k := range keys {
		if !r.room(len(vals)) {
			more = true
			break
		}
		item := r.Render(k, depth+1)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(item.Repr)
		vals = append(vals, item)
		o.Truncated = o.Truncated || item.Truncated
	}
	if more {
		b.WriteString(", ...")
		o.Truncated = true
	}
	b.WriteString("}")
	if !exact {
		b.WriteString(")")
	}
	o.Repr, o.Value = b.String(), vals
	return nil
}

// --- classes, functions, code, modules, exceptions, instances ---

func (r *Renderer) renderType(o *Object, a core.Address) error {
	ti := r.TypeOf(a)
	if ti.Err != nil {
		return ti.Err
	}
	mod, qual, err := r.TypeNames(a)
	if err != nil {
		return err
	}
	name := ti.Name
	if ti.Heap && mod != "" && mod != "builtins" {
		name = mod + "." + qual
	}
	o.Repr = "<class '" + name + "'>"
	o.Value = name
	return nil
}

func (r *Renderer) renderCode(o *Object, a core.Address) error {
	l := r.L
	if l.Code.Name < 0 || l.Code.File < 0 || l.Code.FirstLine < 0 {
		return errors.New("code objects: the type source does not describe PyCodeObject")
	}
	name, err := r.StrAt(a.Add(l.Code.Name), 1024)
	if err != nil {
		return fmt.Errorf("code at %#x: co_name: %w", uint64(a), err)
	}
	line, err := r.p.R.Uint32(a.Add(l.Code.FirstLine))
	if err != nil {
		return fmt.Errorf("code at %#x: co_firstlineno: %w", uint64(a), err)
	}
	lineno := int(int32(line))
	if lineno == 0 {
		lineno = -1
	}
	file := "???"
	if f, err := r.StrAt(a.Add(l.Code.File), 4096); err == nil {
		file = `"` + f + `"`
		o.Value = CodeValue{Name: name, File: f, FirstLine: lineno}
	}
	o.Repr = fmt.Sprintf("<code object %s at %#x, file %s, line %d>", name, uint64(a), file, lineno)
	return nil
}

func (r *Renderer) renderFunction(o *Object, a core.Address) error {
	q, err := r.StrAt(a.Add(r.L.Function.Qualname), 1024)
	if err != nil {
		return fmt.Errorf("function at %#x: __qualname__: %w", uint64(a), err)
	}
	o.Repr = fmt.Sprintf("<function %s at %#x>", q, uint64(a))
	o.Value = q
	return nil
}

// renderModule follows importlib's _module_repr: the module's __spec__
// (origin, and whether it names a file), else __file__, else the bare name.
func (r *Renderer) renderModule(o *Object, a core.Address) error {
	dict, err := r.Ptr(a.Add(r.L.Module.Dict))
	if err != nil {
		return fmt.Errorf("module at %#x: md_dict: %w", uint64(a), err)
	}
	if dict == 0 {
		return fmt.Errorf("module at %#x: NULL md_dict", uint64(a))
	}
	str := func(obj core.Address) (string, bool) {
		cps, _, err := r.StrCodepoints(obj, 4096)
		if err != nil {
			return "", false
		}
		return CodepointsToString(cps), true
	}
	name := "?"
	if n, ok, _ := r.DictGetStr(dict, "__name__"); ok {
		if s, ok := str(n); ok {
			name = s
		}
	}
	o.Value = name
	quoted := func(s string) string { return strRepr([]rune(s)) }
	if spec, ok, _ := r.DictGetStr(dict, "__spec__"); ok && spec != 0 && !r.IsNone(spec) {
		if n, ok := r.Attr(spec, "name"); ok {
			if s, ok := str(n); ok {
				name = s
			}
		}
		origin, hasOrigin := r.Attr(spec, "origin")
		if hasOrigin && !r.IsNone(origin) {
			if s, ok := str(origin); ok {
				if loc, ok := r.Attr(spec, "_set_fileattr"); ok && r.IsTrue(loc) {
					o.Repr = fmt.Sprintf("<module %s from %s>", quoted(name), quoted(s))
				} else {
					o.Repr = fmt.Sprintf("<module %s (%s)>", quoted(name), s)
				}
				return nil
			}
		}
		// No origin: the loader says what the module is. Before 3.12 the
		// import system's own loaders answer through module_repr.
		o.Repr = fmt.Sprintf("<module %s>", quoted(name))
		if loader, ok := r.Attr(spec, "loader"); ok && !r.IsNone(loader) {
			lo := r.Render(loader, HardMaxDepth)
			switch {
			case strings.HasSuffix(lo.Repr, ".BuiltinImporter'>"):
				o.Repr = fmt.Sprintf("<module %s (built-in)>", quoted(name))
			case strings.HasSuffix(lo.Repr, ".FrozenImporter'>"):
				o.Repr = fmt.Sprintf("<module %s (frozen)>", quoted(name))
			default:
				o.Repr = fmt.Sprintf("<module %s (%s)>", quoted(name), lo.Repr)
			}
		}
		return nil
	}
	if f, ok, _ := r.DictGetStr(dict, "__file__"); ok {
		if s, ok := str(f); ok {
			o.Repr = fmt.Sprintf("<module %s from %s>", quoted(name), quoted(s))
			return nil
		}
	}
	o.Repr = fmt.Sprintf("<module %s>", quoted(name))
	return nil
}

// renderException is BaseException_repr: Name(arg) for one argument (3.7+),
// Name(args...) otherwise.
// renderExcGroup renders an exception group. Up to 3.13 its repr is
// BaseException's (the arguments it was made with); later versions show
// Type(msg, [members]) from the members it holds, as a list when it was
// given a list.
func (r *Renderer) renderExcGroup(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	tp, err := r.Ptr(a.Add(r.L.Object.Type))
	if err != nil {
		return fmt.Errorf("exception group at %#x: ob_type: %w", uint64(a), err)
	}
	if g, b := r.excGroupBases(tp); g != 0 && b != 0 {
		gr, err1 := r.Ptr(g.Add(r.L.Type.Repr))
		br, err2 := r.Ptr(b.Add(r.L.Type.Repr))
		if err1 == nil && err2 == nil && gr == br {
			return r.renderException(o, a, ti, depth)
		}
	}
	msg, err := r.Ptr(a.Add(r.L.ExcGroup.Msg))
	if err != nil {
		return fmt.Errorf("exception group at %#x: msg: %w", uint64(a), err)
	}
	excs, err := r.Ptr(a.Add(r.L.ExcGroup.Excs))
	if err != nil {
		return fmt.Errorf("exception group at %#x: excs: %w", uint64(a), err)
	}
	n, err := r.TupleLen(excs, HardMaxItems)
	if err != nil {
		return fmt.Errorf("exception group at %#x: excs: %w", uint64(a), err)
	}
	open, closing, tuple := "(", ")", true
	if args, err := r.Ptr(a.Add(r.L.Exception.Args)); err == nil && args != 0 {
		if items, err := r.TupleItems(args, HardMaxItems); err == nil && len(items) == 2 {
			if tp, err := r.Ptr(items[1].Add(r.L.Object.Type)); err == nil {
				switch r.TypeOf(tp).Kind {
				case KindList:
					open, closing, tuple = "[", "]", false
				case KindTuple:
				default:
					// CPython shows the repr of the sequence it was given, saved
					// when the group was made; pycore does not read it.
					o.Repr = ti.Basename + "(" + r.Render(msg, depth+1).Repr + ", ...)"
					o.Truncated = true
					return nil
				}
			}
		}
	}
	m := r.Render(msg, depth+1)
	var members Object
	if err := r.renderItems(&members, excs, excs.Add(r.L.Tuple.Items), n, open, closing, tuple, "exception group members", depth+1); err != nil {
		return err
	}
	o.Repr = ti.Basename + "(" + m.Repr + ", " + members.Repr + ")"
	o.Value = []Object{m, {Address: excs, Repr: members.Repr, Value: members.Value, Truncated: members.Truncated}}
	o.Truncated = m.Truncated || members.Truncated
	return nil
}

func (r *Renderer) renderException(o *Object, a core.Address, ti *TypeInfo, depth int) error {
	args, err := r.Ptr(a.Add(r.L.Exception.Args))
	if err != nil {
		return fmt.Errorf("exception at %#x: args: %w", uint64(a), err)
	}
	if args == 0 {
		o.Repr = ti.Basename + "()"
		return nil
	}
	t := r.Render(args, depth)
	if t.Error != "" {
		return fmt.Errorf("exception at %#x: args: %s", uint64(a), t.Error)
	}
	o.Value, o.Truncated = t.Value, t.Truncated
	// 3.6 shows the args tuple as is: KeyError('k',).
	if vals, ok := t.Value.([]Object); ok && len(vals) == 1 && !t.Truncated && r.p.Repr.ExcArgUnwrapped {
		o.Repr = ti.Basename + "(" + vals[0].Repr + ")"
	} else {
		o.Repr = ti.Basename + t.Repr
	}
	return nil
}

// renderInstance is object_repr: <module.qualname object at 0x...>.
func (r *Renderer) renderInstance(o *Object, a core.Address, ti *TypeInfo) error {
	tp, err := r.Ptr(a.Add(r.L.Object.Type))
	if err != nil {
		return err
	}
	name := ti.Name
	if ti.Heap {
		if mod, qual, err := r.TypeNames(tp); err == nil && mod != "" && mod != "builtins" {
			name = mod + "." + qual
		}
	}
	o.Repr = fmt.Sprintf("<%s object at %#x>", name, uint64(a))
	return nil
}
