package cpython

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/pycore/pycore/cpython/abi"
)

// BenchmarkLineTables decodes the line of every instruction of the fixtures'
// ~120 real code objects, per table format (one op is all of them).
func BenchmarkLineTables(b *testing.B) {
	for _, minor := range []string{"3.9", "3.10", "3.12"} {
		data, err := os.ReadFile("testdata/linetables/" + minor + ".json")
		if err != nil {
			b.Fatal(err)
		}
		var fx struct {
			Codes []struct {
				Firstlineno int
				Table       string
				Lines       [][2]*int
			}
		}
		if err := json.Unmarshal(data, &fx); err != nil {
			b.Fatal(err)
		}
		type code struct {
			tab   []byte
			first int
			pos   []int
		}
		var codes []code
		n := 0
		for _, c := range fx.Codes {
			tab, err := hex.DecodeString(c.Table)
			if err != nil {
				b.Fatal(err)
			}
			cd := code{tab: tab, first: c.Firstlineno}
			for _, pl := range c.Lines {
				cd.pos = append(cd.pos, *pl[0])
			}
			n += len(cd.pos)
			codes = append(codes, cd)
		}
		b.Run(minor, func(b *testing.B) {
			sum := 0
			for b.Loop() {
				for _, c := range codes {
					for _, pos := range c.pos {
						switch minor {
						case "3.9":
							sum += abi.LineFromLnotab(c.tab, c.first, pos)
						case "3.10":
							l, _ := abi.LineFromLinetable310(c.tab, c.first, pos)
							sum += l
						default:
							l, _ := abi.LineFromLocationTable(c.tab, c.first, pos)
							sum += l
						}
					}
				}
			}
			if sum == 0 {
				b.Fatal("no lines")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/instruction")
		})
	}
}
