# -*- coding: utf-8 -*-
"""gilwait.py: threads blocked waiting for the GIL while the main thread keeps it.

Usage: python gilwait.py ORACLE_PATH {abort|wait}  (modes as in stacks.py)

Three "waiter-N" threads park in os.read() on a pipe (the GIL released). After writing the
oracle, the main thread sets sys.setswitchinterval(1000) and, from then on, only calls libc
through ctypes.PyDLL, which keeps the GIL: it writes three bytes to the pipe, so each waiter
returns from read() and asks for the GIL back, then polls /proc/self/task/TID/syscall until
every waiter is blocked in futex() (202). With a 1000 s interval no waiter asks the main
thread to drop the GIL, so they all still wait, at the os.read line, when the core is taken.

Besides the usual oracle it writes ORACLE_PATH + ".gil.json" (through libc, keeping the
GIL): "holder" the main thread's ident, "waiters" the waiters' kernel thread ids,
"interval_us" 1000 s in microseconds. A free-threaded build has no GIL: it writes
{"no_gil": true} and parks like the other scenarios.
"""

import ctypes
import os
import sys
import threading
import time

import pycore_oracle as oracle

WAITERS = 3
INTERVAL = 1000.0
SYS_GETTID = 186  # x86-64
TIDS = {}


def waiter(r, ev):
    TIDS[threading.current_thread().name] = ctypes.CDLL(None).syscall(SYS_GETTID)
    ev.set()
    os.read(r, 1)  # PARK


def blocked_in_futex(libc, tid, buf):
    """Whether /proc/self/task/TID/syscall says the thread waits in futex(), read with the GIL held."""
    fd = libc.open(b"/proc/self/task/%d/syscall" % tid, os.O_RDONLY, 0)
    if fd < 0:
        oracle.fail("cannot open /proc/self/task/%d/syscall" % tid)
    n = libc.read(fd, buf, len(buf) - 1)
    libc.close(fd)
    return n > 4 and buf.raw[:4] == b"202 "


def write_file(libc, path, data):
    """Write a file through libc (the GIL kept), renamed into place."""
    tmp = path + b".tmp"
    fd = libc.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    if fd < 0 or libc.write(fd, data, len(data)) != len(data) or libc.close(fd) != 0 or libc.rename(tmp, path) != 0:
        oracle.fail("cannot write %r" % path)


def hold_gil_until_waiting(oracle_path):
    """With the GIL held from here on: release the waiters and wait until all block on the GIL."""
    libc = ctypes.PyDLL(None)
    libc.open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    buf = ctypes.create_string_buffer(256)
    tids = sorted(TIDS.values())
    sys.setswitchinterval(INTERVAL)
    if libc.write(PIPE[1], b"x" * WAITERS, WAITERS) != WAITERS:
        oracle.fail("cannot write to the pipe")
    for _ in range(60000):
        if all(blocked_in_futex(libc, tid, buf) for tid in tids):
            break
        libc.usleep(1000)
    else:
        oracle.fail("waiters not blocked in futex() after 60 s")
    doc = '{"holder": %d, "waiters": [%s], "interval_us": %d}\n' % (
        threading.get_ident(), ", ".join(str(t) for t in tids), int(INTERVAL * 1e6))
    write_file(libc, (oracle_path + ".gil.json").encode(), doc.encode())
    return libc


PIPE = os.pipe()


def finish_gil(oracle_path, mode):
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        hold_gil_until_waiting(oracle_path)
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode, holds_gil=True)
        libc = hold_gil_until_waiting(oracle_path)
        write_file(libc, (oracle_path + ".ready").encode(), b"%d\n" % os.getpid())
        while True:
            libc.usleep(1000000)  # CORE-POINT


def finish_no_gil(oracle_path, mode):
    with open(oracle_path + ".gil.json", "w") as f:
        f.write('{"no_gil": true}\n')
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True)
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode)
        oracle.mark_ready(oracle_path)
        while True:
            time.sleep(3600)  # CORE-POINT


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    events = oracle.start([("waiter-%d" % i, waiter, (PIPE[0],)) for i in range(WAITERS)])
    oracle.wait_events(events, "gilwait.py")
    if oracle.gil_enabled():
        finish_gil(oracle_path, mode)
    else:
        finish_no_gil(oracle_path, mode)


if __name__ == "__main__":
    main()
