/* A program whose threads block 3 calls deep, one of them inside a signal
   handler, built -O2 -fomit-frame-pointer so only CFI can unwind it. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile int sink;

__attribute__((noinline)) void nat_block_inner(int n) {
	poll(NULL, 0, -1);
	sink += n;
}
__attribute__((noinline)) void nat_block_mid(int n) { nat_block_inner(n + 1); sink++; }
__attribute__((noinline)) void nat_block_outer(int n) { nat_block_mid(n + 1); sink++; }

static void handler(int sig) { nat_block_outer(sig); }

__attribute__((noinline)) void nat_sig_inner(void) { raise(SIGUSR1); sink++; }
__attribute__((noinline)) void nat_sig_outer(void) { nat_sig_inner(); sink++; }

static void *worker(void *arg) {
	(void)arg;
	nat_sig_outer();
	return NULL;
}

int main(void) {
	pthread_t t;
	signal(SIGUSR1, handler);
	pthread_create(&t, NULL, worker, NULL);
	sleep(1);
	printf("ready\n");
	fflush(stdout);
	nat_block_outer(1);
	return 0;
}
