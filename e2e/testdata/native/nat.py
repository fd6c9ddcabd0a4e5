"""nat.py LIBNAT READY [crash|crash-nofh|crash-handler|bus|ill|fpe[-fh]]: threads blocked in C (libnat) for
pycore threads --native tests. Writes READY once every thread is parked, then sleeps until
killed, or segfaults in libnat 3 calls deep: "crash" with faulthandler enabled,
"crash-nofh" with no handler, "crash-handler" with libnat's own SA_SIGINFO handler (both
handlers re-raise). Before crashing it writes READY.fault: the address it stores to and
nat_crash_inner's address, as JSON. "bus", "ill" and "fpe" die of SIGBUS (a store past a
mapped file's end), SIGILL (ud2) or SIGFPE (divide by zero) in libnat 3 calls deep, with
faulthandler enabled when "-fh" follows."""
import ctypes
import faulthandler
import json
import sys
import threading
import time

lib = ctypes.CDLL(sys.argv[1])
CB = ctypes.CFUNCTYPE(None, ctypes.c_int)
parked = []


def blocker():
    parked.append("blocker")
    lib.nat_block_outer(1)


def on_callback(n):
    parked.append("callback")
    time.sleep(3600)


cb = CB(on_callback)


def caller():
    lib.nat_cb_outer(cb, 1)


def main():
    lib.nat_start_c_thread()
    for target in (blocker, caller):
        threading.Thread(target=target, daemon=True).start()
    while len(parked) < 2:
        time.sleep(0.01)
    time.sleep(0.3)  # into poll() and sleep()
    # The oracle of the Python stacks: every thread's function names,
    # innermost first, as sys._current_frames() has them (they stay so while
    # the threads are parked).
    stacks = {}
    for ident, frame in sys._current_frames().items():
        names = []
        while frame is not None:
            names.append(frame.f_code.co_name)
            frame = frame.f_back
        stacks[str(ident)] = names
    with open(sys.argv[2] + ".frames", "w") as f:
        json.dump(stacks, f)
    with open(sys.argv[2], "w") as f:
        f.write("ready\n")
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    kind = mode.split("-")[0]
    if kind in ("bus", "ill", "fpe"):
        if mode.endswith("-fh"):
            faulthandler.enable()
        lib.nat_fault_outer(("bus", "ill", "fpe").index(kind), (sys.argv[2] + ".mapped").encode())
    if mode.startswith("crash"):
        if mode == "crash":
            faulthandler.enable()
        elif mode == "crash-handler" and lib.nat_install_handler() != 0:
            sys.exit("sigaction failed")

        class Rec(ctypes.Structure):  # libnat.c's struct rec
            _fields_ = [("pad", ctypes.c_long * 2), ("v", ctypes.c_long)]

        fault = {"address": Rec.v.offset,  # nat_crash_outer passes NULL
                 "function": ctypes.cast(lib.nat_crash_inner, ctypes.c_void_p).value}
        with open(sys.argv[2] + ".fault", "w") as f:
            json.dump(fault, f)
        lib.nat_crash_outer()
    time.sleep(3600)


main()
