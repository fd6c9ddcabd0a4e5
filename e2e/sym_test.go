package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycore/pycore/internal/pytest"
)

// symMatch is one element of `pycore sym --json`.
type symMatch struct {
	Query   string `json:"query"`
	Address uint64 `json:"address"`
	Name    string `json:"name"`
	Offset  uint64 `json:"offset"`
	Size    uint64 `json:"size"`
	Kind    string `json:"kind"`
	Module  string `json:"module"`
	Section string `json:"section"`
	Mapping string `json:"mapping"`
}

// pycoreOut runs pycore with extra environment and returns its stdout,
// failing the test on a non-zero exit.
func pycoreOut(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(pycoreBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pycore %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func symJSON(t *testing.T, env []string, args ...string) []symMatch {
	t.Helper()
	out := pycoreOut(t, env, append([]string{"sym", "--json"}, args...)...)
	var ms []symMatch
	if err := json.Unmarshal(out, &ms); err != nil {
		t.Fatalf("pycore sym --json %v: %v\n%s", args, err, out)
	}
	return ms
}

// objectIDs is the objects.py oracle: each global's id(), which for the
// singletons and builtin classes is the address of a symbol of libpython (or
// of the python executable that links it statically).
type objectIDs struct {
	Objects map[string]struct {
		ID uint64 `json:"id"`
	} `json:"objects"`
}

func readObjectIDs(t *testing.T, c *pytest.Core) objectIDs {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Dir, "oracle.json.objects.json"))
	if err != nil {
		t.Fatal(err)
	}
	var o objectIDs
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestSymAndMapsMatchTheProcess makes a core of objects.py per interpreter
// and checks `pycore sym` against the objects' id()s and `pycore maps`
// against the /proc/self/maps the program copied just before it died.
func TestSymAndMapsMatchTheProcess(t *testing.T) {
	for n, interp := range interpreters(t) {
		interp := interp
		kinds := []pytest.CoreKind{pytest.Kernel}
		if n == 0 {
			kinds = append(kinds, pytest.Gcore) // one interpreter is enough for gcore's different segments
		}
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			for _, kind := range kinds {
				kind := kind
				t.Run(string(kind), func(t *testing.T) {
					c := pytest.MakeCore(t, interp, "objects", kind)
					for _, a := range analyses(t, interp) {
						a := a
						t.Run(a.name, func(t *testing.T) {
							checkSym(t, c, a.args)
							checkMaps(t, c, kind, a.args)
						})
					}
				})
			}
		})
	}
}

// symbolIDs are objects.py globals whose id() is the address of an exported symbol.
var symbolIDs = map[string]string{
	"none":            "_Py_NoneStruct",
	"true":            "_Py_TrueStruct",
	"false":           "_Py_FalseStruct",
	"ellipsis":        "_Py_EllipsisObject",
	"not_implemented": "_Py_NotImplementedStruct",
	"class_int":       "PyLong_Type",
	"class_type":      "PyType_Type",
}

func checkSym(t *testing.T, c *pytest.Core, args []string) {
	ids := readObjectIDs(t, c)
	for global, sym := range symbolIDs {
		id := ids.Objects[global].ID
		// Name to address.
		ms := symJSON(t, nil, append(args, c.Path, sym)...)
		if len(ms) != 1 {
			t.Errorf("sym %s: %d matches, want 1: %+v", sym, len(ms), ms)
			continue
		}
		m := ms[0]
		if m.Address != id || m.Name != sym || m.Kind != "object" || !strings.Contains(filepath.Base(m.Module), "python") || m.Section == "" {
			t.Errorf("sym %s = %+v; want address %#x (id(%s)), an object in a python file, with its section", sym, m, id, global)
		}
		// Address (inside the symbol) to name+offset, in hex and decimal.
		for _, q := range []string{fmt.Sprintf("%#x", id+8), fmt.Sprint(id + 8)} {
			ms = symJSON(t, nil, append(args, c.Path, q)...)
			if len(ms) != 1 || ms[0].Name != sym || ms[0].Offset != 8 || ms[0].Module != m.Module || ms[0].Section != m.Section {
				t.Errorf("sym %s (id(%s)+8): %+v; want %s+8 in %s", q, global, ms, sym, m.Module)
			}
		}
	}
	// A function: name to address and back.
	ms := symJSON(t, nil, append(args, c.Path, "PyObject_Repr")...)
	if len(ms) != 1 || ms[0].Kind != "function" || ms[0].Section != ".text" {
		t.Fatalf("sym PyObject_Repr: %+v; want one function in .text", ms)
	}
	back := symJSON(t, nil, append(args, c.Path, fmt.Sprintf("%#x", ms[0].Address+1))...)
	if len(back) != 1 || back[0].Name != "PyObject_Repr" || back[0].Offset != 1 {
		t.Errorf("sym of PyObject_Repr+1: %+v", back)
	}
	// A heap object is in no file: its mapping is named instead.
	heap := ids.Objects["list_long"].ID
	out := string(pycoreOut(t, nil, append(args, "sym", c.Path, fmt.Sprint(heap))...))
	if !strings.Contains(out, "is in no mapped file: anonymous mapping") || !strings.Contains(out, fmt.Sprintf("%#x", heap)) {
		t.Errorf("sym of a heap address: %q", out)
	}
	// The core from $PYCORE_CORE, and the human form.
	out = string(pycoreOut(t, []string{"PYCORE_CORE=" + c.Path}, append(args, "sym", "_Py_NoneStruct")...))
	want := fmt.Sprintf("_Py_NoneStruct = %#x (object, ", ids.Objects["none"].ID)
	if !strings.HasPrefix(out, want) {
		t.Errorf("sym with $PYCORE_CORE: %q, want it to start %q", out, want)
	}
}

// The shipped bundle carries its files: symbols resolve with nothing of
// the crashed machine installed.
func TestSymOnTheSampleBundle(t *testing.T) {
	ms := symJSON(t, nil, "--debug-dir", t.TempDir(), sampleBundle, "_PyRuntime")
	if len(ms) != 1 || !strings.Contains(ms[0].Module, "libpython3.12") || ms[0].Section != ".PyRuntime" {
		t.Fatalf("sym _PyRuntime in the sample bundle: %+v", ms)
	}
	back := symJSON(t, nil, "--core", sampleBundle, fmt.Sprintf("%#x", ms[0].Address+0x10))
	if len(back) != 1 || back[0].Name != "_PyRuntime" || back[0].Offset != 0x10 {
		t.Errorf("sym of _PyRuntime+0x10: %+v", back)
	}
}

func TestSymErrorsSayWhatWasWrong(t *testing.T) {
	runFail(t, []string{`no symbol "PyObject_repr"`, "similar: PyObject_Repr"}, "sym", sampleBundle, "PyObject_repr")
	runFail(t, []string{"no core", "PYCORE_CORE"}, "sym", "_PyRuntime")
	runFail(t, []string{"nonexistent.core"}, "sym", "nonexistent.core", "_PyRuntime")
	// Beyond every mapping: an error like a name that is not there.
	runFail(t, []string{"0x10 is not mapped", "pycore maps"}, "sym", sampleBundle, "0x10")
}
