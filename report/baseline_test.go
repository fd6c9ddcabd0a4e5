package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleReport(t *testing.T, sigs ...Signature) *Report {
	t.Helper()
	a := newAggregator(Options{})
	for i, s := range sigs {
		a.add(result("core"+string(rune('a'+i)), "3.12.1", time.Duration(i)*time.Minute, s))
	}
	return a.report(t0)
}

func TestBaselineMarksNewAndGoneGroups(t *testing.T) {
	old := newSignature("SIGSEGV", false, BasisCrashed, []SigFrame{{File: "w.py", Function: "crash"}})
	kept := newSignature("SIGABRT", false, BasisCrashed, []SigFrame{{File: "m.py", Function: "check"}})
	fresh := newSignature("", false, BasisMain, []SigFrame{{File: "h.py", Function: "wait"}})

	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleReport(t, old, kept, kept)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := LoadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := base.Comparable(SignatureOptions{}); err != nil {
		t.Fatal(err)
	}
	a := newAggregator(Options{Baseline: base})
	for _, r := range []*CoreResult{result("x", "3.12.1", 0, kept), result("y", "3.12.1", 0, fresh)} {
		a.add(r)
	}
	rep := a.report(t0)
	news := map[string]bool{}
	for _, g := range rep.Groups {
		news[g.Signature.Text] = g.New
	}
	if news[kept.Text] || !news[fresh.Text] || rep.NewCount() != 1 {
		t.Errorf("new flags %v: want only %q new", news, fresh.Text)
	}
	if len(rep.Gone) != 1 || rep.Gone[0].Signature.Text != old.Text || rep.Gone[0].Count != 1 {
		t.Errorf("gone %+v, want the SIGSEGV group", rep.Gone)
	}
	if rep.Baseline != path || !strings.Contains(rep.Summary(), "1 new since "+path+", 1 gone") {
		t.Errorf("summary %q", rep.Summary())
	}
}

func TestBaselineRefusesWhatItCannotCompare(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct{ name, content, want string }{
		{"text", "hello", "not a JSON report"},
		{"other.json", `{"format": "something-else", "version": 1}`, `format is "something-else"`},
		{"future.json", `{"format": "pycore-report", "version": 99}`, "report version 99"},
		{"nosig.json", `{"format": "pycore-report", "version": 2, "groups": [{"count": 1}]}`, "group 1 has no signature"},
	} {
		if _, err := LoadBaseline(write(c.name, c.content)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := LoadBaseline(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing: %v", err)
	}
	base := &Report{Baseline: "old.json", SignatureDepth: 5}
	if err := base.Comparable(SignatureOptions{Depth: 3}); err == nil || !strings.Contains(err.Error(), "--signature-depth 5") {
		t.Errorf("depth: %v", err)
	}
	if err := base.Comparable(SignatureOptions{WithLines: true}); err == nil || !strings.Contains(err.Error(), "--with-lines") {
		t.Errorf("lines: %v", err)
	}
}
