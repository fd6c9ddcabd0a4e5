package abi

import (
	"reflect"
	"testing"
)

// subsetTypes keeps, of a generated table (read from a real build's DWARF),
// only the members 3.13+'s debug offsets describe, and the struct sizes they
// give: what the rules must stand in for on a stripped 3.13+ build.
func subsetTypes(t *testing.T, vl *VersionLayouts) TypeSource {
	t.Helper()
	keep := map[string]bool{}
	for _, tg := range debugOffsetTargets {
		keep[tg.strct+"."+tg.path] = true
	}
	sized := map[string]bool{}
	for _, s := range debugOffsetSizes {
		sized[s] = true
	}
	sub := &VersionLayouts{Version: vl.Version, Source: "subset of " + vl.Source}
	for _, s := range vl.Structs {
		ns := StructLayout{Name: s.Name}
		if sized[s.Name] {
			ns.Size = s.Size
		}
		for _, m := range s.Members {
			if keep[s.Name+"."+m.Path] {
				ns.Members = append(ns.Members, m)
			}
		}
		sub.Structs = append(sub.Structs, ns)
	}
	ts, err := NewLayoutTypes(sub, 8)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// int64Fields flattens a Detail's groups into "Group.Field" -> offset.
func int64Fields(d *Detail) map[string]int64 {
	out := map[string]int64{}
	v := reflect.ValueOf(d).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() != reflect.Struct {
			continue
		}
		for j := 0; j < f.NumField(); j++ {
			out[v.Type().Field(i).Name+"."+f.Type().Field(j).Name] = f.Field(j).Int()
		}
	}
	return out
}

// Every offset a rule derives from the debug offsets' few members must be
// what the build's DWARF says; the rules that need the 3.13+ thread state
// must find it.
func TestDetailRulesAgreeWithDWARFTables(t *testing.T) {
	for i := range generatedLayouts {
		vl := &generatedLayouts[i]
		v, err := ParseVersion(vl.Version)
		if err != nil || !v.AtLeast(3, 11) {
			continue
		}
		full, err := NewLayoutTypes(vl, 8)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := full.Struct("PyObject")
		if err != nil {
			t.Fatal(err)
		}
		h := obj.Resolve().Size // the debug offsets give it too
		want := int64Fields(ResolveDetail(full, v, 8, h))
		d := ResolveDetail(subsetTypes(t, vl), v, 8, h)
		got := int64Fields(d)
		for k, w := range want {
			if g := got[k]; g >= 0 && w >= 0 && g != w {
				t.Errorf("%s%s: %s is %d by the rules, DWARF %d", vl.Version, BuildKind(vl.FreeThreaded, vl.Debug), k, g, w)
			}
		}
		if v.AtLeast(3, 13) { // the versions that have debug offsets
			for _, k := range []string{"ErrStackItem.ExcValue", "ErrStackItem.Previous", "Code.Flags", "Code.Kwonly",
				"Exception.Args", "Exception.Traceback", "Traceback.Frame", "Cell.Ref", "ThreadState.State", "ThreadState.EvalBreaker", "ThreadState.CurrentException", "ThreadState.ExcInfo"} {
				if got[k] < 0 {
					t.Errorf("%s%s: %s is unknown from the debug offsets' members", vl.Version, BuildKind(vl.FreeThreaded, vl.Debug), k)
				}
			}
		}
		if len(d.From) == 0 {
			t.Errorf("%s: no offset says it came from a rule", vl.Version)
		}
	}
}
