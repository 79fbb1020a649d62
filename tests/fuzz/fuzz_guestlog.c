/* fuzz_guestlog.c: libFuzzer target (make fuzz): raw serial bytes through line assembly, parsing,
 * the merger and the reassembly of multi-part messages, as in tests/unit/test_fuzz_guestlog.c.
 * The input is split in two streams (two QEMUs) at its first byte's position. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestlog.h"
#include "guestparts.h"

struct sink {
    struct guestlog_merge *m;
    const char *source;
};

static void sink_line(void *arg, const struct guestlog_line *line)
{
    struct sink *k = arg;
    struct guestlog_msg *msg = NULL;
    struct vqh_err err;
    enum guestlog_parse r = guestlog_parse_line(line, k->source, &msg, &err);
    if (r == GUESTLOG_MSG) {
        if (!msg || !json_is_object(msg->obj) || !msg->type)
            abort();
        guestlog_merge_add(k->m, msg);
    } else if (msg) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guestlog_asm a1, a2;
    struct guestlog_merge *m = guestlog_merge_new(1);
    struct sink k1 = { m, "vm1" }, k2 = { m, "vm2" };
    size_t cut = size ? data[0] * size / 256 : 0;
    guestlog_asm_init(&a1);
    guestlog_asm_init(&a2);
    guestlog_merge_open(m, "vm1");
    guestlog_merge_open(m, "vm2");
    /* interleave the two streams in chunks of 7 and 13 bytes */
    size_t p1 = 0, p2 = cut;
    while (p1 < cut || p2 < size) {
        size_t n1 = cut - p1 < 7 ? cut - p1 : 7, n2 = size - p2 < 13 ? size - p2 : 13;
        guestlog_asm_feed(&a1, data + p1, n1, sink_line, &k1);
        guestlog_asm_feed(&a2, data + p2, n2, sink_line, &k2);
        p1 += n1;
        p2 += n2;
    }
    guestlog_asm_finish(&a1, sink_line, &k1);
    guestlog_asm_finish(&a2, sink_line, &k2);
    guestlog_merge_close(m, "vm1");
    guestlog_merge_close(m, "vm2");
    struct guestlog_event ev;
    struct guestparts *gp = guestparts_new();
    struct guestparts_out o;
    uint64_t last = 0, fed = 0, back = 0;
    while (guestlog_merge_next(m, &ev)) {
        if (ev.kind == GUESTLOG_EV_MSG) {
            if (ev.msg->seq <= last && last)
                abort(); /* out of order */
            last = ev.msg->seq;
            guestparts_add(gp, ev.msg);
            ev.msg = NULL;
            fed++;
        }
        guestlog_event_clear(&ev);
    }
    guestparts_end(gp);
    while (guestparts_next(gp, &o)) {
        if (o.kind == GUESTPARTS_WHOLE && (!o.msg || !json_is_object(o.msg->obj)))
            abort();
        if (o.kind != GUESTPARTS_WHOLE && !o.detail[0])
            abort(); /* an error must say why */
        back += o.kind == GUESTPARTS_WHOLE ? (o.msg->parts ? o.msg->parts : 1) : o.nparts;
        guestparts_out_clear(&o);
    }
    if (back != fed)
        abort(); /* a part lost or invented */
    guestparts_free(gp);
    guestlog_merge_free(m);
    return 0;
}
