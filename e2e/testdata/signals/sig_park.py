# -*- coding: utf-8 -*-
"""sig_park.py: a worker parks, then the main thread ends the process or waits.

Usage: python sig_park.py ORACLE_PATH {abort|wait}
  abort: the main thread calls os.abort() (SIGABRT it sends itself: a crash of the main
         thread, which CPython lists last).
  wait:  the main thread sleeps; the harness dumps it with gcore, or sends it SIGABRT
         from outside (a dump request: no thread crashed).
"""

import os
import time

import pycore_oracle as oracle


def park(ev):
    ev.set()
    time.sleep(3600)  # PARK


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    oracle.wait_events(oracle.start([("parked", park, ())]), "sig_park.py")
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode)
        oracle.mark_ready(oracle_path)
        for _ in range(60):
            time.sleep(3600)  # CORE-POINT


if __name__ == "__main__":
    main()
