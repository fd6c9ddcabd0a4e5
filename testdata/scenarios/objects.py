# -*- coding: utf-8 -*-
"""objects.py: globals holding known objects of every built-in type, for the object renderer.

Usage: python objects.py ORACLE_PATH {abort|wait}
  abort: write the oracles, then os.abort() in the main thread (kernel core).
  wait:  write the oracles, create ORACLE_PATH.ready and sleep in the main thread (gcore).

Besides the usual oracle (pycore_oracle.py) it writes ORACLE_PATH + ".objects.json":
{"objects": {NAME: {"id": id(obj), "repr": repr(obj), "type": type(obj).__name__}}}
for every entry of OBJECTS. The objects stay alive and unchanged until the core is taken.
Two named worker threads park too, so that thread names can be checked on these cores.
Right before the core it copies /proc/self/maps to ORACLE_PATH + ".maps" (Linux), the
oracle of `pycore maps`.
"""

import io
import json
import os
import sys
import threading
import time

import pycore_oracle as oracle


class Foo(object):
    pass


class Outer(object):
    class Inner(object):
        pass


class Attrs(object):
    def __init__(self):
        self.alpha = 1
        self.beta = "two"
        self.gamma = [3]


class MyInt(int):
    pass


class MyStr(str):
    pass


class MyList(list):
    pass


class MyDict(dict):
    pass


def plain_function():
    return 1


def make_closure():
    def inner():
        return plain_function

    return inner


def build():
    recursive_list = [1, "x"]
    recursive_list.append(recursive_list)
    recursive_dict = {"name": "d"}
    recursive_dict["self"] = recursive_dict
    nested_recursion = [recursive_list, {"again": recursive_list}]
    deleted = {"x": 1, "y": 2, "z": 3}
    del deleted["y"]
    shrunk_set = set(range(10))
    shrunk_set.discard(5)
    attrs = Attrs()
    objs = {
        "none": None,
        "true": True,
        "false": False,
        "ellipsis": Ellipsis,
        "not_implemented": NotImplemented,
        # int: zero, one digit, digit boundaries, beyond 64 bits, negative
        "int_zero": 0,
        "int_small": 42,
        "int_neg": -7,
        "int_one_digit_max": 2 ** 30 - 1,
        "int_two_digits": 2 ** 30,
        "int_max64": 2 ** 63 - 1,
        "int_min64": -(2 ** 63),
        "int_above64": 2 ** 64 + 1,
        "int_neg_big": -(2 ** 100) - 12345,
        "int_huge": 7 ** 300,
        "my_int": MyInt(1234),
        # float: shortest round-trip repr, exponents, specials
        "float_zero": 0.0,
        "float_neg_zero": -0.0,
        "float_half": 1.5,
        "float_tenth": 0.1,
        "float_big": 1e16,
        "float_below_big": 1e15,
        "float_small": 1e-05,
        "float_ten_thousandth": 0.0001,
        "float_precise": 123456789.125,
        "float_third": 1.0 / 3,
        "float_huge": 1.7976931348623157e308,
        "float_tiny": 5e-324,
        "float_inf": float("inf"),
        "float_neg_inf": float("-inf"),
        "float_nan": float("nan"),
        "complex": complex(1.5, -2),
        "complex_imag": 2j,
        # str: every kind, quotes, escapes, non-printable characters
        "str_empty": "",
        "str_ascii": "hello world",
        "str_single_quote": "it's",
        "str_both_quotes": "both ' and \"",
        "str_escapes": "tab\tnl\ncr\rnul\x00del\x7fbs\\",
        "str_latin1": u"h\xe9llo w\xf6rld \xa0nbsp",
        "str_ucs2": u"\u51fd\u6570 ok \u200b zwsp",
        "str_ucs4": u"\U00020000 \U0001f40d ok",
        "str_surrogate": u"a\ud800b",
        "str_long": "abc" * 200,
        "my_str": MyStr("sub"),
        # bytes
        "bytes_empty": b"",
        "bytes_ascii": b"abc",
        "bytes_quote": b"it's",
        "bytes_escapes": b"\x00\xff\n\t\\ \"q\" \x7f",
        "bytes_all": bytes(bytearray(range(256))),
        # tuples and lists
        "tuple_empty": (),
        "tuple_one": (1,),
        "tuple_mixed": (1, "two", 3.0, None, True),
        "tuple_nested": ((1, 2), [3, {"k": (4,)}]),
        "list_empty": [],
        "list_ints": [1, 2, 3],
        "list_long": list(range(1000)),
        "recursive_list": recursive_list,
        "nested_recursion": nested_recursion,
        "my_list": MyList([1, 2]),
        # dicts: str keys, other keys, deletions, wide indices, split tables
        "dict_empty": {},
        "dict_str": {"a": 1, "b": [1, 2], "c": {"d": None}},
        "dict_keys": {1: "one", (2, 3): "tuple", None: 0, 2.5: "f", b"k": "bytes", frozenset([1]): "fs", -1: "neg"},
        "dict_deleted": deleted,
        "dict_wide": dict((i, i * i) for i in range(300)),
        "dict_split": attrs.__dict__,
        "recursive_dict": recursive_dict,
        "my_dict": MyDict(k="v"),
        # sets
        "set_empty": set(),
        "set_ints": set([1, 2, 3]),
        "set_strs": set(["a", "bb", "ccc"]),
        "set_shrunk": shrunk_set,
        "frozenset_empty": frozenset(),
        "frozenset_strs": frozenset(["x", "y"]),
        # types, functions, code, modules, instances, exceptions
        "class_int": int,
        "class_type": type,
        "class_foo": Foo,
        "class_inner": Outer.Inner,
        "instance_foo": Foo(),
        "instance_inner": Outer.Inner(),
        "instance_attrs": attrs,
        "function": plain_function,
        "closure": make_closure(),
        "lambda": lambda x: x,
        "code": plain_function.__code__,
        "module_sys": sys,
        "module_os": os,
        "module_json": json,
        "module_main": sys.modules["__main__"],
        "exception_args": ValueError("bad", 42),
        "exception_one": KeyError("k"),
        "exception_none": RuntimeError(),
    }
    if sys.version_info >= (3, 11):
        # Exception groups: 3.14+ show the members they hold (not the list they were
        # given, appended to here), as a list when given a list.
        members = [ValueError(1), KeyError("k")]
        objs["exception_group"] = ExceptionGroup("grp", members)  # noqa: F821 (3.11+)
        members.append(TypeError("added later"))
        objs["exception_group_tuple"] = ExceptionGroup("tup", (OSError(2, "gone"),))  # noqa: F821
        objs["exception_group_nested"] = BaseExceptionGroup(  # noqa: F821
            "outer", [ExceptionGroup("inner", [ValueError()]), KeyboardInterrupt()])  # noqa: F821
    return objs


OBJECTS = build()
MATERIALIZED = []


def write_objects(path):
    out = {}
    for name, obj in OBJECTS.items():
        out[name] = {"id": id(obj), "repr": repr(obj), "type": type(obj).__name__}
    tmp = path + ".tmp"
    with io.open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps({"objects": out}, indent=1, ensure_ascii=True, sort_keys=True))
        f.write(u"\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def save_maps(path):
    """Copy /proc/self/maps, as late as possible before the core."""
    try:
        with io.open("/proc/self/maps", "rb") as f:
            data = f.read()
    except (IOError, OSError):
        return  # not Linux: no maps oracle
    with io.open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


def worker(ev):
    ev.set()
    time.sleep(3600)  # PARK


def finish(oracle_path, mode):
    write_objects(oracle_path + ".objects.json")
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        save_maps(oracle_path + ".maps")
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode)
        save_maps(oracle_path + ".maps")
        oracle.mark_ready(oracle_path)
        while True:
            time.sleep(3600)  # CORE-POINT


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    events = oracle.start([
        ("objects-worker", worker, ()),
        (u"n\xe4me with \u2713 and \U0001f40d", worker, ()),
    ])
    oracle.wait_events(events, "objects.py")
    # One Thread keeps its attributes in a real dict (its __dict__ is made here), the
    # others where the interpreter keeps them until then (inline values, 3.11+): thread
    # names are read from both.
    for t in threading.enumerate():
        if t.name == "objects-worker":
            MATERIALIZED.append(t.__dict__)
    finish(oracle_path, mode)


if __name__ == "__main__":
    main()
