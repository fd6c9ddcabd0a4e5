# -*- coding: utf-8 -*-
"""native_abort_check.py: the main thread calls libnatcrash's nat_check, whose failed
consistency check calls abort() 2 C calls deep (SIGABRT), with faulthandler enabled.

Usage: python native_abort_check.py ORACLE_PATH abort  (kernel cores only)
"""

import ctypes
import faulthandler
import os
import time

import pycore_oracle as oracle

LIB = ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libnatcrash.so"))
LIB.nat_check.argtypes = [ctypes.c_long]


def validate(oracle_path, count):
    oracle.write_oracle(oracle_path, "abort", signal=6, crashed=True)
    LIB.nat_check(count)  # CORE-POINT


def idle(ev):
    ev.set()
    time.sleep(3600)  # PARK


def main():
    oracle_path, _ = oracle.parse_args(("abort",))
    oracle.wait_events(oracle.start([("idle", idle, ())]), "native_abort_check.py")
    faulthandler.enable()
    validate(oracle_path, 1)


if __name__ == "__main__":
    main()
