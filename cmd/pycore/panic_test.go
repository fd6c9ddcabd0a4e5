package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCapturing runs the command line as main does, with stderr captured.
func runCapturing(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	code := run(args)
	os.Stderr = old
	w.Close()
	return code, <-out
}

// A panic that still happens anyway is caught at the command boundary and
// reported as a bug, naming the core being read, without a Go stack trace
// (PYCORE_DEBUG=1 adds it). The panic is forced by a command only this test
// registers.
func TestPanicsAreReportedWithTheCoresName(t *testing.T) {
	register(func() *cobra.Command {
		return &cobra.Command{
			Use:    "test-panic CORE",
			Hidden: true,
			Args:   cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				var frames []int
				_ = frames[len(args)+2] // an index a corrupt core might make go wrong
				return nil
			},
		}
	})
	core := "/var/crash/core.python3.12.4242"
	for _, debug := range []string{"", "1"} {
		t.Setenv("PYCORE_DEBUG", debug)
		code, stderr := runCapturing(t, "test-panic", core)
		if code != 3 {
			t.Errorf("PYCORE_DEBUG=%q: exit status %d, want 3", debug, code)
		}
		for _, want := range []string{"pycore: internal error (a bug in pycore)", core, "index out of range", "Please report it"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("PYCORE_DEBUG=%q: stderr lacks %q:\n%s", debug, want, stderr)
			}
		}
		if trace := strings.Contains(stderr, "goroutine ") && strings.Contains(stderr, "panic_test.go"); trace != (debug != "") {
			t.Errorf("PYCORE_DEBUG=%q: Go stack trace shown: %v, want %v:\n%s", debug, trace, debug != "", stderr)
		}
	}
}
