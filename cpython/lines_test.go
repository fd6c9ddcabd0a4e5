package cpython

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pycore/pycore/cpython/abi"
)

// The fixtures were written by testdata/linetables/gen.py running under each
// real interpreter: for every instruction of ~120 code objects, the line
// CPython itself reports. Every decoder must agree on every instruction.
func TestLineTablesAgreeWithCPython(t *testing.T) {
	files, err := filepath.Glob("testdata/linetables/3.*.json")
	if err != nil || len(files) < 6 {
		t.Fatalf("want fixtures for 3.8-3.13, found %v (%v)", files, err)
	}
	for _, file := range files {
		var fx struct {
			Version string
			Codes   []struct {
				Name        string
				Firstlineno int
				Table       string
				Lines       [][2]*int
			}
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &fx); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		v, err := abi.ParseVersion(fx.Version)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fx.Version, func(t *testing.T) {
			checked := 0
			for _, c := range fx.Codes {
				tab, err := hex.DecodeString(c.Table)
				if err != nil {
					t.Fatal(err)
				}
				for _, pl := range c.Lines {
					pos := *pl[0]
					var got int
					var ok bool
					switch {
					case v.Minor <= 9:
						got, ok = abi.LineFromLnotab(tab, c.Firstlineno, pos), true
					case v.Minor == 10:
						got, ok = abi.LineFromLinetable310(tab, c.Firstlineno, pos)
					default:
						got, ok = abi.LineFromLocationTable(tab, c.Firstlineno, pos)
					}
					want := pl[1]
					if want == nil {
						if ok {
							t.Errorf("%s at %d: got line %d, CPython says no line", c.Name, pos, got)
						}
						continue
					}
					if !ok || got != *want {
						t.Errorf("%s at %d: got %d (ok=%v), CPython says %d", c.Name, pos, got, ok, *want)
					}
					checked++
				}
			}
			if checked < 1000 {
				t.Errorf("only %d instructions checked", checked)
			}
		})
	}
}

func TestLineTableDecodersStopAtMalformedInput(t *testing.T) {
	if _, ok := abi.LineFromLocationTable([]byte{0x01, 0x02}, 10, 3); ok {
		t.Error("a table whose entry lacks the high bit gave a line")
	}
	if _, ok := abi.LineFromLocationTable([]byte{0xf0 | 6<<3>>3<<3}, 10, 100); ok {
		t.Error("an index past the table's end gave a line")
	}
	// A long-form entry cut short must not read past the end.
	abi.LineFromLocationTable([]byte{0x80 | 14<<3, 0x41}, 1, 0)
	if got := abi.LineFromLnotab([]byte{4}, 7, 100); got != 7 {
		t.Errorf("odd-length lnotab: got %d, want 7", got)
	}
}

func FuzzLocationTable(f *testing.F) {
	f.Add([]byte{0x80 | 13<<3, 0x02, 0x80 | 14<<3 | 3, 0x41, 0x01, 0x02, 0x03}, 5)
	f.Fuzz(func(t *testing.T, tab []byte, index int) {
		abi.LineFromLocationTable(tab, 1, index)
		abi.LineFromLinetable310(tab, 1, index)
		abi.LineFromLnotab(tab, 1, index)
	})
}
