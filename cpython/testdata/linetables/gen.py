"""Dump code objects' line tables with the interpreter's own answer for every
instruction, as fixtures for pycore's line-table decoders.

    python3.X gen.py > 3.X.json

Each entry: the raw table (co_lnotab up to 3.9, co_linetable after), the first
line, and [position, line] pairs where position is a byte offset (<= 3.10) or
a code-unit index (3.11+), and line is what CPython itself reports (null for
no line).
"""
import dis
import json
import sys
import types

import json.decoder as m1
import threading as m2
import textwrap as m3


def codes(mod):
    out = []
    def walk(co):
        out.append(co)
        for c in co.co_consts:
            if isinstance(c, types.CodeType):
                walk(c)
    for obj in vars(mod).values():
        for f in getattr(obj, "__dict__", {}).values() if isinstance(obj, type) else [obj]:
            co = getattr(f, "__code__", None)
            if co is not None:
                walk(co)
    return out


def entry(co):
    v = sys.version_info[:2]
    if v <= (3, 9):
        table = co.co_lnotab
        starts = dict(dis.findlinestarts(co))
        lines, cur = [], co.co_firstlineno
        for off in range(0, len(co.co_code), 2):
            cur = starts.get(off, cur)
            lines.append([off, cur])
    elif v == (3, 10):
        table = co.co_linetable
        lines = []
        for start, end, line in co.co_lines():
            for off in range(start, end, 2):
                lines.append([off, line])
    else:
        table = co.co_linetable
        lines = []
        for i, pos in enumerate(co.co_positions()):
            lines.append([i, pos[0]])
    return {"name": co.co_name, "firstlineno": co.co_firstlineno, "table": table.hex(), "lines": lines}


seen, out = set(), []
for mod in (m1, m2, m3):
    for co in codes(mod):
        if id(co) not in seen:
            seen.add(id(co))
            out.append(entry(co))
json.dump({"version": "%d.%d" % sys.version_info[:2], "codes": out[:120]}, sys.stdout)
