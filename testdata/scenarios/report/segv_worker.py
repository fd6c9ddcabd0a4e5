# -*- coding: utf-8 -*-
"""segv_worker.py: a worker thread segfaults in a ctypes call; the main thread waits.

Usage: python segv_worker.py ORACLE_PATH abort  (kernel cores only)
"""

import ctypes
import linecache
import threading
import time

import pycore_oracle as oracle


def string_at_record():
    """ctypes.string_at's frame as it is when the C call inside it faults."""
    code = ctypes.string_at.__code__
    lines = sorted(oracle.code_lines(code))
    call = [n for n in lines if "_string_at(" in linecache.getline(code.co_filename, n)]
    return oracle.code_record(code, call[0] if call else lines[-1])


def read_page(oracle_path, main_parked):
    if not main_parked.wait(oracle.TIMEOUT):
        oracle.fail("the main thread did not park")
    oracle.write_oracle(oracle_path, "abort", signal=11, crashed=True, holds_gil=True, inner=[string_at_record()])
    ctypes.string_at(0)  # CORE-POINT


def flush_batch(oracle_path, main_parked):
    read_page(oracle_path, main_parked)


def writer(oracle_path, main_parked):
    flush_batch(oracle_path, main_parked)


def park_main(ev):
    ev.set()
    while True:
        time.sleep(3600)  # PARK


def main():
    oracle_path, _ = oracle.parse_args(("abort",))
    main_parked = threading.Event()
    t = threading.Thread(target=writer, name="db-writer", args=(oracle_path, main_parked))
    t.daemon = True
    t.start()
    park_main(main_parked)


if __name__ == "__main__":
    main()
