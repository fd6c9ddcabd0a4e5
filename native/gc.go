package native

import "strings"

// gcFunctions are C functions of CPython's gc module (gcmodule.c, gc.c,
// gc_free_threading.c) that are on the stack of a thread running a
// collection, its callbacks or its finalizers, across 3.6-3.15; static ones
// are named only where a symbol table or debug info is at hand.
var gcFunctions = map[string]bool{
	"collect": true, "collect_with_callback": true, "collect_generations": true,
	"gc_collect_main": true, "gc_collect_with_callback": true, "gc_collect_region": true,
	"gc_collect_full": true, "gc_collect_young": true, "gc_collect_increment": true,
	"invoke_gc_callback": true, "gc_collect": true, "gc_collect_impl": true,
	"_PyGC_Collect": true, "PyGC_Collect": true, "_PyGC_CollectNoFail": true,
	"_PyGC_CollectIfEnabled": true, "_Py_RunGC": true,
}

// baseSymbol strips GCC's clone suffixes (collect.constprop.0,
// invoke_gc_callback.isra.0, gc_collect_main.cold).
func baseSymbol(sym string) string {
	if i := strings.IndexByte(sym, '.'); i > 0 {
		return sym[:i]
	}
	return sym
}

// inGC says whether a frame is one of the gc module's functions in the
// interpreter itself (a C library's own "collect" does not count).
func inGC(f *Frame) bool {
	return f.Python == nil && f.internal && gcFunctions[baseSymbol(f.Function)]
}

// FindCollector fills in snap.GC's Thread and ThreadLWP with the thread
// whose native stack is in the gc module, when a collection is running; if
// no stack shows one, ThreadNote says why the thread is unknown.
func FindCollector(ns *Snapshot) {
	g := ns.Snapshot.GC
	if g == nil || g.Collecting == nil || !*g.Collecting {
		return
	}
	var found []*Thread
	for _, t := range ns.Threads {
		for i := range t.Frames {
			if inGC(&t.Frames[i]) {
				found = append(found, t)
				break
			}
		}
	}
	switch {
	case len(found) == 1:
		lwp := int64(found[0].LWP)
		g.ThreadLWP = &lwp
		if py := found[0].Python; py != nil {
			id := py.ThreadID
			g.Thread = &id
			py.CollectingGarbage = true
		}
	case len(found) > 1:
		g.ThreadNote = "more than one thread's native stack is in the gc module"
	default:
		g.ThreadNote = "no thread's native stack names a gc function (without a symbol table or debug info for libpython, its static functions have no names)"
	}
}
