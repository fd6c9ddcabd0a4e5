package pyobj

// The object reader: what a Python object holds, read from the process's
// memory through the offsets of a Layout (types, ints, str, bytes,
// tuples; dicts and attributes are in objreader_dict.go, type names and
// kinds in objreader_types.go). Locals, exceptions, asyncio, the heap walk
// and the repr renderer all read objects through it; it renders nothing.

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// Proc is what the object reader needs of the process it reads: its memory,
// the str layout, the type source (for Describe), the flavor's repr rules,
// and the names threading gave its threads (read on first need: every
// interpreter's threading._active, which only the walker can list).
type Proc struct {
	R           core.Reader
	Str         *abi.StrOffsets
	Types       abi.TypeSource
	Repr        abi.ReprRules
	ThreadNames func() (map[uint64]string, error)
	// FrameLine is where a frame object is: its code's file and name and
	// its line, which only the walker's frame reading knows.
	FrameLine func(frame core.Address) (file, name string, line int64, err error)
}

// Reader reads Python objects of one process. A process has one (made
// once by the walker), so what it learns of types is shared by every reading.
type Reader struct {
	p Proc
	L *Layout // the offsets it reads with

	mu        sync.Mutex
	typeCache map[core.Address]*TypeInfo // TypeOf's answers, bounded
}

// NewReader makes the object reader of a process that reads with l.
func NewReader(p Proc, l *Layout) *Reader {
	return &Reader{p: p, L: l, typeCache: map[core.Address]*TypeInfo{}}
}

// NewRenderer is the one way to make a renderer: opts bound what each
// object shows, left the characters of output allowed in all.
func (r *Reader) NewRenderer(opts ReprOptions, left int) *Renderer {
	return &Renderer{Reader: r, opts: opts, left: left, active: map[core.Address]bool{}}
}

// Str reads a str object as Go text (lone surrogates become U+FFFD).
// Strings longer than maxChars (or the package bound) are cut, with complete false.
func (r *Reader) Str(obj core.Address, maxChars int) (s string, complete bool, err error) {
	cps, total, err := r.StrCodepoints(obj, maxChars)
	if err != nil {
		return "", false, err
	}
	return CodepointsToString(cps), int64(len(cps)) == total, nil
}

// Bytes reads a bytes object's contents, at most max bytes (complete
// says whether that was all of it).
func (r *Reader) Bytes(obj core.Address, max int) (b []byte, complete bool, err error) {
	b, total, err := r.bytesValue(obj, max)
	return b, int64(len(b)) == total, err
}

func (r *Reader) Ptr(a core.Address) (core.Address, error) { return r.p.R.Ptr(a) }

func (r *Reader) I64(a core.Address) (int64, error) {
	u, err := r.p.R.Uint(a, int(r.L.Ptr))
	if r.L.Ptr == 4 {
		return int64(int32(u)), err
	}
	return int64(u), err
}

func (r *Reader) U8(a core.Address) (uint8, error) { return r.p.R.Uint8(a) }

// intValue reads an int of any size: 30-bit digits (15-bit on some
// builds), least significant first, sign and count from ob_size (<= 3.11)
// or lv_tag (3.12+).
func (r *Reader) IntValue(a core.Address) (*big.Int, error) {
	l := r.L
	var n int64
	neg := false
	if l.Long.Tagged {
		tag, err := r.p.R.Uint64(a.Add(l.Long.Size))
		if err != nil {
			return nil, fmt.Errorf("int at %#x: lv_tag: %w", uint64(a), err)
		}
		switch tag & LongSignMask {
		case 0:
		case 1:
			return new(big.Int), nil
		case 2:
			neg = true
		default:
			return nil, fmt.Errorf("int at %#x: lv_tag %#x has sign bits 3", uint64(a), tag)
		}
		n = int64(tag >> LongNonSizeBits)
	} else {
		size, err := r.I64(a.Add(l.Long.Size))
		if err != nil {
			return nil, fmt.Errorf("int at %#x: ob_size: %w", uint64(a), err)
		}
		n, neg = size, size < 0
		if neg {
			n = -size
		}
	}
	if n < 0 || n > MaxLongDigits {
		return nil, fmt.Errorf("int at %#x: %d digits is not plausible", uint64(a), n)
	}
	buf := make([]byte, n*int64(l.Long.DigitBytes))
	if err := r.p.R.Read(buf, a.Add(l.Long.Digits)); err != nil {
		return nil, fmt.Errorf("int at %#x: %d digits: %w", uint64(a), n, err)
	}
	// Pack the digits' bits into big-endian bytes for SetBytes: linear in
	// the size, where shifting a big.Int digit by digit is quadratic.
	packed := make([]byte, (n*int64(l.Long.DigitBits)+7)/8)
	var acc uint64
	accBits, at := 0, len(packed)
	for i := int64(0); i < n; i++ {
		var digit uint64
		if l.Long.DigitBytes == 2 {
			digit = uint64(r.p.R.Order.Uint16(buf[2*i:]))
		} else {
			digit = uint64(r.p.R.Order.Uint32(buf[4*i:]))
		}
		if digit>>uint(l.Long.DigitBits) != 0 {
			return nil, fmt.Errorf("int at %#x: digit %d is %#x, wider than %d bits", uint64(a), i, digit, l.Long.DigitBits)
		}
		acc |= digit << uint(accBits)
		accBits += l.Long.DigitBits
		for accBits >= 8 {
			at--
			packed[at] = byte(acc)
			acc >>= 8
			accBits -= 8
		}
	}
	if accBits > 0 && at > 0 {
		at--
		packed[at] = byte(acc)
	}
	v := new(big.Int).SetBytes(packed)
	if neg {
		v.Neg(v)
	}
	return v, nil
}

func (r *Reader) float64At(a core.Address) (float64, error) {
	u, err := r.p.R.Uint64(a)
	return math.Float64frombits(u), err
}

// strCodepoints reads up to max code points of a str (all if max <= 0, up
// to the package bound), surrogates kept, and the str's length.
func (r *Reader) StrCodepoints(a core.Address, max int) ([]rune, int64, error) {
	data, kind, length, err := r.StrData(a)
	if err != nil {
		return nil, 0, err
	}
	n := length
	if max <= 0 || max > MaxStringChars {
		max = MaxStringChars
	}
	if n > int64(max) {
		n = int64(max)
	}
	buf := make([]byte, int(n)*kind)
	if err := r.p.R.Read(buf, data); err != nil {
		return nil, 0, fmt.Errorf("str at %#x: %d characters: %w", uint64(a), n, err)
	}
	d := r.strs()
	cps := make([]rune, n)
	for i := range cps {
		cps[i] = d.codepoint(buf[i*kind:], kind)
	}
	return cps, length, nil
}

// strCharAt reads code point i of a str.
func (r *Reader) StrCharAt(a core.Address, i int64) (rune, error) {
	data, kind, length, err := r.StrData(a)
	if err != nil {
		return 0, err
	}
	if i < 0 || i >= length {
		return 0, fmt.Errorf("str at %#x: index %d out of range (length %d)", uint64(a), i, length)
	}
	buf := make([]byte, kind)
	if err := r.p.R.Read(buf, data.Add(i*int64(kind))); err != nil {
		return 0, fmt.Errorf("str at %#x: character %d: %w", uint64(a), i, err)
	}
	return r.strs().codepoint(buf, kind), nil
}

// strData finds a str's characters: where they are, their size (1, 2 or 4
// bytes) and how many there are.
func (r *Reader) StrData(a core.Address) (data core.Address, kind int, length int64, err error) {
	if a == 0 {
		return 0, 0, 0, errors.New("NULL str")
	}
	tp, err := r.Ptr(a.Add(r.L.Object.Type))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("str at %#x: %w", uint64(a), err)
	}
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return 0, 0, 0, fmt.Errorf("str at %#x: %w", uint64(a), ti.Err)
	}
	if ti.Flags&TPFlagsUnicodeSubclass == 0 {
		return 0, 0, 0, fmt.Errorf("object at %#x is a %q, not a str", uint64(a), ti.Name)
	}
	return r.strs().Chars(a)
}

// strs is the str decoder, with this process's str layout.
func (r *Reader) strs() PEP393 { return PEP393{r.p.R, r.p.Str} }

func CodepointsToString(cps []rune) string {
	var b strings.Builder
	for _, c := range cps {
		if !utf8.ValidRune(c) {
			c = utf8.RuneError
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *Reader) StrAt(field core.Address, max int) (string, error) {
	p, err := r.Ptr(field)
	if err != nil {
		return "", err
	}
	cps, _, err := r.StrCodepoints(p, max)
	return CodepointsToString(cps), err
}

// bytesValue reads up to max bytes of a bytes object, and its size.
func (r *Reader) bytesValue(a core.Address, max int) ([]byte, int64, error) {
	if a == 0 {
		return nil, 0, errors.New("NULL bytes")
	}
	sl := r.p.Str
	n, err := r.I64(a.Add(sl.BytesSize))
	if err != nil {
		return nil, 0, fmt.Errorf("bytes at %#x: size: %w", uint64(a), err)
	}
	if n < 0 || n > 1<<40 {
		return nil, 0, fmt.Errorf("bytes at %#x: size %d is not plausible", uint64(a), n)
	}
	want := n
	if max <= 0 || max > MaxBytesLen {
		max = MaxBytesLen
	}
	if want > int64(max) {
		want = int64(max)
	}
	b := make([]byte, want)
	if err := r.p.R.Read(b, a.Add(sl.BytesData)); err != nil {
		return nil, 0, fmt.Errorf("bytes at %#x: %w", uint64(a), err)
	}
	return b, n, nil
}

func (r *Reader) Word(b []byte) uint64 {
	if r.L.Ptr == 4 {
		return uint64(r.p.R.Order.Uint32(b))
	}
	return r.p.R.Order.Uint64(b)
}

// tupleLen reads the size of a tuple (at most max).
func (r *Reader) TupleLen(t core.Address, max int64) (int64, error) {
	if t == 0 {
		return 0, errors.New("NULL tuple")
	}
	n, err := r.I64(t.Add(r.L.Object.Size))
	if err != nil {
		return 0, fmt.Errorf("tuple at %#x: ob_size: %w", uint64(t), err)
	}
	if n < 0 || n > max {
		return 0, fmt.Errorf("tuple at %#x: %d items is not plausible (at most %d)", uint64(t), n, max)
	}
	return n, nil
}

// tupleItems reads the item pointers of a tuple (at most max).
func (r *Reader) TupleItems(t core.Address, max int64) ([]core.Address, error) {
	n, err := r.TupleLen(t, max)
	if err != nil {
		return nil, err
	}
	return r.TupleHead(t, n)
}

// tupleHead reads the first n item pointers of a tuple whose size is at
// least n.
func (r *Reader) TupleHead(t core.Address, n int64) ([]core.Address, error) {
	buf := make([]byte, n*r.L.Ptr)
	if err := r.p.R.Read(buf, t.Add(r.L.Tuple.Items)); err != nil {
		return nil, fmt.Errorf("tuple at %#x: items: %w", uint64(t), err)
	}
	out := make([]core.Address, n)
	for i := range out {
		out[i] = core.Address(r.Word(buf[int64(i)*r.L.Ptr:]))
	}
	return out, nil
}

// strValue reads a str object, its first max characters and "…" if longer.
func (r *Reader) StrValue(a core.Address, max int) (string, error) {
	tp, err := r.Ptr(a.Add(r.L.Object.Type))
	if err != nil {
		return "", err
	}
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return "", ti.Err
	}
	if ti.Kind != KindStr {
		return "", fmt.Errorf("a %s, not a str", ti.Name)
	}
	cps, total, err := r.StrCodepoints(a, max)
	if err != nil {
		return "", err
	}
	if total > int64(len(cps)) {
		return CodepointsToString(cps) + "…", nil
	}
	return CodepointsToString(cps), nil
}

// StrList reads a list (or tuple) of str, as sys.argv is: at most maxArgv
// items of at most maxArgChars characters each.
func (r *Reader) StrList(a core.Address, maxArgv, maxArgChars int) ([]string, error) {
	l := r.L
	tp, err := r.Ptr(a.Add(l.Object.Type))
	if err != nil {
		return nil, err
	}
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return nil, ti.Err
	}
	n, err := r.I64(a.Add(l.Object.Size))
	if err != nil {
		return nil, fmt.Errorf("ob_size: %w", err)
	}
	if n < 0 || n > int64(maxArgv) {
		return nil, fmt.Errorf("%d items (at most %d are read)", n, maxArgv)
	}
	items := a.Add(l.Tuple.Items)
	switch ti.Kind {
	case KindList:
		if items, err = r.Ptr(a.Add(l.List.Items)); err != nil {
			return nil, fmt.Errorf("ob_item: %w", err)
		}
		if items == 0 && n > 0 {
			return nil, fmt.Errorf("%d items but a NULL ob_item", n)
		}
	case KindTuple:
	default:
		return nil, fmt.Errorf("a %s, not a list", ti.Name)
	}
	out := make([]string, 0, n)
	for i := int64(0); i < n; i++ {
		it, err := r.Ptr(items.Add(i * l.Ptr))
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		s, err := r.StrValue(it, maxArgChars)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}
