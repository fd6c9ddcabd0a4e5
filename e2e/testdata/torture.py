"""torture.py: a busy program for snapshots at random moments (e2e/torture_test.go).

Usage: python torture.py WORKDIR

Threads start and exit all the time, cyclic garbage is made and collected, recursion
grows and unwinds, generators and coroutines are stepped, and exceptions are raised and
caught; nothing waits for the snapshots. Once WORKDIR/finish exists the workers stop
and the program exits; while the interpreter finalizes, an object's __del__ keeps
recursing until WORKDIR/done exists (or 60 s pass), so snapshots catch finalization too.

Before it is ready (WORKDIR/ready) it writes WORKDIR/codes.json: for every code object
of this file, its name, first line and last line, the oracle of which lines a frame of
that code can be on.
"""

import dis
import gc
import json
import os
import random
import sys
import threading
import time

WORKDIR = sys.argv[1]
STOP = threading.Event()
MODULE_CODE = sys._getframe().f_code


def recurse(n, depth):
    if n < depth:
        return recurse(n + 1, depth) + 1
    squares = [i * i for i in range(40)]
    return len(squares)


def recursion_worker(seed):
    rng = random.Random(seed)
    while not STOP.is_set():
        recurse(0, rng.randint(1, 300))


class Node(object):
    def __init__(self, parent):
        self.parent = parent
        self.children = [self]


def garbage_worker():
    while not STOP.is_set():
        root = Node(None)
        for _ in range(300):
            root = Node(root)
        root = None
        gc.collect()


def short_lived(i):
    total = 0
    for k in range(2000 + i):
        total += k * k
    time.sleep(0.002)
    return total


def spawner():
    while not STOP.is_set():
        threads = [threading.Thread(target=short_lived, args=(i,), name="short-%d" % i) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def counter(limit):
    for i in range(limit):
        yield i * 2


async def leaf(x):
    return x + 1


async def chain(depth):
    if depth == 0:
        return await leaf(depth)
    return await chain(depth - 1)


def generator_worker():
    while not STOP.is_set():
        sum(counter(500))
        coro = chain(20)
        try:
            coro.send(None)
        except StopIteration:
            pass


def raiser(n):
    if n == 0:
        raise KeyError("deep")
    return raiser(n - 1)


def exception_worker():
    while not STOP.is_set():
        try:
            raiser(30)
        except KeyError:
            pass


class SlowFinalizer(object):
    """Collected while the interpreter finalizes: recurses there until told to stop."""

    def __del__(self, exists=os.path.exists, done=os.path.join(WORKDIR, "done"), clock=time.time,
                sleep=time.sleep):
        # Module globals may be gone by now: nothing here looks one up.
        def spin(n):
            if n:
                return spin(n - 1) + 1
            return 0

        end = clock() + 60
        while not exists(done) and clock() < end:
            spin(40)
            sleep(0.001)


def code_lines(code):
    lines = [line for _, line in dis.findlinestarts(code) if line]
    return min(lines + [code.co_firstlineno]), max(lines + [code.co_firstlineno])


def all_codes(code):
    yield code
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            for inner in all_codes(c):
                yield inner


def write_codes(path):
    out = []
    for code in all_codes(MODULE_CODE):
        first, last = code_lines(code)
        out.append({"name": code.co_name, "qualname": getattr(code, "co_qualname", ""),
                    "first": code.co_firstlineno, "min": first, "last": last})
    with open(path + ".tmp", "w") as f:
        json.dump({"file": MODULE_CODE.co_filename, "codes": out}, f)
    os.rename(path + ".tmp", path)


def main():
    write_codes(os.path.join(WORKDIR, "codes.json"))
    workers = [threading.Thread(target=recursion_worker, args=(i,), name="recursion-%d" % i) for i in range(2)]
    workers += [threading.Thread(target=f, name=f.__name__)
                for f in (garbage_worker, spawner, generator_worker, exception_worker)]
    for w in workers:
        w.daemon = True
        w.start()
    with open(os.path.join(WORKDIR, "ready"), "w"):
        pass
    finish = os.path.join(WORKDIR, "finish")
    deadline = time.time() + 600
    while not os.path.exists(finish) and time.time() < deadline:
        recurse(0, 10)
        time.sleep(0.01)
    # Stop the workers: with threads alive the interpreter may leave this
    # module's globals alone at exit. The finalizer stays reachable from
    # them until the finalizing interpreter clears them.
    STOP.set()
    for w in workers:
        w.join()
    global KEEP
    KEEP = SlowFinalizer()


main()
