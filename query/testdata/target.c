/* A program whose globals exercise every kind of type and operator the
 * expression language has. It writes what it knows about them (the oracle)
 * as JSON, then waits to be dumped (gcore) or aborts (kernel core).
 * Usage: target ORACLE {wait|abort} */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum color { RED, GREEN = 5, BLUE };
enum sign { NEGATIVE = -1, POSITIVE = 1 };

struct point {
	int x, y;
};

struct link {
	struct link *next;
};

struct node {
	int value;
	struct node *next;
	struct link link; /* for container_of */
};

struct flags {
	unsigned a : 3;
	unsigned b : 5;
	signed c : 4;
	unsigned long d : 40;
};

struct request {
	int id;
	char name[16];
	const char *label;
	union {
		long as_long;
		double as_double;
		struct {
			short lo, hi;
		} parts;
	};
	struct point pts[3];
	enum color color;
	enum sign sign;
	struct flags fl;
	int (*handler)(int);
	unsigned char bytes[4];
	uint8_t raw[4];
	double ratio;
	float f;
	_Bool ok;
	struct request *self;
	void *opaque;
	long grid[2][3];
	short neg_short;
	unsigned short big_ushort;
};

typedef struct request request_t;

int handler_fn(int x) { return x + 1; }

struct request req = {
	.id = 42,
	.name = "alpha",
	.label = "a label with \"quotes\"",
	.as_long = 0x12340002000AL,
	.pts = {{1, 2}, {3, 4}, {5, 6}},
	.color = GREEN,
	.sign = NEGATIVE,
	.fl = {.a = 5, .b = 17, .c = -3, .d = 0xABCDEF1234UL},
	.handler = handler_fn,
	.bytes = {'x', 'y', 0, 'z'},
	.raw = {1, 2, 3, 250},
	.ratio = 2.5,
	.f = 0.25f,
	.ok = 1,
	.opaque = (void *)0x1234,
	.grid = {{1, 2, 3}, {4, 5, 6}},
	.neg_short = -7,
	.big_ushort = 65000,
};
request_t *req_ptr = &req;
int numbers[8] = {10, 20, 30, 40, 50, 60, 70, 80};
struct node nodes[5];
struct node *list_head = &nodes[0];
struct node ring[3];
long negative = -42;
unsigned long big_unsigned = 0xfedcba9876543210UL;
char *greeting = "hello, world";
char *null_str;
int *bad_ptr = (int *)0x10;
static int file_static = 7;
int zero = 0;
/* Declared, then defined: DWARF gives the definition by DW_AT_specification. */
extern long declared_first;
long declared_first = 99;
__thread int per_thread = 3;
/* C11 atomics: DW_TAG_atomic_type, which debug/dwarf does not resolve itself. */
_Atomic long atomic_counter = 5;
typedef _Atomic unsigned long atomic_word;
struct with_atomic {
	int before;
	atomic_word word;
} with_atomic = {1, 0xabc};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s ORACLE {wait|abort}\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 5; i++) {
		nodes[i].value = 100 + i;
		nodes[i].next = i < 4 ? &nodes[i + 1] : NULL;
		nodes[i].link.next = i < 4 ? &nodes[i + 1].link : NULL;
	}
	for (int i = 0; i < 3; i++) {
		ring[i].value = i;
		ring[i].next = &ring[(i + 1) % 3];
	}
	req.self = &req;
	FILE *f = fopen(argv[1], "w");
	if (!f)
		return 2;
	fprintf(f, "{\n");
	fprintf(f, "\"req\": \"%lu\",\n", (unsigned long)&req);
	fprintf(f, "\"numbers\": \"%lu\",\n", (unsigned long)numbers);
	fprintf(f, "\"nodes\": \"%lu\",\n", (unsigned long)nodes);
	fprintf(f, "\"ring\": \"%lu\",\n", (unsigned long)ring);
	fprintf(f, "\"handler_fn\": \"%lu\",\n", (unsigned long)handler_fn);
	fprintf(f, "\"greeting\": \"%lu\",\n", (unsigned long)greeting);
	fprintf(f, "\"file_static\": \"%lu\",\n", (unsigned long)&file_static);
	fprintf(f, "\"declared_first\": \"%lu\",\n", (unsigned long)&declared_first);
	fprintf(f, "\"per_thread\": \"%d\",\n", per_thread);
	fprintf(f, "\"sizeof_request\": \"%zu\",\n", sizeof(struct request));
	fprintf(f, "\"sizeof_node\": \"%zu\",\n", sizeof(struct node));
	fprintf(f, "\"offsetof_label\": \"%zu\",\n", offsetof(struct request, label));
	fprintf(f, "\"offsetof_parts_hi\": \"%zu\",\n", offsetof(struct request, parts.hi));
	fprintf(f, "\"offsetof_link\": \"%zu\",\n", offsetof(struct node, link));
	fprintf(f, "\"offsetof_pts\": \"%zu\",\n", offsetof(struct request, pts));
	fprintf(f, "\"fl_d\": \"%lu\",\n", (unsigned long)req.fl.d);
	fprintf(f, "\"fl_c\": \"%d\",\n", (int)req.fl.c);
	fprintf(f, "\"parts_hi\": \"%d\",\n", (int)req.parts.hi);
	fprintf(f, "\"pid\": \"%d\"\n", (int)getpid());
	fprintf(f, "}\n");
	fclose(f);
	if (strcmp(argv[2], "abort") == 0)
		abort();
	/* Tell the test we are ready, then wait to be dumped and killed. */
	char ready[4096];
	snprintf(ready, sizeof ready, "%s.ready", argv[1]);
	FILE *r = fopen(ready, "w");
	if (r)
		fclose(r);
	for (;;)
		pause();
}
