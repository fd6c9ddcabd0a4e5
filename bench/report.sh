#!/usr/bin/env bash
# Cores per second of `pycore report` over at least 200 distinct real cores (the four
# crash sites of testdata/scenarios/report under three Python versions: kernel cores and
# one gcore hang dump in ten), with -j 1 and -j 2. The cores are made first (about 20 s,
# ~3.5 GB under $TMPDIR) and removed at the end, unless PYCORE_BENCH_DIR names a directory
# to make them in and keep (a later run reuses them).
#
#   bench/report.sh                       # 200 cores, each setting run 3 times
#   PYCORE_BENCH_CORES=500 bench/report.sh -benchtime 1x
#
# Extra arguments go to `go test`. The result is the cores/s column.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go test ./e2e -run '^$' -bench '^BenchmarkReport$' -benchtime 3x -count 1 "$@"
