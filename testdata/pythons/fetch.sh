#!/usr/bin/env bash
# fetch.sh: fill ${PYCORE_CACHE:-$HOME/.cache/pycore}/pythons/ with Debian's release builds of
# CPython plus their detached debug info, one root directory per version, without touching
# the system: a private apt configuration per suite, `apt-get download`, `dpkg -x`.
#
# Each finished root holds pycore-python.json, which internal/pytest reads to run the
# interpreter. The json is written last, so its presence marks a complete root and a second
# run is a fast no-op. See README.md next to this script for what the packages contain.
#
# For the minors in KEEP_DEBUG the root also keeps Debian's Py_DEBUG interpreter python3.Xd
# (from python3.X-dbg, with its *-3Xd-* extension modules), described by
# pycore-python-d.json next to the release build's json.
#
# Usage: fetch.sh [MINOR...]   (default: all of 3.9 3.11 3.13 3.14 3.15, sid's gdb, and the
#                               free-threaded builds of build-ft.sh)
set -euo pipefail

# version:suite pairs; every package is selected as pkg/suite, never by exact version.
ALL="3.9:bullseye 3.11:bookworm 3.13:trixie 3.14:forky 3.15:sid"
# Minors whose Py_DEBUG interpreter is kept: one before the debug offsets (3.11: pycore's
# tables must be the debug build's) and one with them (3.13).
KEEP_DEBUG="3.11 3.13"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MIRROR=${PYCORE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${PYCORE_CACHE:-$HOME/.cache/pycore}/pythons
ARCH_LIBS=x86_64-linux-gnu

die() { echo "fetch.sh: $*" >&2; exit 1; }

for tool in apt-get:apt apt-cache:apt dpkg:dpkg readelf:binutils flock:util-linux; do
	command -v "${tool%%:*}" >/dev/null || die "${tool%%:*} not found (apt-get install ${tool##*:}; this script needs a Debian-like system)"
done
[ -r "$KEYRING" ] || die "$KEYRING missing: apt-get install debian-archive-keyring"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (got $(uname -m))"

want=("$@")
selected=()
for pair in $ALL; do
	minor=${pair%%:*}
	take=$((${#want[@]} == 0))
	for w in "${want[@]}"; do [ "$w" = "$minor" ] && take=1; done
	[ $take = 1 ] && selected+=("$pair")
done
[ ${#selected[@]} -gt 0 ] || die "no known version in '$*' (known: $ALL)"

mkdir -p "$CACHE"
# Two runs at once (parallel CI jobs) would extract into the same ROOT.partial.
exec 9>"$CACHE/.fetch.lock"
flock 9
work=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

# root_of MINOR SUITE: the directory a version is extracted into.
root_of() { echo "$CACHE/$1-$2"; }

# summary ROOT: the one line printed per interpreter of ROOT.
summary() {
	local json v s a
	for json in "$1"/pycore-python*.json; do
		# The json is written by describe with one key per line, so sed is enough.
		v=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$json")
		s=$(sed -n 's/^ *"suite": "\(.*\)",$/\1/p' "$json")
		a=$(sed -n 's/^ *"abiflags": "\(.*\)",$/\1/p' "$json")
		printf '%-7s %-9s %s\n' "$v$a" "$s" "$1"
	done
}

# apt_opts SUITE: a private apt configuration, one per suite so that dependency resolution
# picks that suite's candidates (with all suites in one list, apt would prefer sid's).
apt_opts() {
	local d=$work/apt/$1
	echo "-o Dir::Etc::SourceList=$d/sources.list -o Dir::Etc::SourceParts=$d/none" \
		"-o Dir::Etc::Preferences=$d/none -o Dir::Etc::PreferencesParts=$d/none" \
		"-o Dir::State::Lists=$d/lists -o Dir::State::Status=$d/status -o Dir::Cache=$d/cache" \
		"-o Debug::NoLocking=1 -o APT::Sandbox::User=root -o Acquire::Languages=none" \
		"-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false" \
		"-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false" \
		"-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false" \
		"-o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
}

apt_setup() {
	local suite=$1 d=$work/apt/$1
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/none"
	: >"$d/status"
	echo "deb [signed-by=$KEYRING] $MIRROR $suite main" >"$d/sources.list"
	# shellcheck disable=SC2046
	apt-get -qq $(apt_opts "$suite") update >"$d/update.log" 2>&1 ||
		die "apt-get update for $suite failed:
$(cat "$d/update.log")"
	# apt-get update exits 0 when a fetch fails (only warns), so look for the index.
	compgen -G "$d/lists/*_${suite}_main_binary-amd64_Packages*" >/dev/null ||
		die "apt-get update for $suite fetched no package index from $MIRROR:
$(cat "$d/update.log")"
}

# library_closure SUITE PKG...: the shared-library packages the given packages need,
# recursively, in SUITE. Only lib* and zlib1g are kept: the rest of the closure (tzdata,
# debconf, perl, ...) is data or tooling the interpreter does not load.
library_closure() {
	local suite=$1
	shift
	# shellcheck disable=SC2046
	apt-cache $(apt_opts "$suite") depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances "$@" |
		grep -v '^ ' | grep -v '^<' | sort -u |
		grep -E '^(lib|zlib1g$)' |
		grep -Ev '^(libpython|libperl|libdebian-installer|libnewt|libslang|libtextwrap|libselinux|libpcre|libacl|libstdc\+\+|libgdbm-compat|libc-gconv-modules-extra)'
}

# keeps_debug MINOR: whether the Py_DEBUG interpreter of MINOR is kept.
keeps_debug() {
	local m
	for m in $KEEP_DEBUG; do [ "$m" = "$1" ] && return 0; done
	return 1
}

# prune_debug_build ROOT MINOR: python3.X-dbg also ships the Py_DEBUG interpreter
# (python3.Xd, *-3Xd-* extension modules), ~150 MB; it is kept only for KEEP_DEBUG.
prune_debug_build() {
	local root=$1 minor=$2 nodot=${2/./}
	if ! keeps_debug "$minor"; then
		rm -f "$root/usr/bin/python${minor}d" "$root/usr/bin/python${minor}-dbg"
		find "$root/usr/lib" -name "*-${nodot}d-*.so" -delete 2>/dev/null || true
	fi
	rm -f "$root"/usr/bin/*python${minor}d-config "$root"/usr/bin/*python${minor}-dbg-config
	rm -rf "$root/usr/lib/python${minor}/config-${minor}d-"* \
		"$root/usr/lib/$ARCH_LIBS"/libpython${minor}d.* \
		"$root/usr/include/python${minor}d" "$root/usr/share/doc" "$root/usr/share/man"
}

# build_id ELF: the GNU build ID of ELF in hex, or "" if it has none.
# has_section ELF NAME: whether ELF has a section NAME. grep reads all of readelf's output
# (no -q): an early exit would kill readelf with SIGPIPE and fail the pipeline.
has_section() { readelf -S -W "$1" 2>/dev/null | grep -F " $2 " >/dev/null; }

build_id() { readelf -n "$1" 2>/dev/null | sed -n 's/^ *Build ID: \([0-9a-f]*\)$/\1/p' | head -n1; }

fetch_one() {
	local minor=$1 suite=$2
	local root tmp
	root=$(root_of "$minor" "$suite")
	if [ -s "$root/pycore-python.json" ] && { ! keeps_debug "$minor" || [ -s "$root/pycore-python-d.json" ]; }; then
		summary "$root"
		return
	fi
	[ -d "$work/apt/$suite" ] || apt_setup "$suite"

	# The libraries come from the runtime packages only: python3.X-dbg's own dependencies
	# (the Py_DEBUG build, tk, ...) are not needed for its detached debug files.
	local runtime=(python$minor-minimal libpython$minor-minimal libpython$minor-stdlib)
	local top=("${runtime[@]}" python$minor-dbg)
	# The Py_DEBUG interpreter's extension modules are in python3.X-dbg up to bookworm,
	# in libpython3.X-dbg from trixie on.
	keeps_debug "$minor" && top+=(libpython$minor-dbg)
	local libs
	libs=$(library_closure "$suite" "${runtime[@]}") ||
		die "$suite: resolving the libraries of ${runtime[*]} failed"
	# The host (bookworm) libc runs bullseye and bookworm binaries; newer suites need their
	# own libc and loader (their binaries reference newer GLIBC_2.x symbol versions).
	case $suite in
	bullseye | bookworm) libs=$(echo "$libs" | grep -Ev '^(libc6|libgcc-s1|libcrypt1)$' || true) ;;
	esac
	local pkgs=()
	for p in "${top[@]}" $libs; do pkgs+=("$p/$suite"); done

	local dl=$work/deb/$minor
	mkdir -p "$dl"
	# shellcheck disable=SC2046
	(cd "$dl" && apt-get -qq $(apt_opts "$suite") download "${pkgs[@]}") >"$dl.log" 2>&1 ||
		die "$suite: apt-get download ${pkgs[*]} failed:
$(cat "$dl.log")"

	tmp=$root.partial
	rm -rf "$tmp"
	mkdir -p "$tmp"
	for deb in "$dl"/*.deb; do
		dpkg -x "$deb" "$tmp" || die "$suite: dpkg -x $deb failed"
	done
	prune_debug_build "$tmp" "$minor"
	rm -rf "$dl"

	local exe=$tmp/usr/bin/python$minor
	[ -x "$exe" ] || die "$suite: $exe missing after extracting ${top[*]}"

	# The release binary's detached debug file must be in python3.X-dbg, found by build ID.
	local id dbg
	id=$(build_id "$exe")
	[ -n "$id" ] || die "$suite: $exe has no build ID note"
	dbg=$tmp/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
	[ -f "$dbg" ] || die "$suite: python$minor-dbg has no debug file for build ID $id (looked for $dbg)"
	[ "$(build_id "$dbg")" = "$id" ] || die "$suite: $dbg has build ID $(build_id "$dbg"), want $id"
	has_section "$dbg" .debug_info || die "$suite: $dbg has no .debug_info"

	# How to run it, in the final location (the paths go into the json).
	local libpath="$root/lib/$ARCH_LIBS:$root/usr/lib/$ARCH_LIBS"
	local argv=() envs=()
	local loader=""
	for cand in "$tmp/usr/lib/$ARCH_LIBS/ld-linux-x86-64.so.2" "$tmp/lib/$ARCH_LIBS/ld-linux-x86-64.so.2" "$tmp/lib64/ld-linux-x86-64.so.2"; do
		if [ -e "$cand" ]; then
			loader=${cand/#$tmp/$root}
			break
		fi
	done
	case $suite in
	bullseye | bookworm)
		argv=("$root/usr/bin/python$minor")
		envs=("LD_LIBRARY_PATH=$libpath")
		;;
	*)
		[ -n "$loader" ] || die "$suite: no ld-linux-x86-64.so.2 in the extracted libc6"
		argv=("$loader" --library-path "$libpath" "$root/usr/bin/python$minor")
		;;
	esac
	local dwarf=false
	has_section "$exe" .debug_info && dwarf=true
	local pie=false
	readelf -h "$exe" | grep 'DYN (' >/dev/null && pie=true
	local libpython=""
	libpython=$(readelf -d "$exe" | sed -n 's/.*Shared library: \[\(libpython[^]]*\)\].*/\1/p')

	if keeps_debug "$minor"; then
		[ -x "$tmp/usr/bin/python${minor}d" ] || die "$suite: python$minor-dbg has no usr/bin/python${minor}d"
		compgen -G "$tmp/usr/lib/python$minor/lib-dynload/_ctypes.cpython-${minor/./}d-*.so" >/dev/null ||
			die "$suite: no Py_DEBUG extension modules (_ctypes.cpython-${minor/./}d-*.so) in ${top[*]}"
		has_section "$tmp/usr/bin/python${minor}d" .debug_info || die "$suite: python${minor}d has no .debug_info"
	fi

	rm -rf "$root"
	mv "$tmp" "$root"

	describe "$root" "$suite" "" "$root/usr/bin/python$minor" "$dwarf" "$pie" "$libpython" "$id" "${envs[@]}" -- "${argv[@]}"
	if keeps_debug "$minor"; then
		# The Py_DEBUG interpreter: run the same way, DWARF in the executable itself.
		local dexe=$root/usr/bin/python${minor}d dargv=("${argv[@]}")
		dargv[${#dargv[@]} - 1]=$dexe
		local dpie=false
		readelf -h "$dexe" | grep 'DYN (' >/dev/null && dpie=true
		describe "$root" "$suite" d "$dexe" true "$dpie" "" "$(build_id "$dexe")" "${envs[@]}" -- "${dargv[@]}"
	fi
	summary "$root"
}

# describe ROOT SUITE ABIFLAGS EXE DWARF PIE LIBPYTHON BUILD_ID [ENV...] -- ARGV...: run the
# interpreter once and let it write ROOT/pycore-python.json (pycore-python-d.json for
# ABIFLAGS d). This checks that it starts, finds its stdlib under ROOT and imports what the
# scenarios use; writing the json from Python means no jq is needed.
describe() {
	local root=$1 suite=$2 abiflags=$3 exe=$4 dwarf=$5 pie=$6 libpython=$7 id=$8
	shift 8
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	local argv=("$@") json=pycore-python.json
	[ -n "$abiflags" ] && json=pycore-python-$abiflags.json
	local out
	out=$(env "${envs[@]}" PYCORE_ARGV="$(printf '%s\n' "${argv[@]}")" PYCORE_ENV="$(printf '%s\n' "${envs[@]}")" \
		PYCORE_ROOT="$root" PYCORE_SUITE="$suite" PYCORE_EXE="$exe" PYCORE_ABIFLAGS="$abiflags" \
		PYCORE_DWARF=$dwarf PYCORE_PIE=$pie PYCORE_LIBPYTHON="$libpython" PYCORE_BUILD_ID="$id" \
		PYCORE_JSON="$json" "${argv[@]}" -c '
import os, sys, json
import threading, asyncio, ctypes, json, faulthandler, traceback, ssl, hashlib, lzma, bz2, zlib
e = os.environ
root = e["PYCORE_ROOT"]
if not sys.prefix.startswith(root + "/"):
    sys.exit("sys.prefix is %s, outside %s: it would use the wrong stdlib" % (sys.prefix, root))
if not os.__file__.startswith(root + "/"):
    sys.exit("os imported from %s, outside %s" % (os.__file__, root))
if sys.abiflags != e["PYCORE_ABIFLAGS"]:
    sys.exit("sys.abiflags is %r, want %r" % (sys.abiflags, e["PYCORE_ABIFLAGS"]))
env = {}
for kv in e["PYCORE_ENV"].split("\n"):
    if kv:
        k, v = kv.split("=", 1)
        env[k] = v
info = {
    "version": "%d.%d.%d" % sys.version_info[:3],
    "suite": e["PYCORE_SUITE"],
    "abiflags": sys.abiflags,
    "argv": [a for a in e["PYCORE_ARGV"].split("\n") if a],
    "env": env,
    "exe": e["PYCORE_EXE"],
    "debug_dir": root + "/usr/lib/debug",
    "dwarf_in_exe": e["PYCORE_DWARF"] == "true",
    "pie": e["PYCORE_PIE"] == "true",
    "libpython": e["PYCORE_LIBPYTHON"],
    "build_id": e["PYCORE_BUILD_ID"],
    "libc": os.confstr("CS_GNU_LIBC_VERSION"),
}
path = os.path.join(root, e["PYCORE_JSON"])
with open(path + ".tmp", "w") as f:
    json.dump(info, f, indent=1)
    f.write("\n")
os.rename(path + ".tmp", path)
' 2>&1) || die "$suite: running ${argv[*]} failed (env ${envs[*]:-none}):
$out"
}

# fetch_gdb: sid's gdb, run through sid's loader like the interpreters. The host's gdb 13
# cannot gcore a process on glibc 2.42+ (forky, sid): it zero-fills the thread-stack pages
# it fails to read next to the new madvise guard regions, losing the frames stored there.
# Tests make every gcore with this gdb; `ROOT/gdb` is a wrapper script around it.
fetch_gdb() {
	local suite=sid root=$CACHE/gdb-sid tmp
	if [ -x "$root/gdb" ]; then
		printf '%-6s %-9s %s\n' gdb "$suite" "$root/gdb"
		return
	fi
	[ -d "$work/apt/$suite" ] || apt_setup "$suite"
	local pkgs=() p
	# shellcheck disable=SC2046
	for p in $(apt-cache $(apt_opts "$suite") depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances gdb |
		grep -v '^ ' | grep -v '^<' | sort -u | grep -E '^(gdb$|lib|zlib1g$)'); do
		pkgs+=("$p/$suite")
	done
	local dl=$work/deb/gdb
	mkdir -p "$dl"
	# shellcheck disable=SC2046
	(cd "$dl" && apt-get -qq $(apt_opts "$suite") download "${pkgs[@]}") >"$dl.log" 2>&1 ||
		die "gdb: apt-get download failed:
$(cat "$dl.log")"
	tmp=$root.partial
	rm -rf "$tmp"
	mkdir -p "$tmp"
	for deb in "$dl"/*.deb; do
		dpkg -x "$deb" "$tmp" || die "gdb: dpkg -x $deb failed"
	done
	rm -rf "$dl" "$tmp/usr/share/doc" "$tmp/usr/share/man"
	local loader="" cand
	for cand in usr/lib/$ARCH_LIBS/ld-linux-x86-64.so.2 lib/$ARCH_LIBS/ld-linux-x86-64.so.2; do
		if [ -e "$tmp/$cand" ]; then
			loader=$cand
			break
		fi
	done
	[ -n "$loader" ] || die "gdb: no ld-linux-x86-64.so.2 in sid's libc6"
	local pyhome
	pyhome=$(cd "$tmp/usr/lib" && compgen -G 'python3.*' | head -n1 || true)
	cat >"$tmp/gdb" <<WRAPPER
#!/bin/sh
# sid's gdb under sid's loader (made by testdata/pythons/fetch.sh).
PYTHONHOME=$root/usr exec $root/$loader --library-path $root/lib/$ARCH_LIBS:$root/usr/lib/$ARCH_LIBS $root/usr/bin/gdb -nx "\$@"
WRAPPER
	chmod +x "$tmp/gdb"
	rm -rf "$root"
	mv "$tmp" "$root"
	"$root/gdb" --version >/dev/null 2>&1 || { rm -rf "$root"; die "gdb: $root/gdb does not run (python home ${pyhome:-none})"; }
	printf '%-6s %-9s %s\n' gdb "$suite" "$root/gdb"
}

for pair in "${selected[@]}"; do
	fetch_one "${pair%%:*}" "${pair##*:}"
done
if [ ${#want[@]} -eq 0 ]; then
	fetch_gdb
	"$(dirname "$0")/build-ft.sh"
fi
