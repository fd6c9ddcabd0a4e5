package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func writeFiles(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(in []Input) []string {
	var out []string
	for _, i := range in {
		s := i.Path
		if i.Err != nil {
			s += " ERR"
		}
		out = append(out, s)
	}
	return out
}

func TestCollect(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, "d/core.1", "d/b/core.2", "d/b/notes.txt", "d/a/c/core.3", "single.txt", "other/core.9")
	d := filepath.Join(root, "d")
	if err := os.Symlink(filepath.Join(root, "other", "core.9"), filepath.Join(d, "link-to-file")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "other"), filepath.Join(d, "link-to-dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(d, filepath.Join(d, "b", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(d, "broken")); err != nil {
		t.Fatal(err)
	}
	j := func(p ...string) string { return filepath.Join(append([]string{root}, p...)...) }

	t.Run("directories are walked in lexical order, links to directories are not followed", func(t *testing.T) {
		got, err := Collect([]string{d}, "")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{j("d/a/c/core.3"), j("d/b/core.2"), j("d/b/notes.txt"), j("d/broken") + " ERR", j("d/core.1"), j("d/link-to-file")}
		if strings.Join(paths(got), "\n") != strings.Join(want, "\n") {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(paths(got), "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("the glob filters files found in directories, not files named", func(t *testing.T) {
		got, err := Collect([]string{d, j("single.txt")}, "core*")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{j("d/a/c/core.3"), j("d/b/core.2"), j("d/core.1"), j("single.txt")}
		if strings.Join(paths(got), "\n") != strings.Join(want, "\n") {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(paths(got), "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("a path given twice is read once", func(t *testing.T) {
		got, _ := Collect([]string{j("d/core.1"), d, j("d", ".", "core.1")}, "core.1")
		if len(got) != 1 {
			t.Errorf("got %v, want core.1 once", paths(got))
		}
	})
	t.Run("a missing path is an input with an error, not a failure", func(t *testing.T) {
		got, err := Collect([]string{j("missing"), j("d/core.1")}, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "no such file") || got[1].Err != nil {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("a link to a directory named on the command line is walked", func(t *testing.T) {
		got, _ := Collect([]string{filepath.Join(d, "link-to-dir")}, "")
		if len(got) != 1 || !strings.HasSuffix(got[0].Path, "core.9") || got[0].Err != nil {
			t.Errorf("got %v", paths(got))
		}
	})
	t.Run("a bad glob is an error", func(t *testing.T) {
		if _, err := Collect([]string{d}, "[x"); err == nil || !strings.Contains(err.Error(), "--glob") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a named FIFO is not read", func(t *testing.T) {
		fifo := j("fifo")
		if err := unix.Mkfifo(fifo, 0o644); err != nil {
			t.Fatalf("mkfifo: %v", err)
		}
		got, _ := Collect([]string{fifo}, "")
		if len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "not a regular file") {
			t.Errorf("got %+v", got)
		}
	})
}
