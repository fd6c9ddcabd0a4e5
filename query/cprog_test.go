package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/query"
	"github.com/pycore/pycore/session"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// target is testdata/target.c compiled with -g, run and dumped, with the
// oracle it wrote about itself before the dump.
type target struct {
	exe, core string
	oracle    map[string]string
}

var (
	targetOnce sync.Once
	targetMade *target
	targetErr  error
	targetSkip string
	targetDir  string
)

// gcoreTarget builds and dumps the target once for the whole test binary.
func gcoreTarget(t *testing.T) *target {
	t.Helper()
	targetOnce.Do(func() {
		targetDir, targetErr = os.MkdirTemp("", "pycore-query-")
		if targetErr != nil {
			return
		}
		targetMade, targetSkip, targetErr = makeTarget(targetDir, "wait")
	})
	if targetSkip != "" {
		t.Skip(targetSkip)
	}
	if targetErr != nil {
		t.Fatal(targetErr)
	}
	return targetMade
}

func TestMain(m *testing.M) {
	code := m.Run()
	if targetDir != "" {
		os.RemoveAll(targetDir)
	}
	os.Exit(code)
}

// makeTarget compiles and runs the target; mode "wait" makes a gcore core,
// "abort" a kernel core. skip is set when a needed tool is missing.
func makeTarget(dir, mode string) (p *target, skip string, err error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return nil, "gcc not found: the expression tests need it (apt-get install gcc)", nil
	}
	exe := filepath.Join(dir, "target")
	src, err := filepath.Abs(filepath.Join("testdata", "target.c"))
	if err != nil {
		return nil, "", err
	}
	if out, err := exec.Command(gcc, "-g", "-O0", "-Wall", "-Werror", "-o", exe, src).CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("gcc: %v\n%s", err, out)
	}
	oracle := filepath.Join(dir, "oracle-"+mode+".json")
	p = &target{exe: exe}
	if mode == "abort" {
		var lim syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_CORE, &lim) == nil && lim.Max != 0 {
			lim.Cur = lim.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &lim)
		}
		pattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
		if strings.TrimSpace(string(pattern)) != "core" {
			return nil, fmt.Sprintf("kernel cores: core_pattern is %q, not \"core\"", strings.TrimSpace(string(pattern))), nil
		}
		cmd := exec.Command(exe, oracle, "abort")
		cmd.Dir = dir
		out, _ := cmd.CombinedOutput()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.CoreDump() {
			return nil, "", fmt.Errorf("the kernel wrote no core of %s (RLIMIT_CORE?)\n%s", exe, out)
		}
		p.core = filepath.Join(dir, "core")
		if _, err := os.Stat(p.core + "." + strconv.Itoa(cmd.Process.Pid)); err == nil {
			p.core += "." + strconv.Itoa(cmd.Process.Pid)
		}
	} else {
		gdb := pytest.GdbPath()
		if gdb == "" {
			if _, err := exec.LookPath("gcore"); err != nil {
				return nil, "gcore not found: apt-get install gdb", nil
			}
		}
		cmd := exec.Command(exe, oracle, "wait")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, "", err
		}
		defer func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(oracle + ".ready"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return nil, "", fmt.Errorf("%s did not get ready in 30 s", exe)
			}
		}
		prefix := filepath.Join(dir, "core")
		pid := cmd.Process.Pid
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
			return nil, "", fmt.Errorf("%s: %v\n%s", strings.Join(gc.Args, " "), err, out)
		}
		p.core = fmt.Sprintf("%s.%d", prefix, pid)
	}
	data, err := os.ReadFile(oracle)
	if err != nil {
		return nil, "", fmt.Errorf("oracle: %w", err)
	}
	if err := json.Unmarshal(data, &p.oracle); err != nil {
		return nil, "", fmt.Errorf("oracle %s: %v\n%s", oracle, err, data)
	}
	return p, "", nil
}

// open opens the target's core for expressions, as pycore eval does.
func (p *target) open(t *testing.T) *session.Query {
	t.Helper()
	s, pyErr, err := session.OpenAny(p.core, session.Options{DebugDirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatalf("opening %s: %v", p.core, err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Python != nil || !errors.Is(pyErr, cpython.ErrNotPython) {
		t.Fatalf("a C program's core: Python = %v, error %v; want ErrNotPython", s.Python, pyErr)
	}
	return session.NewQuery(s, cpython.TypesAuto, pyErr)
}

func (p *target) addr(t *testing.T, key string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(p.oracle[key], 10, 64)
	if err != nil {
		t.Fatalf("oracle %q = %q: %v", key, p.oracle[key], err)
	}
	return v
}

// show renders a result compactly: scalars as Format prints them without
// the type, lists as their length, strings and text as they are.
func show(t *testing.T, q *session.Query, r query.Result) string {
	t.Helper()
	switch r.Kind {
	case query.TextResult:
		return r.Text
	case query.StringResult:
		return strconv.Quote(r.Text)
	case query.ListResult:
		return fmt.Sprintf("list of %d", len(r.Items))
	}
	o := q.FormatOptions()
	o.Depth = 1
	s, err := typesys.FormatValue(r.Value, o)
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

func hexAddr(a uint64) string { return fmt.Sprintf("%#x", a) }

// TestEvalOverACProgram checks every operator, literal and built-in against
// values the program printed about itself before its core was made.
func TestEvalOverACProgram(t *testing.T) {
	p := gcoreTarget(t)
	q := p.open(t)
	req, numbers, nodes := p.addr(t, "req"), p.addr(t, "numbers"), p.addr(t, "nodes")
	handler, greeting := p.addr(t, "handler_fn"), p.addr(t, "greeting")
	tests := []struct{ expr, want string }{
		// Roots, members, auto-dereference.
		{"req.id", "42"},
		{"req_ptr->id", "42"},
		{"req_ptr.id", "42"},
		{"(*req_ptr).id", "42"},
		{"&req", hexAddr(req) + " <req>"},
		{"req_ptr", hexAddr(req) + " <req>"},
		{"req.self->self->id", "42"},
		{"file_static", "7"},
		{"declared_first", "99"},
		{"atomic_counter + 1", "6"},
		{"with_atomic.word", "2748"},
		{"sizeof(with_atomic.word)", "8"},
		{"&declared_first", hexAddr(p.addr(t, "declared_first")) + " <declared_first>"},
		{"negative", "-42"},
		{"big_unsigned", "18364758544493064720"},
		// Anonymous unions and nested members.
		{"req.as_long", fmt.Sprint(int64(0x12340002000A))},
		{"req.parts.lo", "10"},
		{"req.parts.hi", p.oracle["parts_hi"]},
		{"req.pts[1].y", "4"},
		{"req_ptr->pts[2].x", "5"},
		{"req.grid[1][2]", "6"},
		// Bitfields.
		{"req.fl.a", "5"},
		{"req.fl.b", "17"},
		{"req.fl.c", p.oracle["fl_c"]},
		{"req.fl.d", p.oracle["fl_d"]},
		{"req.fl.c * 2", "-6"},
		// Enums, bools, floats.
		{"req.color", "GREEN"},
		{"req.color == 5", "1"},
		{"req.color + 1", "6"},
		{"req.sign", "NEGATIVE"},
		{"req.sign < 0", "1"},
		{"req.ok", "true"},
		{"req.ratio", "2.5"},
		{"req.f", "0.25"},
		{"req.ratio * 2", "5"},
		{"req.ratio > 2", "1"},
		{"(int)req.ratio", "2"},
		{"(double)7 / 2", "3.5"},
		{"7 / 2", "3"},
		{"1.5e1 + 1", "16"},
		// Arrays and pointer arithmetic.
		{"numbers[3]", "40"},
		{"*numbers", "10"},
		{"*(numbers + 2)", "30"},
		{"numbers + 1", hexAddr(numbers+4) + " <numbers+0x4>"},
		{"1 + numbers", hexAddr(numbers+4) + " <numbers+0x4>"},
		{"&numbers[5] - &numbers[1]", "4"},
		{"&numbers[5] - 2", hexAddr(numbers+12) + " <numbers+0xc>"},
		{"(char *)&numbers[1] - (char *)&numbers[0]", "4"},
		{"&numbers[1] > &numbers[0]", "1"},
		{"&numbers[1] == numbers + 1", "1"},
		{"((struct point *)req.pts)[2].y", "6"},
		{"(struct point *)&req.pts[1] + 1", fmt.Sprintf("%#x <req+%#x>", req+p.addr(t, "offsetof_pts")+16, p.addr(t, "offsetof_pts")+16)},
		{"*(int *)&req", "42"},
		{"*(long *)((char *)&req + offsetof(struct request, as_long))", fmt.Sprint(int64(0x12340002000A))},
		{"req.opaque", "0x1234"},
		{"(long)req.opaque + 1", "4661"},
		{"(unsigned long)req_ptr == (unsigned long)&req", "1"},
		{"req.self == &req", "1"},
		{"!req.self", "0"},
		{"null_str == 0", "1"},
		{"!null_str", "1"},
		// Integers: C's conversions and operators.
		{"negative / 5", "-8"},
		{"negative % 5", "-2"},
		{"negative >> 1", "-21"},
		{"-negative", "42"},
		{"+negative", "-42"},
		{"~0", "-1"},
		{"~0u", "4294967295"},
		{"!negative", "0"},
		{"!zero", "1"},
		{"big_unsigned >> 60", "15"},
		{"big_unsigned & 0xff", "16"},
		{"big_unsigned ^ big_unsigned", "0"},
		{"(big_unsigned | 1) - big_unsigned", "1"},
		{"1 << 4 | 1", "17"},
		{"-1 < 0u", "0"},
		{"-1 < 0", "1"},
		{"-1L < 0u", "1"},
		{"0xffffffff + 1", "0"},
		{"0xffffffffL + 1", "4294967296"},
		{"1L << 40", "1099511627776"},
		{"req.neg_short * 2", "-14"},
		{"req.big_ushort + 1", "65001"},
		{"(unsigned char)300", "44 ','"},
		{"(signed char)200", "-56 '\\310'"},
		{"(_Bool)5", "true"},
		{"(short)-1 == -1", "1"},
		{"'a' + 1", "98"},
		{"'\\n'", "10"},
		{"0x10 + 010 + 10", "34"},
		{"2 + 3 * 4 - 6 / 2", "11"},
		{"(2 + 3) * 4", "20"},
		{"7 & 3 ^ 1", "2"},
		{"1 < 2 == 1", "1"},
		{"req.id == 42 ? 1 : 2", "1"},
		{"zero ? 1 : 2", "2"},
		{"zero && *bad_ptr", "0"},
		{"1 || *bad_ptr", "1"},
		{"req.id > 40 && req.id < 50", "1"},
		{"req.id >= 42", "1"},
		{"req.id <= 41", "0"},
		{"req.id != 42", "0"},
		{"req.id % 5 == 2", "1"},
		{"req.ratio <= 2.5 && req.ratio >= 2.5 && req.ratio != 3", "1"},
		{"-req.ratio", "-2.5"},
		{"(float)1 / 4", "0.25"},
		{"(unsigned long)-1 >> 63", "1"},
		{"(long)-1 >> 63", "-1"},
		{"~(unsigned char)255", "-256"},
		// sizeof and offsetof.
		{"sizeof(struct request)", p.oracle["sizeof_request"]},
		{"sizeof(request_t)", p.oracle["sizeof_request"]},
		{"sizeof req", p.oracle["sizeof_request"]},
		{"sizeof *req_ptr", p.oracle["sizeof_request"]},
		{"sizeof(int)", "4"},
		{"sizeof(long)", "8"},
		{"sizeof(unsigned short)", "2"},
		{"sizeof(struct node *)", "8"},
		{"sizeof numbers", "32"},
		{"sizeof req.grid", "48"},
		{"sizeof req.grid[0]", "24"},
		{"sizeof(numbers) / sizeof(numbers[0])", "8"},
		{"offsetof(struct request, label)", p.oracle["offsetof_label"]},
		{"offsetof(request_t, parts.hi)", p.oracle["offsetof_parts_hi"]},
		{"offsetof(struct node, link)", p.oracle["offsetof_link"]},
		// Strings.
		{"greeting", hexAddr(greeting) + ` "hello, world"`},
		{"*greeting", "104 'h'"},
		{"greeting[4]", "111 'o'"},
		{"req.name", `"alpha"`},
		{"req.name[1]", "108 'l'"},
		{"req.label", ""}, // checked below: a pointer with the quoted text
		{"req.bytes", `"xy\000z"`},
		{"req.raw", "{ 1, 2, 3, 250 }"},
		{`"abc"`, `"abc"`},
		{`greeting == "hello, world"`, "1"},
		{`req.name != "alpha"`, "0"},
		{`string(greeting)`, `"hello, world"`},
		{`string(greeting, 5)`, `"hello"`},
		{`string(req.name)`, `"alpha"`},
		{`string(&req.name[2])`, `"pha"`},
		{`string(greeting) == "hello, world"`, "1"},
		// Functions.
		{"req.handler", hexAddr(handler) + " <handler_fn>"},
		{"req.handler == handler_fn", "1"},
		{"req.handler == &handler_fn", "1"},
		// Built-ins.
		{"list_head->next->next->value", "102"},
		{"list(list_head, next)", "list of 5"},
		{"list(list_head, next)[3]->value", "103"},
		{"list(list_head, next, 2)", "list of 2"},
		{"list(ring, next)", "list of 3"},
		{"list(&nodes[0].link, next)", "list of 5"},
		{"list(nodes[0], next)", "list of 5"},
		{"container_of(list_head->link.next, struct node, link)->value", "101"},
		{"container_of(&nodes[2].link, struct node, link) == &nodes[2]", "1"},
		{"container_of(list(&nodes[0].link, next)[4], struct node, link)->value", "104"},
		{"hex(255)", "0xff"},
		{"hex(-1)", "0xffffffff"},
		{"hex(negative)", "0xffffffffffffffd6"},
		{"hex(req_ptr)", hexAddr(req)},
		{"hex(sizeof(struct node))", fmt.Sprintf("%#x", p.addr(t, "sizeof_node"))},
		{"&nodes[1] == list_head->next", "1"},
		{"(struct node *)" + hexAddr(nodes+p.addr(t, "sizeof_node")) + " == &nodes[1]", "1"},
	}
	for _, tt := range tests {
		r, err := q.Eval(tt.expr)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		got := show(t, q, r)
		if tt.want == "" {
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
		}
	}
	r, err := q.Eval("req.label")
	if err != nil {
		t.Fatal(err)
	}
	if got := show(t, q, r); !strings.HasSuffix(got, ` "a label with \"quotes\""`) || !strings.HasPrefix(got, "0x") {
		t.Errorf("req.label = %s, want a pointer and the quoted label", got)
	}
}

// TestEvalErrorsSayWhatAndWhere checks the errors of bad expressions against
// the same core: the message, and the part of the expression underlined.
func TestEvalErrorsSayWhatAndWhere(t *testing.T) {
	p := gcoreTarget(t)
	q := p.open(t)
	tests := []struct {
		expr, msg, underlined string
	}{
		{"req.nosuch", "unknown member 'nosuch' of struct request", "nosuch"},
		{"req.nmae", "(did you mean 'name'?)", "nmae"},
		{"req_ptr->idd", "unknown member 'idd' of request_t (did you mean 'id'?)", "idd"},
		{"nosuchvar + 1", "unknown name 'nosuchvar'", "nosuchvar"},
		{"numbrs[1]", "(did you mean 'numbers'?)", "numbrs"},
		{"numbers[8]", "index 8 out of range for int [8]", "8"},
		{"req.id.x", "req.id is int, not a struct or union", "req.id"},
		{"greeting->x", "greeting is char *, not a pointer to a struct or union", "greeting->x"},
		{"*bad_ptr", "cannot read *bad_ptr (int at 0x10): read 4 bytes at 0x10", "*bad_ptr"},
		{"*bad_ptr + 1", "cannot read *bad_ptr", "*bad_ptr"},
		{"null_str[0]", "null_str is NULL (char *)", "null_str"},
		{"*null_str", "null_str is NULL", "null_str"},
		{"string(null_str)", "null_str is NULL", "null_str"},
		{"*req.opaque", "req.opaque is void *: cast it to a typed pointer first", "req.opaque"},
		{"list_head->next->next->next->next->next->value", "list_head->next->next->next->next->next is NULL", "list_head->next->next->next->next->next"},
		{"&req.fl.a", "cannot take the address of bitfield req.fl.a", "req.fl.a"},
		{"&42", "cannot take the address of 42", "42"},
		{"10 / zero", "division by zero", "/"},
		{"1 << 40", "shift by 40", "<<"},
		{"req_ptr + req_ptr", "cannot add two pointers", "+"},
		{"req_ptr * 2", "operator * does not apply to pointers", "*"},
		{"(struct nosuch *)0", "unknown type 'struct nosuch'", "struct nosuch *"},
		{"request_t + 1", "'request_t' is a type, not a value", "request_t"},
		{"nosuchfn(1)", "unknown function 'nosuchfn'", "nosuchfn(1)"},
		{"lst(list_head, next)", "(did you mean 'list'?)", "lst(list_head, next)"},
		{"container_of(list_head, struct node, nolink)", "unknown member 'nolink' of struct node", "nolink"},
		{"list(list_head, nxt)", "unknown member 'nxt' of struct node (did you mean 'next'?)", "nxt"},
		{"offsetof(struct node)", "offsetof takes 2 arguments, not 1", "offsetof(struct node)"},
		{"list(list(list_head, next), next)", "must be a typed value, not a list", "list(list_head, next)"},
		{"list(list_head, next)[5]", "index 5 out of range: the list has 5 items", "5"},
		{"sizeof(struct link) + sizeof(void)", "sizeof void", "sizeof(void)"},
		{"req +", "unexpected end of expression", ""},
		{"per_thread + 1", "'per_thread' is thread-local", "per_thread"},
	}
	for _, tt := range tests {
		_, err := q.Eval(tt.expr)
		if err == nil {
			t.Errorf("%s: no error, want %q", tt.expr, tt.msg)
			continue
		}
		var qe *query.Error
		if !errors.As(err, &qe) {
			t.Errorf("%s: error %T %v is not a *query.Error", tt.expr, err, err)
			continue
		}
		if !strings.Contains(qe.Msg, tt.msg) {
			t.Errorf("%s: error %q, want it to contain %q", tt.expr, qe.Msg, tt.msg)
		}
		if tt.underlined != "" {
			if got := tt.expr[min(qe.Pos, len(tt.expr)):min(qe.End, len(tt.expr))]; got != tt.underlined {
				t.Errorf("%s: underlined %q, want %q\n%v", tt.expr, got, tt.underlined, err)
			}
		}
	}
	// A read error carries the core's reason.
	_, err := q.Eval("*bad_ptr")
	var re *core.ReadError
	if !errors.As(err, &re) || re.Addr != 0x10 {
		t.Errorf("*bad_ptr: error %v does not wrap the core's ReadError at 0x10", err)
	}
}

// TestDWARFVariables looks globals up in the target's DWARF directly: a
// definition that refers to its extern declaration, a static, an array, and
// a thread-local variable (which has no single address).
func TestDWARFVariables(t *testing.T) {
	p := gcoreTarget(t)
	c, err := core.Open(p.core, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	syms, err := symbols.Load(c, symbols.Options{DebugDirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	var mod *symbols.Module
	for _, m := range syms.Modules {
		if m.Path == p.exe {
			mod = m
		}
	}
	if mod == nil {
		t.Fatalf("no module for %s", p.exe)
	}
	d, err := mod.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	dt := typesys.NewDWARFTypes(d, c.PtrSize, p.exe)
	for _, tt := range []struct{ name, typ, oracle string }{
		{"declared_first", "long int", "declared_first"},
		{"file_static", "int", "file_static"},
		{"numbers", "int [8]", "numbers"},
		{"req", "struct request", "req"},
	} {
		v, err := dt.Variable(tt.name)
		if err != nil {
			t.Errorf("Variable(%s): %v", tt.name, err)
			continue
		}
		if v.Type.String() != tt.typ || !v.HasAddr || v.ThreadLocal || v.Addr+mod.Bias != p.addr(t, tt.oracle) {
			t.Errorf("Variable(%s) = %s at %#x (has address %v, TLS %v), want %s at %#x", tt.name, v.Type, v.Addr+mod.Bias, v.HasAddr, v.ThreadLocal, tt.typ, p.addr(t, tt.oracle))
		}
	}
	v, err := dt.Variable("per_thread")
	if err != nil || !v.ThreadLocal || v.HasAddr || v.Type.String() != "int" {
		t.Errorf("Variable(per_thread) = %+v, %v; want a thread-local int without an address", v, err)
	}
	if _, err := dt.Variable("no_such_variable"); !errors.Is(err, typesys.ErrNoVariable) {
		t.Errorf("Variable(no_such_variable): %v, want ErrNoVariable", err)
	}
	names := dt.VariableNames()
	for _, want := range []string{"req", "declared_first", "per_thread", "greeting"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("VariableNames lacks %s", want)
		}
	}
}
