"""Oracle writer shared by the pycore scenario programs (not a scenario itself).

A scenario parks its threads at lines marked "# PARK", then the thread that will make the
core (by os.abort(), a segfault, or by waiting for gcore) calls write_oracle() right before
the line marked "# CORE-POINT". The oracle is a JSON description of every thread's Python
stack as it will be in the core, written from inside the process:

  - other threads come from sys._current_frames(), taken again and again until two
    snapshots 50 ms apart are equal and every thread's innermost frame is at a PARK line;
  - the calling thread's own stack is its caller's stack, with the innermost line moved to
    the next CORE-POINT line of the caller (where it will be when the core is taken).

Valid Python 3.6+ syntax; only the standard library.
"""

import dis
import io
import json
import os
import sys
import threading
import time
import traceback

PARK = "# PARK"
CORE_POINT = "# CORE-POINT"

# Every wait in a scenario is bounded so that a broken scenario fails instead of hanging.
TIMEOUT = 60.0

_marker_cache = {}


def fail(msg):
    """Exit the whole process at once (daemon threads included) with a message."""
    sys.stderr.write("scenario error: %s\n" % msg)
    sys.stderr.flush()
    os._exit(3)


def marked_lines(filename, marker):
    """Line numbers (1-based) of filename whose text contains marker."""
    key = (filename, marker)
    if key not in _marker_cache:
        lines = set()
        try:
            with io.open(filename, encoding="utf-8") as f:
                for n, text in enumerate(f, 1):
                    if marker in text:
                        lines.add(n)
        except (IOError, OSError):
            pass
        _marker_cache[key] = lines
    return _marker_cache[key]


# A frame running the code of a generator, coroutine or async generator function
# belongs to such an object.
_KINDS = ((0x80, "coroutine"), (0x200, "async generator"), (0x20, "generator"))


def code_kind(code):
    for flag, kind in _KINDS:
        if code.co_flags & flag:
            return kind
    return ""


def frame_record(frame, line=None):
    return code_record(frame.f_code, frame.f_lineno if line is None else line)


def code_record(code, line):
    return {
        "file": code.co_filename,
        "function": code.co_name,
        "qualname": getattr(code, "co_qualname", ""),
        "line": line,
        "kind": code_kind(code),
    }


def stack(frame):
    """The stack from frame outwards, innermost first."""
    out = []
    while frame is not None:
        out.append(frame_record(frame))
        frame = frame.f_back
    return out


def code_lines(code):
    return set(line for _, line in dis.findlinestarts(code) if line is not None)


def wait_events(events, what):
    deadline = time.time() + TIMEOUT
    for name, ev in events:
        if not ev.wait(max(0.0, deadline - time.time())):
            fail("%s: %s did not reach its PARK line in %.0f s" % (what, name, TIMEOUT))


def _snapshot(exclude):
    frames = sys._current_frames()
    snap = {}
    for ident, frame in frames.items():
        if ident not in exclude:
            snap[ident] = stack(frame)
    return snap


def _parked(snap):
    for ident, frames in snap.items():
        top = frames[0]
        if top["line"] not in marked_lines(top["file"], PARK):
            return False
    return True


def stable_snapshot(exclude):
    """Stacks of all threads but those in exclude, once they are all parked and still."""
    deadline = time.time() + TIMEOUT
    prev = _snapshot(exclude)
    while True:
        time.sleep(0.05)
        cur = _snapshot(exclude)
        if cur == prev and _parked(cur):
            return cur
        if time.time() > deadline:
            bad = []
            for ident, frames in cur.items():
                top = frames[0]
                if top["line"] not in marked_lines(top["file"], PARK):
                    bad.append("%#x at %s:%d" % (ident, top["file"], top["line"]))
            fail("threads not parked after %.0f s: %s" % (TIMEOUT, ", ".join(bad) or "stacks kept changing"))
        prev = cur


def core_point_line(frame):
    """The first CORE-POINT line after frame's current line, inside frame's function."""
    code = frame.f_code
    marks = sorted(n for n in marked_lines(code.co_filename, CORE_POINT) if n > frame.f_lineno)
    if not marks:
        fail("no %s line after %s:%d" % (CORE_POINT, code.co_filename, frame.f_lineno))
    line = marks[0]
    if line not in code_lines(code):
        fail("%s line %s:%d is not in %s" % (CORE_POINT, code.co_filename, line, code.co_name))
    return line


def gil_enabled():
    """False in a free-threaded build running without the GIL (nobody holds one)."""
    return getattr(sys, "_is_gil_enabled", lambda: True)()


def format_stacks(snap, exclude):
    """What traceback.format_stack() prints of every parked thread whose stack is still
    the one in snap (the calling thread's will have moved on by the core), by ident."""
    out = {}
    for ident, frame in sys._current_frames().items():
        if ident in exclude or stack(frame) != snap.get(ident):
            continue
        out[ident] = traceback.format_stack(frame)
    return out


def process_record():
    """What the process says about itself: pycore's process header must agree."""
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "executable": sys.executable,
        "argv": list(sys.argv),
        "orig_argv": list(sys.orig_argv) if hasattr(sys, "orig_argv") else None,
    }


def write_oracle(path, mode, signal=0, crashed=False, holds_gil=False, inner=None, extra=None):
    """Write the oracle for a core taken at the caller's next CORE-POINT line.

    mode, signal: recorded as is (what kind of core this is, which signal ends the process).
    crashed: the calling thread is the one that crashes (its ident goes to "crashed").
    holds_gil: the calling thread holds the GIL when the core is taken (ignored when the
    process runs without a GIL: free-threaded builds).
    inner: frame records innermost of the caller's (Python functions the CORE-POINT line
    calls into, such as ctypes.string_at), innermost first.
    extra: thread records of other interpreters (with their "interp" id), which
    sys._current_frames() of this one cannot tell apart from its own threads.
    """
    me = threading.current_thread()
    caller = sys._getframe(1)
    own = [frame_record(caller, core_point_line(caller))] + stack(caller.f_back)
    if inner:
        own = list(inner) + own

    snap = stable_snapshot(exclude=(me.ident,))
    live = dict((t.ident, t) for t in threading.enumerate())
    if set(snap) | set([me.ident]) != set(live):
        fail("threads in sys._current_frames %s differ from threading.enumerate %s"
             % (sorted(set(snap) | set([me.ident])), sorted(live)))
    snap[me.ident] = own
    printed = format_stacks(snap, exclude=(me.ident,))

    main_ident = threading.main_thread().ident
    threads = []
    for t in threading.enumerate():
        threads.append({
            "ident": t.ident,
            "native_id": getattr(t, "native_id", 0) or 0,
            "name": t.name,
            "main": t.ident == main_ident,
            "daemon": t.daemon,
            "holds_gil": holds_gil and gil_enabled() and t.ident == me.ident,
            "interp": 0,
            "frames": snap[t.ident],
            "format_stack": printed.get(t.ident),
        })
    threads.extend(extra or [])
    oracle = {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "pid": os.getpid(),
        "mode": mode,
        "signal": signal,
        "scenario": os.path.basename(sys.argv[0]),
        "crashed": me.ident if crashed else 0,
        "threads": threads,
        "process": process_record(),
    }
    tmp = path + ".tmp"
    with io.open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(oracle, indent=1, ensure_ascii=False))
        f.write(u"\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def mark_ready(path):
    """Tell the harness that the oracle is written and the process may be dumped."""
    tmp = path + ".ready.tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, path + ".ready")


def parse_args(modes):
    if len(sys.argv) != 3 or sys.argv[2] not in modes:
        sys.stderr.write("usage: %s ORACLE_PATH {%s}\n" % (sys.argv[0], "|".join(modes)))
        sys.exit(2)
    return sys.argv[1], sys.argv[2]


def start(threads):
    """Start (name, target, args) daemon threads; each target's last argument is its Event,
    which it sets right before parking. Returns [(name, event)]."""
    events = []
    for name, target, args in threads:
        ev = threading.Event()
        t = threading.Thread(target=target, name=name, args=tuple(args) + (ev,))
        t.daemon = True
        t.start()
        events.append((name, ev))
    return events
