/* grow.c: doubling arrays (grow.h). */
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>

void *vqh_grow(void *arr, size_t *cap, size_t n, size_t size)
{
    size_t want;
    void *p;

    if (n < *cap)
        return arr;
    want = *cap ? *cap * 2 : 8;
    p = realloc(arr, want * size);
    if (!p) {
        fprintf(stderr, "vqhammer: out of memory\n");
        abort();
    }
    *cap = want;
    return p;
}
