# -*- coding: utf-8 -*-
"""locals.py: threads parked in frames holding known arguments and local variables.

Usage: python locals.py ORACLE_PATH {abort|wait}
  abort: write the oracles, then os.abort() in the main thread (kernel core).
  wait:  write the oracles, create ORACLE_PATH.ready and sleep in the main thread (gcore).

Besides the usual oracle (pycore_oracle.py) it writes ORACLE_PATH + ".locals.json":
{"threads": {IDENT: [FRAME, ...]}} with every thread's frames innermost first, each
{"file", "function", "line", "locals": [LOCAL, ...], "arguments": [NAME, ...]} (the
parameters inspect.getargs() reads off the code, in signature order) and each local
{"name", "kind": "local"|"cell"|"free", "argument": "positional"|...|"",
 "bound", "id", "repr", "type"} in the order of the code object's variables
(co_varnames, then the other co_cellvars, then co_freevars), read from inside the
process just before the core. Frames of module and class bodies list no locals.
"renderable" says whether a core reader can compute the repr (built-in values,
instances of classes without __repr__, threading.Thread objects); the others are
compared by identity and type only.
"""

import inspect
import io
import json
import os
import sys
import threading
import time

import pycore_oracle as oracle

BIG = 7 ** 80


class Plain(object):
    pass


# Strings deliberately never made ready, by id, with the text they hold: the oracle
# takes their repr from here, as repr() of the string itself would make it ready.
UNREADY = {}


def legacy_str(text, make_ready=True):
    """text as a str in the legacy (non-compact) layout, its characters in a buffer of
    their own: what PyUnicode_FromUnicode(NULL, n) made before 3.12 (removed there), made
    ready the way CPython readies it on first use, or left as C code leaves it before
    then (wchar_t characters only). None where the API is gone."""
    if sys.version_info >= (3, 12):
        return None
    import ctypes
    import warnings
    api = ctypes.pythonapi
    new = api.PyUnicode_FromUnicode
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_ssize_t]
    wstr = api.PyUnicode_AsUnicode
    wstr.restype, wstr.argtypes = ctypes.c_void_p, [ctypes.py_object]
    ready = api._PyUnicode_Ready
    ready.restype, ready.argtypes = ctypes.c_int, [ctypes.py_object]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3.10, 3.11: deprecated
        s = new(None, len(text))
    buf = wstr(s)
    wchar = ctypes.sizeof(ctypes.c_wchar)
    for i, c in enumerate(text):
        (ctypes.c_uint32 if wchar == 4 else ctypes.c_uint16).from_address(buf + wchar * i).value = ord(c)
    if not make_ready:
        UNREADY[id(s)] = text
        return s
    if ready(s) != 0 or s != text:
        oracle.fail("legacy_str: %r did not become %r" % (s, text))
    return s


# Every built-in type a local can hold, nested and recursive containers, non-ASCII text.
def many_types(ev):
    none = None
    yes, no = True, False
    small, negative, big, huge = 42, -7, 2 ** 64 + 1, -BIG
    real, tiny, inf = 1.5, 1e-300, float("inf")
    cplx = complex(1, -2)
    text = "hello"
    latin = u"h\xe9llo"
    ucs2 = u"\u51fd\u6570"
    ucs4 = u"\U0001f40d snake"
    quote = "it's"
    raw = b"\x00bytes\xff"
    tup = (1, "two", 3.0)
    single = (1,)
    lst = [1, [2, [3, [4]]]]
    dct = {"a": 1, 2: "b", (3, 4): [5]}
    st = set([1, 2, 3])
    frozen = frozenset(["x"])
    recursive = [1]
    recursive.append(recursive)
    nested = {"list": recursive, "dict": {"k": dct}}
    obj = Plain()
    cls = Plain
    func = many_types
    legacy_latin = legacy_str(u"l\xe9gacy")
    legacy_ucs4 = legacy_str(u"\U0001f40d l\xe9gacy \u2713")
    legacy_unready = legacy_str(u"n\xf6t r\xe9ady \U0001f40d", make_ready=False)
    empty_list, empty_dict, empty_tuple = [], {}, ()
    deleted = "gone"
    del deleted
    ev.set()
    time.sleep(3600)  # PARK
    unbound_later = 1
    return unbound_later


# Every kind of argument: positional, defaults, *args, keyword-only, **kwargs.
def arguments(a, b=2, *rest, c, d=4, **options):
    ev = options["ev"]
    local = a + b
    ev.set()
    time.sleep(3600)  # PARK
    return local


# Cells and free variables: an argument captured by an inner function, a local captured
# by it, and the inner function's own free variables.
def closures(captured_arg, ev):
    captured_local = [captured_arg, "cell"]
    plain = "not captured"

    def inner(x):
        ev.set()
        time.sleep(3600)  # PARK
        return x, captured_arg, captured_local

    return inner(plain)


class Methods(object):
    def method(self, ev, factor=3):
        total = factor * 2
        ev.set()
        time.sleep(3600)  # PARK
        return total


def generator(ev, count):
    for i in range(count):
        state = "yielding %d" % i
        ev.set()
        time.sleep(3600)  # PARK
        yield state


def run_generator(ev):
    for item in generator(ev, 5):
        pass


def recurse(n, path, ev):
    if n == 0:
        ev.set()
        time.sleep(3600)  # PARK
    return recurse(n - 1, path + [n], ev)


def long_values(ev):
    long_str = "x" * 5000
    long_list = list(range(2000))
    deep = [[[[[[["deep"]]]]]]]
    ev.set()
    time.sleep(3600)  # PARK
    return long_str, long_list, deep


# Positional-only arguments are 3.8 syntax: the function is compiled from this string,
# at the lines the string occupies in this file (so its PARK line is one), for 3.6 and
# 3.7 to still run the file.
POSITIONAL_ONLY = """
def positional_only(p, q=2, /, r=3, *, s):
    ev = s
    ev.set()
    time.sleep(3600)  # PARK
    return p, q, r
"""


def positional_only():
    with io.open(__file__, encoding="utf-8") as f:
        first = [n for n, text in enumerate(f, 1) if text.startswith("def positional_only(p")][0]
    namespace = {"time": time}
    exec(compile("\n" * (first - 1) + POSITIONAL_ONLY.lstrip("\n"), __file__, "exec"), namespace)
    return lambda ev: namespace["positional_only"](1, r="arr", s=ev)


# --- the oracle ---

SIMPLE_TYPES = (type(None), bool, int, float, complex, str, bytes, type, type(many_types))


def renderable(v, seen=None):
    """Whether a core reader can compute repr(v): built-in values, containers of them,
    classes, functions, and instances of classes that keep object's repr."""
    seen = set() if seen is None else seen
    if id(v) in seen:
        return True
    t = type(v)
    if t in SIMPLE_TYPES:
        return True
    if t in (list, tuple, set, frozenset):
        seen.add(id(v))
        return all(renderable(x, seen) for x in v)
    if t is dict:
        seen.add(id(v))
        return all(renderable(k, seen) and renderable(x, seen) for k, x in v.items())
    if isinstance(v, threading.Thread) and t.__repr__ is threading.Thread.__repr__:
        return True  # Thread.__repr__ reads the instance's attributes only
    return t.__repr__ is object.__repr__

CO_OPTIMIZED, CO_VARARGS, CO_VARKEYWORDS = 0x1, 0x4, 0x8


def argument_kinds(code):
    """inspect's kind of each argument, in co_varnames order."""
    posonly = getattr(code, "co_posonlyargcount", 0)
    kinds = ["positional-only"] * posonly
    kinds += ["positional"] * (code.co_argcount - posonly)
    kinds += ["keyword-only"] * code.co_kwonlyargcount
    if code.co_flags & CO_VARARGS:
        kinds.append("var-positional")
    if code.co_flags & CO_VARKEYWORDS:
        kinds.append("var-keyword")
    return kinds


def frame_locals(frame):
    code = frame.f_code
    if not code.co_flags & CO_OPTIMIZED:
        return []
    values = dict(frame.f_locals)
    args = argument_kinds(code)
    cells = set(code.co_cellvars)
    names = [(n, "cell" if n in cells else "local") for n in code.co_varnames]
    names += [(n, "cell") for n in code.co_cellvars if n not in code.co_varnames]
    names += [(n, "free") for n in code.co_freevars]
    out = []
    for i, (name, kind) in enumerate(names):
        rec = {"name": name, "kind": kind, "argument": args[i] if i < len(args) else "", "bound": name in values}
        if name in values:
            v = values[name]
            shown = UNREADY[id(v)] if id(v) in UNREADY else v  # repr(v) would ready it
            rec.update({"id": id(v), "repr": repr(shown), "type": type(v).__name__, "renderable": renderable(v)})
        out.append(rec)
    return out


def signature_names(code):
    """The function's parameters as inspect reads them off its code: positional
    (positional-only included) and keyword-only names, then *args, then **kwargs."""
    if not code.co_flags & CO_OPTIMIZED:
        return []
    args, varargs, varkw = inspect.getargs(code)
    return list(args) + [n for n in (varargs, varkw) if n]


def frames_of(frame):
    out = []
    while frame is not None:
        out.append({"file": frame.f_code.co_filename, "function": frame.f_code.co_name,
                    "line": frame.f_lineno, "locals": frame_locals(frame),
                    "arguments": signature_names(frame.f_code)})
        frame = frame.f_back
    return out


def write_locals(path, caller):
    threads = {}
    me = threading.current_thread().ident
    for ident, frame in sys._current_frames().items():
        if ident != me:
            threads[str(ident)] = frames_of(frame)
    threads[str(me)] = frames_of(caller)
    tmp = path + ".tmp"
    with io.open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps({"threads": threads}, indent=1, ensure_ascii=True))
        f.write(u"\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def finish(oracle_path, mode):
    # The locals oracle comes first: writing the main oracle waits until every other
    # thread is parked, so they are parked now too; finish's own locals stay as they are.
    oracle.stable_snapshot(exclude=(threading.current_thread().ident,))
    write_locals(oracle_path + ".locals.json", sys._getframe())
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode)
        oracle.mark_ready(oracle_path)
        while True:
            time.sleep(3600)  # CORE-POINT


def run_arguments(ev):
    arguments(1, 20, "extra", (3,), c="see", flag=True, ev=ev)


def run_closures(ev):
    closures({"key": "value"}, ev)


def run_method(ev):
    Methods().method(ev)


def run_recursion(ev):
    recurse(5, [], ev)


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    threads = [
        ("many-types", many_types, ()),
        ("arguments", run_arguments, ()),
        ("closures", run_closures, ()),
        ("method", run_method, ()),
        ("generator", run_generator, ()),
        ("recursion", run_recursion, ()),
        ("long-values", long_values, ()),
    ]
    if sys.version_info >= (3, 8):
        threads.append(("positional-only", positional_only(), ()))
    events = oracle.start(threads)
    oracle.wait_events(events, "locals.py")
    finish(oracle_path, mode)


if __name__ == "__main__":
    main()
