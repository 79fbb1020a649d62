/* grow.h: doubling arrays for the host tool. */
#ifndef VQH_GROW_H
#define VQH_GROW_H

#include <stddef.h>

/* arr with room for at least n + 1 elements of size bytes (*cap is its capacity, updated): the
 * same pointer while there is room, else a doubled copy. Out of memory aborts with a message: a
 * host that cannot keep the guest's log cannot say anything true about the run. */
void *vqh_grow(void *arr, size_t *cap, size_t n, size_t size);

#endif
