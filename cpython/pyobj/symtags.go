package pyobj

import "github.com/pycore/pycore/core"

// Symbol tags number the symbols a Layout knows builtin objects by, so that
// an image of a process without its symbol tables (the walker's fuzz
// harness) can carry them: a tag below TagSingleton indexes the builtin
// types, TagSingleton+i the singletons, TagBaseExc and TagExcGroup are the
// exception base types.
const (
	TagSingleton = 64
	TagBaseExc   = 128
	TagExcGroup  = 129
)

// SymTag is one symbol of a Layout: its tag and the object's address.
type SymTag struct {
	Tag  uint8
	Addr core.Address
}

// SymTags lists what l knows by symbol, as tags (unordered).
func (l *Layout) SymTags() []SymTag {
	var tags []SymTag
	for addr, kind := range l.Types {
		for i, bt := range builtinTypes {
			if bt.kind == kind && addr != l.baseExc && addr != l.excGroup {
				tags = append(tags, SymTag{uint8(i), addr})
				break
			}
		}
	}
	for addr, i := range l.singletons {
		tags = append(tags, SymTag{uint8(TagSingleton + i), addr})
	}
	if l.baseExc != 0 {
		tags = append(tags, SymTag{TagBaseExc, l.baseExc})
	}
	if l.excGroup != 0 {
		tags = append(tags, SymTag{TagExcGroup, l.excGroup})
	}
	return tags
}

// AddSymTag makes l know the object at s.Addr by its tag, reading a type's
// tp_repr through mem; an unknown tag is ignored.
func (l *Layout) AddSymTag(mem core.Reader, s SymTag) {
	switch {
	case s.Tag == TagBaseExc:
		l.baseExc = s.Addr
		l.Types[s.Addr] = KindException
	case s.Tag == TagExcGroup:
		l.excGroup = s.Addr
		l.Types[s.Addr] = KindExcGroup
	case s.Tag >= TagSingleton && int(s.Tag-TagSingleton) < len(singletonSymbols):
		l.singletons[s.Addr] = int(s.Tag - TagSingleton)
	case int(s.Tag) < len(builtinTypes):
		l.Types[s.Addr] = builtinTypes[s.Tag].kind
	default:
		return
	}
	if rp, err := mem.Ptr(s.Addr.Add(l.Type.Repr)); err == nil && (s.Tag < TagSingleton || s.Tag >= TagBaseExc) {
		l.reprOf[l.Types[s.Addr]] = rp
	}
}
