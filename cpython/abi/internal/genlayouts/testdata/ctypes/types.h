#include <stdatomic.h>
#include <stdint.h>

/* Only declared here: a.c sees struct _ts as declaration-only, b.c defines it. */
struct _ts;
typedef struct _ts PyThreadState;

typedef struct _object {
	long ob_refcnt;
	struct _typeobject *ob_type;
} PyObject;

typedef struct _typeobject {
	PyObject ob_base;
	const char *tp_name;
} PyTypeObject;

typedef PyObject AliasOfObject; /* a typedef of a root's typedef */

typedef struct {
	PyObject ob_base;
	union { /* anonymous: members are named as Root's own */
		int64_t u_i;
		double u_d;
	};
	struct {
		unsigned int a : 2;
		unsigned int b : 3;
		unsigned int c : 1;
	} state;
	_Atomic int counter;
	atomic_uintptr_t addr;
	PyThreadState *tstate;
	struct _ts *tstate2;
	const volatile AliasOfObject *alias;
	int grid[2][3];
	struct { int x; } pairs[4];
	PyObject objs[2];
	void (*callback)(void);
	void (*callbacks[3])(int);
	PyObject **items;
	enum { RED, GREEN } color;
	_Bool flag;
	unsigned char uc;
	signed char sc;
	uint16_t *codeunits;
	long double ld;
	struct { struct { struct { struct { int deep5; } l4; } l3; } l2; } l1;
	char tail[];
} Root;
