# -*- coding: utf-8 -*-
"""callback_abort.py: an exception raised in a ctypes callback, made fatal.

Usage: python callback_abort.py ORACLE_PATH abort  (kernel cores only)

The main thread sorts with libc's qsort and a Python comparison function called back from
C. The comparison raises (KeyError); the exception cannot cross qsort's C frames, so ctypes
reports it through sys.unraisablehook (3.8+), which this program, like services that want
such errors to be fatal, set to abort. The core's crashed thread is in the hook, called
from the C callback, below sort_records (see README.md).
"""

import ctypes
import os
import sys
import time

import pycore_oracle as oracle

ORACLE_PATH = None
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
PRIORITY = {3: 0, 1: 1}  # 2 is missing: comparing it raises KeyError


def by_priority(a, b):
    return PRIORITY[a[0]] - PRIORITY[b[0]]


def abort_on_unraisable(unraisable):
    oracle.write_oracle(ORACLE_PATH, "abort", signal=6, crashed=True, holds_gil=True)
    os.abort()  # CORE-POINT


def sort_records(values):
    arr = (ctypes.c_int * len(values))(*values)
    libc = ctypes.CDLL(None)
    libc.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, CMP]
    libc.qsort.restype = None
    libc.qsort(arr, len(arr), ctypes.sizeof(ctypes.c_int), CMP(by_priority))
    oracle.fail("qsort returned: the unraisable hook did not abort")


def idle(ev):
    ev.set()
    time.sleep(3600)  # PARK


def main():
    global ORACLE_PATH
    ORACLE_PATH, _ = oracle.parse_args(("abort",))
    oracle.wait_events(oracle.start([("idle", idle, ())]), "callback_abort.py")
    sys.unraisablehook = abort_on_unraisable
    sort_records([3, 2, 1])


if __name__ == "__main__":
    main()
