"""churn.py: threads that allocate and mutate lists and dicts without pause, for
reading a process whose memory changes under the reader (e2e/live_test.go).
Prints "ready" once they run; exits 0 after it reads a line on stdin, or after
a bounded time."""

import sys
import threading
import time

STOP = {"stop": False}
DEADLINE = time.time() + 300


def churn(seed):
    d = {}
    lst = []
    n = seed
    while not STOP["stop"] and time.time() < DEADLINE:
        n = (n * 1103515245 + 12345) % 2147483648
        key = "k%d" % (n % 512)
        d[key] = [n, str(n), {"n": n}]
        lst.append((key, n))
        if len(lst) > 1000:
            del lst[: n % 900]
        if n % 7 == 0:
            d.pop(key, None)
        if n % 1001 == 0:
            d = dict(d)


threads = [threading.Thread(target=churn, args=(i,), name="churn-%d" % i) for i in range(4)]
for t in threads:
    t.start()
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.readline()
STOP["stop"] = True
for t in threads:
    t.join(30)
sys.stdout.write("done\n")
