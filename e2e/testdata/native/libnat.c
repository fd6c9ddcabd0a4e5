/* A C library loaded through ctypes by nat.py: it blocks in poll() 3 calls
   deep, calls back into Python 3 calls deep, and starts a thread of its
   own that never runs Python; the poll() is in two inlined functions. Built -O2 -g -fomit-frame-pointer by the
   test, so only CFI can unwind it. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static volatile int sink;

/* Inlined into nat_block_inner, for inlined frames: gdb's bt lists
   nat_poll_inl and nat_wait_inl as frames of their own at its pc. */
static inline __attribute__((always_inline)) void nat_poll_inl(int n) { sink += n; poll(0, 0, -1); sink++; }
static inline __attribute__((always_inline)) void nat_wait_inl(int n) { sink++; nat_poll_inl(n * 2); sink++; }
__attribute__((noinline)) void nat_block_inner(int n) { nat_wait_inl(n); sink += n; }
__attribute__((noinline)) void nat_block_mid(int n) { nat_block_inner(n + 1); sink++; }
__attribute__((noinline)) void nat_block_outer(int n) { nat_block_mid(n + 1); sink++; }

typedef void (*callback)(int);
__attribute__((noinline)) void nat_cb_inner(callback cb, int n) { cb(n); sink++; }
__attribute__((noinline)) void nat_cb_mid(callback cb, int n) { nat_cb_inner(cb, n + 1); sink++; }
__attribute__((noinline)) void nat_cb_outer(callback cb, int n) { nat_cb_mid(cb, n + 1); sink++; }

static void *c_thread(void *arg) { (void)arg; nat_block_outer(100); return 0; }

int nat_start_c_thread(void) {
	pthread_t t;
	return pthread_create(&t, 0, c_thread, 0);
}

/* Crashes 3 calls deep: a store through a near-NULL pointer. */
struct rec { long pad[2]; long v; };
__attribute__((noinline)) void nat_crash_inner(struct rec *r) { r->v = 1; sink++; }
__attribute__((noinline)) void nat_crash_mid(struct rec *r) { nat_crash_inner(r); sink++; }
__attribute__((noinline)) void nat_crash_outer(void) { nat_crash_mid((struct rec *)0); sink++; }

/* The other faults, each in a function of its own 3 calls deep: SIGBUS
   (a page of a mapping past its file's end: nat_bus_page is the address
   touched), SIGILL (ud2) and SIGFPE (an integer divide by zero). */
volatile long nat_bus_page;
__attribute__((noinline)) void nat_bus_inner(const char *path) {
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) return;
	long pg = sysconf(_SC_PAGESIZE);
	if (ftruncate(fd, pg) != 0) return;
	char *p = mmap(0, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) return;
	nat_bus_page = (long)(p + pg);
	p[pg] = 1; /* past the file's end */
	sink++;
}
__attribute__((noinline)) void nat_ill_inner(void) { __builtin_trap(); }
__attribute__((noinline)) int nat_fpe_inner(volatile int d) { return 100 / d + sink; }
__attribute__((noinline)) void nat_fault_mid(int kind, const char *path) {
	if (kind == 0) nat_bus_inner(path);
	else if (kind == 1) nat_ill_inner();
	else sink += nat_fpe_inner(0);
	sink++;
}
__attribute__((noinline)) void nat_fault_outer(int kind, const char *path) { nat_fault_mid(kind, path); sink++; }

/* A library's own crash handler (SA_SIGINFO, run once): it re-raises, so the
   core's siginfo is the raise's (SI_TKILL) and only the siginfo the kernel
   gave this handler, on its stack, has the fault. nat_last_info keeps it
   for gdb to print; nat_last_uc puts glibc's ucontext_t in this library's
   DWARF, for gdb to read any signal frame with. */
siginfo_t *volatile nat_last_info;
ucontext_t *volatile nat_last_uc;
static void nat_on_signal(int sig, siginfo_t *info, void *uc) { nat_last_uc = uc; nat_last_info = info; raise(sig); sink++; }
int nat_install_handler(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = nat_on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	return sigaction(SIGSEGV, &sa, 0);
}
