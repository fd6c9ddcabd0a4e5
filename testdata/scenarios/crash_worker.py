# -*- coding: utf-8 -*-
"""crash_worker.py: a worker thread segfaults while the other threads are parked.

Usage: python crash_worker.py ORACLE_PATH abort
  The worker "crasher" writes the oracle, then calls ctypes.string_at(0) (SIGSEGV in a
  ctypes call that keeps the GIL: the crasher holds it). Kernel cores only: gcore would
  need the process alive and waiting.

faulthandler is enabled into ORACLE_PATH.faulthandler with all_threads=True: on the crash
CPython writes every thread's stack there itself, a second oracle independent of the JSON.
Keep the threads few and their stacks shallow: faulthandler stops at 100 threads and at
100 frames per thread.
"""

import ctypes
import faulthandler
import linecache
import threading
import time

import pycore_oracle as oracle


def nested_a(ev):
    nested_b(ev)


def nested_b(ev):
    nested_c(ev)


def nested_c(ev):
    ev.set()
    time.sleep(3600)  # PARK


class C(object):
    def m(self, ev):
        ev.set()
        time.sleep(3600)  # PARK


def run_method(ev):
    C().m(ev)


def gen(ev):
    ev.set()
    time.sleep(3600)  # PARK
    yield 1


def run_generator(ev):
    for x in gen(ev):
        pass


def idle(ev):
    ev.set()
    time.sleep(3600)  # PARK


def string_at_record():
    """The frame of ctypes.string_at (a Python function wrapping the C call) as it is when
    the C call inside it faults: at the line that calls _string_at."""
    code = ctypes.string_at.__code__
    lines = sorted(oracle.code_lines(code))
    call = [n for n in lines if "_string_at(" in linecache.getline(code.co_filename, n)]
    return oracle.code_record(code, call[0] if call else lines[-1])


def crash_here(oracle_path, main_parked):
    if not main_parked.wait(oracle.TIMEOUT):
        oracle.fail("the main thread did not park")
    oracle.write_oracle(oracle_path, "abort", signal=11, crashed=True, holds_gil=True, inner=[string_at_record()])
    ctypes.string_at(0)  # CORE-POINT


def crasher(oracle_path, main_parked):
    crash_here(oracle_path, main_parked)


def park_main(ev):
    ev.set()
    while True:
        time.sleep(3600)  # PARK


def main():
    oracle_path, mode = oracle.parse_args(("abort",))
    fh = open(oracle_path + ".faulthandler", "w")
    faulthandler.enable(file=fh, all_threads=True)
    events = oracle.start([
        ("nested", nested_a, ()),
        ("method", run_method, ()),
        ("generator", run_generator, ()),
        ("wörker ✓", idle, ()),
    ])
    oracle.wait_events(events, "crash_worker.py")
    main_parked = threading.Event()
    t = threading.Thread(target=crasher, name="crasher", args=(oracle_path, main_parked))
    t.daemon = True
    t.start()
    park_main(main_parked)


if __name__ == "__main__":
    main()
