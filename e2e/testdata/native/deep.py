"""deep.py READY: threads recursing deep in Python, then parked.

Up to 3.10 the eval loop recurses in C, about four native frames a Python
call, so DEPTHS calls are thousands of native frames. The program records
each thread's frames of down() as sys._current_frames() lists them in READY,
one "ident count" line; the file appears once every thread is parked.
"""
import os
import sys
import threading

DEPTHS = [150, 400, 700]
sys.setrecursionlimit(5000)
ready_path = sys.argv[1]
parked = threading.Barrier(len(DEPTHS) + 1)
forever = threading.Event()


def down(n):
    if n == 0:
        parked.wait()
        forever.wait()
        return
    down(n - 1)


for d in DEPTHS:
    threading.Thread(target=down, args=(d,), daemon=True).start()
parked.wait()
lines = []
for ident, f in sys._current_frames().items():
    depth = 0
    while f is not None:
        depth += f.f_code.co_name == "down"
        f = f.f_back
    lines.append("%d %d" % (ident, depth))
with open(ready_path + ".tmp", "w") as out:
    out.write("\n".join(lines) + "\n")
os.rename(ready_path + ".tmp", ready_path)
forever.wait()
