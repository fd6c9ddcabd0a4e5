# -*- coding: utf-8 -*-
"""heap.py: known numbers of known objects kept alive, for `pycore heap`.

Usage: python heap.py ORACLE_PATH {abort|wait}

Besides the usual oracle it writes ORACLE_PATH + ".heap.json", recorded from inside
right before the core:
  "gc_counts": {TYPE: n} from gc.get_objects() for the scenario's own types (named as
      pycore names them: module.QualName) and collections.deque;
  "sizes": {TYPE: sum of sys.getsizeof} of the instances the program made of its own types;
  "samples": [{"id", "type", "size"}] one object of each built-in kind it made, with
      sys.getsizeof of it;
  "referrers": {"target": id, "refs": [{"id", "type"}]} gc.get_referrers of REF_TARGET
      (frames left out), which REF_LIST[1], REF_DICT["key"], REF_HOLDER.attr and the
      global REF_TARGET refer to;
  "chain": {"target": id, "steps": [id, ...]} the only chain that keeps CHAIN_TARGET
      alive: the globals, CHAIN (global), its ["inner"] list, the Holder at [3] (its
      __dict__ before 3.11), whose .attr is the target.
In abort mode it also writes ORACLE_PATH + ".mallocstats": what sys._debugmallocstats()
printed (pymalloc's own count of arenas, pools and blocks) right before os.abort().
"""

import collections
import gc
import io
import json
import os
import sys
import time

import pycore_oracle as oracle

N = 2000


class Plain(object):
    def __init__(self, i):
        self.index = i
        self.name = "plain-%d" % i


class Slotted(object):
    __slots__ = ("a", "b")

    def __init__(self, i):
        self.a = i
        self.b = float(i) + 0.5


class Node(object):
    def __init__(self):
        self.other = None


PLAINS = [Plain(i) for i in range(N)]
SLOTTED = [Slotted(i) for i in range(N // 2)]
DICTS = [{"k%d" % i: i, "v": [i]} for i in range(300)]
LISTS = [[i, i + 1, i + 2] for i in range(300)]
TUPLES = [(i, "t%d" % i) for i in range(300)]
STRS = ["string number %d" % i for i in range(400)]
BYTES = [("bytes-%d" % i).encode("ascii") * 3 for i in range(400)]
FLOATS = [i * 1.25 + 0.1 for i in range(400)]
BIGINTS = [(1 << 200) + i for i in range(400)]
DEQUES = [collections.deque([i]) for i in range(50)]
SETS = [set([i, i + 1, i + 2, i + 3, i + 4, i + 5]) for i in range(50)]


class Holder(object):
    def __init__(self):
        self.attr = None


class Target(object):
    pass


REF_TARGET = Target()
REF_LIST = [None, REF_TARGET]
REF_DICT = {"key": REF_TARGET}
REF_HOLDER = Holder()
REF_HOLDER.attr = REF_TARGET

CHAIN = {"inner": [0, 1, 2, Holder(), 4]}
CHAIN["inner"][3].attr = Target()


def make_cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a


def pycore_name(t):
    mod = t.__module__
    qual = getattr(t, "__qualname__", t.__name__)
    return qual if mod == "builtins" else mod + "." + qual


def record(path):
    counts = {}
    for o in gc.get_objects():
        t = type(o)
        if t in (Plain, Slotted, Node, collections.deque):
            k = pycore_name(t)
            counts[k] = counts.get(k, 0) + 1
    sizes = {
        pycore_name(Plain): sum(sys.getsizeof(o) for o in PLAINS),
        pycore_name(Slotted): sum(sys.getsizeof(o) for o in SLOTTED),
    }
    samples = []
    for objs in (DICTS, LISTS, TUPLES, STRS, BYTES, FLOATS, BIGINTS, SETS, PLAINS, SLOTTED):
        for o in (objs[0], objs[len(objs) // 2], objs[-1]):
            samples.append({"id": id(o), "type": pycore_name(type(o)), "size": sys.getsizeof(o)})
    refs = []
    for r in gc.get_referrers(REF_TARGET):
        if type(r).__name__ != "frame":
            refs.append({"id": id(r), "type": pycore_name(type(r))})
    holder = CHAIN["inner"][3]
    steps = [id(globals()), id(CHAIN), id(CHAIN["inner"]), id(holder)]
    if sys.version_info < (3, 11):
        steps.append(id(holder.__dict__))  # 3.11+ keeps the values inline; asking would make a dict
    doc = {"gc_counts": counts, "sizes": sizes, "samples": samples,
           "referrers": {"target": id(REF_TARGET), "refs": refs},
           "chain": {"target": id(holder.attr), "steps": steps}}
    with io.open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=1))
        f.flush()
        os.fsync(f.fileno())
    os.rename(path + ".tmp", path)


def record_mallocstats(path):
    """sys._debugmallocstats() writes to C's stderr: point fd 2 at path while it runs."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    saved = os.dup(2)
    os.dup2(fd, 2)
    sys._debugmallocstats()
    os.dup2(saved, 2)
    os.close(saved)
    os.close(fd)


def main():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    gc.disable()  # the two Nodes of the cycle stay until the core
    make_cycle()
    # The heap is recorded after the oracle is written: writing it (traceback's
    # format_stack among others) leaves garbage, a deque on 3.15, that the
    # disabled collector keeps until the core.
    if mode == "abort":
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        record(oracle_path + ".heap.json")
        record_mallocstats(oracle_path + ".mallocstats")
        os.abort()  # CORE-POINT
    else:
        oracle.write_oracle(oracle_path, mode)
        record(oracle_path + ".heap.json")
        oracle.mark_ready(oracle_path)
        while True:
            time.sleep(3600)  # CORE-POINT


if __name__ == "__main__":
    main()
