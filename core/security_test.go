package core

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A core is untrusted input: the paths in its NT_FILE note choose which files
// of this machine pycore opens. These tests forge such paths in real cores.

// ntFilePathOffsets returns the file offsets of the NT_FILE strings equal to
// path in the core image data.
func ntFilePathOffsets(t *testing.T, data []byte, path string) []int {
	t.Helper()
	h, err := parseCoreHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for _, ph := range h.progs {
		if elf.ProgType(ph.Type) != elf.PT_NOTE {
			continue
		}
		recs, _ := parseNoteRecords(data[ph.Off:ph.Off+ph.Filesz], 4)
		for _, r := range recs {
			if r.Name != "CORE" || r.Type != ntFile {
				continue
			}
			namesz := uint64(binary.LittleEndian.Uint32(data[ph.Off+r.Off:]))
			desc := ph.Off + r.Off + noteHeaderSize + alignUp(namesz, 4)
			count := binary.LittleEndian.Uint64(data[desc:])
			at := desc + 16 + 24*count
			for i := uint64(0); i < count; i++ {
				n := bytes.IndexByte(data[at:], 0)
				if string(data[at:at+uint64(n)]) == path {
					offs = append(offs, int(at))
				}
				at += uint64(n) + 1
			}
		}
	}
	if len(offs) == 0 {
		t.Fatalf("the core's NT_FILE does not name %s", path)
	}
	return offs
}

// forgeRecordedPath writes a copy of core whose NT_FILE names forged
// wherever it named path (the two must be the same length).
func forgeRecordedPath(t *testing.T, core, path, forged string) string {
	t.Helper()
	if len(forged) != len(path) {
		t.Fatalf("forged path %q is %d bytes, %q is %d", forged, len(forged), path, len(path))
	}
	data := mustRead(t, core)
	for _, off := range ntFilePathOffsets(t, data, path) {
		copy(data[off:], forged)
	}
	out := filepath.Join(t.TempDir(), "core.forged")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// padPath lengthens an absolute path to n bytes without changing the file it
// names, with "/." components and at most one doubled slash.
func padPath(t *testing.T, p string, n int) string {
	t.Helper()
	if len(p) > n {
		t.Skipf("cannot fit %s into %d bytes (TMPDIR too long)", p, n)
	}
	dir, file := filepath.Split(p)
	pad := strings.Repeat("/.", (n-len(p))/2)
	if (n-len(p))%2 == 1 {
		pad += "/"
	}
	return strings.TrimSuffix(dir, "/") + pad + "/" + file
}

func TestForgedDotDotPathsNeverLeadOutOfTheSysroot(t *testing.T) {
	f := getFixtures(t)
	s := f.Hidden // its binary is gone: only a forged path can find a file
	outside, err := os.MkdirTemp("", "esc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outside)
	// A copy of the right build, where the forged path leads on this machine.
	decoy := filepath.Join(outside, "target")
	if err := os.WriteFile(decoy, mustRead(t, f.Target), 0o755); err != nil {
		t.Fatal(err)
	}
	forged := padPath(t, "/../.."+decoy, len(s.Binary))
	if filepath.Clean(forged) != decoy {
		t.Fatalf("forged path %s does not lead to %s", forged, decoy)
	}
	core := forgeRecordedPath(t, s.Core, s.Binary, forged)

	for _, c := range []struct {
		name    string
		sysroot string
	}{
		{"empty sysroot", t.TempDir()},
		{"no sysroot", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := openT(t, core, Options{Sysroot: c.sysroot})
			o := p.ObjectByPath(forged)
			if o == nil {
				t.Fatalf("no object for the forged path among %v", p.Objects)
			}
			if o.Status == FileFound || o.LocalPath != "" {
				t.Fatalf("the forged path %s was followed to %s", forged, o.LocalPath)
			}
			if !strings.Contains(o.StatusMsg, "not tried as is") {
				t.Errorf("status %q does not say why the recorded path was not tried", o.StatusMsg)
			}
		})
	}
	// Inside the sysroot, ".." stops at its root: the file there is used.
	t.Run("file inside the sysroot", func(t *testing.T) {
		root := sysrootWith(t, decoy, f.Target)
		p := openT(t, core, Options{Sysroot: root})
		o := p.ObjectByPath(forged)
		if o == nil || o.Status != FileFound || o.LocalPath != filepath.Join(root, decoy) {
			t.Fatalf("object %+v, want the copy under %s", o, root)
		}
		checkCrash(t, p, s)
	})
}

// A path naming a FIFO must not make Open wait for a writer forever, nor may
// a device be opened.
func TestRecordedPathsToFIFOsAndDevicesAreNotOpened(t *testing.T) {
	f := getFixtures(t)
	s := f.Hidden
	dir, err := os.MkdirTemp("", "fifo")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	name := func(kind string) string {
		n := len(s.Binary) - len(dir) - 1
		if n < len(kind) {
			t.Skipf("TMPDIR %s too long for a path of %d bytes", dir, len(s.Binary))
		}
		return filepath.Join(dir, kind+strings.Repeat("x", n-len(kind)))
	}
	fifo := name("fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	dev := name("dev")
	if err := os.Symlink("/dev/zero", dev); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, dev} {
		t.Run(filepath.Base(path)[:4], func(t *testing.T) {
			core := forgeRecordedPath(t, s.Core, s.Binary, path)
			done := make(chan *Process, 1)
			var openErr error
			go func() {
				p, err := Open(core, Options{})
				openErr = err
				done <- p
			}()
			var p *Process
			select {
			case p = <-done:
			case <-time.After(20 * time.Second):
				// Unblock the open so the test process can end.
				if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
					w.Close()
				}
				t.Fatalf("Open of a core naming %s did not return in 20s", path)
			}
			if openErr != nil {
				t.Fatal(openErr)
			}
			defer p.Close()
			o := p.ObjectByPath(path)
			if o == nil || o.Status == FileFound {
				t.Fatalf("object %+v for %s", o, path)
			}
			if !strings.Contains(o.StatusMsg, "not a regular file") {
				t.Errorf("status %q does not say the file is not a regular one", o.StatusMsg)
			}
			checkThreads(t, p, s)
		})
	}
}

// Bundles are read in place: member names are keys, never paths to write to,
// and only regular members are read (a symlink member is not followed).
func TestBundleMemberNamesAreNeverPaths(t *testing.T) {
	f := getFixtures(t)
	core := mustRead(t, f.Crash.Core)
	exe := mustRead(t, f.Target)
	top := t.TempDir()
	dir := filepath.Join(top, "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	type member struct {
		name string
		typ  byte
		data []byte
		link string
	}
	write := func(name string, man bundleManifest, members []member) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		mj, _ := json.Marshal(man)
		members = append([]member{{name: bundleManifestName, typ: tar.TypeReg, data: mj}}, members...)
		for _, m := range members {
			h := &tar.Header{Name: m.name, Typeflag: m.typ, Size: int64(len(m.data)), Mode: 0o644, Linkname: m.link}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	before := treeOf(t, top)

	escaping := write("escaping.pycore", bundleManifest{Format: bundleFormat, Version: bundleVersion, Core: "../../core",
		Files: []bundleManifestFile{{Member: "/tmp/../../target", RecordedPath: f.Crash.Binary, Kind: KindObject, Size: int64(len(exe))}}},
		[]member{{name: "../../core", typ: tar.TypeReg, data: core}, {name: "/tmp/../../target", typ: tar.TypeReg, data: exe}})
	p := openT(t, escaping, Options{Sysroot: t.TempDir()})
	checkCrash(t, p, f.Crash)
	if o := p.ObjectByPath(f.Crash.Binary); o == nil || o.LocalPath != escaping+"#/tmp/../../target" {
		t.Errorf("the target is %+v, want the bundle's member", o)
	}
	p.Close()

	linked := write("linked.pycore", bundleManifest{Format: bundleFormat, Version: bundleVersion, Core: "core"},
		[]member{{name: "core", typ: tar.TypeSymlink, link: f.Crash.Core}})
	if p, err := Open(linked, Options{}); err == nil {
		p.Close()
		t.Errorf("a bundle whose core member is a symlink opened")
	} else if !strings.Contains(err.Error(), `core member "core", which the tar does not have`) {
		t.Errorf("symlink core member: %v", err)
	}

	after := treeOf(t, top)
	delete(after, filepath.Join(dir, "escaping.pycore"))
	delete(after, filepath.Join(dir, "linked.pycore"))
	if strings.Join(after.names(), "\n") != strings.Join(before.names(), "\n") {
		t.Errorf("reading bundles changed the tree around them:\nbefore %v\nafter  %v", before.names(), after.names())
	}
}

type tree map[string]bool

func (tr tree) names() []string {
	var out []string
	for k := range tr {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func treeOf(t *testing.T, root string) tree {
	t.Helper()
	tr := tree{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		tr[path] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
