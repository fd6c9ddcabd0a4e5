"""live.py: a process pycore reads while it runs (e2e/live_test.go).

Usage: python live.py ORACLE_PATH
Workers park at "# PARK" lines, the main thread writes the oracle, marks it
ready and waits at its "# CORE-POINT" line until SIGUSR1. Then every thread
computes something, the main thread prints "result N" and exits 0: proof
that the process was left running after the read. Every wait is bounded,
and none wakes before its end: a thread that woke to poll would hold the
GIL now and then, and a read at that moment would differ from the oracle.
"""

import os
import select
import signal
import sys
import threading

import pycore_oracle as oracle

WAIT = 120
RESULTS = {}
# SIGUSR1 is blocked in every thread (they inherit the mask) and taken by
# sigtimedwait in the main thread.
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
GO_R, GO_W = os.pipe()


def worker(i, ev):
    ev.set()
    select.select([GO_R], [], [], WAIT)  # PARK
    RESULTS[i] = sum(range(1000 * (i + 1)))


def main():
    oracle_path = sys.argv[1]
    events = oracle.start([("worker-%d" % i, worker, (i,)) for i in range(3)])
    oracle.wait_events(events, "live.py")
    oracle.write_oracle(oracle_path, "wait")
    oracle.mark_ready(oracle_path)
    got = signal.sigtimedwait([signal.SIGUSR1], WAIT)  # CORE-POINT
    if got is None:
        oracle.fail("no SIGUSR1 within the deadline")
    os.write(GO_W, b"go")
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
