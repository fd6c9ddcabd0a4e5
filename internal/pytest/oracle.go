package pytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// Oracle is what a scenario program recorded about itself just before its core was taken
// (testdata/scenarios/pycore_oracle.py writes it).
type Oracle struct {
	Version  string `json:"version"`  // sys.version_info as "3.12.1"
	PID      int    `json:"pid"`      // os.getpid()
	Crashed  uint64 `json:"crashed"`  // threading.get_ident() of the thread that crashed, 0 for none
	Mode     string `json:"mode"`     // "abort" (the program kills itself) or "wait" (gcore)
	Signal   int    `json:"signal"`   // the signal that ends the process: 6 SIGABRT, 11 SIGSEGV, 0 for gcore
	Scenario string `json:"scenario"` // the scenario file name, "stacks.py"
	// Finalizing: the core is made while the interpreter shuts down (finalizing.py).
	Finalizing bool           `json:"finalizing"`
	Threads    []OracleThread `json:"threads"` // in threading.enumerate() order
	Process    OracleProcess  `json:"process"`
}

// OracleProcess is what the process said about itself (os and sys).
type OracleProcess struct {
	PID        int      `json:"pid"`  // os.getpid()
	PPID       int      `json:"ppid"` // os.getppid()
	UID        int      `json:"uid"`  // os.getuid()
	GID        int      `json:"gid"`  // os.getgid()
	Executable string   `json:"executable"`
	Argv       []string `json:"argv"`      // sys.argv
	OrigArgv   []string `json:"orig_argv"` // sys.orig_argv (3.10+), nil before
}

// OracleThread is one Python thread of an oracle.
type OracleThread struct {
	Ident    uint64        `json:"ident"`     // threading.get_ident()
	NativeID int64         `json:"native_id"` // threading.get_native_id() (3.8+), 0 if unknown
	Name     string        `json:"name"`      // threading name
	Main     bool          `json:"main"`
	HoldsGIL bool          `json:"holds_gil"` // as far as the scenario knows (the thread that aborts / crashes holds it)
	Interp   int64         `json:"interp"`    // the interpreter's id: 0 for the main one
	Frames   []OracleFrame `json:"frames"`    // innermost first
	// FormatStack is what traceback.format_stack() printed of the thread's stack, one
	// entry per frame or "[Previous line repeated ...]" line, outermost first; nil for
	// the thread that made the core (its stack moved on) and threads of subinterpreters.
	FormatStack []string `json:"format_stack"`
}

// OracleFrame is one Python frame: code object file and names, current line.
type OracleFrame struct {
	File     string `json:"file"`     // co_filename
	Function string `json:"function"` // co_name
	Qualname string `json:"qualname"` // co_qualname, "" before 3.11
	Line     int    `json:"line"`
	Kind     string `json:"kind"` // "generator", "coroutine", "async generator" or "" (from co_flags)
}

func (f OracleFrame) String() string {
	name := f.Function
	if f.Qualname != "" {
		name = f.Qualname
	}
	return fmt.Sprintf("%s (%s:%d)", name, f.File, f.Line)
}

// maxOracleSize bounds what ReadOracle reads: 100 threads of 400 frames are ~10 MB.
const maxOracleSize = 64 << 20

// ReadOracle reads and checks an oracle JSON file.
func ReadOracle(path string) (*Oracle, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	if fi.Size() > maxOracleSize {
		return nil, fmt.Errorf("oracle %s: %d bytes, more than the %d an oracle can be", path, fi.Size(), maxOracleSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	var o Oracle
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("oracle %s: %w", path, err)
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("oracle %s: %w", path, err)
	}
	return &o, nil
}

// Validate checks the oracle's internal consistency.
func (o *Oracle) Validate() error {
	if minorOf(o.Version) == "" {
		return fmt.Errorf("version %q is not X.Y.Z", o.Version)
	}
	if o.PID <= 0 {
		return fmt.Errorf("pid %d", o.PID)
	}
	if len(o.Threads) == 0 {
		return errors.New("no threads")
	}
	mains, holders := 0, 0
	// A thread running code in a subinterpreter has one thread state per interpreter.
	type key struct {
		interp int64
		ident  uint64
	}
	seen := map[key]bool{}
	for n, t := range o.Threads {
		if t.Ident == 0 {
			return fmt.Errorf("thread %d (%q): ident 0", n, t.Name)
		}
		k := key{t.Interp, t.Ident}
		if seen[k] {
			return fmt.Errorf("thread %d (%q): ident %#x listed twice in interpreter %d", n, t.Name, t.Ident, t.Interp)
		}
		seen[k] = true
		if t.Main {
			mains++
		}
		if t.HoldsGIL {
			holders++
		}
		if len(t.Frames) == 0 {
			return fmt.Errorf("thread %#x (%q): no frames", t.Ident, t.Name)
		}
		for k, f := range t.Frames {
			if f.File == "" || f.Function == "" || f.Line <= 0 {
				return fmt.Errorf("thread %#x (%q) frame %d: incomplete %+v", t.Ident, t.Name, k, f)
			}
		}
	}
	if mains != 1 {
		return fmt.Errorf("%d main threads, want 1", mains)
	}
	if holders > 1 {
		return fmt.Errorf("%d threads hold the GIL", holders)
	}
	if o.Crashed != 0 && !seen[key{0, o.Crashed}] {
		return fmt.Errorf("crashed thread %#x is not among the threads", o.Crashed)
	}
	return nil
}

// Thread returns the thread with ident, or nil.
func (o *Oracle) Thread(ident uint64) *OracleThread {
	for n := range o.Threads {
		if o.Threads[n].Ident == ident {
			return &o.Threads[n]
		}
	}
	return nil
}

// ThreadNamed returns the first thread called name, or nil.
func (o *Oracle) ThreadNamed(name string) *OracleThread {
	for n := range o.Threads {
		if o.Threads[n].Name == name {
			return &o.Threads[n]
		}
	}
	return nil
}

// MainThread returns the main thread (Validate guarantees there is one).
func (o *Oracle) MainThread() *OracleThread {
	for n := range o.Threads {
		if o.Threads[n].Main {
			return &o.Threads[n]
		}
	}
	return nil
}

// CrashedThread returns the thread that crashed, nil for none.
func (o *Oracle) CrashedThread() *OracleThread {
	if o.Crashed == 0 {
		return nil
	}
	return o.Thread(o.Crashed)
}

// GILHolder returns the thread that holds the GIL as far as the scenario knows, nil for none.
func (o *Oracle) GILHolder() *OracleThread {
	for n := range o.Threads {
		if o.Threads[n].HoldsGIL {
			return &o.Threads[n]
		}
	}
	return nil
}
