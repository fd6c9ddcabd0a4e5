/* A small program for the detached-debug tests: prints the runtime
 * addresses of a global, a static (local-symbol) function and main, then
 * waits on stdin. VARIANT changes the code, hence the build ID. */
#include <stdio.h>

#ifndef VARIANT
#define VARIANT 0
#endif

struct widget {
	int a;
	long b;
};

struct widget global_widget = {1, VARIANT};

static int __attribute__((noinline)) helper(int x)
{
	return x * 3 + VARIANT;
}

int main(void)
{
	printf("%p %p %p\n", (void *)&global_widget, (void *)&helper, (void *)&main);
	fflush(stdout);
	getchar();
	return helper(global_widget.a) & 0;
}
