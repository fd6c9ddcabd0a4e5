package render

import (
	"github.com/pycore/pycore/cpython"
	"strings"
	"testing"
)

// FormatException prints an exception tree as Python's traceback module
// does (values from CPython 3.12's traceback.format_exception, source lines
// left out).
func TestFormatExceptionPrintsAsTheTracebackModule(t *testing.T) {
	entry := func(fn string, line int) cpython.TracebackEntry {
		return cpython.TracebackEntry{File: "/srv/app.py", Function: fn, Line: line}
	}
	keyErr := &cpython.Exception{Address: 1, Type: "KeyError", Message: "'k'", Traceback: []cpython.TracebackEntry{entry("load", 3)}}
	for _, c := range []struct {
		name string
		exc  *cpython.Exception
		want string
	}{{
		name: "a cause wins over the context, with its own traceback first",
		exc: &cpython.Exception{Address: 2, Type: "ValueError", Message: "bad", Traceback: []cpython.TracebackEntry{entry("main", 9), entry("parse", 7)},
			Cause: keyErr, Context: keyErr, SuppressContext: true},
		want: `Traceback (most recent call last):
  File "/srv/app.py", line 3, in load
KeyError: 'k'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/app.py", line 9, in main
  File "/srv/app.py", line 7, in parse
ValueError: bad`,
	}, {
		name: "an implicit context",
		exc:  &cpython.Exception{Address: 3, Type: "mod.Error", Message: "second", Context: keyErr},
		want: `Traceback (most recent call last):
  File "/srv/app.py", line 3, in load
KeyError: 'k'

During handling of the above exception, another exception occurred:

mod.Error: second`,
	}, {
		name: "a suppressed context is not printed",
		exc:  &cpython.Exception{Address: 4, Type: "TypeError", Message: "x", Context: keyErr, SuppressContext: true},
		want: `TypeError: x`,
	}, {
		name: "an exception already printed in the chain is left out",
		exc:  &cpython.Exception{Address: 5, Type: "ValueError", Message: "a", Context: &cpython.Exception{Address: 5, Type: "ValueError", Seen: true}},
		want: `ValueError: a`,
	}, {
		name: "no message: the type alone, then the notes",
		exc:  &cpython.Exception{Address: 6, Type: "NotImplementedError", Notes: []string{"note one", "two\nlines"}},
		want: "NotImplementedError\nnote one\ntwo\nlines",
	}, {
		name: "identical entries beyond three are counted",
		exc: &cpython.Exception{Address: 7, Type: "RecursionError", Message: "deep", Traceback: []cpython.TracebackEntry{
			entry("main", 1), entry("f", 2), entry("f", 2), entry("f", 2), entry("f", 2), entry("f", 2), entry("g", 5),
			entry("g", 5), entry("g", 5), entry("g", 5)}},
		want: `Traceback (most recent call last):
  File "/srv/app.py", line 1, in main
  File "/srv/app.py", line 2, in f
  File "/srv/app.py", line 2, in f
  File "/srv/app.py", line 2, in f
  [Previous line repeated 2 more times]
  File "/srv/app.py", line 5, in g
  File "/srv/app.py", line 5, in g
  File "/srv/app.py", line 5, in g
  [Previous line repeated 1 more time]
RecursionError: deep`,
	}, {
		name: "what could not be read is said",
		exc: &cpython.Exception{Address: 8, Type: "OSError", Message: "[Errno 2] gone", TracebackCut: 4,
			Traceback: []cpython.TracebackEntry{entry("main", 1), {Error: "traceback at 0x10: tb_frame: not in the core"}},
			Error:     "__cause__: not in the core"},
		want: `Traceback (most recent call last):
  File "/srv/app.py", line 1, in main
  [traceback at 0x10: tb_frame: not in the core]
  [4 more entries not read]
OSError: [Errno 2] gone
  [incomplete: __cause__: not in the core]`,
	}} {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Join(FormatException(ExceptionOf(c.exc)), "\n"); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}
