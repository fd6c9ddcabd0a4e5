"""small.py: a small core of the benchmark: four threads a few frames deep, then the main
thread aborts (kernel core) or waits to be dumped (gcore).

Usage: python small.py READY_FILE {abort|wait}
Python 3.6+, standard library only.
"""

import os
import sys
import threading
import time


def leaf(ready, go):
    ready.release()
    go.wait()  # parked


def middle(n, ready, go):
    if n == 0:
        return leaf(ready, go)
    return middle(n - 1, ready, go)


def main():
    ready_file, mode = sys.argv[1], sys.argv[2]
    ready, go = threading.Semaphore(0), threading.Event()
    for i in range(4):
        threading.Thread(target=middle, args=(3 + i, ready, go), daemon=True).start()
    for _ in range(4):
        if not ready.acquire(timeout=60):
            sys.exit("small.py: workers did not park")
    time.sleep(0.1)
    with open(ready_file, "w") as f:
        f.write("%d\n" % os.getpid())
    if mode == "abort":
        os.abort()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
