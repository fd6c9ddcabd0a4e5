package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os/exec"
	"strings"
	"testing"
)

// TestCollapseRepeatsMatchesTraceback gives random stacks with runs of
// repeated frames to Python's own traceback.StackSummary.format() and checks
// that collapseRepeats prints the same lines (the oracle for tasks, whose
// coroutine stacks the e2e tests do not make recurse).
func TestCollapseRepeatsMatchesTraceback(t *testing.T) {
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
		blocks := make([]string, len(s))
		for k, f := range s {
			blocks[k] = fmt.Sprintf("  File \"f.py\", line %d, in g%d\n", f[0], f[1])
		}
		if got := strings.Join(collapseRepeats(blocks, "  "), ""); got != want {
			t.Errorf("stack %d %v:\n got:\n%s\n want (traceback):\n%s", i, s, got, want)
		}
	}
}
