package cpython

// Thread details as CPython records them: the attach state (3.13+), GIL
// requests, whether a threading.Thread is a daemon. And detailLayout, the
// offsets that locals, exceptions and these details read.
//
// Offsets come from the TypeSource. Where a source lacks a member (3.13+'s
// debug offsets describe few structs), it is derived from CPython's headers
// the way go does: anchored on a member the source gives, checked
// against another where one exists, and written down next to the rule.
// A member that can be neither read nor derived is -1, and what needs it
// says it is not available.

import (
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/typesys"
)

// Thread states of PyThreadState.state (Include/internal/pycore_pystate.h,
// 3.13+; 3.13's first alphas called 2 "gc"; 3 is new in 3.14).
var threadStates = map[int64]string{0: "detached", 1: "attached", 2: "suspended", 3: "shutting down"}

// gilDropRequestBit is _PY_GIL_DROP_REQUEST_BIT of PyThreadState.eval_breaker (3.13+).
const gilDropRequestBit = 1

// detailLayout is every offset locals, exceptions and thread details read
// (abi's Detail); -1 marks what is unknown.
type detailLayout = abi.Detail

// offsetIn returns the offset of a dotted member path of a struct of the
// type source, or -1.
func (p *Process) offsetIn(strct, path string) int64 {
	t, err := p.Types.Struct(strct)
	if err != nil {
		return -1
	}
	o, err := memberPathOffset(t, path)
	if err != nil {
		return -1
	}
	return o
}

// newDetailLayout gives the process's detail offsets, worked out once.
func newDetailLayout(p *Process) (*detailLayout, error) {
	p.detailOnce.Do(func() {
		ol, err := p.objectLayout()
		if err != nil {
			p.detailErr = err
			return
		}
		p.detailL = abi.ResolveDetail(p.Types, p.Version, ol.Ptr, ol.Header)
	})
	return p.detailL, p.detailErr
}

// ThreadDetails fills what CPython records about each thread beyond its
// stack: State, GILRequested, GILDropRequested, Daemon. Missing pieces stay
// null; the reason goes to the thread's DetailErrors when it is an error
// rather than something this version does not record.
func (p *Process) threadDetails(l *detailLayout, threads []*Thread, interp typesys.Value) {
	r := p.R
	for _, t := range threads {
		if l.ThreadState.State >= 0 {
			if s, err := r.Uint32(t.TState.Add(l.ThreadState.State)); err != nil {
				t.DetailErrors = append(t.DetailErrors, fmt.Sprintf("state: %v", err))
			} else if name, ok := threadStates[int64(int32(s))]; ok {
				t.State = name
			} else {
				t.State = fmt.Sprintf("unknown (%d)", int32(s))
			}
		}
		if l.ThreadState.GILRequested >= 0 {
			if g, err := r.Uint32(t.TState.Add(l.ThreadState.GILRequested)); err == nil {
				b := g != 0
				t.GILRequested = &b
			} else {
				t.DetailErrors = append(t.DetailErrors, fmt.Sprintf("gil_requested: %v", err))
			}
		}
		// A drop request is addressed to the thread holding the GIL.
		if t.HoldsGIL {
			if b, ok := p.gilDropRequested(l, t.TState, interp); ok {
				t.GILDropRequested = &b
			}
		}
	}
	daemons, err := p.interpreterDaemons(interp)
	if err != nil {
		return // threading not imported, or unreadable: daemon stays unknown
	}
	for _, t := range threads {
		if d, ok := daemons[t.ThreadID]; ok {
			d := d
			t.Daemon = &d
		}
	}
}

// gilDropRequested reads whether another thread asked the GIL holder to
// drop the GIL: the holder's eval_breaker bit (3.13+), or the interpreter's
// (3.9-3.12) or runtime's (3.7, 3.8) ceval.gil_drop_request. 3.6 keeps it
// in a static of ceval_gil.h: not known.
func (p *Process) gilDropRequested(l *detailLayout, ts core.Address, interp typesys.Value) (bool, bool) {
	if p.flavor.GILDrop == abi.GILDropEvalBreaker {
		if l.ThreadState.EvalBreaker < 0 {
			return false, false
		}
		eb, err := p.R.Ptr(ts.Add(l.ThreadState.EvalBreaker))
		return err == nil && uint64(eb)&gilDropRequestBit != 0, err == nil
	}
	var v typesys.Value
	var err error
	switch p.flavor.GILDrop {
	case abi.GILDropInInterp:
		v, err = interp.Path("ceval.gil_drop_request")
	case abi.GILDropInRuntime:
		v, err = p.Runtime.Path("ceval.gil_drop_request")
	default:
		return false, false
	}
	if err != nil {
		return false, false
	}
	n, err := rawInt(v)
	return err == nil && n != 0, err == nil
}

// interpreterDaemons maps the idents of one interpreter's threading._active
// to Thread._daemonic.
func (p *Process) interpreterDaemons(interp typesys.Value) (map[uint64]bool, error) {
	r, err := p.reader()
	if err != nil {
		return nil, err
	}
	items, err := r.ThreadingActive(interp)
	if err != nil {
		return nil, err
	}
	out := map[uint64]bool{}
	for _, it := range items {
		ident, err := r.IntValue(it.Key)
		if err != nil || ident.Sign() < 0 || !ident.IsUint64() {
			continue
		}
		d, ok := r.Attr(it.Value, "_daemonic")
		if !ok {
			continue
		}
		out[ident.Uint64()] = r.IsTrue(d)
	}
	return out, nil
}
