#!/usr/bin/env bash
# bench/run.sh: pycore's performance benchmark (not part of `go test` or CI).
#
# It makes real kernel cores (the programs end in os.abort(); core_pattern must write a
# plain file in the working directory, as on this project's machines):
#   small   bench/small.py (5 threads a few frames deep) under pyenv's 3.8, 3.12, 3.13 and
#           Debian's 3.14 and 3.15 (from testdata/pythons/fetch.sh's cache)
#   large   bench/big.py under pyenv 3.12: 200 threads parked 50-500 Python frames deep
#           and a 1.1 GiB heap of bytes objects (MALLOC_ARENA_MAX=2)
#   heap    the same with 4 threads: a core as big, with little Python state to walk
#   corpus  200 cores of the crash scenarios of testdata/scenarios/report over those
#           interpreters, for `pycore report`
# then measures wall time with hyperfine and peak RSS with /usr/bin/time -v of
#   pycore threads, pycore threads --json, pycore eval (three expressions), on each core
#   pycore report over the corpus (-j 1 and -j 2)
#   gdb with CPython's python-gdb.py, `thread apply all py-bt`, on the pyenv cores
#   pystack core CORE EXE on every core, when pystack is installed (on PATH, or
#   PYSTACK=/path or a command line); the output says when it is not
# and prints a markdown table with gdb/pycore and pystack/pycore ratios (also written to
# $WORK/results.md). bench/compare.py core compares the three alternately, run by run.
#
# Usage: bench/run.sh            (5-10 minutes: making 200 cores, then gdb on the large core)
#        BENCH_QUICK=1 bench/run.sh   (fewer runs, 40 corpus cores, no gdb on the large core)
# Environment:
#   PYCORE_BENCH_DIR  where cores are made and kept (reused by later runs); default: a
#                     temporary directory, removed at the end
#   PYCORE_CACHE      the fetch.sh cache (default ~/.cache/pycore)
#   PYENV_ROOT        default ~/.pyenv
#   PYSTACK           pystack's command (default: pystack on PATH, if any)
# Needs: go, gdb, hyperfine (apt-get install -y hyperfine), /usr/bin/time
# (apt-get install -y time), python3, pyenv 3.8/3.12/3.13, and testdata/pythons/fetch.sh run once.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
CACHE=${PYCORE_CACHE:-$HOME/.cache/pycore}/pythons
QUICK=${BENCH_QUICK:-0}
CORPUS_N=200
RUNS_SMALL=30
RUNS_LARGE=10
RUNS_GDB=3
if [ "$QUICK" = 1 ]; then
	CORPUS_N=40 RUNS_SMALL=10 RUNS_LARGE=3 RUNS_GDB=1
fi

die() { echo "bench/run.sh: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

command -v go >/dev/null || die "go not found"
command -v hyperfine >/dev/null || die "hyperfine not found: apt-get install -y hyperfine (Debian/Ubuntu), or cargo install hyperfine"
[ -x /usr/bin/time ] || die "/usr/bin/time not found: apt-get install -y time"
command -v gdb >/dev/null || die "gdb not found: apt-get install -y gdb"
command -v python3 >/dev/null || die "python3 not found (used to make wrappers and the summary)"
command -v bc >/dev/null || die "bc not found: apt-get install -y bc"
pattern=$(cat /proc/sys/kernel/core_pattern)
case "$pattern" in
'|'* | */*) die "core_pattern is '$pattern': kernel cores must be written to the working directory (echo core > /proc/sys/kernel/core_pattern)" ;;
esac

PYSTACK_CMD=()
if [ -n "${PYSTACK:-}" ]; then
	read -ra PYSTACK_CMD <<<"$PYSTACK"
elif command -v pystack >/dev/null; then
	PYSTACK_CMD=("$(command -v pystack)")
fi
if [ ${#PYSTACK_CMD[@]} -gt 0 ]; then
	PYSTACK_VERSION=$("${PYSTACK_CMD[@]}" --version 2>&1 | head -1) || die "PYSTACK=${PYSTACK:-}: ${PYSTACK_CMD[0]} does not run"
	say "pystack $PYSTACK_VERSION (${PYSTACK_CMD[*]})"
else
	PYSTACK_VERSION="not installed"
	say "pystack: NOT INSTALLED (not on PATH, PYSTACK unset): its rows are left out"
fi

if [ -n "${PYCORE_BENCH_DIR:-}" ]; then
	WORK=$PYCORE_BENCH_DIR
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/pycore-bench.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
fi
WORK=$(cd "$WORK" && pwd)
mkdir -p "$WORK/bin" "$WORK/cores" "$WORK/corpus" "$WORK/runs"

say "building pycore"
(cd "$REPO" && go build -o "$WORK/bin/pycore" ./cmd/pycore)
PYCORE=$WORK/bin/pycore

# --- interpreters: a wrapper script each, named pyenv-3.12 or debian-3.14 -------------
INTERPS=()
PYGDB=() # name=path of python-gdb.py, pyenv builds only

add_pyenv() { # minor
	local dir
	dir=$(ls -d "$PYENV_ROOT/versions/$1".* 2>/dev/null | sort -V | tail -1 || true)
	[ -n "$dir" ] && [ -x "$dir/bin/python$1" ] || die "pyenv CPython $1 not found under $PYENV_ROOT/versions (pyenv install $1)"
	local name=pyenv-$1
	printf '#!/bin/sh\nexec %q "$@"\n' "$dir/bin/python$1" >"$WORK/bin/$name"
	chmod +x "$WORK/bin/$name"
	INTERPS+=("$name")
	[ -f "$dir/bin/python$1-gdb.py" ] && PYGDB+=("$name=$dir/bin/python$1-gdb.py")
	eval "EXE_${name//[.-]/_}=\$dir/bin/python\$1"
}

add_debian() { # minor
	local json
	json=$(ls "$CACHE/$1"-*/pycore-python.json 2>/dev/null | grep -v -- "$1t-" | head -1 || true)
	[ -n "$json" ] || die "Debian CPython $1 not in $CACHE: run testdata/pythons/fetch.sh"
	local name=debian-$1
	python3 - "$json" >"$WORK/bin/$name" <<'EOF'
import json, shlex, sys
d = json.load(open(sys.argv[1]))
env = " ".join(shlex.quote("%s=%s" % kv) for kv in d.get("env", {}).items())
print("#!/bin/sh")
print('exec env %s %s "$@"' % (env, " ".join(shlex.quote(a) for a in d["argv"])))
EOF
	chmod +x "$WORK/bin/$name"
	INTERPS+=("$name")
	local exe
	exe=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["exe"])' "$json")
	printf -v "EXE_${name//[.-]/_}" '%s' "$exe"
}

add_pyenv 3.8
add_pyenv 3.12
add_pyenv 3.13
add_debian 3.14
add_debian 3.15

# run_for_core DIR CMD...: runs CMD in DIR with core dumps on and prints the core's path.
run_for_core() {
	local dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && ulimit -c unlimited && exec env -u PYTHONHOME -u PYTHONSTARTUP LC_ALL=C.UTF-8 "$@") >"$dir/out.txt" 2>&1 || true
	local c
	c=$(ls "$dir"/core* 2>/dev/null | head -1 || true)
	[ -n "$c" ] || die "no core from '$*' in $dir: $(tail -3 "$dir/out.txt")"
	echo "$c"
}

# --- cores ------------------------------------------------------------------------------
SMALL=()
for i in "${INTERPS[@]}"; do
	core=$WORK/cores/small-$i.core
	if [ ! -s "$core" ]; then
		say "small core: $i"
		c=$(run_for_core "$WORK/runs/small-$i" "$WORK/bin/$i" "$REPO/bench/small.py" ready abort)
		mv "$c" "$core"
	fi
	SMALL+=("$i")
done

LARGE=$WORK/cores/large-pyenv-3.12.core
if [ ! -s "$LARGE" ]; then
	say "large core: pyenv-3.12, 200 threads 50-500 frames deep, 1.1 GiB heap"
	c=$(MALLOC_ARENA_MAX=2 run_for_core "$WORK/runs/large" "$WORK/bin/pyenv-3.12" "$REPO/bench/big.py" ready abort 200 1100)
	mv "$c" "$LARGE"
fi

# The same heap with 4 threads: what the core's size costs apart from the stacks walked.
HEAP=$WORK/cores/heap-pyenv-3.12.core
if [ ! -s "$HEAP" ]; then
	say "heap core: pyenv-3.12, 4 threads, 1.1 GiB heap"
	c=$(MALLOC_ARENA_MAX=2 run_for_core "$WORK/runs/heap" "$WORK/bin/pyenv-3.12" "$REPO/bench/big.py" ready abort 4 1100)
	mv "$c" "$HEAP"
fi

have=$(ls "$WORK/corpus" | grep -c '\.core$' || true)
if [ "$have" -lt "$CORPUS_N" ]; then
	say "corpus: $CORPUS_N cores of testdata/scenarios/report (have $have)"
	scen=(segv_worker abort_main callback_abort)
	n=$have
	while [ "$n" -lt "$CORPUS_N" ]; do
		# Two at a time: the machine has two CPUs to spare at most.
		for slot in 0 1; do
			k=$((n + slot))
			[ "$k" -lt "$CORPUS_N" ] || break
			i=${INTERPS[$((k % ${#INTERPS[@]}))]}
			s=${scen[$((k / ${#INTERPS[@]} % ${#scen[@]}))]}
			(
				c=$(PYTHONPATH=$REPO/testdata/scenarios run_for_core "$WORK/runs/corpus-$k" "$WORK/bin/$i" "$REPO/testdata/scenarios/report/$s.py" oracle.json abort)
				mv "$c" "$WORK/corpus/$(printf '%03d' "$k")-$i-$s.core"
				rm -rf "$WORK/runs/corpus-$k"
			) &
		done
		wait
		n=$((n + 2))
	done
fi
CORPUS=$WORK/corpus
corpus_n=$(ls "$CORPUS" | grep -c '\.core$')

# --- measurements -------------------------------------------------------------------------
RES=$WORK/results.tsv # name, mean s, stddev s, CPU s (user+system), peak RSS KiB
: >"$RES"

# rss RUNS CMD...: peak RSS in KiB (the largest of RUNS runs), from /usr/bin/time -v.
rss() {
	local runs=$1 max=0 r
	shift
	for _ in $(seq "$runs"); do
		r=$(/usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')
		[ -n "$r" ] && [ "$r" -gt "$max" ] && max=$r
	done
	echo "$max"
}

# measure NAME RUNS CMD...: wall time (hyperfine's mean and standard deviation over RUNS
# runs after warm-up; one run timed by /usr/bin/time when RUNS is 1) and peak RSS.
measure() {
	local name=$1 runs=$2
	shift 2
	local stats rss_kib
	if [ "$runs" -eq 1 ]; then
		local out
		local e u sy m
		read -r e u sy m < <(/usr/bin/time -f '%e %U %S %M' "$@" 2>&1 >/dev/null | tail -1)
		stats=$(printf '%s\t0\t%s' "$e" "$(echo "$u + $sy" | bc -l)")
		rss_kib=$m
	else
		local json=$WORK/hf.json
		hyperfine -N --style basic --warmup 2 --runs "$runs" --export-json "$json" "$(printf '%q ' "$@")" >&2
		stats=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.6f\t%.6f\t%.6f" % (r["mean"], r.get("stddev") or 0, r["user"] + r["system"]))' "$json")
		rss_kib=$(rss 3 "$@")
	fi
	printf '%s\t%s\t%s\n' "$name" "$stats" "$rss_kib" >>"$RES"
	printf '%s: %s s (mean, stddev, CPU), %s KiB\n' "$name" "$stats" "$rss_kib" >&2
}

EVAL_EXPRS=('runtime.interpreters.head->id' 'tstate->thread_id' '*frame')

for i in "${SMALL[@]}"; do
	core=$WORK/cores/small-$i.core
	say "small core $i"
	measure "small $i: threads" "$RUNS_SMALL" "$PYCORE" threads "$core"
	measure "small $i: threads --json" "$RUNS_SMALL" "$PYCORE" threads --json "$core"
	measure "small $i: eval" "$RUNS_SMALL" "$PYCORE" eval "$core" "${EVAL_EXPRS[@]}"
done

say "large core"
measure "large pyenv-3.12: threads" "$RUNS_LARGE" "$PYCORE" threads "$LARGE"
measure "large pyenv-3.12: threads --json" "$RUNS_LARGE" "$PYCORE" threads --json "$LARGE"
measure "large pyenv-3.12: eval" "$RUNS_LARGE" "$PYCORE" eval "$LARGE" "${EVAL_EXPRS[@]}"

say "heap core"
measure "heap pyenv-3.12: threads" "$RUNS_LARGE" "$PYCORE" threads "$HEAP"
measure "heap pyenv-3.12: threads --json" "$RUNS_LARGE" "$PYCORE" threads --json "$HEAP"

say "report over $corpus_n cores"
measure "corpus ($corpus_n cores): report -j 1" 3 "$PYCORE" report -j 1 --format json -o /dev/null "$CORPUS"
measure "corpus ($corpus_n cores): report -j 2" 3 "$PYCORE" report -j 2 --format json -o /dev/null "$CORPUS"

gdb_bt() { # name core
	local py=""
	for e in "${PYGDB[@]}"; do [ "${e%%=*}" = "$1" ] && py=${e#*=}; done
	[ -n "$py" ] || return 0
	local exe_var=EXE_${1//[.-]/_}
	measure "$3: gdb py-bt" "$4" gdb -q -batch -nx -iex 'set debuginfod enabled off' \
		-ex "source $py" -ex 'thread apply all py-bt' "${!exe_var}" "$2"
}
for i in "${SMALL[@]}"; do
	say "gdb py-bt, small core $i"
	gdb_bt "$i" "$WORK/cores/small-$i.core" "small $i" "$RUNS_GDB"
done
if [ "$QUICK" != 1 ]; then
	say "gdb py-bt, heap core"
	gdb_bt pyenv-3.12 "$HEAP" "heap pyenv-3.12" 1
	say "gdb py-bt, large core (minutes)"
	gdb_bt pyenv-3.12 "$LARGE" "large pyenv-3.12" 1
fi

pystack_core() { # interp core label runs
	[ ${#PYSTACK_CMD[@]} -gt 0 ] || return 0
	local exe_var=EXE_${1//[.-]/_}
	local argv=("${PYSTACK_CMD[@]}" core --no-color "$2" "${!exe_var}")
	# pystack 1.7.0 cannot read 3.15 cores: say so and go on rather than stop the run.
	if ! "${argv[@]}" >/dev/null 2>"$WORK/pystack.err"; then
		say "pystack fails on $3: $(grep -v "^[[:space:]]*$" "$WORK/pystack.err" | tail -1)"
		printf '%s: pystack core\tfails\t0\t0\t0\n' "$3" >>"$RES"
		return 0
	fi
	measure "$3: pystack core" "$4" "${argv[@]}"
}
for i in "${SMALL[@]}"; do
	say "pystack core, small core $i"
	pystack_core "$i" "$WORK/cores/small-$i.core" "small $i" "$RUNS_SMALL"
done
say "pystack core, heap core"
pystack_core pyenv-3.12 "$HEAP" "heap pyenv-3.12" "$RUNS_GDB"
if [ "$QUICK" != 1 ]; then
	say "pystack core, large core"
	pystack_core pyenv-3.12 "$LARGE" "large pyenv-3.12" 1
fi

# --- summary ------------------------------------------------------------------------------
python3 - "$RES" "$WORK/cores" "$CORPUS" >"$WORK/results.md" <<'EOF'
import os, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {r[0]: r for r in rows}
def size(p):
    st = os.stat(p)
    return "%.0f MiB (%.0f MiB on disk)" % (st.st_size / 2**20, st.st_blocks * 512 / 2**20)
def dur(s):
    return "%.1f ms" % (s * 1e3) if s < 10 else "%.1f s" % s
print("| measurement | wall time (mean ± σ) | CPU (user+sys) | peak RSS | gdb py-bt / pycore threads (wall, CPU) | pystack core / pycore threads (wall, CPU) |")
print("|---|---|---|---|---|---|")
for name, mean, sd, cpu, rss in rows:
    if mean == "fails":
        print("| %s | fails | | | | |" % name)
        continue
    mean, sd, cpu = float(mean), float(sd), float(cpu)
    ratios = []
    for other in ("gdb py-bt", "pystack core"):
        g = by.get(name[: -len(": threads")] + ": " + other) if name.endswith(": threads") else None
        ratios.append("%.0fx, %.0fx" % (float(g[1]) / mean, float(g[3]) / cpu) if g and g[1] != "fails" else "")
    print("| %s | %s ± %s | %s | %.1f MiB | %s | %s |" % (name, dur(mean), dur(sd), dur(cpu), int(rss) / 1024, ratios[0], ratios[1]))
print()
for f in sorted(os.listdir(sys.argv[2])):
    print("- %s: %s" % (f, size(os.path.join(sys.argv[2], f))))
cores = [os.path.join(sys.argv[3], f) for f in os.listdir(sys.argv[3]) if f.endswith(".core")]
total = sum(os.stat(c).st_size for c in cores)
print("- corpus: %d cores, %.1f GiB" % (len(cores), total / 2**30))
EOF
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r), $(date -u +%Y-%m-%d)"
echo "pycore $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?'), $(go version | cut -d' ' -f3), hyperfine $(hyperfine --version | cut -d' ' -f2), $(gdb --version | head -1), pystack $PYSTACK_VERSION, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
cat "$WORK/results.md"
