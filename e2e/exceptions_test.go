package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
)

// excOracle is what testdata/scenarios/exceptions.py wrote
// (ORACLE.exceptions.json): per thread ident, the exception it was raising and
// those it was handling, innermost first.
type excOracle struct {
	Threads map[string]struct {
		Raised  *oracleExc   `json:"raised"`
		Handled []*oracleExc `json:"handled"`
	} `json:"threads"`
	GILWaiter uint64 `json:"gil_waiter"`
}

type oracleExc struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Seen      bool   `json:"seen"`
	Traceback []struct {
		File     string `json:"file"`
		Function string `json:"function"`
		Line     int    `json:"line"`
	} `json:"traceback"`
	Cause           *oracleExc `json:"cause"`
	Context         *oracleExc `json:"context"`
	SuppressContext bool       `json:"suppress_context"`
	Notes           []string   `json:"notes"`
	Text            string     `json:"text"` // traceback.format_exception()
}

// rawOracleThreads reads the fields of oracle.json that pytest.Oracle leaves
// out (daemon), by ident.
func rawOracleThreads(t *testing.T, c *pytest.Core) map[uint64]struct {
	Daemon *bool `json:"daemon"`
} {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		Threads []struct {
			Ident  uint64 `json:"ident"`
			Daemon *bool  `json:"daemon"`
		} `json:"threads"`
	}
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	out := map[uint64]struct {
		Daemon *bool `json:"daemon"`
	}{}
	for _, th := range o.Threads {
		out[th.Ident] = struct {
			Daemon *bool `json:"daemon"`
		}{th.Daemon}
	}
	return out
}

// TestExceptionsAndThreadDetails makes kernel and gcore cores of
// exceptions.py and checks every thread's exceptions against what the thread
// recorded of them (type, message, traceback frames and lines, cause and
// context chains, notes, and the text Python's traceback module printed),
// and what CPython records of each thread: daemon, attach state, GIL requests.
func TestExceptionsAndThreadDetails(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			for _, kind := range []pytest.CoreKind{pytest.Kernel, pytest.Gcore} {
				kind := kind
				t.Run(string(kind), func(t *testing.T) {
					c := pytest.MakeCore(t, interp, "exceptions", kind)
					data, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.exceptions.json"))
					if err != nil {
						t.Fatal(err)
					}
					var want excOracle
					if err := json.Unmarshal(data, &want); err != nil {
						t.Fatal(err)
					}
					if len(want.Threads) < 7 {
						t.Fatalf("the exceptions oracle has %d threads, want 7 or more", len(want.Threads))
					}
					raw := rawOracleThreads(t, c)
					for _, a := range analyses(t, interp) {
						a := a
						t.Run(a.name, func(t *testing.T) {
							snap := runThreads(t, c.Path, a.args...)
							for _, e := range compareExceptions(&want, snap) {
								t.Error(e)
							}
							for _, e := range compareDetails(c, &want, raw, snap, interp, kind, a.name) {
								t.Error(e)
							}
							text := runThreadsText(t, c.Path, a.args...)
							for _, e := range checkExceptionText(&want, snap, text) {
								t.Error(e)
							}
						})
					}
				})
			}
		})
	}
}

func runThreadsText(t *testing.T, core string, args ...string) string {
	t.Helper()
	cmd := exec.Command(pycoreBin, append(append([]string{"threads"}, args...), core)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pycore threads %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

func compareExceptions(o *excOracle, s *render.Snapshot) []string {
	var errs []string
	for _, pt := range s.Threads {
		ident := strconv.FormatUint(pt.ThreadID, 10)
		w := o.Threads[ident] // threads that recorded nothing handle nothing
		where := fmt.Sprintf("thread %s (%s)", ident, optName(pt.Name))
		if len(pt.DetailErrors) > 0 {
			errs = append(errs, fmt.Sprintf("%s: %s", where, strings.Join(pt.DetailErrors, "; ")))
		}
		errs = append(errs, compareExc(where+": exception being raised", w.Raised, pt.Exception)...)
		if len(pt.HandledExceptions) != len(w.Handled) {
			errs = append(errs, fmt.Sprintf("%s: %d exceptions handled, want %d", where, len(pt.HandledExceptions), len(w.Handled)))
			continue
		}
		for i := range w.Handled {
			errs = append(errs, compareExc(fmt.Sprintf("%s: handled exception %d", where, i), w.Handled[i], pt.HandledExceptions[i])...)
		}
	}
	return errs
}

func compareExc(where string, w *oracleExc, g *render.Exception) []string {
	errs := compareExcChain(where, w, g)
	if errs == nil && w != nil && g != nil {
		// The whole printed form, as the traceback module printed it minus the
		// source lines (and 3.11+'s carets), which are not in a core.
		if got, want := strings.Join(render.FormatException(g), "\n"), pythonText(w.Text); got != want {
			errs = append(errs, fmt.Sprintf("%s: printed\n%s\nwant\n%s", where, got, want))
		}
	}
	return errs
}

// compareExcChain compares an exception and its chain field by field.
func compareExcChain(where string, w *oracleExc, g *render.Exception) []string {
	switch {
	case w == nil && g == nil:
		return nil
	case w == nil:
		return []string{fmt.Sprintf("%s: pycore has %s %q, want none", where, g.Type, g.Message)}
	case g == nil:
		return []string{fmt.Sprintf("%s: missing, want %s %q", where, w.Type, w.Message)}
	}
	where += " (" + w.Type + ")"
	if g.Type != w.Type || g.Seen != w.Seen {
		return []string{fmt.Sprintf("%s: pycore has type %q seen=%v, want %q seen=%v", where, g.Type, g.Seen, w.Type, w.Seen)}
	}
	if w.Seen {
		return nil
	}
	var errs []string
	if g.Error != "" {
		errs = append(errs, fmt.Sprintf("%s: %s", where, g.Error))
	}
	if g.Message != w.Message {
		errs = append(errs, fmt.Sprintf("%s: message %q, want %q", where, g.Message, w.Message))
	}
	if g.SuppressContext != w.SuppressContext {
		errs = append(errs, fmt.Sprintf("%s: suppress_context=%v, want %v", where, g.SuppressContext, w.SuppressContext))
	}
	if strings.Join(g.Notes, "\n") != strings.Join(w.Notes, "\n") {
		errs = append(errs, fmt.Sprintf("%s: notes %q, want %q", where, g.Notes, w.Notes))
	}
	if len(g.Traceback) != len(w.Traceback) {
		errs = append(errs, fmt.Sprintf("%s: %d traceback entries, want %d", where, len(g.Traceback), len(w.Traceback)))
	} else {
		for i, we := range w.Traceback {
			ge := g.Traceback[i]
			if ge.File != we.File || ge.Function != we.Function || ge.Line != we.Line || ge.Error != "" {
				errs = append(errs, fmt.Sprintf("%s: traceback entry %d is %s:%d in %s (%s), want %s:%d in %s",
					where, i, ge.File, ge.Line, ge.Function, ge.Error, we.File, we.Line, we.Function))
			}
		}
	}
	errs = append(errs, compareExcChain(where+" cause", w.Cause, g.Cause)...)
	errs = append(errs, compareExcChain(where+" context", w.Context, g.Context)...)
	return errs
}

// pythonText is format_exception's text without source and caret lines:
// those indented by four spaces, after the "| " margin inside exception groups.
func pythonText(text string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if isSourceLine(line) {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func isSourceLine(line string) bool {
	rest := strings.TrimLeft(line, " ")
	switch {
	case strings.HasPrefix(rest, "| "):
		return strings.HasPrefix(rest[2:], "    ")
	case strings.HasPrefix(rest, "+"):
		return false // a group's frame: "+-+---- 1 ----", "+ Exception Group ..."
	}
	return strings.HasPrefix(line, "    ")
}

// checkExceptionText finds each thread's exceptions in the human output, under
// the thread's header, indented by two spaces.
func checkExceptionText(o *excOracle, s *render.Snapshot, text string) []string {
	var errs []string
	blocks := strings.Split(text, "\nThread 0x")
	for _, pt := range s.Threads {
		ident := strconv.FormatUint(pt.ThreadID, 10)
		var block string
		for _, b := range blocks {
			if strings.HasPrefix(b, strconv.FormatUint(pt.ThreadID, 16)+" ") {
				block = b
			}
		}
		if block == "" {
			errs = append(errs, fmt.Sprintf("thread %s: no block in the text output", ident))
			continue
		}
		w := o.Threads[ident]
		var want []*oracleExc
		if w.Raised != nil {
			want = append(want, w.Raised)
			if !strings.Contains(block, "\nException being raised:\n") {
				errs = append(errs, fmt.Sprintf("thread %s: no 'Exception being raised:' heading", ident))
			}
		}
		want = append(want, w.Handled...)
		for _, e := range want {
			var lines []string
			for _, l := range strings.Split(pythonText(e.Text), "\n") {
				if l != "" {
					l = "  " + l
				}
				lines = append(lines, l)
			}
			if !strings.Contains(block, strings.Join(lines, "\n")+"\n") {
				errs = append(errs, fmt.Sprintf("thread %s: the text output lacks\n%s\nin\n%s", ident, strings.Join(lines, "\n"), block))
			}
		}
		if len(want) == 0 && strings.Contains(block, "Exception being") {
			errs = append(errs, fmt.Sprintf("thread %s: an exception in the text output, none in the oracle", ident))
		}
	}
	return errs
}

// compareDetails checks what CPython records of each thread against what the
// scenario knows: threading's daemon flag; the attach state (3.13+: only the
// thread that crashes is attached); who waits for the GIL (kernel cores: the
// gil-waiter thread, while the crashing thread keeps the GIL).
func compareDetails(c *pytest.Core, o *excOracle, raw map[uint64]struct {
	Daemon *bool `json:"daemon"`
}, s *render.Snapshot, interp pytest.Interpreter, kind pytest.CoreKind, analysis string) []string {
	var errs []string
	ft := interp.FreeThreaded()
	for _, pt := range s.Threads {
		where := fmt.Sprintf("thread %#x (%s)", pt.ThreadID, optName(pt.Name))
		if r, ok := raw[pt.ThreadID]; ok && r.Daemon != nil {
			if pt.Daemon == nil || *pt.Daemon != *r.Daemon {
				errs = append(errs, fmt.Sprintf("%s: daemon %v, want %v", where, boolPtr(pt.Daemon), *r.Daemon))
			}
		}
		crashed := c.Oracle.Crashed == pt.ThreadID
		if interp.AtLeast(3, 13) {
			want := "detached"
			if crashed {
				want = "attached"
			}
			if pt.State != want {
				errs = append(errs, fmt.Sprintf("%s: state %q, want %q", where, pt.State, want))
			}
		} else if pt.State != "" {
			errs = append(errs, fmt.Sprintf("%s: state %q before 3.13", where, pt.State))
		}
		if interp.AtLeast(3, 15) {
			want := !ft && kind == pytest.Kernel && pt.ThreadID == o.GILWaiter
			if pt.GILRequested == nil || *pt.GILRequested != want {
				errs = append(errs, fmt.Sprintf("%s: gil_requested %v, want %v", where, boolPtr(pt.GILRequested), want))
			}
		} else if pt.GILRequested != nil {
			errs = append(errs, fmt.Sprintf("%s: gil_requested %v before 3.15", where, *pt.GILRequested))
		}
		// The crashing thread held the GIL for the release of two million
		// floats while the waiter asked for it.
		if !ft && kind == pytest.Kernel && crashed {
			known := interp.AtLeast(3, 7)
			switch {
			case known && (pt.GILDropRequested == nil || !*pt.GILDropRequested):
				errs = append(errs, fmt.Sprintf("%s: gil_drop_requested %v, want true", where, boolPtr(pt.GILDropRequested)))
			case !known && pt.GILDropRequested != nil:
				errs = append(errs, fmt.Sprintf("%s: gil_drop_requested %v, want unknown (%s analysis of %s)", where, *pt.GILDropRequested, analysis, interp.Name()))
			}
		}
		if pt.GILDropRequested != nil && !pt.HoldsGIL {
			errs = append(errs, fmt.Sprintf("%s: gil_drop_requested on a thread not holding the GIL", where))
		}
	}
	return errs
}

func boolPtr(p *bool) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatBool(*p)
}
