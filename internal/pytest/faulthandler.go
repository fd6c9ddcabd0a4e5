package pytest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FaultThread is one thread of a faulthandler dump: CPython's own account of its stacks
// on a fatal signal, independent of the JSON oracle.
type FaultThread struct {
	Ident     uint64 // the "0x..." of the header: threading.get_ident()
	Current   bool   // "Current thread": the one that got the signal
	Name      string // the OS thread name in brackets (3.14+), "" before
	Frames    []FaultFrame
	Truncated bool // faulthandler stopped at its frame limit ("  ...")
}

// FaultFrame is one `File "...", line N in NAME` line. Line is 0 for "???".
type FaultFrame struct {
	File     string
	Line     int
	Function string
}

var (
	fhHeaderRE = regexp.MustCompile(`^(Current thread|Thread) 0x([0-9a-fA-F]+)(?: \[(.*)\])? \(most recent call first\):$`)
	fhFrameRE  = regexp.MustCompile(`^  File "(.*)", line ([0-9]+|\?\?\?) in (.*)$`)
)

// maxFaulthandlerSize bounds the dump read: 100 threads x 100 frames of 500-char paths.
const maxFaulthandlerSize = 16 << 20

// ParseFaulthandler parses the output of faulthandler.enable(all_threads=True) after a
// fatal signal:
//
//	Fatal Python error: Segmentation fault
//
//	Current thread 0x00007f... (most recent call first):
//	  File "/x/y.py", line 12 in f
//	...
//
// Non-ASCII characters, which faulthandler writes as \xNN, \uNNNN or \UNNNNNNNN, are
// decoded. Lines that are not part of a thread's Python stack (the C stack of 3.14+,
// "Extension modules: ...") are skipped.
func ParseFaulthandler(r io.Reader) ([]FaultThread, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxFaulthandlerSize))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var threads []FaultThread
	var cur *FaultThread
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if m := fhHeaderRE.FindStringSubmatch(line); m != nil {
			id, err := strconv.ParseUint(m[2], 16, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: thread id %q: %w", lineNo, m[2], err)
			}
			threads = append(threads, FaultThread{Ident: id, Current: m[1] == "Current thread", Name: m[3]})
			cur = &threads[len(threads)-1]
			continue
		}
		if cur == nil {
			continue
		}
		if m := fhFrameRE.FindStringSubmatch(line); m != nil {
			f := FaultFrame{File: unescapeFaulthandler(m[1]), Function: unescapeFaulthandler(m[3])}
			if m[2] != "???" {
				n, err := strconv.Atoi(m[2])
				if err != nil {
					return nil, fmt.Errorf("line %d: line number %q: %w", lineNo, m[2], err)
				}
				f.Line = n
			}
			cur.Frames = append(cur.Frames, f)
			continue
		}
		switch line {
		case "  ...":
			cur.Truncated = true
			continue
		case "  <no Python frame>":
			continue
		}
		cur = nil // anything else ends the thread's stack
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	if len(threads) == 0 {
		return nil, errors.New("no thread in faulthandler output")
	}
	return threads, nil
}

// unescapeFaulthandler decodes _Py_DumpASCII's \xNN, \uNNNN and \UNNNNNNNN. faulthandler
// does not escape backslashes, so a backslash not followed by such a form stays as is.
func unescapeFaulthandler(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for n := 0; n < len(s); n++ {
		if s[n] == '\\' && n+1 < len(s) {
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[n+1]]
			if width > 0 && n+2+width <= len(s) {
				if v, err := strconv.ParseUint(s[n+2:n+2+width], 16, 32); err == nil && utf8.ValidRune(rune(v)) {
					b.WriteRune(rune(v))
					n += 1 + width
					continue
				}
			}
		}
		b.WriteByte(s[n])
	}
	return b.String()
}

// CompareFaulthandler checks that faulthandler's dump and the JSON oracle tell the same
// story: the same threads, the same current (crashed) thread, and frame by frame the same
// file, function and line.
func CompareFaulthandler(o *Oracle, fh []FaultThread) error {
	var errs []error
	seen := map[uint64]bool{}
	currents := 0
	for _, ft := range fh {
		seen[ft.Ident] = true
		if ft.Current {
			currents++
			if ft.Ident != o.Crashed {
				errs = append(errs, fmt.Errorf("faulthandler's current thread is %#x, the oracle's crashed thread %#x", ft.Ident, o.Crashed))
			}
		}
		ot := o.Thread(ft.Ident)
		if ot == nil {
			errs = append(errs, fmt.Errorf("faulthandler thread %#x is not in the oracle", ft.Ident))
			continue
		}
		if err := compareFrames(ot, ft); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Crashed != 0 && currents != 1 {
		errs = append(errs, fmt.Errorf("faulthandler has %d current threads, want 1", currents))
	}
	// faulthandler dumps at most 100 threads.
	if len(fh) < 100 {
		for _, t := range o.Threads {
			if !seen[t.Ident] {
				errs = append(errs, fmt.Errorf("oracle thread %#x (%q) is not in the faulthandler dump", t.Ident, t.Name))
			}
		}
	}
	return errors.Join(errs...)
}

func compareFrames(ot *OracleThread, ft FaultThread) error {
	want := ot.Frames
	if ft.Truncated && len(ft.Frames) < len(want) {
		want = want[:len(ft.Frames)]
	}
	if len(ft.Frames) != len(want) {
		return fmt.Errorf("thread %#x (%q): faulthandler has %d frames, the oracle %d:\n%s", ot.Ident, ot.Name, len(ft.Frames), len(want), sideBySide(want, ft.Frames))
	}
	for n, f := range ft.Frames {
		w := want[n]
		if f.File != w.File || f.Function != w.Function || f.Line != w.Line {
			return fmt.Errorf("thread %#x (%q) frame %d: faulthandler %s:%d in %s, oracle %s:%d in %s", ot.Ident, ot.Name, n, f.File, f.Line, f.Function, w.File, w.Line, w.Function)
		}
	}
	return nil
}

func sideBySide(want []OracleFrame, got []FaultFrame) string {
	var b strings.Builder
	for n := 0; n < len(want) || n < len(got); n++ {
		var l, r string
		if n < len(want) {
			l = fmt.Sprintf("%s:%d", want[n].Function, want[n].Line)
		}
		if n < len(got) {
			r = fmt.Sprintf("%s:%d", got[n].Function, got[n].Line)
		}
		fmt.Fprintf(&b, "  %-40s %s\n", l, r)
	}
	return b.String()
}
