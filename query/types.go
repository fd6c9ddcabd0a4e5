package query

import (
	"fmt"

	"github.com/pycore/pycore/typesys"
)

// cTypes are C's base types for a target's pointer size (LP64 on 64-bit
// Linux: long and pointers are 8 bytes, int 4).
type cTypes struct {
	byName                       map[string]*typesys.Type
	intT, uintT, longT, ulongT   *typesys.Type
	floatT, doubleT, charT, void *typesys.Type
}

func newCTypes(ptrSize int) *cTypes {
	long := int64(ptrSize)
	if long != 4 {
		long = 8
	}
	mk := func(name string, size int64, signed bool) *typesys.Type {
		return &typesys.Type{Kind: typesys.Int, Name: name, Size: size, Signed: signed}
	}
	c := &cTypes{byName: map[string]*typesys.Type{}}
	for _, t := range []*typesys.Type{
		mk("char", 1, true), mk("signed char", 1, true), mk("unsigned char", 1, false),
		mk("short", 2, true), mk("unsigned short", 2, false),
		mk("int", 4, true), mk("unsigned int", 4, false),
		mk("long", long, true), mk("unsigned long", long, false),
		mk("long long", 8, true), mk("unsigned long long", 8, false),
		{Kind: typesys.Bool, Name: "_Bool", Size: 1},
		{Kind: typesys.Float, Name: "float", Size: 4},
		{Kind: typesys.Float, Name: "double", Size: 8},
		{Kind: typesys.Float, Name: "long double", Size: 16},
		{Kind: typesys.Void, Name: "void"},
	} {
		c.byName[t.Name] = t
	}
	c.intT, c.uintT = c.byName["int"], c.byName["unsigned int"]
	c.longT, c.ulongT = c.byName["long"], c.byName["unsigned long"]
	c.floatT, c.doubleT = c.byName["float"], c.byName["double"]
	c.charT, c.void = c.byName["char"], c.byName["void"]
	return c
}

// intType is the integer type arithmetic yields for a size and signedness.
func (c *cTypes) intType(size int, signed bool) *typesys.Type {
	switch {
	case size <= 4 && signed:
		return c.intT
	case size <= 4:
		return c.uintT
	case signed && c.longT.Size == 8:
		return c.longT
	case signed:
		return c.byName["long long"]
	case c.ulongT.Size == 8:
		return c.ulongT
	}
	return c.byName["unsigned long long"]
}

// resolveTypeName turns a TypeName into a type: C's base types are built in,
// everything else comes from the environment.
func (ev *evaluator) resolveTypeName(tn *TypeName) (*typesys.Type, error) {
	var t *typesys.Type
	if b, ok := ev.env.ctypes().byName[tn.Base]; ok {
		t = b
	} else {
		var err error
		t, err = ev.env.lookupType(tn.Base)
		if err != nil {
			return nil, ev.errAt(tn, err, "unknown type '%s'%s", tn.Base, ev.typeSuggestions(tn.Base, err))
		}
	}
	for i := 0; i < tn.Stars; i++ {
		t = typesys.PointerTo(t, int64(ev.env.Mem.PtrSize))
	}
	return t, nil
}

// typeSuggestions explains a failed type lookup that was not a plain miss.
func (ev *evaluator) typeSuggestions(name string, err error) string {
	if isNotFound(err) {
		return ""
	}
	return fmt.Sprintf(": %v", err)
}
