package symbols

import (
	"bufio"
	"bytes"
	"debug/dwarf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pycore/pycore/core"
)

// pyenvPython returns the path of a pyenv interpreter, skipping the test if
// it is not installed.
func pyenvPython(t *testing.T, version, exe string) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skipf("no home directory to find pyenv in: %v", err)
	}
	p := filepath.Join(home, ".pyenv", "versions", version, "bin", exe)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not installed: %v", p, err)
	}
	return p
}

func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed", n)
		}
	}
}

// oracle is what oracle.py printed about its own process.
type oracle struct {
	PID          int    `json:"pid"`
	Version      string `json:"version"`
	PyRuntime    uint64 `json:"_PyRuntime"`
	PyLongType   uint64 `json:"PyLong_Type"`
	PyInitialize uint64 `json:"Py_Initialize"`
	Malloc       uint64 `json:"malloc"`
	Objects      []struct {
		Path string `json:"path"`
		Bias uint64 `json:"bias"`
	} `json:"objects"`
	Maps string `json:"maps"`
}

// liveProcess is a child that printed its oracle line and waits on stdin.
type liveProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	line  []byte
	done  chan error
}

// startChild runs argv in dir (with core dumps enabled, so a later abort
// leaves a core there), and reads the first line it prints.
func startChild(t *testing.T, dir string, argv ...string) *liveProcess {
	t.Helper()
	// bash raises the soft core limit for the child only, then execs it (same PID).
	script := `ulimit -c unlimited; exec "$@"`
	cmd := exec.Command("bash", append([]string{"-c", script, "bash"}, argv...)...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	lp := &liveProcess{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-lp.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-lp.done
		}
	})
	lineCh := make(chan []byte, 1)
	go func() {
		line, _ := bufio.NewReaderSize(stdout, 1<<20).ReadBytes('\n')
		lineCh <- line
		io.Copy(io.Discard, stdout)
		lp.done <- cmd.Wait()
	}()
	select {
	case lp.line = <-lineCh:
	case <-time.After(30 * time.Second):
		t.Fatalf("%v printed nothing in 30s", argv)
	}
	if len(lp.line) == 0 {
		t.Fatalf("%v exited without printing its oracle", argv)
	}
	return lp
}

func startOracle(t *testing.T, python, dir string) (*liveProcess, oracle) {
	t.Helper()
	script, err := filepath.Abs("testdata/oracle.py")
	if err != nil {
		t.Fatal(err)
	}
	lp := startChild(t, dir, python, script)
	var o oracle
	if err := json.Unmarshal(lp.line, &o); err != nil {
		t.Fatalf("oracle output %q: %v", lp.line, err)
	}
	if o.PID != lp.cmd.Process.Pid {
		t.Fatalf("oracle pid %d, started %d", o.PID, lp.cmd.Process.Pid)
	}
	return lp, o
}

// abort asks the child to abort and waits for it to die.
func (lp *liveProcess) abort(t *testing.T) {
	t.Helper()
	io.WriteString(lp.stdin, "abort\n")
	select {
	case <-lp.done:
		lp.done <- nil // let the cleanup see it too
	case <-time.After(60 * time.Second):
		t.Fatal("child did not abort within 60s")
	}
}

type mapsLine struct {
	start, end core.Address
	perm       core.Perm
	offset     uint64
	path       string
}

func parseMaps(t *testing.T, maps string) []mapsLine {
	t.Helper()
	var out []mapsLine
	for _, line := range strings.Split(strings.TrimSpace(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("bad maps line %q", line)
		}
		rng := strings.SplitN(f[0], "-", 2)
		start, err1 := strconv.ParseUint(rng[0], 16, 64)
		end, err2 := strconv.ParseUint(rng[1], 16, 64)
		off, err3 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad maps line %q", line)
		}
		var perm core.Perm
		if f[1][0] == 'r' {
			perm |= core.PermRead
		}
		if f[1][1] == 'w' {
			perm |= core.PermWrite
		}
		if f[1][2] == 'x' {
			perm |= core.PermExec
		}
		path := ""
		if len(f) >= 6 {
			path = strings.Join(f[5:], " ")
		}
		out = append(out, mapsLine{core.Address(start), core.Address(end), perm, off, path})
	}
	return out
}

// processFromMaps builds by hand the core.Process a core of that process
// would give: one Object per mapped ELF file, Base at its offset-0 mapping,
// Data memory-mapped from the file on disk.
func processFromMaps(t *testing.T, maps string) *core.Process {
	t.Helper()
	p := &core.Process{PtrSize: 8, Machine: "x86_64"}
	objs := map[string]*core.Object{}
	for _, l := range parseMaps(t, maps) {
		mp := &core.Mapping{Start: l.start, End: l.end, Perm: l.perm, Path: l.path, FileOffset: l.offset}
		p.Mappings = append(p.Mappings, mp)
		if !strings.HasPrefix(l.path, "/") {
			continue
		}
		o, ok := objs[l.path]
		if !ok {
			if !isELF(l.path) {
				continue
			}
			data, unmap, err := mmapFile(l.path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unmap() })
			o = &core.Object{Path: l.path, LocalPath: l.path, Status: core.FileFound, Data: data}
			objs[l.path] = o
			p.Objects = append(p.Objects, o)
		}
		if l.offset == 0 && o.Base == 0 {
			o.Base = l.start
		}
		if l.end > o.End {
			o.End = l.end
		}
		mp.Object = o
	}
	return p
}

func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && bytes.Equal(magic[:], []byte("\x7fELF"))
}

// moduleByPath finds the module of a file by its recorded path or the
// real path of its local file.
func moduleByPath(t *testing.T, tab *Table, path string) *Module {
	t.Helper()
	want, err := filepath.EvalSymlinks(path)
	if err != nil {
		want = path
	}
	for _, m := range tab.Modules {
		got, err := filepath.EvalSymlinks(m.LocalPath)
		if err != nil {
			got = m.LocalPath
		}
		if got == want || m.Path == want || m.Path == path {
			return m
		}
	}
	t.Fatalf("no module for %s", path)
	return nil
}

// findDWARFEntry returns the first entry with that tag and name.
func findDWARFEntry(t *testing.T, d *dwarf.Data, tag dwarf.Tag, name string) *dwarf.Entry {
	t.Helper()
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatalf("reading DWARF: %v", err)
		}
		if e == nil {
			return nil
		}
		if e.Tag == tag {
			if n, _ := e.Val(dwarf.AttrName).(string); n == name {
				return e
			}
		}
	}
}

// run runs a command, failing the test with its output if it fails.
func run(t *testing.T, dir string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// nmValue is the link-time value of a symbol as nm reads it from file.
func nmValue(t *testing.T, file, name string) uint64 {
	t.Helper()
	for _, line := range strings.Split(run(t, "", "nm", file), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == name {
			v, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				t.Fatalf("nm line %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("nm %s: no symbol %s", file, name)
	return 0
}
