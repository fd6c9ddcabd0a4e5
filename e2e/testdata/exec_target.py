"""exec_target.py: a process pycore exec runs a script in (e2e/exec_test.go).

Usage: python exec_target.py DIR [sub]
The main thread and a thread named "worker" run Python code in a loop until
DIR/ran.json (which the injected script writes) or DIR/stop appears, each
bounded by a deadline. DIR/ready.json says the loops run and gives the
worker's native id. A SIGUSR1 handler counts signals and writes DIR/signalled: the
check that runs it also runs any pending remote script. At the end the main
thread prints what it saw and exits 0 (3 if the deadline passed). With
"sub" (3.14+), a subinterpreter exists meanwhile, the newest interpreter and
so the head of the runtime's list: the script must still run in the main one.
"""

import json
import os
import signal
import sys
import threading
import time

DIR = sys.argv[1]
DEADLINE = time.time() + 120
SIGNALS = []
# threading.get_native_id is 3.8+; older versions are only refused.
native_id = getattr(threading, "get_native_id", lambda: -1)


def done():
    return os.path.exists(os.path.join(DIR, "ran.json")) or os.path.exists(os.path.join(DIR, "stop"))


def spin():
    n = 0
    while not done() and time.time() < DEADLINE:
        n += 1
        time.sleep(0.01)
    return n


def on_usr1(signum, frame):
    SIGNALS.append(signum)
    with open(os.path.join(DIR, "signalled"), "w") as f:
        f.write("yes")


def main():
    signal.signal(signal.SIGUSR1, on_usr1)
    started = threading.Event()
    ids = {}

    def worker():
        ids["worker"] = native_id()
        started.set()
        spin()

    sub = None
    if sys.argv[2:] == ["sub"]:
        from concurrent import interpreters
        sub = interpreters.create()
    t = threading.Thread(target=worker, name="worker")
    t.start()
    started.wait(30)
    ready = {"pid": os.getpid(), "main": native_id(), "worker": ids.get("worker")}
    tmp = os.path.join(DIR, "ready.tmp")
    with open(tmp, "w") as f:
        json.dump(ready, f)
    os.replace(tmp, os.path.join(DIR, "ready.json"))
    spin()
    t.join(30)
    if sub is not None:
        sub.close()
    if time.time() >= DEADLINE:
        print("deadline")
        sys.exit(3)
    print("ended ran=%s signals=%d" % (os.path.exists(os.path.join(DIR, "ran.json")), len(SIGNALS)))


main()
