package pytest

import (
	"bufio"
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	discoverOnce sync.Once
	discovered   []Interpreter
	discoverErr  error
)

// interpreters discovers once per test process; a failing interpreter fails the test.
func interpreters(t *testing.T) []Interpreter {
	t.Helper()
	discoverOnce.Do(func() { discovered, discoverErr = Discover() })
	if discoverErr != nil {
		t.Fatalf("discovering interpreters: %v", discoverErr)
	}
	if len(discovered) == 0 {
		t.Fatal("no CPython interpreter found (pyenv, /usr/bin/python3.X, or run testdata/pythons/fetch.sh)")
	}
	return discovered
}

// expected lists the interpreters this machine is meant to have; the missing ones are
// logged, not failed, so that a machine without the Debian cache still runs the rest.
var expected = []struct{ origin, kind string }{
	{"pyenv", "3.6"}, {"pyenv", "3.7"}, {"pyenv", "3.8"}, {"pyenv", "3.9"}, {"pyenv", "3.10"},
	{"pyenv", "3.11"}, {"pyenv", "3.12"}, {"pyenv", "3.13"},
	{"debian-bullseye", "3.9"}, {"debian-bookworm", "3.11"}, {"debian-trixie", "3.13"},
	{"debian-forky", "3.14"}, {"debian-sid", "3.15"},
	{"debian-bookworm", "3.11d"}, {"debian-trixie", "3.13d"}, {"source-trixie", "3.13t"},
}

func TestDiscoverFindsRunnableInterpreters(t *testing.T) {
	all := interpreters(t)
	for _, e := range expected {
		found := false
		for _, i := range all {
			found = found || i.Origin == e.origin && i.Kind() == e.kind
		}
		if !found {
			hint := ""
			if !strings.HasPrefix(e.origin, "pyenv") {
				hint = " (run testdata/pythons/fetch.sh)"
			}
			t.Logf("missing: %s %s%s", e.origin, e.kind, hint)
		}
	}
	exes := map[string]bool{}
	for _, i := range all {
		t.Logf("%-22s dwarf=%-5v debug_dir=%q argv=%q env=%q", i.Name(), i.DWARF, i.DebugDir, i.Argv, i.Env)
		if exes[i.Exe] {
			t.Errorf("%s listed twice", i.Exe)
		}
		exes[i.Exe] = true
		if !strings.HasPrefix(i.Version, i.Minor+".") {
			t.Errorf("%s: version %q does not start with minor %q", i.Exe, i.Version, i.Minor)
		}
		if !i.AtLeast(3, 6) {
			t.Errorf("%s: Discover returned %s, older than 3.6", i.Exe, i.Version)
		}
		if i.Origin == "system" && i.ABIFlags != "" {
			t.Errorf("%s: the system's interpreter has ABI flags %q", i.Name(), i.ABIFlags)
		}
		switch {
		case i.Origin == "pyenv", strings.HasPrefix(i.Origin, "source-"):
			if !i.DWARF {
				t.Errorf("%s: %s build without DWARF", i.Name(), i.Origin)
			}
			if strings.HasPrefix(i.Origin, "source-") && !i.FreeThreaded() {
				t.Errorf("%s: build-ft.sh's build is not free-threaded (ABI flags %q)", i.Name(), i.ABIFlags)
			}
		case strings.HasPrefix(i.Origin, "debian-") && i.Debug():
			// Debian's python3.Xd keeps its DWARF in the executable.
			if !i.DWARF || !strings.HasSuffix(i.Exe, "d") {
				t.Errorf("%s: Py_DEBUG build %s without DWARF, or not named python3.Xd", i.Name(), i.Exe)
			}
		case strings.HasPrefix(i.Origin, "debian-"):
			if i.DWARF {
				t.Errorf("%s: Debian release build with DWARF in its own files", i.Name())
			}
			id, err := BuildID(i.Exe)
			if err != nil || id == "" {
				t.Fatalf("%s: no build ID: %v", i.Exe, err)
			}
			dbg := filepath.Join(i.DebugDir, ".build-id", id[:2], id[2:]+".debug")
			f, err := elf.Open(dbg)
			if err != nil {
				t.Errorf("%s: detached debug file: %v", i.Name(), err)
				continue
			}
			if f.Section(".debug_info") == nil {
				t.Errorf("%s: %s has no .debug_info", i.Name(), dbg)
			}
			f.Close()
		}
	}
}

func TestDiscoverAllKeepsPython2Findable(t *testing.T) {
	all, err := DiscoverAll()
	if err != nil {
		t.Fatal(err)
	}
	py3, _ := Discover()
	if len(all) < len(py3) {
		t.Fatalf("DiscoverAll found %d, Discover %d", len(all), len(py3))
	}
	for _, i := range all {
		if i.Minor == "2.7" {
			t.Logf("found %s at %s", i.Name(), i.Exe)
			return
		}
	}
	t.Log("no Python 2.7 on this machine")
}

// The ELF files Files finds must be those the dynamic loader maps: compare with the
// interpreter's own /proc/self/maps.
func TestFilesMatchesWhatTheLoaderMaps(t *testing.T) {
	for _, i := range Select(interpreters(t)) {
		files, err := i.Files()
		if err != nil {
			t.Fatalf("%s: %v", i.Name(), err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := i.Command(ctx, childEnv(), "-c", "import sys; sys.stdout.write(open('/proc/self/maps').read())").Output()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", i.Name(), err)
		}
		mapped := map[string]bool{}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 6 && strings.HasPrefix(fields[5], "/") {
				p := fields[5]
				if real, err := filepath.EvalSymlinks(p); err == nil {
					p = real
				}
				base := filepath.Base(p)
				if p == i.Exe || strings.HasPrefix(base, "libpython") {
					mapped[p] = true
				}
			}
		}
		got := append([]string(nil), files...)
		var want []string
		for p := range mapped {
			want = append(want, p)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: Files() = %q, mapped %q", i.Name(), got, want)
		}
		t.Logf("%s: %q", i.Name(), files)
	}
}

func TestStrippedSysrootHasNoSymbolsButKeepsBuildIDs(t *testing.T) {
	for _, i := range Select(interpreters(t)) {
		dir, err := StrippedSysroot(i)
		if err != nil {
			t.Fatalf("%s: %v", i.Name(), err)
		}
		again, err := StrippedSysroot(i)
		if err != nil || again != dir {
			t.Errorf("%s: second call gave %q, %v; want the cached %q", i.Name(), again, err, dir)
		}
		files, _ := i.Files()
		for _, orig := range files {
			copyPath := filepath.Join(dir, orig)
			f, err := elf.Open(copyPath)
			if err != nil {
				t.Fatalf("%s: %v", i.Name(), err)
			}
			for _, name := range []string{".symtab", ".debug_info", ".debug_line"} {
				if f.Section(name) != nil {
					t.Errorf("%s: stripped copy still has %s", copyPath, name)
				}
			}
			if f.Section(".dynsym") == nil {
				t.Errorf("%s: stripped copy lost .dynsym", copyPath)
			}
			f.Close()
			idOrig, _ := BuildID(orig)
			idCopy, _ := BuildID(copyPath)
			if idOrig == "" || idOrig != idCopy {
				t.Errorf("%s: build ID %q, original %q", copyPath, idCopy, idOrig)
			}
			so, _ := os.Stat(orig)
			sc, _ := os.Stat(copyPath)
			t.Logf("%s: %s %d -> %d bytes", i.Name(), orig, so.Size(), sc.Size())
		}
	}
}
