package session_test

import (
	"os"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/session"
)

// benchCore is the core the benchmarks read: $PYCORE_BENCH_CORE (e.g. the
// large core of bench/run.sh), else a kernel core of the stacks scenario made
// now by pyenv's 3.12 (or the first interpreter found).
func benchCore(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("PYCORE_BENCH_CORE"); p != "" {
		return p
	}
	all, err := pytest.Discover()
	if err != nil {
		b.Fatal(err)
	}
	if len(all) == 0 {
		b.Skip("no CPython interpreter on this machine to make a core with")
	}
	interp := all[0]
	for _, i := range all {
		if i.Origin == "pyenv" && i.Minor == "3.12" {
			interp = i
		}
	}
	return pytest.MakeCore(b, interp, "stacks", pytest.Kernel).Path
}

// BenchmarkOpen is session.Open and Close: the core's notes and mappings, the
// files it maps, their symbols as far as finding CPython needs them.
func BenchmarkOpen(b *testing.B) {
	path := benchCore(b)
	b.ResetTimer()
	for b.Loop() {
		s, err := session.Open(path, session.Options{})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkSnapshot is what `pycore threads` does before printing: Open,
// every thread's frames, Close.
func BenchmarkSnapshot(b *testing.B) {
	path := benchCore(b)
	b.ResetTimer()
	frames := 0
	for b.Loop() {
		s, err := session.Open(path, session.Options{})
		if err != nil {
			b.Fatal(err)
		}
		snap, err := s.Python.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		frames = 0
		for _, t := range snap.Threads {
			frames += len(t.Frames)
		}
		s.Close()
	}
	if frames == 0 {
		b.Fatal("no frames in the snapshot")
	}
	b.ReportMetric(float64(frames), "frames")
}
