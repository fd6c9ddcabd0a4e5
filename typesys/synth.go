package typesys

import (
	"fmt"
	"sort"
	"strings"
)

// LayoutMember is one member of a synthesized struct, known by its dotted
// path from the outer struct (e.g. "threads.head") and its offset from there.
type LayoutMember struct {
	Path      string
	Offset    int64
	Type      *Type // nil for an intermediate by-value struct known only by offset
	BitOffset int
	BitSize   int
}

// FillStruct gives the struct shell t (Kind Struct, Name set) the members of a
// partial layout. Intermediate path components become nested anonymous-typed
// struct members; where the layout does not say where such a component starts,
// it starts at its first known member. Members outside size (when size > 0) are
// rejected, so a corrupt layout cannot make reads land past the object.
func FillStruct(t *Type, size int64, partial string, members []LayoutMember) error {
	if t.Kind != Struct && t.Kind != Union {
		return fmt.Errorf("fill %s: not a struct", t)
	}
	root := &synthNode{offset: 0, known: true}
	for _, m := range members {
		// A flexible array member may sit at offset == size.
		if m.Offset < 0 || (size > 0 && m.Offset > size) {
			return fmt.Errorf("%s.%s: offset %d outside the struct's %d bytes", t.Name, m.Path, m.Offset, size)
		}
		parts := strings.Split(m.Path, ".")
		n := root
		for i, p := range parts {
			if p == "" {
				return fmt.Errorf("%s: bad member path %q", t.Name, m.Path)
			}
			c := n.child(p)
			if i == len(parts)-1 {
				c.offset, c.known, c.typ, c.bitOffset, c.bitSize = m.Offset, true, m.Type, m.BitOffset, m.BitSize
			}
			n = c
		}
	}
	t.Size = size
	t.Partial = partial
	t.Members = root.build(t.Name, partial)
	return nil
}

type synthNode struct {
	name               string
	offset             int64
	known              bool
	typ                *Type
	bitOffset, bitSize int
	children           []*synthNode
}

func (n *synthNode) child(name string) *synthNode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	c := &synthNode{name: name}
	n.children = append(n.children, c)
	return c
}

// start is the absolute offset a node begins at.
func (n *synthNode) start() int64 {
	if n.known {
		return n.offset
	}
	min := int64(-1)
	for _, c := range n.children {
		if s := c.start(); min < 0 || s < min {
			min = s
		}
	}
	if min < 0 {
		return 0
	}
	return min
}

// build turns the children of n into members with offsets relative to n.
func (n *synthNode) build(prefix, partial string) []*Member {
	base := n.start()
	var ms []*Member
	for _, c := range n.children {
		m := &Member{Name: c.name, Offset: c.start() - base, BitOffset: c.bitOffset, BitSize: c.bitSize}
		switch {
		case len(c.children) > 0:
			st := c.typ
			if st == nil || st.Resolve() == nil || st.Resolve().Kind != Struct || len(st.Resolve().Members) > 0 {
				st = &Type{Kind: Struct, Name: prefix + "." + c.name}
			}
			st.Members = c.build(prefix+"."+c.name, partial)
			st.Partial = partial
			m.Type = st
		case c.typ != nil:
			m.Type = c.typ
		default:
			m.Type = &Type{Kind: Struct, Name: prefix + "." + c.name, Partial: partial}
		}
		ms = append(ms, m)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
	return ms
}
