package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// hostileBundle rewrites the sample bundle with member names that would
// climb out of any directory they were unpacked into ("../../core",
// "/tmp/../../x"), compressed again.
func hostileBundle(t *testing.T, out string) {
	t.Helper()
	f, err := os.Open(sampleBundle)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	type member struct {
		name string
		data []byte
	}
	var members []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, member{h.Name, data})
	}
	rename := map[string]string{}
	for i, m := range members[1:] {
		rename[m.name] = strings.Repeat("../", 2+i%3) + filepath.Base(m.name)
		if i%2 == 1 {
			rename[m.name] = "/tmp/../../" + filepath.Base(m.name)
		}
	}
	var man map[string]any
	if err := json.Unmarshal(members[0].data, &man); err != nil {
		t.Fatal(err)
	}
	man["core"] = rename[man["core"].(string)]
	for _, fl := range man["files"].([]any) {
		e := fl.(map[string]any)
		e["member"] = rename[e["member"].(string)]
	}
	if members[0].data, err = json.Marshal(man); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, m := range members {
		name := m.name
		if i > 0 {
			name = rename[m.name]
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(m.data)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	zw, err := zstd.NewWriter(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// Reading a bundle writes nothing: not under its members' names (which may
// climb out of any directory), not in the working directory, HOME or TMPDIR
// (a compressed core is expanded into an unlinked temporary file). The
// answer is the same as from the original bundle.
func TestReadingABundleWritesNothing(t *testing.T) {
	top := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"a/b/c", "cwd", "home", "tmp"} {
		dirs[d] = filepath.Join(top, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bundle := filepath.Join(dirs["a/b/c"], "hostile.pycore.zst")
	hostileBundle(t, bundle)
	before := listTree(t, top)

	run := func(args ...string) []byte {
		cmd := exec.Command(pycoreBin, args...)
		cmd.Dir = dirs["cwd"]
		cmd.Env = append(os.Environ(), "HOME="+dirs["home"], "TMPDIR="+dirs["tmp"])
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("pycore %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}
	noDebug := []string{"--debug-dir", dirs["home"]}
	got := run(append(append([]string{"threads", "--json"}, noDebug...), bundle)...)
	sample, err := filepath.Abs(sampleBundle)
	if err != nil {
		t.Fatal(err)
	}
	want := run(append(append([]string{"threads", "--json"}, noDebug...), sample)...)
	if !bytes.Equal(got, want) {
		t.Errorf("the renamed bundle reads differently:\n%s\nwant\n%s", got, want)
	}
	for _, args := range [][]string{
		{"threads", "--locals"}, {"maps"}, {"sym", "_PyEval_EvalFrameDefault"}, {"tasks"}, {"eval", "_PyRuntime.interpreters.head->id"},
	} {
		run(append(append(args[:1:1], noDebug...), append([]string{bundle}, args[1:]...)...)...)
	}

	if after := listTree(t, top); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("reading the bundle changed the tree around it:\nbefore %q\nafter  %q", before, after)
	}
}
