package typesys_test

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/typesys"
)

// fmtMemory is a buffer at a base address for the formatter's unit tests
// (the formatter is tested on real cores through query and e2e).
type fmtMemory struct {
	base core.Address
	b    []byte
}

func (m fmtMemory) ReadAt(p []byte, addr core.Address) (int, error) {
	if addr < m.base || addr.Sub(m.base) >= int64(len(m.b)) {
		return 0, &core.ReadError{Addr: addr, Size: len(p), Reason: "not mapped"}
	}
	n := copy(p, m.b[addr.Sub(m.base):])
	if n < len(p) {
		return n, &core.ReadError{Addr: addr.Add(int64(n)), Size: len(p), Reason: "not mapped"}
	}
	return n, nil
}

// formatWorld is a struct with every kind of member at 0x1000:
//
//	struct rec {
//		int id;                       // 0
//		unsigned flags : 3;           // 4, bits 0-2
//		enum state st;                // 8
//		char name[8];                 // 12
//		char *label;                  // 24 -> "hi\n\"there\""
//		union { long l; double d; };  // 32, anonymous
//		short arr[3];                 // 40
//		struct rec *self;             // 48
//		char *dangling;               // 56 -> unmapped
//	};
func formatWorld() (core.Reader, *typesys.Type) {
	const base = 0x1000
	mem := fmtMemory{base: base, b: make([]byte, 128)}
	r := core.Reader{Mem: mem, Order: binary.LittleEndian, PtrSize: 8}
	i32 := &typesys.Type{Kind: typesys.Int, Name: "int", Size: 4, Signed: true}
	u32 := &typesys.Type{Kind: typesys.Int, Name: "unsigned int", Size: 4}
	i16 := &typesys.Type{Kind: typesys.Int, Name: "short", Size: 2, Signed: true}
	i64 := &typesys.Type{Kind: typesys.Int, Name: "long", Size: 8, Signed: true}
	dbl := &typesys.Type{Kind: typesys.Float, Name: "double", Size: 8}
	char := &typesys.Type{Kind: typesys.Int, Name: "char", Size: 1, Signed: true}
	enum := &typesys.Type{Kind: typesys.Enum, Name: "enum state", Size: 4, Enumerators: []typesys.Enumerator{{Name: "IDLE", Value: 0}, {Name: "BUSY", Value: 2}}}
	anon := &typesys.Type{Kind: typesys.Union, Size: 8, Members: []*typesys.Member{
		{Name: "l", Type: i64}, {Name: "d", Type: dbl}}}
	rec := &typesys.Type{Kind: typesys.Struct, Name: "struct rec", Size: 64}
	rec.Members = []*typesys.Member{
		{Name: "id", Offset: 0, Type: i32},
		{Name: "flags", Offset: 4, Type: u32, BitSize: 3},
		{Name: "st", Offset: 8, Type: enum},
		{Name: "name", Offset: 12, Type: &typesys.Type{Kind: typesys.Array, Elem: char, Len: 8, Size: 8}},
		{Name: "label", Offset: 24, Type: typesys.PointerTo(char, 8)},
		{Name: "", Offset: 32, Type: anon},
		{Name: "arr", Offset: 40, Type: &typesys.Type{Kind: typesys.Array, Elem: i16, Len: 3, Size: 6}},
		{Name: "self", Offset: 48, Type: typesys.PointerTo(rec, 8)},
		{Name: "dangling", Offset: 56, Type: typesys.PointerTo(char, 8)},
	}
	b := mem.b
	binary.LittleEndian.PutUint32(b[0:], 0xffffffff) // -1
	b[4] = 0b11111101                                // flags = 5, other bits set
	binary.LittleEndian.PutUint32(b[8:], 2)
	copy(b[12:], "ab\x00c")
	binary.LittleEndian.PutUint64(b[24:], base+80)
	binary.LittleEndian.PutUint64(b[32:], 1234)
	binary.LittleEndian.PutUint16(b[40:], 7)
	binary.LittleEndian.PutUint16(b[42:], 0xfff8) // -8
	binary.LittleEndian.PutUint64(b[48:], base)
	binary.LittleEndian.PutUint64(b[56:], 0x10)
	copy(b[80:], "hi\n\"there\"\x00")
	return r, rec
}

func TestFormatPrintsEveryKindOfMember(t *testing.T) {
	r, rec := formatWorld()
	v := typesys.At(r, rec, 0x1000)
	o := typesys.DefaultFormat()
	o.Symbolize = func(a core.Address) string {
		if a == 0x1000 {
			return "the_rec"
		}
		return ""
	}
	got, err := typesys.Format(v, o)
	if err != nil {
		t.Fatal(err)
	}
	want := `(struct rec) {
	.id = (int) -1,
	.flags = (unsigned int:3) 5,
	.st = (enum state) BUSY,
	.name = (char [8]) "ab\000c",
	.label = (char *) 0x1050 "hi\n\"there\"",
	(union {...}) {
		.l = (long) 1234,
		.d = (double) 6.097e-321,
	},
	.arr = (short [3]) { 7, -8, 0 },
	.self = (struct rec *) 0x1000 <the_rec>,
	.dangling = (char *) 0x10 <unreadable: read 64 bytes at 0x10: not mapped>,
}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	o.Hex, o.MemberTypes, o.ArrayLimit = true, false, 2
	got, _ = typesys.Format(v, o)
	for _, w := range []string{".id = 0xffffffff,", ".arr = { 0x7, 0xfff8, ... (1 more) }", ".flags = 0x5,"} {
		if !strings.Contains(got, w) {
			t.Errorf("hex, no member types, 2 elements: lacks %q:\n%s", w, got)
		}
	}
	o = typesys.DefaultFormat()
	o.Depth = 0
	if got, _ := typesys.Format(v, o); got != "(struct rec) {...}" {
		t.Errorf("depth 0: %s", got)
	}
	o.MaxLines = 3
	o.Depth = 3
	if got, _ := typesys.Format(v, o); !strings.Contains(got, "... output cut at 3 lines") {
		t.Errorf("MaxLines 3: %s", got)
	}
	// A scalar that cannot be read is an error at the top, a reason inside.
	if _, err := typesys.Format(typesys.At(r, rec.Members[0].Type, 0x10), typesys.DefaultFormat()); err == nil {
		t.Error("an unreadable int formats without error")
	}
}

func TestJSONKeepsMemberOrderAndMarksWhatItCannotRead(t *testing.T) {
	r, rec := formatWorld()
	j, err := typesys.JSONOf(typesys.At(r, rec, 0x1000), typesys.DefaultFormat())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"struct rec","address":4096,"value":{"id":-1,"flags":5,"st":"BUSY","name":"ab\u0000c","label":"hi\n\"there\"",` +
		`"l":1234,"d":6.097e-321,"arr":[7,-8,0],"self":4096,"dangling":{"pointer":16,"error":"read 64 bytes at 0x10: not mapped"}}}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	// A string: its text, where the text is, and its bytes.
	j, err = typesys.JSONOf(typesys.At(r, rec.Members[4].Type, 0x1000+24), typesys.DefaultFormat())
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(j)
	if want := `{"type":"char *","address":4176,"value":"hi\n\"there\"","bytes":"68690a22746865726522"}`; string(b) != want {
		t.Errorf("string JSON:\n got %s\nwant %s", b, want)
	}
	// Beyond the depth, a marker instead of the members.
	o := typesys.DefaultFormat()
	o.Depth = 0
	j, _ = typesys.JSONOf(typesys.At(r, rec, 0x1000), o)
	b, _ = json.Marshal(j)
	if !strings.Contains(string(b), `"value":{"truncated":"depth"}`) {
		t.Errorf("depth 0 JSON: %s", b)
	}
	// MaxLines bounds a JSON document too.
	o.Depth, o.MaxLines = 3, 4
	j, _ = typesys.JSONOf(typesys.At(r, rec, 0x1000), o)
	b, _ = json.Marshal(j)
	if !strings.Contains(string(b), `"st":"BUSY","name":{"truncated":"size"}`) {
		t.Errorf("MaxLines 4 JSON: %s", b)
	}
	// Text with '<' and '&' is not HTML-escaped (by an Encoder told not to).
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(typesys.Object{{Key: "a<b", Value: typesys.Object{{Key: "c", Value: "<x & y>"}}}}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != `{"a<b":{"c":"<x & y>"}}`+"\n" {
		t.Errorf("Object escapes HTML: %s", buf.String())
	}
}

func TestFormatLayoutShowsOffsetsHolesAndUnknownBytes(t *testing.T) {
	_, rec := formatWorld()
	got := typesys.FormatLayout(rec, typesys.LayoutOptions{})
	for _, w := range []string{
		"/* offset    |    size */  type = struct rec {",
		"/*      0    |       4 */      int id;",
		"/*      4: 0 |     4:3 */      unsigned int flags : 3;",
		"/*     12    |       8 */      char name[8];",
		"/* XXX    4-byte hole    */",
		"/*     32    |       8 */      union {",
		"/*     32    |       8 */          long l;",
		"                               };",
		"/*     40    |       6 */      short arr[3];",
		"/* XXX    2-byte hole    */",
		"/* total size (bytes):   64 */",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("layout lacks %q:\n%s", w, got)
		}
	}
	// A synthesized struct says which bytes it does not describe.
	part := &typesys.Type{Kind: typesys.Struct, Name: "PyThing"}
	err := typesys.FillStruct(part, 32, "the debug offsets of CPython 3.13", []typesys.LayoutMember{
		{Path: "next", Offset: 8, Type: typesys.PointerTo(part, 8)},
		{Path: "inner.id", Offset: 20, Type: typesys.I32},
	})
	if err != nil {
		t.Fatal(err)
	}
	got = typesys.FormatLayout(part, typesys.LayoutOptions{})
	for _, w := range []string{
		"PyThing is known only from the debug offsets of CPython 3.13",
		"/* XXX    8-byte unknown */",
		"/*      8    |       8 */      PyThing *next;",
		"/*     20    |       ? */      PyThing.inner {",
		"/*     20    |       4 */          int32_t id;",
		"/* XXX    8-byte unknown */",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("partial layout lacks %q:\n%s", w, got)
		}
	}
}

func TestQuoteCEscapesWhatIsNotText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           `"plain"`,
		"tab\tnl\n":       `"tab\tnl\n"`,
		"q\"b\\":          `"q\"b\\"`,
		"\x00\x01\x7f":    `"\000\001\177"`,
		"\xff1":           `"\3771"`,
		"dír-ü-🐍":         `"dír-ü-🐍"`,
		"\u200b":          `"\342\200\213"`,
		"bad\xc3utf8\x80": `"bad\303utf8\200"`,
	} {
		if got := typesys.QuoteC([]byte(in)); got != want {
			t.Errorf("QuoteC(%q) = %s, want %s", in, got, want)
		}
	}
}
