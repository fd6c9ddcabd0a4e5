"""The program behind testdata/sample: a small service whose worker thread
crashes in C code while other threads wait. make.sh runs it; before it dies it
writes what its threads were doing (sample.oracle.json), which the test of the
shipped sample compares with pycore's answer.

    python3 sample.py ORACLE_PATH
"""
import ctypes
import inspect
import json
import os
import sys
import threading
import time

ready = []


def record(path, crashing):
    """Write every thread's stack as the oracle; the crashing thread's own
    stack is taken at the line that will crash (marked CRASH)."""
    crash_line = [n for n, line in enumerate(open(__file__, encoding="utf-8"), 1) if line.rstrip().endswith("#" + " CRASH")][0]
    threads = []
    for t in threading.enumerate():
        f = sys._current_frames()[t.ident]
        frames = []
        if t.ident == crashing:
            # ctypes.string_at is Python code calling the C function that crashes.
            co = ctypes.string_at.__code__
            src, first = inspect.getsourcelines(ctypes.string_at)
            line = first + [n for n, text in enumerate(src) if "_string_at(" in text and "def " not in text][0]
            frames.append({"file": co.co_filename, "function": co.co_name,
                           "qualname": getattr(co, "co_qualname", ""), "line": line})
            f = f.f_back  # skip record() itself
            frames.append({"file": f.f_code.co_filename, "function": f.f_code.co_name,
                           "qualname": getattr(f.f_code, "co_qualname", ""), "line": crash_line})
            f = f.f_back
        while f is not None:
            frames.append({"file": f.f_code.co_filename, "function": f.f_code.co_name,
                           "qualname": getattr(f.f_code, "co_qualname", ""), "line": f.f_lineno})
            f = f.f_back
        threads.append({"ident": t.ident, "name": t.name, "native_id": t.native_id, "frames": frames})
    tmp = path + ".tmp"
    with open(tmp, "w") as out:
        json.dump({"version": "%d.%d.%d" % sys.version_info[:3], "crashed": crashing, "threads": threads}, out, indent=1)
    os.rename(tmp, path)


class RequestHandler:
    def handle(self, ev):
        ev.set()
        time.sleep(3600)


def poller(ev):
    ev.set()
    time.sleep(3600)


class Parser:
    def parse(self, payload, oracle):
        for ev in ready:
            ev.wait()
        time.sleep(0.2)
        record(oracle, threading.get_ident())
        return ctypes.string_at(payload)  # CRASH


def worker(oracle):
    Parser().parse(0, oracle)


def main(oracle):
    for name, target in (("handler", lambda ev: RequestHandler().handle(ev)), ("poller", poller)):
        ev = threading.Event()
        ready.append(ev)
        threading.Thread(target=target, args=(ev,), name=name, daemon=True).start()
    w = threading.Thread(target=worker, args=(oracle,), name="worker")
    w.start()
    w.join()


if __name__ == "__main__":
    main(sys.argv[1])
