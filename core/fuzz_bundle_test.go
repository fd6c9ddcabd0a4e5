package core

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// inside reports whether s lies within data's memory: everything a bundle
// hands out is a slice of the mapped bundle, never a copy sized by a header.
func inside(s, data []byte) bool {
	if len(s) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(data))
}

// FuzzBundle reads arbitrary bytes as a bundle and opens the core in it: no
// input may panic, and every member handed out is a slice of the input.
// testdata/fuzz/FuzzBundle holds a bundle of a real core (its headers and
// notes) and an ELF file, made by TestCoreFuzzSeeds.
func FuzzBundle(f *testing.F) {
	sysroot := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		b, img, err := readBundle(data, "fuzz.pycore")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bundle") {
				t.Fatalf("error %q does not say it is about the bundle", err)
			}
			return
		}
		if !inside(img, data) {
			t.Fatal("the core is not a slice of the bundle")
		}
		for _, bf := range b.files {
			if !inside(bf.Data, data) {
				t.Fatalf("member %s is not a slice of the bundle", bf.LocalPath)
			}
		}
		p := &Process{ByteOrder: binary.LittleEndian, PtrSize: 8, core: img, bundle: b}
		if err := p.load(Options{Sysroot: sysroot}); err != nil {
			return
		}
		defer p.release()
		buf := make([]byte, 64)
		for _, m := range p.Mappings {
			p.ReadAt(buf, m.Start)
			p.ReadAt(buf, m.End-8)
		}
		p.BundleFiles()
		p.ExtraFile(KindDebug, nil)
	})
}

// coreHead is the start of a core up to the end of its notes: the headers
// and notes, with every PT_LOAD cut off.
func coreHead(t *testing.T, data []byte) []byte {
	t.Helper()
	h, err := parseCoreHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	end := uint64(0)
	for _, ph := range h.progs {
		if elf.ProgType(ph.Type) == elf.PT_NOTE {
			end = max(end, ph.Off+ph.Filesz)
		}
	}
	if end == 0 || end > uint64(len(data)) {
		t.Fatalf("no notes within the core")
	}
	return data[:end]
}

func notesOf(t *testing.T, data []byte) []byte {
	t.Helper()
	h, err := parseCoreHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range h.progs {
		if elf.ProgType(ph.Type) == elf.PT_NOTE {
			return data[ph.Off : ph.Off+ph.Filesz]
		}
	}
	t.Fatal("no PT_NOTE")
	return nil
}

// smallBundle is a bundle of the given core image and one ELF file.
func smallBundle(t *testing.T, img []byte, recorded string, elfData []byte) []byte {
	t.Helper()
	man := bundleManifest{Format: bundleFormat, Version: bundleVersion, Core: bundleCoreName,
		Files: []bundleManifestFile{{Member: "files/0-target", RecordedPath: recorded, Kind: KindObject,
			BuildID: "", Size: int64(len(elfData))}}}
	mj, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range []struct {
		name string
		data []byte
	}{{bundleManifestName, mj}, {bundleCoreName, img}, {"files/0-target", elfData}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.data)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readCorpus(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "go test fuzz v1\n[]byte(")
	if !ok || !strings.HasSuffix(s, ")") {
		t.Fatalf("%s: not a go test fuzz v1 file of one []byte", path)
	}
	u, err := strconv.Unquote(strings.TrimSuffix(s, ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(u)
}

func writeCorpus(t *testing.T, target, name string, data []byte) {
	t.Helper()
	path := filepath.Join("testdata", "fuzz", target, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(data))
}

// TestCoreFuzzSeeds checks that the committed seeds are what they claim: a
// real core's headers and notes (threads, files, signal), and a bundle of
// one. PYCORE_UPDATE_FUZZ_SEEDS=1 makes them again from this run's cores.
func TestCoreFuzzSeeds(t *testing.T) {
	if os.Getenv("PYCORE_UPDATE_FUZZ_SEEDS") != "" {
		f := getFixtures(t)
		crash, wait := mustRead(t, f.Crash.Core), mustRead(t, f.Wait.Core)
		writeCorpus(t, "FuzzNotes", "gcore-notes", notesOf(t, wait))
		writeCorpus(t, "FuzzCoreImage", "kernel-core-head", coreHead(t, crash))
		// (gcore writes its notes after the memory: its head is the whole core.)
		exe := mustRead(t, f.Target)
		writeCorpus(t, "FuzzBundle", "kernel-core-head", smallBundle(t, coreHead(t, crash), f.Crash.Binary, exe[:min(len(exe), 4096)]))
	}
	for _, name := range []string{"kernel-core-head"} {
		img := readCorpus(t, filepath.Join("testdata", "fuzz", "FuzzCoreImage", name))
		p := &Process{ByteOrder: binary.LittleEndian, PtrSize: 8, core: img}
		if err := p.load(Options{Sysroot: t.TempDir()}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(p.Threads) != 4 || len(p.Mappings) < 10 || p.PsInfo == nil || p.PsInfo.Fname != "target" {
			t.Errorf("%s: %d threads, %d mappings, psinfo %+v: not the target's core", name, len(p.Threads), len(p.Mappings), p.PsInfo)
		}
		if !strings.Contains(strings.Join(p.WarningTexts(), "\n"), "core file truncated") {
			t.Errorf("%s: no truncation warning in %q", name, p.Warnings)
		}
	}
	var n coreNotes
	n.parse(readCorpus(t, filepath.Join("testdata", "fuzz", "FuzzNotes", "gcore-notes")), 0)
	if len(n.threads) != 4 || len(n.files) < 5 || len(n.auxv) == 0 || len(n.warnings) != 0 {
		t.Errorf("gcore notes: %d threads, %d files, %d auxv entries, warnings %q", len(n.threads), len(n.files), len(n.auxv), n.warnings)
	}
	data := readCorpus(t, filepath.Join("testdata", "fuzz", "FuzzBundle", "kernel-core-head"))
	b, img, err := readBundle(data, "seed")
	if err != nil || len(b.files) != 1 || !isELF(b.files[0].Data) || !isELF(img) {
		t.Errorf("bundle seed: %v, %d files", err, len(b.files))
	}
}
