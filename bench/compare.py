#!/usr/bin/env python3
"""bench/compare.py: run commands alternately and print medians of wall and CPU time.

Usage: bench/compare.py [-n RUNS] [-w WARMUP] [--stdout] NAME=CMD [NAME=CMD ...]
CMD is split like a shell would (shlex) but run directly, output to /dev/null.
Each round runs every command once, in turn, so that machine load falls on all of
them alike; the medians of wall time and of CPU time (user+sys of the child, from
wait4) are printed with the ratio to the first command. Exit status is always 0
unless a command fails.
"""
import os, shlex, statistics, sys, time

def run(argv, out):
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY, 0), (os.POSIX_SPAWN_OPEN, 2, out, os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        sys.exit("compare.py: %s exited with status %d" % (" ".join(argv), status))
    return wall, ru.ru_utime + ru.ru_stime

def main():
    args = sys.argv[1:]
    runs, warm = 21, 2
    while args and args[0].startswith("-"):
        if args[0] == "-n":
            runs = int(args[1]); args = args[2:]
        elif args[0] == "-w":
            warm = int(args[1]); args = args[2:]
        else:
            sys.exit(__doc__)
    if not args:
        sys.exit(__doc__)
    cmds = []
    for a in args:
        name, _, cmd = a.partition("=")
        cmds.append((name, shlex.split(cmd)))
    res = {n: [] for n, _ in cmds}
    for i in range(warm + runs):
        for n, argv in cmds:
            r = run(argv, os.devnull)
            if i >= warm:
                res[n].append(r)
    base = None
    print("| command | wall median | CPU median (user+sys) | wall / first | CPU / first |")
    print("|---|---|---|---|---|")
    for n, _ in cmds:
        w = statistics.median(r[0] for r in res[n])
        c = statistics.median(r[1] for r in res[n])
        if base is None:
            base = (w, c)
        print("| %s | %.2f ms | %.2f ms | %.2fx | %.2fx |" % (n, w * 1e3, c * 1e3, w / base[0], c / base[1] if base[1] else 0))
    print("\n%d runs each after %d warm-up, alternating; load average %s" % (runs, warm, " ".join(open("/proc/loadavg").read().split()[:3])))

main()
