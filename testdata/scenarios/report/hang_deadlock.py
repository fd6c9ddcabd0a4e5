# -*- coding: utf-8 -*-
"""hang_deadlock.py: two threads take two locks in opposite orders and deadlock.

Usage: python hang_deadlock.py ORACLE_PATH wait  (gcore cores only)

The main thread holds the accounts lock and waits for the ledger lock, which the worker
holds while it waits for the accounts lock. Both wait with the GIL released, so the core
shows no crashed thread and no GIL holder: the report falls back to the main thread.
"""

import threading

import pycore_oracle as oracle

accounts = threading.Lock()
ledger = threading.Lock()


def reconcile(ev):
    with ledger:
        ev.set()
        accounts.acquire()  # PARK


def transfer(oracle_path):
    with accounts:
        oracle.wait_events(oracle.start([("reconciler", reconcile, ())]), "hang_deadlock.py")
        oracle.write_oracle(oracle_path, "wait")
        oracle.mark_ready(oracle_path)
        ledger.acquire()  # CORE-POINT


def main():
    oracle_path, _ = oracle.parse_args(("wait",))
    transfer(oracle_path)


if __name__ == "__main__":
    main()
