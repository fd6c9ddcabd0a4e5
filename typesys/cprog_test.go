package typesys_test

import (
	"context"
	"debug/dwarf"
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
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/symbols"
	"github.com/pycore/pycore/typesys"
)

// coreKind says how a test program's core is made.
type coreKind string

const (
	kernelCore coreKind = "kernel" // the program aborts and the kernel dumps it
	gcoreCore  coreKind = "gcore"  // the program waits and gdb's gcore dumps it alive
)

// cProgram is a C program from testdata, compiled with some flags, run to its
// core point and dumped, with the oracle it wrote about itself.
type cProgram struct {
	exe    string
	core   string
	oracle map[string]string
}

// makeCProgram compiles testdata/SRC with gcc and the given flags, runs it
// (usage: PROG ORACLE {abort|wait}) and makes a core of the kind asked for.
func makeCProgram(t *testing.T, src string, flags []string, kind coreKind) *cProgram {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: the C type tests need it (apt-get install gcc)")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, strings.TrimSuffix(src, ".c"))
	args := append(append([]string{"-O0", "-Wall", "-Werror"}, flags...), "-o", exe, filepath.Join("testdata", src))
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	oraclePath := filepath.Join(dir, "oracle.json")
	p := &cProgram{exe: exe}
	switch kind {
	case kernelCore:
		p.core = runToKernelCore(t, dir, exe, oraclePath)
	case gcoreCore:
		p.core = runToGcore(t, dir, exe, oraclePath)
	default:
		t.Fatalf("unknown core kind %q", kind)
	}
	data, err := os.ReadFile(oraclePath)
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	if err := json.Unmarshal(data, &p.oracle); err != nil {
		t.Fatalf("oracle %s: %v\n%s", oraclePath, err, data)
	}
	return p
}

var rlimitOnce sync.Once

// kernelCorePath says where the kernel will write the core of pid run in dir,
// raising this process's RLIMIT_CORE (children inherit it). It skips the test
// when the kernel does not write cores to plain files.
func kernelCorePath(t *testing.T, dir string) func(pid int) string {
	rlimitOnce.Do(func() {
		var lim syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_CORE, &lim) == nil && lim.Max != 0 {
			lim.Cur = lim.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &lim)
		}
	})
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil || lim.Cur == 0 {
		t.Skip("kernel cores: RLIMIT_CORE is 0 and cannot be raised")
	}
	data, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Skipf("kernel cores: %v", err)
	}
	pattern := strings.TrimSpace(string(data))
	if pattern == "" {
		pattern = "core"
	}
	if strings.HasPrefix(pattern, "|") || strings.Contains(strings.ReplaceAll(pattern, "%p", ""), "%") {
		t.Skipf("kernel cores: core_pattern %q is not a plain file name this test can find", pattern)
	}
	usesPID := false
	if v, err := os.ReadFile("/proc/sys/kernel/core_uses_pid"); err == nil {
		usesPID = strings.TrimSpace(string(v)) == "1"
	}
	return func(pid int) string {
		name := strings.ReplaceAll(pattern, "%p", strconv.Itoa(pid))
		if usesPID && !strings.Contains(pattern, "%p") {
			name += "." + strconv.Itoa(pid)
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return name
	}
}

func runToKernelCore(t *testing.T, dir, exe, oraclePath string) string {
	where := kernelCorePath(t, dir)
	cmd := exec.Command(exe, oraclePath, "abort")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGABRT {
		t.Fatalf("%s: want death by SIGABRT, got %v\n%s", exe, err, out)
	}
	if !ws.CoreDump() {
		t.Fatalf("%s: the kernel wrote no core (RLIMIT_CORE, /proc/sys/fs/suid_dumpable?)", exe)
	}
	path := where(cmd.Process.Pid)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("core of %s: %v", exe, err)
	}
	return path
}

func runToGcore(t *testing.T, dir, exe, oraclePath string) string {
	gdb := pytest.GdbPath()
	if gdb == "" {
		if _, err := exec.LookPath("gcore"); err != nil {
			t.Skip("gcore not found: apt-get install gdb")
		}
	}
	cmd := exec.Command(exe, oraclePath, "wait")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(oraclePath + ".ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not get ready in 30 s", exe)
		}
		time.Sleep(10 * time.Millisecond)
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
		t.Fatalf("%s: %v\n%s", strings.Join(gc.Args, " "), err, out)
	}
	return fmt.Sprintf("%s.%d", prefix, pid)
}

// image is an opened core of a C program with the DWARF types of its executable.
type image struct {
	t      *testing.T
	oracle map[string]string
	r      core.Reader
	mod    *symbols.Module
	d      *dwarf.Data
	types  *typesys.DWARFTypes
}

func openImage(t *testing.T, p *cProgram) *image {
	t.Helper()
	c, err := core.Open(p.core, core.Options{})
	if err != nil {
		t.Fatalf("core.Open(%s): %v", p.core, err)
	}
	t.Cleanup(func() { c.Close() })
	syms, err := symbols.Load(c, symbols.Options{DebugDirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatalf("symbols.Load: %v", err)
	}
	t.Cleanup(func() { syms.Close() })
	var mod *symbols.Module
	for _, m := range syms.Modules {
		if m.Path == p.exe {
			mod = m
		}
	}
	if mod == nil {
		t.Fatalf("no module for %s among %d", p.exe, len(syms.Modules))
	}
	d, err := mod.DWARF()
	if err != nil {
		t.Fatalf("DWARF of %s: %v", p.exe, err)
	}
	return &image{t: t, oracle: p.oracle, r: c.Reader(), mod: mod, d: d, types: typesys.NewDWARFTypes(d, c.PtrSize, p.exe)}
}

// typ looks a type up by its C name.
func (im *image) typ(name string) *typesys.Type {
	im.t.Helper()
	ty, err := im.types.Lookup(name)
	if err != nil {
		im.t.Fatalf("Lookup(%q): %v", name, err)
	}
	return ty
}

// global is the typed value of a global variable: its address from the
// symbol table, its type from its DW_TAG_variable.
func (im *image) global(name string) typesys.Value {
	im.t.Helper()
	sym, ok := im.mod.Lookup(name)
	if !ok {
		im.t.Fatalf("no symbol %s", name)
	}
	r := im.d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			im.t.Fatalf("no DW_TAG_variable %s (%v)", name, err)
		}
		if e.Tag != dwarf.TagVariable || e.Val(dwarf.AttrName) != name {
			if e.Tag == dwarf.TagSubprogram {
				r.SkipChildren()
			}
			continue
		}
		off, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
		if !ok {
			im.t.Fatalf("variable %s has no type", name)
		}
		dt, err := im.d.Type(off)
		if err != nil {
			im.t.Fatalf("type of %s: %v", name, err)
		}
		return typesys.At(im.r, im.types.Convert(dt), sym.Addr)
	}
}

// eval reads a C access path of globals, members and indexes, such as
// "g_head->next->pt.y" or "g_grid[1][2]", as typesys values.
func (im *image) eval(expr string) (typesys.Value, error) {
	s := strings.ReplaceAll(expr, "->", ".")
	end := strings.IndexAny(s, ".[")
	if end < 0 {
		end = len(s)
	}
	v := im.global(s[:end])
	s = s[end:]
	for s != "" {
		switch s[0] {
		case '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			var err error
			if v, err = v.Member(s[:end]); err != nil {
				return v, err
			}
			s = s[end:]
		case '[':
			end := strings.IndexByte(s, ']')
			i, err := strconv.ParseInt(s[1:end], 10, 64)
			if err != nil {
				return v, fmt.Errorf("bad index in %q", expr)
			}
			if v, err = v.Index(i); err != nil {
				return v, err
			}
			s = s[end+1:]
		default:
			return v, fmt.Errorf("cannot parse %q at %q", expr, s)
		}
	}
	return v, nil
}

// show renders a value the way the C program printed it, by its type:
// integers in decimal by signedness, pointers in hex, char arrays as text.
func show(v typesys.Value) (string, error) {
	r := v.Type.Resolve()
	switch {
	case r == nil:
		return "", fmt.Errorf("void value")
	case r.Kind == typesys.Array && r.Elem.IsCharLike():
		return v.CString(1 << 12)
	case r.Kind == typesys.Pointer:
		p, err := v.Ptr()
		return fmt.Sprintf("%#x", uint64(p)), err
	case r.Kind == typesys.Float:
		f, err := v.Float()
		return strconv.FormatFloat(f, 'g', 17, 64), err
	case r.Signed:
		i, err := v.Int()
		return strconv.FormatInt(i, 10), err
	default:
		u, err := v.Uint()
		return strconv.FormatUint(u, 10), err
	}
}

// sameValue compares a shown value with the oracle's, numerically for
// floats (C's %.17g and Go's 'g' spell some numbers differently).
func sameValue(got, want string) bool {
	if got == want {
		return true
	}
	g, err1 := strconv.ParseFloat(got, 64)
	w, err2 := strconv.ParseFloat(want, 64)
	if err1 == nil && err2 == nil && strings.ContainsAny(want, ".e") {
		return g == w
	}
	if strings.HasPrefix(want, "0x") || want == "(nil)" {
		gu, err1 := strconv.ParseUint(strings.TrimPrefix(got, "0x"), 16, 64)
		wu, err2 := strconv.ParseUint(strings.TrimPrefix(want, "0x"), 16, 64)
		if want == "(nil)" {
			wu, err2 = 0, nil
		}
		return err1 == nil && err2 == nil && gu == wu
	}
	return false
}

// answer is what typesys says for one key of the oracle.
func (im *image) answer(key string) (string, error) {
	switch {
	case key == "&g_nodes[2] - &g_nodes[0]":
		var addrs [2]core.Address
		for n, i := range []int64{2, 0} {
			e, err := im.global("g_nodes").Index(i)
			if err != nil {
				return "", err
			}
			p, err := e.AddrOf()
			if err != nil {
				return "", err
			}
			if addrs[n], err = p.Ptr(); err != nil {
				return "", err
			}
		}
		return strconv.FormatInt(addrs[0].Sub(addrs[1])/im.typ("struct node").Size, 10), nil
	case strings.HasPrefix(key, "&"):
		name := key[1:]
		sym, ok := im.mod.Lookup(name)
		if !ok {
			return "", fmt.Errorf("no symbol %s", name)
		}
		return fmt.Sprintf("%#x", uint64(sym.Addr)), nil
	case key == "add" || key == "sub":
		sym, ok := im.mod.Lookup(key)
		if !ok || !sym.Func {
			return "", fmt.Errorf("no function symbol %s", key)
		}
		return fmt.Sprintf("%#x", uint64(sym.Addr)), nil
	case strings.HasPrefix(key, "sizeof("):
		return strconv.FormatInt(im.typ(strings.TrimSuffix(key[len("sizeof("):], ")")).Size, 10), nil
	case strings.HasPrefix(key, "offsetof("):
		tname, path, _ := strings.Cut(strings.TrimSuffix(key[len("offsetof("):], ")"), ", ")
		ty := im.typ(tname)
		total := int64(0)
		for _, name := range strings.Split(path, ".") {
			m, off, ok := ty.Member(name)
			if !ok {
				return "", fmt.Errorf("%s has no member %s", ty, name)
			}
			total += off
			ty = m.Type
		}
		return strconv.FormatInt(total, 10), nil
	case strings.HasPrefix(key, "*"):
		v, err := im.eval(key[1:])
		if err != nil {
			return "", err
		}
		return v.CString(256)
	case key == "(g_pp+1)->x":
		p, err := im.global("g_pp").Add(1)
		if err != nil {
			return "", err
		}
		v, err := p.Member("x")
		if err != nil {
			return "", err
		}
		return show(v)
	case key == "g_pp+2":
		p, err := im.global("g_pp").Add(2)
		if err != nil {
			return "", err
		}
		return show(p)
	}
	v, err := im.eval(key)
	if err != nil {
		return "", err
	}
	return show(v)
}

// builds are the compilations the C type tests cover: each DWARF version gcc
// writes (2/3 spell bitfields with DW_AT_bit_offset, 4 and 5 with
// DW_AT_data_bit_offset), compressed debug sections, and both core kinds.
var builds = []struct {
	name  string
	flags []string
	kind  coreKind
}{
	{"dwarf5", []string{"-gdwarf-5"}, kernelCore},
	{"dwarf4", []string{"-gdwarf-4"}, gcoreCore},
	{"dwarf3", []string{"-gdwarf-3"}, kernelCore},
	{"dwarf2", []string{"-gdwarf-2"}, kernelCore},
	{"dwarf5-gz", []string{"-gdwarf-5", "-gz=zlib"}, kernelCore},
	{"dwarf4-pie-O1", []string{"-gdwarf-4", "-O1", "-fPIE", "-pie"}, kernelCore},
	{"dwarf5-nopie", []string{"-gdwarf-5", "-fno-PIE", "-no-pie"}, gcoreCore},
}

// TestCTypesMatchTheProgramsOwnValues reads every global of types.c from its
// core through typesys and compares each with what the program printed.
func TestCTypesMatchTheProgramsOwnValues(t *testing.T) {
	for _, b := range builds {
		b := b
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			p := makeCProgram(t, "types.c", b.flags, b.kind)
			im := openImage(t, p)
			if len(p.oracle) < 100 {
				t.Fatalf("the oracle has only %d keys", len(p.oracle))
			}
			for key, want := range p.oracle {
				got, err := im.answer(key)
				if err != nil {
					t.Errorf("%s: %v (want %s)", key, err, want)
					continue
				}
				if !sameValue(got, want) {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
			checkTypeShapes(t, im)
		})
	}
}

// checkTypeShapes checks what the oracle cannot print: type spellings and
// kinds, names given to anonymous types, casts, string bounds and errors.
func checkTypeShapes(t *testing.T, im *image) {
	// Types spelled as C spells them.
	for expr, want := range map[string]string{
		"g_head":           "struct node *",
		"g_nodes":          "struct node [3]",
		"g_nodes[0].buf":   "char [16]",
		"g_nodes[0].op":    "binop",
		"g_nodes[0].pts":   "point_t [3]",
		"g_nodes[0].color": "color_t",
		"g_grid":           "long int [2][3]",
		"g_ops":            "binop [2]",
		"g_td":             "myint3",
		"g_cv":             "cvint", // const volatile do not change how a value reads
		"g_flex.items":     "long int []",
		"g_str":            "char *",
		"g_nodes[0].st":    "struct node:" + im.wantOracle("offsetof(struct node, st)") + "->struct",
	} {
		v, err := im.eval(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got := v.Type.String(); got != want {
			t.Errorf("type of %s is %q, want %q", expr, got, want)
		}
	}
	if got, want := im.typ("binop").Resolve().String(), "int (*)(int, int)"; got != want {
		t.Errorf("binop resolves to %q, want %q", got, want)
	}
	if got, want := im.typ("binop").Resolve().Elem.String(), "int (int, int)"; got != want {
		t.Errorf("binop's target is %q, want %q", got, want)
	}

	// A typedef chain resolves to the base type, one name at a time.
	td := im.typ("myint3")
	var chain []string
	for x := td; x != nil && x.Kind == typesys.Typedef; x = x.Elem {
		chain = append(chain, x.Name)
	}
	if strings.Join(chain, " -> ") != "myint3 -> myint2 -> myint" || td.Resolve().Kind != typesys.Int || td.Size != 4 {
		t.Errorf("myint3: chain %v, resolves to %v of %d bytes", chain, td.Resolve(), td.Size)
	}

	// Enums: enumerators and signedness.
	color := im.typ("enum color")
	if !color.Signed || len(color.Enumerators) != 3 || color.Enumerators[2] != (typesys.Enumerator{Name: "BLUE", Value: -5}) {
		t.Errorf("enum color: signed %v, %+v", color.Signed, color.Enumerators)
	}
	if big := im.typ("enum big"); big.Signed {
		t.Errorf("enum big is signed; gcc made it unsigned")
	}

	// Anonymous unions and structs: their members are reachable from the
	// parent, and they have names built from where they sit.
	node := im.typ("struct node")
	names := strings.Join(node.MemberNames(), " ")
	for _, want := range []string{"dval", "ival", "pt", "sval", "tag", "st", "cv"} {
		if !strings.Contains(" "+names+" ", " "+want+" ") {
			t.Errorf("struct node's member names %q lack %s", names, want)
		}
	}
	var anon []string
	for _, m := range node.Members {
		if m.Name == "" {
			anon = append(anon, m.Type.String())
			for _, mm := range m.Type.Members {
				anon = append(anon, mm.Type.String())
			}
		}
	}
	if got, want := strings.Join(anon, ", "), "struct node:8->union, struct node:8->union:0->struct, struct node:8->union:0->struct#2, char [8]"; got != want {
		t.Errorf("anonymous members of struct node: %s, want %s", got, want)
	}

	// An anonymous struct named by a typedef names its own anonymous members.
	if v, err := im.eval("g_tdanon.state"); err != nil {
		t.Error(err)
	} else if got := v.Type.String(); got != "tdanon_t:4->struct" {
		t.Errorf("g_tdanon.state has type %s, want tdanon_t:4->struct", got)
	}

	// Bitfields report where they are.
	if v, err := im.eval("g_bits.c"); err != nil {
		t.Error(err)
	} else if _, size := v.BitField(); size != 12 {
		t.Errorf("g_bits.c is %d bits, want 12", size)
	}

	// Casts: memory viewed as another type; integers and pointers by value.
	long := im.typ("long int")
	if v, err := im.global("g_num").Cast(long); err != nil {
		t.Error(err)
	} else if i, err := v.Int(); err != nil || strconv.FormatInt(i, 10) != im.wantOracle("g_num.i") {
		t.Errorf("(long)g_num = %d, %v; want %s", i, err, im.wantOracle("g_num.i"))
	}
	ulong := im.typ("long unsigned int")
	if v, err := im.global("g_head").Cast(ulong); err != nil {
		t.Error(err)
	} else if u, err := v.Uint(); err != nil || !sameValue(fmt.Sprintf("%#x", u), im.wantOracle("&g_nodes")) {
		t.Errorf("(unsigned long)g_head = %#x, %v; want %s", u, err, im.wantOracle("&g_nodes"))
	}
	second, _ := strconv.ParseUint(strings.TrimPrefix(im.wantOracle("g_nodes[0].next"), "0x"), 16, 64)
	p, err := typesys.FromUint(im.r, long, second).Cast(typesys.PointerTo(node, 8))
	if err != nil {
		t.Error(err)
	} else if d, err := p.Path("dval"); err != nil {
		t.Error(err)
	} else if f, err := d.Float(); err != nil || f != 2.5 {
		t.Errorf("((struct node *)%#x)->dval = %v, %v; want 2.5", second, f, err)
	}

	// Function pointers point at the functions the symbol table names.
	if v, err := im.eval("g_ops[1]"); err != nil {
		t.Error(err)
	} else if a, err := v.Ptr(); err != nil {
		t.Error(err)
	} else if s, off, ok := im.mod.Symbolize(a); !ok || s.Name != "sub" || off != 0 {
		t.Errorf("g_ops[1] = %#x is %s+%d, want sub", a, s.Name, off)
	}

	// Strings stop at NUL, at the array's end and at the limit asked for.
	for _, c := range []struct {
		expr string
		max  int
		want string
	}{
		{"g_long", 10, "xxxxxxxxxx"},
		{"g_text.nonul", 100, "abcd"},
		{"g_str", 5, "hello"},
		{"g_nodes[2].buf", 100, ""},
	} {
		v, err := im.eval(c.expr)
		if err != nil {
			t.Error(err)
			continue
		}
		if got, err := v.CString(c.max); err != nil || got != c.want {
			t.Errorf("CString(%s, %d) = %q, %v; want %q", c.expr, c.max, got, err, c.want)
		}
	}

	// Errors say what was wrong.
	for _, c := range []struct {
		what string
		err  func() error
		want string
	}{
		{"NULL char *", func() error { v, _ := im.eval("g_nodes[2].name"); _, err := v.CString(10); return err }, "NULL"},
		{"NULL dereference", func() error { _, err := im.eval("g_nodes[2].next.kind"); return err }, "NULL struct node *"},
		{"missing member", func() error { _, err := im.eval("g_head.nosuch"); return err }, "struct node has no member 'nosuch'"},
		{"index out of range", func() error { _, err := im.eval("g_nodes[3]"); return err }, "index 3 out of range for struct node [3]"},
		{"members of an int", func() error { _, err := im.eval("g_i32.x"); return err }, "has no members"},
	} {
		err := c.err()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.what, err, c.want)
		}
	}
	if _, err := im.eval("g_head.nosuch"); !errors.Is(err, typesys.ErrNoMember) {
		t.Errorf("a missing member's error does not wrap ErrNoMember: %v", err)
	}
}

// wantOracle is one value the program printed.
func (im *image) wantOracle(key string) string {
	im.t.Helper()
	v, ok := im.oracle[key]
	if !ok {
		im.t.Fatalf("the oracle has no %q", key)
	}
	return v
}
