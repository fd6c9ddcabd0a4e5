// target is the scenario program for core/'s tests. It starts three worker
// threads, prints an oracle (thread ids, addresses and values of a global, a
// .rodata string and a heap pattern) as "key value" lines, then either
// crashes in worker 2 (argv[1] == "crash") or waits to be dumped by gcore
// ("wait"). Built by the tests with gcc -g -O0 -pthread (PIE).
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef VARIANT
#define VARIANT 0
#endif

#define NTHREADS 3
#define HEAP_SIZE 65536
// Worker 2 writes here to die with SIGSEGV/SEGV_MAPERR at a known address.
#define FAULT_ADDR ((volatile long *)0xdead0000)

long global_counter = 0x1122334455667788L + VARIANT;
const char rodata_message[] = "pycore rodata: read from the file, never from the core";

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started;
static int go_crash;
static pid_t tids[NTHREADS];

static void *worker(void *arg) {
	int id = (int)(intptr_t)arg;
	pthread_mutex_lock(&mu);
	tids[id] = (pid_t)syscall(SYS_gettid);
	started++;
	pthread_cond_broadcast(&cv);
	while (!(go_crash && id == 2))
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	*FAULT_ADDR = 42;
	return NULL;
}

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "wait";
	unsigned char *heap = malloc(HEAP_SIZE);
	for (int i = 0; i < HEAP_SIZE; i++)
		heap[i] = (unsigned char)(i * 7 + 3);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], &attr, worker, (void *)(intptr_t)i);
	pthread_mutex_lock(&mu);
	while (started < NTHREADS)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);

	printf("pid %d\n", (int)getpid());
	printf("main_tid %d\n", (int)syscall(SYS_gettid));
	for (int i = 0; i < NTHREADS; i++)
		printf("thread_tid %d %d\n", i, (int)tids[i]);
	printf("crash_tid %d\n", (int)tids[2]);
	printf("fault_addr %p\n", (void *)FAULT_ADDR);
	printf("global_addr %p\n", (void *)&global_counter);
	printf("global_value %ld\n", global_counter);
	printf("rodata_addr %p\n", (void *)rodata_message);
	printf("rodata_value %s\n", rodata_message);
	printf("heap_addr %p\n", (void *)heap);
	printf("heap_size %d\n", HEAP_SIZE);
	printf("ready\n");
	fflush(stdout);

	if (strcmp(mode, "crash") == 0) {
		pthread_mutex_lock(&mu);
		go_crash = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		for (;;)
			pause();
	}
	for (;;)
		pause();
}
