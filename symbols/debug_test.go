package symbols

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
)

// progBuild is testdata/prog.c built with DWARF and split: a stripped
// executable carrying a debuglink, its debug file, and the debug file of a
// variant build (same name, different code) that must never be accepted.
type progBuild struct {
	stripped  string // no .symtab, no DWARF, .gnu_debuglink = prog.debug
	debug     string // objcopy --only-keep-debug of the same build
	wrongDbg  string // the variant's debug file
	buildID   []byte // nil when built with --build-id=none
	debugLink string
}

func buildProg(t *testing.T, dir string, ldflags ...string) progBuild {
	t.Helper()
	needTool(t, "gcc", "objcopy", "strip")
	src, err := filepath.Abs("testdata/prog.c")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"build", "variant"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := progBuild{
		stripped:  filepath.Join(dir, "build", "prog"),
		debug:     filepath.Join(dir, "build", "prog.debug"),
		wrongDbg:  filepath.Join(dir, "variant", "prog.debug"),
		debugLink: "prog.debug",
	}
	for _, v := range []struct{ dir, def string }{{"build", "-DVARIANT=0"}, {"variant", "-DVARIANT=7"}} {
		d := filepath.Join(dir, v.dir)
		run(t, d, append([]string{"gcc", "-g", "-O1", v.def, "-o", "prog", src}, ldflags...)...)
		run(t, d, "objcopy", "--only-keep-debug", "prog", "prog.debug")
		run(t, d, "strip", "--strip-all", "prog")
		run(t, d, "objcopy", "--add-gnu-debuglink=prog.debug", "prog")
		// The debug files are installed by the cases below, never found where built.
		if err := os.Rename(filepath.Join(d, "prog.debug"), filepath.Join(d, "keep.debug")); err != nil {
			t.Fatal(err)
		}
	}
	b.debug = filepath.Join(dir, "build", "keep.debug")
	b.wrongDbg = filepath.Join(dir, "variant", "keep.debug")
	f, err := elf.Open(b.stripped)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := os.ReadFile(b.stripped)
	if err != nil {
		t.Fatal(err)
	}
	b.buildID = fileBuildID(f, data)
	return b
}

// progOracle is what prog printed: its own addresses.
type progOracle struct{ widget, helper, main uint64 }

func startProg(t *testing.T, exe string) (*liveProcess, progOracle) {
	t.Helper()
	lp := startChild(t, t.TempDir(), exe)
	var o progOracle
	f := strings.Fields(string(lp.line))
	if len(f) != 3 {
		t.Fatalf("prog printed %q", lp.line)
	}
	for i, p := range []*uint64{&o.widget, &o.helper, &o.main} {
		v, err := strconv.ParseUint(strings.TrimPrefix(f[i], "0x"), 16, 64)
		if err != nil {
			t.Fatalf("prog printed %q: %v", lp.line, err)
		}
		*p = v
	}
	return lp, o
}

func liveMaps(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func install(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// debugCase places debug files around a copy of the executable and says
// which one must be found ("" for none).
type debugCase struct {
	name    string
	layout  func(t *testing.T, b progBuild, exeDir, debugDir string) (want string)
	rejects string // when want is "": what the search log must say
}

// runDebugCases loads the running prog once per case, its module's file
// being a copy of the executable in a fresh directory.
func runDebugCases(t *testing.T, b progBuild, cases []debugCase) {
	t.Helper()
	lp, o := startProg(t, b.stripped)
	p := processFromMaps(t, liveMaps(t, lp.cmd.Process.Pid))
	var obj *core.Object
	for _, ob := range p.Objects {
		if ob.Path == b.stripped {
			obj = ob
		}
	}
	if obj == nil {
		t.Fatalf("%s not in its own maps", b.stripped)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			exeDir, debugDir := filepath.Join(root, "usr", "bin"), filepath.Join(root, "debug")
			local := filepath.Join(exeDir, "prog")
			install(t, b.stripped, local)
			want := c.layout(t, b, exeDir, debugDir)
			copied := *obj
			copied.LocalPath = local
			tab, err := Load(&core.Process{Objects: []*core.Object{&copied}}, Options{DebugDirs: []string{debugDir}})
			if err != nil {
				t.Fatal(err)
			}
			defer tab.Close()
			m := tab.Modules[0]
			if m.ELF == nil {
				t.Fatal(m.Err)
			}
			if !bytes.Equal(m.BuildID, b.buildID) {
				t.Fatalf("build ID %x, want %x", m.BuildID, b.buildID)
			}
			if m.DebugLink != b.debugLink {
				t.Fatalf("debuglink %q, want %q", m.DebugLink, b.debugLink)
			}
			checkProgModule(t, m, o, want, c.rejects)
		})
	}
}

func TestDetachedDebugFileByBuildIDAndDebuglink(t *testing.T) {
	b := buildProg(t, t.TempDir())
	if len(b.buildID) == 0 {
		t.Fatal("gcc made no build ID")
	}
	runDebugCases(t, b, []debugCase{
		{name: "found by build ID under a debug directory", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			p := buildIDPath(debugDir, b.buildID)
			install(t, b.debug, p)
			return p
		}},
		{name: "found by debuglink next to the file", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			p := filepath.Join(exeDir, "prog.debug")
			install(t, b.debug, p)
			return p
		}},
		{name: "found by debuglink in the .debug directory", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			p := filepath.Join(exeDir, ".debug", "prog.debug")
			install(t, b.debug, p)
			return p
		}},
		{name: "found by debuglink under the debug directory", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			p := filepath.Join(debugDir, exeDir, "prog.debug")
			install(t, b.debug, p)
			return p
		}},
		{name: "build ID is tried before debuglink", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			install(t, b.debug, filepath.Join(exeDir, "prog.debug"))
			p := buildIDPath(debugDir, b.buildID)
			install(t, b.debug, p)
			return p
		}},
		{name: "a wrong build ID is passed over for the right file", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			install(t, b.wrongDbg, buildIDPath(debugDir, b.buildID))
			p := filepath.Join(exeDir, ".debug", "prog.debug")
			install(t, b.debug, p)
			return p
		}},
		{name: "files with a wrong build ID are rejected", rejects: "does not match", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			install(t, b.wrongDbg, buildIDPath(debugDir, b.buildID))
			install(t, b.wrongDbg, filepath.Join(exeDir, "prog.debug"))
			return ""
		}},
		{name: "no debug file anywhere", rejects: "not found", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			return ""
		}},
	})
}

func TestDetachedDebugFileByDebuglinkCRC(t *testing.T) {
	b := buildProg(t, t.TempDir(), "-Wl,--build-id=none")
	if b.buildID != nil {
		t.Fatalf("built with --build-id=none but has build ID %x", b.buildID)
	}
	runDebugCases(t, b, []debugCase{
		{name: "found by debuglink with a matching CRC", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			p := filepath.Join(exeDir, "prog.debug")
			install(t, b.debug, p)
			return p
		}},
		{name: "a file with the wrong CRC is rejected", rejects: "does not match the debuglink CRC", layout: func(t *testing.T, b progBuild, exeDir, debugDir string) string {
			install(t, b.wrongDbg, filepath.Join(exeDir, "prog.debug"))
			return ""
		}},
	})
}

func checkProgModule(t *testing.T, m *Module, o progOracle, want, rejects string) {
	t.Helper()
	got := m.FindDebugFile()
	if got != want {
		t.Fatalf("debug file %q, want %q; search log:\n%s", got, want, strings.Join(m.DebugSearchLog(), "\n"))
	}
	if want == "" {
		if !strings.Contains(strings.Join(m.DebugSearchLog(), "\n"), rejects) {
			t.Errorf("search log does not say %q:\n%s", rejects, strings.Join(m.DebugSearchLog(), "\n"))
		}
		if m.HasDWARF() {
			t.Error("HasDWARF true without a debug file")
		}
		if s, ok := m.Lookup("helper"); ok {
			t.Errorf("found local symbol helper at %s without a debug file", s.Addr)
		}
		return
	}
	if m.DebugFile() != want {
		t.Errorf("DebugFile() = %q", m.DebugFile())
	}
	// Symbols of a stripped file come from the debug file's .symtab, at the
	// executable's bias; prog printed where they really are.
	for _, c := range []struct {
		name string
		addr uint64
		fn   bool
	}{{"helper", o.helper, true}, {"global_widget", o.widget, false}, {"main", o.main, true}} {
		s, ok := m.Lookup(c.name)
		if !ok || uint64(s.Addr) != c.addr || s.Func != c.fn {
			t.Errorf("Lookup(%s) = %s func %v found %v, prog printed %#x", c.name, s.Addr, s.Func, ok, c.addr)
		}
	}
	if s, off, ok := m.Symbolize(core.Address(o.helper + 2)); !ok || s.Name != "helper" || off != 2 {
		t.Errorf("Symbolize(helper+2) = %q+%d %v", s.Name, off, ok)
	}
	if !m.HasDWARF() {
		t.Fatal("HasDWARF false with a debug file")
	}
	d, err := m.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	checkWidgetType(t, d)
}

// checkWidgetType checks prog's struct widget from DWARF.
func checkWidgetType(t *testing.T, d *dwarf.Data) {
	t.Helper()
	e := findDWARFEntry(t, d, dwarf.TagStructType, "widget")
	if e == nil {
		t.Fatal("DWARF: no struct widget")
	}
	typ, err := d.Type(e.Offset)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := typ.(*dwarf.StructType)
	if !ok || len(st.Field) != 2 || st.Field[1].Name != "b" || st.Field[1].ByteOffset != 8 {
		t.Fatalf("struct widget = %v", typ)
	}
}

func buildIDPath(dir string, id []byte) string {
	h := hex.EncodeToString(id)
	return filepath.Join(dir, ".build-id", h[:2], h[2:]+".debug")
}

// TestMiniDebugInfoSymbols reads the functions of a stripped program from
// its .gnu_debugdata (built the way Fedora builds MiniDebugInfo).
func TestMiniDebugInfoSymbols(t *testing.T) {
	needTool(t, "gcc", "objcopy", "strip", "xz")
	dir := t.TempDir()
	src, err := filepath.Abs("testdata/prog.c")
	if err != nil {
		t.Fatal(err)
	}
	run(t, dir, "gcc", "-g", "-O1", "-o", "prog", src)
	run(t, dir, "objcopy", "--only-keep-debug", "prog", "mini")
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("helper\nmain\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "objcopy", "-S", "--remove-section", ".comment", "--keep-symbols=keep", "mini", "mini.small")
	run(t, dir, "xz", "mini.small")
	run(t, dir, "strip", "--strip-all", "prog")
	run(t, dir, "objcopy", "--add-section", ".gnu_debugdata=mini.small.xz", "prog")
	exe := filepath.Join(dir, "prog")

	lp, o := startProg(t, exe)
	tab, err := Load(processFromMaps(t, liveMaps(t, lp.cmd.Process.Pid)), Options{DebugDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	m := moduleByPath(t, tab, exe)
	if m.ELF.Section(".symtab") != nil || m.ELF.Section(".gnu_debugdata") == nil {
		t.Fatal("prog should have .gnu_debugdata and no .symtab")
	}
	if err := m.LoadSymbols(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		addr uint64
	}{{"helper", o.helper}, {"main", o.main}} {
		if s, ok := m.Lookup(c.name); !ok || uint64(s.Addr) != c.addr || !s.Func {
			t.Errorf("Lookup(%s) = %s %v, prog printed %#x", c.name, s.Addr, ok, c.addr)
		}
	}
	if s, off, ok := m.Symbolize(core.Address(o.helper + 2)); !ok || s.Name != "helper" || off != 2 {
		t.Errorf("Symbolize(helper+2) = %q+%d %v", s.Name, off, ok)
	}
	if _, ok := m.Lookup("global_widget"); ok {
		t.Error("found global_widget, which the MiniDebugInfo does not keep")
	}
	if m.HasDWARF() {
		t.Error("HasDWARF true from MiniDebugInfo")
	}
}
