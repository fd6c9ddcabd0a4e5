package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// result makes a readable core result as Analyze would.
func result(path, python string, at time.Duration, sig Signature) *CoreResult {
	return &CoreResult{Path: path, Python: python, Time: t0.Add(at), Signature: &sig,
		Thread: &ThreadInfo{ThreadID: 1, Crashed: true}, stack: []StackFrame{{Function: "f", File: "/" + path + ".py", Line: 1}}}
}

func TestAggregatorGroupsCountsAndOrders(t *testing.T) {
	segv := newSignature("SIGSEGV", false, BasisCrashed, []SigFrame{{File: "w.py", Function: "crash"}})
	abrt := newSignature("SIGABRT", false, BasisCrashed, []SigFrame{{File: "m.py", Function: "check"}})
	hang := newSignature("", false, BasisMain, []SigFrame{{File: "h.py", Function: "wait"}})
	a := newAggregator(Options{})
	for _, r := range []*CoreResult{
		result("c1", "3.12.1", 3*time.Hour, segv),
		result("c2", "3.9.18", 1*time.Hour, segv),
		{Path: "junk", Error: "not an ELF file"},
		result("c3", "3.10.13", 5*time.Hour, segv),
		result("c4", "3.12.1", 2*time.Hour, abrt),
		result("c5", "3.12.1", 2*time.Hour, hang),
		result("c0", "3.12.1", 2*time.Hour, hang), // same time as c5: the smaller path is the example
	} {
		a.add(r)
	}
	rep := a.report(t0)
	if rep.Total != 7 || rep.Readable != 6 || len(rep.Unreadable) != 1 || rep.Unreadable[0] != (Unreadable{"junk", "not an ELF file"}) {
		t.Fatalf("total %d readable %d unreadable %+v", rep.Total, rep.Readable, rep.Unreadable)
	}
	var got []string
	for _, g := range rep.Groups {
		got = append(got, fmt.Sprintf("%d %d %s %v %s-%s %s", g.Rank, g.Count, g.Signature.Text, g.Versions,
			g.First.Sub(t0), g.Last.Sub(t0), g.Example))
	}
	want := []string{
		"1 3 SIGSEGV, crashed thread: crash (w.py) [3.9.18 3.10.13 3.12.1] 1h0m0s-5h0m0s c3",
		"2 2 no signal, main thread: wait (h.py) [3.12.1] 2h0m0s-2h0m0s c0",
		"3 1 SIGABRT, crashed thread: check (m.py) [3.12.1] 2h0m0s-2h0m0s c4",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if g := rep.Groups[0]; len(g.Stack) != 1 || g.Stack[0].File != "/c3.py" {
		t.Errorf("the example's stack is not the example core's: %+v", g.Stack)
	}
	if len(rep.Cores) != 6 || rep.Cores[0].Path != "c1" || rep.Cores[0].Group != segv.ID {
		t.Errorf("cores: %+v", rep.Cores)
	}
}

// A group lists its MaxGroupCores newest cores, newest first (ties by path),
// whatever order they come in.
func TestGroupListsItsNewestCores(t *testing.T) {
	segv := newSignature("SIGSEGV", false, BasisCrashed, []SigFrame{{File: "w.py", Function: "crash"}})
	a := newAggregator(Options{})
	order := []int{7, 0, 13, 3, 11, 1, 12, 5, 9, 2, 14, 4, 10, 6, 8}
	for _, i := range order {
		// Cores 13 and 14 share a time: the smaller path comes first.
		at := time.Duration(min(i, 13)) * time.Minute
		a.add(result(fmt.Sprintf("c%02d", i), "3.12.1", at, segv))
	}
	g := a.report(t0).Groups[0]
	want := "c13 c14 c12 c11 c10 c09 c08 c07 c06 c05"
	if got := strings.Join(g.Cores, " "); got != want || g.Count != 15 || g.MoreCores() != 5 || g.Example != "c13" {
		t.Errorf("cores %s (count %d, %d more, example %s), want %s, 15, 5 more, example c13", got, g.Count, g.MoreCores(), g.Example, want)
	}
}

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{{"3.9.18", "3.10.13", true}, {"3.10.13", "3.9.18", false}, {"3.12.1", "3.12.1", false}, {"3.13.0", "3.13.0t", true}, {"3.8", "3.8.1", true}} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// junkInputs are files that are not cores: Analyze reads each and fails.
func junkInputs(t *testing.T, n int) []Input {
	dir := t.TempDir()
	var in []Input
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("junk-%03d", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("not a core %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		in = append(in, Input{Path: p})
	}
	return in
}

func TestRunReportsEveryFileInInputOrder(t *testing.T) {
	in := junkInputs(t, 40)
	in = append(in, Input{Path: "/nonexistent/x", Err: errors.New("stat /nonexistent/x: no such file or directory")})
	var lines []string
	var mu sync.Mutex
	var calls, lastDone int
	rep, err := Run(context.Background(), in, Options{
		Jobs:   4,
		OnCore: func(r *CoreResult) error { lines = append(lines, r.Path); return nil },
		Progress: func(done, total, bad int) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if done != lastDone+1 || total != len(in) || bad != done {
				t.Errorf("progress %d/%d (%d bad) after %d", done, total, bad, lastDone)
			}
			lastDone = done
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != len(in) {
		t.Errorf("%d progress calls, want %d", calls, len(in))
	}
	for i := range in {
		if lines[i] != in[i].Path {
			t.Fatalf("line %d is %s, want %s (input order)", i, lines[i], in[i].Path)
		}
		if rep.Unreadable[i].Path != in[i].Path {
			t.Fatalf("unreadable %d is %s, want %s", i, rep.Unreadable[i].Path, in[i].Path)
		}
	}
	if rep.Total != len(in) || rep.Readable != 0 || len(rep.Groups) != 0 {
		t.Errorf("total %d readable %d groups %d", rep.Total, rep.Readable, len(rep.Groups))
	}
	if r := rep.Unreadable[0].Reason; r != `not an ELF file (starts with "not a co")` {
		t.Errorf("reason %q: want the reader's reason without the path", r)
	}
	if r := rep.Unreadable[len(in)-1].Reason; r != "no such file or directory" {
		t.Errorf("reason %q", r)
	}
}

func TestRunStops(t *testing.T) {
	in := junkInputs(t, 50)
	t.Run("when the context is cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		_, err := Run(ctx, in, Options{Jobs: 2, OnCore: func(*CoreResult) error {
			if n++; n == 3 {
				cancel()
			}
			return nil
		}})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
	t.Run("when writing a line fails", func(t *testing.T) {
		boom := errors.New("disk full")
		_, err := Run(context.Background(), in, Options{Jobs: 2, OnCore: func(*CoreResult) error { return boom }})
		if !errors.Is(err, boom) {
			t.Errorf("got %v, want %v", err, boom)
		}
	})
}

func TestAnalyzeNamesWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{empty, "empty file"},
		{dir, "is a directory"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		r := Analyze(c.path, Options{})
		if !strings.Contains(r.Error, c.want) || r.Signature != nil {
			t.Errorf("%s: error %q, want %q", c.path, r.Error, c.want)
		}
	}
}
