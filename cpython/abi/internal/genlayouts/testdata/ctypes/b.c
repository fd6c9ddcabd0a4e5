#include "types.h"

struct _ts {
	struct _ts *next;
	long thread_id;
};

struct _ts ts_b;
