// Package ptrace stops every thread of a live process, runs a function while
// they are stopped, and detaches them all again. It is the only place in
// pycore that makes ptrace calls, so that the guarantee "the process is left
// running and untraced" has one place to be checked.
//
// Every ptrace request is made from one locked OS thread (the kernel ties a
// tracee to the thread that seized it). That goroutine never unlocks: should
// a detach fail, the thread dies when the goroutine ends, and the kernel
// detaches whatever it still traces.
package ptrace

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Thread is one stopped thread and its general registers.
type Thread struct {
	TID  int
	Regs unix.PtraceRegs
}

// SeizeError is a failure to seize a thread; Errno tells why (EPERM:
// permission or another tracer).
type SeizeError struct {
	TID   int
	Errno syscall.Errno
}

func (e *SeizeError) Error() string { return fmt.Sprintf("seize thread %d: %v", e.TID, e.Errno) }

// ErrExited is returned when the process exited before it could be stopped.
var ErrExited = errors.New("the process exited")

// InterruptedError is returned when pycore got SIGINT or SIGTERM while the
// process was stopped; the process was detached first.
type InterruptedError struct{ Signal os.Signal }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted by %v; the process was detached and left running", e.Signal)
}

// Limits that keep a misbehaving target from hanging pycore.
const (
	maxRounds   = 64              // re-listings of /proc/PID/task while threads appear
	stopTimeout = 5 * time.Second // for one thread to reach its interrupt stop
	pollMin     = 50 * time.Microsecond
	pollMax     = 2 * time.Millisecond
)

// Stopped is passed to the function run while the process is stopped.
type Stopped struct {
	Threads []Thread // sorted by TID, the thread group leader first
	// Interrupted is set when SIGINT or SIGTERM arrived: long reads should
	// give up so the process is released promptly.
	Interrupted *atomic.Bool
}

// WhileStopped seizes and interrupts every thread of process pid, reads
// their registers, calls fn, then detaches every thread it seized (also
// when fn fails or panics, and on SIGINT/SIGTERM). It returns how long the
// process was stopped: from the first seize to the last detach.
func WhileStopped(pid int, fn func(Stopped) error) (time.Duration, error) {
	type result struct {
		paused time.Duration
		err    error
		panic  any
	}
	var interrupted atomic.Bool
	var got atomic.Value
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan result, 1)
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case s := <-sigs:
			got.Store(s)
			interrupted.Store(true)
		case <-stopWatch:
		}
	}()
	go func() {
		runtime.LockOSThread() // never unlocked: see the package comment
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panic = p
			}
			done <- r
		}()
		r.paused, r.err = stopAndRun(pid, fn, &interrupted)
	}()
	r := <-done
	// A signal that came while the threads were being detached must not be
	// lost: Stop first (once it returns, every signal that arrived is in
	// sigs), then end the watcher, then look in sigs.
	signal.Stop(sigs)
	close(stopWatch)
	<-watched
	if got.Load() == nil {
		select {
		case s := <-sigs:
			got.Store(s)
		default:
		}
	}
	if r.panic != nil {
		panic(r.panic)
	}
	if s, ok := got.Load().(os.Signal); ok {
		return r.paused, &InterruptedError{Signal: s}
	}
	return r.paused, r.err
}

type tracee struct {
	tid     int
	stopped bool
	gone    bool
	sig     int // a signal that arrived while stopping, given back on detach
}

func stopAndRun(pid int, fn func(Stopped) error, interrupted *atomic.Bool) (paused time.Duration, err error) {
	seized := map[int]*tracee{}
	var start time.Time
	defer func() {
		for _, t := range seized {
			if t.gone {
				continue
			}
			// PTRACE_DETACH needs a stopped tracee; one that never stopped is
			// interrupted again so it can be detached.
			if !t.stopped {
				_ = unix.PtraceInterrupt(t.tid)
				t.stopped = waitStop(t, interrupted) == nil
			}
			if !t.gone {
				_, _, _ = unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(t.tid), 0, uintptr(t.sig), 0, 0)
			}
		}
		if !start.IsZero() {
			paused = time.Since(start)
		}
	}()

	for round := 0; ; round++ {
		tids, err := listTasks(pid)
		if err != nil {
			if len(seized) == 0 && errors.Is(err, os.ErrNotExist) {
				return 0, ErrExited
			}
			return 0, err
		}
		fresh := 0
		for _, tid := range tids {
			if seized[tid] != nil {
				continue
			}
			if start.IsZero() {
				start = time.Now()
			}
			if err := unix.PtraceSeize(tid); err != nil {
				if err == unix.ESRCH {
					continue // the thread exited
				}
				return 0, &SeizeError{TID: tid, Errno: err.(syscall.Errno)}
			}
			t := &tracee{tid: tid}
			seized[tid] = t
			fresh++
			if err := unix.PtraceInterrupt(tid); err != nil {
				t.gone = err == unix.ESRCH
				if !t.gone {
					return 0, fmt.Errorf("interrupt thread %d: %w", tid, err)
				}
			}
		}
		if fresh == 0 {
			break
		}
		if round >= maxRounds {
			return 0, fmt.Errorf("threads kept appearing after %d listings of /proc/%d/task", maxRounds, pid)
		}
	}

	var threads []Thread
	for _, t := range seized {
		if t.gone {
			continue
		}
		if err := waitStop(t, interrupted); err != nil {
			return 0, err
		}
		if t.gone {
			continue
		}
		th := Thread{TID: t.tid}
		if err := unix.PtraceGetRegs(t.tid, &th.Regs); err != nil {
			if err == unix.ESRCH {
				t.gone = true
				continue
			}
			return 0, fmt.Errorf("registers of thread %d: %w", t.tid, err)
		}
		threads = append(threads, th)
	}
	if len(threads) == 0 {
		return 0, ErrExited
	}
	sort.Slice(threads, func(i, j int) bool {
		if (threads[i].TID == pid) != (threads[j].TID == pid) {
			return threads[i].TID == pid
		}
		return threads[i].TID < threads[j].TID
	})
	if interrupted.Load() {
		return 0, nil // WhileStopped reports the signal
	}
	return 0, fn(Stopped{Threads: threads, Interrupted: interrupted})
}

// waitStop waits, bounded, for t to stop. A signal that stops it instead of
// our interrupt is remembered and given back on detach.
func waitStop(t *tracee, interrupted *atomic.Bool) error {
	deadline := time.Now().Add(stopTimeout)
	delay := pollMin
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(t.tid, &ws, unix.WALL|unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECHILD:
			t.gone = true
			return nil
		case err != nil:
			return fmt.Errorf("wait for thread %d: %w", t.tid, err)
		case wpid == t.tid:
			switch {
			case ws.Exited() || ws.Signaled():
				t.gone = true
				return nil
			case ws.Stopped():
				t.stopped = true
				if int(ws>>16) != unix.PTRACE_EVENT_STOP {
					t.sig = int(ws.StopSignal())
				}
				return nil
			}
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("thread %d did not stop within %v (in an uninterruptible wait?)", t.tid, stopTimeout)
		}
		if interrupted.Load() && !t.stopped {
			// Keep waiting briefly only: the deadline still bounds it.
			delay = pollMax
		}
		time.Sleep(delay)
		delay = min(2*delay, pollMax)
	}
}

// listTasks returns the TIDs in /proc/PID/task.
func listTasks(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil && tid > 0 {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// ListTasks returns the TIDs of process pid, for readers that do not stop it.
func ListTasks(pid int) ([]int, error) {
	tids, err := listTasks(pid)
	sort.Ints(tids)
	return tids, err
}

// RegSet reads register set typ (an NT_* note type: NT_PRFPREG,
// NT_X86_XSTATE, ...) of stopped thread tid into buf and returns the part
// the kernel filled. Call it only from the function WhileStopped runs: the
// tracee belongs to the thread that seized it.
func RegSet(tid int, typ int, buf []byte) ([]byte, error) {
	if len(buf) == 0 {
		return nil, errors.New("empty register buffer")
	}
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGSET, uintptr(tid), uintptr(typ), uintptr(unsafe.Pointer(&iov)), 0, 0)
	runtime.KeepAlive(buf)
	if e != 0 {
		return nil, fmt.Errorf("register set %#x of thread %d: %w", typ, tid, e)
	}
	return buf[:min(int(iov.Len), len(buf))], nil
}
