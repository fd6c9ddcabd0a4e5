#!/usr/bin/env python3
"""bench/gcore.py: pycore gcore against gdb's gcore on the same running process.

Usage: bench/gcore.py [-n RUNS] [--threads N] [--heap-mb M] [--python EXE] [--gdb GDB]
                      [--pycore PYCORE]

Starts a Python process (EXE, default python3) with N parked threads (default 4) and about
M MiB of live objects (default 100), dumps it once, and stops it; RUNS times (default 5)
for each tool, in turn: `pycore gcore PID -o FILE` and `GDB -batch -p PID -ex 'gcore FILE'` (GDB default
gdb). For each it records the wall and CPU time of the dumping command (wait4), the pause
the process saw (the longest gap between ticks of a thread that sleeps 1 ms, reset before
each dump, so it includes scheduling delay on a busy machine), and the core's size
(apparent and on disk). Prints a markdown table of medians. A benchmark, not a test.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

from livebench import TARGET, ask, loadavg, start, timed

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--heap-mb", type=int, default=100)
    ap.add_argument("--python", default="python3")
    ap.add_argument("--gdb", default="gdb")
    ap.add_argument("--pycore", default="pycore")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gcore-bench-")
    script = os.path.join(work, "target.py")
    # One str of 8 digits repeated takes about 60 bytes; plus the list.
    with open(script, "w") as f:
        f.write(TARGET % {"objs": a.heap_mb * (1 << 20) // 70, "threads": a.threads})
    tools = {
        "pycore gcore": lambda pid, out: [a.pycore, "gcore", str(pid), "-o", out],
        "pycore gcore --compress zstd": lambda pid, out: [a.pycore, "gcore", "--compress", "zstd", str(pid), "-o", out],
        "gdb gcore": lambda pid, out: [a.gdb, "-nx", "-batch", "-p", str(pid), "-ex", "gcore " + out],
    }
    res = {name: [] for name in tools}
    # A fresh process for every dump: gdb's gcore reads every page of every
    # mapping, which makes the untouched pages of thread stacks and arenas
    # resident, and a later dump of the same process would copy them too.
    for i in range(a.n):
        for name, argv in tools.items():
            proc = start(a.python, script)
            try:
                out = os.path.join(work, "core")
                ask(proc, "reset")
                wall, cpu, err = timed(argv(proc.pid, out))
                time.sleep(0.05)  # let the ticker see the end of the pause
                gap = float(ask(proc, "gap"))
                st = os.stat(out)
                paused = None
                if "paused " in err:
                    paused = float(err.split("paused ")[1].split()[0])
                res[name].append((wall, cpu, gap, st.st_size, st.st_blocks * 512, paused))
                os.remove(out)
            finally:
                ask(proc, "stop")
                proc.wait(timeout=30)
    mib = 1 << 20
    print("| tool | wall | CPU (user+sys) | process paused (ticker) | paused (pycore's own count) | core size (on disk) |")
    print("|---|---|---|---|---|---|")
    for name, rs in res.items():
        med = lambda k: statistics.median(r[k] for r in rs)
        own = "%.1f ms" % statistics.median(r[5] for r in rs) if rs[0][5] is not None else ""
        print("| %s | %.0f ms | %.0f ms | %.0f ms | %s | %.1f MiB (%.1f MiB) |" % (
            name, med(0) * 1e3, med(1) * 1e3, med(2) * 1e3, own, med(3) / mib, med(4) / mib))
    print("\n%d runs each, alternating; %d parked threads + a ticker, ~%d MiB heap; %s; load average %s" % (
        a.n, a.threads, a.heap_mb, subprocess.run([a.python, "-VV"], capture_output=True, text=True).stdout.strip(),
        loadavg()))
    shutil.rmtree(work)


main()
