"""bench/livebench.py: what bench/gcore.py and bench/live.py share: a target process with
parked threads, a ticker thread that measures the longest pause the process sees, and a
timer that gives the wall and CPU time (wait4) of a command."""
import os, re, subprocess, sys, time

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


PYSTACK_THREAD = re.compile(r"^Traceback for thread (\d+)")
PYSTACK_FRAME = re.compile(r'^\s+\((Python|C)\) File "(.*)", line (\d+), in (\S+)(.*)$')


def pystack_frames(text):
    """pystack's text output: LWP -> list of (kind, file, line, function, rest), innermost first."""
    out, cur = {}, None
    for line in text.splitlines():
        m = PYSTACK_THREAD.match(line)
        if m:
            cur = out.setdefault(int(m.group(1)), [])
            continue
        m = PYSTACK_FRAME.match(line)
        if m and cur is not None:
            cur.append((m.group(1), m.group(2), int(m.group(3)), m.group(4), m.group(5)))
    for v in out.values():
        v.reverse()
    return out


def pycore_frames(doc):
    """pycore threads --json: LWP -> list of frames (dicts), innermost first."""
    return {t.get("lwp") or t.get("native_thread_id"): t["frames"] for t in doc["threads"]}


def python_frames_diff(name, pystack_text, pycore_doc, skip=()):
    """Lines describing where pystack's and pycore's Python frames differ (empty if they agree),
    and the number of frames compared. Threads whose innermost function is in skip are left out
    (they run while the tools read)."""
    a, b = pystack_frames(pystack_text), pycore_frames(pycore_doc)
    diffs, n = [], 0
    if set(a) != set(b):
        diffs.append("%s: threads: pystack %s, pycore %s" % (name, sorted(a), sorted(b)))
    for lwp in sorted(set(a) & set(b)):
        pa = [(f, l, fn) for k, f, l, fn, _ in a[lwp] if k == "Python"]
        pb = [(f["file"], f["line"], f["function"]) for f in b[lwp] if f.get("kind") == "python"]
        if (pa and pa[0][2] in skip) or (pb and pb[0][2] in skip):
            continue
        n += len(pa)
        if pa != pb:
            i = next((i for i, (x, y) in enumerate(zip(pa, pb)) if x != y), min(len(pa), len(pb)))
            diffs.append("%s: LWP %d: Python frames differ at #%d from the innermost (pystack %d frames, pycore %d): pystack %s, pycore %s"
                         % (name, lwp, i, len(pa), len(pb), pa[i] if i < len(pa) else None, pb[i] if i < len(pb) else None))
    return diffs, n
