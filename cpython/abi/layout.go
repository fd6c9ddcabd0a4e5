package abi

// A layout describes some members of one C struct of CPython: where they are and
// what type they have. Layouts come from two places and are turned into typesys
// types by one function, so the walker never knows which source it is reading:
//   - for 3.6-3.12, tables generated from the DWARF of real builds (layouts_gen.go,
//     made by `go generate` from ./internal/genlayouts), with tables of their own
//     for free-threaded and Py_DEBUG builds (3.11d, 3.13d, 3.13t so far);
//   - for 3.13+, the _Py_DebugOffsets table the interpreter carries in memory.
//
// Only x86-64 glibc layouts exist so far. Another architecture plugs in as another
// set of generated tables keyed by (version, arch); the debug offsets are already
// architecture independent.

//go:generate go run ./internal/genlayouts -o layouts_gen.go

// StructLayout is what is known of one struct.
type StructLayout struct {
	Name    string // CPython's name: a typedef name such as "PyThreadState", or "struct _gil_runtime_state"
	Size    int64  // sizeof, 0 if unknown
	Members []MemberLayout
}

// MemberLayout is one member, possibly nested in by-value struct or union
// members of the outer struct.
//
// Type is spelled in a small grammar:
//
//	i8 i16 i32 i64 u8 u16 u32 u64 f64 bool   integers, float, bool
//	ptr:T                                    pointer to T ("ptr:void" if unknown)
//	arr:N:T                                  array of N elements of T
//	Name                                     a struct layout of this version, by Name
//	struct                                   a by-value struct or union whose members follow as Path.x
//	bits:OFF:SIZE:T                          bit field: SIZE bits from bit OFF (LSB = 0) of the T stored at Offset
type MemberLayout struct {
	Path   string // dotted C member path from the outer struct, e.g. "threads.head"
	Offset int64  // from the start of the outer struct
	Type   string
}

// VersionLayouts are the layouts of one CPython build.
type VersionLayouts struct {
	Version string // exact version of the build the table came from, e.g. "3.12.1"
	// FreeThreaded (ABI flag "t", --disable-gil) and Debug ("d", Py_DEBUG)
	// builds lay out their structs differently: a table serves only builds
	// of the same kind.
	FreeThreaded bool
	Debug        bool
	Source       string // what it was generated from, e.g. "DWARF of libpython3.12.so.1.0 (pyenv 3.12.1)"
	Structs      []StructLayout
}

// BuildKind names a build kind for messages: "", " (free-threaded)", " (Py_DEBUG)".
func BuildKind(freeThreaded, debug bool) string {
	switch {
	case freeThreaded && debug:
		return " (free-threaded, Py_DEBUG)"
	case freeThreaded:
		return " (free-threaded)"
	case debug:
		return " (Py_DEBUG)"
	}
	return ""
}

// TableFor picks the generated layout table for a version and build kind
// (free-threaded and Py_DEBUG builds only use tables of their own kind): the
// same build if there is one, else the newest table of the same minor at or
// below it, else any table of the same minor (layouts rarely change within a minor).
func TableFor(v Version, freeThreaded, debug bool) *VersionLayouts {
	var best *VersionLayouts
	var bestV Version
	for i := range generatedLayouts {
		vl := &generatedLayouts[i]
		if vl.FreeThreaded != freeThreaded || vl.Debug != debug {
			continue
		}
		tv, err := ParseVersion(vl.Version)
		if err != nil || !tv.Is(v.Major, v.Minor) {
			continue
		}
		if tv == v {
			return vl
		}
		better := best == nil ||
			(tv.Micro <= v.Micro && (bestV.Micro > v.Micro || tv.Micro > bestV.Micro)) ||
			(tv.Micro > v.Micro && bestV.Micro > v.Micro && tv.Micro < bestV.Micro)
		if better {
			best, bestV = vl, tv
		}
	}
	return best
}
