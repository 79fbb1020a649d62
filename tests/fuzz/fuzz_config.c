/* fuzz_config.c: libFuzzer target (make fuzz): the guest configuration parser, as in
 * tests/unit/test_fuzz_config.c but with coverage guidance for long runs. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    struct config_error err;
    config_defaults(&cfg);
    if (!config_parse(&cfg, (const char *)data, size, &err) || !config_validate(&cfg, &err)) {
        if (!err.message[0] || !memchr(err.message, 0, sizeof(err.message)))
            abort();
        return 0;
    }
    struct msg m;
    char line[WIRE_LINE_MAX + 32];
    msg_begin(&m, "hello");
    config_to_msg(&cfg, &m, "config");
    size_t n = msg_format_line(&m, 1, line, sizeof(line));
    json_t *obj = n ? json_loads(strchr(line, '{'), 0, NULL) : NULL;
    if (!obj)
        abort(); /* hello must stay valid JSON whatever was configured */
    json_decref(obj);
    return 0;
}
