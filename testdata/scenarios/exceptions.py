# -*- coding: utf-8 -*-
"""exceptions.py: threads parked inside except blocks, with chained exceptions.

Usage: python exceptions.py ORACLE_PATH {abort|wait}
  abort: write the oracles, then crash the main thread while it raises an exception
         (kernel core, SIGABRT; see crash_while_raising), with a thread waiting for the GIL.
  wait:  write the oracles, create ORACLE_PATH.ready and sleep in the main thread, itself
         inside an except block (gcore).

Besides the usual oracle (pycore_oracle.py) it writes ORACLE_PATH + ".exceptions.json":
{"threads": {IDENT: {"raised": EXC or null, "handled": [EXC, ...]}}, "gil_waiter": IDENT}
where "handled" is what the thread is handling, innermost first (a generator handling an
exception comes before the thread that runs it), and each EXC is
{"type", "message", "traceback": [{"file", "function", "line"}], "cause", "context",
 "suppress_context", "notes", "text"} with "text" the traceback module's own
format_exception() of it. An exception met again in its own chain is {"type", "seen": true}.
Every thread records its exceptions itself before it parks.
"""

try:
    import builtins
except ImportError:  # 2.7
    import __builtin__ as builtins
import io
import json
import os
import sys
import threading
import time
import traceback

import pycore_oracle as oracle

EXPECTED = {}
EXPECTED_LOCK = threading.Lock()
GIL_WAITER = []


class CustomError(Exception):
    pass


class Outer(object):
    class NestedError(LookupError):
        pass


def describe(exc, seen=None):
    seen = set() if seen is None else seen
    if exc is None:
        return None
    t = type(exc)
    name = t.__qualname__
    if t.__module__ not in ("__main__", "builtins"):
        name = t.__module__ + "." + name
    if id(exc) in seen:
        return {"type": name, "seen": True}
    seen.add(id(exc))
    return {
        "type": name,
        "message": str(exc),
        "traceback": [{"file": f[0], "function": f[2], "line": f[1]} for f in traceback.extract_tb(exc.__traceback__)],
        "cause": describe(exc.__cause__, seen),
        "context": describe(exc.__context__, seen),
        "suppress_context": bool(exc.__suppress_context__),
        "notes": list(getattr(exc, "__notes__", [])),
        "text": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def record(handled, raised=None):
    """Record what the calling thread is handling (and raising), innermost first."""
    entry = {"raised": describe(raised), "handled": [describe(e) for e in handled]}
    with EXPECTED_LOCK:
        EXPECTED[str(threading.current_thread().ident)] = entry


def park(ev):
    ev.set()
    time.sleep(3600)  # PARK


def fail_deep(n):
    if n == 0:
        raise KeyError("k")
    fail_deep(n - 1)


# raise ... from ...: an explicit cause, through a traceback three calls deep.
def explicit_cause(ev):
    try:
        try:
            fail_deep(2)
        except KeyError as e:
            raise ValueError("bad value", 42) from e
    except ValueError as handled:
        record([handled])
        park(ev)


# Handlers inside handlers: each exception's context is the one being handled.
def nested_handlers(ev):
    try:
        {}["missing"]
    except KeyError:
        try:
            1 / 0
        except ZeroDivisionError:
            try:
                raise RuntimeError("third")
            except RuntimeError as handled:
                record([handled])
                park(ev)


# raise ... from None: a context that is suppressed.
def suppressed(ev):
    try:
        int("not a number")
    except ValueError:
        try:
            raise TypeError("no context shown") from None
        except TypeError as handled:
            record([handled])
            park(ev)


# Messages as str() makes them: a tuple key, OSError's errno form, non-ASCII text, a
# non-str argument, no argument at all, a nested class; notes (3.11+).
def messages(ev):
    try:
        {}[("tuple", "key")]
    except KeyError:
        try:
            open(u"/nonexistent/d\xedr/file")
        except OSError:
            try:
                err = CustomError(u"\xfcn\xefc\xf6d\xe9 \u2713 \U0001f40d")
                if hasattr(err, "add_note"):
                    err.add_note("first note")
                    err.add_note(u"second n\xf6te")
                raise err
            except CustomError:
                try:
                    raise Outer.NestedError(404)
                except LookupError:
                    try:
                        raise NotImplementedError
                    except NotImplementedError as handled:
                        record([handled])
                        park(ev)


# Messages that builtin classes compute themselves (the UnicodeError family, SyntaxError)
# and how the traceback module prints a SyntaxError: where it points, not its str().
def builtin_messages(ev):
    try:
        b"ab\xff".decode("utf-8")
    except UnicodeDecodeError:
        try:
            b"\xe2\x9c".decode("utf-8")
        except UnicodeDecodeError:
            try:
                (u"x" * 5000 + u"\xe9").encode("ascii")  # past pycore's message bound
            except UnicodeEncodeError:
                try:
                    u"\u2713\u2713 \u0100".encode("latin-1")
                except UnicodeEncodeError:
                    try:
                        raise UnicodeTranslateError(u"ab\U0001f40d", 2, 3, "no mapping")
                    except UnicodeTranslateError:
                        try:
                            compile("x = (1,\n", "/tmp/bad/generated.py", "exec")
                        except SyntaxError:
                            try:
                                raise SyntaxError("no location")
                            except SyntaxError:
                                try:
                                    raise SyntaxError("", ("", 3, None, None))
                                except SyntaxError as handled:
                                    record([handled])
                                    park(ev)


def recurse_fail(n):
    if n == 0:
        raise RecursionError("deep enough")
    recurse_fail(n - 1)


# The same line again and again: Python prints "[Previous line repeated N more times]".
def repeated(ev):
    try:
        recurse_fail(12)
    except RecursionError as handled:
        record([handled])
        park(ev)


# A cycle of contexts, made by hand: each exception is printed once. (3.6-3.9 loop
# forever when an exception is raised while one with a context cycle is handled, as
# the traceback module does internally: bpo-25782, fixed in 3.10.)
def cycle(ev):
    a, b = ValueError("a"), TypeError("b")
    a.__context__, b.__context__ = b, a
    try:
        raise a
    except ValueError as handled:
        record([handled])
        park(ev)


# An exception group (3.11+), as asyncio.TaskGroup and except* make them: members with
# tracebacks, chains and notes of their own, a nested group with more members than
# Python prints (max_group_width, 15) and groups nested deeper than it prints
# (max_group_depth, 10).
def groups(ev):
    EG = getattr(builtins, "ExceptionGroup")

    def fail(i):
        raise ValueError("member %d" % i)

    members = []
    for i in range(2):
        try:
            fail(i)
        except ValueError as e:
            members.append(e)
    try:
        try:
            {}["ctx"]
        except KeyError:
            raise TypeError("with a context")
    except TypeError as e:
        members.append(e)
    try:
        raise EG("wide", [OSError(2, "No such file or directory", "/x")] + [RuntimeError(i) for i in range(17)])
    except EG as e:
        members.append(e)
    deep = ValueError("bottom")
    for i in range(12):
        deep = EG("level %d" % i, [deep])
    members.append(deep)
    noted = IndexError("noted")
    noted.add_note("a note\non two lines")
    members.append(noted)
    members.append(EG("one", [ArithmeticError()]))
    try:
        raise EG("outer", members)
    except EG as handled:
        record([handled])
        park(ev)


def handling_generator(outer, ev):
    try:
        raise LookupError("raised in the generator")
    except LookupError as inner:
        record([inner, outer])
        park(ev)
        yield inner


# A generator handling an exception, run by a thread handling another one: two items on
# the thread's exception stack, the generator's first.
def generator_handler(ev):
    try:
        raise IndexError("the thread's own")
    except IndexError as outer:
        for _ in handling_generator(outer, ev):
            pass


def gil_waiter(ev):
    GIL_WAITER.append(threading.current_thread().ident)
    ev.set()
    while True: time.sleep(0.0005)  # PARK


# --- the main thread ---

_KEEP = []


def doomed(size):
    """A list whose release ends the process: `size` floats, then (released last) an
    object whose type's tp_dealloc is libc's abort(). Releasing the floats keeps the
    GIL busy for tens of milliseconds first, long enough for a waiting thread to ask for
    the GIL. The fake object's header is written as this build lays it out: refcount and
    type (object.__basicsize__ is 16, or 32 with the free-threaded header, whose owner
    thread is this one so that the release takes the local fast path)."""
    import ctypes
    abort = ctypes.cast(ctypes.CDLL(None).abort, ctypes.c_void_p).value
    hdr = object.__basicsize__
    free_threaded = hdr == 32 and not oracle.gil_enabled()
    fake_type = ctypes.create_string_buffer(1024)
    ctypes.c_void_p.from_buffer(fake_type, hdr + 32).value = abort  # tp_dealloc
    if not free_threaded:
        ctypes.c_ssize_t.from_buffer(fake_type, hdr - 16).value = 1 << 30  # never freed
    fake = ctypes.create_string_buffer(64)
    if free_threaded:
        ctypes.c_void_p.from_buffer(fake, 0).value = threading.get_ident()  # ob_tid
        ctypes.c_void_p.from_buffer(fake, 24).value = ctypes.addressof(fake_type)
    else:
        ctypes.c_void_p.from_buffer(fake, hdr - 8).value = ctypes.addressof(fake_type)
    _KEEP.extend([fake_type, fake])
    obj = ctypes.cast(ctypes.addressof(fake), ctypes.py_object).value  # refcount 1
    return [obj] + [float(i) for i in range(size)]


def write_expected(path):
    tmp = path + ".tmp"
    with EXPECTED_LOCK:
        data = {"threads": EXPECTED, "gil_waiter": GIL_WAITER[0] if GIL_WAITER else 0}
        text = json.dumps(data, indent=1, ensure_ascii=True, sort_keys=True)
    with io.open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.write(u"\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def finish(oracle_path, mode):
    try:
        raise KeyError("outer")
    except KeyError as handled:
        if mode == "abort":
            pending = RuntimeError(u"pending: raised while the GIL is held \u2713")
            # What the exception will be once PyErr_SetObject made it current: its
            # context is the exception being handled.
            pending.__context__ = handled
            record([handled], raised=pending)
            write_expected(oracle_path + ".exceptions.json")
            oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
            # PyErr_SetObject makes pending the exception being raised; CPython releases
            # a call's arguments before it unwinds, so the doomed list ends the process
            # with pending in flight (current_exception, or curexc_* before 3.12).
            import ctypes
            set_object = ctypes.pythonapi.PyErr_SetObject
            set_object.restype = None
            set_object(ctypes.py_object(RuntimeError), ctypes.py_object(pending), ctypes.py_object(doomed(2000000)))  # CORE-POINT
            oracle.fail("the doomed list was released without ending the process")
        else:
            record([handled])
            write_expected(oracle_path + ".exceptions.json")
            oracle.write_oracle(oracle_path, mode)
            oracle.mark_ready(oracle_path)
            while True:
                time.sleep(3600)  # CORE-POINT


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    threads = [
        ("explicit-cause", explicit_cause, ()),
        ("nested-handlers", nested_handlers, ()),
        ("suppressed", suppressed, ()),
        ("messages", messages, ()),
        ("builtin-messages", builtin_messages, ()),
        ("repeated", repeated, ()),
        ("generator", generator_handler, ()),
    ]
    if sys.version_info >= (3, 10):
        threads.append(("cycle", cycle, ()))
    if sys.version_info >= (3, 11):
        threads.append(("groups", groups, ()))
    if mode == "abort":
        threads.append(("gil-waiter", gil_waiter, ()))
    events = oracle.start(threads)
    oracle.wait_events(events, "exceptions.py")
    finish(oracle_path, mode)


if __name__ == "__main__":
    main()
