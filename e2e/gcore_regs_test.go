package e2e

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pycore/pycore/internal/pytest"
)

// blockedTarget is a process whose two threads sleep in one system call
// until killed: their registers stay as they are between two reads.
const blockedTarget = `
import threading, time
threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
time.sleep(0.2)
print("ready", flush=True)
time.sleep(600)
`

// coreNotes returns the descriptors of every note of type typ in an ELF core.
func coreNotes(t *testing.T, path string, typ uint32) [][]byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			t.Fatal(err)
		}
		for len(data) >= 12 {
			nsz, dsz, nt := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:]), binary.LittleEndian.Uint32(data[8:])
			off := 12 + int(nsz+3)&^3
			if off+int(dsz) > len(data) {
				t.Fatalf("%s: truncated note", path)
			}
			if nt == typ {
				out = append(out, data[off:off+int(dsz)])
			}
			data = data[off+int(dsz+3)&^3:]
		}
	}
	return out
}

// TestGcoreRegisters: pycore gcore writes the NT_X86_XSAVE_LAYOUT note as
// this machine's kernel writes it in its own cores (when it does), and gdb
// reads every register (info all-registers: general, x87, SSE, AVX, ...) of
// every thread from pycore's core as it reads them from the process itself.
func TestGcoreRegisters(t *testing.T) {
	gdb := pytest.Gdb()
	if _, err := exec.LookPath(gdb); err != nil {
		t.Skip("no gdb")
	}
	interp := interpreters(t)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()

	// The kernel's own core of this interpreter, where cores go to the
	// working directory.
	var kernelLayout [][]byte
	if pat, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); strings.TrimSpace(string(pat)) == "core" {
		argv := append(append([]string{}, interp.Argv...), "-c", "import os; os.abort()")
		sh := exec.CommandContext(ctx, "sh", append([]string{"-c", `ulimit -c unlimited; exec "$@"`, "sh"}, argv...)...)
		sh.Dir = dir
		sh.Env = append(os.Environ(), interp.Env...)
		_ = sh.Run()
		if _, err := os.Stat(filepath.Join(dir, "core")); err == nil {
			kernelLayout = coreNotes(t, filepath.Join(dir, "core"), 0x205)
		}
	}

	cmd := interp.Command(ctx, nil, "-c", blockedTarget)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line := make([]byte, 6)
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("target did not start: %q %v", line, err)
	}
	pid := cmd.Process.Pid
	corePath := filepath.Join(dir, "pycore.core")
	if _, errOut, err := runPycoreCtx(ctx, "gcore", fmt.Sprint(pid), "-o", corePath); err != nil {
		t.Fatalf("pycore gcore: %v\n%s", err, errOut)
	}

	layout := coreNotes(t, corePath, 0x205)
	if len(layout) != 1 || len(layout[0]) == 0 || len(layout[0])%16 != 0 {
		t.Errorf("pycore's core has %d NT_X86_XSAVE_LAYOUT notes (%v), want one of 16-byte records", len(layout), layout)
	}
	if kernelLayout != nil {
		if len(kernelLayout) != 1 || len(layout) != 1 || !bytes.Equal(kernelLayout[0], layout[0]) {
			t.Errorf("NT_X86_XSAVE_LAYOUT: pycore wrote %x, the kernel %x", layout, kernelLayout)
		}
	} else {
		t.Log("no kernel core to compare NT_X86_XSAVE_LAYOUT with (core_pattern is not \"core\", or no core was written)")
	}

	regs := func(args ...string) string {
		all := append([]string{"-nx", "-batch", "-ex", "thread apply all info all-registers"}, args...)
		out, err := exec.CommandContext(ctx, gdb, all...).CombinedOutput()
		if err != nil {
			t.Fatalf("gdb %v: %v\n%s", args, err, out)
		}
		// Keep the register lines: name, then value.
		re := regexp.MustCompile(`^([a-z][a-z0-9_]*)\s+(\S.*)$`)
		var b strings.Builder
		n := 0
		for _, l := range strings.Split(string(out), "\n") {
			if m := re.FindStringSubmatch(l); m != nil && !strings.Contains(l, "No such file") {
				fmt.Fprintf(&b, "%s %s\n", m[1], m[2])
				n++
			}
		}
		if n < 40 {
			t.Fatalf("gdb %v printed %d register lines:\n%s", args, n, out)
		}
		return b.String()
	}
	fromCore := regs(interp.Exe, corePath)
	live := regs("-p", fmt.Sprint(pid))
	if fromCore != live {
		t.Errorf("gdb's registers differ between pycore's core and the process:\ncore:\n%s\nprocess:\n%s", fromCore, live)
	}
	for _, r := range []string{"ymm0 ", "st0 ", "mxcsr "} {
		if !strings.Contains(fromCore, "\n"+r) {
			t.Errorf("gdb shows no %s from pycore's core", strings.TrimSpace(r))
		}
	}
	if tp := tracerPID(t, pid); tp != 0 {
		t.Errorf("after gdb and pycore: TracerPid %d", tp)
	}
}
