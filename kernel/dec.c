/* dec.c: the one u64-to-decimal routine every pure module and the kernel share (base.h). */
#include "base.h"

size_t u64_to_dec(char out[U64_DEC_MAX], uint64_t v)
{
    char tmp[U64_DEC_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}
