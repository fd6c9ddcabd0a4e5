package cpython

import (
	"errors"
	"fmt"
	"github.com/pycore/pycore/cpython/pyobj"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pycore/pycore/core"
	"github.com/pycore/pycore/typesys"
)

// ProcessInfo is what the core and the interpreter say about the process:
// the kernel's NT_PRPSINFO note (pid, ids, command name and the first 80
// bytes of the command line) and the sys module's own sys.executable,
// sys.argv and sys.orig_argv.
type ProcessInfo struct {
	PID  *int // null when the core has no NT_PRPSINFO
	PPID *int
	UID  *int
	GID  *int
	// Command is pr_fname, the kernel's name of the program (comm: at most
	// 15 bytes); PsArgs is pr_psargs, the command line as the kernel keeps
	// it (at most 80 bytes, arguments joined by spaces).
	Command *string
	PsArgs  *string
	// Executable, Argv and OrigArgv are sys.executable, sys.argv and
	// sys.orig_argv (3.10+: the interpreter's own command line, options
	// included) of the main interpreter; null where unreadable or absent.
	Executable *string
	Argv       []string
	OrigArgv   []string
	// Time is when the core was written, where something records it, and
	// TimeSource says what (an ELF core itself does not).
	Time       *time.Time
	TimeSource string
	// Errors say what of the above could not be read.
	Errors []string
}

// maxArgv bounds the arguments read from sys.argv and sys.orig_argv, and
// maxArgChars each argument (a longer one is cut, ending in "…").
const (
	maxArgv     = 1024
	maxArgChars = 4096
)

// processInfo gathers ProcessInfo from the core's notes and the sys module.
func (p *Process) processInfo() *ProcessInfo {
	pi := &ProcessInfo{}
	if ps := p.Core.PsInfo; ps != nil {
		pid, ppid, uid, gid := ps.PID, ps.PPID, ps.UID, ps.GID
		// Both are cut at a byte count, maybe inside a UTF-8 sequence.
		cmd, args := trimPartialRune(ps.Fname), trimPartialRune(ps.Args)
		pi.PID, pi.PPID, pi.UID, pi.GID = &pid, &ppid, &uid, &gid
		pi.Command, pi.PsArgs = &cmd, &args
	} else if p.Core.Live == nil {
		pi.Errors = append(pi.Errors, "the core has no NT_PRPSINFO note (pid, command line)")
	}
	if t, ok := coredumpTime(p.Core.Path, pi.PID); ok {
		pi.Time, pi.TimeSource = &t, "systemd-coredump file name"
	}
	if err := p.readSysArgs(pi); err != nil {
		pi.Errors = append(pi.Errors, fmt.Sprintf("sys module: %v", err))
	}
	return pi
}

// trimPartialRune drops an incomplete UTF-8 sequence from the end of s.
func trimPartialRune(s string) string {
	for i := 1; i < utf8.UTFMax && i <= len(s); i++ {
		if utf8.RuneStart(s[len(s)-i]) {
			if !utf8.FullRuneInString(s[len(s)-i:]) {
				return s[:len(s)-i]
			}
			break
		}
	}
	return s
}

// coredumpFileRE matches systemd-coredump's file names:
// core.COMM.UID.BOOTID.PID.USEC[.zst|.xz|.lz4], USEC the dump's wall-clock time
// in microseconds since the epoch. Compiled on first use: at init it cost
// every command, `pycore version` too.
var coredumpFileRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^core\..+\.\d+\.[0-9a-f]{32}\.(\d+)\.(\d{10,19})(\.zst|\.xz|\.lz4)?$`)
})

// coredumpTime reads the time a core was written from its systemd-coredump
// file name, when the name's pid is the core's own (a renamed file whose
// name belongs to another process does not count).
func coredumpTime(path string, pid *int) (time.Time, bool) {
	base := filepath.Base(path)
	if !strings.HasPrefix(base, "core.") || pid == nil {
		return time.Time{}, false // not such a name: no regexp to compile (5M instructions)
	}
	m := coredumpFileRE().FindStringSubmatch(base)
	if m == nil || pid == nil || m[1] != strconv.Itoa(*pid) {
		return time.Time{}, false
	}
	usec, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil || usec <= 0 {
		return time.Time{}, false
	}
	return time.UnixMicro(usec).UTC(), true
}

// mainInterpreter is the main interpreter's state: interpreters.main where
// the runtime has it (3.7+), else the tail of the list (new interpreters are
// put at its head).
func (p *Process) mainInterpreter() (typesys.Value, error) {
	if v, err := p.Runtime.Path("interpreters.main"); err == nil {
		if a, err := v.Ptr(); err == nil && a != 0 {
			return v, nil
		}
	}
	v, err := p.Runtime.Path("interpreters.head")
	if err != nil {
		return typesys.Value{}, err
	}
	for n := 0; n < maxInterpreters; n++ {
		next, err := v.Member("next")
		if err != nil {
			return typesys.Value{}, err
		}
		a, err := next.Ptr()
		if err != nil {
			return typesys.Value{}, fmt.Errorf("interpreter list: %w", err)
		}
		if a == 0 {
			return v, nil
		}
		v = next
	}
	return typesys.Value{}, fmt.Errorf("interpreter list longer than %d", maxInterpreters)
}

// readSysArgs fills in sys.executable, sys.argv and sys.orig_argv.
func (p *Process) readSysArgs(pi *ProcessInfo) error {
	r, err := p.reader()
	if err != nil {
		return err
	}
	interp, err := p.mainInterpreter()
	if err != nil {
		return fmt.Errorf("main interpreter: %w", err)
	}
	sd, err := interp.Member("sysdict")
	if err != nil {
		return err
	}
	dict, err := rawWord(sd)
	if err != nil {
		return fmt.Errorf("interp->sysdict: %w", err)
	}
	if dict == 0 {
		return errors.New("interp->sysdict is NULL (not yet set up, or torn down)")
	}
	items, _, err := r.DictItems(core.Address(dict), pyobj.MaxLookupItems)
	if err != nil {
		return fmt.Errorf("sys.__dict__: %w", err)
	}
	var errs []error
	if v, ok, _ := r.FindStrKey(items, "executable"); ok && !r.IsNone(v) {
		if s, err := r.StrValue(v, maxArgChars); err == nil {
			pi.Executable = &s
		} else {
			errs = append(errs, fmt.Errorf("sys.executable: %w", err))
		}
	}
	if v, ok, _ := r.FindStrKey(items, "argv"); ok {
		if pi.Argv, err = r.StrList(v, maxArgv, maxArgChars); err != nil {
			errs = append(errs, fmt.Errorf("sys.argv: %w", err))
		}
	}
	if p.flavor.OrigArgv {
		if v, ok, _ := r.FindStrKey(items, "orig_argv"); ok {
			if pi.OrigArgv, err = r.StrList(v, maxArgv, maxArgChars); err != nil {
				errs = append(errs, fmt.Errorf("sys.orig_argv: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}
