# -*- coding: utf-8 -*-
"""native_segv_parse.py: the main thread segfaults in libnatcrash (a C library called
through ctypes), 3 C calls deep, with faulthandler enabled.

Usage: python native_segv_parse.py ORACLE_PATH abort  (kernel cores only)

native_segv_load.py reaches the same C bug from other Python code, in a worker thread,
without faulthandler: pycore report must put both in one group.
"""

import ctypes
import faulthandler
import os
import time

import pycore_oracle as oracle

LIB = ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libnatcrash.so"))
LIB.nat_crash_outer.argtypes = [ctypes.c_void_p]


def parse_header(oracle_path, record):
    oracle.write_oracle(oracle_path, "abort", signal=11, crashed=True)
    LIB.nat_crash_outer(record)  # CORE-POINT


def parse(oracle_path):
    parse_header(oracle_path, None)


def idle(ev):
    ev.set()
    time.sleep(3600)  # PARK


def main():
    oracle_path, _ = oracle.parse_args(("abort",))
    oracle.wait_events(oracle.start([("idle", idle, ())]), "native_segv_parse.py")
    faulthandler.enable()
    parse(oracle_path)


if __name__ == "__main__":
    main()
