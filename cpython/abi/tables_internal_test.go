package abi

import (
	"strings"
	"testing"
)

// TableFor must choose by version and build kind, and find nothing rather than
// hand a Py_DEBUG or free-threaded build the release layouts.
func TestTableForChoosesByBuildKind(t *testing.T) {
	v := func(s string) Version {
		x, err := ParseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	cases := []struct {
		version     string
		ft, debug   bool
		wantVersion string // "" for no table
		wantIn      string // in the table's Source
	}{
		{"3.13.5", false, false, "3.13.5", "debian-trixie 3.13.5)"},
		{"3.13.5", true, false, "3.13.5", "3.13.5t"},
		{"3.13.5", false, true, "3.13.5", "3.13.5d"},
		{"3.13.9", true, false, "3.13.5", "3.13.5t"}, // newest of its kind at or below
		{"3.11.2", false, true, "3.11.2", "python3.11d"},
		{"3.11.9", false, true, "3.11.2", "python3.11d"},
		{"3.11.2", false, false, "3.11.2", "python3.11 (debian-bookworm"},
		{"3.12.1", false, true, "", ""}, // no Py_DEBUG table of 3.12: refuse
		{"3.12.1", true, false, "", ""},
		{"3.6.15", false, false, "3.6.15", "libpython3.6m"},
		{"3.7.3", false, false, "3.7.16", "libpython3.7m"},
	}
	for _, c := range cases {
		got := TableFor(v(c.version), c.ft, c.debug)
		name := c.version + BuildKind(c.ft, c.debug)
		switch {
		case c.wantVersion == "" && got != nil:
			t.Errorf("%s: got the table of %s (%s), want none", name, got.Version, got.Source)
		case c.wantVersion == "":
		case got == nil:
			t.Errorf("%s: no table, want %s", name, c.wantVersion)
		case got.Version != c.wantVersion || !strings.Contains(got.Source, c.wantIn) || got.FreeThreaded != c.ft || got.Debug != c.debug:
			t.Errorf("%s: got %s %q (ft=%v debug=%v), want %s from %q", name, got.Version, got.Source, got.FreeThreaded, got.Debug, c.wantVersion, c.wantIn)
		}
	}
}
