package session

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/query"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// OpenAny opens a core like Open, but a core without CPython (or whose
// runtime cannot be read) still opens for expressions over its symbols and
// debug info: then Python is nil and pythonErr says why.
func OpenAny(path string, opts Options) (s *Session, pythonErr error, err error) {
	c, err := openCore(path, opts)
	if err != nil {
		return nil, nil, err
	}
	if opts.Executable != "" {
		if err := checkExecutableUsed(c, opts.Executable); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	s = &Session{Core: c}
	if s.Syms, err = symbols.Load(c, symbols.Options{DebugDirs: opts.DebugDirs, Debuginfod: opts.Debuginfod}); err != nil {
		c.Close()
		return nil, nil, truncated(c, fmt.Errorf("%s: %w", path, err))
	}
	if s.Python, pythonErr = cpython.Open(c, s.Syms, cpython.Options{Types: opts.Types}); pythonErr != nil {
		s.Python = nil
		pythonErr = truncated(c, pythonErr)
	}
	return s, pythonErr, nil
}

// Query evaluates expressions over a session: every symbol and DWARF
// variable of the process's files is a root, typed by debug info where there
// is some, and CPython adds the roots runtime, interp, tstate and frame and
// the built-ins pyobj, repr and pystr.
type Query struct {
	S *Session
	// PythonErr says why there are no CPython roots, when S.Python is nil.
	PythonErr error
	// Types is where CPython's structs come from, as asked on the command
	// line: with "builtin", synthesized layouts win over DWARF.
	Types cpython.TypesMode

	env  *query.Env
	mods []*moduleDWARF

	snapOnce sync.Once
	snap     *cpython.Snapshot
	snapErr  error

	namesOnce sync.Once
	names     []string

	native nativeStacks // for native_frames()
}

// moduleDWARF is one module's debug info, opened on first use.
type moduleDWARF struct {
	m       *symbols.Module
	ptrSize int
	once    sync.Once
	dt      *typesys.DWARFTypes
	err     error
}

func (md *moduleDWARF) types() (*typesys.DWARFTypes, error) {
	md.once.Do(func() {
		if !md.m.HasDWARF() {
			md.err = fmt.Errorf("%s has no debug info", md.m.Path)
			return
		}
		d, err := md.m.DWARF()
		if err != nil {
			md.err = err
			return
		}
		src := md.m.Path
		if f := md.m.DebugFile(); f != "" {
			src = f
		}
		md.dt = typesys.NewDWARFTypes(d, md.ptrSize, src).WithSections(moduleSections(md.m))
	})
	return md.dt, md.err
}

// moduleSections are the raw DWARF sections of m, which let the types' name
// index be built without debug/dwarf's Reader.
func moduleSections(m *symbols.Module) typesys.Sections {
	return typesys.Sections{Info: m.DWARFSection("info"), Abbrev: m.DWARFSection("abbrev"),
		Str: m.DWARFSection("str"), LineStr: m.DWARFSection("line_str"), StrOffsets: m.DWARFSection("str_offsets")}
}

// NewQuery prepares expression evaluation over s.
func NewQuery(s *Session, types cpython.TypesMode, pythonErr error) *Query {
	q := &Query{S: s, PythonErr: pythonErr, Types: types}
	// Debug info is searched in the interpreter's module first, then the
	// executable, then the rest in address order.
	var first []*symbols.Module
	if s.Python != nil && s.Python.Module != nil {
		first = append(first, s.Python.Module)
	}
	for _, m := range s.Syms.Modules {
		if m.Object != nil && len(s.Core.Objects) > 0 && m.Object == s.Core.Objects[0] {
			first = append(first, m)
		}
	}
	seen := map[*symbols.Module]bool{}
	for _, m := range append(first, s.Syms.Modules...) {
		if !seen[m] && m.ELF != nil {
			seen[m] = true
			q.mods = append(q.mods, &moduleDWARF{m: m, ptrSize: s.Core.PtrSize})
		}
	}
	q.env = &query.Env{
		Mem:        s.Core.Reader(),
		LookupRoot: q.lookupRoot,
		LookupType: q.lookupType,
		RootNames:  q.rootNames,
		Builtins:   q.builtins(),
	}
	return q
}

// Env is the expression environment.
func (q *Query) Env() *query.Env { return q.env }

// Eval evaluates one expression.
func (q *Query) Eval(src string) (query.Result, error) { return q.env.Eval(src) }

// FormatOptions are typesys.DefaultFormat with pointers named by symbol and,
// in a CPython process, Python objects shown as repr() shows them.
func (q *Query) FormatOptions() typesys.FormatOptions {
	o := typesys.DefaultFormat()
	o.Symbolize = q.Symbolize
	if q.S.Python != nil {
		o.Annotate = q.annotate
	}
	return o
}

var pyObjectName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(Py\w*Object|struct _\w*object)$`) })

// isPyObjectType reports whether t (or a typedef it goes through) is one of
// CPython's object structs: PyObject, PyCodeObject, struct _typeobject, ...
func isPyObjectType(t *typesys.Type) bool {
	for i := 0; t != nil && i < 16; i++ {
		if pyObjectName().MatchString(t.Name) {
			return true
		}
		if t.Kind != typesys.Typedef {
			return false
		}
		t = t.Elem
	}
	return false
}

// annotateRepr keeps the repr printed beside a pointer short.
var annotateRepr = cpython.ReprOptions{MaxDepth: 1, MaxLength: 4, MaxString: 40, MaxTotal: 80}

// annotate shows the Python object a PyObject pointer (or struct) is.
func (q *Query) annotate(v typesys.Value) string {
	r := v.Type.Resolve()
	if r == nil {
		return ""
	}
	var addr core.Address
	switch {
	case r.Kind == typesys.Pointer && isPyObjectType(r.Elem):
		p, err := v.Ptr()
		if err != nil || p == 0 {
			return ""
		}
		addr = p
	case (r.Kind == typesys.Struct || r.Kind == typesys.Union) && v.InMemory && isPyObjectType(v.Type):
		addr = v.Addr
	default:
		return ""
	}
	s, err := q.S.Python.Repr(addr, annotateRepr)
	if err != nil {
		return ""
	}
	return "-> " + s
}

// Symbolize names an address by the symbol that contains it: "PyLong_Type",
// "main+0x10", or "" if no symbol does.
func (q *Query) Symbolize(a core.Address) string {
	s, off, ok := q.S.Syms.Symbolize(a)
	if !ok {
		return ""
	}
	if off == 0 {
		return s.Name
	}
	return fmt.Sprintf("%s+%#x", s.Name, off)
}

// ConvenienceNames are the CPython roots, documented for eval --help.
var ConvenienceNames = []struct{ Name, Doc string }{
	{"runtime", "_PyRuntime, the CPython runtime state (_PyRuntimeState)"},
	{"interp", "the main interpreter (runtime.interpreters.head, PyInterpreterState *)"},
	{"tstate", "the thread state of the thread that crashed, else of the main thread (PyThreadState *)"},
	{"frame", "that thread's innermost Python frame (_PyInterpreterFrame * on 3.11+, PyFrameObject * before)"},
}

func (q *Query) lookupRoot(name string) (typesys.Value, error) {
	switch name {
	case "runtime", "interp", "tstate", "frame":
		if q.S.Python == nil {
			why := "no CPython runtime was found"
			if q.PythonErr != nil {
				why = q.PythonErr.Error()
			}
			return typesys.Value{}, fmt.Errorf("'%s' needs CPython: %s", name, why)
		}
		return q.convenience(name)
	}
	return q.symbolRoot(name)
}

// pyStruct finds one of CPython's structs the way the session was asked to:
// debug info first, unless --types builtin.
func (q *Query) pyStruct(name string) (*typesys.Type, error) {
	if q.S.Python == nil {
		return q.lookupType(name)
	}
	if q.Types != cpython.TypesBuiltin {
		if t, err := q.dwarfType(name); err == nil {
			return t, nil
		}
	}
	return q.S.Python.Types.Struct(name)
}

func (q *Query) runtimeValue() (typesys.Value, error) {
	p := q.S.Python
	if q.Types != cpython.TypesBuiltin {
		if t, err := q.dwarfType("_PyRuntimeState"); err == nil && t.Resolve().Size > 0 {
			return typesys.At(p.R, t, p.RuntimeAddr), nil
		}
	}
	return p.Runtime, nil
}

func (q *Query) convenience(name string) (typesys.Value, error) {
	p := q.S.Python
	rt, err := q.runtimeValue()
	if err != nil {
		return typesys.Value{}, err
	}
	switch name {
	case "runtime":
		return rt, nil
	case "interp":
		return rt.Path("interpreters.head")
	}
	th, err := q.thread()
	if err != nil {
		return typesys.Value{}, err
	}
	tsT, err := q.pyStruct("PyThreadState")
	if err != nil {
		return typesys.Value{}, err
	}
	ptrSize := int64(p.R.PtrSize)
	ts := typesys.FromUint(p.R, typesys.PointerTo(tsT, ptrSize), uint64(th.TState))
	if name == "tstate" {
		return ts, nil
	}
	if len(th.Frames) == 0 {
		return typesys.Value{}, fmt.Errorf("thread %#x has no Python frames", th.ThreadID)
	}
	// The frame's type is whatever the thread state points to its frames with.
	for _, path := range []string{"current_frame", "cframe.current_frame", "frame"} {
		if f, err := ts.Path(path); err == nil {
			if r := f.Type.Resolve(); r != nil && r.Kind == typesys.Pointer {
				return typesys.FromUint(p.R, f.Type, uint64(th.Frames[0].Address)), nil
			}
		}
	}
	t, err := q.pyStruct(p.Flavor().FrameStruct)
	if err != nil {
		return typesys.Value{}, err
	}
	return typesys.FromUint(p.R, typesys.PointerTo(t, ptrSize), uint64(th.Frames[0].Address)), nil
}

// thread is the thread tstate and frame describe: the one that crashed,
// else the main thread, else the first.
func (q *Query) thread() (*cpython.Thread, error) {
	q.snapOnce.Do(func() { q.snap, q.snapErr = q.S.Python.Snapshot() })
	if q.snapErr != nil {
		return nil, q.snapErr
	}
	if len(q.snap.Threads) == 0 {
		return nil, errors.New("the interpreter has no threads")
	}
	for _, t := range q.snap.Threads {
		if t.Crashed {
			return t, nil
		}
	}
	for _, t := range q.snap.Threads {
		if t.Main {
			return t, nil
		}
	}
	return q.snap.Threads[0], nil
}

// Untyped symbols: what a symbol is without debug info.
var (
	untypedData = &typesys.Type{Kind: typesys.Void, Name: "<data variable, no debug info>"}
	untypedText = &typesys.Type{Kind: typesys.Func, Name: "<text variable, no debug info>"}
)

// symbolRoot is a variable or symbol by name: typed by DWARF where a module
// has debug info for it, by CPython's layouts for the runtime and type
// objects, untyped otherwise.
func (q *Query) symbolRoot(name string) (typesys.Value, error) {
	r := q.S.Core.Reader()
	sym, hasSym := q.S.Syms.Lookup(name)
	if p := q.S.Python; p != nil && (q.Types == cpython.TypesBuiltin || !q.hasDWARFFor(sym, hasSym)) {
		if v, ok := q.pythonTyped(name, sym, hasSym); ok {
			return v, nil
		}
	}
	// Debug info: the module defining the symbol first, then all of them.
	var tlsErr error
	tryModule := func(md *moduleDWARF) (typesys.Value, bool) {
		dt, err := md.types()
		if err != nil {
			return typesys.Value{}, false
		}
		v, err := dt.Variable(name)
		if err != nil {
			return typesys.Value{}, false
		}
		switch {
		case v.ThreadLocal:
			tlsErr = fmt.Errorf("'%s' is thread-local: each thread has its own copy, which pycore cannot locate yet", name)
			return typesys.Value{}, false
		case v.HasAddr:
			return typesys.At(r, v.Type, core.Address(v.Addr+md.m.Bias)), true
		case hasSym && sym.Module == md.m:
			return typesys.At(r, v.Type, sym.Addr), true
		}
		return typesys.Value{}, false
	}
	if hasSym {
		for _, md := range q.mods {
			if md.m == sym.Module {
				if v, ok := tryModule(md); ok {
					return v, nil
				}
			}
		}
	}
	if !hasSym {
		for _, md := range q.mods {
			if v, ok := tryModule(md); ok {
				return v, nil
			}
		}
	}
	if tlsErr != nil {
		return typesys.Value{}, tlsErr
	}
	if !hasSym {
		return typesys.Value{}, fmt.Errorf("no symbol or variable '%s': %w", name, query.ErrNotFound)
	}
	if q.S.Python != nil {
		if v, ok := q.pythonTyped(name, sym, hasSym); ok {
			return v, nil
		}
	}
	if sym.Func {
		return typesys.At(r, untypedText, sym.Addr), nil
	}
	t := untypedData
	if sym.Size > 0 {
		t = &typesys.Type{Kind: typesys.Void, Name: untypedData.Name, Size: int64(sym.Size)}
	}
	return typesys.At(r, t, sym.Addr), nil
}

// hasDWARFFor reports whether the module defining sym has debug info.
func (q *Query) hasDWARFFor(sym symbols.Symbol, ok bool) bool {
	if !ok {
		return false
	}
	for _, md := range q.mods {
		if md.m == sym.Module {
			_, err := md.types()
			return err == nil
		}
	}
	return false
}

// pythonTyped types the symbols CPython's layouts know without debug info:
// _PyRuntime, and type objects (PyLong_Type, ...).
func (q *Query) pythonTyped(name string, sym symbols.Symbol, hasSym bool) (typesys.Value, bool) {
	p := q.S.Python
	if name == "_PyRuntime" && (!hasSym || sym.Addr == p.RuntimeAddr) {
		return p.Runtime, true
	}
	if hasSym && !sym.Func && strings.HasSuffix(name, "_Type") {
		if t, err := p.Types.Struct("PyTypeObject"); err == nil {
			return typesys.At(p.R, t, sym.Addr), true
		}
	}
	return typesys.Value{}, false
}

func (q *Query) dwarfType(name string) (*typesys.Type, error) {
	var firstErr error
	for _, md := range q.mods {
		dt, err := md.types()
		if err != nil {
			continue
		}
		t, err := dt.Lookup(name)
		if err == nil {
			return t, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = errors.New("no debug info")
	}
	return nil, fmt.Errorf("%v: %w", firstErr, query.ErrNotFound)
}

func (q *Query) lookupType(name string) (*typesys.Type, error) {
	p := q.S.Python
	if p != nil && q.Types == cpython.TypesBuiltin {
		if t, err := p.Types.Struct(name); err == nil {
			return t, nil
		}
	}
	if t, err := q.dwarfType(name); err == nil {
		return t, nil
	}
	if p != nil {
		if t, err := p.Types.Struct(name); err == nil {
			return t, nil
		}
	}
	return nil, fmt.Errorf("no type '%s' in the debug info or CPython's layouts: %w", name, query.ErrNotFound)
}

// rootNames lists every name an expression can start with, for suggestions
// and completion: the convenience roots, symbols and DWARF variables found.
func (q *Query) rootNames() []string {
	q.namesOnce.Do(func() {
		set := map[string]bool{}
		if q.S.Python != nil {
			for _, c := range ConvenienceNames {
				set[c.Name] = true
			}
		}
		for _, m := range q.S.Syms.Modules {
			for _, s := range m.Symbols() {
				if s.Name != "" {
					set[s.Name] = true
				}
			}
		}
		for _, md := range q.mods {
			if md.dt != nil {
				for _, n := range md.dt.VariableNames() {
					set[n] = true
				}
			}
		}
		q.names = make([]string, 0, len(set))
		for n := range set {
			q.names = append(q.names, n)
		}
		sort.Strings(q.names)
	})
	return q.names
}

// builtins are the CPython built-ins (pyobj, repr, pystr).
func (q *Query) builtins() map[string]*query.Builtin {
	m := map[string]*query.Builtin{}
	for _, b := range pythonBuiltins(q) {
		m[b.Name] = b
	}
	return m
}

// PythonBuiltinDocs lists the CPython built-ins, for help texts.
func PythonBuiltinDocs() []*query.Builtin { return pythonBuiltins(nil) }

// maxPystr bounds pystr(x, n).
const maxPystr = 1 << 20

// objects(T, n) lists defaultObjects unless asked, maxObjects at most.
const (
	defaultObjects = 1000
	maxObjects     = 1 << 20
)

func pythonBuiltins(q *Query) []*query.Builtin {
	return []*query.Builtin{
		{
			Name: "pyobj", Usage: "pyobj(x)",
			Doc:  "The Python object at x (a PyObject * or any pointer or address) as repr() shows it; with --json also its value as data.",
			Args: []query.ArgKind{query.ArgValue}, Fn: q.pyobj,
		},
		{
			Name: "repr", Usage: "repr(x)",
			Doc:  "The same text as pyobj(x).",
			Args: []query.ArgKind{query.ArgValue}, Fn: q.repr,
		},
		{
			Name: "objects", Usage: `objects("TYPE" [, max])`,
			Doc:  fmt.Sprintf("The live Python objects of type TYPE, named as pycore heap names it (\"str\", \"__main__.Node\"), as PyObject * values in address order, at most max (default %d, limit %d).", defaultObjects, maxObjects),
			Args: []query.ArgKind{query.ArgValue, query.ArgValue}, Optional: 1, Fn: q.objects,
		},
		{
			Name: "pystr", Usage: "pystr(x [, max])",
			Doc:  fmt.Sprintf("The text of the Python str object at x, at most max characters (default 4096, limit %d).", maxPystr),
			Args: []query.ArgKind{query.ArgValue, query.ArgValue}, Optional: 1, Fn: q.pystr,
		},
		nativeBuiltin(q),
	}
}

// pyAddress is the object argument of a Python built-in.
func (q *Query) pyAddress(c *query.CallContext, args []query.Arg) (*cpython.Process, core.Address, error) {
	if q.S.Python == nil {
		why := "no CPython runtime was found"
		if q.PythonErr != nil {
			why = q.PythonErr.Error()
		}
		return nil, 0, c.Errorf(-1, q.PythonErr, "%s needs CPython: %s", c.Call.Name, why)
	}
	a, err := c.Address(0, args[0].Value)
	if err != nil {
		return nil, 0, err
	}
	if a == 0 {
		return nil, 0, c.Errorf(0, nil, "%s is NULL", c.Text(0))
	}
	return q.S.Python, a, nil
}

func (q *Query) pyobj(c *query.CallContext, args []query.Arg) (query.Result, error) {
	p, a, err := q.pyAddress(c, args)
	if err != nil {
		return query.Result{}, err
	}
	o := p.Object(a, cpython.DefaultReprOptions)
	if o.Error != "" && o.Type == "" {
		return query.Result{}, c.Errorf(0, nil, "cannot read the object at %s: %s", a, o.Error)
	}
	return query.Result{Kind: query.TextResult, Text: o.Repr, Data: o}, nil
}

func (q *Query) repr(c *query.CallContext, args []query.Arg) (query.Result, error) {
	r, err := q.pyobj(c, args)
	r.Data = nil
	return r, err
}

func (q *Query) pystr(c *query.CallContext, args []query.Arg) (query.Result, error) {
	p, a, err := q.pyAddress(c, args)
	if err != nil {
		return query.Result{}, err
	}
	limit := int64(4096)
	if len(args) > 1 {
		if limit, err = c.Int(1, args[1].Value); err != nil {
			return query.Result{}, err
		}
		if limit < 0 || limit > maxPystr {
			return query.Result{}, c.Errorf(1, nil, "max must be 0 to %d", maxPystr)
		}
	}
	s, _, err := p.ReadStr(a, int(limit))
	if err != nil {
		return query.Result{}, c.Errorf(0, err, "%s is not a readable str object: %v", c.Text(0), err)
	}
	ptr := typesys.FromUint(p.R, typesys.PointerTo(typesys.VoidType, int64(p.R.PtrSize)), uint64(a))
	return query.Result{Kind: query.StringResult, Text: s, Value: ptr}, nil
}

// objects walks the heap as pycore heap does and keeps the objects of one type.
func (q *Query) objects(c *query.CallContext, args []query.Arg) (query.Result, error) {
	p := q.S.Python
	if p == nil {
		why := "no CPython runtime was found"
		if q.PythonErr != nil {
			why = q.PythonErr.Error()
		}
		return query.Result{}, c.Errorf(-1, q.PythonErr, "objects needs CPython: %s", why)
	}
	lit, ok := args[0].Node.(*query.StringLit)
	if !ok {
		return query.Result{}, c.Errorf(0, nil, `objects takes the type's name as a string: objects("dict")`)
	}
	limit := int64(defaultObjects)
	if len(args) > 1 {
		var err error
		if limit, err = c.Int(1, args[1].Value); err != nil {
			return query.Result{}, err
		}
		if limit < 1 || limit > maxObjects {
			return query.Result{}, c.Errorf(1, nil, "max must be 1 to %d", maxObjects)
		}
	}
	obj, err := q.pyStruct("PyObject")
	if err != nil {
		return query.Result{}, c.Errorf(-1, err, "objects: no PyObject type: %v", err)
	}
	ptr := typesys.PointerTo(obj, int64(p.R.PtrSize))
	names := map[core.Address]bool{}
	var found []core.Address
	_, err = p.WalkHeap(func(o cpython.HeapObject) {
		match, seen := names[o.Type]
		if !seen {
			match = p.TypeName(o.Type) == lit.Value
			names[o.Type] = match
		}
		if match {
			found = append(found, o.Address)
		}
	})
	if err != nil {
		return query.Result{}, c.Errorf(-1, err, "objects: %v", err)
	}
	slices.Sort(found)
	out := query.Result{Kind: query.ListResult}
	for i, a := range found {
		if int64(i) >= limit {
			out.Note = fmt.Sprintf("stopped at the limit of %d objects (of %d)", limit, len(found))
			break
		}
		out.Items = append(out.Items, query.ValueOf(typesys.FromUint(p.R, ptr, uint64(a))))
	}
	return out, nil
}
