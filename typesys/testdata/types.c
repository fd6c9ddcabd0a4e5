/*
 * types.c: globals of every C type kind typesys models, for typesys's tests.
 *
 * Usage: types ORACLE_PATH {abort|wait}
 *
 * The program fills its globals, writes ORACLE_PATH (JSON: the address of each
 * global and the value of each checked expression, as this program sees them),
 * then either aborts (SIGABRT: the kernel writes a core) or creates
 * ORACLE_PATH.ready and waits to be dumped by gcore and killed.
 *
 * Values are printed as the C program computes them, never as the test
 * expects them: the test compares what typesys reads from the core with this.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum color { RED = 1, GREEN = 2, BLUE = -5 };
/* All enumerators non-negative and one above INT_MAX: gcc makes it unsigned. */
enum big { BIG_A = 0, BIG_B = 0xfffffff0u };

typedef enum color color_t;
typedef int myint;
typedef myint myint2;
typedef myint2 myint3;
typedef const volatile myint3 cvint;

struct bits {
	unsigned int a : 3;
	signed int b : 5;
	unsigned int c : 12;
	unsigned int pad : 11;
	signed int d : 1; /* the top bit of its unit: DWARF 2/3 bit_offset 0 */
	int after_bits;
	unsigned long long e : 40;
	signed long long f : 23;
	unsigned char g : 2;
	unsigned long long h : 63; /* straddles a byte boundary of an 8-byte unit */
	signed char last : 3;      /* the last byte of the struct */
};

/* Packed: bitfields that straddle their type's natural units. */
struct packed_bits {
	unsigned char x : 3;
	unsigned long long y : 62; /* bits 3..64: nine bytes hold it */
	signed int z : 17;
} __attribute__((packed));

struct point {
	int x;
	int y;
};
typedef struct point point_t;

typedef int (*binop)(int, int);

struct node {
	int kind;
	union { /* anonymous union of anonymous structs */
		struct {
			int ival;
			short sval;
		};
		struct {
			double dval;
			point_t pt;
		};
		char tag[8];
	};
	struct { /* a named member of an anonymous struct type, with bitfields */
		unsigned flag : 1;
		unsigned level : 4;
		int delta : 6;
	} st;
	struct node *next;
	binop op;
	const char *name;
	char buf[16];
	point_t pts[3];
	color_t color;
	const volatile int cv;
};

typedef struct { /* named only by its typedef, as CPython's PyASCIIObject */
	int len;
	struct {
		unsigned kind : 3;
		unsigned ready : 1;
	} state;
} tdanon_t;

struct flex {
	int n;
	long items[]; /* flexible array member */
};

union number {
	int64_t i;
	double d;
	unsigned char bytes[8];
	uint32_t halves[2];
};

struct text {
	char nonul[4]; /* no NUL inside: CString must stop at the array's end */
	char after[4];
};

int add(int a, int b) { return a + b; }
int sub(int a, int b) { return a - b; }

struct node g_nodes[3] = {
	{.kind = 1, .ival = -42, .sval = -7, .st = {1, 9, -20}, .next = &g_nodes[1], .op = add,
	 .name = "first", .buf = "buf-one", .pts = {{1, 2}, {3, 4}, {5, 6}}, .color = RED, .cv = 11},
	{.kind = 2, .dval = 2.5, .pt = {-8, 9}, .st = {0, 15, 31}, .next = &g_nodes[2], .op = sub,
	 .name = "second", .buf = "0123456789abcde", .pts = {{7, 8}, {9, 10}, {11, 12}}, .color = GREEN, .cv = -12},
	{.kind = 3, .tag = "tagtag!", .st = {1, 0, -32}, .next = NULL, .op = NULL,
	 .name = NULL, .buf = "", .pts = {{0, 0}, {0, 0}, {-1, -1}}, .color = BLUE, .cv = 13},
};
struct node *g_head = &g_nodes[0];
tdanon_t g_tdanon = {5, {4, 1}};
point_t *g_pp = &g_nodes[1].pts[0];
struct bits g_bits;
struct packed_bits g_packed;
struct flex *g_flex;
union number g_num;
const char *g_str = "hello, world";
char g_long[300];
struct text g_text = {{'a', 'b', 'c', 'd'}, {'X', 'Y', 0, 0}};
binop g_ops[2] = {add, sub};
float g_f32 = 1.5f;
double g_f64 = -2.25e10;
_Bool g_bool = 1;
int8_t g_i8 = -100;
uint8_t g_u8 = 200;
int16_t g_i16 = -30000;
uint16_t g_u16 = 60000;
int32_t g_i32 = -2000000000;
uint32_t g_u32 = 4000000000u;
int64_t g_i64 = INT64_MIN;
uint64_t g_u64 = UINT64_MAX;
myint3 g_td = 42;
cvint g_cv = -7;
long g_grid[2][3] = {{1, 2, 3}, {4, 5, 6}};
enum big g_big = BIG_B;
color_t g_color = BLUE;
char *g_null = NULL;
char *g_edge; /* ten chars and no NUL before an unmapped page */

static FILE *out;
static int first = 1;

static void key(const char *k) {
	fprintf(out, "%s\n  \"%s\": ", first ? "" : ",", k);
	first = 0;
}
static void addr(const char *k, const void *p) {
	key(k);
	fprintf(out, "\"0x%lx\"", (unsigned long)p);
}
static void i64(const char *k, long long v) {
	key(k);
	fprintf(out, "\"%lld\"", v);
}
static void u64(const char *k, unsigned long long v) {
	key(k);
	fprintf(out, "\"%llu\"", v);
}
static void dbl(const char *k, double v) {
	key(k);
	fprintf(out, "\"%.17g\"", v);
}
/* str prints a JSON string; the test strings are printable ASCII. */
static void str(const char *k, const char *s, size_t n) {
	key(k);
	fputc('"', out);
	for (size_t i = 0; i < n && s[i]; i++)
		fputc(s[i], out);
	fputc('"', out);
}

int main(int argc, char **argv) {
	if (argc != 3 || (strcmp(argv[2], "abort") && strcmp(argv[2], "wait"))) {
		fprintf(stderr, "usage: %s ORACLE_PATH {abort|wait}\n", argv[0]);
		return 2;
	}
	g_bits.a = 4; /* bit 0 clear: reading d from bit 0 would fail */
	g_bits.pad = 0x2aa;
	g_bits.b = -7;
	g_bits.c = 3000;
	g_bits.d = -1;
	g_bits.after_bits = 0x5a5a5a5a;
	g_bits.e = 0xABCDEF1234ULL;
	g_bits.f = -1234567;
	g_bits.g = 3;
	g_bits.h = 0x5555555555555555ULL;
	g_bits.last = -3;
	g_packed.x = 6;
	g_packed.y = 0x2AAAAAAAAAAAAAAAULL | (1ULL << 61);
	g_packed.z = -65536;
	g_flex = malloc(sizeof(struct flex) + 5 * sizeof(long));
	g_flex->n = 5;
	for (int i = 0; i < 5; i++)
		g_flex->items[i] = (long)(i + 1) * -1000003L;
	g_num.d = 3.5;
	char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || munmap(pages + 4096, 4096) != 0) {
		perror("mmap");
		return 1;
	}
	memset(pages + 4086, 'e', 10);
	g_edge = pages + 4086;
	memset(g_long, 'x', sizeof g_long - 1);
	g_long[sizeof g_long - 1] = 0;

	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
	out = fopen(tmp, "w");
	if (!out) {
		perror(tmp);
		return 1;
	}
	fputs("{", out);
	addr("&g_nodes", g_nodes);
	addr("&g_head", &g_head);
	addr("&g_pp", &g_pp);
	addr("&g_bits", &g_bits);
	addr("&g_packed", &g_packed);
	addr("&g_flex", &g_flex);
	addr("&g_num", &g_num);
	addr("&g_str", &g_str);
	addr("&g_long", g_long);
	addr("&g_text", &g_text);
	addr("&g_ops", g_ops);
	addr("&g_f32", &g_f32);
	addr("&g_f64", &g_f64);
	addr("&g_bool", &g_bool);
	addr("&g_i8", &g_i8);
	addr("&g_u8", &g_u8);
	addr("&g_i16", &g_i16);
	addr("&g_u16", &g_u16);
	addr("&g_i32", &g_i32);
	addr("&g_u32", &g_u32);
	addr("&g_i64", &g_i64);
	addr("&g_u64", &g_u64);
	addr("&g_td", &g_td);
	addr("&g_cv", (const void *)(uintptr_t)&g_cv);
	addr("&g_grid", g_grid);
	addr("&g_big", &g_big);
	addr("&g_color", &g_color);
	addr("&g_null", &g_null);
	addr("add", (void *)add);
	addr("sub", (void *)sub);

	i64("sizeof(struct node)", sizeof(struct node));
	i64("sizeof(struct bits)", sizeof(struct bits));
	i64("sizeof(struct flex)", sizeof(struct flex));
	i64("sizeof(union number)", sizeof(union number));
	i64("offsetof(struct node, dval)", __builtin_offsetof(struct node, dval));
	i64("offsetof(struct node, sval)", __builtin_offsetof(struct node, sval));
	i64("offsetof(struct node, pt.y)", __builtin_offsetof(struct node, pt.y));
	i64("offsetof(struct node, st)", __builtin_offsetof(struct node, st));
	i64("offsetof(struct node, pts)", __builtin_offsetof(struct node, pts));

	for (int i = 0; i < 3; i++) {
		char k[64];
		struct node *n = &g_nodes[i];
#define K(fmt) (snprintf(k, sizeof k, "g_nodes[%d]." fmt, i), k)
		i64(K("kind"), n->kind);
		i64(K("ival"), n->ival);
		i64(K("sval"), n->sval);
		dbl(K("dval"), n->dval);
		i64(K("pt.x"), n->pt.x);
		i64(K("pt.y"), n->pt.y);
		if (n->kind == 3) /* the union holds the tag */
			str(K("tag"), n->tag, sizeof n->tag);
		u64(K("st.flag"), n->st.flag);
		u64(K("st.level"), n->st.level);
		i64(K("st.delta"), n->st.delta);
		addr(K("next"), n->next);
		addr(K("op"), (void *)n->op);
		addr(K("name"), n->name);
		if (n->name) {
			char kk[64];
			snprintf(kk, sizeof kk, "*g_nodes[%d].name", i);
			str(kk, n->name, 256);
		}
		str(K("buf"), n->buf, sizeof n->buf);
		for (int j = 0; j < 3; j++) {
			char kk[64];
			snprintf(kk, sizeof kk, "g_nodes[%d].pts[%d].x", i, j);
			i64(kk, n->pts[j].x);
			snprintf(kk, sizeof kk, "g_nodes[%d].pts[%d].y", i, j);
			i64(kk, n->pts[j].y);
		}
		i64(K("color"), n->color);
		i64(K("cv"), n->cv);
#undef K
	}
	i64("g_head->next->next->kind", g_head->next->next->kind);
	i64("g_head->next->pt.y", g_head->next->pt.y);
	i64("g_pp[2].y", g_pp[2].y);
	i64("(g_pp+1)->x", (g_pp + 1)->x);
	addr("g_pp+2", g_pp + 2);
	i64("&g_nodes[2] - &g_nodes[0]", &g_nodes[2] - &g_nodes[0]);

	u64("g_bits.a", g_bits.a);
	i64("g_bits.b", g_bits.b);
	u64("g_bits.c", g_bits.c);
	u64("g_bits.pad", g_bits.pad);
	i64("g_bits.d", g_bits.d);
	i64("g_bits.after_bits", g_bits.after_bits);
	u64("g_bits.e", g_bits.e);
	i64("g_bits.f", g_bits.f);
	u64("g_bits.g", g_bits.g);
	u64("g_bits.h", g_bits.h);
	i64("g_bits.last", g_bits.last);

	u64("g_packed.x", g_packed.x);
	u64("g_packed.y", g_packed.y);
	i64("g_packed.z", g_packed.z);
	i64("sizeof(struct packed_bits)", sizeof(struct packed_bits));
	i64("g_flex->n", g_flex->n);
	for (int i = 0; i < 5; i++) {
		char k[64];
		snprintf(k, sizeof k, "g_flex->items[%d]", i);
		i64(k, g_flex->items[i]);
	}
	i64("g_num.i", g_num.i);
	dbl("g_num.d", g_num.d);
	u64("g_num.bytes[7]", g_num.bytes[7]);
	u64("g_num.halves[1]", g_num.halves[1]);
	str("*g_str", g_str, 256);
	str("*g_edge", g_edge, 10);
	addr("&g_edge", &g_edge);
	str("g_long", g_long, sizeof g_long);
	str("g_text.nonul", g_text.nonul, sizeof g_text.nonul);
	str("g_text.after", g_text.after, sizeof g_text.after);
	addr("g_ops[0]", (void *)g_ops[0]);
	addr("g_ops[1]", (void *)g_ops[1]);
	dbl("g_f32", g_f32);
	dbl("g_f64", g_f64);
	u64("g_bool", g_bool);
	i64("g_i8", g_i8);
	u64("g_u8", g_u8);
	i64("g_i16", g_i16);
	u64("g_u16", g_u16);
	i64("g_i32", g_i32);
	u64("g_u32", g_u32);
	i64("g_i64", g_i64);
	u64("g_u64", g_u64);
	i64("g_td", g_td);
	i64("g_cv", g_cv);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++) {
			char k[64];
			snprintf(k, sizeof k, "g_grid[%d][%d]", i, j);
			i64(k, g_grid[i][j]);
		}
	u64("g_big", g_big);
	i64("g_color", g_color);
	fputs("\n}\n", out);
	if (fclose(out) != 0 || rename(tmp, argv[1]) != 0) {
		perror(argv[1]);
		return 1;
	}

	if (!strcmp(argv[2], "abort"))
		abort();
	snprintf(tmp, sizeof tmp, "%s.ready", argv[1]);
	FILE *ready = fopen(tmp, "w");
	if (!ready) {
		perror(tmp);
		return 1;
	}
	fclose(ready);
	for (;;)
		pause();
}
