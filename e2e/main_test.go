// Package e2e runs the pycore binary on real cores of real CPython
// interpreters and compares its answers with what the programs recorded about
// themselves before they died.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// pycoreBin is the pycore binary built once for all tests.
var pycoreBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pycore-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pycoreBin = filepath.Join(dir, "pycore")
	build := exec.Command("go", "build", "-o", pycoreBin, "../cmd/pycore")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building pycore:", err)
		os.Exit(1)
	}
	code := m.Run()
	matrix.print(os.Stdout)
	// go test ./... shows a passing package's output only with -v: CI reads the
	// matrix from this file instead.
	if path := os.Getenv("PYCORE_MATRIX"); path != "" {
		if f, err := os.Create(path); err == nil {
			matrix.print(f)
			f.Close()
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// matrix collects one result per (version, build, core kind, analysis).
var matrix = &resultMatrix{cells: map[[2]string]string{}}

type resultMatrix struct {
	mu    sync.Mutex
	cells map[[2]string]string // {row, column} -> pass/FAIL/skip
}

func (m *resultMatrix) record(row, col, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := [2]string{row, col}
	// A cell covers several scenarios: one failure fails it.
	if prev, ok := m.cells[key]; ok && prev != "pass" && result == "pass" {
		return
	}
	m.cells[key] = result
}

func (m *resultMatrix) print(w *os.File) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cells) == 0 {
		return
	}
	rowSet, colSet := map[string]bool{}, map[string]bool{}
	for k := range m.cells {
		rowSet[k[0]], colSet[k[1]] = true, true
	}
	rows, cols := keys(rowSet), keys(colSet)
	sort.Slice(rows, func(i, j int) bool { return versionKey(rows[i]) < versionKey(rows[j]) })
	fmt.Fprintln(w, "\npycore threads vs. oracle (version x build x core kind x analysis):")
	fmt.Fprintf(w, "%-34s", "interpreter")
	for _, c := range cols {
		fmt.Fprintf(w, " %-16s", c)
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "%-34s", r)
		for _, c := range cols {
			v := m.cells[[2]string{r, c}]
			if v == "" {
				v = "-"
			}
			fmt.Fprintf(w, " %-16s", v)
		}
		fmt.Fprintln(w)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// versionKey sorts "3.9.2 debian-bullseye" before "3.10.13 pyenv".
func versionKey(row string) string {
	v := strings.Fields(row)[0]
	parts := strings.SplitN(v, ".", 3)
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	return fmt.Sprintf("%03s.%03s.%03s %s", parts[0], parts[1], parts[2], row)
}
