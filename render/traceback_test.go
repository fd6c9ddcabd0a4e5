package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os/exec"
	"strings"
	"testing"
)

// TestTracebackMatchesTheTracebackModule gives random stacks with runs of
// repeated frames to Python's own traceback.StackSummary.format() and checks
// that WriteTraceback prints the same lines (the oracle for tasks and
// exception tracebacks, which the e2e tests do not make recurse).
func TestTracebackMatchesTheTracebackModule(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	r := rand.New(rand.NewSource(1))
	var stacks [][][2]int // (line, function) pairs, outermost first
	for n := 0; n < 200; n++ {
		var s [][2]int
		for len(s) < 1+r.Intn(40) {
			f := [2]int{1 + r.Intn(3), r.Intn(2)}
			for k := r.Intn(8); k >= 0; k-- {
				s = append(s, f)
			}
		}
		stacks = append(stacks, s)
	}
	in, _ := json.Marshal(stacks)
	const script = `
import json, sys, traceback
for s in json.load(sys.stdin):
    summary = traceback.StackSummary.from_list([("f.py", line, "g%d" % fn, "") for line, fn in s])
    print(json.dumps("".join(summary.format())))
`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(stacks) {
		t.Fatalf("python3 printed %d stacks, want %d", len(lines), len(stacks))
	}
	for i, s := range stacks {
		var want string
		if err := json.Unmarshal([]byte(lines[i]), &want); err != nil {
			t.Fatal(err)
		}
		entries := make([]Entry, len(s))
		for k, f := range s {
			entries[k] = Entry{File: "f.py", Line: f[0], Name: fmt.Sprintf("g%d", f[1])}
		}
		var b strings.Builder
		WriteTraceback(&b, "", entries)
		if got := b.String(); got != want {
			t.Errorf("stack %d %v:\n got:\n%s\n want (traceback):\n%s", i, s, got, want)
		}
	}
}
