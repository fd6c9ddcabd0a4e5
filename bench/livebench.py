"""bench/livebench.py: what bench/gcore.py and bench/live.py share: a target process with
parked threads, a ticker thread that measures the longest pause the process sees, and a
timer that gives the wall and CPU time (wait4) of a command."""
import os, subprocess, sys, time

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
        sys.exit("%s failed (%d):\n%s" % (" ".join(argv), status, err))
    return wall, ru.ru_utime + ru.ru_stime, err




def start(python, script):
    """Start the target; it says ready once its threads run."""
    proc = subprocess.Popen([python, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        sys.exit("the target did not start")
    return proc


def ask(proc, cmd):
    """Send the target one command (reset, gap, stop) and read its answer."""
    proc.stdin.write(cmd + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])
