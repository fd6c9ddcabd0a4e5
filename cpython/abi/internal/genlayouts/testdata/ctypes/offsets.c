#include <stddef.h>
#include <stdio.h>
#include "types.h"

#define P(path) printf("%s %zu\n", #path, offsetof(Root, path))

int main(void) {
	printf("sizeof %zu\n", sizeof(Root));
	P(ob_base); P(ob_base.ob_refcnt); P(ob_base.ob_type); P(u_i); P(u_d); P(state);
	P(counter); P(addr); P(tstate); P(tstate2); P(alias); P(grid); P(pairs); P(objs);
	P(callback); P(callbacks); P(items); P(color); P(flag); P(uc); P(sc); P(codeunits);
	P(ld); P(l1); P(l1.l2); P(l1.l2.l3); P(l1.l2.l3.l4); P(tail);
	return 0;
}
