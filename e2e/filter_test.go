package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
)

// TestThreadFilters checks threads --thread and --crashed against the
// threads stacks.py recorded (threading.get_ident(), get_native_id()): the
// text, the JSON, --native and the shell's threads show exactly the threads
// asked for, by LWP, by hex or decimal ident, repeated or comma-separated;
// --crashed shows the thread that called os.abort(); asking for a thread
// that is not there, or --crashed on a gcore of a running process, is one
// line on stderr and a non-zero exit.
func TestThreadFilters(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "stacks", pytest.Kernel)
			o := c.Oracle
			a, b := o.ThreadNamed("recursion"), o.ThreadNamed("nested")
			if a == nil || b == nil || o.CrashedThread() == nil {
				t.Fatal("stacks.py's oracle lacks the recursion or nested thread, or the crashed one")
			}
			byLWP := func(ot *pytest.OracleThread) string {
				if ot.NativeID == 0 { // 3.6, 3.7: no get_native_id(); the ident works everywhere
					return fmt.Sprint(ot.Ident)
				}
				return fmt.Sprint(ot.NativeID)
			}
			cases := []struct {
				args []string
				want []uint64
			}{
				{[]string{"--thread", byLWP(a)}, []uint64{a.Ident}},
				{[]string{"--thread", fmt.Sprintf("%#x", b.Ident)}, []uint64{b.Ident}},
				{[]string{"--thread", fmt.Sprint(a.Ident) + "," + byLWP(b)}, []uint64{a.Ident, b.Ident}},
				{[]string{"--thread", byLWP(a), "--thread", fmt.Sprintf("%#x", b.Ident)}, []uint64{a.Ident, b.Ident}},
				{[]string{"--crashed"}, []uint64{o.Crashed}},
				{[]string{"--crashed", "--thread", byLWP(a)}, []uint64{a.Ident, o.Crashed}},
			}
			for _, tc := range cases {
				what := strings.Join(tc.args, " ")
				want := idents(tc.want)
				snap := runThreads(t, c.Path, tc.args...)
				var got []uint64
				for _, th := range snap.Threads {
					got = append(got, th.ThreadID)
				}
				if idents(got) != want {
					t.Errorf("threads --json %s: threads %s, want %s", what, idents(got), want)
				}
				text := runText(t, append(append([]string{"threads"}, tc.args...), c.Path)...)
				if got := textThreadIdents(text); got != want {
					t.Errorf("threads %s: text shows threads %s, want %s", what, got, want)
				}
				if !strings.Contains(text, fmt.Sprintf("note: %d of %d threads shown", len(tc.want), len(o.Threads))) {
					t.Errorf("threads %s: no note saying %d of %d threads are shown", what, len(tc.want), len(o.Threads))
				}
				if got := shellThreadIdents(t, c.Path, "threads --json "+what); got != want {
					t.Errorf("shell: threads --json %s: threads %s, want %s", what, got, want)
				}
			}
			// --native: the same threads, found by LWP among the kernel's.
			if a.NativeID != 0 {
				out := pycoreOutput(t, "threads", "--native", "--json", "--thread", byLWP(a), c.Path)
				var ns struct {
					Threads []struct {
						LWP      int64  `json:"lwp"`
						ThreadID uint64 `json:"thread_id"`
					} `json:"threads"`
				}
				if err := json.Unmarshal(out, &ns); err != nil {
					t.Fatalf("threads --native --json: %v", err)
				}
				if len(ns.Threads) != 1 || ns.Threads[0].LWP != a.NativeID || ns.Threads[0].ThreadID != a.Ident {
					t.Errorf("threads --native --thread %d: %+v, want LWP %d ident %#x only", a.NativeID, ns.Threads, a.NativeID, a.Ident)
				}
			}
			// No match: one line naming what was asked and what there is.
			for _, tc := range []struct{ arg, says string }{{"1", "no thread matches --thread 1;"}, {"nonsense", `--thread "nonsense": not a thread id`}} {
				stderr := failingRun(t, "threads", "--thread", tc.arg, c.Path)
				if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.says) {
					t.Errorf("threads --thread %s: stderr %q, want one line saying %q", tc.arg, stderr, tc.says)
				}
			}
		})
	}
}

// TestCrashedFilterOnAGcore: a gcore of a running process has no crashed
// thread, and --crashed says so instead of printing nothing.
func TestCrashedFilterOnAGcore(t *testing.T) {
	interp := interpreters(t)[0]
	c := pytest.MakeCore(t, interp, "stacks", pytest.Gcore)
	stderr := failingRun(t, "threads", "--crashed", c.Path)
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "no thread crashed") {
		t.Errorf("threads --crashed on a gcore: stderr %q, want one line saying no thread crashed", stderr)
	}
}

// failingRun runs pycore, which must fail, and returns its stderr.
func failingRun(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(pycoreBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Errorf("pycore %s succeeded, want an error\n%s", strings.Join(args, " "), stdout.String())
	}
	return stderr.String()
}

func idents(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprintf("%#x", id)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

var textHeaderRE = regexp.MustCompile(`(?m)^Thread (0x[0-9a-f]+) \(`)

// textThreadIdents lists the threads whose stacks the text prints.
func textThreadIdents(text string) string {
	var ids []uint64
	for _, m := range textHeaderRE.FindAllStringSubmatch(text, -1) {
		var id uint64
		fmt.Sscanf(m[1], "0x%x", &id)
		ids = append(ids, id)
	}
	return idents(ids)
}

// shellThreadIdents runs one shell line that prints a threads JSON document.
func shellThreadIdents(t *testing.T, core, line string) string {
	t.Helper()
	sh := exec.Command(pycoreBin, "shell", core)
	sh.Stdin = strings.NewReader(line + "\n")
	var stdout, stderr bytes.Buffer
	sh.Stdout, sh.Stderr = &stdout, &stderr
	if err := sh.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("shell %q: %v\n%s", line, err, stderr.String())
	}
	var snap struct {
		Threads []struct {
			ThreadID uint64 `json:"thread_id"`
		} `json:"threads"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &snap); err != nil {
		t.Fatalf("shell %q: %v\n%s", line, err, stdout.String())
	}
	var ids []uint64
	for _, th := range snap.Threads {
		ids = append(ids, th.ThreadID)
	}
	return idents(ids)
}
