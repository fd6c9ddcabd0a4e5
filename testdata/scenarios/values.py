# -*- coding: utf-8 -*-
"""values.py: one frame whose locals hold one object of each kind pycore renders beyond
the plain built-in types (objects.py has those): built-in functions and methods, bound
methods, frames, code, cells, generators, coroutines, partials, descriptors, ranges,
slices, memoryviews, namespaces, struct sequences, threading.Thread objects, instances
with attributes.

Usage: python values.py ORACLE_PATH {abort|wait}
  abort: write the oracles, then os.abort() inside hold() (kernel core).
  wait:  write the oracles, create ORACLE_PATH.ready and sleep inside hold() (gcore).

Besides the usual oracle (pycore_oracle.py) it writes ORACLE_PATH + ".values.json":
{"function": "hold", "locals": {NAME: {"id": id(obj), "repr": repr(obj),
"type": type(obj).__name__}}, "attrs": {NAME: {ATTR: repr(value)}}} for every local of
hold() (attrs: the instance attributes of the locals that have a __dict__ or slots of
their own). Nothing the locals hold changes between the oracle and the core.
"""

import functools
import io
import json
import os
import sys
import threading
import time
import types

import pycore_oracle as oracle


class Foo(object):
    def bar(self):
        return 1

    def gen_method(self):
        yield 1


class Attrs(object):
    def __init__(self):
        self.an_int = 42
        self.name = "x"
        self.items = [1, 2, 3]


class Slotted(object):
    __slots__ = ("a", "b", "unset")

    def __init__(self):
        self.a = 1
        self.b = "bee"


class BigList(list):
    def m(self):
        return len(self)


class Worker(threading.Thread):
    pass


def plain(*args, **kwargs):
    return args, kwargs


def gen():
    yield 1  # GEN-YIELD
    yield 2


async def amain():
    return 1


async def agen():
    yield 1


def full_cell():
    x = 1

    def f():
        return x

    return f.__closure__[0]


def empty_cell():
    def f():
        return y

    if False:
        y = 1
    return f.__closure__[0]


def worker(ev):
    ev.set()
    time.sleep(3600)  # PARK


def record(oracle_path, values):
    out, attrs = {}, {}
    for name, obj in sorted(values.items()):
        out[name] = {"id": id(obj), "repr": repr(obj), "type": type(obj).__name__}
        d = getattr(obj, "__dict__", None)
        if isinstance(obj, (Attrs, Slotted)):
            a = {}
            if d is not None:
                for k, v in d.items():
                    a[k] = repr(v)
            for s in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, s):
                    a[s] = repr(getattr(obj, s))
            attrs[name] = a
    path = oracle_path + ".values.json"
    with io.open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(json.dumps({"function": "hold", "locals": out, "attrs": attrs},
                           indent=1, ensure_ascii=True, sort_keys=True))
        f.write(u"\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(path + ".tmp", path)


def hold(oracle_path, mode):
    builtin_function = len
    builtin_module_function = os.getpid
    builtin_method = sys.stdout.readlines
    builtin_method_of_type = dict.fromkeys
    builtin_method_of_list = [1, 2].append
    method_wrapper = (12345).__add__
    method_wrapper_str = "s".__str__
    bound_method = Foo().bar
    bound_method_list = BigList(range(100)).m
    bound_builtin = types.MethodType(len, Foo())
    bound_builtin_method = types.MethodType([].append, 7)
    bound_partial = types.MethodType(functools.partial(len), 7)
    frame_caller = sys._getframe(1)
    started = gen()
    next(started)
    frame_generator = started.gi_frame
    code = hold.__code__
    cell = full_cell()
    cell_empty = empty_cell()
    generator = gen()
    generator_method = Foo().gen_method()
    coroutine = amain()
    async_generator = agen()
    partial = functools.partial(plain, 1, "two", k=3)
    partial_noargs = functools.partial(len)
    prop = property(lambda self: 1)
    static = staticmethod(plain)
    klass = classmethod(plain)
    range_step = range(1, 10, 2)
    range_plain = range(5)
    slice_ = slice(1, None, 2)
    memory = memoryview(b"abc")
    memory_released = memoryview(b"x")
    memory_released.release()
    namespace = types.SimpleNamespace(zeta=1, alpha="x", c=[1, 2])
    namespace_empty = types.SimpleNamespace()
    stat = os.stat(__file__)
    flags = sys.flags
    struct_time = time.gmtime(86400 * 365)
    version_info = sys.version_info
    asyncgen_hooks = sys.get_asyncgen_hooks()
    thread_main = threading.main_thread()
    thread_worker = [t for t in threading.enumerate() if t.name == "values-worker"][0]
    thread_initial = threading.Thread(target=plain, name="never-started")
    thread_subclass = Worker(name="sub")
    instance_attrs = Attrs()
    instance_slots = Slotted()
    values = dict(locals())
    del values["oracle_path"], values["mode"]
    record(oracle_path, values)
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
    events = oracle.start([("values-worker", worker, ())])
    oracle.wait_events(events, "values.py")
    hold(oracle_path, mode)


if __name__ == "__main__":
    main()
