"""nat.py LIBNAT READY [crash]: threads blocked in C (libnat) for pycore threads --native
tests. Writes READY once every thread is parked, then sleeps until killed, or with
"crash" enables faulthandler and segfaults in libnat 3 calls deep."""
import ctypes
import faulthandler
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
    with open(sys.argv[2], "w") as f:
        f.write("ready\n")
    if sys.argv[3:] == ["crash"]:
        faulthandler.enable()
        lib.nat_crash_outer()
    time.sleep(3600)


main()
