package symbols

import (
	"path/filepath"
	"strings"
	"testing"
)

// The directories searched for a debug file by its debuglink include the
// recorded path's: a forged recorded path with ".." must not lead the search
// out of the debug directories.
func TestDebugLinkSearchStaysInTheDebugDirectories(t *testing.T) {
	for _, c := range []struct {
		recorded string
		want     []string
	}{
		{"/usr/lib/libx.so", []string{
			"/usr/lib/libx.debug", "/usr/lib/.debug/libx.debug", "/dbg/usr/lib/libx.debug",
		}},
		{"/usr/lib/../../etc/libx.so", nil},
		{"lib/libx.so", nil},
	} {
		m := &Module{Path: c.recorded, DebugLink: "libx.debug", hasDebugLink: true, debugDirs: []string{"/dbg"}}
		got := m.debugCandidates()
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("recorded path %s: candidates %q, want %q", c.recorded, got, c.want)
		}
		for _, p := range got {
			if filepath.Clean(p) != p || strings.Contains(p, "/etc/") {
				t.Errorf("recorded path %s: candidate %s", c.recorded, p)
			}
		}
	}
}
