# -*- coding: utf-8 -*-
"""gcstate.py: a core taken while a thread is inside a garbage collection.

Usage: python gcstate.py ORACLE_PATH {abort|wait}  (modes as in stacks.py)

The "collector" thread calls gc.collect(); a gc.callbacks callback parks it at the "start"
phase, so the collection is running (gc's `collecting` flag is set) in that thread when the
core is taken. Automatic collection is disabled and the thresholds are unusual values.

Besides the usual oracle it writes ORACLE_PATH + ".gc.json", recorded from inside:
  "enabled": gc.isenabled(), "thresholds": gc.get_threshold(), "collecting": true,
  "collector": the collecting thread's threading.get_ident(),
  "counts": gc.get_count() taken after the main thread's last other work. In abort mode it
  is the last thing before the CORE-POINT; the tuple gc.get_count() returns is alive at the
  core, so pycore may see counts[0] one higher (when the tuple did not come from a freelist).
"""

import gc
import io
import json
import os
import threading
import time

import pycore_oracle as oracle

THRESHOLDS = (1234, 17, 19)
COLLECTOR = {}


def on_gc(phase, info):
    if phase == "start" and threading.current_thread().name == "collector":
        COLLECTOR["ev"].set()
        time.sleep(3600)  # PARK


def collector(ev):
    COLLECTOR["ev"] = ev
    COLLECTOR["ident"] = threading.get_ident()
    gc.collect()


def record(path):
    doc = {
        "enabled": gc.isenabled(),
        "thresholds": list(gc.get_threshold()),
        "collecting": True,
        "collector": COLLECTOR["ident"],
    }
    with io.open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=1))
        f.flush()
        os.fsync(f.fileno())
    os.rename(path + ".tmp", path)


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    gc.disable()
    gc.set_threshold(*THRESHOLDS)
    gc.callbacks.append(on_gc)
    events = oracle.start([("collector", collector, ())])
    oracle.wait_events(events, "gcstate.py")
    record(oracle_path + ".gc.json")
    counts = os.open(oracle_path + ".gc.counts", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        os.write(counts, b"%d %d %d\n" % gc.get_count())
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode)
        os.write(counts, b"%d %d %d\n" % gc.get_count())
        oracle.mark_ready(oracle_path)
        while True:
            time.sleep(3600)  # CORE-POINT


if __name__ == "__main__":
    main()
