# -*- coding: utf-8 -*-
# pycore-requires: 3.8
"""subinterpreters.py: a thread runs code in a subinterpreter and parks there.

Usage: python subinterpreters.py ORACLE_PATH {abort|wait}

The "runner" thread creates an interpreter and calls run_string() on it: the
same OS thread then has two thread states, one per interpreter. In the main
interpreter its stack stops at the run_string() call; in the subinterpreter
it runs this very module's sub_main(), which records its own stack (the
subinterpreter cannot see the main one's, nor can the main one tell the two
thread states apart) and parks. The main thread writes the oracle with both.
"""

import json
import os
import sys
import threading
import time

try:
    import _interpreters as interpreters  # 3.13+
except ImportError:
    import _xxsubinterpreters as interpreters  # 3.8-3.12

import pycore_oracle as oracle


def sub_main(path, interp_id):
    """Runs inside the subinterpreter: record this thread's stack there, then park."""
    frame = sys._getframe()
    park = min(n for n in oracle.marked_lines(__file__, oracle.PARK) if n > frame.f_lineno)
    frames = [oracle.frame_record(frame, park)] + oracle.stack(frame.f_back)
    me = threading.current_thread()
    record = {"ident": threading.get_ident(), "native_id": getattr(me, "native_id", 0) or 0,
              "name": "", "main": False, "holds_gil": False, "interp": interp_id, "frames": frames}
    with open(path + ".sub.tmp", "w") as f:
        json.dump(record, f)
    os.rename(path + ".sub.tmp", path + ".sub")
    time.sleep(3600)  # PARK


def runner(path, ev):
    interp = interpreters.create()
    code = "import sys; sys.path.insert(0, %r); import subinterpreters; subinterpreters.sub_main(%r, %d)" % (
        os.path.dirname(os.path.abspath(__file__)), path, int(interp))
    ev.set()
    interpreters.run_string(interp, code)  # PARK


def finish(path, mode, sub):
    if mode == "abort":
        oracle.write_oracle(path, mode, signal=6, crashed=True, holds_gil=True, extra=[sub])
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(path, mode, extra=[sub])
        oracle.mark_ready(path)
        while True:
            time.sleep(3600)  # CORE-POINT


def main():
    path, mode = oracle.parse_args(("abort", "wait"))
    events = oracle.start([("runner", runner, (path,))])
    oracle.wait_events(events, "subinterpreters.py")
    deadline = time.time() + oracle.TIMEOUT
    while not os.path.exists(path + ".sub"):
        if time.time() > deadline:
            oracle.fail("the subinterpreter did not park")
        time.sleep(0.02)
    with open(path + ".sub") as f:
        sub = json.load(f)
    finish(path, mode, sub)


if __name__ == "__main__":
    main()
