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

TARGET = r'''
import sys, threading, time
STOP = False
GAP = [0.0]
def ticker():
    last = time.monotonic()
    while not STOP:
        time.sleep(0.001)
        now = time.monotonic()
        GAP[0] = max(GAP[0], now - last)
        last = now
def parked(depth):
    if depth:
        return parked(depth - 1)
    while not STOP:
        time.sleep(0.05)
heap = [str(i) * 8 for i in range(%(objs)d)]
threads = [threading.Thread(target=parked, args=(20,), daemon=True) for _ in range(%(threads)d)]
threads.append(threading.Thread(target=ticker, daemon=True))
for t in threads:
    t.start()
print("ready", flush=True)
for line in sys.stdin:
    if line.startswith("reset"):
        GAP[0] = 0.0
        print("ok", flush=True)
    elif line.startswith("gap"):
        print("%%.6f" %% GAP[0], flush=True)
    else:
        break
STOP = True
'''


def timed(argv):
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if status != 0:
        sys.exit("gcore.py: %s failed (%d):\n%s" % (" ".join(argv), status, err))
    return wall, ru.ru_utime + ru.ru_stime, err


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
    def start():
        proc = subprocess.Popen([a.python, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if proc.stdout.readline().strip() != "ready":
            sys.exit("gcore.py: the target did not start")
        return proc

    def ask(proc, cmd):
        proc.stdin.write(cmd + "\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

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
            proc = start()
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
        " ".join(open("/proc/loadavg").read().split()[:3])))
    shutil.rmtree(work)


main()
