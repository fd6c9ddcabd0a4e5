package session_test

import (
	"os"
	"syscall"
	"testing"
	"time"

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
	defer cpuPerOp(b)()
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
	defer cpuPerOp(b)()
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

// cpuPerOp reports the process's CPU time (user and system, GC included) per
// operation, which a busy machine disturbs less than wall time. Call as
// defer cpuPerOp(b)() before the loop.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
