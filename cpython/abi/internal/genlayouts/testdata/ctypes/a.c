/* Type shapes the generator must spell right, compiled by ctypes_test.go with
 * gcc -g into a shared object; offsets.c prints the offsetof() oracle. */
#include "types.h"

Root root_instance;
PyThreadState *ts_a;
PyTypeObject *type_a; /* gcc emits only the typedefs a unit uses */
