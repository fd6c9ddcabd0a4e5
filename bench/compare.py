#!/usr/bin/env python3
"""bench/compare.py: run commands alternately and print medians of wall and CPU time.

Usage:
  bench/compare.py [-n RUNS] [-w WARMUP] NAME=CMD [NAME=CMD ...]
      CMD is split like a shell would (shlex) but run directly, output to /dev/null.
      Each round runs every command once, in turn, so that machine load falls on all
      of them alike; the medians of wall time and of CPU time (user+sys of the child,
      from wait4) are printed with the ratio to the first command.
  bench/compare.py core [-n RUNS] [--gdb-runs N] [--dir DIR] [--pycore PYCORE]
                        [--only NAME,...] [--no-check] [--no-native]
      Makes (or reuses, in DIR) kernel cores of bench/small.py under pyenv 3.8, 3.12,
      3.13 and Debian 3.14, 3.15 (testdata/pythons/fetch.sh's cache), and of bench/big.py
      with 120 threads (1 MiB heap) under pyenv 3.12 and Debian 3.14; then, on each core,
      alternating: `pycore threads CORE`, `pystack core CORE EXE`, gdb's `thread apply
      all py-bt` (pyenv builds only: Debian's ship no python-gdb.py), and with --native
      `pycore threads --native` and `pystack core --native`. Prints medians of wall, CPU
      and peak RSS and the ratios to pycore; then (unless --no-check) compares the Python
      frames pystack and pycore give for each thread, and the native frames' functions.
  bench/compare.py check [--dir DIR] [--pycore PYCORE] [--scenarios a,b] [--native]
      Kernel cores of the test scenarios (testdata/scenarios, report/...) under the same
      interpreters, and the frame check alone on each: pystack as a second oracle.
  bench/compare.py live [bench/live.py's options]
      pycore threads --pid against pystack remote and gdb's py-bt on one running process
      (bench/live.py).

pystack is used when it is on PATH or named by PYSTACK (a path, or a command line such
as "python3 -m pystack"); when it is not, the output says so and its columns are left out.
Exit status is 0 unless a command fails.
"""
import argparse, glob, json, os, re, shlex, shutil, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from livebench import pycore_frames, pystack_frames, python_frames_diff  # noqa: E402


class Failed(Exception):
    pass


def run(argv, out=os.devnull, env=None, fail=False):
    """Run argv with stdout and stderr to out; return (wall s, CPU s, peak RSS KiB).
    A failing command ends the benchmark, or with fail=True raises Failed."""
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, env or os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY, 0), (os.POSIX_SPAWN_OPEN, 2, out, os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        msg = "%s exited with status %d" % (" ".join(argv), os.waitstatus_to_exitcode(status))
        if fail:
            raise Failed(msg)
        sys.exit("compare.py: " + msg)
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def find_pystack():
    """pystack's command line, or None; the second value says where it came from."""
    env = os.environ.get("PYSTACK")
    if env:
        argv = shlex.split(env)
        if shutil.which(argv[0]):
            return argv, "PYSTACK=" + env
        sys.exit("compare.py: PYSTACK=%s: %s not found" % (env, argv[0]))
    p = shutil.which("pystack")
    return ([p], p) if p else (None, None)


def pystack_version(argv):
    r = subprocess.run(argv + ["--version"], capture_output=True, text=True)
    return (r.stdout or r.stderr).strip() or "?"


def no_pystack_note():
    return ("pystack: NOT INSTALLED (not on PATH, PYSTACK unset): its columns are left out. "
            "Install it (pip install pystack, or build it from its source) or set PYSTACK=/path/to/pystack.")


def generic(args):
    runs, warm = 21, 2
    while args and args[0].startswith("-"):
        if args[0] == "-n":
            runs = int(args[1]); args = args[2:]
        elif args[0] == "-w":
            warm = int(args[1]); args = args[2:]
        else:
            sys.exit(__doc__)
    if not args:
        sys.exit(__doc__)
    cmds = []
    for a in args:
        name, _, cmd = a.partition("=")
        cmds.append((name, shlex.split(cmd)))
    res = {n: [] for n, _ in cmds}
    for i in range(warm + runs):
        for n, argv in cmds:
            r = run(argv)
            if i >= warm:
                res[n].append(r)
    base = None
    print("| command | wall median | CPU median (user+sys) | wall / first | CPU / first |")
    print("|---|---|---|---|---|")
    for n, _ in cmds:
        w = statistics.median(r[0] for r in res[n])
        c = statistics.median(r[1] for r in res[n])
        if base is None:
            base = (w, c)
        print("| %s | %.2f ms | %.2f ms | %.2fx | %.2fx |" % (n, w * 1e3, c * 1e3, w / base[0], c / base[1] if base[1] else 0))
    print("\n%d runs each after %d warm-up, alternating; load average %s" % (runs, warm, loadavg()))


# --- core mode ---------------------------------------------------------------------------

def interpreters():
    """name -> dict(argv prefix, env, exe, gdbpy) for the benchmark's five interpreters."""
    out = {}
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for minor in ("3.8", "3.12", "3.13"):
        dirs = sorted(glob.glob(os.path.join(root, "versions", minor + ".*")),
                      key=lambda d: [int(x) for x in re.findall(r"\d+", os.path.basename(d))])
        if not dirs:
            print("note: pyenv CPython %s not found under %s: its cores are left out" % (minor, root))
            continue
        exe = os.path.join(dirs[-1], "bin", "python" + minor)
        gdbpy = exe + "-gdb.py"
        out["pyenv-" + minor] = dict(argv=[exe], env={}, exe=exe, gdbpy=gdbpy if os.path.exists(gdbpy) else None)
    cache = os.path.join(os.environ.get("PYCORE_CACHE", os.path.expanduser("~/.cache/pycore")), "pythons")
    for minor in ("3.14", "3.15"):
        js = [j for j in sorted(glob.glob(os.path.join(cache, minor + "-*", "pycore-python.json")))]
        if not js:
            print("note: Debian CPython %s not in %s (testdata/pythons/fetch.sh): its cores are left out" % (minor, cache))
            continue
        d = json.load(open(js[0]))
        out["debian-" + minor] = dict(argv=d["argv"], env=d.get("env", {}), exe=d["exe"], gdbpy=None)
    return out


def make_core(path, interp, script, args, extra_env=None):
    """Run script under interp in a fresh directory with cores on; move its core to path.
    Returns False (and makes nothing) when the script ends without a core."""
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return True
    pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    if pattern.startswith("|") or "/" in pattern:
        sys.exit("compare.py: core_pattern is %r: kernel cores must be written to the working directory" % pattern)
    d = path + ".run"
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONSTARTUP", "PYTHONPATH")}
    env.update(interp["env"])
    env.update(extra_env or {})
    env["LC_ALL"] = "C.UTF-8"
    cmd = "ulimit -c unlimited && exec " + " ".join(shlex.quote(a) for a in interp["argv"] + [script] + args)
    subprocess.run(["sh", "-c", cmd], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cores = glob.glob(os.path.join(d, "core*"))
    if not cores:
        if extra_env is not None:
            shutil.rmtree(d)
            return False
        sys.exit("compare.py: no core from %s %s in %s" % (interp["exe"], script, d))
    os.rename(cores[0], path)
    shutil.rmtree(d)
    return True


def tools_for(core, interp, pycore, pystack, native):
    """name -> argv, in the order each round runs them."""
    t = {"pycore threads": [pycore, "threads", core]}
    if pystack:
        t["pystack core"] = pystack + ["core", "--no-color", core, interp["exe"]]
    if native:
        t["pycore threads --native"] = [pycore, "threads", "--native", core]
        if pystack:
            t["pystack core --native"] = pystack + ["core", "--no-color", "--native", core, interp["exe"]]
    if interp["gdbpy"] and shutil.which("gdb"):
        t["gdb py-bt"] = ["gdb", "-q", "-batch", "-nx", "-iex", "set debuginfod enabled off",
                          "-ex", "source " + interp["gdbpy"], "-ex", "thread apply all py-bt", interp["exe"], core]
    return t


ALIASES = {"raise": "gsignal", "???": ""}


def check(name, core, interp, pycore, pystack, native):
    """Compare pystack's and pycore's frames on one core; return lines describing differences."""
    diffs = []
    ps = subprocess.run(pystack + ["core", "--no-color", core, interp["exe"]], capture_output=True, text=True)
    pc = subprocess.run([pycore, "threads", "--json", core], capture_output=True, text=True)
    if ps.returncode or pc.returncode:
        return ["%s: pystack exit %d (%s), pycore exit %d (%s)" % (name, ps.returncode, ps.stderr.strip()[-200:],
                                                                   pc.returncode, pc.stderr.strip()[-200:])]
    doc = json.loads(pc.stdout)
    diffs, nframes = python_frames_diff(name, ps.stdout, doc)
    if not diffs:
        diffs.append("%s: same threads and Python frames (%d frames in %d threads)" % (name, nframes, len(doc["threads"])))
    if native:
        ps = subprocess.run(pystack + ["core", "--no-color", "--native", core, interp["exe"]], capture_output=True, text=True)
        pc = subprocess.run([pycore, "threads", "--json", "--native-all", core], capture_output=True, text=True)
        if ps.returncode or pc.returncode:
            diffs.append("%s --native: pystack exit %d (%s), pycore exit %d (%s)" % (
                name, ps.returncode, ps.stderr.strip()[-200:], pc.returncode, pc.stderr.strip()[-200:]))
        else:
            nd = json.loads(pc.stdout)
            a, b = pystack_frames(ps.stdout), pycore_frames(nd)
            # Why pycore's walk ended early, when it did (not at the outermost frame).
            stops = {t.get("lwp"): t["native_stop"] for t in nd["threads"]
                     if t.get("native_stop") and "outermost" not in t["native_stop"]}
            ndiff = 0
            for lwp in sorted(set(a) & set(b)):
                # pystack prints inlined calls as frames of their own; pycore --native-all
                # prints every physical frame, the evaluation loop's included, which pystack
                # replaces by the Python frames. Compare the functions pystack names that are
                # not inlined: each must appear in pycore's native frames, in the same order.
                # Symbol versions (__libc_start_main@@GLIBC_2.34) and aliases at one address
                # (raise and gsignal) are one function.
                na = [ALIASES.get(fn, fn) for fn in (fn.split("@")[0] for k, _, _, fn, rest in a[lwp]
                                                     if k == "C" and "(inlined)" not in rest)]
                nb = [f.get("function") or "" for f in b[lwp] if f.get("kind") != "python"]
                missing = [fn for fn in na if fn not in set(nb)]
                if missing and lwp in stops:
                    ndiff += 1
                    diffs.append("%s --native: LWP %d: pycore's native walk stopped (%s) before pystack's %s"
                                 % (name, lwp, stops[lwp], missing[:4]))
                elif missing:
                    ndiff += 1
                    diffs.append("%s --native: LWP %d: pystack's native functions %s are not among pycore --native-all's %s"
                                 % (name, lwp, missing[:4], nb[:12]))
            if not ndiff:
                diffs.append("%s --native: pystack's native functions (inlined calls aside) all among pycore --native-all's" % name)
    return diffs


def first_error(argv):
    """The last line a failing command writes to stderr: why it failed."""
    r = subprocess.run(argv, capture_output=True, text=True)
    lines = [l for l in (r.stderr or r.stdout).splitlines() if l.strip()]
    return lines[-1].strip() if lines else "exit %d" % r.returncode


def fmt(w, c):
    return "%s (%s)" % (ms(w), ms(c))


def ms(s):
    return "%.0f ms" % (s * 1e3) if s < 10 else "%.1f s" % s


def core_mode(args):
    ap = argparse.ArgumentParser(prog="compare.py core")
    ap.add_argument("-n", type=int, default=5, help="measured rounds (default 5)")
    ap.add_argument("-w", type=int, default=1, help="warm-up rounds (default 1)")
    ap.add_argument("--gdb-runs", type=int, default=3, help="gdb runs in the first N rounds only (default 3)")
    ap.add_argument("--dir", default=os.path.expanduser("~/.cache/pycore/bench-compare"), help="where cores are made and kept")
    ap.add_argument("--pycore", default="", help="pycore binary (default: built from this tree)")
    ap.add_argument("--only", default="", help="comma-separated core names")
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--native", action="store_true", help="also time and check --native")
    a = ap.parse_args(args)
    os.makedirs(a.dir, exist_ok=True)
    pycore = a.pycore
    if not pycore:
        pycore = os.path.join(a.dir, "pycore")
        subprocess.run(["go", "build", "-o", pycore, "./cmd/pycore"], cwd=REPO, check=True)
    pystack, where = find_pystack()
    if pystack:
        print("pystack: %s (%s)" % (pystack_version(pystack), where))
    else:
        print(no_pystack_note())
    interps = interpreters()
    cores = []
    for n, it in interps.items():
        cores.append(("small " + n, it, os.path.join(HERE, "small.py"), ["ready", "abort"]))
    for n in ("pyenv-3.12", "debian-3.14"):
        if n in interps:
            cores.append(("120 threads " + n, interps[n], os.path.join(HERE, "big.py"), ["ready", "abort", "120", "1"]))
    if a.only:
        keep = a.only.split(",")
        cores = [c for c in cores if c[0] in keep]
    rows, checks, fails = [], [], {}
    for name, it, script, sargs in cores:
        path = os.path.join(a.dir, name.replace(" ", "-") + ".core")
        make_core(path, it, script, sargs)
        tools = tools_for(path, it, pycore, pystack, a.native)
        res = {t: [] for t in tools}
        failed = {}
        for i in range(a.w + a.n):
            for t, argv in tools.items():
                if t in failed:
                    continue
                if t == "gdb py-bt" and i >= a.w + a.gdb_runs:
                    continue
                if t == "gdb py-bt" and i < a.w:
                    continue  # gdb is slow enough that a warm-up run is not worth it
                try:
                    # Another tool's failure is a result to report; pycore's ends the run.
                    r = run(argv, fail=not t.startswith("pycore"))
                except Failed as e:
                    failed[t] = str(e)
                    checks.append("%s: %s failed: %s" % (name, t, first_error(argv)))
                    continue
                if i >= a.w:
                    res[t].append(r)
        med = {t: tuple(statistics.median(r[k] for r in rs) for k in range(3)) for t, rs in res.items() if rs}
        st = os.stat(path)
        rows.append((name, "%.0f MiB" % (st.st_size / 2**20), med))
        fails[name] = failed
        print("measured %s: %s; load %s" % (name, ", ".join("%s %s" % (t, fmt(m[0], m[1])) for t, m in med.items()), loadavg()),
              file=sys.stderr)
        if pystack and not a.no_check and "pystack core" not in failed:
            checks += check(name, path, it, pycore, pystack, a.native)

    cols = [("pycore threads", None), ("pystack core", "pycore threads"), ("gdb py-bt", "pycore threads")]
    if a.native:
        cols += [("pycore threads --native", None), ("pystack core --native", "pycore threads --native")]
    print()
    print("Wall time (CPU time, user+sys) and peak RSS, medians; ratios wall / CPU to pycore:")
    print()
    head = ["core", "size"]
    for c, base in cols:
        head.append(c)
        if base:
            head.append("%s / %s" % (c.split()[0], base))
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, size, med in rows:
        cells = [name, size]
        for c, base in cols:
            m = med.get(c)
            if c.startswith("pystack") and not pystack:
                cells.append("not installed")
            elif c in fails.get(name, ()):
                cells.append("fails")
            elif not m:
                cells.append("–")
            else:
                cells.append("%s, %.0f MiB" % (fmt(m[0], m[1]), m[2] / 1024))
            if base:
                b = med.get(base)
                cells.append("%.1f× / %.1f×" % (m[0] / b[0], m[1] / b[1]) if m and b and b[1] else "–")
        print("| " + " | ".join(cells) + " |")
    print()
    print("%d rounds after %d warm-up, alternating (gdb in the first %d); load average at the end %s; %s"
          % (a.n, a.w, a.gdb_runs, loadavg(), pystack_version(pystack) if pystack else "pystack not installed"))
    if checks:
        print()
        print("pystack against pycore, frame for frame:")
        for c in checks:
            print("- " + c)


SCENARIOS = ["stacks", "exceptions", "deep_many", "gilwait", "asyncio_tasks", "locals", "objects",
             "report/abort_main", "report/segv_worker", "report/callback_abort"]


def check_mode(args):
    """Kernel cores of the test scenarios (testdata/scenarios) under each interpreter, and
    pystack's frames against pycore's on each: a second oracle for the stack walk."""
    ap = argparse.ArgumentParser(prog="compare.py check")
    ap.add_argument("--dir", default=os.path.expanduser("~/.cache/pycore/bench-compare/check"))
    ap.add_argument("--pycore", default="")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--native", action="store_true")
    a = ap.parse_args(args)
    os.makedirs(a.dir, exist_ok=True)
    pycore = a.pycore
    if not pycore:
        pycore = os.path.join(a.dir, "pycore")
        subprocess.run(["go", "build", "-o", pycore, "./cmd/pycore"], cwd=REPO, check=True)
    pystack, where = find_pystack()
    if not pystack:
        print(no_pystack_note())
        return
    print("pystack: %s (%s)" % (pystack_version(pystack), where))
    scen = os.path.join(REPO, "testdata", "scenarios")
    for n, it in interpreters().items():
        for sc in a.scenarios.split(","):
            name = "%s %s" % (sc, n)
            path = os.path.join(a.dir, name.replace("/", "-").replace(" ", "-") + ".core")
            if not make_core(path, it, os.path.join(scen, sc + ".py"), ["oracle.json", "abort"], {"PYTHONPATH": scen}):
                print("- %s: no core (the scenario does not run on this interpreter)" % name)
                continue
            for line in check(name, path, it, pycore, pystack, a.native):
                print("- " + line, flush=True)


def main():
    args = sys.argv[1:]
    if args[:1] == ["core"]:
        core_mode(args[1:])
    elif args[:1] == ["check"]:
        check_mode(args[1:])
    elif args[:1] == ["live"]:
        os.execv(sys.executable, [sys.executable, os.path.join(HERE, "live.py")] + args[1:])
    else:
        generic(args)


main()
