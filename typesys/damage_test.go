package typesys_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pycore/pycore/typesys"
)

// An array's length comes from DWARF, which comes from files a core names: a
// forged length of 2^40 elements must not make Format or JSONOf allocate or
// loop by it, even when the user lifts the element limit.
func TestAbsurdArrayLengthsAreBoundedByMaxLines(t *testing.T) {
	r, _ := formatWorld()
	i32 := &typesys.Type{Kind: typesys.Int, Name: "int", Size: 4, Signed: true}
	huge := &typesys.Type{Kind: typesys.Array, Elem: i32, Len: 1 << 40, Size: 4 << 40}
	v := typesys.At(r, huge, 0x1000)
	o := typesys.DefaultFormat()
	o.ArrayLimit, o.MaxLines = -1, 100
	start := time.Now()
	s, err := typesys.Format(v, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "output cut at 100 lines") || len(s) > 1<<20 {
		t.Errorf("text of a 2^40-element array: %d bytes, ending %q", len(s), s[max(0, len(s)-120):])
	}
	j, err := typesys.JSONOf(v, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"truncated":"size"`) || len(b) > 1<<20 {
		t.Errorf("JSON of a 2^40-element array: %d bytes, ending %q", len(b), b[max(0, len(b)-120):])
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("formatting took %v", d)
	}
}
