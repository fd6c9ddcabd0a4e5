package abi

// GCKnownLayout is where struct _gc_runtime_state keeps what the gc reader
// needs, relative to the struct's start.
type GCKnownLayout struct {
	Size, Collecting, Enabled, Generations int64
}

// gcKnownLayouts are the layouts of versions pycore has no generated table
// for, from gdb's ptype /o of Debian's DWARF (3.14.8 and 3.15.2). The debug
// offsets of 3.13+ give only the struct's size and where collecting is.
var gcKnownLayouts = map[int]GCKnownLayout{
	14: {Size: 264, Collecting: 192, Enabled: 12, Generations: 24},
	15: {Size: 176, Collecting: 112, Enabled: 0, Generations: 8},
}

// GCCheckedLayout is a rule for the rest of the gc state's layout when the
// types (the debug offsets, on a stripped 3.13+) have only its size and
// collecting member: the generated table of this build, else the flavor's
// GCKnown, used only if it agrees with what the debug offsets say.
func GCCheckedLayout(d *DebugOffsets, fl *Flavor, v Version, freeThreaded, debug bool) (GCKnownLayout, bool) {
	if d == nil || freeThreaded {
		return GCKnownLayout{}, false
	}
	size, ok1 := d.Fields["gc.size"]
	coll, ok2 := d.Fields["gc.collecting"]
	if !ok1 || !ok2 {
		return GCKnownLayout{}, false
	}
	var k GCKnownLayout
	found := false
	if vl := TableFor(v, freeThreaded, debug); vl != nil {
		m := map[string]int64{}
		for _, st := range vl.Structs {
			if st.Name != "PyInterpreterState" {
				continue
			}
			for _, mem := range st.Members {
				m[mem.Path] = mem.Offset
			}
		}
		base, ok := m["gc"]
		g, ok1 := m["gc.generations"]
		c, ok2 := m["gc.collecting"]
		e, ok3 := m["gc.enabled"]
		if ok && ok1 && ok2 && ok3 {
			k, found = GCKnownLayout{Size: int64(size), Collecting: c - base, Enabled: e - base, Generations: g - base}, true
		}
	}
	if !found && fl.GCKnown != nil && fl.GCKnown.Size == int64(size) {
		k, found = *fl.GCKnown, true
	}
	if !found || k.Collecting != int64(coll) {
		return GCKnownLayout{}, false
	}
	return k, true
}
