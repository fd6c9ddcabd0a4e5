"""live.py: a process pycore reads while it runs (e2e/live_test.go).

Usage: python live.py ORACLE_PATH
Workers park at "# PARK" lines, the main thread writes the oracle, marks it
ready and waits at its "# CORE-POINT" line until SIGUSR1. Then every thread
computes something, the main thread prints "result N" and exits 0: proof
that the process was left running after the read. Every wait is bounded.
"""

import os
import signal
import sys
import threading
import time

import pycore_oracle as oracle

STATE = {"go": False}
DEADLINE = time.time() + 120
RESULTS = {}


def worker(i, ev):
    ev.set()
    while not STATE["go"] and time.time() < DEADLINE: time.sleep(0.02)  # PARK
    RESULTS[i] = sum(range(1000 * (i + 1)))


def on_usr1(signum, frame):
    STATE["go"] = True


def main():
    oracle_path = sys.argv[1]
    signal.signal(signal.SIGUSR1, on_usr1)
    events = oracle.start([("worker-%d" % i, worker, (i,)) for i in range(3)])
    oracle.wait_events(events, "live.py")
    oracle.write_oracle(oracle_path, "wait")
    oracle.mark_ready(oracle_path)
    while not STATE["go"] and time.time() < DEADLINE: time.sleep(0.02)  # CORE-POINT
    if not STATE["go"]:
        oracle.fail("no SIGUSR1 within the deadline")
    for t in threading.enumerate():
        if t is not threading.current_thread():
            t.join(30)
    want = sum(sum(range(1000 * (i + 1))) for i in range(3))
    got = sum(RESULTS.values())
    if got != want:
        oracle.fail("workers computed %d, want %d" % (got, want))
    sys.stdout.write("result %d\n" % got)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
