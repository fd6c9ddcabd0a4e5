package cpython

import (
	"encoding/json"
	"github.com/pycore/pycore/cpython/pyobj"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// seedInterpreters: one interpreter per build kind (3.8, 3.13t, 3.11d, ...)
// in CI and when the seeds are rewritten, the usual pair otherwise.
func seedInterpreters(t *testing.T) []pytest.Interpreter {
	all, err := pytest.Discover()
	if err != nil {
		t.Logf("discovering interpreters: %v", err)
	}
	var ok []pytest.Interpreter
	for _, i := range all {
		if i.AtLeast(3, 7) {
			ok = append(ok, i)
		}
	}
	if len(ok) == 0 {
		t.Skip("no CPython 3.7+ interpreter on this machine (run testdata/pythons/fetch.sh)")
	}
	if !pytest.Full() && os.Getenv("PYCORE_UPDATE_FUZZ_SEEDS") == "" {
		return pytest.Select(ok)
	}
	byKind := map[string]pytest.Interpreter{}
	for _, i := range ok {
		if prev, seen := byKind[i.Kind()]; !seen || (prev.Origin != "pyenv" && i.Origin == "pyenv") {
			byKind[i.Kind()] = i
		}
	}
	var out []pytest.Interpreter
	for _, i := range byKind {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name() < out[b].Name() })
	return out
}

// recordProcess opens a real core and makes every later read of p go
// through a recorder.
func recordProcess(t *testing.T, path string) (*Process, func() *recorder) {
	cp, err := core.Open(path, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	// No debug files: the image harness has the tables or the debug offsets only.
	syms, err := symbols.Load(cp, symbols.Options{DebugDirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(cp, syms, Options{Types: TypesBuiltin})
	if err != nil {
		t.Fatal(err)
	}
	real := p.R.Mem
	return p, func() *recorder {
		rec := &recorder{m: real, bytes: map[core.Address]byte{}}
		p.R.Mem = rec
		p.codeRd.r = p.R
		p.Runtime = typesys.At(p.R, p.Runtime.Type, p.Runtime.Addr)
		if p.DebugOffsets != nil {
			// The harness reads the version and the types from them.
			_ = p.R.Read(make([]byte, p.DebugOffsets.Size), p.RuntimeAddr)
		}
		setObjLayout(p, pyobj.NewLayout(p.objects(), p.R, p.symLookup()))
		return rec
	}
}

// imageOf is the image of what rec recorded of p, with the symbols the
// renderer knows the builtin types by.
func imageOf(p *Process, rec *recorder, roots []core.Address) *image {
	l, _ := p.objectLayout()
	im := &image{version: p.Version, freeThreaded: p.FreeThreaded, debug: p.Debug, codeType: p.codeTyp,
		roots: roots, ranges: rec.ranges()}
	for _, s := range l.SymTags() {
		im.syms = append(im.syms, imageSym{s.Tag, s.Addr})
	}
	sort.Slice(im.syms, func(i, j int) bool { return im.syms[i].addr < im.syms[j].addr })
	return im
}

// TestRecordedImagesReplayLikeTheCore records the memory pycore reads while
// walking a real core and rendering its objects, then replays the recording
// through the fuzz harness: the snapshot and every repr must come out the
// same, which shows the fuzz targets start from what real cores look like.
// With PYCORE_UPDATE_FUZZ_SEEDS=1 the recordings become the seed corpora.
func TestRecordedImagesReplayLikeTheCore(t *testing.T) {
	update := os.Getenv("PYCORE_UPDATE_FUZZ_SEEDS") != ""
	for _, interp := range seedInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "objects", pytest.Kernel)
			data, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.objects.json"))
			if err != nil {
				t.Fatal(err)
			}
			var oracle struct {
				Objects map[string]struct{ ID uint64 }
			}
			if err := json.Unmarshal(data, &oracle); err != nil {
				t.Fatal(err)
			}
			p, record := recordProcess(t, c.Path)

			rec := record()
			want, err := p.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			snapImage := imageOf(p, rec, []core.Address{p.RuntimeAddr})

			rec = record()
			names := make([]string, 0, len(oracle.Objects))
			for name := range oracle.Objects {
				names = append(names, name)
			}
			sort.Strings(names)
			roots := []core.Address{p.RuntimeAddr}
			var reprs []string
			for _, name := range names {
				a := core.Address(oracle.Objects[name].ID)
				roots = append(roots, a)
				reprs = append(reprs, p.Object(a, DefaultReprOptions).Repr)
			}
			reprImage := imageOf(p, rec, roots)

			replay, err := imageProcess(snapImage)
			if err != nil {
				t.Fatalf("replaying the walk: %v", err)
			}
			got, err := replay.Snapshot()
			if err != nil {
				t.Fatalf("replayed snapshot: %v", err)
			}
			if g, w := threadsJSON(t, got), threadsJSON(t, want); g != w {
				t.Errorf("replayed threads differ:\n%s\nwant\n%s", g, w)
			}
			if len(want.Threads) < 3 {
				t.Errorf("only %d threads in the core", len(want.Threads))
			}

			replay2, err := imageProcess(reprImage)
			if err != nil {
				t.Fatalf("replaying the objects: %v", err)
			}
			for i, a := range roots[1:] {
				if got := replay2.Object(a, DefaultReprOptions).Repr; got != reprs[i] {
					t.Errorf("%s: replayed repr %q, the core gives %q", names[i], got, reprs[i])
				}
			}

			if update {
				name := interp.Kind()
				writeSeed(t, "FuzzSnapshot", name, snapImage.encode())
				writeSeed(t, "FuzzRepr", name, reprImage.encode())
				if p.DebugOffsets != nil {
					table := make([]byte, p.DebugOffsets.Size)
					if err := p.R.Read(table, p.RuntimeAddr); err != nil {
						t.Fatal(err)
					}
					writeSeed(t, "FuzzDebugOffsets", name, table)
				}
			}
		})
	}
}

func writeSeed(t *testing.T, target, name string, data []byte) {
	path := filepath.Join("testdata", "fuzz", target, name)
	if err := writeCorpusFile(path, data); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(data))
}

// threadsJSON is the part of a snapshot that comes from memory alone (the
// kernel threads of the core give LWPs and the crashed and main flags).
func threadsJSON(t *testing.T, s *Snapshot) string {
	var lines []string
	for _, th := range s.Threads {
		c := *th
		c.LWP, c.Crashed, c.Main, c.WaitsForGIL = nil, false, false, nil // from the registers, which an image has not
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	return strings.Join(lines, "\n") + "\nfinalizing " + boolString(s.Finalizing) + "\nnotes " + strings.Join(s.Notes, "; ")
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// The committed seeds still parse and replay without error: a change of the
// image format or the harness that breaks them shows here.
func TestCommittedFuzzSeedsAreImages(t *testing.T) {
	for _, target := range []string{"FuzzSnapshot", "FuzzRepr"} {
		seeds := readSeedImages(t, target)
		if len(seeds) == 0 {
			t.Errorf("no seeds in testdata/fuzz/%s (PYCORE_UPDATE_FUZZ_SEEDS=1 go test -run TestRecordedImagesReplayLikeTheCore)", target)
		}
		for name, im := range seeds {
			p, err := imageProcess(im)
			if err != nil {
				t.Errorf("%s/%s: %v", target, name, err)
				continue
			}
			if target == "FuzzSnapshot" {
				s, err := p.Snapshot()
				if err != nil || len(s.Threads) < 3 {
					t.Errorf("%s/%s: %v, %d threads", target, name, err, len(s.Threads))
				}
				for _, th := range s.Threads {
					if th.Error != "" || len(th.Frames) == 0 {
						t.Errorf("%s/%s: thread %#x: %d frames, %s", target, name, th.ThreadID, len(th.Frames), th.Error)
					}
				}
			} else {
				for _, a := range im.roots[1:] {
					if o := p.Object(a, DefaultReprOptions); o.Error != "" {
						t.Errorf("%s/%s: object at %#x: %s", target, name, uint64(a), o.Error)
					}
				}
			}
		}
	}
}
