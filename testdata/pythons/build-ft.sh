#!/usr/bin/env bash
# build-ft.sh: build free-threaded CPython (./configure --disable-gil) from Debian's source
# packages into ${PYCORE_CACHE:-$HOME/.cache/pycore}/pythons/MINORt-SUITE, once. No Debian
# package ships a free-threaded interpreter for this machine, so tests build their own.
#
# The source is the upstream tarball of Debian's source package (`apt-get source
# --download-only python3.X/SUITE` through a private apt configuration with a deb-src line,
# as fetch.sh does for binaries); Debian's patches are not applied. The build is a plain
# release build: configure's default flags (-g -O3), so the executable keeps its DWARF;
# libpython is linked statically into bin/python3.Xt; no PGO, no LTO, no tests. It takes
# 2-3 minutes per version on two cores, and ~0.01 s once ROOT/pycore-python.json exists
# (written last, by the interpreter itself, like fetch.sh's).
#
# The json's env sets MIMALLOC_ARENA_RESERVE=16MiB: free-threaded CPython allocates through
# mimalloc, which reserves 1 GiB arenas by default, and gcore would write all of it.
#
# Usage: build-ft.sh [MINOR...]   (default: 3.13)
#
# 3.14 is known but not built by default: the mirror these tests run against serves
# python3.14's binary packages but not its source package (404 for the .dsc and the
# orig tarball, forky and sid alike, when this was written).
set -euo pipefail

# version:suite pairs; the suite whose source package is built.
ALL="3.13:trixie 3.14:forky"
DEFAULT="3.13"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MIRROR=${PYCORE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${PYCORE_CACHE:-$HOME/.cache/pycore}/pythons

die() { echo "build-ft.sh: $*" >&2; exit 1; }

for tool in apt-get:apt tar:tar xz:xz-utils make:make gcc:gcc readelf:binutils flock:util-linux; do
	command -v "${tool%%:*}" >/dev/null || die "${tool%%:*} not found (apt-get install ${tool##*:})"
done
[ -r "$KEYRING" ] || die "$KEYRING missing: apt-get install debian-archive-keyring"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (got $(uname -m))"

want=("$@")
selected=()
[ ${#want[@]} -gt 0 ] || read -r -a want <<<"$DEFAULT"
for pair in $ALL; do
	minor=${pair%%:*}
	take=0
	for w in "${want[@]}"; do [ "$w" = "$minor" ] && take=1; done
	[ $take = 1 ] && selected+=("$pair")
done
[ ${#selected[@]} -gt 0 ] || die "no known version in '$*' (known: $ALL)"

mkdir -p "$CACHE"
# Its own lock: fetch.sh calls this script while holding .fetch.lock.
exec 8>"$CACHE/.build-ft.lock"
flock 8
work=$(mktemp -d "$CACHE/.build-ft.XXXXXX")
trap 'rm -rf "$work"' EXIT

apt_opts() {
	local d=$work/apt/$1
	echo "-o Dir::Etc::SourceList=$d/sources.list -o Dir::Etc::SourceParts=$d/none" \
		"-o Dir::Etc::Preferences=$d/none -o Dir::Etc::PreferencesParts=$d/none" \
		"-o Dir::State::Lists=$d/lists -o Dir::State::Status=$d/status -o Dir::Cache=$d/cache" \
		"-o Debug::NoLocking=1 -o APT::Sandbox::User=root -o Acquire::Languages=none"
}

apt_setup() {
	local suite=$1 d=$work/apt/$1
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/none"
	: >"$d/status"
	echo "deb-src [signed-by=$KEYRING] $MIRROR $suite main" >"$d/sources.list"
	# shellcheck disable=SC2046
	apt-get -qq $(apt_opts "$suite") update >"$d/update.log" 2>&1 ||
		die "apt-get update for $suite failed:
$(cat "$d/update.log")"
	# apt-get update exits 0 when a fetch fails (only warns), so look for the index.
	compgen -G "$d/lists/*_${suite}_main_source_Sources*" >/dev/null ||
		die "apt-get update for $suite fetched no source index from $MIRROR:
$(cat "$d/update.log")"
}

has_section() { readelf -S -W "$1" 2>/dev/null | grep -F " $2 " >/dev/null; }

build_one() {
	local minor=$1 suite=$2
	local root=$CACHE/${minor}t-$suite
	if [ -s "$root/pycore-python.json" ]; then
		printf '%-7s %-9s %s\n' "$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$root/pycore-python.json")t" "$suite" "$root"
		return
	fi
	apt_setup "$suite"
	local src=$work/src/$minor
	mkdir -p "$src"
	# shellcheck disable=SC2046
	(cd "$src" && apt-get -qq $(apt_opts "$suite") source --download-only "python$minor/$suite") >"$src.log" 2>&1 ||
		die "$suite: apt-get source python$minor failed:
$(cat "$src.log")"
	local tarball tree
	tarball=$(compgen -G "$src/python${minor}_*.orig.tar.*" | grep -v '\.asc$' | head -n1 || true)
	[ -n "$tarball" ] || die "$suite: no python${minor}_*.orig.tar.* in the source package: $(ls "$src")"
	tar -xf "$tarball" -C "$src"
	tree=$(compgen -G "$src/Python-$minor.*" | head -n1 || true)
	[ -n "$tree" ] || die "$suite: no Python-$minor.* directory in $tarball"

	local tmp=$root.partial
	rm -rf "$tmp" "$root"
	local jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	echo "build-ft.sh: building $(basename "$tree") --disable-gil with $jobs jobs (2-3 minutes)..." >&2
	(
		cd "$tree"
		./configure --disable-gil --prefix="$root" --without-ensurepip >"$src/configure.log" 2>&1 ||
			die "$suite: configure failed, see the end of it:
$(tail -n 30 "$src/configure.log")"
		make -j"$jobs" >"$src/make.log" 2>&1 || die "$suite: make failed:
$(grep -E 'error|Error' "$src/make.log" | tail -n 30)"
		# The prefix is compiled in: install to ROOT through DESTDIR-less make install,
		# but into the .partial name first so an interrupted run leaves no json behind.
		make install prefix="$tmp" >"$src/install.log" 2>&1 || die "$suite: make install failed:
$(tail -n 30 "$src/install.log")"
	) || exit 1
	# The test suite and the static libraries (~290 MB) are not needed to run it.
	rm -rf "$tmp/lib/python${minor}t/test" "$tmp"/lib/libpython*.a "$tmp/lib/python${minor}t"/config-*/libpython*.a
	mv "$tmp" "$root"

	local exe=$root/bin/python${minor}t
	[ -x "$exe" ] || die "$suite: $exe missing after make install"
	has_section "$exe" .debug_info || die "$suite: $exe has no .debug_info"
	local id
	id=$(readelf -n "$exe" 2>/dev/null | sed -n 's/^ *Build ID: \([0-9a-f]*\)$/\1/p' | head -n1)
	local pie=false
	readelf -h "$exe" | grep 'DYN (' >/dev/null && pie=true

	local out
	out=$(MIMALLOC_ARENA_RESERVE=16MiB PYCORE_ROOT="$root" PYCORE_SUITE="$suite" PYCORE_EXE="$exe" \
		PYCORE_PIE=$pie PYCORE_BUILD_ID="$id" "$exe" -c '
import os, sys, json, sysconfig
import threading, asyncio, ctypes, faulthandler, traceback, ssl, hashlib, lzma, bz2, zlib
e = os.environ
root = e["PYCORE_ROOT"]
if not sys.prefix.startswith(root):
    sys.exit("sys.prefix is %s, outside %s" % (sys.prefix, root))
if not sysconfig.get_config_var("Py_GIL_DISABLED") or "t" not in sys.abiflags:
    sys.exit("not a free-threaded build (abiflags %r)" % sys.abiflags)
if sys._is_gil_enabled():
    sys.exit("the GIL is enabled (PYTHON_GIL set?)")
info = {
    "version": "%d.%d.%d" % sys.version_info[:3],
    "suite": e["PYCORE_SUITE"],
    "abiflags": sys.abiflags,
    "origin": "source-" + e["PYCORE_SUITE"],
    "argv": [e["PYCORE_EXE"]],
    "env": {"MIMALLOC_ARENA_RESERVE": "16MiB"},
    "exe": e["PYCORE_EXE"],
    "debug_dir": "",
    "dwarf_in_exe": True,
    "pie": e["PYCORE_PIE"] == "true",
    "libpython": "",
    "build_id": e["PYCORE_BUILD_ID"],
    "libc": os.confstr("CS_GNU_LIBC_VERSION"),
}
path = os.path.join(root, "pycore-python.json")
with open(path + ".tmp", "w") as f:
    json.dump(info, f, indent=1)
    f.write("\n")
os.rename(path + ".tmp", path)
' 2>&1) || die "$suite: running $exe failed:
$out"
	printf '%-7s %-9s %s\n' "$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$root/pycore-python.json")t" "$suite" "$root"
}

for pair in "${selected[@]}"; do
	build_one "${pair%%:*}" "${pair##*:}"
done
