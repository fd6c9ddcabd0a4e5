package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pycore/pycore/cpython"
	"github.com/pycore/pycore/native"
)

// threadFilter is threads --thread and --crashed: which threads to show.
type threadFilter struct {
	ids     []string // as given: LWPs, native ids or idents
	crashed bool
}

func (f *threadFilter) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.ids, "thread", nil, "show only thread `ID`: its LWP (native id) or its threading.get_ident() (0x... as the table shows it, or decimal); repeatable or comma-separated")
	cmd.Flags().BoolVar(&f.crashed, "crashed", false, "show only the thread the fatal signal was delivered to (with --thread: that one too)")
}

func (f *threadFilter) active() bool { return len(f.ids) > 0 || f.crashed }

// parse reads the --thread values.
func (f *threadFilter) parse() ([]uint64, error) {
	var out []uint64
	for _, s := range f.ids {
		s = strings.TrimSpace(s)
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("--thread %q: not a thread id: give an LWP (1234) or a thread ident (0x7f2c5b7fe6c0), as the threads table shows them", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// matches says whether a thread is one the flags ask for: a Python thread
// by its LWP, native_thread_id or ident; a thread Python does not know by
// its LWP. crashedLWP is the thread a fatal signal hit (0 for none).
func (f *threadFilter) matches(ids []uint64, t *cpython.Thread, lwp int64, crashedLWP int) bool {
	if f.crashed {
		if t != nil && t.Crashed {
			return true
		}
		if t == nil && crashedLWP != 0 && lwp == int64(crashedLWP) {
			return true
		}
	}
	for _, id := range ids {
		if lwp > 0 && id == uint64(lwp) {
			return true
		}
		if t == nil {
			continue
		}
		if id == t.ThreadID || (t.NativeThreadID != nil && id == uint64(*t.NativeThreadID)) {
			return true
		}
	}
	return false
}

func fatalLWP(si *cpython.SignalInfo) int {
	if si == nil || !si.Fatal {
		return 0
	}
	return si.Thread
}

// filterThreads keeps the snapshot's threads the flags ask for; none is an
// error naming what there is.
func (f *threadFilter) filterThreads(s *cpython.Snapshot) error {
	if !f.active() {
		return nil
	}
	ids, err := f.parse()
	if err != nil {
		return err
	}
	var kept []*cpython.Thread
	for _, t := range s.Threads {
		var lwp int64
		if t.LWP != nil {
			lwp = *t.LWP
		}
		if f.matches(ids, t, lwp, fatalLWP(s.Signal)) {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		var have []string
		for _, t := range s.Threads {
			have = append(have, describeThread(t.ThreadID, t.LWP))
		}
		return f.noMatch(have)
	}
	s.Notes = append(s.Notes, f.shown(len(kept), len(s.Threads)))
	s.Threads = kept
	return nil
}

// shown is the note saying the threads were filtered.
func (f *threadFilter) shown(kept, all int) string {
	return fmt.Sprintf("%d of %d threads shown (%s)", kept, all, f.asked())
}

func (f *threadFilter) asked() string {
	var asked []string
	if len(f.ids) > 0 {
		asked = append(asked, "--thread "+strings.Join(f.ids, ","))
	}
	if f.crashed {
		asked = append(asked, "--crashed")
	}
	return strings.Join(asked, " ")
}

// filterNative does the same for threads --native, where threads Python
// does not know are listed (and may be the crashed one) too.
func (f *threadFilter) filterNative(s *native.Snapshot) error {
	if !f.active() {
		return nil
	}
	ids, err := f.parse()
	if err != nil {
		return err
	}
	var kept []*native.Thread
	for _, t := range s.Threads {
		if f.matches(ids, t.Python, int64(t.LWP), fatalLWP(s.Signal)) {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		var have []string
		for _, t := range s.Threads {
			if t.Python != nil {
				have = append(have, describeThread(t.Python.ThreadID, t.Python.LWP))
			} else {
				have = append(have, fmt.Sprintf("LWP %d", t.LWP))
			}
		}
		return f.noMatch(have)
	}
	s.Notes = append(s.Notes, f.shown(len(kept), len(s.Threads)))
	s.Threads = kept
	return nil
}

func describeThread(ident uint64, lwp *int64) string {
	if lwp == nil {
		return fmt.Sprintf("%#x", ident)
	}
	return fmt.Sprintf("LWP %d (%#x)", *lwp, ident)
}

// maxListed bounds the threads an error lists.
const maxListed = 20

func (f *threadFilter) noMatch(have []string) error {
	more := ""
	if len(have) > maxListed {
		more = fmt.Sprintf(" and %d more", len(have)-maxListed)
		have = have[:maxListed]
	}
	why := ""
	if f.crashed && len(f.ids) == 0 {
		why = " (no thread crashed: no fatal signal, as in a dump of a running process or one asked for by kill)"
	}
	return fmt.Errorf("no thread matches %s%s; the threads are %s%s", f.asked(), why, strings.Join(have, ", "), more)
}
