package native

import (
	"debug/dwarf"
	"sort"
)

// inlineNode is one DW_TAG_inlined_subroutine of a unit: the pcs its body
// covers, the function inlined (its abstract origin) and where it was
// called from.
type inlineNode struct {
	ranges   [][2]uint64
	origin   dwarf.Offset
	callFile int
	callLine int
	depth    int
}

// Bounds on what one unit's inline tree may cost: a damaged unit must not
// make a stack unbounded work.
const (
	maxUnitEntries = 1 << 22
	maxInlineNodes = 1 << 20
	maxInlineDepth = 64
)

// inlineNodes lists every inlined subroutine of unit cu that has code,
// walking its entries once.
func inlineNodes(d *dwarf.Data, cu *dwarf.Entry) []inlineNode {
	r := d.Reader()
	r.Seek(cu.Offset)
	if e, err := r.Next(); err != nil || e == nil || !e.Children {
		return nil
	}
	var out []inlineNode
	depth := 0
	for n := 0; n < maxUnitEntries && len(out) < maxInlineNodes; n++ {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == 0 {
			if depth == 0 {
				break // the unit's end
			}
			depth--
			continue
		}
		switch e.Tag {
		case dwarf.TagSubprogram, dwarf.TagInlinedSubroutine, dwarf.TagLexDwarfBlock:
			if e.Tag == dwarf.TagSubprogram && e.Val(dwarf.AttrLowpc) == nil && e.Val(dwarf.AttrRanges) == nil {
				// A declaration or an abstract instance: no code, so no
				// inlined call in it has a pc either.
				if e.Children {
					r.SkipChildren()
				}
				continue
			}
			if e.Tag == dwarf.TagInlinedSubroutine {
				origin, _ := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
				file, _ := e.Val(dwarf.AttrCallFile).(int64)
				line, _ := e.Val(dwarf.AttrCallLine).(int64)
				rs, err := d.Ranges(e)
				if err == nil && len(rs) > 0 && origin != 0 {
					out = append(out, inlineNode{ranges: rs, origin: origin, callFile: int(file), callLine: int(line), depth: depth})
				}
			}
			if e.Children {
				if depth >= maxInlineDepth {
					r.SkipChildren()
				} else {
					depth++
				}
			}
		default:
			// Variables, parameters, types: nothing inlined below them.
			if e.Children {
				r.SkipChildren()
			}
		}
	}
	return out
}

// inlineChain returns the inlined subroutines covering the link-time pc,
// innermost first.
func inlineChain(nodes []inlineNode, pc uint64) []*inlineNode {
	var out []*inlineNode
	for i := range nodes {
		for _, r := range nodes[i].ranges {
			if r[0] <= pc && pc < r[1] {
				out = append(out, &nodes[i])
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].depth > out[j].depth })
	return out
}

// functionName is the name of the function a DIE at off (an abstract
// origin) describes, following abstract origins and specifications a few
// hops (C++ puts the name on the declaration).
func functionName(d *dwarf.Data, off dwarf.Offset) string {
	for hop := 0; hop < 4; hop++ {
		r := d.Reader()
		r.Seek(off)
		e, err := r.Next()
		if err != nil || e == nil {
			return ""
		}
		if name, ok := e.Val(dwarf.AttrName).(string); ok && name != "" {
			return name
		}
		if name, ok := e.Val(dwarf.AttrLinkageName).(string); ok && name != "" {
			return name
		}
		next, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if !ok {
			next, ok = e.Val(dwarf.AttrSpecification).(dwarf.Offset)
		}
		if !ok || next == off {
			return ""
		}
		off = next
	}
	return ""
}
