# -*- coding: utf-8 -*-
# pycore-requires: 3.8
"""asyncio_tasks.py: asyncio task trees on two event loops, every task parked.

Usage: python asyncio_tasks.py ORACLE_PATH {abort|wait}

The main thread runs an event loop whose main task (renamed "main") builds task trees:
  - "gather-parent" awaits asyncio.gather() of a named task ("gather-child-a", three
    nested coroutines deep, waiting on an asyncio.Event) and two coroutines that gather
    wraps in auto-named tasks, both waiting on futures that never complete;
  - "tg-parent" (3.11+) waits in TaskGroup.__aexit__ for "tg-child-1" and "tg-child-2",
    which sleep;
  - "awaiter" awaits the task "awaited" directly;
  - "lonely" waits on a future nobody completes;
  - "finished" returned and "cancelled" was cancelled (both still referenced).
The "asyncio-worker" thread runs a second loop: its main task "worker-main" parks in
time.sleep() inside a coroutine (a running task on a parked thread), while
"worker-side" waits on a future.

Once every task is parked, the main task calls finish() through two coroutines, so it
is the running task of the main loop with a four-frame coroutine stack. finish() writes
ORACLE_PATH's side file ORACLE.tasks.json (see write_tasks_oracle), then the usual oracle,
then aborts (abort) or sleeps for gcore (wait) at its CORE-POINT line.

The awaited-by relation in the side file is the one this program built (gather, TaskGroup
and direct awaits); on 3.14+ it is checked against CPython's own record of it.

The second auto-named gather child's name is never asked for: 3.12+ keeps an unasked
automatic name as the counter (an int) until something reads it, and a core must show
that case too. Its expected name follows from the first one's (the counter increments
once per task, and gather creates the two one after the other).
"""

import asyncio
import json
import os
import sys
import threading
import time
import types

import pycore_oracle as oracle

# Tasks of the main loop that must be parked before the core is made.
parked = set()

# What this program built: task -> tasks that await it.
awaited_by = {}

# Tasks that are done or cancelled, kept alive: a core may still show them.
finished = []

worker = {}


def park_here(name):
    parked.add(name)


# --- the worker thread's loop: a running task parked in time.sleep ---

async def worker_leaf(ev):
    ev.set()
    time.sleep(3600)  # PARK


async def worker_side(fut):
    park_here("worker-side")
    await fut


async def worker_main(ev):
    me = asyncio.current_task()
    me.set_name("worker-main")
    loop = asyncio.get_running_loop()
    side = loop.create_task(worker_side(loop.create_future()), name="worker-side")
    worker.update(loop=loop, main=me, side=side)
    for _ in range(100):
        if "worker-side" in parked:
            break
        await asyncio.sleep(0)
    await worker_leaf(ev)


def run_worker_loop(ev):
    asyncio.run(worker_main(ev))


# --- the main loop's task trees ---

async def wait_event(ev):
    await ev.wait()


async def level3(ev):
    park_here("gather-child-a")
    await wait_event(ev)


async def level2(ev):
    await level3(ev)


async def gather_child_a(ev):
    await level2(ev)


async def never(name, fut):
    park_here(name)
    await fut


async def gather_parent(ev, futs):
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    a = loop.create_task(gather_child_a(ev), name="gather-child-a")
    awaited_by[a] = [me]
    # Two coroutines: gather wraps each in a task with an automatic name.
    await asyncio.gather(a, never("gather-auto-1", futs[0]), never("gather-auto-2", futs[1]))


async def tg_child(n):
    park_here("tg-child-%d" % n)
    await asyncio.sleep(3600)


async def tg_parent():
    me = asyncio.current_task()
    async with asyncio.TaskGroup() as tg:
        for n in (1, 2):
            t = tg.create_task(tg_child(n), name="tg-child-%d" % n)
            awaited_by[t] = [me]
        park_here("tg-parent")


async def awaited(fut):
    park_here("awaited")
    await fut


async def awaiter(fut):
    me = asyncio.current_task()
    t = asyncio.get_running_loop().create_task(awaited(fut), name="awaited")
    awaited_by[t] = [me]
    park_here("awaiter")
    await t


async def returns():
    return 42


async def running_leaf(oracle_path, mode, tasks):
    finish(oracle_path, mode, tasks)


async def running_mid(oracle_path, mode, tasks):
    await running_leaf(oracle_path, mode, tasks)


async def main(oracle_path, mode):
    me = asyncio.current_task()
    me.set_name("main")
    loop = asyncio.get_running_loop()

    # The worker loop first, parked before this loop makes tasks: task names come from
    # one counter, and the automatic names below must be consecutive.
    events = oracle.start([("asyncio-worker", run_worker_loop, ())])
    oracle.wait_events(events, "asyncio_tasks.py worker loop")

    ev = asyncio.Event()
    futs = [loop.create_future() for _ in range(4)]
    tasks = {"main": me}
    gp = loop.create_task(gather_parent(ev, futs), name="gather-parent")
    tasks["gather-parent"] = gp
    if sys.version_info >= (3, 11):
        tasks["tg-parent"] = loop.create_task(tg_parent(), name="tg-parent")
    tasks["awaiter"] = loop.create_task(awaiter(futs[2]), name="awaiter")
    tasks["lonely"] = loop.create_task(never("lonely", futs[3]), name="lonely")
    done = loop.create_task(returns(), name="finished")
    cancelled = loop.create_task(never("cancelled", loop.create_future()), name="cancelled")

    want = {"gather-child-a", "gather-auto-1", "gather-auto-2", "awaited", "awaiter", "lonely", "cancelled"}
    if sys.version_info >= (3, 11):
        want |= {"tg-parent", "tg-child-1", "tg-child-2"}
    for _ in range(1000):
        if want <= parked:
            break
        await asyncio.sleep(0)
    else:
        oracle.fail("tasks never parked: %s" % sorted(want - parked))
    cancelled.cancel()
    for _ in range(100):
        if done.done() and cancelled.done():
            break
        await asyncio.sleep(0)
    if not (done.done() and cancelled.cancelled()):
        oracle.fail("finished/cancelled tasks did not finish")
    finished.extend([done, cancelled])
    # Let every task settle on what it awaits (gather's and TaskGroup's callbacks).
    for _ in range(5):
        await asyncio.sleep(0)
    await running_mid(oracle_path, mode, tasks)


# --- the oracle ---

def coro_frames(coro):
    """A suspended coroutine's stack through cr_await, innermost first."""
    out = []
    while isinstance(coro, types.CoroutineType) and coro.cr_frame is not None:
        out.append(oracle.frame_record(coro.cr_frame))
        coro = coro.cr_await
    out.reverse()
    return out


def running_frames(top, coro, top_line=None):
    """A running task's stack: the thread's frames from top out to its coroutine's frame."""
    out = []
    f = top
    while f is not None:
        out.append(oracle.frame_record(f, top_line if f is top else None))
        if f is coro.cr_frame:
            return out
        f = f.f_back
    oracle.fail("the frame of %r is not on the stack of its running task" % coro)


def state_of(t):
    if t.cancelled():
        return "cancelled"
    if t.done():
        return "done"
    return "pending"


def task_record(t, frames, running, name=None):
    loop = t.get_loop()
    waiter = getattr(t, "_fut_waiter", None)
    return {
        "id": id(t),
        "name": name if name is not None else t.get_name(),
        "state": state_of(t),
        "loop": id(loop),
        "thread": getattr(loop, "_thread_id", None) or 0,
        "running": running,
        "coroutine_stack": frames,
        "awaited_by": sorted(id(p) for p in awaited_by.get(t, [])),
        "waiting_for": None if waiter is None else {"id": id(waiter), "type": type(waiter).__name__},
    }


def write_tasks_oracle(oracle_path, tasks):
    """Write ORACLE.tasks.json for a core taken at the caller's (finish's) next CORE-POINT."""
    caller = sys._getframe(1)
    line = oracle.core_point_line(caller)
    main_loop = asyncio.get_running_loop()
    mine = sorted(asyncio.all_tasks(main_loop), key=id)
    theirs = sorted(asyncio.all_tasks(worker["loop"]), key=id)
    records = []
    for t in mine:
        if t is tasks["main"]:
            records.append(task_record(t, running_frames(caller, t.get_coro(), line), True))
        elif t is lazy_task():
            records.append(task_record(t, coro_frames(t.get_coro()), False, name=lazy_name()))
        else:
            records.append(task_record(t, coro_frames(t.get_coro()), False))
    top = sys._current_frames()[worker["thread"]]
    for t in theirs:
        if t is worker["main"]:
            records.append(task_record(t, running_frames(top, t.get_coro()), True))
        else:
            records.append(task_record(t, coro_frames(t.get_coro()), False))
    check_awaited_by(mine + theirs)
    out = {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "loops": [
            {"id": id(main_loop), "thread": threading.get_ident(), "running": id(tasks["main"])},
            {"id": id(worker["loop"]), "thread": worker["thread"], "running": id(worker["main"])},
        ],
        "tasks": records,
        "finished": [{"id": id(t), "name": t.get_name(), "state": state_of(t)} for t in finished],
    }
    path = os.path.splitext(oracle_path)[0] + ".tasks.json"
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(out, indent=1, ensure_ascii=False))
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


_lazy = {}


def lazy_task():
    return _lazy.get("task")


def lazy_name():
    return _lazy.get("name")


def find_gather_children(tasks):
    """The automatic gather children, in creation order; the first one's name is asked."""
    gp = tasks["gather-parent"]
    outer = gp._fut_waiter
    kids = [c for c in outer._children if c.get_coro().cr_code.co_name == "never"]
    if len(kids) != 2:
        oracle.fail("gather has %d automatic children, want 2" % len(kids))
    first = kids[0].get_name()
    if not first.startswith("Task-"):
        oracle.fail("automatic task name %r" % first)
    _lazy["task"] = kids[1]
    _lazy["name"] = "Task-%d" % (int(first[len("Task-"):]) + 1)
    for k in kids:
        awaited_by[k] = [gp]


def check_awaited_by(all_tasks):
    """On 3.14+ CPython records who awaits whom: it must be what this program built."""
    for t in all_tasks:
        rec = getattr(t, "_asyncio_awaited_by", False)
        if rec is False:
            return  # before 3.14
        got = sorted(id(x) for x in (rec or ()))
        want = sorted(id(x) for x in awaited_by.get(t, []))
        if got != want:
            oracle.fail("task %s: CPython records awaited_by %s, the scenario built %s" % (
                "<lazy>" if t is lazy_task() else t.get_name(), got, want))


def finish(oracle_path, mode, tasks):
    find_gather_children(tasks)
    worker["thread"] = worker["loop"]._thread_id
    if mode == "abort":
        write_tasks_oracle(oracle_path, tasks)
        oracle.write_oracle(oracle_path, mode, signal=6, crashed=True, holds_gil=True)
        os.abort()  # CORE-POINT
    else:
        write_tasks_oracle(oracle_path, tasks)
        oracle.write_oracle(oracle_path, mode)
        oracle.mark_ready(oracle_path)
        while True:
            time.sleep(3600)  # CORE-POINT


def run():
    oracle_path, mode = oracle.parse_args(("abort", "wait"))
    asyncio.run(main(oracle_path, mode))


if __name__ == "__main__":
    run()
