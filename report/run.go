package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/native"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
)

// maxStackFrames bounds the representative stack kept per group: a runaway
// recursion must not make a report of megabytes.
const maxStackFrames = 200

// Options say how to read the cores and how to group them.
type Options struct {
	Session   session.Options
	Signature SignatureOptions
	Jobs      int // cores analysed at once; runtime.NumCPU() if 0
	// Progress, if set, is called after each core with the counts so far.
	Progress func(done, total, unreadable int)
	// OnCore, if set, receives every core's result in input order, as soon as
	// it and all cores before it are done (for JSON lines). An error stops the run.
	OnCore func(*CoreResult) error
	// Baseline, if set, is an earlier report: groups not in it are marked New.
	Baseline *Report
	// Now stamps the report (time.Now if nil).
	Now func() time.Time
}

// ThreadInfo describes the thread a signature was taken from.
type ThreadInfo struct {
	ThreadID uint64  `json:"thread_id"`
	LWP      *int64  `json:"lwp"`
	Name     *string `json:"name"`
	Main     bool    `json:"main"`
	Crashed  bool    `json:"crashed"`
	HoldsGIL bool    `json:"holds_gil"`
	Depth    int     `json:"depth"` // frames in its whole stack
}

// String is a short description: "LWP 1234, main, crashed".
func (t *ThreadInfo) String() string {
	if t == nil {
		return "no thread"
	}
	var parts []string
	if t.LWP != nil {
		parts = append(parts, "LWP "+strconv.FormatInt(*t.LWP, 10))
	} else {
		parts = append(parts, fmt.Sprintf("thread %#x", t.ThreadID))
	}
	if t.Name != nil {
		parts = append(parts, strconv.Quote(*t.Name))
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{t.Main, "main"}, {t.Crashed, "crashed"}, {t.HoldsGIL, "holds GIL"}} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, ", ")
}

// StackFrame is one frame of a representative stack, as it is in the core.
type StackFrame struct {
	Function  string `json:"function"`
	Qualname  string `json:"qualname,omitempty"`
	File      string `json:"file"`
	Line      int    `json:"line"`
	Generator bool   `json:"generator,omitempty"`
}

// Name is the qualified name when the core has it, else the function name.
func (f StackFrame) Name() string {
	if f.Qualname != "" {
		return f.Qualname
	}
	return f.Function
}

// ExceptionInfo is the exception a signature thread was raising or, when it
// raised none, the innermost one it was handling (sys.exc_info()).
type ExceptionInfo struct {
	State   string `json:"state"` // "raised" or "handled"
	Type    string `json:"type"`  // as the traceback module names it
	Message string `json:"message,omitempty"`
}

// maxExcMessage bounds an exception message kept per core, in characters.
const maxExcMessage = 300

// String is the exception as Python's last traceback line, with its state:
// "ValueError: bad value (being handled)".
func (e *ExceptionInfo) String() string {
	s := e.Type
	if e.Message != "" {
		s += ": " + strings.ReplaceAll(e.Message, "\n", " ")
	}
	return s + " (being " + e.State + ")"
}

// exceptionOf picks t's exception for a report.
func exceptionOf(t *cpython.Thread) *ExceptionInfo {
	e, state := t.Exception, "raised"
	if e == nil && len(t.HandledExceptions) > 0 {
		e, state = t.HandledExceptions[0], "handled"
	}
	if e == nil || e.Type == "" {
		return nil
	}
	msg := e.Message
	if r := []rune(msg); len(r) > maxExcMessage {
		msg = string(r[:maxExcMessage]) + "..."
	}
	return &ExceptionInfo{State: state, Type: e.Type, Message: msg}
}

// ExceptionCount is how many cores of a group had an exception of a type.
type ExceptionCount struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// maxExcTypes bounds the exception types counted per group; the rest are
// counted together as otherExcTypes.
const (
	maxExcTypes   = 16
	otherExcTypes = "(other types)"
)

// CoreResult is what one file gave: a signature, or the reason it could not be
// read. It is one line of --format jsonl.
type CoreResult struct {
	Path      string         `json:"path"`
	Time      time.Time      `json:"time,omitzero"` // the file's modification time
	Size      int64          `json:"size"`
	Python    string         `json:"python,omitempty"`
	Signal    *render.Signal `json:"signal_info,omitempty"`
	Signature *Signature     `json:"signature,omitempty"`
	Thread    *ThreadInfo    `json:"thread,omitempty"`
	Exception *ExceptionInfo `json:"exception,omitempty"` // the signature thread's
	Notes     []string       `json:"notes,omitempty"`
	Error     string         `json:"error,omitempty"`

	stack        []StackFrame // the signature thread's stack, for group examples
	stackOmitted int
}

// Unreadable is a file that could not be analysed, and why.
type Unreadable struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Group is the cores that share a signature.
type Group struct {
	Rank      int       `json:"rank"` // 1 is the most frequent
	Count     int       `json:"count"`
	Signature Signature `json:"signature"`
	Versions  []string  `json:"python_versions"` // sorted by version
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	// Example is the group's newest core (by time, then path); Stack is the
	// whole stack (innermost first, at most 200 frames) of its signature thread.
	Example string `json:"example"`
	// Cores are the group's newest cores, newest first (by time, then path),
	// at most MaxGroupCores of its Count; the report's "cores" has them all.
	Cores        []string     `json:"cores,omitempty"`
	Thread       *ThreadInfo  `json:"thread"`
	Stack        []StackFrame `json:"stack"`
	StackOmitted int          `json:"stack_omitted,omitempty"` // outer frames left out
	// Exception is the example core's (see ExceptionInfo); Exceptions count
	// the exception types of all the group's cores, most frequent first.
	Exception  *ExceptionInfo   `json:"exception,omitempty"`
	Exceptions []ExceptionCount `json:"exceptions,omitempty"`
	// New is set when a baseline was given and has no group of this signature.
	New bool `json:"new,omitempty"`

	versions  map[string]bool
	excTypes  map[string]int
	exampleAt time.Time
	newest    []coreAt // Cores with their times, newest first
}

// MaxGroupCores bounds the cores a group lists: a group of a thousand cores
// names its ten newest and says how many more there are.
const MaxGroupCores = 10

type coreAt struct {
	path string
	at   time.Time
}

// newer orders cores as the example is chosen: later first, then by path.
func (c coreAt) newer(d coreAt) bool {
	return c.at.After(d.at) || c.at.Equal(d.at) && c.path < d.path
}

// keepNewest adds c to the group's newest cores, keeping at most MaxGroupCores.
func (g *Group) keepNewest(c coreAt) {
	i := sort.Search(len(g.newest), func(i int) bool { return c.newer(g.newest[i]) })
	if i >= MaxGroupCores {
		return
	}
	if len(g.newest) < MaxGroupCores {
		g.newest = append(g.newest, coreAt{})
	}
	copy(g.newest[i+1:], g.newest[i:])
	g.newest[i] = c
}

// MoreCores is how many of the group's cores Cores leaves out.
func (g *Group) MoreCores() int { return max(0, g.Count-len(g.Cores)) }

// CoreEntry places one readable core in its group.
type CoreEntry struct {
	Path   string    `json:"path"`
	Group  string    `json:"group"` // Signature.ID
	Python string    `json:"python"`
	Time   time.Time `json:"time,omitzero"`
}

// ReportFormat names the JSON document so a baseline can be recognised.
const ReportFormat = "pycore-report"

// ReportVersion changes when signatures stop being comparable with earlier reports.
const ReportVersion = 2

// Report is the result of a run.
type Report struct {
	Format         string       `json:"format"`
	Version        int          `json:"version"`
	Generated      time.Time    `json:"generated"`
	Rule           string       `json:"rule"`
	SignatureDepth int          `json:"signature_depth"`
	WithLines      bool         `json:"with_lines"`
	Total          int          `json:"total"` // files looked at
	Readable       int          `json:"readable"`
	Groups         []*Group     `json:"groups"`
	Unreadable     []Unreadable `json:"unreadable"`
	// Baseline is the earlier report's path when one was given; Gone are its
	// groups that no core of this run has.
	Baseline string      `json:"baseline,omitempty"`
	Gone     []*Group    `json:"gone,omitempty"`
	Cores    []CoreEntry `json:"cores"`
}

// NewCount is how many groups are new since the baseline.
func (r *Report) NewCount() int {
	n := 0
	for _, g := range r.Groups {
		if g.New {
			n++
		}
	}
	return n
}

// Analyze reads one core and computes its signature. It never panics and
// never fails: problems are in the result's Error.
func Analyze(path string, o Options) (r *CoreResult) {
	r = &CoreResult{Path: path}
	defer func() {
		if p := recover(); p != nil {
			r.Error = fmt.Sprintf("internal error (a bug in pycore, please report it): %v", p)
			r.Signature, r.Thread, r.stack = nil, nil, nil
		}
	}()
	fi, err := os.Stat(path)
	if err != nil {
		r.Error = reason(path, err)
		return r
	}
	r.Time, r.Size = fi.ModTime(), fi.Size()
	if !fi.Mode().IsRegular() {
		r.Error = fmt.Sprintf("not a regular file (%s)", core.FileKind(fi.Mode()))
		if fi.IsDir() {
			r.Error = "is a directory, not a core"
		}
		return r
	}
	s, closeSession, err := openSession(path, o.Session)
	if err != nil {
		r.Error = reason(path, err)
		return r
	}
	defer closeSession()
	snap, err := s.Python.Snapshot()
	if err != nil {
		r.Error = reason(path, err)
		return r
	}
	r.Python = snap.Python.Version
	r.Signal = render.SignalOf(snap.Signal)
	sig, t := SignatureOf(snap, o.Signature)
	// A crash in a C extension's code is grouped by that code, whichever
	// Python code called it.
	if frames, crash, lwp := native.CrashedThread(s.Core, s.Syms, snap); len(frames) > 0 {
		if nf := NativeSignatureOf(frames, crash, o.Signature); len(nf) > 0 {
			sig = newNativeSignature(sig.Signal, nf)
			t = nil
			for _, th := range snap.Threads {
				if th.LWP != nil && *th.LWP == int64(lwp) {
					t = th
				}
			}
			if t == nil {
				l := int64(lwp)
				r.Thread = &ThreadInfo{LWP: &l, Crashed: true}
			}
		}
	}
	r.Signature = &sig
	r.Notes = append(append(r.Notes, s.Core.WarningTexts()...), snap.Notes...)
	if t != nil {
		r.Thread = &ThreadInfo{ThreadID: t.ThreadID, LWP: t.LWP, Name: t.Name, Main: t.Main,
			Crashed: t.Crashed, HoldsGIL: t.HoldsGIL, Depth: len(t.Frames)}
		if t.Error != "" {
			r.Notes = append(r.Notes, "signature thread's stack incomplete: "+t.Error)
		}
		n := min(len(t.Frames), maxStackFrames)
		r.stack = make([]StackFrame, n)
		for i, f := range t.Frames[:n] {
			sf := StackFrame{Function: f.Function, File: f.File, Line: f.Line, Generator: f.Generator}
			if f.Qualname != nil {
				sf.Qualname = *f.Qualname
			}
			r.stack[i] = sf
		}
		r.stackOmitted = len(t.Frames) - n
		r.Exception = exceptionOf(t)
	}
	return r
}

// reason is err's text without the path it usually starts with (the report
// shows the path beside it).
func reason(path string, err error) string {
	msg := err.Error()
	for _, p := range []string{path + ": ", "open " + path + ": ", "stat " + path + ": ", "lstat " + path + ": "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// Run analyses every input and groups the cores. It returns early only when
// ctx is cancelled or OnCore fails; unreadable cores are part of the report.
func Run(ctx context.Context, inputs []Input, o Options) (*Report, error) {
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	jobs = min(jobs, max(len(inputs), 1))
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}

	type done struct {
		idx int
		res *CoreResult
	}
	work := make(chan int)
	results := make(chan done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				in := inputs[i]
				var r *CoreResult
				if in.Err != nil {
					r = &CoreResult{Path: in.Path, Error: reason(in.Path, in.Err)}
				} else {
					r = Analyze(in.Path, o)
				}
				select {
				case results <- done{i, r}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range inputs {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	agg := newAggregator(o)
	pending := map[int]*CoreResult{}
	next, finished, unreadable := 0, 0, 0
	var runErr error
	for d := range results {
		if runErr != nil {
			continue // drain so the workers can exit
		}
		finished++
		if d.res.Error != "" {
			unreadable++
		}
		if o.Progress != nil {
			o.Progress(finished, len(inputs), unreadable)
		}
		// Results are consumed in input order, so reports and JSON lines do
		// not depend on which worker was faster.
		pending[d.idx] = d.res
		for pending[next] != nil {
			r := pending[next]
			delete(pending, next)
			next++
			if o.OnCore != nil {
				if err := o.OnCore(r); err != nil {
					runErr = err
					cancel()
					break
				}
			}
			agg.add(r)
		}
	}
	if runErr != nil {
		return nil, runErr
	}
	if err := ctx.Err(); err != nil || next < len(inputs) {
		if err == nil {
			err = errors.New("report: not every core was analysed")
		}
		return nil, err
	}
	return agg.report(now()), nil
}

// aggregator folds core results into groups, keeping per core only what the
// report lists.
type aggregator struct {
	o      Options
	groups map[string]*Group
	rep    *Report
}

func newAggregator(o Options) *aggregator {
	depth := o.Signature.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	return &aggregator{o: o, groups: map[string]*Group{}, rep: &Report{
		Format: ReportFormat, Version: ReportVersion, Rule: Rule(o.Signature),
		SignatureDepth: depth, WithLines: o.Signature.WithLines,
		Groups: []*Group{}, Unreadable: []Unreadable{}, Cores: []CoreEntry{},
	}}
}

func (a *aggregator) add(r *CoreResult) {
	a.rep.Total++
	if r.Error != "" || r.Signature == nil {
		why := r.Error
		if why == "" {
			why = "no signature"
		}
		a.rep.Unreadable = append(a.rep.Unreadable, Unreadable{Path: r.Path, Reason: why})
		return
	}
	a.rep.Readable++
	sig := *r.Signature
	g := a.groups[sig.Text]
	if g == nil {
		g = &Group{Signature: sig, versions: map[string]bool{}, excTypes: map[string]int{}, First: r.Time, Last: r.Time}
		a.groups[sig.Text] = g
	}
	g.Count++
	if r.Python != "" {
		g.versions[r.Python] = true
	}
	if e := r.Exception; e != nil {
		if _, ok := g.excTypes[e.Type]; ok || len(g.excTypes) < maxExcTypes {
			g.excTypes[e.Type]++
		} else {
			g.excTypes[otherExcTypes]++
		}
	}
	if r.Time.Before(g.First) {
		g.First = r.Time
	}
	if r.Time.After(g.Last) {
		g.Last = r.Time
	}
	if g.Example == "" || r.Time.After(g.exampleAt) || r.Time.Equal(g.exampleAt) && r.Path < g.Example {
		g.Example, g.exampleAt, g.Thread, g.Stack, g.StackOmitted = r.Path, r.Time, r.Thread, r.stack, r.stackOmitted
		g.Exception = r.Exception
	}
	g.keepNewest(coreAt{r.Path, r.Time})
	a.rep.Cores = append(a.rep.Cores, CoreEntry{Path: r.Path, Group: sig.ID, Python: r.Python, Time: r.Time})
}

func (a *aggregator) report(now time.Time) *Report {
	rep := a.rep
	rep.Generated = now
	for _, g := range a.groups {
		for v := range g.versions {
			g.Versions = append(g.Versions, v)
		}
		sort.Slice(g.Versions, func(i, j int) bool { return versionLess(g.Versions[i], g.Versions[j]) })
		for t, n := range g.excTypes {
			g.Exceptions = append(g.Exceptions, ExceptionCount{Type: t, Count: n})
		}
		sort.Slice(g.Exceptions, func(i, j int) bool {
			a, b := g.Exceptions[i], g.Exceptions[j]
			if a.Count != b.Count {
				return a.Count > b.Count
			}
			return a.Type < b.Type
		})
		if g.Stack == nil {
			g.Stack = []StackFrame{}
		}
		g.Cores = make([]string, len(g.newest))
		for i, c := range g.newest {
			g.Cores[i] = c.path
		}
		rep.Groups = append(rep.Groups, g)
	}
	sort.Slice(rep.Groups, func(i, j int) bool {
		gi, gj := rep.Groups[i], rep.Groups[j]
		if gi.Count != gj.Count {
			return gi.Count > gj.Count
		}
		return gi.Signature.Text < gj.Signature.Text
	})
	for i, g := range rep.Groups {
		g.Rank = i + 1
	}
	if a.o.Baseline != nil {
		markNew(rep, a.o.Baseline)
	}
	return rep
}

// versionLess orders "3.9.18" before "3.10.13"; non-numeric parts compare as text.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, errx := strconv.Atoi(pa[i])
		y, erry := strconv.Atoi(pb[i])
		if errx == nil && erry == nil {
			if x != y {
				return x < y
			}
			continue
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}
