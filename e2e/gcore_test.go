package e2e

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pycore/pycore/internal/pytest"
)

// TestGcoreLive: pycore gcore of a parked live.py writes a core that gdb
// reads (one thread per task of the process, every thread's bt complete and
// the same as pycore's --native-all on it) and from which pycore threads
// gives the stacks the process recorded itself, plain and zstd-compressed;
// the process runs on untraced and exits 0. Where the process has guard
// regions inside its thread stacks (glibc 2.42+), stack pages gdb 13's gcore
// writes as zeros hold the stack in pycore's core.
func TestGcoreLive(t *testing.T) {
	gdb := pytest.Gdb()
	haveGdb := true
	if _, err := exec.LookPath(gdb); err != nil {
		haveGdb = false
	}
	for _, interp := range interpreters(t) {
		t.Run(interp.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			lp := startLive(t, ctx, interp)
			pid := lp.cmd.Process.Pid
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			corePath := filepath.Join(dir, "core")
			_, errOut, err := runPycoreCtx(ctx, "gcore", fmt.Sprint(pid), "-o", corePath)
			if err != nil {
				t.Fatalf("pycore gcore: %v\n%s", err, errOut)
			}
			if !strings.HasPrefix(errOut, "Saved corefile "+corePath) {
				t.Errorf("pycore gcore said %q", errOut)
			}
			zstPath := filepath.Join(dir, "core.zst")
			if _, errOut, err := runPycoreCtx(ctx, "gcore", "--compress", "zstd", "-o", zstPath, fmt.Sprint(pid)); err != nil {
				t.Fatalf("pycore gcore --compress zstd: %v\n%s", err, errOut)
			}
			if tp := tracerPID(t, pid); tp != 0 {
				t.Errorf("after pycore gcore: TracerPid is %d", tp)
			}

			for _, c := range []string{corePath, zstPath} {
				snap := liveSnapshot(t, ctx, c)
				for _, e := range compare(lp.oracle, snap, interp) {
					t.Errorf("%s: %s", filepath.Base(c), e)
				}
				if snap.Signal != nil {
					t.Errorf("%s: a core of a running process has no signal, pycore says %+v", filepath.Base(c), snap.Signal)
				}
			}

			if haveGdb {
				bts := gdbBacktraces(t, gdb, interp.Exe, corePath)
				if len(bts) != len(tasks) {
					t.Errorf("gdb sees %d threads in the core, the process has %d", len(bts), len(tasks))
				}
				for lwp, frames := range bts {
					if len(frames) < 3 {
						t.Errorf("thread %d: gdb's bt has %d frames: %+v", lwp, len(frames), frames)
					}
					for _, f := range frames {
						if f.pc == 0 {
							t.Errorf("thread %d: gdb's bt reaches pc 0 (the stack reads as zeros): %+v", lwp, frames)
							break
						}
					}
				}
				compareWithGdb(t, gdb, interp, corePath)
			}

			if haveGdb && hasGuardRegions(t, pid) {
				checkStacksBeyondGdb13(t, ctx, pid, corePath, dir)
			}
			lp.finish(t)
		})
	}
}

// TestGcoreBadTargets: targets pycore gcore cannot dump say why in one line
// and write no core.
func TestGcoreBadTargets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	out := filepath.Join(dir, "core")
	for _, c := range []struct {
		name, want string
		args       []string
	}{
		{"no such process", "no such process", []string{"gcore", "999999999", "-o", out}},
		{"pid 0", "not a process id", []string{"gcore", "0", "-o", out}},
		{"not a number", "not a process id", []string{"gcore", "abc", "-o", out}},
		{"compression", "only zstd", []string{"gcore", "1", "--compress", "gzip", "-o", out}},
		// Refused before the process is touched: the test itself is the target.
		{"unwritable output", "cannot create the core in", []string{"gcore", fmt.Sprint(os.Getpid()), "-o", filepath.Join(dir, "missing", "core")}},
	} {
		args := c.args
		_, errOut, err := runPycoreCtx(ctx, args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if err == nil || len(lines) != 1 || !strings.Contains(lines[0], c.want) {
			t.Errorf("%s: pycore %v: %v, said %q; want one line with %q", c.name, args, err, errOut, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: a core was written", c.name)
		}
	}

	// A process another debugger holds is refused and left to it.
	if gdb, err := exec.LookPath("gdb"); err == nil {
		sleep := exec.CommandContext(ctx, "sleep", "60")
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
		g := exec.CommandContext(ctx, gdb, "-nx", "-batch", "-p", fmt.Sprint(sleep.Process.Pid), "-ex", "shell sleep 60")
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = g.Process.Kill(); _ = g.Wait() }()
		for tracerPID(t, sleep.Process.Pid) == 0 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		_, errOut, err := runPycoreCtx(ctx, "gcore", fmt.Sprint(sleep.Process.Pid), "-o", out)
		if lines := strings.Split(strings.TrimSpace(errOut), "\n"); err == nil || len(lines) != 1 || !strings.Contains(errOut, "already traced by process") {
			t.Errorf("traced by gdb: %v, said %q", err, errOut)
		}
		if tp := tracerPID(t, sleep.Process.Pid); tp != g.Process.Pid {
			t.Errorf("traced by gdb: TracerPid is %d after pycore, want gdb's %d", tp, g.Process.Pid)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("files left in the output directory: %v", ents)
	}
}

// hasGuardRegions reports whether /proc/PID/smaps flags a mapping as holding
// guard regions (VmFlags "gu": MADV_GUARD_INSTALL, glibc 2.42+ thread stacks).
func hasGuardRegions(t *testing.T, pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			for _, f := range strings.Fields(v) {
				if f == "gu" {
					return true
				}
			}
		}
	}
	return false
}

// checkStacksBeyondGdb13 dumps the process with gdb 13's gcore (Debian
// bookworm's, which reads a mapping with guard regions as one failed read)
// and checks that some page of a thread's stack, between its stack pointer
// and the top of its mapping, is zeros there and not in pycore's core, and
// that no thread's stack-pointer page is zeros in pycore's core.
func checkStacksBeyondGdb13(t *testing.T, ctx context.Context, pid int, corePath, dir string) {
	t.Helper()
	gdb13 := "/usr/bin/gdb"
	if _, err := os.Stat(gdb13); err != nil {
		t.Log("no /usr/bin/gdb to compare with")
		return
	}
	gdbCore := filepath.Join(dir, "gdb13.core")
	out, err := exec.CommandContext(ctx, gdb13, "-nx", "-batch", "-p", fmt.Sprint(pid), "-ex", "gcore "+gdbCore).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb 13 gcore: %v\n%s", err, out)
	}
	for tracerPID(t, pid) != 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	ours, err := openCoreImage(corePath)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := openCoreImage(gdbCore)
	if err != nil {
		t.Fatal(err)
	}
	zeroPage := make([]byte, 4096)
	recovered := 0
	for tid, rsp := range ours.rsp {
		page := rsp &^ 4095
		p, end, ok := ours.page(page)
		if !ok || bytes.Equal(p, zeroPage) {
			t.Errorf("thread %d: the page of its stack pointer %#x is not in pycore's core or is zeros", tid, rsp)
			continue
		}
		for a := page; a < end; a += 4096 {
			p, _, _ := ours.page(a)
			q, _, ok := theirs.page(a)
			if ok && bytes.Equal(q, zeroPage) && !bytes.Equal(p, zeroPage) {
				recovered++
			}
		}
	}
	t.Logf("%d thread-stack pages that gdb 13's gcore wrote as zeros hold data in pycore's core", recovered)
	if recovered == 0 {
		t.Errorf("no thread-stack page is zeros in gdb 13's core and not in pycore's: gdb said\n%s", out)
	}
}

// coreImage is the dumped memory and the threads' stack pointers of a core,
// read with debug/elf: an oracle that is not pycore's reader.
type coreImage struct {
	f    *elf.File
	rsp  map[int]uint64
	segs []*elf.Prog
}

func openCoreImage(path string) (*coreImage, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	c := &coreImage{f: f, rsp: map[int]uint64{}}
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			c.segs = append(c.segs, p)
		case elf.PT_NOTE:
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				return nil, err
			}
			le := binary.LittleEndian
			for len(data) >= 12 {
				nsz, dsz, typ := le.Uint32(data), le.Uint32(data[4:]), le.Uint32(data[8:])
				off := 12 + (int(nsz)+3)&^3
				if off+int(dsz) > len(data) {
					break
				}
				desc := data[off : off+int(dsz)]
				if typ == 1 && len(desc) >= 112+20*8 { // NT_PRSTATUS: pr_pid, pr_reg[19] = rsp
					c.rsp[int(int32(le.Uint32(desc[32:])))] = le.Uint64(desc[112+19*8:])
				}
				data = data[off+(int(dsz)+3)&^3:]
			}
		}
	}
	return c, nil
}

// page returns the 4096 bytes at addr if the core holds them, and the end
// of the segment holding them.
func (c *coreImage) page(addr uint64) ([]byte, uint64, bool) {
	for _, p := range c.segs {
		if addr >= p.Vaddr && addr+4096 <= p.Vaddr+p.Filesz {
			b := make([]byte, 4096)
			if _, err := p.ReadAt(b, int64(addr-p.Vaddr)); err != nil {
				return nil, 0, false
			}
			return b, p.Vaddr + p.Filesz, true
		}
	}
	return nil, 0, false
}
