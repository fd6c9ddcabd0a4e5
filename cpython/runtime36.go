package cpython

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// CPython 3.6 has no _PyRuntime: what 3.7 gathered there is a handful of
// globals. pycore presents them as a synthesized _PyRuntimeState, so the walker
// (and everything else reading Process.Runtime) sees one shape on every version:
//
//	interpreters.head        static interp_head (pystate.c)
//	gilstate.tstate_current  exported _PyThreadState_Current (the GIL holder)
//	finalizing               exported _Py_Finalizing
//
// The members sit at their globals' distances from the lowest of them; all are
// in libpython's .bss, a few KiB apart.

// legacyCurrentSymbol marks a 3.6 libpython: exported by 3.6 (and 2.7), gone in 3.7.
const legacyCurrentSymbol = "_PyThreadState_Current"

// maxLegacySpan bounds the distance between the globals gathered, so that a
// wrong symbol cannot make a struct spanning the address space.
const maxLegacySpan = 1 << 20

// legacyRuntime builds the synthesized _PyRuntimeState of a 3.6 process whose
// _PyThreadState_Current is at cand.addr in cand.module.
func (p *Process) legacyRuntime(cand runtimeCandidate) (typesys.Value, error) {
	m := cand.module
	head, how, err := findInterpHead(p.R, m)
	if err != nil {
		return typesys.Value{}, err
	}
	p.Evidence = append(p.Evidence, fmt.Sprintf("interpreters: interp_head at %s (%s)", head, how))
	interpT, err := p.Types.Struct("PyInterpreterState")
	if err != nil {
		return typesys.Value{}, err
	}
	tsT, err := p.Types.Struct("PyThreadState")
	if err != nil {
		return typesys.Value{}, err
	}
	ptr := int64(p.R.PtrSize)
	type global struct {
		path string
		addr core.Address
		typ  *typesys.Type
	}
	globals := []global{
		{"interpreters.head", head, typesys.PointerTo(interpT, ptr)},
		{"gilstate.tstate_current", cand.addr, typesys.PointerTo(tsT, ptr)},
	}
	if s, ok := m.Lookup("_Py_Finalizing"); ok && !s.Func {
		globals = append(globals, global{"finalizing", s.Addr, typesys.PointerTo(tsT, ptr)})
	}
	sort.Slice(globals, func(i, j int) bool { return globals[i].addr < globals[j].addr })
	base := globals[0].addr
	span := globals[len(globals)-1].addr.Sub(base)
	if span < 0 || span > maxLegacySpan {
		return typesys.Value{}, fmt.Errorf("3.6 runtime globals of %s are %d bytes apart (interp_head %s, %s %s): not one .bss",
			m.Path, span, head, legacyCurrentSymbol, cand.addr)
	}
	source := fmt.Sprintf("CPython 3.6's runtime globals in %s, gathered by pycore", m.Path)
	members := make([]typesys.LayoutMember, len(globals))
	for i, g := range globals {
		members[i] = typesys.LayoutMember{Path: g.path, Offset: g.addr.Sub(base), Type: g.typ}
	}
	rt := &typesys.Type{Kind: typesys.Struct, Name: "_PyRuntimeState"}
	if err := typesys.FillStruct(rt, span+ptr, source, members); err != nil {
		return typesys.Value{}, err
	}
	v := typesys.At(p.R, rt, base)
	if err := checkInterpHead(v, head); err != nil {
		return typesys.Value{}, err
	}
	p.RuntimeAddr = base
	return v, nil
}

// findInterpHead finds pystate.c's static interp_head: by its local symbol when
// the file (or its debug file) has a .symtab, else from the exported
// PyInterpreterState_Head, which is `return interp_head;`, compiled on x86-64 to
// `mov rax, [rip+disp32]; ret`.
func findInterpHead(r core.Reader, m *symbols.Module) (core.Address, string, error) {
	var data []symbols.Symbol
	for _, s := range m.LookupAll("interp_head") {
		if !s.Func {
			data = append(data, s)
		}
	}
	if len(data) == 1 {
		return data[0].Addr, "symbol interp_head", nil
	}
	if len(data) > 1 {
		return 0, "", fmt.Errorf("%s has %d symbols named interp_head: cannot tell which is pystate.c's", m.Path, len(data))
	}
	fn, ok := m.Lookup("PyInterpreterState_Head")
	if !ok || !fn.Func {
		return 0, "", fmt.Errorf("%s: no interp_head symbol and no PyInterpreterState_Head function: cannot find CPython 3.6's interpreters", m.Path)
	}
	var code [9]byte
	if err := r.Read(code[:], fn.Addr); err != nil {
		return 0, "", fmt.Errorf("reading PyInterpreterState_Head at %s: %w", fn.Addr, err)
	}
	// 48 8b 05 disp32: mov rax, [rip+disp32]; then c3 (ret) or f3 c3 (repz ret).
	if !bytes.Equal(code[:3], []byte{0x48, 0x8b, 0x05}) || !(code[7] == 0xc3 || code[7] == 0xf3 && code[8] == 0xc3) {
		return 0, "", fmt.Errorf("%s: no interp_head symbol (stripped), and PyInterpreterState_Head at %s is not `mov rax,[rip+X]; ret` (% x): cannot find CPython 3.6's interpreters; give pycore the debug file",
			m.Path, fn.Addr, code)
	}
	disp := int32(r.Order.Uint32(code[3:7]))
	return fn.Addr.Add(7 + int64(disp)), fmt.Sprintf("decoded from PyInterpreterState_Head at %s", fn.Addr), nil
}

// checkInterpHead makes sure head points to an interpreter whose first thread
// points back to it, so that a misread address is an error, not empty output.
func checkInterpHead(rt typesys.Value, head core.Address) error {
	hv, err := rt.Path("interpreters.head")
	if err != nil {
		return err
	}
	interp, err := hv.Ptr()
	if err != nil {
		return fmt.Errorf("interp_head at %s: %w", head, err)
	}
	if interp == 0 {
		return nil // reported by the caller as "no interpreters"
	}
	is, err := hv.Deref()
	if err != nil {
		return fmt.Errorf("interp_head at %s: %w", head, err)
	}
	ts, err := is.Member("tstate_head")
	if err != nil {
		return err
	}
	tsAddr, err := ts.Ptr()
	if err != nil || tsAddr == 0 {
		return nil // an interpreter without threads is still one
	}
	tsv, err := ts.Deref()
	if err != nil {
		return fmt.Errorf("interp_head at %s: first thread: %w", head, err)
	}
	back, err := tsv.Member("interp")
	if err != nil {
		return err
	}
	if b, err := back.Ptr(); err != nil || b != interp {
		return fmt.Errorf("interp_head at %s points to %s, whose first thread %s belongs to interpreter %s: not CPython 3.6's interpreter list", head, interp, tsAddr, b)
	}
	return nil
}
