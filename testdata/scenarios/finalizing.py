# -*- coding: utf-8 -*-
"""finalizing.py: the process dies while the interpreter is shutting down.

Usage: python finalizing.py ORACLE_PATH abort

The module's last global is a Finalizer whose __del__ runs when the interpreter
clears __main__'s globals during Py_Finalize, after the runtime has been marked
as finalizing; it calls os.abort(). By then most modules are torn down, so the
oracle is written before the module ends, predicting the one Python frame the
main thread will have: Finalizer.__del__ at the CORE-POINT line.
"""

import json
import os
import sys
import threading

import pycore_oracle as oracle


class Finalizer(object):
    def __del__(self, abort=os.abort):
        abort()  # CORE-POINT


def main():
    path, mode = oracle.parse_args(("abort",))
    code = Finalizer.__del__.__code__
    line = min(oracle.marked_lines(code.co_filename, oracle.CORE_POINT))
    me = threading.current_thread()
    frame = {"file": code.co_filename, "function": code.co_name,
             "qualname": getattr(code, "co_qualname", ""), "line": line}
    doc = {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "pid": os.getpid(),
        "crashed": me.ident,
        "mode": mode,
        "signal": 6,
        "scenario": "finalizing.py",
        "finalizing": True,
        "threads": [{"ident": me.ident, "native_id": getattr(me, "native_id", 0) or 0,
                     # threading's objects are being torn down by then: no name to expect.
                     "name": "", "main": True, "holds_gil": oracle.gil_enabled(), "frames": [frame]}],
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.rename(tmp, path)


main()
keep_until_shutdown = Finalizer()
