package e2e

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/cpython/abi"
	"github.com/pycore/pycore/internal/pytest"
	"github.com/pycore/pycore/render"
	"github.com/pycore/pycore/session"
)

// Damaged cores, made from real ones: cut short, bytes flipped in the notes
// and in the Python structures pycore's own walk of the intact core finds,
// pages zeroed under frames, pointer cycles in frame, thread and interpreter
// lists, absurd sizes in strings, tuples, line tables and debug offsets.
//
// Every damaged core is read by the pycore binary under a time limit, and
// its peak memory is measured. Whatever the damage, pycore must not panic,
// hang or balloon, and must answer right for what the damage did not touch:
// a thread it reports without an error has the oracle's stack exactly, a
// thread with an error has the oracle's innermost frames up to the error.

// Limits for one pycore run on a damaged core.
const (
	damageTimeout = 30 * time.Second
	damageMaxRSS  = 256 << 20 // bytes; the intact cores need ~25 MiB
)

// pyRun is one run of pycore.
type pyRun struct {
	args           []string
	stdout, stderr []byte
	code           int
	maxRSS         int64 // bytes
	elapsed        time.Duration
	timedOut       bool
}

// runBounded runs pycore with a time limit and measures its peak RSS. The
// RSS comes from /usr/bin/time: a child's own rusage counts the memory of the
// process it was forked from (the test), which /usr/bin/time's is not.
func runBounded(t *testing.T, timeout time.Duration, args ...string) pyRun {
	t.Helper()
	rssFile := filepath.Join(t.TempDir(), "rss")
	argv := append([]string{pycoreBin}, args...)
	if timeBin != "" {
		argv = append([]string{timeBin, "-q", "-f", "%M", "-o", rssFile}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	r := pyRun{args: args}
	select {
	case <-done:
	case <-time.After(timeout):
		r.timedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	r.elapsed = time.Since(start)
	r.stdout, r.stderr = stdout.Bytes(), stderr.Bytes()
	if st := cmd.ProcessState; st != nil {
		r.code = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	}
	if timeBin != "" && !r.timedOut {
		b, err := os.ReadFile(rssFile)
		var kib int64
		if _, serr := fmt.Sscan(string(b), &kib); err != nil || serr != nil {
			t.Fatalf("/usr/bin/time wrote %q (%v, %v)", b, err, serr)
		}
		r.maxRSS = kib << 10
	}
	peaks.note(r)
	return r
}

// peaks are the most memory and time any bounded run took, for the log.
var peaks runPeaks

type runPeaks struct {
	mu      sync.Mutex
	rss     int64
	elapsed time.Duration
	runs    int
}

func (p *runPeaks) note(r pyRun) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rss, p.elapsed, p.runs = max(p.rss, r.maxRSS), max(p.elapsed, r.elapsed), p.runs+1
}

func (p *runPeaks) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d runs of pycore, the largest peak RSS %d MiB, the longest %v", p.runs, p.rss>>20, p.elapsed.Round(time.Millisecond))
}

// timeBin is GNU time, which measures a command's peak RSS ("" if missing:
// then memory is not checked).
var timeBin = func() string {
	if fi, err := os.Stat("/usr/bin/time"); err == nil && fi.Mode()&0o111 != 0 {
		return "/usr/bin/time"
	}
	return ""
}()

// sane reports what is wrong with a run whatever the input: a hang, a
// crash, a Go panic, runaway memory, or a failure without one clear line.
func (r pyRun) sane() []string {
	var errs []string
	what := strings.Join(r.args, " ")
	if r.timedOut {
		errs = append(errs, fmt.Sprintf("pycore %s: no answer in %v (hang?)", what, damageTimeout))
	}
	if r.code != 0 && r.code != 1 {
		errs = append(errs, fmt.Sprintf("pycore %s: exit status %d\n%s", what, r.code, r.stderr))
	}
	if bytes.Contains(r.stderr, []byte("goroutine ")) || bytes.Contains(r.stderr, []byte("panic")) {
		errs = append(errs, fmt.Sprintf("pycore %s: Go panic:\n%s", what, r.stderr))
	}
	if r.maxRSS > damageMaxRSS {
		errs = append(errs, fmt.Sprintf("pycore %s: peak RSS %d MiB, over %d MiB", what, r.maxRSS>>20, damageMaxRSS>>20))
	}
	if r.code == 1 {
		msg := strings.TrimRight(string(r.stderr), "\n")
		if msg == "" || strings.Count(msg, "\n") > 0 && !strings.Contains(msg, "expressions failed") {
			errs = append(errs, fmt.Sprintf("pycore %s: want one line on stderr, got:\n%s", what, msg))
		}
	}
	return errs
}

// snapshot decodes a successful `threads --json` run.
func (r pyRun) snapshot() (*render.Snapshot, error) {
	if r.code != 0 {
		return nil, fmt.Errorf("exit %d: %s", r.code, r.stderr)
	}
	var s render.Snapshot
	if err := json.Unmarshal(r.stdout, &s); err != nil {
		return nil, fmt.Errorf("threads --json: %v", err)
	}
	return &s, nil
}

// expect says what a damaged core must still show.
type expect struct {
	victims    map[uint64]bool // threads whose own memory was damaged: only sanity is checked
	allThreads bool            // every thread of the oracle must be there
	bogusOK    bool            // threads the oracle does not know may appear (a damaged thread list)
}

// checkIntact compares what pycore said about a damaged core with the oracle
// of the intact one, for the threads the damage did not touch.
func checkIntact(o *pytest.Oracle, s *render.Snapshot, e expect, interp pytest.Interpreter) []string {
	var errs []string
	type key struct {
		interp int64
		ident  uint64
	}
	want := map[key]pytest.OracleThread{}
	for _, ot := range o.Threads {
		want[key{ot.Interp, ot.Ident}] = ot
	}
	seen := map[key]bool{}
	for _, th := range s.Threads {
		k := key{th.InterpreterID, th.ThreadID}
		ot, ok := want[k]
		if !ok {
			// A thread state that cannot be read shows as a thread with an error.
			if !e.bogusOK && !e.victims[th.ThreadID] && th.Error == "" {
				errs = append(errs, fmt.Sprintf("thread %#x in interpreter %d, which the process did not have (%d frames, error %q)", th.ThreadID, th.InterpreterID, len(th.Frames), th.Error))
			}
			continue
		}
		seen[k] = true
		if e.victims[th.ThreadID] {
			continue
		}
		where := fmt.Sprintf("thread %#x (%s)", ot.Ident, ot.Name)
		if th.Error == "" {
			errs = append(errs, compareFrames(where, ot.Frames, th.Frames, interp)...)
			continue
		}
		if len(th.Frames) > len(ot.Frames) {
			errs = append(errs, fmt.Sprintf("%s: %d frames and error %q, the oracle has %d frames", where, len(th.Frames), th.Error, len(ot.Frames)))
			continue
		}
		for _, e := range compareFrames(where, ot.Frames[:len(th.Frames)], th.Frames, interp) {
			errs = append(errs, e+" (frames before the error "+th.Error+")")
		}
	}
	if e.allThreads {
		for k, ot := range want {
			if !seen[k] {
				errs = append(errs, fmt.Sprintf("thread %#x (%s) missing; notes %q", ot.Ident, ot.Name, s.Notes))
			}
		}
	}
	return errs
}

// damageInterpreters: one release build per way of walking (frame objects,
// interpreter frames from tables, debug offsets, tagged stack refs) and the
// free-threaded build in CI; the usual pair otherwise.
func damageInterpreters(t *testing.T) []pytest.Interpreter {
	all := interpreters(t)
	if !pytest.Full() {
		return all
	}
	byKind := map[string]pytest.Interpreter{}
	for _, i := range all {
		if !i.AtLeast(3, 8) || i.Debug() {
			continue
		}
		if prev, ok := byKind[i.Kind()]; !ok || (prev.Origin != "pyenv" && i.Origin == "pyenv") {
			byKind[i.Kind()] = i
		}
	}
	var out []pytest.Interpreter
	for _, i := range byKind {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name() < out[b].Name() })
	return out
}

// damaged is a writable copy of a core whose bytes tests patch and restore.
type damaged struct {
	t     *testing.T
	path  string
	f     *os.File
	size  int64
	progs []*elf.Prog
}

func newDamaged(t *testing.T, src string) *damaged {
	t.Helper()
	path := filepath.Join(t.TempDir(), "core.damaged")
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	size, err := io.Copy(f, in)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return &damaged{t: t, path: path, f: f, size: size, progs: ef.Progs}
}

// offset maps a virtual address to the core file offset holding its byte,
// for n bytes that the core holds in one segment.
func (d *damaged) offset(addr core.Address, n int) (int64, bool) {
	for _, p := range d.progs {
		if p.Type == elf.PT_LOAD && uint64(addr) >= p.Vaddr && uint64(addr)+uint64(n) <= p.Vaddr+p.Filesz {
			return int64(p.Off + uint64(addr) - p.Vaddr), true
		}
	}
	return 0, false
}

// patch is bytes to write at a virtual address.
type patch struct {
	addr core.Address
	data []byte
}

func word(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// with writes the patches into the copy, runs f, and restores the bytes.
func (d *damaged) with(patches []patch, f func()) {
	d.t.Helper()
	type saved struct {
		off  int64
		data []byte
	}
	var undo []saved
	for _, p := range patches {
		off, ok := d.offset(p.addr, len(p.data))
		if !ok {
			d.t.Fatalf("address %s (%d bytes) is not in the core", p.addr, len(p.data))
		}
		old := make([]byte, len(p.data))
		if _, err := d.f.ReadAt(old, off); err != nil {
			d.t.Fatal(err)
		}
		undo = append(undo, saved{off, old})
		if _, err := d.f.WriteAt(p.data, off); err != nil {
			d.t.Fatal(err)
		}
	}
	defer func() {
		for i := len(undo) - 1; i >= 0; i-- {
			if _, err := d.f.WriteAt(undo[i].data, undo[i].off); err != nil {
				d.t.Fatal(err)
			}
		}
	}()
	f()
}

// withFileBytes is with for raw file offsets.
func (d *damaged) withFileBytes(off int64, data []byte, f func()) {
	d.t.Helper()
	old := make([]byte, len(data))
	if _, err := d.f.ReadAt(old, off); err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.f.WriteAt(data, off); err != nil {
		d.t.Fatal(err)
	}
	defer func() {
		if _, err := d.f.WriteAt(old, off); err != nil {
			d.t.Fatal(err)
		}
	}()
	f()
}

// withTruncated cuts the copy at n bytes, runs f, and restores the tail.
func (d *damaged) withTruncated(src string, n int64, f func()) {
	d.t.Helper()
	if err := d.f.Truncate(n); err != nil {
		d.t.Fatal(err)
	}
	defer func() {
		in, err := os.Open(src)
		if err != nil {
			d.t.Fatal(err)
		}
		defer in.Close()
		if _, err := in.Seek(n, io.SeekStart); err != nil {
			d.t.Fatal(err)
		}
		if _, err := d.f.Seek(n, io.SeekStart); err != nil {
			d.t.Fatal(err)
		}
		if _, err := io.Copy(d.f, in); err != nil {
			d.t.Fatal(err)
		}
	}()
	f()
}

// layout is what the tests need to know about the intact core, from
// pycore's own reading of it.
type layout struct {
	snap    *render.Snapshot
	types   abi.TypeSource
	r       core.Reader
	runtime core.Address
	interp  core.Address
	debugOK bool // the core has _Py_DebugOffsets
	frames  string
	prev    string // the frame member that links to the caller
}

func (l *layout) offsetOf(strct, member string) (int64, bool) {
	t, err := l.types.Struct(strct)
	if err != nil {
		return 0, false
	}
	off := int64(0)
	for _, name := range strings.Split(member, ".") {
		m, o, ok := t.Member(name)
		if !ok {
			return 0, false
		}
		off += o
		t = m.Type
	}
	return off, true
}

func (l *layout) sizeOf(strct string) int64 {
	t, err := l.types.Struct(strct)
	if err != nil || t.Resolve() == nil {
		return 0
	}
	return t.Resolve().Size
}

func (l *layout) ptrAt(a core.Address) core.Address {
	p, _ := l.r.Ptr(a)
	return p
}

func readLayout(t *testing.T, path string) *layout {
	t.Helper()
	s, err := session.Open(path, session.Options{Types: cpython.TypesBuiltin, DebugDirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := s.Python
	snap, err := p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	l := &layout{snap: render.SnapshotOf(snap), types: p.Types, r: p.R, runtime: p.RuntimeAddr, debugOK: p.DebugOffsets != nil,
		frames: "_PyInterpreterFrame", prev: "previous"}
	if !p.Version.AtLeast(3, 11) {
		l.frames, l.prev = "PyFrameObject", "f_back"
	}
	head, err := p.Runtime.Path("interpreters.head")
	if err != nil {
		t.Fatal(err)
	}
	if l.interp, err = head.Ptr(); err != nil {
		t.Fatal(err)
	}
	return l
}

// codeMembers are the pointers of a code object the walker follows.
func (l *layout) codeMember(code core.Address, member string) core.Address {
	off, ok := l.offsetOf("PyCodeObject", member)
	if !ok {
		return 0
	}
	return l.ptrAt(code.Add(off))
}

// victim picks the thread with the deepest stack whose innermost code
// object, and the objects that code names, no other thread's frames use.
func (l *layout) victim(t *testing.T, o *pytest.Oracle) (*render.Thread, []string) {
	t.Helper()
	members := []string{"co_name", "co_filename", "co_linetable", "co_lnotab", "co_localsplusnames", "co_varnames"}
	used := map[core.Address]int{} // address -> threads using it
	for _, th := range l.snap.Threads {
		mine := map[core.Address]bool{}
		for _, f := range th.Frames {
			mine[f.Code] = true
			for _, m := range members {
				if a := l.codeMember(f.Code, m); a != 0 {
					mine[a] = true
				}
			}
		}
		for a := range mine {
			used[a]++
		}
	}
	var best *render.Thread
	var unique []string
	for _, th := range l.snap.Threads {
		if len(th.Frames) < 3 || used[th.Frames[0].Code] != 1 {
			continue
		}
		var u []string
		for _, m := range members {
			if a := l.codeMember(th.Frames[0].Code, m); a != 0 && used[a] == 1 {
				u = append(u, m)
			}
		}
		if best == nil || len(th.Frames) > len(best.Frames) {
			best, unique = th, u
		}
	}
	if best == nil {
		t.Fatal("no thread has an innermost code object of its own")
	}
	return best, unique
}

func TestDamagedCores(t *testing.T) {
	if timeBin == "" {
		t.Log("/usr/bin/time not found (apt-get install time): peak memory is not checked")
	}
	t.Cleanup(func() { t.Log(peaks.String()) })
	for _, interp := range damageInterpreters(t) {
		interp := interp
		t.Run(interp.Name(), func(t *testing.T) {
			t.Parallel()
			c := pytest.MakeCore(t, interp, "stacks", pytest.Kernel)
			l := readLayout(t, c.Path)
			d := newDamaged(t, c.Path)
			threads := func(args ...string) pyRun {
				return runBounded(t, damageTimeout, append(append([]string{"threads", "--json"}, args...), d.path)...)
			}
			// check runs pycore on the damaged copy and applies e.
			check := func(t *testing.T, e expect, args ...string) (*render.Snapshot, pyRun) {
				t.Helper()
				r := threads(args...)
				for _, msg := range r.sane() {
					t.Error(msg)
				}
				// The other readers of the same memory: locals (the object
				// renderer) and asyncio tasks must be as sane.
				if len(args) == 0 {
					for _, other := range [][]string{{"threads", "--locals"}, {"tasks", "--json"}} {
						for _, msg := range runBounded(t, damageTimeout, append(other, d.path)...).sane() {
							t.Error(msg)
						}
					}
				}
				s, err := r.snapshot()
				if err != nil {
					if !bytes.Contains(r.stderr, []byte(d.path)) {
						t.Errorf("the error does not name the core: %s", r.stderr)
					}
					return nil, r
				}
				for _, msg := range checkIntact(c.Oracle, s, e, interp) {
					t.Error(msg)
				}
				return s, r
			}

			t.Run("intact", func(t *testing.T) {
				s, r := check(t, expect{allThreads: true})
				if s == nil {
					t.Fatalf("the intact core fails: %s", r.stderr)
				}
				t.Logf("intact core: %d threads, %.0f ms, peak RSS %d MiB", len(s.Threads), r.elapsed.Seconds()*1000, r.maxRSS>>20)
			})

			t.Run("truncated", func(t *testing.T) { damageTruncated(t, d, c, check) })
			t.Run("note flips", func(t *testing.T) { damageNotes(t, d, check) })
			victim, unique := l.victim(t, c.Oracle)
			v := expect{victims: map[uint64]bool{victim.ThreadID: true}, allThreads: true}
			t.Logf("victim thread %#x: %d frames, innermost %s; its own code members %v", victim.ThreadID, len(victim.Frames), victim.Frames[0].Function, unique)
			t.Run("structure flips", func(t *testing.T) { damageFlips(t, d, l, victim, v, check) })
			t.Run("zeroed frame page", func(t *testing.T) { damageZeroPage(t, d, l, victim, check) })
			t.Run("cycles", func(t *testing.T) { damageCycles(t, d, l, c, victim, v, check) })
			t.Run("absurd sizes", func(t *testing.T) { damageSizes(t, d, l, victim, unique, v, check) })
			if l.debugOK {
				t.Run("debug offsets", func(t *testing.T) { damageDebugOffsets(t, d, l, check) })
			}
		})
	}
}

type checker func(t *testing.T, e expect, args ...string) (*render.Snapshot, pyRun)

// damageTruncated cuts the core inside the ELF header, the program headers,
// the notes, the first segment, and further on.
func damageTruncated(t *testing.T, d *damaged, c *pytest.Core, check checker) {
	var noteOff, noteEnd, firstLoad uint64
	for _, p := range d.progs {
		switch {
		case p.Type == elf.PT_NOTE && noteOff == 0:
			noteOff, noteEnd = p.Off, p.Off+p.Filesz
		case p.Type == elf.PT_LOAD && p.Filesz > 0 && firstLoad == 0:
			firstLoad = p.Off
		}
	}
	cuts := map[string]int64{
		"in the ident":                 10,
		"in the ELF header":            40,
		"in the program headers":       64 + 56*3 + 20,
		"at the notes":                 int64(noteOff),
		"in NT_PRSTATUS":               int64(noteOff) + 200,
		"in the middle of the notes":   int64(noteOff+noteEnd) / 2,
		"just before the notes end":    int64(noteEnd) - 3,
		"in the first segment":         int64(firstLoad) + 1000,
		"at a quarter":                 d.size / 4,
		"at half":                      d.size / 2,
		"at three quarters":            d.size * 3 / 4,
		"one byte short of the end":    d.size - 1,
		"a page short of the end":      d.size - 4096,
		"in the last megabyte":         d.size - 1<<20 + 12345,
		"in the first mapped megabyte": int64(firstLoad) + 1<<20 + 17,
	}
	names := make([]string, 0, len(cuts))
	for n := range cuts {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return cuts[names[i]] > cuts[names[j]] })
	failed := 0
	for _, name := range names {
		n := cuts[name]
		if n <= 0 || n >= d.size {
			continue
		}
		t.Run(name, func(t *testing.T) {
			d.withTruncated(c.Path, n, func() {
				s, r := check(t, expect{})
				if s == nil {
					failed++
					if n < int64(noteEnd) && !bytes.Contains(r.stderr, []byte("truncated")) {
						t.Errorf("cut at %d: the error does not say the core is truncated: %s", n, r.stderr)
					}
				}
			})
		})
	}
	t.Logf("%d of %d cuts left nothing to show", failed, len(names))
}

// damageNotes flips random bytes of the notes.
func damageNotes(t *testing.T, d *damaged, check checker) {
	var off, size uint64
	for _, p := range d.progs {
		if p.Type == elf.PT_NOTE {
			off, size = p.Off, p.Filesz
			break
		}
	}
	rng := rand.New(rand.NewPCG(6, uint64(size)))
	orig := make([]byte, size)
	if _, err := d.f.ReadAt(orig, int64(off)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 16; i++ {
		flipped := bytes.Clone(orig)
		n := 1 + rng.IntN(8)
		var at []uint64
		for k := 0; k < n; k++ {
			j := rng.Uint64N(size)
			flipped[j] ^= byte(1 + rng.IntN(255))
			at = append(at, j)
		}
		t.Run(fmt.Sprintf("%d bytes at %v", n, at), func(t *testing.T) {
			d.withFileBytes(int64(off), flipped, func() {
				// Registers and file ranges may be wrong now, but Python's own
				// memory is untouched: what is shown must be right.
				check(t, expect{bogusOK: false})
			})
		})
	}
}

// flips returns n random byte flips within [addr, addr+size).
func flips(rng *rand.Rand, r core.Reader, addr core.Address, size int64, n int) []patch {
	var ps []patch
	for k := 0; k < n; k++ {
		a := addr.Add(rng.Int64N(size))
		b, err := r.Uint8(a)
		if err != nil {
			continue
		}
		ps = append(ps, patch{a, []byte{b ^ byte(1+rng.IntN(255))}})
	}
	return ps
}

// damageFlips flips bytes of the victim's innermost frame, code object and
// thread state.
func damageFlips(t *testing.T, d *damaged, l *layout, victim *render.Thread, v expect, check checker) {
	rng := rand.New(rand.NewPCG(7, uint64(victim.ThreadID)))
	targets := []struct {
		name string
		addr core.Address
		size int64
		e    expect
	}{
		{"innermost frame", victim.Frames[0].Address, l.sizeOf(l.frames), v},
		{"innermost code object", victim.Frames[0].Code, l.sizeOf("PyCodeObject"), v},
		// The thread state links the list: threads after it may be lost, and
		// garbage may read as threads.
		{"thread state", victim.TState, l.sizeOf("PyThreadState"), expect{victims: v.victims, bogusOK: true}},
	}
	for _, tg := range targets {
		if tg.size <= 0 {
			t.Errorf("%s: size unknown", tg.name)
			continue
		}
		for i := 0; i < 6; i++ {
			ps := flips(rng, l.r, tg.addr, tg.size, 1+rng.IntN(6))
			t.Run(fmt.Sprintf("%s %d", tg.name, i), func(t *testing.T) {
				d.with(ps, func() { check(t, tg.e) })
			})
		}
	}
}

// damageZeroPage zeroes the page under the victim's innermost frame, as
// gcore does for pages it cannot read.
func damageZeroPage(t *testing.T, d *damaged, l *layout, victim *render.Thread, check checker) {
	page := victim.Frames[0].Address.AlignDown(4096)
	victims := map[uint64]bool{}
	for _, th := range l.snap.Threads {
		for _, f := range th.Frames {
			if f.Address.AlignDown(4096) == page || f.Code.AlignDown(4096) == page {
				victims[th.ThreadID] = true
			}
		}
	}
	d.with([]patch{{page, make([]byte, 4096)}}, func() {
		s, _ := check(t, expect{victims: victims, allThreads: true})
		if s == nil {
			return
		}
		for _, th := range s.Threads {
			if th.ThreadID == victim.ThreadID && th.Error == "" {
				t.Errorf("thread %#x shows %d frames and no error, its innermost frame was zeroed", th.ThreadID, len(th.Frames))
			}
		}
	})
}

// damageCycles makes the frame, thread and interpreter lists loop.
func damageCycles(t *testing.T, d *damaged, l *layout, c *pytest.Core, victim *render.Thread, v expect, check checker) {
	prevOff, ok := l.offsetOf(l.frames, l.prev)
	if !ok {
		t.Fatalf("no %s.%s", l.frames, l.prev)
	}
	vOnly := expect{allThreads: true}
	loopCase := func(name string, from, to int) {
		t.Run(name, func(t *testing.T) {
			f := victim.Frames
			d.with([]patch{{f[from].Address.Add(prevOff), word(uint64(f[to].Address))}}, func() {
				s, _ := check(t, vOnly)
				if s == nil {
					t.Fatal("no answer")
				}
				for _, th := range s.Threads {
					if th.ThreadID != victim.ThreadID {
						continue
					}
					if !strings.Contains(th.Error, "loop") || len(th.Frames) != from+1 {
						t.Errorf("victim: %d frames, error %q; want %d frames and a loop", len(th.Frames), th.Error, from+1)
					}
				}
			})
		})
	}
	loopCase("frame to itself", 0, 0)
	loopCase("frame to an inner one", min(len(victim.Frames)-1, 10), 1)

	var last *render.Thread
	for _, th := range l.snap.Threads {
		if th.InterpreterID == 0 {
			last = th
		}
	}
	nextOff, ok := l.offsetOf("PyThreadState", "next")
	if !ok {
		t.Fatal("no PyThreadState.next")
	}
	first := l.snap.Threads[0].TState
	t.Run("thread list", func(t *testing.T) {
		d.with([]patch{{last.TState.Add(nextOff), word(uint64(first))}}, func() {
			s, _ := check(t, expect{allThreads: true})
			if s != nil && !strings.Contains(strings.Join(s.Notes, "\n"), "loop") {
				t.Errorf("notes %q do not say the thread list loops", s.Notes)
			}
		})
	})
	iNext, ok := l.offsetOf("PyInterpreterState", "next")
	if !ok {
		t.Fatal("no PyInterpreterState.next")
	}
	t.Run("interpreter list", func(t *testing.T) {
		d.with([]patch{{l.interp.Add(iNext), word(uint64(l.interp))}}, func() {
			s, _ := check(t, expect{allThreads: true})
			if s != nil && !strings.Contains(strings.Join(s.Notes, "\n"), "cycle") {
				t.Errorf("notes %q do not say the interpreter list loops", s.Notes)
			}
		})
	})
	_ = c
}

// damageSizes writes absurd sizes into the victim's objects: its function
// name's length, its line table's size, its local names' tuple size.
func damageSizes(t *testing.T, d *damaged, l *layout, victim *render.Thread, unique []string, v expect, check checker) {
	code := victim.Frames[0].Code
	has := func(m string) bool {
		for _, u := range unique {
			if u == m {
				return true
			}
		}
		return false
	}
	strLen, ok := l.offsetOf("PyASCIIObject", "length")
	if !ok {
		t.Fatal("no PyASCIIObject.length")
	}
	varSize := int64(16) // PyVarObject.ob_size, after ob_refcnt and ob_type
	if o, ok := l.offsetOf("PyVarObject", "ob_size"); ok {
		varSize = o
	} else if o, ok := l.offsetOf("PyTupleObject", "ob_base.ob_size"); ok {
		varSize = o
	}
	for _, huge := range []uint64{1 << 62, 1<<63 - 1, 1 << 40, 0x7fffffff} {
		if has("co_name") {
			t.Run(fmt.Sprintf("name length %#x", huge), func(t *testing.T) {
				d.with([]patch{{l.codeMember(code, "co_name").Add(strLen), word(huge)}}, func() { check(t, v) })
			})
		}
		for _, m := range []string{"co_linetable", "co_lnotab"} {
			if !has(m) {
				continue
			}
			t.Run(fmt.Sprintf("%s size %#x", m, huge), func(t *testing.T) {
				d.with([]patch{{l.codeMember(code, m).Add(varSize), word(huge)}}, func() {
					s, _ := check(t, v)
					for _, th := range threadsOf(s, victim.ThreadID) {
						if !strings.Contains(th.Error, "not plausible") {
							t.Errorf("victim: error %q, want the line table's size called not plausible", th.Error)
						}
					}
				})
			})
		}
		for _, m := range []string{"co_localsplusnames", "co_varnames"} {
			if !has(m) {
				continue
			}
			t.Run(fmt.Sprintf("%s size %#x with --locals", m, huge), func(t *testing.T) {
				d.with([]patch{{l.codeMember(code, m).Add(varSize), word(huge)}}, func() { check(t, v, "--locals") })
			})
		}
	}
}

func threadsOf(s *render.Snapshot, id uint64) []*render.Thread {
	if s == nil {
		return nil
	}
	var out []*render.Thread
	for _, th := range s.Threads {
		if th.ThreadID == id {
			out = append(out, th)
		}
	}
	return out
}

// damageDebugOffsets writes absurd values into 3.13+'s _Py_DebugOffsets:
// pycore must reject them (and read the core another way, or say why it
// cannot), never follow them.
func damageDebugOffsets(t *testing.T, d *damaged, l *layout, check checker) {
	var table [64]uint64
	for i := range table {
		table[i], _ = l.r.Uint64(l.runtime.Add(int64(8 * i)))
	}
	// The positions of a field are found by its value, and sizes are the
	// largest values of the table's first groups.
	var sizePos []int
	for i := 3; i < len(table); i++ {
		if table[i] > 200 && table[i] < 1<<16 {
			sizePos = append(sizePos, i)
		}
	}
	cases := []struct {
		name string
		pos  int
		val  uint64
	}{
		{"cookie", 0, 0x4242424242424242},
		{"version", 1, 0x0bad},
		{"free_threaded flag", 2, 7},
		{"free_threaded flag flipped", 2, 1 - table[2]},
	}
	for k, i := range sizePos {
		if k >= 3 {
			break
		}
		cases = append(cases, struct {
			name string
			pos  int
			val  uint64
		}{fmt.Sprintf("size at word %d", i), i, 1 << 50})
		cases = append(cases, struct {
			name string
			pos  int
			val  uint64
		}{fmt.Sprintf("offset after word %d", i), i + 1, 1 << 40})
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			d.with([]patch{{l.runtime.Add(int64(8 * cs.pos)), word(cs.val)}}, func() {
				for _, args := range [][]string{nil, {"--types", "builtin", "--debug-dir", t.TempDir()}} {
					s, r := check(t, expect{allThreads: true}, args...)
					if s == nil && !bytes.Contains(r.stderr, []byte("DebugOffsets")) && !bytes.Contains(r.stderr, []byte("debug offsets")) && !bytes.Contains(r.stderr, []byte("not a CPython")) {
						t.Errorf("pycore %v: the error does not name the debug offsets: %s", args, r.stderr)
					}
				}
			})
		})
	}
}
