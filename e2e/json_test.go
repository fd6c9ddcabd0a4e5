package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// jsonToolAccepts reports whether Python's own JSON parser (python3 -m
// json.tool, which takes exactly one document) accepts data, with its
// complaint when it does not.
func jsonToolAccepts(t *testing.T, python string, data []byte) (bool, string) {
	t.Helper()
	cmd := exec.Command(python, "-m", "json.tool")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	err := cmd.Run()
	return err == nil, strings.TrimSpace(stderr.String())
}

// TestEveryJSONIsOneDocument runs every command that has --json on the
// sample bundle (and the shell's commands) and gives the output to python3
// -m json.tool, which fails on anything but one JSON document (JSON Lines
// included); --json-lines must be one document per line instead.
func TestEveryJSONIsOneDocument(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH to check the JSON with")
	}
	if ok, _ := jsonToolAccepts(t, python, []byte("{}\n{}\n")); ok {
		t.Fatal("python3 -m json.tool accepts two documents: it cannot tell JSON Lines from one document here")
	}
	heap := pycoreOutput(t, "heap", "--json", "--type", "function", "--limit", "1", sampleBundle)
	var inst struct {
		Instances []struct {
			Address string `json:"address"`
		} `json:"instances"`
	}
	if err := json.Unmarshal(heap, &inst); err != nil || len(inst.Instances) == 0 {
		t.Fatalf("heap --type function --json: %v\n%s", err, heap)
	}
	addr := inst.Instances[0].Address
	commands := [][]string{
		{"threads", "--json"},
		{"threads", "--json", "--locals"},
		{"threads", "--json", "--native"},
		{"tasks", "--json"},
		{"heap", "--json", "--top", "3"},
		{"heap", "--json", "--type", "str", "--limit", "2"},
		{"refs", "--json", addr},
		{"path", "--json", addr},
		{"eval", "--json", "tstate.native_thread_id"},
		{"eval", "--json", "tstate.native_thread_id", "*frame", "pyobj(frame.f_code.co_filename)"},
		{"ptype", "--json", "PyObject"},
		{"rd", "--json", "frame", "4"},
		{"sym", "--json", "PyLong_Type"},
		{"maps", "--json"},
		{"report", "--format", "json", "--no-progress"},
	}
	for _, c := range commands {
		// The core right after the command: refs, path and the expression
		// commands take it first.
		args := append([]string{c[0], sampleBundle}, c[1:]...)
		out := pycoreOutput(t, args...)
		if ok, why := jsonToolAccepts(t, python, out); !ok {
			t.Errorf("pycore %s: python3 -m json.tool refuses the output: %s\n%.600s", strings.Join(c, " "), why, out)
		}
	}
	// eval --json is one array, an object per expression in order, failures included.
	cmd := exec.Command(pycoreBin, "eval", "--json", sampleBundle, "tstate.native_thread_id", "nosuch")
	out, _ := cmd.Output()
	var results []struct {
		Expr  string `json:"expr"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("eval --json with a failing expression: %v\n%s", err, out)
	}
	if len(results) != 2 || results[0].Expr != "tstate.native_thread_id" || results[0].Error != "" || results[1].Expr != "nosuch" || results[1].Error == "" {
		t.Errorf("eval --json of two expressions, the second failing: %+v", results)
	}
	// --json-lines: one object per line, one line per expression.
	lines := strings.Split(strings.TrimSuffix(string(pycoreOutput(t, "eval", "--json-lines", sampleBundle,
		"tstate.native_thread_id", "*frame", "1 + 2")), "\n"), "\n")
	if len(lines) != 3 {
		t.Errorf("eval --json-lines of 3 expressions printed %d lines", len(lines))
	}
	for _, l := range lines {
		if ok, why := jsonToolAccepts(t, python, []byte(l)); !ok {
			t.Errorf("eval --json-lines: line %q is not one JSON document: %s", l, why)
		}
	}
	// The shell's commands with --json, each run alone.
	for _, line := range []string{"threads --json", "eval --json 1 + 2", "sym PyLong_Type --json", "maps --json", "ptype --json PyObject", "rd --json frame 2"} {
		sh := exec.Command(pycoreBin, "shell", sampleBundle)
		sh.Stdin = strings.NewReader(line + "\n")
		var stdout, stderr bytes.Buffer
		sh.Stdout, sh.Stderr = &stdout, &stderr
		if err := sh.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("shell %q: %v\n%s", line, err, stderr.String())
			continue
		}
		if ok, why := jsonToolAccepts(t, python, stdout.Bytes()); !ok {
			t.Errorf("shell %q: python3 -m json.tool refuses the output: %s\n%.600s", line, why, stdout.String())
		}
	}
}
