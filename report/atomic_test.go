package report

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestAtomicFile(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "report.txt")
	if err := os.WriteFile(dest, []byte("old report"), 0o600); err != nil {
		t.Fatal(err)
	}
	onlyDest := func() {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 || ents[0].Name() != "report.txt" {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("directory holds %v, want only report.txt", names)
		}
	}
	content := func() string {
		b, _ := os.ReadFile(dest)
		return string(b)
	}

	a, err := CreateAtomic(dest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(a, "half a rep"); err != nil {
		t.Fatal(err)
	}
	if content() != "old report" {
		t.Errorf("the destination changed before Commit: %q", content())
	}
	a.Abort()
	onlyDest()
	if content() != "old report" {
		t.Errorf("Abort changed the destination: %q", content())
	}

	boom := errors.New("boom")
	if err := WriteFileAtomic(dest, func(w io.Writer) error { io.WriteString(w, "partial"); return boom }); !errors.Is(err, boom) {
		t.Errorf("got %v, want boom", err)
	}
	onlyDest()
	if content() != "old report" {
		t.Errorf("a failed write changed the destination: %q", content())
	}

	if err := WriteFileAtomic(dest, func(w io.Writer) error { _, err := io.WriteString(w, "new report"); return err }); err != nil {
		t.Fatal(err)
	}
	onlyDest()
	if content() != "new report" {
		t.Errorf("content %q", content())
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	if _, err := CreateAtomic(filepath.Join(dir, "no", "such", "dir", "r.txt")); err == nil {
		t.Error("creating in a missing directory succeeded")
	}
}
