package ptrace

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Held is a process kept stopped while pycore reads it, straight from its
// memory, until Release. Reading in place makes the pause as long as the
// reading itself (a few milliseconds for a stack walk), where copying the
// memory first would pause it for as long as copying every page takes.
type Held struct {
	Threads []Thread
	start   time.Time
	release chan struct{}
	done    chan struct{}
	once    sync.Once
	expired atomic.Bool
	paused  time.Duration
	err     error
}

// Hold stops every thread of process pid as WhileStopped does and keeps them
// stopped until Release, or for maxHold at most, after which they are
// detached anyway (Expired says so) so that a slow reader never leaves a
// service stopped. On SIGINT or SIGTERM the threads are detached, then the
// signal is given back to pycore, which dies of it as it would have.
func Hold(pid int, maxHold time.Duration) (*Held, error) {
	h := &Held{release: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	ready := make(chan []Thread, 1)
	go func() {
		defer close(h.done)
		h.paused, h.err = WhileStopped(pid, func(s Stopped) error {
			ready <- s.Threads
			timer := time.NewTimer(maxHold)
			defer timer.Stop()
			poll := time.NewTicker(10 * time.Millisecond)
			defer poll.Stop()
			for {
				select {
				case <-h.release:
					return nil
				case <-timer.C:
					h.expired.Store(true)
					return nil
				case <-poll.C:
					if s.Interrupted.Load() {
						return nil
					}
				}
			}
		})
		var ie *InterruptedError
		if errors.As(h.err, &ie) {
			fmt.Fprintf(os.Stderr, "pycore: %v\n", ie)
			if sig, ok := ie.Signal.(syscall.Signal); ok {
				signal.Reset(sig)
				_ = syscall.Kill(os.Getpid(), sig)
			}
			os.Exit(130)
		}
	}()
	select {
	case th := <-ready:
		h.Threads = th
		return h, nil
	case <-h.done:
		if h.err == nil {
			h.err = ErrExited
		}
		return nil, h.err
	}
}

// Release detaches every thread (once; later calls wait for the first) and
// says how long the process was stopped.
func (h *Held) Release() (time.Duration, error) {
	h.once.Do(func() { close(h.release) })
	<-h.done
	return h.paused, h.err
}

// Elapsed is how long the process has been stopped so far.
func (h *Held) Elapsed() time.Duration { return time.Since(h.start) }

// Expired reports whether maxHold passed before Release, so that reads made
// after it may have seen the process running.
func (h *Held) Expired() bool { return h.expired.Load() }
