package native

import (
	"debug/dwarf"
	"sort"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/symbols"
)

// lineCache maps pcs to source lines through each module's DWARF line
// tables. A module's DWARF is opened only when one of its pcs is asked for,
// and each compilation unit's line table is decoded once.
type lineCache struct {
	mods map[*symbols.Module]*modLines
}

type modLines struct {
	d     *dwarf.Data // nil: no DWARF
	units map[dwarf.Offset][]lineRow
}

// lineRow starts a range of addresses [pc, next row's pc) of one line.
type lineRow struct {
	pc   uint64
	file string
	line int
	end  bool // end_sequence: no line from here
}

// maxLineRows bounds one unit's decoded line table (a corrupt one could be
// endless).
const maxLineRows = 1 << 22

func newLineCache() *lineCache { return &lineCache{mods: map[*symbols.Module]*modLines{}} }

// line returns the source file and line of the instruction at addr, or ""
// when m has no DWARF line for it, or c is nil (no lines wanted).
func (c *lineCache) line(m *symbols.Module, addr core.Address) (file string, line int) {
	if c == nil {
		return "", 0
	}
	defer func() {
		// debug/dwarf on a damaged file must not take the stack with it.
		if recover() != nil {
			file, line = "", 0
		}
	}()
	ml, ok := c.mods[m]
	if !ok {
		ml = &modLines{units: map[dwarf.Offset][]lineRow{}}
		c.mods[m] = ml
		if m.HasDWARF() {
			ml.d, _ = m.DWARF()
		}
	}
	if ml.d == nil {
		return "", 0
	}
	pc := uint64(addr) - m.Bias
	r := ml.d.Reader()
	cu, err := r.SeekPC(pc)
	if err != nil || cu == nil {
		return "", 0
	}
	rows, ok := ml.units[cu.Offset]
	if !ok {
		rows = decodeLines(ml.d, cu)
		ml.units[cu.Offset] = rows
	}
	i := sort.Search(len(rows), func(i int) bool { return rows[i].pc > pc }) - 1
	if i < 0 || rows[i].end || i+1 >= len(rows) {
		return "", 0
	}
	return rows[i].file, rows[i].line
}

func decodeLines(d *dwarf.Data, cu *dwarf.Entry) []lineRow {
	lr, err := d.LineReader(cu)
	if err != nil || lr == nil {
		return nil
	}
	var rows []lineRow
	var e dwarf.LineEntry
	for len(rows) < maxLineRows {
		if err := lr.Next(&e); err != nil {
			break
		}
		row := lineRow{pc: e.Address, line: e.Line, end: e.EndSequence}
		if e.File != nil {
			row.file = e.File.Name
		}
		rows = append(rows, row)
	}
	// Sequences may come in any address order; at equal pcs an end of one
	// sequence comes before the start of the next.
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].pc != rows[j].pc {
			return rows[i].pc < rows[j].pc
		}
		return rows[i].end && !rows[j].end
	})
	return rows
}
