package core

import (
	"fmt"
	"os"
	"os/exec"
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
