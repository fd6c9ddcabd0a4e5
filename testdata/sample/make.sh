#!/usr/bin/env bash
# make.sh: remake the sample bundle README.md opens (testdata/sample/sample.pycore.zst)
# and its oracle. Runs sample.py under pyenv's CPython 3.12 until its worker thread
# segfaults, packs the kernel core with stripped copies of python and libpython (as a
# production build would have them), and compresses the bundle.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=${PYTHON:-$HOME/.pyenv/versions/3.12.1/bin/python3.12}
[ -x "$py" ] || { echo "make.sh: $py not found (set PYTHON)" >&2; exit 1; }
[ "$(cat /proc/sys/kernel/core_pattern)" = core ] || { echo "make.sh: needs core_pattern 'core'" >&2; exit 1; }

work=/tmp/pycore-sample
rm -rf "$work"
mkdir -p "$work/run"
cp "$here/sample.py" "$work/run/"
(cd "$work/run" && ulimit -c unlimited && "$py" sample.py "$work/run/oracle.json" || true)
[ -f "$work/run/core" ] || { echo "make.sh: no core was written" >&2; exit 1; }

# Stripped copies of the interpreter's own files, at their recorded paths.
sysroot=$work/sysroot
for f in "$py" "$(dirname "$py")/../lib/libpython3.12.so.1.0"; do
	real=$(readlink -f "$f")
	mkdir -p "$sysroot$(dirname "$real")"
	strip --strip-all -o "$sysroot$real" "$real"
done

(cd "$repo" && go run ./cmd/pycore pack --sysroot "$sysroot" "$work/run/core" -o "$work/sample.pycore")
zstd -q -19 --long=27 -f "$work/sample.pycore" -o "$here/sample.pycore.zst"
cp "$work/run/oracle.json" "$here/sample.oracle.json"
chmod 644 "$here/sample.pycore.zst"
ls -l "$here/sample.pycore.zst"
