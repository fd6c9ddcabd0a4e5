package typesys

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"sort"
)

// Variable is a global (or file-static) variable from DWARF.
type Variable struct {
	Name string
	Type *Type
	// Addr is the link-time address (add the module's load bias), valid
	// when HasAddr. Without one (only an extern declaration was found, or
	// the location is not a plain address) the symbol table must say where.
	Addr    uint64
	HasAddr bool
	// ThreadLocal variables have a copy per thread and no single address.
	ThreadLocal bool
}

// ErrNoVariable is wrapped by Variable's error for a name the DWARF does not have.
var ErrNoVariable = errors.New("no such variable")

// varIndex is what the scan of top-level DIEs learned about variables.
type varIndex struct {
	defs     map[string]varEntry     // definitions with a location, first one wins
	decls    map[string]dwarf.Offset // declarations (extern), by name: their type
	declName map[dwarf.Offset]string // declarations by offset, for DW_AT_specification
	declType map[dwarf.Offset]dwarf.Offset
}

type varEntry struct {
	typ     dwarf.Offset
	hasType bool
	loc     []byte
}

func newVarIndex() *varIndex {
	return &varIndex{defs: map[string]varEntry{}, decls: map[string]dwarf.Offset{},
		declName: map[dwarf.Offset]string{}, declType: map[dwarf.Offset]dwarf.Offset{}}
}

// indexVariable notes a top-level DW_TAG_variable. A definition that follows
// an extern declaration in the same unit names it by DW_AT_specification and
// may carry no name or type of its own. Callers hold dt.mu.
func (dt *DWARFTypes) indexVariable(e *rawEntry) {
	if dt.vars == nil {
		dt.vars = newVarIndex()
	}
	vi := dt.vars
	name := string(e.name)
	typ, hasType := e.typ, e.hasType
	if e.hasSpec {
		if name == "" {
			name = vi.declName[e.spec]
		}
		if !hasType {
			typ, hasType = vi.declType[e.spec]
		}
	}
	if name == "" {
		return
	}
	if e.decl {
		vi.declName[e.off] = name
		if hasType {
			vi.declType[e.off] = typ
			if _, seen := vi.decls[name]; !seen {
				vi.decls[name] = typ
			}
		}
		return
	}
	loc := e.loc
	if loc == nil {
		return // optimized out, or a constant: nothing in memory
	}
	if _, seen := vi.defs[name]; !seen {
		vi.defs[name] = varEntry{typ: typ, hasType: hasType, loc: loc}
	}
}

// Variable finds a global variable by name, scanning the DWARF's top-level
// entries only until its definition is found.
func (dt *DWARFTypes) Variable(name string) (Variable, error) {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	for !dt.done {
		if dt.vars != nil {
			if _, ok := dt.vars.defs[name]; ok {
				break
			}
		}
		if err := dt.scanSome(); err != nil {
			return Variable{}, err
		}
	}
	if dt.vars == nil {
		dt.vars = newVarIndex()
	}
	v := Variable{Name: name}
	def, isDef := dt.vars.defs[name]
	typ, hasType := def.typ, def.hasType
	if !isDef || !hasType {
		if t, ok := dt.vars.decls[name]; ok {
			typ, hasType = t, true
		}
	}
	if !isDef && !hasType {
		return Variable{}, fmt.Errorf("%w %q in the DWARF of %s", ErrNoVariable, name, dt.source)
	}
	if hasType {
		t, err := dt.d.Type(typ)
		if err != nil {
			return Variable{}, fmt.Errorf("type of variable %q in %s: %w", name, dt.source, err)
		}
		v.Type = dt.convert(t, 0)
	} else {
		v.Type = VoidType
	}
	if isDef {
		v.Addr, v.HasAddr, v.ThreadLocal = decodeLocation(def.loc, int(dt.ptrSize))
	}
	return v, nil
}

// VariableNames lists the variables found so far (all of them once a lookup
// has missed, which scans everything), sorted.
func (dt *DWARFTypes) VariableNames() []string {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	if dt.vars == nil {
		return nil
	}
	names := make([]string, 0, len(dt.vars.defs))
	for n := range dt.vars.defs {
		names = append(names, n)
	}
	for n := range dt.vars.decls {
		if _, dup := dt.vars.defs[n]; !dup {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// ScanAll finishes the scan of top-level entries (for completion lists).
func (dt *DWARFTypes) ScanAll() error {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	for !dt.done {
		if err := dt.scanSome(); err != nil {
			return err
		}
	}
	return nil
}

// DWARF location operations a global variable's location uses.
const (
	opAddr              = 0x03
	opFormTLSAddress    = 0x9b
	opGNUPushTLSAddress = 0xe0
)

// decodeLocation reads a global's DW_AT_location: a plain DW_OP_addr, or a
// thread-local variable's TLS offset (which has no single address).
func decodeLocation(loc []byte, ptrSize int) (addr uint64, ok, tls bool) {
	if len(loc) == 0 {
		return 0, false, false
	}
	last := loc[len(loc)-1]
	if last == opFormTLSAddress || last == opGNUPushTLSAddress {
		return 0, false, true
	}
	if loc[0] != opAddr || len(loc) != 1+ptrSize {
		return 0, false, false
	}
	var u uint64
	// DWARF uses the target's byte order; x86-64 and every target pycore reads are little-endian.
	for i := ptrSize; i >= 1; i-- {
		u = u<<8 | uint64(loc[i])
	}
	return u, true, false
}

// atomicTarget finds the type a C11 _Atomic type qualifies. debug/dwarf
// gives DW_TAG_atomic_type as an UnsupportedType without its DW_AT_type, so
// the scan of top-level entries notes every atomic entry it passes, and
// debug/dwarf's own type cache (Data.Type returns the same value for the
// same offset) matches them to the parsed types. An atomic type lives in
// the compile unit of the struct that uses it, which the scan has reached
// to find that struct: the scan goes on only as far as the entry (it once
// made a pass over all of libpython's DWARF for the first atomic member).
// Callers hold dt.mu.
func (dt *DWARFTypes) atomicTarget(t dwarf.Type) (dwarf.Type, bool) {
	u, ok := t.(*dwarf.UnsupportedType)
	if !ok || u.Tag != dwarf.TagAtomicType {
		return nil, false
	}
	if dt.atomics == nil {
		dt.atomics = map[dwarf.Type]dwarf.Offset{}
	}
	for {
		for _, a := range dt.atomicsSeen {
			if at, err := dt.d.Type(a.entry); err == nil {
				dt.atomics[at] = a.target
			}
		}
		dt.atomicsSeen = dt.atomicsSeen[:0]
		if off, ok := dt.atomics[t]; ok {
			inner, err := dt.d.Type(off)
			return inner, err == nil
		}
		if dt.done || dt.scanSome() != nil {
			return nil, false
		}
	}
}

// atomicEntry is a DW_TAG_atomic_type entry and the type it qualifies.
type atomicEntry struct{ entry, target dwarf.Offset }

// noteAtomic records an atomic type entry met by the scan.
func (dt *DWARFTypes) noteAtomic(e *rawEntry) {
	if e.hasType {
		dt.atomicsSeen = append(dt.atomicsSeen, atomicEntry{e.off, e.typ})
	}
}
