package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pycore/pycore/internal/pytest"
)

// evalJSON runs `pycore eval --json-lines` over exprs and returns each expression's
// object by expression. Expressions that fail have an "error" key.
func evalJSON(t *testing.T, core string, args []string, exprs ...string) map[string]map[string]any {
	t.Helper()
	argv := append(append([]string{"eval", "--json-lines"}, args...), core, "--")
	argv = append(argv, exprs...)
	cmd := exec.Command(pycoreBin, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("pycore eval --json-lines: line %q: %v", sc.Text(), err)
		}
		expr, _ := obj["expr"].(string)
		out[expr] = obj
	}
	if len(out) != len(exprs) {
		t.Fatalf("pycore eval %v: %d results for %d expressions (%v)\nstdout:\n%s\nstderr:\n%s", args, len(out), len(exprs), err, stdout.String(), stderr.String())
	}
	return out
}

// value is the "value" of a successful result, or a test failure.
func value(t *testing.T, res map[string]map[string]any, expr string) any {
	t.Helper()
	obj := res[expr]
	if e, ok := obj["error"]; ok {
		t.Errorf("%s: %v", expr, e)
		return nil
	}
	return obj["value"]
}

func asUint(v any) (uint64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	return u, err == nil
}

// frameNameExpr is the name of frame's function, per version.
func frameNameExpr(i pytest.Interpreter) string {
	switch {
	case !i.AtLeast(3, 13):
		return "pystr(frame->f_code->co_name)"
	default:
		// 3.13's f_executable is a PyObject *, 3.14's a tagged stack reference.
		return "pystr(((PyCodeObject *)(*(unsigned long *)&frame->f_executable & ~7))->co_name)"
	}
}

func threadsHeadExpr(i pytest.Interpreter) string {
	if i.AtLeast(3, 11) {
		return "interp->threads.head"
	}
	return "interp->tstate_head"
}

// TestEvalMatchesOracle evaluates expressions over CPython's runtime in real
// cores and checks them against what the program recorded: the thread
// states, the thread that crashed, the innermost frame's function; with the
// interpreter's debug info and without it (stripped files, synthesized types).
func TestEvalMatchesOracle(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			for _, sc := range []struct {
				name string
				kind pytest.CoreKind
			}{{"stacks", pytest.Gcore}, {"crash_worker", pytest.Kernel}} {
				t.Run(sc.name, func(t *testing.T) {
					c := pytest.MakeCore(t, interp, sc.name, sc.kind)
					for _, a := range analyses(t, interp) {
						t.Run(a.name, func(t *testing.T) {
							checkEvalOracle(t, c, interp, a.args)
						})
					}
				})
			}
		})
	}
}

func checkEvalOracle(t *testing.T, c *pytest.Core, interp pytest.Interpreter, args []string) {
	o := c.Oracle
	want := o.MainThread()
	if o.Crashed != 0 {
		want = o.CrashedThread()
	}
	if want == nil {
		t.Fatal("the oracle has neither a crashed nor a main thread")
	}
	var idents []string
	for _, th := range o.Threads {
		if th.Interp == 0 {
			idents = append(idents, strconv.FormatUint(th.Ident, 10))
		}
	}
	sort.Strings(idents)
	head := threadsHeadExpr(interp)
	nameExpr := frameNameExpr(interp)
	// A misspelt member, and the name it is near to.
	badMember, nearName := "interp->thread", "threads"
	if !interp.AtLeast(3, 11) {
		badMember, nearName = "interp->tstate_hed", "tstate_head"
	}
	exprs := []string{
		"tstate->thread_id",
		"tstate->interp == interp",
		"runtime.interpreters.head == interp",
		"&_PyRuntime == &runtime",
		"interp->id",
		"list(" + head + ", next)",
		nameExpr,
		"repr(&_Py_NoneStruct)",
		"PyLong_Type.tp_name",
		"pystr(PyLong_Type.tp_name) == \"int\"",
		"string(PyLong_Type.tp_name) == \"int\"",
		"list(" + head + ", next)[0] == " + head,
		"sizeof(PyObject)",
		"offsetof(PyThreadState, interp)",
		badMember,
	}
	res := evalJSON(t, c.Path, args, exprs...)
	if got, ok := asUint(value(t, res, "tstate->thread_id")); !ok || got != want.Ident {
		t.Errorf("tstate->thread_id = %v, want %d (thread %q)", res["tstate->thread_id"]["value"], want.Ident, want.Name)
	}
	for _, e := range []string{"tstate->interp == interp", "runtime.interpreters.head == interp", "&_PyRuntime == &runtime",
		"list(" + head + ", next)[0] == " + head, "string(PyLong_Type.tp_name) == \"int\""} {
		if got, ok := asUint(value(t, res, e)); !ok || got != 1 {
			t.Errorf("%s = %v, want 1", e, res[e]["value"])
		}
	}
	if interp.AtLeast(3, 7) { // 3.6's interpreters have no id
		if got, ok := asUint(value(t, res, "interp->id")); !ok || got != 0 {
			t.Errorf("interp->id = %v, want 0", res["interp->id"]["value"])
		}
	}
	// The thread list, walked by list(), against the oracle's idents.
	items, _ := res["list("+head+", next)"]["items"].([]any)
	if len(items) != len(idents) {
		t.Errorf("list(%s, next) has %d items, the oracle %d threads", head, len(items), len(idents))
	} else {
		var ids []string
		for i := range items {
			e := fmt.Sprintf("list(%s, next)[%d]->thread_id", head, i)
			ids = append(ids, e)
		}
		r2 := evalJSON(t, c.Path, args, ids...)
		var got []string
		for _, e := range ids {
			if u, ok := asUint(value(t, r2, e)); ok {
				got = append(got, strconv.FormatUint(u, 10))
			}
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, idents) {
			t.Errorf("thread idents from list(): %v, oracle %v", got, idents)
		}
	}
	if len(want.Frames) > 0 {
		if got := value(t, res, nameExpr); got != want.Frames[0].Function {
			t.Errorf("%s = %v, want %q", nameExpr, got, want.Frames[0].Function)
		}
	}
	if got := value(t, res, "repr(&_Py_NoneStruct)"); got != "None" {
		t.Errorf("repr(&_Py_NoneStruct) = %v, want None", got)
	}
	if got := value(t, res, "PyLong_Type.tp_name"); got != "int" {
		t.Errorf("PyLong_Type.tp_name = %v, want \"int\"", got)
	}
	// tp_name is a C string, not a str object: pystr must refuse it.
	if msg, _ := res["pystr(PyLong_Type.tp_name) == \"int\""]["error"].(string); !strings.Contains(msg, "is not a readable str object") {
		t.Errorf("pystr of a C string: error %q, want \"is not a readable str object\"", msg)
	}
	objSize := uint64(16)
	if strings.Contains(interp.ABIFlags, "t") {
		objSize = 32 // free-threaded: thread id, lock, refcounts shared and local
	}
	if got, ok := asUint(value(t, res, "sizeof(PyObject)")); !ok || got != objSize {
		t.Errorf("sizeof(PyObject) = %v, want %d", res["sizeof(PyObject)"]["value"], objSize)
	}
	if got, ok := asUint(value(t, res, "offsetof(PyThreadState, interp)")); !ok || got != 16 {
		t.Errorf("offsetof(PyThreadState, interp) = %v, want 16", res["offsetof(PyThreadState, interp)"]["value"])
	}
	// ptype lays out CPython's structs from either source, and says when a
	// layout is partial.
	stdout, _ := runPycore(t, true, append(append([]string{"ptype"}, args...), c.Path, "PyThreadState")...)
	if !strings.Contains(stdout, "type = ") || !strings.Contains(stdout, "*interp;") || !strings.Contains(stdout, "total size (bytes)") {
		t.Errorf("ptype PyThreadState:\n%s", stdout)
	}
	if builtin := strings.Contains(strings.Join(args, " "), "builtin"); builtin != strings.Contains(stdout, "is known only from") {
		t.Errorf("ptype PyThreadState with %v: says it is partial: %v\n%s", args, !builtin, stdout)
	}
	msg, _ := res[badMember]["error"].(string)
	if !strings.Contains(msg, "unknown member '"+strings.TrimPrefix(badMember, "interp->")+"' of PyInterpreterState") ||
		!strings.Contains(msg, "did you mean '"+nearName+"'") {
		t.Errorf("%s: error %q, want an unknown member and a suggestion of %s", badMember, msg, nearName)
	}
}

// TestEvalSameWithDWARFAndSynthesizedTypes evaluates the same expressions
// over CPython's runtime structures with the interpreter's debug info and
// with synthesized types (debug offsets on 3.13+, pycore's tables before),
// and compares the answers member by member.
func TestEvalSameWithDWARFAndSynthesizedTypes(t *testing.T) {
	for _, interp := range interpreters(t) {
		interp := interp
		var dwarfArgs []string
		switch {
		case interp.DWARF:
			dwarfArgs = []string{"--types", "dwarf"}
		case interp.DebugDir != "":
			dwarfArgs = []string{"--debug-dir", interp.DebugDir, "--types", "dwarf"}
		default:
			continue
		}
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "stacks", pytest.Gcore)
			head := threadsHeadExpr(interp)
			exprs := []string{"*tstate", "*frame", "*interp->" + strings.TrimPrefix(head, "interp->"),
				"runtime.interpreters", "*runtime.interpreters.head->" + strings.TrimPrefix(head, "interp->") + "->next",
				"PyLong_Type", "*(PyObject *)&_Py_NoneStruct", "sizeof(PyThreadState)"}
			args := []string{"--depth", "3"}
			withDWARF := evalJSON(t, c.Path, append(args, dwarfArgs...), exprs...)
			synth := evalJSON(t, c.Path, append(args, "--types", "builtin"), exprs...)
			for _, e := range exprs {
				d, s := withDWARF[e], synth[e]
				if d["error"] != nil || s["error"] != nil {
					t.Errorf("%s: with DWARF %v, synthesized %v", e, d["error"], s["error"])
					continue
				}
				var diffs, skipped []string
				n := compareJSON(e, d["value"], s["value"], &diffs, &skipped)
				for _, sk := range skipped {
					t.Logf("not compared: %s", sk)
				}
				for _, df := range diffs {
					t.Error(df)
				}
				if n == 0 {
					t.Errorf("%s: no member compared", e)
				}
				// A synthesized struct member whose start the layout does not give
				// starts at its first known member: only compare whole objects' addresses.
				if typ, _ := s["type"].(string); !strings.Contains(typ, ".") && !reflect.DeepEqual(d["address"], s["address"]) {
					t.Errorf("%s: address %v with DWARF, %v synthesized", e, d["address"], s["address"])
				}
			}
		})
	}
}

// compareJSON compares what the synthesized value knows with the DWARF
// value: every member it has must be equal. It returns how many scalars it
// compared; skipped lists what cannot be compared (an enum DWARF names, a
// bitfield struct the debug offsets give as one word, a member the layout has
// and this build's struct lacks).
func compareJSON(path string, dwarf, synth any, diffs, skipped *[]string) int {
	if isTruncated(dwarf) || isTruncated(synth) {
		return 0
	}
	if d, ok := dwarf.(map[string]any); ok {
		if _, scalar := synth.(json.Number); scalar {
			if len(d) == 1 {
				for _, only := range d { // a one-member union or struct, e.g. a tagged stack reference
					return compareJSON(path, only, synth, diffs, skipped)
				}
			}
			*skipped = append(*skipped, fmt.Sprintf("%s: a struct with DWARF (%d members), one number synthesized", path, len(d)))
			return 0
		}
	}
	switch s := synth.(type) {
	case []any:
		d, ok := dwarf.([]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: synthesized %v, with DWARF %v", path, synth, dwarf))
			return 0
		}
		n := 0
		for i := 0; i < len(s) && i < len(d); i++ {
			n += compareJSON(fmt.Sprintf("%s[%d]", path, i), d[i], s[i], diffs, skipped)
		}
		return n
	case map[string]any:
		d, ok := dwarf.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: synthesized %v, with DWARF %v", path, synth, dwarf))
			return 0
		}
		n := 0
		for k, sv := range s {
			dv, ok := d[k]
			if !ok {
				*skipped = append(*skipped, fmt.Sprintf("%s.%s: the layout has it, this build's struct does not", path, k))
				continue
			}
			n += compareJSON(path+"."+k, dv, sv, diffs, skipped)
		}
		return n
	case json.Number:
		if _, isName := dwarf.(string); isName {
			*skipped = append(*skipped, fmt.Sprintf("%s: an enum (%v) DWARF names, %v synthesized", path, dwarf, synth))
			return 0
		}
	}
	if !reflect.DeepEqual(dwarf, synth) {
		*diffs = append(*diffs, fmt.Sprintf("%s = %v with DWARF, %v synthesized", path, dwarf, synth))
	}
	return 1
}

func isTruncated(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["truncated"] != nil
}

// TestEvalReadsACExtensionsStruct builds a C extension with debug info
// against a pyenv interpreter's headers, loads it into a real CPython process,
// and reads the fields of its object struct by name from a core.
func TestEvalReadsACExtensionsStruct(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: the extension test needs it (apt-get install gcc)")
	}
	var interp *pytest.Interpreter
	for _, i := range interpreters(t) {
		if i.Origin == "pyenv" && i.AtLeast(3, 8) {
			i := i
			interp = &i
		}
	}
	if interp == nil {
		t.Skip("no pyenv interpreter with headers")
	}
	incl, err := interp.Command(context.Background(), nil, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])").Output()
	if err != nil {
		t.Fatalf("%s: include dir: %v", interp.Name(), err)
	}
	suffix, err := interp.Command(context.Background(), nil, "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))").Output()
	if err != nil {
		t.Fatalf("%s: extension suffix: %v", interp.Name(), err)
	}
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("..", "query", "testdata", "pointext.c"))
	if err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "pointext"+strings.TrimSpace(string(suffix)))
	if out, err := exec.Command(gcc, "-g", "-O0", "-shared", "-fPIC", "-I", strings.TrimSpace(string(incl)), "-o", so, src).CombinedOutput(); err != nil {
		t.Fatalf("building the extension: %v\n%s", err, out)
	}
	script := filepath.Join(dir, "run.py")
	oracle := filepath.Join(dir, "oracle.json")
	if err := os.WriteFile(script, []byte(`import json, sys, time
sys.path.insert(0, sys.argv[1])
import pointext
p = pointext.Point(7, 2.5, "origin")
q = pointext.Point(-3, 0.125, "ünïcode")
with open(sys.argv[2] + ".tmp", "w") as f:
    json.dump({"p": id(p), "q": id(q)}, f)
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(3600)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := interp.Command(context.Background(), nil, script, dir, oracle)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var ids map[string]uint64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if data, err := os.ReadFile(oracle); err == nil {
			if err := json.Unmarshal(data, &ids); err != nil {
				t.Fatalf("oracle: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the extension program did not start:\n%s", stderr.String())
		}
	}
	core := gcoreOf(t, dir, cmd.Process.Pid)
	p, q := ids["p"], ids["q"]
	exprs := []string{
		fmt.Sprintf("((PointObject *)%#x)->x", p),
		fmt.Sprintf("((PointObject *)%#x)->y", p),
		fmt.Sprintf("((PointObject *)%#x)->name", p),
		fmt.Sprintf("((PointObject *)%#x)->x", q),
		fmt.Sprintf("((PointObject *)%#x)->name", q),
		fmt.Sprintf("((PointObject *)%#x)->tag", p),
		"last_point->x",
		fmt.Sprintf("last_point == (PointObject *)%#x", q),
		"points_made",
		fmt.Sprintf("pystr(((PointObject *)%#x)->label)", p),
		fmt.Sprintf("((PointObject *)%#x)->ob_base.ob_type == &PointType", p),
		"string(PointType.tp_name)",
	}
	res := evalJSON(t, core, nil, exprs...)
	want := []any{json.Number("7"), json.Number("2.5"), "origin", json.Number("-3"), "ünïcode", "RED", json.Number("-3"), json.Number("1"), json.Number("2"), "origin", json.Number("1"), nil}
	for i, e := range exprs {
		got := value(t, res, e)
		if want[i] == nil {
			continue
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("%s = %#v, want %#v", e, got, want[i])
		}
	}
	if got := res["string(PointType.tp_name)"]["value"]; got != "pointext.Point" {
		t.Errorf("string(PointType.tp_name) = %v, want pointext.Point", got)
	}
	// The struct itself, printed by name, member by member.
	out, err := exec.Command(pycoreBin, "eval", core, fmt.Sprintf("*(PointObject *)%#x", p)).CombinedOutput()
	if err != nil {
		t.Fatalf("pycore eval: %v\n%s", err, out)
	}
	for _, w := range []string{"(PointObject) {", ".x = (long int) 7,", ".y = (double) 2.5,", `.name = (char [16]) "origin",`, ".tag = (enum point_tag) RED,", "-> 'origin'"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("*(PointObject *)p: output lacks %q:\n%s", w, out)
		}
	}
}

// gcoreOf dumps a live process with gcore.
func gcoreOf(t *testing.T, dir string, pid int) string {
	t.Helper()
	gdb := pytest.GdbPath()
	if gdb == "" {
		if _, err := exec.LookPath("gcore"); err != nil {
			t.Skip("gcore not found: apt-get install gdb")
		}
	}
	prefix := filepath.Join(dir, "core")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var gc *exec.Cmd
	if gdb != "" {
		gc = exec.CommandContext(ctx, gdb, "-batch", "-p", strconv.Itoa(pid), "-ex", fmt.Sprintf("gcore %s.%d", prefix, pid))
	} else {
		gc = exec.CommandContext(ctx, "gcore", "-o", prefix, strconv.Itoa(pid))
	}
	gc.Env = append(os.Environ(), "DEBUGINFOD_URLS=")
	if out, err := gc.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(gc.Args, " "), err, out)
	}
	return fmt.Sprintf("%s.%d", prefix, pid)
}

// cTarget is query/testdata/target.c built with -g, run and dumped by gcore,
// with the oracle it wrote.
func cTarget(t *testing.T) (exe, core string, oracle map[string]string) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: this test needs it (apt-get install gcc)")
	}
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("..", "query", "testdata", "target.c"))
	if err != nil {
		t.Fatal(err)
	}
	exe = filepath.Join(dir, "target")
	if out, err := exec.Command(gcc, "-g", "-O0", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	oraclePath := filepath.Join(dir, "oracle.json")
	cmd := exec.Command(exe, oraclePath, "wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(oraclePath + ".ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the C program did not get ready in 30 s")
		}
	}
	core = gcoreOf(t, dir, cmd.Process.Pid)
	data, err := os.ReadFile(oraclePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &oracle); err != nil {
		t.Fatalf("oracle: %v\n%s", err, data)
	}
	return exe, core, oracle
}

func runPycore(t *testing.T, wantOK bool, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(pycoreBin, args...)
	cmd.Env = append(os.Environ(), "PYCORE_CORE=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if wantOK && err != nil {
		t.Fatalf("pycore %s: %v\n%s%s", strings.Join(args, " "), err, o.String(), e.String())
	}
	if !wantOK && err == nil {
		t.Fatalf("pycore %s succeeded, want a failure:\n%s", strings.Join(args, " "), o.String())
	}
	return o.String(), e.String()
}

// TestExpressionCommandsOnACProgram runs eval, ptype and rd on the core of a
// C program (no Python in it), against what the program printed, and checks
// the JSON shapes --json promises.
func TestExpressionCommandsOnACProgram(t *testing.T) {
	exe, core, oracle := cTarget(t)
	num := func(k string) uint64 {
		v, err := strconv.ParseUint(oracle[k], 10, 64)
		if err != nil {
			t.Fatalf("oracle %s: %v", k, err)
		}
		return v
	}
	req := num("req")

	// eval: text, with the core from $PYCORE_CORE.
	cmd := exec.Command(pycoreBin, "eval", "req.id", "req.name", "req_ptr->pts[1]", "list(list_head, next)")
	cmd.Env = append(os.Environ(), "PYCORE_CORE="+core)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pycore eval with $PYCORE_CORE: %v\n%s", err, out)
	}
	for _, w := range []string{"req.id = (int) 42\n", `req.name = (char [16]) "alpha"` + "\n",
		"req_ptr->pts[1] = (struct point) {\n\t.x = (int) 3,\n\t.y = (int) 4,\n}\n",
		"list(list_head, next) = 5 items of (struct node *)\n", fmt.Sprintf("  [0] %#x <nodes>\n", num("nodes"))} {
		if !strings.Contains(string(out), w) {
			t.Errorf("pycore eval output lacks %q:\n%s", w, out)
		}
	}

	// eval --json-lines: one object per expression and line, keys in the documented order.
	stdout, _ := runPycore(t, false, "eval", "--json-lines", core, "--", "req_ptr", "req.id", "greeting", "req.name", "req.pts[2]",
		"list(list_head, next, 2)", "hex(255)", "string(greeting, 5)", "req.nosuch")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	want := []string{
		fmt.Sprintf(`{"expr":"req_ptr","type":"request_t *","address":%d,"value":%d}`, num("req")+0, req),
		fmt.Sprintf(`{"expr":"req.id","type":"int","address":%d,"value":42}`, req),
		fmt.Sprintf(`{"expr":"greeting","type":"char *","address":%d,"value":"hello, world","bytes":"68656c6c6f2c20776f726c64"}`, num("greeting")),
		fmt.Sprintf(`{"expr":"req.name","type":"char [16]","address":%d,"value":"alpha","bytes":"616c706861"}`, req+4),
		fmt.Sprintf(`{"expr":"req.pts[2]","type":"struct point","address":%d,"value":{"x":5,"y":6}}`, req+num("offsetof_pts")+16),
		"", // the list: checked below
		`{"expr":"hex(255)","type":"text","value":"0xff"}`,
		fmt.Sprintf(`{"expr":"string(greeting, 5)","type":"string","address":%d,"value":"hello"}`, num("greeting")),
		`{"expr":"req.nosuch","error":"unknown member 'nosuch' of struct request","span":[4,10]}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, w := range want {
		if i == 0 {
			// req_ptr itself is a variable in memory: its address is its own.
			var obj map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &obj); err != nil || obj["value"] != float64(req) || obj["type"] != "request_t *" {
				t.Errorf("line 1 = %s, want the value %d of type request_t *", lines[0], req)
			}
			continue
		}
		if w != "" && lines[i] != w {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], w)
		}
	}
	if !strings.HasPrefix(lines[5], `{"expr":"list(list_head, next, 2)","type":"list","items":[{"type":"struct node *","address":`) ||
		!strings.Contains(lines[5], `"note":"stopped at the limit of 2 items"`) {
		t.Errorf("list JSON: %s", lines[5])
	}

	// ptype: offsets and sizes as the compiler laid them out.
	stdout, _ = runPycore(t, true, "ptype", core, "struct", "request")
	for _, w := range []string{
		"type = struct request {",
		fmt.Sprintf("/* %6d    |       8 */      char *label;", num("offsetof_label")),
		"    union {",
		fmt.Sprintf("/* %6d    |       2 */              short int hi;", num("offsetof_parts_hi")),
		"int (*handler)(int);",
		"struct flags fl;",
		fmt.Sprintf("/* total size (bytes): %4d */", num("sizeof_request")),
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("ptype struct request lacks %q:\n%s", w, stdout)
		}
	}
	stdout, _ = runPycore(t, true, "ptype", "--expand", "1", core, "struct request")
	if !strings.Contains(stdout, "unsigned int a : 3;") {
		t.Errorf("ptype --expand 1 struct request does not show struct flags' members:\n%s", stdout)
	}
	stdout, _ = runPycore(t, true, "ptype", "--json", core, "req_ptr")
	var layout struct {
		Type   string `json:"type"`
		Target struct {
			Size    int64 `json:"size"`
			Members []struct {
				Name   string `json:"name"`
				Offset int64  `json:"offset"`
			} `json:"members"`
		} `json:"target"`
	}
	if err := json.Unmarshal([]byte(stdout), &layout); err != nil {
		t.Fatalf("ptype --json: %v\n%s", err, stdout)
	}
	if layout.Type != "request_t *" || uint64(layout.Target.Size) != num("sizeof_request") || len(layout.Target.Members) < 10 ||
		layout.Target.Members[2].Name != "label" || uint64(layout.Target.Members[2].Offset) != num("offsetof_label") {
		t.Errorf("ptype --json req_ptr = %+v", layout)
	}

	// rd: words, bytes with their ASCII, symbols beside pointers, and bytes the core lacks.
	stdout, _ = runPycore(t, true, "rd", "-4", core, "numbers", "8")
	if !strings.Contains(stdout, fmt.Sprintf("%#x:  0000000a 00000014 0000001e 00000028", num("numbers"))) ||
		!strings.Contains(stdout, "00000032 0000003c 00000046 00000050") {
		t.Errorf("rd -4 numbers 8:\n%s", stdout)
	}
	stdout, _ = runPycore(t, true, "rd", "-1", core, "greeting", "12")
	if !strings.Contains(stdout, "68 65 6c 6c 6f 2c 20 77 6f 72 6c 64") || !strings.Contains(stdout, "hello, world") {
		t.Errorf("rd -1 greeting 12:\n%s", stdout)
	}
	stdout, _ = runPycore(t, true, "rd", core, "&req.self", "1")
	if !strings.Contains(stdout, fmt.Sprintf("%016x", req)) || !strings.Contains(stdout, "[0] req") {
		t.Errorf("rd &req.self 1 names the symbol the word points to:\n%s", stdout)
	}
	stdout, _ = runPycore(t, true, "rd", core, "bad_ptr", "2")
	if !strings.Contains(stdout, "0x10:  ???????????????? ????????????????") || !strings.Contains(stdout, "unreadable from 0x10: not mapped") {
		t.Errorf("rd bad_ptr 2:\n%s", stdout)
	}

	// Reads that fail say why: here the executable is gone, so its
	// read-only data (not in the core) cannot be read.
	if err := os.Rename(exe, exe+".gone"); err != nil {
		t.Fatal(err)
	}
	_, stderr := runPycore(t, false, "eval", core, fmt.Sprintf("*(char *)%#x", num("greeting")))
	if !strings.Contains(stderr, fmt.Sprintf("cannot read *(char *)%#x", num("greeting"))) || !strings.Contains(stderr, exe) {
		t.Errorf("reading the missing executable's .rodata: %s", stderr)
	}
}

// TestEvalHelpDocumentsEveryBuiltin: each function the language has is in
// pycore eval --help.
func TestEvalHelpDocumentsEveryBuiltin(t *testing.T) {
	stdout, _ := runPycore(t, true, "eval", "--help")
	for _, name := range []string{"container_of(p, T, member)", "offsetof(T, member)", "list(head, next [, max])", "hex(x)",
		"string(p [, max])", "pyobj(x)", "repr(x)", "pystr(x [, max])", "runtime", "interp", "tstate", "frame", "sizeof(T)", "--json"} {
		if !strings.Contains(stdout, name) {
			t.Errorf("pycore eval --help does not mention %s", name)
		}
	}
}
