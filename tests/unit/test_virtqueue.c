/*
 * test_virtqueue.c: the virtqueue driver (drivers/virtqueue.c, vq_split.c, vq_packed.c) against a
 * fake device that shares its ring memory (fake_vdev.c, fake_vdev_packed.c) and checks the driver
 * side of the spec on every pop. The format-neutral tests run twice, split and packed (their
 * cmocka name ends in the format); the rest test one format's own layout and rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "virtqueue.h"
#include "fake_vdev.c" /* the Makefile links one source per test: pull the fake device in */
#include "fake_vdev_packed.c"

/* "Guest memory": rings, indirect tables and buffers, seen by the device at ARENA_PHYS. */
#define ARENA_BYTES (1u << 20)
#define ARENA_PHYS 0x40000000ull
#define CANARY 64
#define MAXREQ 64
#define OUT_BYTES 64
#define IN_BYTES 64
#define TABLE_MAX 16

static bool PACKED; /* ring format of the running test */
static const bool FMT_SPLIT = false, FMT_PACKED = true;

/* Format-neutral tests get the format as their cmocka state. */
static void use_format(void **state)
{
    PACKED = state && *state ? *(const bool *)*state : false;
}

static uint8_t arena[ARENA_BYTES] __attribute__((aligned(4096)));
static size_t arena_top;

static void *aalloc(size_t n, size_t align)
{
    arena_top = ALIGN_UP(arena_top, align);
    void *p = arena + arena_top;
    arena_top += n;
    assert_true(arena_top <= ARENA_BYTES);
    return p;
}

static uint64_t pa(const void *p)
{
    return ARENA_PHYS + (uint64_t)((const uint8_t *)p - arena);
}

struct req {
    uint8_t *out, *in;     /* arena buffers */
    struct vq_desc *table; /* arena indirect table */
    uint32_t out_len, in_len, expect_len, seq;
    uint16_t head;
    bool busy;
};

static struct harness {
    struct virtqueue vq;
    struct fake_vdev dev;
    uint8_t *ring;
    size_t ring_bytes;
    void *state;
    struct req req[MAXREQ];
    uint64_t rng;
} H;

static uint32_t rnd(uint32_t n) /* xorshift64: deterministic, uniform enough for 0..n-1 */
{
    H.rng ^= H.rng << 13;
    H.rng ^= H.rng >> 7;
    H.rng ^= H.rng << 17;
    return (uint32_t)(H.rng % n);
}

/* The driver must not write past vq_ring_bytes(). */
static void check_canary(void)
{
    for (int i = 0; H.ring && i < CANARY; i++)
        assert_int_equal(H.ring[H.ring_bytes + i], 0xa5);
}

static int teardown(void **state)
{
    (void)state;
    free(H.state);
    H.state = NULL;
    check_canary();
    return 0;
}

static struct harness *setup_h(uint16_t size, bool event_idx, bool indirect, uint16_t ind_max)
{
    teardown(NULL); /* tests that set up twice */
    memset(&H, 0, sizeof(H));
    H.rng = 0x9e3779b97f4a7c15ull;
    arena_top = 0;
    H.ring_bytes = vq_ring_bytes(size, PACKED);
    H.ring = aalloc(H.ring_bytes + CANARY, 4096);
    memset(H.ring + H.ring_bytes, 0xa5, CANARY);
    H.state = malloc(vq_state_bytes(size, PACKED)); /* outside the arena: ASan sees overruns */
    assert_non_null(H.state);
    struct vq_config cfg = {size, event_idx, indirect, ind_max, PACKED};
    assert_int_equal(vq_init(&H.vq, &cfg, H.ring, pa(H.ring), H.state), 0);
    if (PACKED)
        fvd_init_packed(&H.dev, arena, ARENA_PHYS, ARENA_BYTES, vq_desc_phys(&H.vq),
                        vq_avail_phys(&H.vq), vq_used_phys(&H.vq), size, event_idx, indirect);
    else
        fvd_init(&H.dev, arena, ARENA_PHYS, ARENA_BYTES, vq_desc_phys(&H.vq), vq_avail_phys(&H.vq),
                 vq_used_phys(&H.vq), size, event_idx, indirect);
    for (int i = 0; i < MAXREQ; i++) {
        H.req[i].out = aalloc(OUT_BYTES, 8);
        H.req[i].in = aalloc(IN_BYTES, 8);
        H.req[i].table = aalloc(TABLE_MAX * sizeof(struct vq_desc), 16);
    }
    return &H;
}

static struct req *free_req(struct harness *h)
{
    for (int i = 0; i < MAXREQ; i++)
        if (!h->req[i].busy)
            return &h->req[i];
    return NULL;
}

static struct req *req_by_head(struct harness *h, uint16_t head)
{
    for (int i = 0; i < MAXREQ; i++)
        if (h->req[i].busy && h->req[i].head == head)
            return &h->req[i];
    fail_msg("no request with head %u", head);
    return NULL;
}

/* Posts r with its out bytes (a pattern of seq) split over n_out buffers, in over n_in. */
static int add_req(struct harness *h, struct req *r, unsigned n_out, unsigned n_in, bool indirect)
{
    struct vq_buf b[TABLE_MAX];
    r->out_len = n_out ? n_out * 8 + 3 : 0;
    r->in_len = n_in ? n_in * 8 + 5 : 0;
    for (uint32_t i = 0; i < r->out_len; i++)
        r->out[i] = (uint8_t)(r->seq * 7 + i);
    memset(r->in, 0xee, IN_BYTES);
    for (unsigned i = 0; i < n_out; i++)
        b[i] = (struct vq_buf){.addr = pa(r->out + 8 * i), .len = i + 1 < n_out ? 8 : 11};
    for (unsigned i = 0; i < n_in; i++)
        b[n_out + i] = (struct vq_buf){.addr = pa(r->in + 8 * i), .len = i + 1 < n_in ? 8 : 13};
    int rc = vq_add(&h->vq, b, n_out, n_in, r, indirect ? r->table : NULL, pa(r->table));
    if (rc >= 0) {
        r->head = (uint16_t)rc;
        r->busy = true;
    }
    return rc;
}

static uint8_t resp_byte(const struct req *r, uint32_t i)
{
    return (uint8_t)(r->out[i % r->out_len] ^ 0x5a ^ r->seq);
}

/* Device: checks what the driver offered, answers len bytes, and returns the request. */
static struct req *serve(struct harness *h, uint16_t head, uint32_t len)
{
    struct req *r = req_by_head(h, head);
    struct fvd_req *fr = fvd_req(&h->dev, head);
    uint8_t buf[IN_BYTES];
    assert_non_null(fr);
    assert_int_equal(fr->in_total, r->in_len);
    assert_int_equal(fvd_read(&h->dev, head, buf, sizeof(buf)), r->out_len);
    assert_memory_equal(buf, r->out, r->out_len);
    for (uint32_t i = 0; i < len; i++)
        buf[i] = resp_byte(r, i);
    assert_int_equal(fvd_write(&h->dev, head, buf, len), len);
    r->expect_len = len;
    return r;
}

/* Driver: checks a completion's token, len and contents, and frees the request. */
static void check_done(struct req *r, uint32_t len)
{
    assert_non_null(r);
    assert_true(r->busy);
    assert_int_equal(len, r->expect_len);
    for (uint32_t i = 0; i < len; i++)
        assert_int_equal(r->in[i], resp_byte(r, i));
    r->busy = false;
}

/* Driver: the next completion, which must be there. */
static void get_done(struct harness *h)
{
    uint32_t len = 0;
    struct req *r = vq_get_used(&h->vq, &len);
    check_done(r, len);
}

/* One 1-out/1-in request all the way round; moves avail idx and used idx by one. */
static void spin(struct harness *h, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        struct req *r = free_req(h);
        uint16_t head;
        assert_true(add_req(h, r, 1, 1, false) >= 0);
        vq_kick_prepare(&h->vq);
        assert_int_equal(fvd_pop(&h->dev, &head), 1);
        serve(h, head, 2);
        fvd_complete(&h->dev, head, 2);
        get_done(h);
    }
}

/* ---- layout, init, argument errors -------------------------------------------------------- */

static void test_layout_and_init(void **state)
{
    (void)state;
    PACKED = false;
    assert_int_equal(vq_ring_bytes(8, false), 222);        /* desc 128, avail 22 (+2 pad), used 70 */
    assert_int_equal(vq_ring_bytes(256, false), 6670);     /* 4096 + 518 (+2) + 2054 */
    assert_int_equal(vq_ring_bytes(32768, false), 851982); /* 524288 + 65542 (+2) + 262150 */
    assert_int_equal(vq_ring_bytes(0, false), 0);
    assert_int_equal(vq_ring_bytes(12, false), 0);
    assert_int_equal(vq_state_bytes(6, false), 0);

    struct harness *h = setup_h(8, false, false, 0);
    assert_int_equal(vq_desc_phys(&h->vq), pa(h->ring));
    assert_int_equal(vq_avail_phys(&h->vq), pa(h->ring) + 128);
    assert_int_equal(vq_used_phys(&h->vq), pa(h->ring) + 152);
    assert_int_equal(vq_size(&h->vq), 8);
    assert_int_equal(vq_num_free(&h->vq), 8);
    assert_int_equal(vq_inflight(&h->vq), 0);
    assert_int_equal(vq_avail_idx(&h->vq), 0);
    assert_int_equal(vq_last_used(&h->vq), 0);
    assert_false(vq_is_broken(&h->vq));
    assert_string_equal(vq_broken_reason(&h->vq), "none");
    assert_string_equal(vq_broken_detail(&h->vq), "");

    struct virtqueue vq;
    struct vq_config bad = {12, false, false, 0, false}, ok = {8, false, false, 0, false};
    assert_int_equal(vq_init(&vq, &bad, h->ring, pa(h->ring), h->state), VQ_ERR_INVAL);
    assert_int_equal(vq_init(&vq, &ok, h->ring + 8, pa(h->ring) + 8, h->state), VQ_ERR_INVAL);
    assert_int_equal(vq_init(&vq, &ok, h->ring, pa(h->ring) + 4, h->state), VQ_ERR_INVAL);

    /* The largest queue the spec allows: the whole free list is usable. */
    static uint8_t big[851982 + 16] __attribute__((aligned(16)));
    void *st = malloc(vq_state_bytes(32768, false));
    struct vq_config max = {32768, true, true, 0, false};
    struct vq_buf b = {.addr = 0x1000, .len = 512};
    assert_int_equal(vq_init(&vq, &max, big, 0x100000, st), 0);
    assert_int_equal(vq_num_free(&vq), 32768);
    assert_int_equal(vq_used_phys(&vq), 0x100000 + 589832);
    for (int i = 0; i < 32768; i++)
        assert_int_equal(vq_add(&vq, &b, 1, 0, &vq, NULL, 0), i);
    assert_int_equal(vq_add(&vq, &b, 1, 0, &vq, NULL, 0), VQ_ERR_NOSPC);
    assert_int_equal(vq.avail->idx, 32768);
    assert_int_equal(vq.avail->ring[32767], 32767);
    free(st);
}

static void test_add_errors(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_h(8, false, true, 4);
    struct vq_buf b[9];
    for (int i = 0; i < 9; i++)
        b[i] = (struct vq_buf){.addr = pa(h->req[0].out), .len = 4};
    struct vq_desc *t = h->req[0].table;
    assert_int_equal(vq_add(&h->vq, b, 0, 0, h, NULL, 0), VQ_ERR_EMPTY);
    assert_int_equal(vq_add(&h->vq, b, 1, 0, NULL, NULL, 0), VQ_ERR_INVAL);
    assert_int_equal(vq_add(&h->vq, b, 5, 4, h, NULL, 0), VQ_ERR_TOO_MANY);  /* > Queue Size */
    assert_int_equal(vq_add(&h->vq, b, 3, 2, h, t, pa(t)), VQ_ERR_TOO_MANY); /* > indirect_max */
    b[0].len = b[1].len = 0x80000000u; /* 2^32 bytes in total */
    assert_int_equal(vq_add(&h->vq, b, 1, 1, h, NULL, 0), VQ_ERR_TOO_BIG);
    assert_int_equal(vq_num_free(&h->vq), 8);
    assert_int_equal(vq_avail_idx(&h->vq), 0);
    assert_false(vq_kick_prepare(&h->vq)); /* nothing was added */
    /* The same through an indirect table: refused after the table was written, nothing published. */
    assert_int_equal(vq_add(&h->vq, b, 1, 1, h, t, pa(t)), VQ_ERR_TOO_BIG);
    assert_int_equal(vq_num_free(&h->vq), 8);
    assert_int_equal(vq_avail_idx(&h->vq), 0);
    assert_false(vq_kick_prepare(&h->vq));
    b[0].len = b[1].len = 4;
    assert_int_equal(vq_add(&h->vq, b, 2, 2, h, t, pa(t)), 0); /* exactly indirect_max */
    assert_int_equal(vq_num_free(&h->vq), 7);
}

/* ---- data path ---------------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    use_format(state);
    struct harness *h = setup_h(16, false, false, 0);
    static const char hdr[16] = "VQH read lba=42";
    char data[48];
    for (int i = 0; i < 48; i++)
        data[i] = (char)('a' + i % 26);
    uint8_t *out = aalloc(64, 16), *in = aalloc(41, 16);
    memcpy(out, hdr, 16);
    memcpy(out + 16, data, 48);
    memset(in, 0xcc, 41);
    struct vq_buf b[4] = {
        {.addr = pa(out), .len = 16}, {.addr = pa(out + 16), .len = 48},
        {.addr = pa(in), .len = 40}, {.addr = pa(in + 40), .len = 1}};
    int token;
    assert_int_equal(vq_add(&h->vq, b, 2, 2, &token, NULL, 0), 0);
    assert_int_equal(vq_num_free(&h->vq), 12);
    assert_int_equal(vq_inflight(&h->vq), 1);
    assert_int_equal(vq_avail_idx(&h->vq), PACKED ? 4 : 1); /* packed: the next descriptor */
    assert_true(vq_kick_prepare(&h->vq)); /* used->flags 0: notification required */
    fvd_notify(&h->dev);
    assert_false(vq_kick_prepare(&h->vq)); /* nothing new since */
    assert_null(vq_get_used(&h->vq, NULL));

    uint16_t head;
    assert_int_equal(fvd_pop(&h->dev, &head), 1);
    assert_string_equal(h->dev.err, "");
    struct fvd_req *fr = fvd_req(&h->dev, head);
    assert_int_equal(fr->n_out, 2);
    assert_int_equal(fr->n_in, 2);
    assert_int_equal(fr->in_total, 41);
    assert_int_equal(fr->seg[1].addr, pa(out + 16));
    assert_true(fr->seg[3].write);
    uint8_t got[64], reply[41];
    assert_int_equal(fvd_read(&h->dev, head, got, sizeof(got)), 64);
    assert_memory_equal(got, out, 64);
    for (int i = 0; i < 40; i++)
        reply[i] = (uint8_t)(data[i] ^ 0x20);
    reply[40] = 0; /* status OK */
    fvd_write(&h->dev, head, reply, 41);
    assert_true(fvd_complete(&h->dev, head, 41)); /* avail flags 0: the device interrupts */

    uint32_t len = 0;
    assert_ptr_equal(vq_get_used(&h->vq, &len), &token);
    assert_int_equal(len, 41);
    assert_memory_equal(in, reply, 41);
    assert_null(vq_get_used(&h->vq, &len));
    assert_int_equal(vq_num_free(&h->vq), 16);
    assert_int_equal(vq_inflight(&h->vq), 0);
    assert_int_equal(vq_last_used(&h->vq), PACKED ? 4 : 1);
    assert_int_equal(h->dev.notifies, 1);
    assert_int_equal(h->dev.irqs, 1);
}

static void test_out_of_order(void **state)
{
    use_format(state);
    struct harness *h = setup_h(16, false, false, 0);
    uint16_t heads[8] = {0};
    for (int i = 0; i < 5; i++) {
        h->req[i].seq = (uint32_t)i;
        assert_true(add_req(h, &h->req[i], 1, 1, false) >= 0);
    }
    assert_int_equal(fvd_pop_all(&h->dev, heads, 8), 5);
    static const int order[5] = {3, 0, 4, 1, 2};
    for (int k = 0; k < 5; k++) {
        uint16_t hd = heads[order[k]];
        serve(h, hd, (uint32_t)(k + 1));
        fvd_complete(&h->dev, hd, (uint32_t)(k + 1));
    }
    for (int k = 0; k < 5; k++) {
        uint32_t len;
        struct req *r = vq_get_used(&h->vq, &len);
        assert_ptr_equal(r, &h->req[order[k]]);
        assert_int_equal(len, k + 1);
        check_done(r, len);
    }
    assert_null(vq_get_used(&h->vq, NULL));
    assert_int_equal(vq_num_free(&h->vq), 16);
}

static void test_full_ring_and_recovery(void **state)
{
    use_format(state);
    struct harness *h = setup_h(8, false, false, 0);
    struct req *r = h->req;
    uint16_t heads[8] = {0};
    uint32_t len;
    assert_true(add_req(h, &r[0], 2, 1, false) >= 0); /* 3 descriptors */
    assert_true(add_req(h, &r[1], 1, 1, false) >= 0); /* 2 */
    assert_true(add_req(h, &r[2], 1, 2, false) >= 0); /* 3 */
    assert_int_equal(vq_num_free(&h->vq), 0);
    assert_int_equal(add_req(h, &r[3], 1, 0, false), VQ_ERR_NOSPC);
    assert_int_equal(fvd_pop_all(&h->dev, heads, 8), 3);
    serve(h, heads[1], 3);
    fvd_complete(&h->dev, heads[1], 3);
    get_done(h);
    assert_int_equal(vq_num_free(&h->vq), 2);
    assert_int_equal(add_req(h, &r[3], 2, 1, false), VQ_ERR_NOSPC); /* needs 3 of the 2 */
    assert_true(add_req(h, &r[3], 1, 1, false) >= 0);              /* reuses the freed two */
    serve(h, heads[0], 5);
    fvd_complete(&h->dev, heads[0], 5);
    get_done(h);
    /* Fragmented free list: three freed ids must chain into one valid 3-descriptor chain. */
    assert_true(add_req(h, &r[4], 1, 2, false) >= 0);
    assert_int_equal(vq_num_free(&h->vq), 0);
    assert_int_equal(fvd_pop_all(&h->dev, heads, 8), 2);
    assert_string_equal(h->dev.err, "");
    assert_int_equal(fvd_req(&h->dev, r[4].head)->n_in, 2);
    for (int i = 2; i <= 4; i++) {
        serve(h, r[i].head, 6);
        fvd_complete(&h->dev, r[i].head, 6);
    }
    while ((r = vq_get_used(&h->vq, &len)) != NULL)
        check_done(r, len);
    assert_int_equal(vq_num_free(&h->vq), 8);
    assert_int_equal(vq_inflight(&h->vq), 0);
}

static void test_indirect_mixed(void **state)
{
    use_format(state);
    struct harness *h = setup_h(8, true, true, 6);
    uint16_t heads[8] = {0};
    uint32_t len;
    /* Indirect tables of 1..6 entries between direct chains: each table costs one descriptor. */
    for (unsigned n = 1; n <= 6; n++) {
        struct req *r = &h->req[n];
        r->seq = n;
        assert_true(add_req(h, r, (n + 1) / 2, n / 2 + (n == 1), true) >= 0);
    }
    assert_int_equal(vq_num_free(&h->vq), 2);
    assert_true(add_req(h, &h->req[7], 1, 1, false) >= 0); /* direct: the last two */
    assert_int_equal(vq_num_free(&h->vq), 0);
    assert_int_equal(add_req(h, &h->req[8], 1, 0, true), VQ_ERR_NOSPC);
    assert_int_equal(fvd_pop_all(&h->dev, heads, 8), 7);
    assert_string_equal(h->dev.err, "");
    for (unsigned n = 1; n <= 6; n++) {
        struct fvd_req *fr = fvd_req(&h->dev, h->req[n].head);
        assert_true(fr->indirect);
        assert_int_equal(fr->n_out + fr->n_in, n + (n == 1));
    }
    assert_false(fvd_req(&h->dev, h->req[7].head)->indirect);
    for (int k = 6; k >= 0; k--) { /* reverse order */
        serve(h, heads[k], (uint32_t)k);
        fvd_complete(&h->dev, heads[k], (uint32_t)k);
    }
    struct req *r;
    int got = 0;
    while ((r = vq_get_used(&h->vq, &len)) != NULL)
        check_done(r, len), got++;
    assert_int_equal(got, 7);
    assert_int_equal(vq_num_free(&h->vq), 8);

    /* Without the feature a table is ignored: the same request goes direct. */
    struct harness *h2 = setup_h(8, false, false, 0);
    assert_true(add_req(h2, &h2->req[0], 2, 2, true) >= 0);
    assert_int_equal(vq_num_free(&h2->vq), 4);
    assert_int_equal(fvd_pop(&h2->dev, heads), 1);
    assert_false(fvd_req(&h2->dev, heads[0])->indirect);
}

/* ---- notification suppression ------------------------------------------------------------- */

static void test_event_idx_kick(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_h(64, true, false, 0);
    static const bool expect[5] = {false, false, false, true, false};
    uint16_t heads[64] = {0};
    fvd_set_avail_event(&h->dev, 3); /* device: "notify me when entry 3 is written" */
    for (int i = 0; i < 5; i++) {    /* avail idx 0->1 ... 4->5 */
        assert_true(add_req(h, &h->req[i], 1, 1, false) >= 0);
        assert_int_equal(vq_kick_prepare(&h->vq), expect[i]);
    }
    fvd_set_avail_event(&h->dev, 10);
    for (int i = 5; i < 8; i++) /* 5->8: entry 10 not written */
        assert_true(add_req(h, &h->req[i], 1, 1, false) >= 0);
    assert_false(vq_kick_prepare(&h->vq));
    for (int i = 8; i < 12; i++) /* 8->12 as one batch: entry 10 is in it */
        assert_true(add_req(h, &h->req[i], 1, 0, false) >= 0);
    assert_true(vq_kick_prepare(&h->vq));
    fvd_set_no_notify(&h->dev, true); /* flags' lower bit is ignored with EVENT_IDX */
    fvd_set_avail_event(&h->dev, 12);
    assert_true(add_req(h, &h->req[12], 1, 1, false) >= 0);
    assert_true(vq_kick_prepare(&h->vq));
    fvd_set_no_notify(&h->dev, false);
    assert_int_equal(fvd_pop_all(&h->dev, heads, 64), 13);
    for (int i = 0; i < 13; i++) {
        serve(h, heads[i], 0);
        fvd_complete(&h->dev, heads[i], 0);
    }
    uint32_t len;
    struct req *r;
    while ((r = vq_get_used(&h->vq, &len)) != NULL)
        check_done(r, len);

    /* Across the 16-bit wrap: bring avail idx to 65533. */
    spin(h, 65533 - 13);
    assert_int_equal(vq_avail_idx(&h->vq), 65533);
    fvd_set_avail_event(&h->dev, 65535);
    static const bool wrap_expect[3] = {false, false, true}; /* 65533->65534->65535->0 */
    for (int i = 0; i < 3; i++) {
        assert_true(add_req(h, &h->req[i], 1, 1, false) >= 0);
        assert_int_equal(vq_kick_prepare(&h->vq), wrap_expect[i]);
    }
    assert_int_equal(vq_avail_idx(&h->vq), 0);
    fvd_set_avail_event(&h->dev, 1);
    for (int i = 3; i < 5; i++) /* 0->2 contains entry 1 */
        assert_true(add_req(h, &h->req[i], 1, 1, false) >= 0);
    assert_true(vq_kick_prepare(&h->vq));
    fvd_set_avail_event(&h->dev, 65534); /* behind: 2->5 does not contain it */
    for (int i = 5; i < 8; i++)
        assert_true(add_req(h, &h->req[i], 1, 1, false) >= 0);
    assert_false(vq_kick_prepare(&h->vq));
    assert_string_equal(h->dev.err, "");
}

static void complete_one(struct harness *h, bool expect_irq)
{
    uint16_t head;
    struct req *r = free_req(h);
    assert_true(add_req(h, r, 1, 1, false) >= 0);
    assert_int_equal(fvd_pop(&h->dev, &head), 1);
    serve(h, head, 1);
    assert_int_equal(fvd_complete(&h->dev, head, 1), expect_irq);
}

static void drain(struct harness *h, int expect)
{
    uint32_t len;
    struct req *r;
    int n = 0;
    while ((r = vq_get_used(&h->vq, &len)) != NULL)
        check_done(r, len), n++;
    assert_int_equal(n, expect);
}

static void test_event_idx_irq(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_h(16, true, false, 0);
    uint16_t *used_event = &h->vq.avail->ring[16];
    complete_one(h, true);  /* used_event 0: entry 0 interrupts */
    complete_one(h, false); /* entry 1: used_event still 0 */
    drain(h, 2);
    assert_int_equal(*used_event, 2); /* get_used keeps asking for the next entry */
    complete_one(h, true);
    vq_disable_cb(&h->vq);
    assert_int_equal(*used_event, 1); /* last_used 2, minus one */
    assert_int_equal(h->vq.avail->flags, 0); /* spec: flags stay 0 with EVENT_IDX */
    complete_one(h, false);
    complete_one(h, false);
    drain(h, 3);
    assert_true(vq_enable_cb(&h->vq)); /* nothing pending */
    assert_int_equal(*used_event, 5);
    complete_one(h, true);
    vq_disable_cb(&h->vq);
    complete_one(h, false);
    assert_false(vq_enable_cb(&h->vq)); /* two waiting: poll again */
    drain(h, 2);
    assert_true(vq_enable_cb(&h->vq));

    /* Across the 16-bit wrap. */
    spin(h, 65534 - 7);
    assert_int_equal(vq_last_used(&h->vq), 65534);
    assert_int_equal(*used_event, 65534);
    complete_one(h, true);  /* entry 65534 */
    complete_one(h, false); /* entry 65535 */
    drain(h, 2);            /* last_used 0 */
    assert_int_equal(*used_event, 0);
    vq_disable_cb(&h->vq);
    assert_int_equal(*used_event, 65535);
    complete_one(h, false); /* entry 0 */
    complete_one(h, false);
    drain(h, 2);
    assert_true(vq_enable_cb(&h->vq));
    assert_int_equal(*used_event, 2);
    /* Two entries published at once (2 and 3) straddle used_event 2: one interrupt. */
    uint16_t heads[2] = {0};
    for (int i = 0; i < 2; i++)
        assert_true(add_req(h, free_req(h), 1, 1, false) >= 0);
    assert_int_equal(fvd_pop_all(&h->dev, heads, 2), 2);
    for (int i = 0; i < 2; i++) {
        serve(h, heads[i], 1);
        fvd_push(&h->dev, heads[i], 1);
    }
    assert_true(fvd_publish(&h->dev));
    drain(h, 2);
    assert_string_equal(h->dev.err, "");
}

static void test_flags_suppression(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_h(8, false, false, 0);
    fvd_set_no_notify(&h->dev, true);
    assert_true(add_req(h, &h->req[0], 1, 1, false) >= 0);
    assert_false(vq_kick_prepare(&h->vq));
    fvd_set_no_notify(&h->dev, false);
    *h->vq.avail_event = 1; /* avail_event must be ignored */
    assert_true(add_req(h, &h->req[1], 1, 1, false) >= 0);
    assert_true(vq_kick_prepare(&h->vq));
    assert_false(vq_kick_prepare(&h->vq));

    uint16_t heads[2] = {0};
    assert_int_equal(fvd_pop_all(&h->dev, heads, 2), 2);
    vq_disable_cb(&h->vq);
    assert_int_equal(h->vq.avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
    serve(h, heads[0], 1);
    assert_false(fvd_complete(&h->dev, heads[0], 1));
    assert_false(vq_enable_cb(&h->vq)); /* one arrived while disabled */
    assert_int_equal(h->vq.avail->flags, 0);
    drain(h, 1);
    assert_true(vq_enable_cb(&h->vq));
    serve(h, heads[1], 1);
    assert_true(fvd_complete(&h->dev, heads[1], 1));
    drain(h, 1);
    assert_string_equal(h->dev.err, "");
}

/*
 * More than 70000 requests through an 8-entry ring: random batches, direct and indirect chains,
 * random completion order, sub-batches and lengths, random device suppression, random driver
 * interrupt handling. Every kick decision must match the device's own reading of the spec, and
 * every publication must interrupt exactly when the driver's state demands it.
 */
/* The device asks for a notification at the descriptor delta places after the driver's next. */
static void set_avail_event_near(struct harness *h, int delta)
{
    if (!PACKED) {
        fvd_set_avail_event(&h->dev, (uint16_t)(vq_avail_idx(&h->vq) + delta));
        return;
    }
    int size = h->vq.size, cycle = 2 * size;
    int lapn = (h->vq.avail_wrap ? 0 : size) + h->vq.avail_idx + delta;
    lapn = ((lapn % cycle) + cycle) % cycle;
    fvd_set_avail_event_packed(&h->dev, (uint16_t)(lapn % size), lapn < size);
}

static void run_wrap(bool event_idx)
{
    struct harness *h = setup_h(8, event_idx, true, 0);
    uint32_t seq = 0, added = 0, done = 0, len;
    bool cb = true;
    uint16_t busy[8];
    int nbusy = 0;
    while (done < 70000) {
        if (event_idx && rnd(3) == 0)
            set_avail_event_near(h, (int)rnd(10) - 2);
        if (!event_idx)
            fvd_set_no_notify(&h->dev, rnd(3) == 0);
        for (uint32_t k = rnd(8) + 1; k > 0; k--) {
            struct req *r = free_req(h);
            if (!r)
                break;
            r->seq = ++seq;
            int rc = add_req(h, r, rnd(3) + 1, rnd(3) + 1, rnd(2));
            if (rc == VQ_ERR_NOSPC)
                break;
            assert_true(rc >= 0);
            added++;
        }
        bool must = fvd_driver_must_notify(&h->dev);
        assert_int_equal(vq_kick_prepare(&h->vq), must);
        if (must)
            fvd_notify(&h->dev);
        int n = fvd_pop_all(&h->dev, busy + nbusy, 8 - nbusy);
        assert_true(n >= 0);
        nbusy += n;
        while (nbusy > 0 && rnd(4) != 0) {
            for (uint32_t k = rnd((uint32_t)nbusy) + 1; k > 0; k--) {
                int j = (int)rnd((uint32_t)nbusy);
                struct req *r = req_by_head(h, busy[j]);
                uint32_t l = rnd(r->in_len + 1);
                serve(h, busy[j], l);
                fvd_push(&h->dev, busy[j], l);
                busy[j] = busy[--nbusy];
            }
            bool pending = h->vq.last_used != h->dev.used_published ||
                           (PACKED && h->vq.used_wrap != h->dev.published_wrap);
            bool expect = cb && (!pending || !event_idx);
            assert_int_equal(fvd_publish(&h->dev), expect);
            switch (rnd(5)) {
            case 0: /* interrupt handler: disable, drain, re-enable until quiet */
                vq_disable_cb(&h->vq);
                do {
                    struct req *r;
                    while ((r = vq_get_used(&h->vq, &len)) != NULL)
                        check_done(r, len), done++;
                } while (!vq_enable_cb(&h->vq));
                cb = true;
                break;
            case 1: /* poll a few with notifications left as they are */
                for (uint32_t k = rnd(4); k > 0; k--) {
                    struct req *r = vq_get_used(&h->vq, &len);
                    if (r)
                        check_done(r, len), done++;
                }
                break;
            case 2:
                vq_disable_cb(&h->vq);
                cb = false;
                break;
            case 3:
                if (!cb)
                    vq_enable_cb(&h->vq);
                cb = true;
                break;
            default:
                break;
            }
        }
        if (!free_req(h) || vq_num_free(&h->vq) == 0) {
            struct req *r;
            while ((r = vq_get_used(&h->vq, &len)) != NULL)
                check_done(r, len), done++;
        }
        assert_false(vq_is_broken(&h->vq));
        assert_string_equal(h->dev.err, "");
    }
    assert_true(added > 70000);
    if (!PACKED) {
        assert_int_equal(vq_avail_idx(&h->vq), (uint16_t)added);
        assert_int_equal(vq_last_used(&h->vq), (uint16_t)done);
    }
    assert_int_equal(vq_inflight(&h->vq), added - done);
    assert_true(h->dev.notifies > 0 && h->dev.irqs > 0);
}

static void test_wrap_event_idx(void **state)
{
    use_format(state);
    run_wrap(true);
}

static void test_wrap_flags(void **state)
{
    use_format(state);
    run_wrap(false);
}

/* ---- protocol violations by the device ----------------------------------------------------- */

/* Two requests in flight (heads 0 and 3: chains of 3 and 2 descriptors), one completed. */
static struct harness *setup_broken(void)
{
    struct harness *h = setup_h(8, true, false, 0);
    uint16_t heads[3] = {0};
    for (int i = 0; i < 3; i++)
        assert_true(add_req(h, &h->req[i], i == 0 ? 2 : 1, 1, false) >= 0);
    assert_int_equal(fvd_pop_all(&h->dev, heads, 3), 3);
    assert_int_equal(heads[1], 3);
    serve(h, heads[2], 4);
    fvd_complete(&h->dev, heads[2], 4);
    get_done(h);
    return h;
}

static void assert_dead(struct harness *h, const char *reason, const char *detail)
{
    uint32_t len = 77;
    assert_true(vq_is_broken(&h->vq));
    assert_string_equal(vq_broken_reason(&h->vq), reason);
    assert_string_equal(vq_broken_detail(&h->vq), detail);
    for (int i = 0; i < 3; i++)
        assert_null(vq_get_used(&h->vq, &len));
    assert_int_equal(len, 77);
    assert_false(vq_more_used(&h->vq));
    assert_true(vq_enable_cb(&h->vq));
    assert_false(vq_kick_prepare(&h->vq));
    assert_int_equal(add_req(h, free_req(h), 1, 1, false), VQ_ERR_BROKEN);
    assert_string_equal(vq_broken_reason(&h->vq), reason); /* the first reason stays */
}

static void test_broken_id_out_of_range(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_broken();
    fvd_inject_used(&h->dev, 8, 0);
    assert_null(vq_get_used(&h->vq, NULL));
    static const char detail[] = "used id 8 >= queue size 8 (len 0, used idx 2, last_used 1)";
    assert_dead(h, "used_id_out_of_range", detail);
    fvd_inject_used(&h->dev, 0xffffffffu, 0);
    assert_dead(h, "used_id_out_of_range", detail);
}

static void test_broken_id_not_head(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_broken();
    fvd_inject_used(&h->dev, 1, 4); /* second descriptor of head 0's chain */
    assert_null(vq_get_used(&h->vq, NULL));
    assert_dead(h, "used_id_not_inflight",
                "used id 1 is not the head of an in-flight chain (len 4, used idx 2, last_used 1, "
                "2 in flight)");
}

static void test_broken_double_completion(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_broken();
    serve(h, 3, 6);
    fvd_complete(&h->dev, 3, 6);
    get_done(h);
    fvd_inject_used(&h->dev, 3, 6); /* again */
    assert_true(vq_more_used(&h->vq));
    assert_null(vq_get_used(&h->vq, NULL));
    assert_dead(h, "used_id_not_inflight",
                "used id 3 is not the head of an in-flight chain (len 6, used idx 3, last_used 2, "
                "1 in flight)");
}

static void test_broken_len_too_big(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_broken();
    uint32_t len;
    fvd_inject_used(&h->dev, 3, 14); /* chain 3 has 13 writable bytes */
    assert_null(vq_get_used(&h->vq, &len));
    assert_dead(h, "used_len_too_big",
                "used len 14 > device-writable total 13 of id 3 (used idx 2, last_used 1)");
}

static void test_broken_idx_jump(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_broken();
    fvd_inject_used_idx(&h->dev, (uint16_t)(1 + 8 + 1)); /* more than the queue size past */
    assert_null(vq_get_used(&h->vq, NULL));
    assert_dead(h, "used_idx_jump",
                "used idx 10 is 9 past last_used 1 with 2 in flight (queue size 8)");

    h = setup_broken(); /* within the size but more than is in flight */
    fvd_inject_used_idx(&h->dev, 4);
    assert_false(vq_more_used(&h->vq));
    assert_dead(h, "used_idx_jump",
                "used idx 4 is 3 past last_used 1 with 2 in flight (queue size 8)");

    h = setup_broken(); /* going backwards wraps to a huge jump */
    fvd_inject_used_idx(&h->dev, 0);
    assert_true(vq_enable_cb(&h->vq));
    assert_dead(h, "used_idx_jump",
                "used idx 0 is 65535 past last_used 1 with 2 in flight (queue size 8)");
}

/* ---- the fake device's own detectors ------------------------------------------------------- */

static void expect_fake_error(struct harness *h, const char *what)
{
    uint16_t head;
    assert_int_equal(fvd_pop(&h->dev, &head), -1);
    assert_non_null(strstr(h->dev.err, what));
}

static void test_fake_detects_driver_bugs(void **state)
{
    (void)state;
    PACKED = false;
    struct harness *h = setup_h(8, true, true, 0);
    assert_int_equal(add_req(h, &h->req[0], 1, 1, false), 0);
    h->vq.desc[0].flags |= VIRTQ_DESC_F_WRITE; /* writable then readable */
    h->vq.desc[1].flags &= (uint16_t)~VIRTQ_DESC_F_WRITE;
    expect_fake_error(h, "readable descriptor after a device-writable");

    h = setup_h(8, true, true, 0);
    assert_int_equal(add_req(h, &h->req[0], 2, 0, false), 0);
    h->vq.desc[1].flags |= VIRTQ_DESC_F_NEXT;
    h->vq.desc[1].next = 0;
    expect_fake_error(h, "loops");

    h = setup_h(8, true, true, 0);
    assert_int_equal(add_req(h, &h->req[0], 1, 1, true), 0);
    h->vq.desc[0].flags |= VIRTQ_DESC_F_NEXT;
    expect_fake_error(h, "INDIRECT and NEXT");

    h = setup_h(8, true, true, 0);
    assert_int_equal(add_req(h, &h->req[0], 1, 1, true), 0);
    h->req[0].table[1].flags |= VIRTQ_DESC_F_INDIRECT;
    expect_fake_error(h, "INDIRECT inside an indirect table");

    h = setup_h(8, true, false, 0);
    assert_int_equal(add_req(h, &h->req[0], 1, 1, false), 0);
    h->vq.avail->flags = 1;
    expect_fake_error(h, "avail flags 1");

    h = setup_h(8, false, false, 0);
    assert_int_equal(add_req(h, &h->req[0], 1, 1, false), 0);
    h->vq.desc[0].addr = ARENA_PHYS + ARENA_BYTES; /* a virtual or wild address */
    expect_fake_error(h, "outside guest memory");
}

#include "test_virtqueue_packed.inc"
#include "test_virtqueue_runs.inc"

/* A format-neutral test, once per ring format. */
#define BOTH(f)                                                                                   \
    {#f "_split", f, NULL, teardown, (void *)&FMT_SPLIT},                                         \
    {#f "_packed", f, NULL, teardown, (void *)&FMT_PACKED}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_layout_and_init, teardown),
        cmocka_unit_test_teardown(test_add_errors, teardown),
        BOTH(test_round_trip),
        BOTH(test_out_of_order),
        BOTH(test_full_ring_and_recovery),
        BOTH(test_indirect_mixed),
        BOTH(test_wrap_event_idx),
        BOTH(test_wrap_flags),
        BOTH(test_run_round_trip),
        BOTH(test_run_exact_and_single),
        BOTH(test_run_malformed),
        BOTH(test_run_limits),
        BOTH(test_run_used_len),
        cmocka_unit_test_teardown(test_run_split_free_list, teardown),
        cmocka_unit_test_teardown(test_event_idx_kick, teardown),
        cmocka_unit_test_teardown(test_event_idx_irq, teardown),
        cmocka_unit_test_teardown(test_flags_suppression, teardown),
        cmocka_unit_test_teardown(test_broken_id_out_of_range, teardown),
        cmocka_unit_test_teardown(test_broken_id_not_head, teardown),
        cmocka_unit_test_teardown(test_broken_double_completion, teardown),
        cmocka_unit_test_teardown(test_broken_len_too_big, teardown),
        cmocka_unit_test_teardown(test_broken_idx_jump, teardown),
        cmocka_unit_test_teardown(test_fake_detects_driver_bugs, teardown),
        cmocka_unit_test_teardown(test_packed_layout, teardown),
        cmocka_unit_test_teardown(test_packed_wrap_counters, teardown),
        cmocka_unit_test_teardown(test_packed_event_suppression, teardown),
        cmocka_unit_test_teardown(test_packed_broken, teardown),
        cmocka_unit_test_teardown(test_packed_fake_detects_driver_bugs, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
