package core

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarOf builds a small tar of (name, body) pairs, in order.
func tarOf(t *testing.T, members ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(members); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: members[i], Size: int64(len(members[i+1])), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(members[i+1]))
	}
	tw.Close()
	return b.Bytes()
}

func TestBadBundles(t *testing.T) {
	f := getFixtures(t)
	core := string(mustRead(t, f.Crash.Core))
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		tar  []byte
		want string
	}{
		{"other format", tarOf(t, bundleManifestName, `{"format":"zip","version":1,"core":"core"}`, "core", core), `manifest format is "zip"`},
		{"newer version", tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":9,"core":"core"}`, "core", core), "format version 9"},
		{"bad json", tarOf(t, bundleManifestName, `{"format":`, "core", core), "bundle: manifest:"},
		{"no core member", tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":1,"core":"core"}`), `core member "core", which the tar does not have`},
		{"missing file member", tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":1,"core":"core","files":[{"member":"../../etc/passwd","kind":"object","size":1}]}`, "core", core), `member "../../etc/passwd" (object ), which the tar does not have`},
		{"wrong size", tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":1,"core":"core","files":[{"member":"f","kind":"debug","size":7}]}`, "core", core, "f", "abc"), `member "f" is 3 bytes, the manifest says 7`},
		{"bad build ID", tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":1,"core":"core","files":[{"member":"f","kind":"debug","size":3,"build_id":"xyz"}]}`, "core", core, "f", "abc"), `build ID "xyz"`},
		{"duplicate member", tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":1,"core":"core"}`, "core", core, "core", core), `member "core" appears twice`},
		{"cut in the manifest", tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":1,"core":"core"}`, "core", core)[:520], "bundle truncated: manifest at offset 512 needs 52 bytes, the file has 520"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			os.WriteFile(path, c.tar, 0o644)
			p, err := Open(path, Options{})
			if err == nil {
				p.Close()
				t.Fatalf("opened, want an error saying %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want %q", err, c.want)
			}
		})
	}

	// A bundle cut in the core opens like a cut core, and says so.
	cut := filepath.Join(dir, "cut")
	os.WriteFile(cut, tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":1,"core":"core","files":[{"member":"f","kind":"debug","size":3}]}`, "core", core, "f", "abc")[:300000], 0o644)
	pc := openT(t, cut, Options{})
	if w := strings.Join(pc.WarningTexts(), "\n"); !strings.Contains(w, `bundle truncated: member "core"`) || !strings.Contains(w, `member "f" (debug ) is lost`) || !strings.Contains(w, "core file truncated") || !hasWarning(pc, WarnBundle) {
		t.Errorf("cut bundle warnings: %q", pc.Warnings)
	}
	if f.Crash.How == "kernel" && len(pc.Threads) != 4 {
		t.Errorf("cut bundle: %d threads, want the 4 from the notes before the cut", len(pc.Threads))
	}

	// A minimal hand-made bundle of just the core opens like the core.
	path := filepath.Join(dir, "minimal")
	os.WriteFile(path, tarOf(t, bundleManifestName, `{"format":"pycore-bundle","version":1,"core":"core"}`, "core", core), 0o644)
	p := openT(t, path, Options{})
	checkCrash(t, p, f.Crash)
}

func TestMemberName(t *testing.T) {
	for base, want := range map[string]string{
		"libc.so.6":                      "files/3-libc.so.6",
		"..":                             "files/3-..",
		"we ird\n/name":                  "files/3-we_ird__name",
		strings.Repeat("x", 200) + ".so": "files/3-" + strings.Repeat("x", 91),
	} {
		if got := memberName(3, base); got != want {
			t.Errorf("memberName(%q) = %q, want %q", base, got, want)
		}
	}
}
