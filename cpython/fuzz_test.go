package cpython

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/typesys"
)

// Fuzzing the walker and the object renderer over hostile memory.
//
// A fuzz input is a process image: a small header (the CPython version and
// build, where the runtime or the objects are, which addresses are the builtin
// types and singletons) and ranges of memory. The seeds in
// testdata/fuzz/Fuzz{Snapshot,Repr,DebugOffsets} are the memory pycore itself
// read from real cores (TestRecordedImagesReplayLikeTheCore records and checks
// them; PYCORE_UPDATE_FUZZ_SEEDS=1 rewrites them), so mutations start from
// valid-looking structures and pointers and reach deep into the walk.

// Image header: "pycoreimg1", major, minor, micro, flags, code type, then
// symbols and roots, then memory ranges to the end.
const (
	imageMagic     = "pycoreimg1"
	imageFree      = 1 // flags: free-threaded build
	imageDebug     = 2 // flags: Py_DEBUG build
	tagSingleton   = 64
	tagBaseExc     = 128
	tagExcGroup    = 129
	maxImageRoots  = 1 << 10
	maxImageRanges = 1 << 16
)

type memRange struct {
	addr core.Address
	data []byte
}

// image is a process image for fuzzing.
type image struct {
	version      abi.Version
	freeThreaded bool
	debug        bool
	codeType     core.Address
	syms         []imageSym     // builtin types, singletons, PyExc_BaseException's type
	roots        []core.Address // Snapshot: the runtime; Repr: objects to render
	ranges       []memRange
}

// imageSym is an address the renderer knows by symbol: tag < 64 is an index
// into builtinTypes, 64+i into singletonSymbols, 128 the base exception type.
type imageSym struct {
	tag  uint8
	addr core.Address
}

func (im *image) encode() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString(imageMagic)
	flags := byte(0)
	if im.freeThreaded {
		flags |= imageFree
	}
	if im.debug {
		flags |= imageDebug
	}
	b.Write([]byte{byte(im.version.Major), byte(im.version.Minor), byte(im.version.Micro), flags})
	b.Write(le.AppendUint64(nil, uint64(im.codeType)))
	b.Write(le.AppendUint16(nil, uint16(len(im.syms))))
	for _, s := range im.syms {
		b.WriteByte(s.tag)
		b.Write(le.AppendUint64(nil, uint64(s.addr)))
	}
	b.Write(le.AppendUint16(nil, uint16(len(im.roots))))
	for _, r := range im.roots {
		b.Write(le.AppendUint64(nil, uint64(r)))
	}
	for _, r := range im.ranges {
		b.Write(le.AppendUint64(nil, uint64(r.addr)))
		b.Write(le.AppendUint32(nil, uint32(len(r.data))))
		b.Write(r.data)
	}
	return b.Bytes()
}

// parseImage reads an image, leniently: a range cut short by the end of the
// input keeps what there is of it. ok is false when the header is unusable.
func parseImage(b []byte) (im *image, ok bool) {
	le := binary.LittleEndian
	if !bytes.HasPrefix(b, []byte(imageMagic)) || len(b) < len(imageMagic)+14 {
		return nil, false
	}
	b = b[len(imageMagic):]
	im = &image{version: abi.Version{Major: int(b[0]), Minor: int(b[1]), Micro: int(b[2])},
		freeThreaded: b[3]&imageFree != 0, debug: b[3]&imageDebug != 0}
	im.codeType = core.Address(le.Uint64(b[4:]))
	n := int(le.Uint16(b[12:]))
	b = b[14:]
	if len(b) < 9*n {
		return nil, false
	}
	for i := 0; i < n; i++ {
		im.syms = append(im.syms, imageSym{b[9*i], core.Address(le.Uint64(b[9*i+1:]))})
	}
	b = b[9*n:]
	if len(b) < 2 {
		return nil, false
	}
	n = int(le.Uint16(b))
	b = b[2:]
	if n > maxImageRoots || len(b) < 8*n {
		return nil, false
	}
	for i := 0; i < n; i++ {
		im.roots = append(im.roots, core.Address(le.Uint64(b[8*i:])))
	}
	b = b[8*n:]
	for len(b) >= 12 && len(im.ranges) < maxImageRanges {
		addr, size := core.Address(le.Uint64(b)), int(le.Uint32(b[8:]))
		b = b[12:]
		size = min(size, len(b))
		im.ranges = append(im.ranges, memRange{addr, b[:size]})
		b = b[size:]
	}
	return im, true
}

// sparseMem is memory made of ranges; where ranges overlap the one with the
// lower address (or, at the same address, the earlier one) wins.
type sparseMem struct {
	ranges []memRange // sorted by address, not overlapping
}

func newSparseMem(ranges []memRange) *sparseMem {
	rs := append([]memRange(nil), ranges...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].addr < rs[j].addr })
	m := &sparseMem{}
	for _, r := range rs {
		if end := r.addr.Add(int64(len(r.data))); end < r.addr {
			r.data = r.data[:uint64(-r.addr)] // up to the end of the address space
		}
		if n := len(m.ranges); n > 0 {
			prev := m.ranges[n-1]
			if prevEnd := prev.addr.Add(int64(len(prev.data))); prevEnd > r.addr {
				cut := uint64(prevEnd - r.addr)
				if cut >= uint64(len(r.data)) {
					continue
				}
				r = memRange{prevEnd, r.data[cut:]}
			}
		}
		if len(r.data) > 0 {
			m.ranges = append(m.ranges, r)
		}
	}
	return m
}

func (m *sparseMem) ReadAt(p []byte, addr core.Address) (int, error) {
	n := 0
	for n < len(p) {
		a := addr.Add(int64(n))
		i := sort.Search(len(m.ranges), func(i int) bool {
			r := m.ranges[i]
			return r.addr.Add(int64(len(r.data))) > a
		})
		if i == len(m.ranges) || m.ranges[i].addr > a || a < addr {
			return n, &core.ReadError{Addr: a, Size: len(p), Reason: "not mapped"}
		}
		r := m.ranges[i]
		n += copy(p[n:], r.data[a.Sub(r.addr):])
	}
	return n, nil
}

// recorder remembers every byte read through it.
type recorder struct {
	m     core.Memory
	bytes map[core.Address]byte
}

func (r *recorder) ReadAt(p []byte, addr core.Address) (int, error) {
	n, err := r.m.ReadAt(p, addr)
	for i := 0; i < n; i++ {
		r.bytes[addr.Add(int64(i))] = p[i]
	}
	return n, err
}

// ranges returns what was read, as ranges of adjacent bytes.
func (r *recorder) ranges() []memRange {
	addrs := make([]core.Address, 0, len(r.bytes))
	for a := range r.bytes {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	var rs []memRange
	for i, a := range addrs {
		if i == 0 || a != addrs[i-1]+1 {
			rs = append(rs, memRange{addr: a})
		}
		rs[len(rs)-1].data = append(rs[len(rs)-1].data, r.bytes[a])
	}
	return rs
}

// imageProcess sets up a Process over an image's memory the way Open does
// over a core, without symbols: the version from the debug offsets (3.13+)
// or the header, types from the debug offsets or the generated tables.
func imageProcess(im *image) (*Process, error) {
	if len(im.roots) == 0 {
		return nil, errors.New("no roots")
	}
	mem := newSparseMem(im.ranges)
	r := core.Reader{Mem: mem, Order: binary.LittleEndian, PtrSize: 8}
	p := &Process{Core: &core.Process{Path: "fuzz", ByteOrder: r.Order, PtrSize: 8}, R: r, RuntimeAddr: im.roots[0]}
	p.codeRd = &codeReader{r: r}
	if d, err := abi.ReadDebugOffsets(r, im.roots[0]); err == nil {
		p.DebugOffsets, p.Version, p.FreeThreaded = d, d.Version, d.FreeThreaded
	} else {
		p.Version, p.FreeThreaded, p.Debug = im.version, im.freeThreaded, im.debug
	}
	if !p.Version.AtLeast(3, 7) {
		return nil, fmt.Errorf("version %s: the image harness starts at 3.7", p.Version)
	}
	fl, err := abi.FlavorFor(p.Version, p.FreeThreaded)
	if err != nil {
		return nil, err
	}
	p.flavor = fl
	key := fmt.Sprintf("%s %v %v", p.Version, p.FreeThreaded, p.Debug)
	if ts, ok := tableTypes.Load(key); ok && p.DebugOffsets == nil {
		p.Types = ts.(abi.TypeSource) // built once: the tables are the same for every input
	} else {
		if err := p.chooseTypes(TypesBuiltin); err != nil {
			return nil, err
		}
		if p.DebugOffsets == nil {
			tableTypes.Store(key, p.Types)
		}
	}
	rt, err := p.Types.Struct("_PyRuntimeState")
	if err != nil {
		return nil, err
	}
	p.Runtime = typesys.At(p.R, rt, im.roots[0])
	if p.codeRd.layout, err = abi.ResolveStr(p.Types, p.flavor.Str); err != nil {
		return nil, err
	}
	p.codeTyp = im.codeType
	l := pyobj.NewLayout(p.objects(), p.R, nil)
	for _, s := range im.syms {
		l.AddSymTag(p.R, pyobj.SymTag{Tag: s.tag, Addr: s.addr})
	}
	setObjLayout(p, l)
	return p, nil
}

var tableTypes sync.Map // "version ft debug" -> TypeSource from the generated tables

// setObjLayout makes l the layout p's object reader reads with.
func setObjLayout(p *Process, l *pyobj.Layout) {
	p.objOnce.Do(func() {})
	p.objRd, p.objErr = pyobj.NewReader(p.objProc(), l), nil
}

// readSeedImages reads the committed seeds of a target.
func readSeedImages(t testing.TB, target string) map[string]*image {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	out := map[string]*image{}
	for _, f := range files {
		data, err := readCorpusFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		im, ok := parseImage(data)
		if !ok {
			t.Fatalf("%s: not an image", f)
		}
		out[filepath.Base(f)] = im
	}
	return out
}

// readCorpusFile decodes a one-[]byte go fuzz corpus file.
func readCorpusFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(data))
	s, ok := strings.CutPrefix(s, "go test fuzz v1\n[]byte(")
	if !ok || !strings.HasSuffix(s, ")") {
		return nil, errors.New("not a go test fuzz v1 file of one []byte")
	}
	u, err := strconv.Unquote(strings.TrimSuffix(s, ")"))
	return []byte(u), err
}

func writeCorpusFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)), 0o644)
}

// FuzzSnapshot walks every interpreter, thread and frame of an image: no
// input may panic, hang or give more than the walker's bounds allow.
func FuzzSnapshot(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		im, ok := parseImage(data)
		if !ok {
			return
		}
		p, err := imageProcess(im)
		if err != nil {
			return
		}
		s, err := p.Snapshot()
		if err != nil {
			return
		}
		if len(s.Threads) > maxThreads*maxInterpreters {
			t.Fatalf("%d threads", len(s.Threads))
		}
		for _, th := range s.Threads {
			if len(th.Frames) > maxFrames {
				t.Fatalf("thread %#x: %d frames", th.ThreadID, len(th.Frames))
			}
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("snapshot does not marshal: %v", err)
		}
		p.ThreadNames()
	})
}

// FuzzRepr renders the objects of an image: Repr never panics, and keeps to
// its bounds whatever the memory says.
func FuzzRepr(f *testing.F) {
	opts := ReprOptions{MaxDepth: 8, MaxLength: 100, MaxString: 300, MaxTotal: 4000}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, ok := parseImage(data)
		if !ok {
			return
		}
		p, err := imageProcess(im)
		if err != nil {
			return
		}
		for _, root := range im.roots[1:] {
			o := p.Object(root, opts)
			if len(o.Repr) > opts.MaxTotal+3 {
				t.Fatalf("object at %#x: repr of %d bytes, MaxTotal is %d", uint64(root), len(o.Repr), opts.MaxTotal)
			}
			if _, err := json.Marshal(o); err != nil {
				t.Fatalf("object at %#x does not marshal: %v", uint64(root), err)
			}
			p.ReadStr(root, 100)
			p.ReadBytes(root, 100)
			p.ReadInt(root)
		}
	})
}

// FuzzDebugOffsets decodes a _Py_DebugOffsets table and builds every type
// and layout from it: a corrupt table is an error, never a panic.
func FuzzDebugOffsets(f *testing.F) {
	f.Fuzz(func(t *testing.T, table []byte) {
		const at = 0x10000
		r := core.Reader{Mem: &sparseMem{ranges: []memRange{{at, table}}}, Order: binary.LittleEndian, PtrSize: 8}
		d, err := abi.ReadDebugOffsets(r, at)
		if err != nil {
			return
		}
		vl, err := d.Layouts()
		if err != nil {
			return
		}
		ts, err := abi.NewLayoutTypes(vl, 8)
		if err != nil {
			return
		}
		fl, err := abi.FlavorFor(d.Version, d.FreeThreaded)
		if err != nil {
			return
		}
		p := &Process{R: r, Version: d.Version, FreeThreaded: d.FreeThreaded, Types: ts, codeRd: &codeReader{r: r}, flavor: fl}
		if p.codeRd.layout, err = abi.ResolveStr(ts, fl.Str); err != nil {
			return
		}
		pyobj.NewLayout(p.objects(), p.R, nil)
		for _, name := range []string{"_PyRuntimeState", "PyThreadState", "_PyInterpreterFrame", "PyCodeObject"} {
			if st, err := ts.Struct(name); err == nil {
				for _, m := range st.Members {
					if m.Offset < 0 || (st.Size > 0 && m.Offset > st.Size) {
						t.Fatalf("%s.%s at %d outside its %d bytes", name, m.Name, m.Offset, st.Size)
					}
				}
			}
		}
	})
}

// lineTableSeeds are real line tables of every format, from the fixtures
// CPython itself wrote (testdata/linetables).
func lineTableSeeds(f *testing.F, minors func(int) bool) {
	files, _ := filepath.Glob("testdata/linetables/3.*.json")
	for _, file := range files {
		var fx struct {
			Version string
			Codes   []struct {
				Firstlineno int
				Table       string
			}
		}
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if err := json.Unmarshal(data, &fx); err != nil {
			f.Fatal(err)
		}
		v, err := abi.ParseVersion(fx.Version)
		if err != nil || !minors(v.Minor) {
			continue
		}
		for i, c := range fx.Codes {
			if i%8 != 0 {
				continue // a sample is plenty
			}
			tab, err := hex.DecodeString(c.Table)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(tab, c.Firstlineno, 10)
		}
	}
}

// tableEntry is one address range of a line table and its line.
type tableEntry struct {
	start, end int
	line       int
	has        bool
}

// Reference decoders: each lists a whole table's entries in order, the way
// CPython's own iterators do, without the early exit of the lookups.
func lnotabEntries(tab []byte, first int) []tableEntry {
	var out []tableEntry
	line, a := first, 0
	for i := 0; i+1 < len(tab); i += 2 {
		out = append(out, tableEntry{a, a + int(tab[i]), line, true})
		a += int(tab[i])
		line += int(int8(tab[i+1]))
	}
	return append(out, tableEntry{a, 1 << 62, line, true})
}

func linetable310Entries(tab []byte, first int) []tableEntry {
	var out []tableEntry
	line, start := first, 0
	for i := 0; i+1 < len(tab); i += 2 {
		delta := int8(tab[i+1])
		if delta != -128 {
			line += int(delta)
		}
		out = append(out, tableEntry{start, start + int(tab[i]), line, delta != -128})
		start += int(tab[i])
	}
	return out
}

func locationEntries(tab []byte, first int) []tableEntry {
	var out []tableEntry
	line, start := first, 0
	varint := func(i int) (int, int) {
		v, shift := 0, 0
		for k := 0; i+k < len(tab) && k < 6; k++ {
			v |= int(tab[i+k]&63) << shift
			if tab[i+k]&64 == 0 {
				return v, i + k + 1
			}
			shift += 6
		}
		return v, len(tab)
	}
	svarint := func(i int) (int, int) {
		u, next := varint(i)
		if u&1 != 0 {
			return -(u >> 1), next
		}
		return u >> 1, next
	}
	for i := 0; i < len(tab); {
		b := tab[i]
		if b&0x80 == 0 {
			break
		}
		i++
		kind, length := int(b>>3)&15, int(b&7)+1
		has := kind != 15
		switch {
		case kind == 15:
		case kind == 14:
			var d int
			d, i = svarint(i)
			line += d
			for k := 0; k < 3; k++ {
				_, i = varint(i)
			}
		case kind == 13:
			var d int
			d, i = svarint(i)
			line += d
		case kind >= 10:
			line += kind - 10
			i += 2
		default:
			i++
		}
		out = append(out, tableEntry{start, start + length, line, has})
		start += length
	}
	return out
}

func lookup(es []tableEntry, pos int) (int, bool) {
	for _, e := range es {
		if e.start <= pos && pos < e.end {
			return e.line, e.has
		}
	}
	return 0, false
}

// FuzzLineTables checks each decoder against a reference that decodes the
// whole table, on any bytes: the lookup must find the entry the full decode
// puts the position in, and never read past the table.
func FuzzLineTables(f *testing.F) {
	lineTableSeeds(f, func(int) bool { return true })
	f.Add([]byte{0x80 | 14<<3, 0x41}, 1, 0)
	f.Add([]byte{4}, 7, 100)
	f.Fuzz(func(t *testing.T, tab []byte, first, pos int) {
		if first < -1<<40 || first > 1<<40 {
			return // lines are C ints; keep the sums exact
		}
		if got, want := abi.LineFromLnotab(tab, first, pos), lnotabLookup(tab, first, pos); got != want {
			t.Errorf("lnotab %x at %d: %d, reference %d", tab, pos, got, want)
		}
		got, ok := abi.LineFromLinetable310(tab, first, pos)
		want, wantOK := lookup(linetable310Entries(tab, first), pos)
		if pos < 0 {
			want, wantOK = first, true
		}
		if got != want || ok != wantOK {
			t.Errorf("3.10 linetable %x at %d: %d %v, reference %d %v", tab, pos, got, ok, want, wantOK)
		}
		got, ok = abi.LineFromLocationTable(tab, first, pos)
		want, wantOK = lookup(locationEntries(tab, first), pos)
		if pos < 0 {
			want, wantOK = first, true
		}
		if got != want || ok != wantOK {
			t.Errorf("location table %x at %d: %d %v, reference %d %v", tab, pos, got, ok, want, wantOK)
		}
	})
}

// lnotabLookup: co_lnotab has no "no line" entries; a position past the last
// address delta is on the last line.
func lnotabLookup(tab []byte, first, pos int) int {
	line := first
	for _, e := range lnotabEntries(tab, first) {
		if e.start > pos {
			break
		}
		line = e.line
	}
	return line
}
