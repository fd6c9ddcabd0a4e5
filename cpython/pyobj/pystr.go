package pyobj

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
)

// PEP393 is the one decoder of str objects: PEP 393's compact and legacy
// layouts, and the legacy strings of <= 3.11 not made ready yet, which have
// only wchar_t characters. The object reader and the code names of frames
// (codeReader.str) both read strings through it; each checks the type its own
// way first.
type PEP393 struct {
	R   core.Reader
	Str *abi.StrOffsets
}

func (d PEP393) I64(a core.Address) (int64, error) {
	u, err := d.R.Uint(a, d.R.PtrSize)
	if d.R.PtrSize == 4 {
		return int64(int32(u)), err
	}
	return int64(u), err
}

// chars finds the characters of the str at a: where they are, their size
// (1, 2 or 4 bytes) and how many there are.
func (d PEP393) Chars(a core.Address) (data core.Address, kind int, length int64, err error) {
	if a == 0 {
		return 0, 0, 0, errors.New("NULL str")
	}
	sl := d.Str
	length, err = d.I64(a.Add(sl.Length))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("str at %#x: length: %w", uint64(a), err)
	}
	if length < 0 || length > 1<<40 {
		return 0, 0, 0, fmt.Errorf("str at %#x: length %d is not plausible", uint64(a), length)
	}
	state, err := d.R.Uint32(a.Add(sl.State))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("str at %#x: state: %w", uint64(a), err)
	}
	kind = int(state>>sl.KindShift) & 7
	compact := state>>sl.CompactBit&1 == 1
	ascii := state>>sl.ASCIIBit&1 == 1
	if kind == 0 && !compact && sl.Wstr >= 0 {
		// PyUnicode_WCHAR_KIND: not made ready; Python would ready it before
		// printing it, from these characters.
		return d.wstr(a)
	}
	if kind != 1 && kind != 2 && kind != 4 {
		return 0, 0, 0, fmt.Errorf("str at %#x: kind %d in state %#x is not 1, 2 or 4 (a string not made ready?)", uint64(a), kind, state)
	}
	switch {
	case compact && ascii:
		data = a.Add(sl.ASCIISize)
	case compact:
		data = a.Add(sl.CompactSize)
	default:
		if data, err = d.R.Ptr(a.Add(sl.Data)); err != nil {
			return 0, 0, 0, fmt.Errorf("str at %#x: data pointer: %w", uint64(a), err)
		}
	}
	return data, kind, length, nil
}

// wstr finds the wchar_t characters of a legacy str not made ready.
func (d PEP393) wstr(a core.Address) (core.Address, int, int64, error) {
	sl := d.Str
	wstr, err := d.R.Ptr(a.Add(sl.Wstr))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("str at %#x (not ready): wstr: %w", uint64(a), err)
	}
	n, err := d.I64(a.Add(sl.WstrLen))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("str at %#x (not ready): wstr_length: %w", uint64(a), err)
	}
	if wstr == 0 || n < 0 || n > 1<<40 {
		return 0, 0, 0, fmt.Errorf("str at %#x is not ready and has no characters (wstr %#x, wstr_length %d)", uint64(a), uint64(wstr), n)
	}
	return wstr, int(sl.WcharSize), n, nil
}

// codepoint decodes the character of size kind at the start of b.
func (d PEP393) codepoint(b []byte, kind int) rune {
	switch kind {
	case 1:
		return rune(b[0])
	case 2:
		return rune(d.R.Order.Uint16(b))
	}
	return rune(d.R.Order.Uint32(b))
}

// text is the characters in buf as Go (UTF-8) text; surrogates and values
// beyond Unicode become U+FFFD, as CodepointsToString makes them.
func (d PEP393) Text(buf []byte, kind int) string {
	var sb strings.Builder
	sb.Grow(len(buf))
	for i := 0; i+kind <= len(buf); i += kind {
		c := d.codepoint(buf[i:], kind)
		switch {
		case c < utf8.RuneSelf:
			sb.WriteByte(byte(c))
		case !utf8.ValidRune(c):
			sb.WriteRune(utf8.RuneError)
		default:
			sb.WriteRune(c)
		}
	}
	return sb.String()
}
