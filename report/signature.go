package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/native"
)

// DefaultDepth is how many of the signature thread's innermost Python frames a
// signature holds unless --signature-depth says otherwise.
const DefaultDepth = 5

// Basis says which thread a signature's frames come from.
type Basis string

// The thread a signature is taken from, in the order the rule tries them.
const (
	BasisCrashed  Basis = "crashed thread"   // the thread the fatal signal was delivered to
	BasisGIL      Basis = "GIL holder"       // no Python thread crashed (a hang dump)
	BasisMain     Basis = "main thread"      // nobody holds the GIL either
	BasisFirst    Basis = "first thread"     // no thread is known to be the main one
	BasisNoThread Basis = "no Python thread" // the interpreter has no thread states
)

// SigFrame is one frame of a signature: a file named so that the same code has
// the same name on every machine and Python version, and a function name.
type SigFrame struct {
	File     string `json:"file"`
	Function string `json:"function"`
	Line     int    `json:"line,omitempty"` // only with --with-lines
}

func (f SigFrame) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line)
	}
	return fmt.Sprintf("%s (%s)", f.Function, f.File)
}

// NativeSigFrame is one native frame of a signature: the module's base name
// and the symbol, so that it does not change with ASLR or the install path.
type NativeSigFrame struct {
	Module   string `json:"module"`             // "libnat.so"
	Function string `json:"function,omitempty"` // "" when no symbol covers the pc
	// ModuleOffset is the pc as a link-time offset of the module, only for a
	// frame without a symbol.
	ModuleOffset *uint64 `json:"module_offset,omitempty"`
	File         string  `json:"file,omitempty"` // DWARF source file's base name, only with --with-lines
	Line         int     `json:"line,omitempty"`
}

func (f NativeSigFrame) String() string {
	var s string
	switch {
	case f.Function != "":
		s = fmt.Sprintf("%s (%s", f.Function, f.Module)
	case f.ModuleOffset != nil:
		s = fmt.Sprintf("?? (%s+%#x", f.Module, *f.ModuleOffset)
	default:
		s = "?? (" + f.Module
	}
	if f.Line > 0 {
		s += fmt.Sprintf(", %s:%d", f.File, f.Line)
	}
	return s + ")"
}

// Signature identifies a crash: cores with equal signatures are one group.
type Signature struct {
	// Signal is the fatal signal's name ("SIGSEGV"), or "" when the core was
	// not made by one (gcore of a live process, whose SIGSTOP is not fatal).
	Signal string `json:"signal"`
	// DumpRequest: the signal was sent from outside (kill -ABRT PID, a
	// terminal's Ctrl-\\), not a crash; such cores group apart from crashes.
	DumpRequest bool       `json:"dump_request,omitempty"`
	Basis       Basis      `json:"basis"`
	Frames      []SigFrame `json:"frames"` // innermost first; empty when Native is set
	// Native, when the crash happened in a C extension's (or another
	// library's) code, is that code's innermost frames, innermost first:
	// the signature is then these, not the Python frames that called it.
	Native []NativeSigFrame `json:"native,omitempty"`
	// Text is the canonical one-line form, the grouping key; ID a short hash of it.
	Text string `json:"text"`
	ID   string `json:"id"`
}

// SignalText is the signal as shown: its name, "dump request (SIGABRT)"
// for one sent from outside, or "no signal".
func (s Signature) SignalText() string {
	switch {
	case s.Signal == "":
		return "no signal"
	case s.DumpRequest:
		return "dump request (" + s.Signal + ")"
	}
	return s.Signal
}

// Head is the signature without its frames: "SIGSEGV, crashed thread", with
// ", in native code" for a native signature.
func (s Signature) Head() string {
	if len(s.Native) > 0 {
		return fmt.Sprintf("%s, %s, in native code", s.SignalText(), s.Basis)
	}
	return fmt.Sprintf("%s, %s", s.SignalText(), s.Basis)
}

// FrameTexts is the signature's frames innermost first, as text.
func (s Signature) FrameTexts() []string {
	var parts []string
	for _, f := range s.Native {
		parts = append(parts, f.String())
	}
	if len(s.Native) == 0 {
		for _, f := range s.Frames {
			parts = append(parts, f.String())
		}
	}
	return parts
}

// FramesText is the frames innermost first, joined by " ← " (called from).
func (s Signature) FramesText() string {
	parts := s.FrameTexts()
	if len(parts) == 0 {
		return "(no Python frames)"
	}
	return strings.Join(parts, " ← ")
}

func newSignature(signal string, request bool, basis Basis, frames []SigFrame) Signature {
	s := Signature{Signal: signal, DumpRequest: request, Basis: basis, Frames: frames}
	return s.seal()
}

// newNativeSignature is the signature of a crash in native code.
func newNativeSignature(signal string, frames []NativeSigFrame) Signature {
	s := Signature{Signal: signal, Basis: BasisCrashed, Native: frames}
	return s.seal()
}

func (s Signature) seal() Signature {
	if s.Frames == nil {
		s.Frames = []SigFrame{}
	}
	s.Text = s.Head() + ": " + s.FramesText()
	sum := sha256.Sum256([]byte(s.Text))
	s.ID = hex.EncodeToString(sum[:6])
	return s
}

// NativeSignatureOf is the native part of a crash's signature: starting at
// the frame the fatal signal interrupted (crash, an index into frames,
// innermost first) and going outward until the first activation of the eval
// loop (the innermost Python frame's call into C), the innermost o.Depth
// frames that are foreign (native.Frame.Foreign: neither the C runtime's nor
// the interpreter's). Nil when there are none: the crash is then Python's to
// describe.
func NativeSignatureOf(frames []native.Frame, crash int, o SignatureOptions) []NativeSigFrame {
	depth := o.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	var out []NativeSigFrame
	for i := max(crash, 0); i < len(frames) && len(out) < depth; i++ {
		f := &frames[i]
		if f.IsEval() {
			break
		}
		if f.Signal || !f.Foreign() {
			continue
		}
		sf := NativeSigFrame{Module: filepath.Base(f.Module), Function: BaseSymbol(f.Function)}
		if sf.Function == "" {
			off := f.ModuleOffset
			sf.ModuleOffset = &off
		}
		if o.WithLines && f.File != "" {
			sf.File, sf.Line = filepath.Base(f.File), f.Line
		}
		out = append(out, sf)
	}
	return out
}

// SignatureOptions say how much of a stack goes into a signature.
type SignatureOptions struct {
	Depth     int  // innermost frames kept (DefaultDepth if 0)
	WithLines bool // keep line numbers (splits groups across Python versions)
}

// SignatureOf computes the signature of a snapshot and returns the thread it was
// taken from (nil when the interpreter has no threads). The rule is Rule.
func SignatureOf(s *cpython.Snapshot, o SignatureOptions) (Signature, *cpython.Thread) {
	depth := o.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	signal, request := "", false
	if si := s.Signal; si != nil && (si.Fatal || si.Cause == string(core.CauseSent)) {
		signal, request = si.Name, !si.Fatal
	}
	t, basis := signatureThread(s.Threads)
	if t == nil {
		return newSignature(signal, request, basis, nil), nil
	}
	var frames []SigFrame
	for i := 0; i < len(t.Frames) && i < depth; i++ {
		f := t.Frames[i]
		sf := SigFrame{File: ModulePath(f.File), Function: f.Function}
		if o.WithLines {
			sf.Line = f.Line
		}
		frames = append(frames, sf)
	}
	return newSignature(signal, request, basis, frames), t
}

// signatureThread picks the thread whose stack identifies the core.
func signatureThread(threads []*cpython.Thread) (*cpython.Thread, Basis) {
	for _, want := range []struct {
		basis Basis
		is    func(*cpython.Thread) bool
	}{
		{BasisCrashed, func(t *cpython.Thread) bool { return t.Crashed }},
		{BasisGIL, func(t *cpython.Thread) bool { return t.HoldsGIL }},
		{BasisMain, func(t *cpython.Thread) bool { return t.Main }},
	} {
		for _, t := range threads {
			if want.is(t) {
				return t, want.basis
			}
		}
	}
	if len(threads) > 0 {
		return threads[0], BasisFirst
	}
	return nil, BasisNoThread
}

// libPrefix matches the part of a path up to the standard library directory:
// ".../lib/python3.12/", ".../lib/python3.13t/", ".../lib/python312.zip/".
var libPrefix = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^.*/lib(?:64)?/python[0-9]+(?:\.[0-9]+)?t?(?:\.zip)?/`)
})

// ModulePath names a source file the same way on every machine and Python
// version: the path below site-packages/ or dist-packages/ for installed
// packages, below lib/pythonX.Y/ for the standard library ("ctypes/__init__.py"),
// else the file name, with its directory kept for a package's __init__.py and
// __main__.py. Names that are not paths ("<frozen runpy>", "<string>") stay.
func ModulePath(file string) string {
	if !strings.Contains(file, "/") {
		return file
	}
	for _, dir := range []string{"/site-packages/", "/dist-packages/"} {
		if i := strings.LastIndex(file, dir); i >= 0 && i+len(dir) < len(file) {
			return file[i+len(dir):]
		}
	}
	if m := libPrefix().FindStringIndex(file); m != nil && m[1] < len(file) {
		return file[m[1]:]
	}
	parts := strings.Split(strings.TrimRight(file, "/"), "/")
	base := parts[len(parts)-1]
	if (base == "__init__.py" || base == "__main__.py") && len(parts) >= 2 && parts[len(parts)-2] != "" {
		return parts[len(parts)-2] + "/" + base
	}
	return base
}

// cloneSuffixes start the part of a symbol that names a compiler's copy of a
// function (GCC's hot/cold split, partial inlining, IPA clones; LLVM's): the
// same source function, under a name that changes with compiler versions and
// flags.
var cloneSuffixes = []string{".cold", ".part.", ".isra.", ".constprop.", ".lto_priv.", ".llvm.", ".clone.", ".localalias"}

// BaseSymbol is a symbol without its compiler clone suffix:
// "nat_check_fail.cold" and "f.constprop.0" are "nat_check_fail" and "f".
func BaseSymbol(sym string) string {
	cut := len(sym)
	for _, suf := range cloneSuffixes {
		if i := strings.Index(sym, suf); i > 0 && i < cut {
			cut = i
		}
	}
	return sym[:cut]
}
