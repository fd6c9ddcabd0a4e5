package core

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// TestWriteLiveStaysInWritableMappings opens a running sleep(1) for direct
// access and checks the one writer's bounds against the process's real
// mappings: it writes (the bytes already there, so sleep is unharmed) into
// a writable mapping, and refuses code, read-only data, unmapped addresses,
// writes crossing a mapping's end and sizes outside 1..MaxLiveWrite.
func TestWriteLiveStaysInWritableMappings(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	pid := sleep.Process.Pid
	// Wait (bounded by the test's timeout) until sleep sleeps: past the
	// loader, which changes protections (RELRO) as it goes.
	for !strings.HasPrefix(readFile(fmt.Sprintf("/proc/%d/syscall", pid)), "230 ") { // clock_nanosleep
		time.Sleep(5 * time.Millisecond)
	}
	p, err := OpenPID(pid, Options{}, LiveOptions{NonBlocking: true, Direct: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var rw, ro, rx *Mapping
	for _, m := range p.Mappings {
		switch {
		case m.Perm == PermRead|PermWrite && rw == nil && m.Size() >= 16:
			rw = m
		case m.Perm == PermRead && m.Path != "" && ro == nil:
			ro = m
		case m.Perm == PermRead|PermExec && m.Path != "" && rx == nil:
			rx = m
		}
	}
	if rw == nil || ro == nil || rx == nil {
		t.Fatalf("sleep has no rw, r and r-x mappings: %v", p.Mappings)
	}
	// A write of what is there: the process's memory is unchanged.
	was := make([]byte, 8)
	if _, err := p.ReadAt(was, rw.Start); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteLive(rw.Start, was); err != nil {
		t.Errorf("write of 8 bytes into writable %s: %v", rw, err)
	}
	now := make([]byte, 8)
	if _, err := p.ReadAt(now, rw.Start); err != nil || !bytes.Equal(now, was) {
		t.Errorf("after the write: %x (%v), want %x", now, err, was)
	}
	for _, c := range []struct {
		what string
		addr Address
		n    int
		want string
	}{
		{"code", rx.Start, 8, "is not writable"},
		{"read-only data", ro.Start, 8, "is not writable"},
		{"unmapped", 0x1000, 8, "not inside one mapping"},
		{"across the end", rw.End - 4, 8, "not inside one mapping"},
		{"empty", rw.Start, 0, "want 1 to"},
		{"too large", rw.Start, MaxLiveWrite + 1, "want 1 to"},
	} {
		err := p.WriteLive(c.addr, make([]byte, c.n))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: WriteLive(%s, %d bytes) = %v, want an error saying %q", c.what, c.addr, c.n, err, c.want)
		}
	}

	// A process read the usual way (a copy) is never written.
	q, err := OpenPID(pid, Options{}, LiveOptions{NonBlocking: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.WriteLive(rw.Start, was); err == nil {
		t.Error("WriteLive on a copied live process succeeded")
	}
}
