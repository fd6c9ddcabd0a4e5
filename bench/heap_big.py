"""bench/heap_big.py: a process of 8.5 million live objects (2.5M instances of a slotted
class, their 2.5M strs and ints, 0.5M one-item lists in a dict) that counts its own tracked
objects and their sizes with gc.get_objects() and sys.getsizeof (what a user would do
in-process, printed on stderr) and then aborts: run it with ulimit -c unlimited and time
`pycore heap` on the core (bench/RESULTS.md)."""
import gc, os, sys, time
class Rec:
    __slots__ = ("a", "b")
    def __init__(self, i):
        self.a = i
        self.b = str(i)
t0 = time.perf_counter()
recs = [Rec(i) for i in range(2_500_000)]          # 2.5M Rec + 2.5M str + ints
d = {i: [i] for i in range(500_000)}               # 0.5M lists in a dict
build = time.perf_counter() - t0
t0 = time.perf_counter()
objs = gc.get_objects()
n = len(objs)
size = sum(sys.getsizeof(o) for o in objs)
t = time.perf_counter() - t0
print("in-process: gc.get_objects() + sys.getsizeof: %d tracked objects, %d bytes, %.2f s" % (n, size, t), file=sys.stderr)
del objs
os.abort()
