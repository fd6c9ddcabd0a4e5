# -*- coding: utf-8 -*-
"""abort_main.py: the main thread aborts on a failed consistency check, while handling a
ValueError; a worker idles.

Usage: python abort_main.py ORACLE_PATH abort  (kernel cores only)
"""

import os
import time

import pycore_oracle as oracle


def heartbeat(ev):
    ev.set()
    time.sleep(3600)  # PARK


def check_invariants(oracle_path):
    try:
        int("not-a-number")  # a setting that does not parse
    except ValueError:
        # The check fails while the error is being handled, as services that abort
        # for a core on "impossible" errors do: the report shows the exception.
        oracle.write_oracle(oracle_path, "abort", signal=6, crashed=True, holds_gil=True)
        os.abort()  # CORE-POINT


def load_config(oracle_path):
    check_invariants(oracle_path)


def main():
    oracle_path, _ = oracle.parse_args(("abort",))
    oracle.wait_events(oracle.start([("heartbeat", heartbeat, ())]), "abort_main.py")
    load_config(oracle_path)


if __name__ == "__main__":
    main()
