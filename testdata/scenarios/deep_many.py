# -*- coding: utf-8 -*-
"""deep_many.py: 100 worker threads, every tenth recursing 300+ frames deep, for load.

Usage: python deep_many.py ORACLE_PATH {abort|wait}  (modes as in stacks.py)
"""

import os
import time

import pycore_oracle as oracle

WORKERS = 100


def depth_of(i):
    """Recursion depth of worker i: 300+ for every tenth worker, shallow for the rest."""
    if i % 10 == 0:
        return 300 + i
    return i % 13


def descend(n, ev):
    if n == 0:
        ev.set()
        time.sleep(3600)  # PARK
    return descend(n - 1, ev)


def worker(i, ev):
    descend(depth_of(i), ev)


def finish(oracle_path, mode):
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode)
        oracle.mark_ready(oracle_path)
        while True:
            time.sleep(3600)  # CORE-POINT


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    events = oracle.start([("deep-%03d" % i, worker, (i,)) for i in range(WORKERS)])
    oracle.wait_events(events, "deep_many.py")
    finish(oracle_path, mode)


if __name__ == "__main__":
    main()
