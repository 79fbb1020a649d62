/* fuzz_state.c: libFuzzer target (make fuzz): `verify-image --state` logs, as in
 * tests/unit/test_fuzz_state.c. The input is written to a file and loaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verify_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof(path), "/tmp/vqh-fuzz-state-%d.log", (int)getpid());
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct verify_image_state st;
    struct vqh_err err;
    if (verify_image_load_state(path, NULL, -1, &st, &err)) {
        uint64_t next = 0;
        for (size_t i = 0; i < st.nruns; i++) {
            if (!st.runs[i].count || st.runs[i].lba < next || st.runs[i].lba + st.runs[i].count < st.runs[i].lba)
                abort(); /* the promises verify-image relies on */
            next = st.runs[i].lba + st.runs[i].count;
        }
        verify_image_state_free(&st);
    } else if (!strstr(err.msg, path)) {
        abort(); /* an error names the file */
    }
    return 0;
}
