#!/usr/bin/env python3
"""bench/live.py: pycore threads --pid against pystack remote and gdb's py-bt on the same
running process.

Usage: bench/live.py [-n RUNS] [--threads N] [--heap-mb M] [--python EXE] [--gdb GDB]
                     [--gdb-py FILE] [--pycore PYCORE]

Starts one Python process (EXE, default python3) with N threads parked 20 calls deep
(default 4) and about M MiB of live objects (default 10); RUNS times (default 5), in turn:
`pycore threads --pid PID`, `pycore threads --pid PID --nonblocking`, `pystack remote PID` and
`pystack remote --no-block PID` when pystack is installed (on PATH, or PYSTACK=/path; the
output says when it is not), and, when FILE (CPython's
python-gdb.py for EXE, e.g. pyenv's bin/python3.12-gdb.py) is given, `GDB -batch -p PID
-ex 'source FILE' -ex 'thread apply all py-bt'`. For each: wall and CPU time (wait4) of the
command and the pause the process saw (the longest gap between ticks of a thread that
sleeps 1 ms, reset before each run, so it includes scheduling delay on a busy machine),
and pycore's own count of the pause (paused_ms in --json, read in a separate run).
Prints a markdown table of medians. A benchmark, not a test.
"""
import argparse, json, os, shutil, statistics, subprocess, tempfile, time

from livebench import TARGET, ask, loadavg, python_frames_diff, start, timed


def find_pystack():
    """pystack's command line (PYSTACK, a path or a command line, else PATH), or None."""
    import shlex
    env = os.environ.get("PYSTACK")
    if env:
        return shlex.split(env)
    p = shutil.which("pystack")
    return [p] if p else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--heap-mb", type=int, default=10)
    ap.add_argument("--python", default="python3")
    ap.add_argument("--gdb", default="gdb")
    ap.add_argument("--gdb-py", default="")
    ap.add_argument("--pycore", default="pycore")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="live-bench-")
    script = os.path.join(work, "target.py")
    with open(script, "w") as f:
        f.write(TARGET % {"objs": a.heap_mb * (1 << 20) // 70, "threads": a.threads})
    tools = {
        "pycore threads --pid": lambda pid: [a.pycore, "threads", "--pid", str(pid)],
        "pycore threads --pid --nonblocking": lambda pid: [a.pycore, "threads", "--pid", str(pid), "--nonblocking"],
    }
    pystack = find_pystack()
    if pystack:
        version = subprocess.run(pystack + ["--version"], capture_output=True, text=True).stdout.strip()
        tools["pystack remote"] = lambda pid: pystack + ["remote", "--no-color", str(pid)]
        tools["pystack remote --no-block"] = lambda pid: pystack + ["remote", "--no-color", "--no-block", str(pid)]
        print("pystack %s (%s)" % (version, " ".join(pystack)))
    else:
        print("pystack: NOT INSTALLED (not on PATH, PYSTACK unset): its rows are left out")
    if a.gdb_py:
        tools["gdb py-bt (thread apply all)"] = lambda pid: [a.gdb, "-nx", "-batch", "-p", str(pid),
                                                  "-ex", "source " + a.gdb_py, "-ex", "thread apply all py-bt"]
    res = {name: [] for name in tools}
    own = {name: [] for name in tools if name.startswith("pycore")}
    checks = []
    proc = start(a.python, script)
    try:
        for _ in range(a.n):
            for name, argv in tools.items():
                ask(proc, "reset")
                wall, cpu, _ = timed(argv(proc.pid))
                time.sleep(0.05)  # let the ticker see the end of the pause
                res[name].append((wall, cpu, float(ask(proc, "gap"))))
            for name in own:
                out = subprocess.run(tools[name](proc.pid) + ["--json"], capture_output=True, text=True, check=True).stdout
                own[name].append(json.loads(out)["live"]["paused_ms"])
        if pystack:
            # The parked threads' stacks do not change; the ticker's and the main thread's may.
            ps = subprocess.run(pystack + ["remote", "--no-color", str(proc.pid)], capture_output=True, text=True, check=True).stdout
            pc = json.loads(subprocess.run([a.pycore, "threads", "--pid", str(proc.pid), "--json"], capture_output=True, text=True, check=True).stdout)
            checks, nframes = python_frames_diff("live", ps, pc, skip=("ticker", "<module>"))
            checks = checks or ["same Python frames in pystack remote and pycore threads --pid (%d frames of the parked threads)" % nframes]
    finally:
        ask(proc, "stop")
        proc.wait(timeout=30)
    print("| tool | wall | CPU (user+sys) | process paused (ticker) | paused (pycore's own count) |")
    print("|---|---|---|---|---|")
    for name, rs in res.items():
        med = lambda k: statistics.median(r[k] for r in rs)
        mine = "%.1f ms" % statistics.median(own[name]) if own.get(name) else ""
        print("| %s | %.0f ms | %.0f ms | %.0f ms | %s |" % (name, med(0) * 1e3, med(1) * 1e3, med(2) * 1e3, mine))
    print("\n%d runs each, alternating, on one process; %d parked threads + a ticker, ~%d MiB heap; %s; load average %s" % (
        a.n, a.threads, a.heap_mb, subprocess.run([a.python, "-VV"], capture_output=True, text=True).stdout.strip(), loadavg()))
    for c in checks:
        print("- " + c)
    shutil.rmtree(work)


main()
