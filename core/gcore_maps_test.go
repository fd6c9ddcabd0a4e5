package core

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestStoppedMapsAgreesWithSmaps: the mappings copyMemory reads while the
// process is stopped (maps, VmFlags from before, the pagemap) decide what a
// core holds exactly as the kernel's /proc/PID/smaps does, on a process of
// dynamically linked sleep (libc's written .data and relro, its text, the
// stack, vdso).
func TestStoppedMapsAgreesWithSmaps(t *testing.T) {
	cmd := dieWithTest(exec.Command("sleep", "60"))
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	// Until the loader is done, the mappings change.
	time.Sleep(200 * time.Millisecond)
	pre, err := readSmaps(pid)
	if err != nil {
		t.Fatal(err)
	}
	pagemap, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer pagemap.Close()
	got, err := stoppedMaps(pid, pre, pagemap)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readSmaps(pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d mappings, smaps has %d", len(got), len(want))
	}
	written := 0
	for i := range want {
		g, w := &got[i], &want[i]
		gs, ga := g.coreDumpSize()
		ws, wa := w.coreDumpSize()
		if g.start != w.start || g.end != w.end || gs != ws || ga != wa {
			t.Errorf("%s-%s %s: dump %d (anon %v), smaps says %d (anon %v)", g.start, g.end, g.path, gs, ga, ws, wa)
		}
		if w.fileBacked() && w.anonKB > 0 {
			written++
		}
	}
	if written == 0 {
		t.Error("no written private file mapping to check")
	}
}

// TestReadCachedSameBytes: reads through the page cache of a stopped
// process give the bytes a direct process_vm_readv gives, across page
// boundaries, and stop where an unreadable page starts as a direct read
// does (a sleep process, stopped by SIGSTOP: its memory does not change).
func TestReadCachedSameBytes(t *testing.T) {
	cmd := dieWithTest(exec.Command("sleep", "60"))
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(200 * time.Millisecond)
	pid := cmd.Process.Pid
	_ = cmd.Process.Signal(syscall.SIGSTOP)
	defer func() { _ = cmd.Process.Signal(syscall.SIGCONT) }()
	maps, err := readProcMaps(pid)
	if err != nil {
		t.Fatal(err)
	}
	l := newLiveMemory(pid)
	defer l.close()
	checked := 0
	for _, m := range maps {
		if m.perm&PermRead == 0 || m.path == "[vvar]" || m.path == "[vvar_vclock]" || m.path == "[vsyscall]" {
			continue
		}
		size := uint64(m.end - m.start)
		for _, c := range []struct{ off, n uint64 }{{0, 8}, {4090, 12}, {100, 3 * livePageSize}, {size - 5, 5}, {size - 9, 64}} {
			if c.off >= size {
				continue
			}
			a, b := make([]byte, c.n), make([]byte, c.n)
			gotA := l.read(a, m.start+Address(c.off))
			gotB := l.readCached(b, m.start+Address(c.off))
			if gotA != gotB || !bytes.Equal(a[:gotA], b[:gotB]) {
				t.Errorf("%s+%#x (%d bytes, %s): direct read %d bytes, cached %d, or other bytes", m.start, c.off, c.n, m.path, gotA, gotB)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("only %d reads checked", checked)
	}
}
