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
	units map[dwarf.Offset]*unitLines
	names map[dwarf.Offset]string // inlined functions' names by abstract origin
	// cuRanges indexes every unit's pc ranges, built on first use
	// (cuRead); cus caches each unit's entry by offset.
	cuRanges []arange
	cuRead   bool
	cus      map[dwarf.Offset]*dwarf.Entry
}

// unitEntry is the compilation unit entry covering the link-time pc, as
// SeekPC finds it, from an index of every unit's ranges built once (SeekPC
// walks every unit's entry on each call: hundreds in libpython); SeekPC
// itself where the index does not decide. nil if no unit covers pc.
func (ml *modLines) unitEntry(m *symbols.Module, pc uint64) *dwarf.Entry {
	if !ml.cuRead {
		ml.cuRead = true
		ml.cuRanges = unitRanges(ml.d, m.DWARFSection("info"))
		ml.cus = map[dwarf.Offset]*dwarf.Entry{}
	}
	off, found, decided := unitOf(ml.cuRanges, pc)
	if found {
		e, seen := ml.cus[off]
		if !seen {
			r := ml.d.Reader()
			r.Seek(off)
			if x, err := r.Next(); err == nil && x != nil && x.Tag != 0 {
				e = x
			}
			ml.cus[off] = e
		}
		if e != nil {
			return e
		}
	} else if decided && len(ml.cuRanges) > 0 {
		return nil
	}
	cu, err := ml.d.Reader().SeekPC(pc)
	if err != nil {
		return nil
	}
	return cu
}

// unitLines is what one compilation unit says about its pcs: its line
// table, its file table (for DW_AT_call_file) and its inlined calls, the
// latter read only when first asked for.
type unitLines struct {
	rows    []lineRow
	files   []*dwarf.LineFile
	inl     []inlineNode
	inlRead bool
}

// inlined is one inlined call covering a pc: the function inlined, and the
// file and line of its call, in the function that contains it.
type inlined struct {
	function string
	callFile string
	callLine int
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

// locate returns the source file and line of the instruction at addr, or
// "" when m has no DWARF line for it or c is nil (no lines wanted); with
// withInline also the inlined calls covering addr, innermost first (none
// when DWARF has none there).
func (c *lineCache) locate(m *symbols.Module, addr core.Address, withInline bool) (file string, line int, chain []inlined) {
	if c == nil {
		return "", 0, nil
	}
	defer func() {
		// debug/dwarf on a damaged file must not take the stack with it.
		if recover() != nil {
			file, line, chain = "", 0, nil
		}
	}()
	ml, ok := c.mods[m]
	if !ok {
		ml = &modLines{units: map[dwarf.Offset]*unitLines{}, names: map[dwarf.Offset]string{}}
		c.mods[m] = ml
		if m.HasDWARF() {
			ml.d, _ = m.DWARF()
		}
	}
	if ml.d == nil {
		return "", 0, nil
	}
	pc := uint64(addr) - m.Bias
	cu := ml.unitEntry(m, pc)
	if cu == nil {
		return "", 0, nil
	}
	u, ok := ml.units[cu.Offset]
	if !ok {
		u = &unitLines{}
		u.rows, u.files = decodeLines(ml.d, cu)
		ml.units[cu.Offset] = u
	}
	rows := u.rows
	if i := sort.Search(len(rows), func(i int) bool { return rows[i].pc > pc }) - 1; i >= 0 && !rows[i].end && i+1 < len(rows) {
		file, line = rows[i].file, rows[i].line
	}
	if !withInline {
		return file, line, nil
	}
	if !u.inlRead {
		u.inlRead = true
		u.inl = inlineNodes(ml.d, cu)
	}
	for _, n := range inlineChain(u.inl, pc) {
		name, ok := ml.names[n.origin]
		if !ok {
			name = functionName(ml.d, n.origin)
			ml.names[n.origin] = name
		}
		in := inlined{function: name, callLine: n.callLine}
		if n.callFile >= 0 && n.callFile < len(u.files) && u.files[n.callFile] != nil {
			in.callFile = u.files[n.callFile].Name
		}
		chain = append(chain, in)
	}
	return file, line, chain
}

func decodeLines(d *dwarf.Data, cu *dwarf.Entry) ([]lineRow, []*dwarf.LineFile) {
	lr, err := d.LineReader(cu)
	if err != nil || lr == nil {
		return nil, nil
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
	return rows, lr.Files()
}
