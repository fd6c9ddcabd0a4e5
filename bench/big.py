"""big.py: the large core of the benchmark.

THREADS worker threads park at stacks of 50..500 Python frames (spread evenly), a heap of
HEAP_MIB MiB of bytes objects (8000 bytes each, so malloc's heap holds them, not mmap),
then the main thread aborts (kernel core) or waits to be dumped (gcore).

Usage: python big.py READY_FILE {abort|wait} [THREADS] [HEAP_MIB]
Python 3.6+, standard library only.
"""

import os
import sys
import threading
import time

BLOCK = 8000  # below glibc's mmap threshold (128 KiB): lands in the arenas


def descend(n, ready, go):
    if n == 0:
        ready.release()
        go.wait()  # parked
        return 0
    return descend(n - 1, ready, go) + 1


def main():
    ready_file, mode = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    heap_mib = int(sys.argv[4]) if len(sys.argv) > 4 else 1100
    sys.setrecursionlimit(2000)
    threading.stack_size(4 << 20)  # room for 500 C-recursive frames on 3.8-3.10
    heap = [bytes([i & 0xFF]) * BLOCK for i in range(heap_mib * (1 << 20) // BLOCK)]
    ready, go = threading.Semaphore(0), threading.Event()
    for i in range(threads):
        depth = 50 + (450 * i) // max(threads - 1, 1)
        t = threading.Thread(target=descend, args=(depth, ready, go), name="w%03d" % i, daemon=True)
        t.start()
    for _ in range(threads):
        if not ready.acquire(timeout=120):
            sys.exit("big.py: workers did not park")
    time.sleep(0.2)  # let the last worker reach its wait
    with open(ready_file, "w") as f:
        f.write("%d %d %d\n" % (os.getpid(), threads, len(heap)))
    if mode == "abort":
        os.abort()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
