# -*- coding: utf-8 -*-
"""stacks.py: threads parked in every kind of Python frame a stack walker must get right.

Usage: python stacks.py ORACLE_PATH {abort|wait}
  abort: write the oracle, then os.abort() in the main thread (SIGABRT, kernel core; the
         main thread crashed and holds the GIL).
  wait:  write the oracle, create ORACLE_PATH.ready and sleep in the main thread (the
         harness runs gcore; nobody holds the GIL).

Every worker sets its Event right before its "# PARK" line. Keep each call on one line:
the oracle records the line of the call, and so does a core.
"""

import asyncio
import os
import sys
import threading
import time

import pycore_oracle as oracle

RECURSION_DEPTH = 150
EXTRA_THREADS = 20


# Nested plain functions, four deep.
def nested_a(ev):
    nested_b(ev)


def nested_b(ev):
    nested_c(ev)


def nested_c(ev):
    nested_d(ev)


def nested_d(ev):
    ev.set()
    time.sleep(3600)  # PARK


class C(object):
    def m(self, ev):
        ev.set()
        time.sleep(3600)  # PARK


def run_method(ev):
    C().m(ev)


class Outer(object):
    class Inner(object):
        def m(self, ev):
            ev.set()
            time.sleep(3600)  # PARK


def run_nested_class(ev):
    Outer.Inner().m(ev)


def outer(ev):
    def inner():
        ev.set()
        time.sleep(3600)  # PARK

    inner()


parked_lambda = lambda ev: (ev.set(), time.sleep(3600))  # PARK


def gen(ev):
    ev.set()
    time.sleep(3600)  # PARK
    yield 1


def run_generator(ev):
    for x in gen(ev):
        pass


async def coro_leaf(ev):
    ev.set()
    time.sleep(3600)  # PARK


async def coro_mid(ev):
    await coro_leaf(ev)


async def coro_top(ev):
    await coro_mid(ev)


def run_coroutine(ev):
    if hasattr(asyncio, "run"):
        asyncio.run(coro_top(ev))
    else:  # 3.6 has no asyncio.run
        asyncio.new_event_loop().run_until_complete(coro_top(ev))


def run_sorted(ev):
    def sleepy_key(x):
        ev.set()
        time.sleep(3600)  # PARK
        return x

    sorted([3, 1, 2], key=sleepy_key)


def sleepy_map(ev):
    def f(x):
        ev.set()
        time.sleep(3600)  # PARK
        return x

    list(map(f, [1, 2, 3]))


def recurse(n, ev):
    if n == 0:
        ev.set()
        time.sleep(3600)  # PARK
    return recurse(n - 1, ev)


def run_recursion(ev):
    recurse(RECURSION_DEPTH, ev)


def naïve_función_ß(ev):
    ev.set()
    time.sleep(3600)  # PARK


class Ünïcödé(object):
    def método(self, ev):
        ev.set()
        time.sleep(3600)  # PARK


def run_unicode_class(ev):
    Ünïcödé().método(ev)


# Identifiers whose str objects use 2 and 4 bytes per character (UCS2, UCS4).
def 函数_ucs2(ev):
    ev.set()
    time.sleep(3600)  # PARK


def 𠀀_ucs4(ev):
    ev.set()
    time.sleep(3600)  # PARK


def custom(ev):
    ev.set()
    time.sleep(3600)  # PARK


def idle(i, ev):
    ev.set()
    time.sleep(3600)  # PARK


def finish(oracle_path, mode):
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode)
        oracle.mark_ready(oracle_path)
        while True:
            time.sleep(3600)  # CORE-POINT


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    threads = [
        ("nested", nested_a, ()),
        ("method", run_method, ()),
        ("nested-class", run_nested_class, ()),
        ("closure", outer, ()),
        ("lambda", parked_lambda, ()),
        ("generator", run_generator, ()),
        ("coroutine", run_coroutine, ()),
        ("sorted-key", run_sorted, ()),
        ("map", sleepy_map, ()),
        ("recursion", run_recursion, ()),
        ("unicode-function", naïve_función_ß, ()),
        ("unicode-class", run_unicode_class, ()),
        ("ucs2-function", 函数_ucs2, ()),
        ("ucs4-function", 𠀀_ucs4, ()),
        ("custom nâme ✓", custom, ()),
    ]
    for i in range(EXTRA_THREADS):
        threads.append(("extra-%02d" % i, idle, (i,)))
    events = oracle.start(threads)
    oracle.wait_events(events, "stacks.py")
    finish(oracle_path, mode)


if __name__ == "__main__":
    main()
