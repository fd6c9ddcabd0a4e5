package abi

import (
	"bytes"
	"fmt"

	"github.com/pycore/pycore/core"
)

// CPython 3.13+ begins _PyRuntime with _Py_DebugOffsets: a cookie, the version,
// and tables of offsets (all uint64) of the members an out-of-process reader
// needs. The table's own layout changes between minor versions, so it is
// described here as data, per minor: which groups, which fields, in order.
// A new CPython minor means a new entry here, read off its
// Include/internal/pycore_debug_offsets.h.

// DebugCookie opens every _Py_DebugOffsets table.
const DebugCookie = "xdebugpy"

type doGroup struct {
	name   string
	fields []string
}

var (
	do313 = []doGroup{
		{"runtime_state", []string{"size", "finalizing", "interpreters_head"}},
		{"interpreter_state", []string{"size", "id", "next", "threads_head", "gc", "imports_modules", "sysdict", "builtins", "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled", "gil_runtime_state_locked", "gil_runtime_state_holder"}},
		{"thread_state", []string{"size", "prev", "next", "interp", "current_frame", "thread_id", "native_thread_id", "datastack_chunk", "status"}},
		{"interpreter_frame", []string{"size", "previous", "executable", "instr_ptr", "localsplus", "owner"}},
		{"code_object", []string{"size", "filename", "name", "qualname", "linetable", "firstlineno", "argcount", "localsplusnames", "localspluskinds", "co_code_adaptive"}},
		{"pyobject", []string{"size", "ob_type"}},
		{"type_object", []string{"size", "tp_name", "tp_repr", "tp_flags"}},
		{"tuple_object", []string{"size", "ob_item", "ob_size"}},
		{"list_object", []string{"size", "ob_item", "ob_size"}},
		{"dict_object", []string{"size", "ma_keys", "ma_values"}},
		{"float_object", []string{"size", "ob_fval"}},
		{"long_object", []string{"size", "lv_tag", "ob_digit"}},
		{"bytes_object", []string{"size", "ob_size", "ob_sval"}},
		{"unicode_object", []string{"size", "state", "length", "asciiobject_size"}},
		{"gc", []string{"size", "collecting"}},
	}
	do314 = []doGroup{
		{"runtime_state", []string{"size", "finalizing", "interpreters_head"}},
		{"interpreter_state", []string{"size", "id", "next", "threads_head", "threads_main", "gc", "imports_modules", "sysdict", "builtins", "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled", "gil_runtime_state_locked", "gil_runtime_state_holder", "code_object_generation", "tlbc_generation"}},
		{"thread_state", []string{"size", "prev", "next", "interp", "current_frame", "thread_id", "native_thread_id", "datastack_chunk", "status"}},
		{"interpreter_frame", []string{"size", "previous", "executable", "instr_ptr", "localsplus", "owner", "stackpointer", "tlbc_index"}},
		{"code_object", []string{"size", "filename", "name", "qualname", "linetable", "firstlineno", "argcount", "localsplusnames", "localspluskinds", "co_code_adaptive", "co_tlbc"}},
		{"pyobject", []string{"size", "ob_type"}},
		{"type_object", []string{"size", "tp_name", "tp_repr", "tp_flags"}},
		{"tuple_object", []string{"size", "ob_item", "ob_size"}},
		{"list_object", []string{"size", "ob_item", "ob_size"}},
		{"set_object", []string{"size", "used", "table", "mask"}},
		{"dict_object", []string{"size", "ma_keys", "ma_values"}},
		{"float_object", []string{"size", "ob_fval"}},
		{"long_object", []string{"size", "lv_tag", "ob_digit"}},
		{"bytes_object", []string{"size", "ob_size", "ob_sval"}},
		{"unicode_object", []string{"size", "state", "length", "asciiobject_size"}},
		{"gc", []string{"size", "collecting"}},
		{"gen_object", []string{"size", "gi_name", "gi_iframe", "gi_frame_state"}},
		{"llist_node", []string{"next", "prev"}},
		{"debugger_support", []string{"eval_breaker", "remote_debugger_support", "remote_debugging_enabled", "debugger_pending_call", "debugger_script_path", "debugger_script_path_size"}},
	}
	do315 = []doGroup{
		{"runtime_state", []string{"size", "finalizing", "interpreters_head"}},
		{"interpreter_state", []string{"size", "id", "next", "threads_head", "threads_main", "gc", "imports_modules", "sysdict", "builtins", "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled", "gil_runtime_state_locked", "gil_runtime_state_holder", "code_object_generation", "tlbc_generation"}},
		{"thread_state", []string{"size", "prev", "next", "interp", "current_frame", "base_frame", "last_profiled_frame", "last_profiled_frame_seq", "thread_id", "native_thread_id", "datastack_chunk", "status", "holds_gil", "gil_requested", "current_exception", "exc_state"}},
		{"err_stackitem", []string{"exc_value"}},
		{"interpreter_frame", []string{"size", "previous", "executable", "instr_ptr", "localsplus", "owner", "stackpointer", "tlbc_index"}},
		{"code_object", []string{"size", "filename", "name", "qualname", "linetable", "firstlineno", "argcount", "localsplusnames", "localspluskinds", "co_code_adaptive", "co_tlbc"}},
		{"pyobject", []string{"size", "ob_type"}},
		{"type_object", []string{"size", "tp_name", "tp_repr", "tp_flags", "tp_basicsize", "tp_dictoffset"}},
		{"heap_type_object", []string{"size", "ht_cached_keys"}},
		{"tuple_object", []string{"size", "ob_item", "ob_size"}},
		{"list_object", []string{"size", "ob_item", "ob_size"}},
		{"set_object", []string{"size", "used", "table", "mask"}},
		{"dict_object", []string{"size", "ma_keys", "ma_values"}},
		{"float_object", []string{"size", "ob_fval"}},
		{"long_object", []string{"size", "lv_tag", "ob_digit"}},
		{"bytes_object", []string{"size", "ob_size", "ob_sval"}},
		{"unicode_object", []string{"size", "state", "length", "asciiobject_size", "compactunicodeobject_size"}},
		{"gc", []string{"size", "collecting", "frame", "generation_stats_size", "generation_stats"}},
		{"gen_object", []string{"size", "gi_name", "gi_iframe", "gi_frame_state"}},
		{"llist_node", []string{"next", "prev"}},
		{"debugger_support", []string{"eval_breaker", "remote_debugger_support", "remote_debugging_enabled", "debugger_pending_call", "debugger_script_path", "debugger_script_path_size"}},
	}
)

// debugOffsetGroups picks the table layout for a version. Unknown newer minors
// get the newest layout we know, which is flagged by the caller.
func debugOffsetGroups(v Version) ([]doGroup, bool) {
	switch {
	case v.Is(3, 13):
		return do313, true
	case v.Is(3, 14):
		return do314, true
	case v.Is(3, 15):
		return do315, true
	}
	return do315, false
}

// doTarget says which struct member a debug offset describes, and its type.
type doTarget struct {
	strct, path, typ string
}

// debugOffsetTargets maps "group.field" to the C member it is the offset of.
// Fields whose offset is not from the start of the named struct are handled
// in layoutsFromDebugOffsets.
var debugOffsetTargets = map[string]doTarget{
	"runtime_state.finalizing":                   {"_PyRuntimeState", "_finalizing", "ptr:PyThreadState"},
	"runtime_state.interpreters_head":            {"_PyRuntimeState", "interpreters.head", "ptr:PyInterpreterState"},
	"interpreter_state.id":                       {"PyInterpreterState", "id", "i64"},
	"interpreter_state.next":                     {"PyInterpreterState", "next", "ptr:PyInterpreterState"},
	"interpreter_state.threads_head":             {"PyInterpreterState", "threads.head", "ptr:PyThreadState"},
	"interpreter_state.threads_main":             {"PyInterpreterState", "threads.main", "ptr:PyThreadState"},
	"interpreter_state.imports_modules":          {"PyInterpreterState", "imports.modules", "ptr:PyObject"},
	"interpreter_state.sysdict":                  {"PyInterpreterState", "sysdict", "ptr:PyObject"},
	"interpreter_state.builtins":                 {"PyInterpreterState", "builtins", "ptr:PyObject"},
	"interpreter_state.ceval_gil":                {"PyInterpreterState", "ceval.gil", "ptr:struct _gil_runtime_state"},
	"interpreter_state.gil_runtime_state":        {"PyInterpreterState", "_gil", "struct _gil_runtime_state"},
	"interpreter_state.gil_runtime_state_locked": {"PyInterpreterState", "_gil.locked", "i32"},
	"interpreter_state.gil_runtime_state_holder": {"PyInterpreterState", "_gil.last_holder", "ptr:PyThreadState"},
	"thread_state.prev":                          {"PyThreadState", "prev", "ptr:PyThreadState"},
	"thread_state.next":                          {"PyThreadState", "next", "ptr:PyThreadState"},
	"thread_state.interp":                        {"PyThreadState", "interp", "ptr:PyInterpreterState"},
	"thread_state.current_frame":                 {"PyThreadState", "current_frame", "ptr:_PyInterpreterFrame"},
	"thread_state.base_frame":                    {"PyThreadState", "base_frame", "ptr:_PyInterpreterFrame"},
	"thread_state.last_profiled_frame":           {"PyThreadState", "last_profiled_frame", "ptr:_PyInterpreterFrame"},
	"thread_state.thread_id":                     {"PyThreadState", "thread_id", "u64"},
	"thread_state.native_thread_id":              {"PyThreadState", "native_thread_id", "u64"},
	"thread_state.datastack_chunk":               {"PyThreadState", "datastack_chunk", "ptr:void"},
	"thread_state.status":                        {"PyThreadState", "_status", "u32"},
	"thread_state.holds_gil":                     {"PyThreadState", "holds_gil", "i32"},
	"thread_state.gil_requested":                 {"PyThreadState", "gil_requested", "i32"},
	"thread_state.current_exception":             {"PyThreadState", "current_exception", "ptr:PyObject"},
	"thread_state.exc_state":                     {"PyThreadState", "exc_state", "_PyErr_StackItem"},
	"err_stackitem.exc_value":                    {"_PyErr_StackItem", "exc_value", "ptr:PyObject"},
	"interpreter_frame.previous":                 {"_PyInterpreterFrame", "previous", "ptr:_PyInterpreterFrame"},
	"interpreter_frame.executable":               {"_PyInterpreterFrame", "f_executable", "ptr:PyObject"}, // a tagged _PyStackRef from 3.14
	"interpreter_frame.instr_ptr":                {"_PyInterpreterFrame", "instr_ptr", "ptr:u16"},
	"interpreter_frame.localsplus":               {"_PyInterpreterFrame", "localsplus", "arr:-1:ptr:PyObject"},
	"interpreter_frame.owner":                    {"_PyInterpreterFrame", "owner", "i8"},
	"interpreter_frame.stackpointer":             {"_PyInterpreterFrame", "stackpointer", "ptr:void"},
	"interpreter_frame.tlbc_index":               {"_PyInterpreterFrame", "tlbc_index", "i32"},
	"code_object.filename":                       {"PyCodeObject", "co_filename", "ptr:PyObject"},
	"code_object.name":                           {"PyCodeObject", "co_name", "ptr:PyObject"},
	"code_object.qualname":                       {"PyCodeObject", "co_qualname", "ptr:PyObject"},
	"code_object.linetable":                      {"PyCodeObject", "co_linetable", "ptr:PyObject"},
	"code_object.firstlineno":                    {"PyCodeObject", "co_firstlineno", "i32"},
	"code_object.argcount":                       {"PyCodeObject", "co_argcount", "i32"},
	"code_object.localsplusnames":                {"PyCodeObject", "co_localsplusnames", "ptr:PyObject"},
	"code_object.localspluskinds":                {"PyCodeObject", "co_localspluskinds", "ptr:PyObject"},
	"code_object.co_code_adaptive":               {"PyCodeObject", "co_code_adaptive", "arr:-1:u8"},
	"code_object.co_tlbc":                        {"PyCodeObject", "co_tlbc", "ptr:void"},
	"pyobject.ob_type":                           {"PyObject", "ob_type", "ptr:PyTypeObject"},
	"type_object.tp_name":                        {"PyTypeObject", "tp_name", "ptr:i8"},
	"type_object.tp_repr":                        {"PyTypeObject", "tp_repr", "ptr:void"},
	"type_object.tp_flags":                       {"PyTypeObject", "tp_flags", "u64"},
	"type_object.tp_basicsize":                   {"PyTypeObject", "tp_basicsize", "i64"},
	"type_object.tp_dictoffset":                  {"PyTypeObject", "tp_dictoffset", "i64"},
	"heap_type_object.ht_cached_keys":            {"PyHeapTypeObject", "ht_cached_keys", "ptr:void"},
	"tuple_object.ob_item":                       {"PyTupleObject", "ob_item", "arr:-1:ptr:PyObject"},
	"tuple_object.ob_size":                       {"PyTupleObject", "ob_base.ob_size", "i64"},
	"list_object.ob_item":                        {"PyListObject", "ob_item", "ptr:ptr:PyObject"},
	"list_object.ob_size":                        {"PyListObject", "ob_base.ob_size", "i64"},
	"set_object.used":                            {"PySetObject", "used", "i64"},
	"set_object.table":                           {"PySetObject", "table", "ptr:void"},
	"set_object.mask":                            {"PySetObject", "mask", "i64"},
	"dict_object.ma_keys":                        {"PyDictObject", "ma_keys", "ptr:PyDictKeysObject"},
	"dict_object.ma_values":                      {"PyDictObject", "ma_values", "ptr:void"},
	"float_object.ob_fval":                       {"PyFloatObject", "ob_fval", "f64"},
	"long_object.lv_tag":                         {"PyLongObject", "long_value.lv_tag", "u64"},
	"long_object.ob_digit":                       {"PyLongObject", "long_value.ob_digit", "arr:-1:u32"},
	"bytes_object.ob_size":                       {"PyBytesObject", "ob_base.ob_size", "i64"},
	"bytes_object.ob_sval":                       {"PyBytesObject", "ob_sval", "arr:-1:i8"},
	"unicode_object.state":                       {"PyASCIIObject", "state", "u32"},
	"unicode_object.length":                      {"PyASCIIObject", "length", "i64"},
	"gen_object.gi_name":                         {"PyGenObject", "gi_name", "ptr:PyObject"},
	"gen_object.gi_iframe":                       {"PyGenObject", "gi_iframe", "_PyInterpreterFrame"},
	"gen_object.gi_frame_state":                  {"PyGenObject", "gi_frame_state", "i8"},
	"gc.collecting":                              {"struct _gc_runtime_state", "collecting", "i32"},
	// PEP 768's fields (pycore exec writes them; eval shows them).
	"debugger_support.eval_breaker":             {"PyThreadState", "eval_breaker", "u64"},
	"debugger_support.remote_debugger_support":  {"PyThreadState", "remote_debugger_support", "_PyRemoteDebuggerSupport"},
	"debugger_support.remote_debugging_enabled": {"PyInterpreterState", "config.remote_debug", "i32"},
	"debugger_support.debugger_pending_call":    {"_PyRemoteDebuggerSupport", "debugger_pending_call", "i32"},
}

// onlyInFreeThreaded are fields that GIL builds fill with 0: the member does
// not exist there, it is not at offset 0.
var onlyInFreeThreaded = map[string]bool{
	"interpreter_frame.tlbc_index":             true,
	"code_object.co_tlbc":                      true,
	"interpreter_state.code_object_generation": true,
	"interpreter_state.tlbc_generation":        true,
}

// debugOffsetSizes maps a group's "size" field to the struct it is sizeof.
var debugOffsetSizes = map[string]string{
	"runtime_state":     "_PyRuntimeState",
	"interpreter_state": "PyInterpreterState",
	"thread_state":      "PyThreadState",
	"interpreter_frame": "_PyInterpreterFrame",
	"code_object":       "PyCodeObject",
	"pyobject":          "PyObject",
	"type_object":       "PyTypeObject",
	"heap_type_object":  "PyHeapTypeObject",
	"tuple_object":      "PyTupleObject",
	"list_object":       "PyListObject",
	"set_object":        "PySetObject",
	"dict_object":       "PyDictObject",
	"float_object":      "PyFloatObject",
	"long_object":       "PyLongObject",
	"bytes_object":      "PyBytesObject",
	"unicode_object":    "PyUnicodeObject",
	"gc":                "struct _gc_runtime_state",
	"gen_object":        "PyGenObject",
}

// maxStructSize bounds any size read from the debug offsets: a corrupt table
// must not make later reads or allocations huge.
const MaxStructSize = 1 << 20

// DebugOffsets is the decoded _Py_DebugOffsets table.
type DebugOffsets struct {
	Version      Version
	VersionHex   uint64
	FreeThreaded bool
	Known        bool              // the table layout for this minor is known
	Fields       map[string]uint64 // "thread_state.current_frame" -> 72
	Size         int64             // bytes the table occupies
}

// ReadDebugOffsets decodes the table at addr (the start of _PyRuntime).
func ReadDebugOffsets(r core.Reader, addr core.Address) (*DebugOffsets, error) {
	var hdr [24]byte
	if err := r.Read(hdr[:], addr); err != nil {
		return nil, fmt.Errorf("reading _Py_DebugOffsets at %s: %w", addr, err)
	}
	if !bytes.Equal(hdr[:8], []byte(DebugCookie)) {
		return nil, fmt.Errorf("no _Py_DebugOffsets cookie at %s (found %q)", addr, hdr[:8])
	}
	hex := r.Order.Uint64(hdr[8:16])
	v, err := VersionFromHex(hex)
	if err != nil {
		return nil, fmt.Errorf("_Py_DebugOffsets at %s: %w", addr, err)
	}
	ft := r.Order.Uint64(hdr[16:24])
	if ft > 1 {
		return nil, fmt.Errorf("_Py_DebugOffsets at %s: free_threaded is %d, not 0 or 1", addr, ft)
	}
	groups, known := debugOffsetGroups(v)
	d := &DebugOffsets{Version: v, VersionHex: hex, FreeThreaded: ft == 1, Known: known, Fields: map[string]uint64{}}
	n := 0
	for _, g := range groups {
		n += len(g.fields)
	}
	buf := make([]byte, 8*n)
	if err := r.Read(buf, addr.Add(24)); err != nil {
		return nil, fmt.Errorf("reading _Py_DebugOffsets of %s at %s: %w", v, addr, err)
	}
	i := 0
	for _, g := range groups {
		for _, f := range g.fields {
			d.Fields[g.name+"."+f] = r.Order.Uint64(buf[8*i:])
			i++
		}
	}
	d.Size = int64(24 + 8*n)
	return d, nil
}

// Layouts turns the debug offsets into struct layouts, checking every offset
// against its struct's size.
func (d *DebugOffsets) Layouts() (*VersionLayouts, error) {
	structs := map[string]*StructLayout{}
	get := func(name string) *StructLayout {
		s := structs[name]
		if s == nil {
			s = &StructLayout{Name: name}
			structs[name] = s
		}
		return s
	}
	for group, name := range debugOffsetSizes {
		size, ok := d.Fields[group+".size"]
		if !ok {
			continue
		}
		if size == 0 || size > MaxStructSize {
			return nil, fmt.Errorf("_Py_DebugOffsets: %s.size is %d (sizeof %s): not plausible", group, size, name)
		}
		get(name).Size = int64(size)
	}
	add := func(key string, t doTarget, off uint64) error {
		s := get(t.strct)
		if s.Size > 0 && off >= uint64(s.Size) {
			return fmt.Errorf("_Py_DebugOffsets: %s is %d, outside sizeof %s (%d)", key, off, t.strct, s.Size)
		}
		s.Members = append(s.Members, MemberLayout{Path: t.path, Offset: int64(off), Type: t.typ})
		return nil
	}
	for key, off := range d.Fields {
		t, ok := debugOffsetTargets[key]
		if !ok {
			continue
		}
		if off == 0 && onlyInFreeThreaded[key] {
			continue // 0 means "no such member" in a build with the GIL
		}
		if err := add(key, t, off); err != nil {
			return nil, err
		}
	}
	// co_flags is not in the debug offsets, but CPython 3.11+ declares it right
	// after PyObject_VAR_HEAD and three object pointers, and right before
	// co_argcount (which the debug offsets give): take it when both agree.
	if argc, ok := d.Fields["code_object.argcount"]; ok {
		if obj, ok := d.Fields["pyobject.size"]; ok && argc >= 4 && obj+8+3*8 == argc-4 {
			get("PyCodeObject").Members = append(get("PyCodeObject").Members,
				MemberLayout{Path: "co_flags", Offset: int64(argc - 4), Type: "i32"})
		}
	}
	// Unicode sizes describe two more structs.
	if n, ok := d.Fields["unicode_object.asciiobject_size"]; ok && n > 0 && n < 1024 {
		get("PyASCIIObject").Size = int64(n)
		c := int64(n) + 16 // utf8_length and utf8 follow the ASCII header (3.12+)
		if m, ok := d.Fields["unicode_object.compactunicodeobject_size"]; ok && m > n && m < 1024 {
			c = int64(m)
		}
		get("PyCompactUnicodeObject").Size = c
	}
	// The script path's buffer, whose size the table gives.
	if off, ok := d.Fields["debugger_support.debugger_script_path"]; ok {
		if n := d.Fields["debugger_support.debugger_script_path_size"]; n > 0 && n <= 4096 && off < 4096 {
			s := get("_PyRemoteDebuggerSupport")
			s.Members = append(s.Members, MemberLayout{Path: "debugger_script_path", Offset: int64(off), Type: fmt.Sprintf("arr:%d:i8", n)})
			s.Size = int64(off + n)
		}
	}
	// The GIL struct, reached through interp->ceval.gil, from the interpreter-relative offsets.
	if base, ok := d.Fields["interpreter_state.gil_runtime_state"]; ok {
		g := get("struct _gil_runtime_state")
		for key, path := range map[string]string{
			"interpreter_state.gil_runtime_state_locked": "locked",
			"interpreter_state.gil_runtime_state_holder": "last_holder",
		} {
			if off, ok := d.Fields[key]; ok && off >= base && off-base < 4096 {
				typ := "i32"
				if path == "last_holder" {
					typ = "ptr:PyThreadState"
				}
				g.Members = append(g.Members, MemberLayout{Path: path, Offset: int64(off - base), Type: typ})
			}
		}
		// gil_runtime_state_enabled is relative to the GIL struct itself, and 0 in GIL
		// builds; in 3.13t it is 0 too, enabled being the struct's first member.
		if off := d.Fields["interpreter_state.gil_runtime_state_enabled"]; (off != 0 || d.FreeThreaded) && off < 4096 {
			g.Members = append(g.Members, MemberLayout{Path: "enabled", Offset: int64(off), Type: "i32"})
			if err := add("interpreter_state.gil_runtime_state_enabled",
				doTarget{"PyInterpreterState", "_gil.enabled", "i32"}, base+off); err != nil {
				return nil, err
			}
		}
	}
	vl := &VersionLayouts{Version: d.Version.String(), Source: fmt.Sprintf("the debug offsets of CPython %s", d.Version)}
	for _, name := range SortedKeys(structs) {
		s := structs[name]
		SortMembers(s.Members)
		vl.Structs = append(vl.Structs, *s)
	}
	return vl, nil
}
