# -*- coding: utf-8 -*-
"""native_segv_load.py: a worker thread segfaults in libnatcrash's nat_crash_inner, as
native_segv_parse.py does, but called from other Python code and without faulthandler.

Usage: python native_segv_load.py ORACLE_PATH abort  (kernel cores only)
"""

import ctypes
import os
import threading
import time

import pycore_oracle as oracle

LIB = ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libnatcrash.so"))
LIB.nat_crash_outer.argtypes = [ctypes.c_void_p]


def load_blob(oracle_path, main_parked):
    if not main_parked.wait(oracle.TIMEOUT):
        oracle.fail("the main thread did not park")
    oracle.write_oracle(oracle_path, "abort", signal=11, crashed=True)
    LIB.nat_crash_outer(None)  # CORE-POINT


def loader(oracle_path, main_parked):
    load_blob(oracle_path, main_parked)


def park_main(ev):
    ev.set()
    while True:
        time.sleep(3600)  # PARK


def main():
    oracle_path, _ = oracle.parse_args(("abort",))
    main_parked = threading.Event()
    t = threading.Thread(target=loader, name="loader", args=(oracle_path, main_parked))
    t.daemon = True
    t.start()
    park_main(main_parked)


if __name__ == "__main__":
    main()
