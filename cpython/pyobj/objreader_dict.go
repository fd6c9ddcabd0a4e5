package pyobj

// Dicts as the object reader sees them: the items of a dict's keys table
// (combined or split, every layout since 3.6), lookups by str key, instance
// attributes wherever a version keeps them, sys.modules and
// threading._active.

import (
	"errors"
	"fmt"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/typesys"
)

// DictEntry is one live item of a dict or of an object's split values.
type DictEntry struct{ Key, Value core.Address }

// dictItems lists the live items of the dict at a in iteration order,
// stopping after limit items; more says whether there were others.
func (r *Reader) DictItems(a core.Address, limit int) (items []DictEntry, more bool, err error) {
	keys, err := r.Ptr(a.Add(r.L.Dict.Keys))
	if err != nil {
		return nil, false, fmt.Errorf("dict at %#x: ma_keys: %w", uint64(a), err)
	}
	values, err := r.Ptr(a.Add(r.L.Dict.Values))
	if err != nil {
		return nil, false, fmt.Errorf("dict at %#x: ma_values: %w", uint64(a), err)
	}
	if keys == 0 {
		return nil, false, fmt.Errorf("dict at %#x: NULL ma_keys", uint64(a))
	}
	items, more, err = r.tableItems(keys, values, limit)
	if err != nil {
		return nil, false, fmt.Errorf("dict at %#x: %w", uint64(a), err)
	}
	return items, more, nil
}

// keysTable is a PyDictKeysObject's entry table.
type keysTable struct {
	entries           core.Address
	nentries          int64
	entrySize, keyOff int64
	valueOff          int64
	general           bool
}

func (r *Reader) readKeys(keys core.Address) (keysTable, error) {
	l := r.L
	var t keysTable
	var slots int64
	var indexBytes int64
	var err error
	if l.Dict.Model == abi.DictV36 {
		size, err := r.I64(keys.Add(l.Dict.KeysSize))
		if err != nil {
			return t, fmt.Errorf("keys at %#x: dk_size: %w", uint64(keys), err)
		}
		if size <= 0 || size > 1<<32 || size&(size-1) != 0 {
			return t, fmt.Errorf("keys at %#x: dk_size %d is not a power of two", uint64(keys), size)
		}
		slots = size
		switch {
		case size <= 0xff:
			indexBytes = size
		case size <= 0xffff:
			indexBytes = 2 * size
		case size <= 0xffffffff:
			indexBytes = 4 * size
		default:
			indexBytes = 8 * size
		}
		t.general = true
	} else {
		log2, err := r.U8(keys.Add(l.Dict.KeysLog2Size))
		if err != nil {
			return t, fmt.Errorf("keys at %#x: dk_log2_size: %w", uint64(keys), err)
		}
		log2ib, err := r.U8(keys.Add(l.Dict.KeysLog2IndexBytes))
		if err != nil {
			return t, fmt.Errorf("keys at %#x: dk_log2_index_bytes: %w", uint64(keys), err)
		}
		kind, err := r.U8(keys.Add(l.Dict.KeysKind))
		if err != nil {
			return t, fmt.Errorf("keys at %#x: dk_kind: %w", uint64(keys), err)
		}
		if log2 > 32 || log2ib > 35 || kind > 2 {
			return t, fmt.Errorf("keys at %#x: dk_log2_size %d, dk_log2_index_bytes %d, dk_kind %d are not plausible", uint64(keys), log2, log2ib, kind)
		}
		slots, indexBytes = int64(1)<<log2, int64(1)<<log2ib
		t.general = kind == DictKeysGeneral
	}
	if t.nentries, err = r.I64(keys.Add(l.Dict.KeysNentries)); err != nil {
		return t, fmt.Errorf("keys at %#x: dk_nentries: %w", uint64(keys), err)
	}
	if t.nentries < 0 || t.nentries > slots {
		return t, fmt.Errorf("keys at %#x: dk_nentries %d outside 0..%d", uint64(keys), t.nentries, slots)
	}
	t.entries = keys.Add(l.Dict.KeysIndices + indexBytes)
	if t.general {
		t.entrySize, t.keyOff, t.valueOff = 3*l.Ptr, l.Ptr, 2*l.Ptr // {me_hash, me_key, me_value}
	} else {
		t.entrySize, t.keyOff, t.valueOff = 2*l.Ptr, 0, l.Ptr // {me_key, me_value}
	}
	return t, nil
}

// splitOrder gives, for each value of a split table in insertion order,
// the index of its key in the shared keys.
func (r *Reader) splitOrder(values core.Address, nentries int64) (order []int64, err error) {
	l := r.L
	switch l.Dict.Model {
	case abi.DictV36:
		order = make([]int64, nentries)
		for i := range order {
			order[i] = int64(i)
		}
		return order, nil
	case abi.DictV311:
		// The bytes before values[]: [-1] prefix size, [-2] values used,
		// [-3-i] the index of the i-th value inserted.
		used, err := r.U8(values.Add(-2))
		if err != nil {
			return nil, fmt.Errorf("split values at %#x: used count: %w", uint64(values), err)
		}
		buf := make([]byte, used)
		if used > 0 {
			if err := r.p.R.Read(buf, values.Add(-2-int64(used))); err != nil {
				return nil, fmt.Errorf("split values at %#x: insertion order: %w", uint64(values), err)
			}
		}
		order = make([]int64, used)
		for i := range order {
			order[i] = int64(buf[len(buf)-1-i])
		}
		return order, nil
	default:
		var hdr [2]byte
		if err := r.p.R.Read(hdr[:], values); err != nil {
			return nil, fmt.Errorf("split values at %#x: header: %w", uint64(values), err)
		}
		capacity, size := int64(hdr[0]), int64(hdr[1])
		if size > capacity {
			return nil, fmt.Errorf("split values at %#x: size %d above capacity %d", uint64(values), size, capacity)
		}
		buf := make([]byte, size)
		if size > 0 {
			if err := r.p.R.Read(buf, values.Add(l.Dict.ValuesItems+capacity*l.Ptr)); err != nil {
				return nil, fmt.Errorf("split values at %#x: insertion order: %w", uint64(values), err)
			}
		}
		order = make([]int64, size)
		for i := range order {
			order[i] = int64(buf[i])
		}
		return order, nil
	}
}

// tableItems lists live items of a keys table, with split values if values
// is not 0.
func (r *Reader) tableItems(keys, values core.Address, limit int) ([]DictEntry, bool, error) {
	l := r.L
	t, err := r.readKeys(keys)
	if err != nil {
		return nil, false, err
	}
	var items []DictEntry
	if values == 0 {
		// Combined table: entries in insertion order, deleted ones with a NULL value.
		buf := make([]byte, min(t.nentries, MaxEntryChunk)*t.entrySize)
		for start := int64(0); start < t.nentries && start < HardMaxItems; start += MaxEntryChunk {
			n := min(t.nentries-start, MaxEntryChunk)
			chunk := buf[:n*t.entrySize]
			if err := r.p.R.Read(chunk, t.entries.Add(start*t.entrySize)); err != nil {
				return items, false, fmt.Errorf("entries %d..%d: %w", start, start+n, err)
			}
			for i := int64(0); i < n; i++ {
				e := chunk[i*t.entrySize:]
				v := core.Address(r.Word(e[t.valueOff:]))
				if v == 0 {
					continue
				}
				if len(items) >= limit {
					return items, true, nil
				}
				items = append(items, DictEntry{core.Address(r.Word(e[t.keyOff:])), v})
			}
		}
		return items, false, nil
	}
	order, err := r.splitOrder(values, t.nentries)
	if err != nil {
		return nil, false, err
	}
	data := values
	if l.Dict.Model == abi.DictV313 {
		data = values.Add(l.Dict.ValuesItems)
	}
	for _, ix := range order {
		if ix < 0 || ix >= t.nentries {
			return items, false, fmt.Errorf("split values at %#x: key index %d outside 0..%d", uint64(values), ix, t.nentries)
		}
		v, err := r.Ptr(data.Add(ix * l.Ptr))
		if err != nil {
			return items, false, fmt.Errorf("split values at %#x: value %d: %w", uint64(values), ix, err)
		}
		if v == 0 {
			continue
		}
		k, err := r.Ptr(t.entries.Add(ix*t.entrySize + t.keyOff))
		if err != nil {
			return items, false, fmt.Errorf("shared keys at %#x: key %d: %w", uint64(keys), ix, err)
		}
		if len(items) >= limit {
			return items, true, nil
		}
		items = append(items, DictEntry{k, v})
	}
	return items, false, nil
}

// MaxLookupItems bounds the items a lookup by name scans.
const MaxLookupItems = 1 << 16

// dictGetStr finds the value of a str key in the dict at d.
func (r *Reader) DictGetStr(d core.Address, key string) (core.Address, bool, error) {
	items, _, err := r.DictItems(d, MaxLookupItems)
	if err != nil {
		return 0, false, err
	}
	return r.FindStrKey(items, key)
}

func (r *Reader) FindStrKey(items []DictEntry, key string) (core.Address, bool, error) {
	want := []rune(key)
	for _, it := range items {
		cps, total, err := r.StrCodepoints(it.Key, len(want)+1)
		if err != nil || total != int64(len(want)) {
			continue
		}
		if string(cps) == string(want) {
			return it.Value, true, nil
		}
	}
	return 0, false, nil
}

// instanceItems lists the attributes of an instance, wherever this version
// keeps them.
func (r *Reader) InstanceItems(obj core.Address) ([]DictEntry, error) {
	l := r.L
	tp, err := r.Ptr(obj.Add(l.Object.Type))
	if err != nil {
		return nil, err
	}
	ti := r.TypeOf(tp)
	if ti.Err != nil {
		return nil, ti.Err
	}
	fromDict := func(d core.Address) ([]DictEntry, error) {
		if d == 0 {
			return nil, nil
		}
		items, _, err := r.DictItems(d, MaxLookupItems)
		return items, err
	}
	fromValues := func(values core.Address) ([]DictEntry, error) {
		keys, err := r.Ptr(tp.Add(l.HeapType.CachedKeys))
		if err != nil {
			return nil, fmt.Errorf("ht_cached_keys of %s: %w", ti.Name, err)
		}
		if keys == 0 {
			return nil, fmt.Errorf("%s has inline attribute values but no shared keys", ti.Name)
		}
		items, _, err := r.tableItems(keys, values, MaxLookupItems)
		return items, err
	}
	if l.Type.Basicsize < 0 || l.Type.Dictoffset < 0 || l.Type.Itemsize < 0 {
		return nil, fmt.Errorf("instance attributes: %s does not say where PyTypeObject keeps tp_basicsize and tp_dictoffset", r.p.Types.Describe())
	}
	managed := ti.Flags&TPFlagsManagedDict != 0
	switch {
	case l.Instance.Model == abi.InstValues311 && managed:
		values, err := r.Ptr(obj.Add(-4 * l.Ptr))
		if err != nil {
			return nil, err
		}
		if values != 0 && l.HeapType.CachedKeys >= 0 {
			return fromValues(values)
		}
		d, err := r.Ptr(obj.Add(l.Instance.ManagedDict))
		if err != nil {
			return nil, err
		}
		return fromDict(d)
	case l.Instance.Model == abi.InstDorv312 && managed:
		dorv, err := r.Ptr(obj.Add(l.Instance.ManagedDict))
		if err != nil {
			return nil, err
		}
		if dorv&1 == 1 && l.HeapType.CachedKeys >= 0 {
			return fromValues(dorv + 1)
		}
		return fromDict(dorv)
	case l.Instance.Model == abi.InstInline313 && managed:
		d, err := r.Ptr(obj.Add(l.Instance.ManagedDict))
		if err != nil {
			return nil, err
		}
		if d != 0 {
			return fromDict(d)
		}
		if ti.Flags&TPFlagsInlineValues != 0 && l.HeapType.CachedKeys >= 0 {
			basic, err := r.I64(tp.Add(l.Type.Basicsize))
			if err != nil {
				return nil, err
			}
			if basic <= 0 || basic > 1<<20 {
				return nil, fmt.Errorf("%s: tp_basicsize %d is not plausible", ti.Name, basic)
			}
			values := obj.Add(basic)
			valid, err := r.U8(values.Add(3))
			if err != nil {
				return nil, err
			}
			if valid != 0 {
				return fromValues(values)
			}
		}
		return nil, nil
	}
	d, err := r.offsetDict(obj, tp, ti)
	if err != nil {
		return nil, err
	}
	return fromDict(d)
}

// offsetDict is the dict pointer at tp_dictoffset (0 if there is none);
// negative offsets count from the end of a variable-sized object.
func (r *Reader) offsetDict(obj, tp core.Address, ti *TypeInfo) (core.Address, error) {
	l := r.L
	doff, err := r.I64(tp.Add(l.Type.Dictoffset))
	if err != nil {
		return 0, err
	}
	if doff == 0 {
		return 0, nil
	}
	if doff < 0 {
		basic, err1 := r.I64(tp.Add(l.Type.Basicsize))
		item, err2 := r.I64(tp.Add(l.Type.Itemsize))
		size, err3 := r.I64(obj.Add(l.Object.Size))
		if err := errors.Join(err1, err2, err3); err != nil {
			return 0, err
		}
		if size < 0 {
			size = -size
		}
		total := (basic + size*item + l.Ptr - 1) &^ (l.Ptr - 1)
		doff += total
	}
	if doff < 0 || doff > 1<<20 {
		return 0, fmt.Errorf("%s: instance dict offset %d is not plausible", ti.Name, doff)
	}
	return r.Ptr(obj.Add(doff))
}

// attr finds an instance attribute by name.
func (r *Reader) Attr(obj core.Address, name string) (core.Address, bool) {
	items, err := r.InstanceItems(obj)
	if err != nil {
		return 0, false
	}
	v, ok, _ := r.FindStrKey(items, name)
	return v, ok
}

// moduleDict returns the __dict__ of sys.modules[name] in one interpreter;
// found is false when the module was never imported there (or sys.modules is
// not set up, or already torn down).
func (r *Reader) ModuleDict(interp typesys.Value, name string) (dict core.Address, found bool, err error) {
	var modules typesys.Value
	for _, path := range []string{"imports.modules", "modules"} {
		if modules, err = interp.Path(path); err == nil {
			break
		}
	}
	if err != nil {
		return 0, false, err
	}
	mods, err := rawWord(modules)
	if err != nil {
		return 0, false, fmt.Errorf("sys.modules: %w", err)
	}
	if mods == 0 {
		return 0, false, nil
	}
	mod, ok, err := r.DictGetStr(core.Address(mods), name)
	if err != nil {
		return 0, false, fmt.Errorf("sys.modules: %w", err)
	}
	if !ok {
		return 0, false, nil
	}
	md, err := r.Ptr(mod.Add(r.L.Module.Dict))
	if err != nil {
		return 0, false, fmt.Errorf("%s.__dict__: %w", name, err)
	}
	return md, true, nil
}

// AddThreadNames adds the names in one interpreter's threading._active.
func (r *Reader) AddThreadNames(interp typesys.Value, names map[uint64]string) error {
	items, err := r.ThreadingActive(interp)
	if err != nil {
		return err
	}
	for _, it := range items {
		ident, err := r.IntValue(it.Key)
		if err != nil || ident.Sign() < 0 || !ident.IsUint64() {
			continue
		}
		nameObj, ok := r.Attr(it.Value, "_name")
		if !ok {
			continue
		}
		cps, _, err := r.StrCodepoints(nameObj, 1024)
		if err != nil {
			continue
		}
		names[ident.Uint64()] = CodepointsToString(cps)
	}
	return nil
}

// threadingActive lists the items of an interpreter's threading._active
// (ident -> Thread); none if threading was never imported.
func (r *Reader) ThreadingActive(interp typesys.Value) ([]DictEntry, error) {
	md, ok, err := r.ModuleDict(interp, "threading")
	if err != nil || !ok {
		return nil, err // threading was never imported: no Thread objects
	}
	active, ok, err := r.DictGetStr(md, "_active")
	if err != nil || !ok {
		return nil, fmt.Errorf("threading._active: not found (%v)", err)
	}
	items, _, err := r.DictItems(active, MaxLookupItems)
	if err != nil {
		return nil, fmt.Errorf("threading._active: %w", err)
	}
	return items, nil
}

// rawWord is a pointer-sized value as stored (the walker's rule): read from
// memory when v is in memory, else v's own bits.
func rawWord(v typesys.Value) (uint64, error) {
	if !v.InMemory {
		return v.Uint()
	}
	a, err := v.Reader().Ptr(v.Addr)
	return uint64(a), err
}
