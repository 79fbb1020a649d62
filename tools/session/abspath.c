/* abspath.c: realpath without the PATH_MAX-sized buffer contract. */
#include "abspath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool abspath_resolve(const char *in, char *out, size_t cap)
{
    char *r = realpath(in, NULL);
    if (!r)
        return false;
    size_t n = strlen(r);
    if (n >= cap) {
        free(r);
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(out, r, n + 1);
    free(r);
    return true;
}
