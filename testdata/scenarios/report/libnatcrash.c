/* libnatcrash.c: the C bugs of the native_* report scenarios, loaded through
   ctypes. The harness builds it -O2 -g -fomit-frame-pointer next to a scenario
   that names libnatcrash.so. One function per line: a frame's line is its
   function's (the report tests read the lines from this file). */
#include <stdlib.h>

static volatile long sink;

struct rec { long pad[2]; long v; };

/* A store through a bad record pointer, 3 calls deep: SIGSEGV at p + 16. */
__attribute__((noinline)) void nat_crash_inner(struct rec *r) { r->v = 1; sink++; }
__attribute__((noinline)) void nat_crash_mid(struct rec *r) { nat_crash_inner(r); sink++; }
__attribute__((noinline)) void nat_crash_outer(struct rec *r) { nat_crash_mid(r); sink++; }

/* A failed consistency check that aborts, 2 calls deep: SIGABRT. */
__attribute__((noinline)) void nat_check_fail(long v) { if (v <= 0) abort(); sink += v; }
__attribute__((noinline)) void nat_check(long v) { nat_check_fail(v - 1); sink++; }
