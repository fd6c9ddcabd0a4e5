# -*- coding: utf-8 -*-
"""sig_segv.py: a worker reads an unmapped address through ctypes while others park.

Usage: python sig_segv.py ORACLE_PATH abort  (kernel cores only)

The worker "faulter" starts first and another worker after it, so CPython lists the
faulter neither first nor last. Before reading, it writes the address it reads to
ORACLE_PATH.addr (hex): SIGSEGV SEGV_MAPERR at that address.
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


# Far below where the kernel places mappings (top down from 0x7f...) and far above the
# program and its brk heap (0x400000 or 0x55...): nothing maps it. Page-aligned, so that
# strlen's aligned vector loads fault at this very address.
FAULT_ADDR = 0xDEAD0000


def unmapped_page():
    """FAULT_ADDR, checked against /proc/self/maps."""
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = [int(x, 16) for x in line.split()[0].split("-")]
            if lo <= FAULT_ADDR < hi:
                oracle.fail("%#x is mapped: %s" % (FAULT_ADDR, line.strip()))
    return FAULT_ADDR


def fault(oracle_path, others_parked):
    if not others_parked.wait(oracle.TIMEOUT):
        oracle.fail("the other threads did not park")
    addr = unmapped_page()
    with open(oracle_path + ".addr", "w") as f:
        f.write("%#x\n" % addr)
    oracle.write_oracle(oracle_path, "abort", signal=11, crashed=True, holds_gil=True, inner=[string_at_record()])
    ctypes.string_at(addr)  # CORE-POINT


def faulter(oracle_path, others_parked):
    fault(oracle_path, others_parked)


def park(ev):
    ev.set()
    time.sleep(3600)  # PARK


def park_main(ev):
    ev.set()
    while True:
        time.sleep(3600)  # PARK


def main():
    oracle_path, _ = oracle.parse_args(("abort",))
    others_parked = threading.Event()
    t = threading.Thread(target=faulter, name="faulter", args=(oracle_path, others_parked))
    t.daemon = True
    t.start()
    oracle.wait_events(oracle.start([("parked", park, ())]), "sig_segv.py")
    park_main(others_parked)


if __name__ == "__main__":
    main()
