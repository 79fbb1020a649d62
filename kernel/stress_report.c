/* stress_report.c: the stress engine's messages: errors with full detail, progress, summary. */
#include "stress_internal.h"
#include "report.h"
#include "time.h"

/* Common members of an error message; false (only counted) past the detail limit. */
bool stress_error_begin(struct msg *m, const char *cls, const struct squeue *q, const struct sreq *r)
{
    __atomic_fetch_add(&st.errors, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add((uint64_t *)&q->errors, 1, __ATOMIC_RELAXED);
    if (__atomic_fetch_add(&st.error_msgs, 1, __ATOMIC_RELAXED) >= STRESS_ERROR_DETAIL_MAX)
        return false;
    msg_begin(m, WIRE_MSG_ERROR);
    msg_str(m, "class", cls);
    msg_u64(m, "disk", q->disk->vd.index);
    msg_str(m, "serial", q->disk->vd.serial);
    msg_u64(m, "q", q->index);
    if (r) {
        msg_u64(m, "req", r->seq);
        msg_u64(m, "head", r->head);
        msg_str(m, "op", squeue_op_name(r->op));
        msg_u64(m, "lba", r->lba);
        msg_u64(m, "blocks", r->nblocks);
        msg_u64(m, "segs", r->segs);
        msg_bool(m, "indirect", r->indirect_used);
        msg_u64(m, "age_ms", (time_ns() - r->submit_ns) / 1000000);
    }
    msg_u64(m, "epoch", st.epoch);
    return true;
}

void stress_report_verify_error(struct squeue *q, struct sreq *r, const struct verify_result *res)
{
    struct msg m;
    if (!stress_error_begin(&m, res->class_name, q, r))
        return;
    msg_u64(&m, "bad_lba", res->lba);
    msg_u64(&m, "bad_index", res->index);
    msg_u64(&m, "bad_blocks", res->bad_count);
    msg_obj_begin(&m, "expected");
    msg_str(&m, "state", expect_state_name(res->expected_state));
    msg_u64(&m, "gen", res->expected_gen);
    msg_u64(&m, "writer_q", res->expected_tag.writer_q);
    msg_u64(&m, "req_seq", res->expected_tag.req_seq);
    msg_bool(&m, "write_inflight", res->expected.inflight);
    msg_obj_end(&m);
    msg_obj_begin(&m, "found");
    msg_str(&m, "status", blk_status_name(res->found_status));
    msg_hex(&m, "magic", res->found.magic);
    msg_u64(&m, "lba", res->found.lba);
    msg_u64(&m, "gen", res->found.gen);
    msg_hex(&m, "disk_tag", res->found.disk_tag);
    msg_hex(&m, "seed", res->found.seed);
    msg_u64(&m, "writer_q", res->found.writer_q);
    msg_u64(&m, "req_seq", res->found.req_seq);
    msg_u64(&m, "epoch", res->found.epoch);
    msg_obj_end(&m);
    if (res->torn_peer >= 0)
        msg_i64(&m, "torn_peer", res->torn_peer);
    msg_u64(&m, "offset", res->offset);
    msg_hexdump(&m, "hex_expected", res->dump_expected, res->dump_len);
    msg_hexdump(&m, "hex_found", res->dump_found, res->dump_len);
    report_send(&m);
}

void stress_report_status_error(struct squeue *q, struct sreq *r, uint32_t status, uint32_t len,
                                const char *detail)
{
    struct msg m;
    bool id_changed = r->op == OP_GET_ID && status == 0 && detail;
    if (!stress_error_begin(&m, id_changed ? WIRE_ERR_GET_ID : WIRE_ERR_STATUS, q, r))
        return;
    msg_u64(&m, "status", status);
    msg_u64(&m, "used_len", len);
    if (detail)
        msg_str(&m, "detail", detail);
    if (id_changed) {
        msg_strn(&m, "first_id", q->disk->first_id, VIRTIO_BLK_ID_BYTES);
        msg_strn(&m, "now_id", (const char *)vblk_req_id(r->vr), VIRTIO_BLK_ID_BYTES);
    }
    report_send(&m);
}

/* The first read that came back and checked good: the bench's "time to first verified I/O". */
void stress_report_first_verified(struct squeue *q, struct sreq *r)
{
    struct msg m;
    msg_begin(&m, WIRE_MSG_LOG);
    msg_str(&m, "level", "info");
    msg_str(&m, "event", "first_verified");
    msg_u64(&m, "q", q->index);
    msg_u64(&m, "lba", r->lba);
    msg_u64(&m, "boot_ms", time_ms());
    msg_str(&m, "text", "first read verified");
    report_send(&m);
}

void stress_report_broken(struct squeue *q)
{
    struct msg m;
    __atomic_fetch_add(&st.errors, 1, __ATOMIC_RELAXED);
    msg_begin(&m, WIRE_MSG_BROKEN);
    msg_u64(&m, "disk", q->disk->vd.index);
    msg_str(&m, "serial", q->disk->vd.serial);
    msg_u64(&m, "q", q->index);
    msg_str(&m, "reason", vblk_queue_broken_reason(q->vq));
    msg_str(&m, "detail", vblk_queue_broken_detail(q->vq));
    msg_u64(&m, "inflight", vblk_queue_inflight(q->vq));
    report_send(&m);
}

static uint64_t squeue_oldest_ms(const struct squeue *q, uint64_t now)
{
    uint64_t oldest = 0;
    for (uint32_t i = 0; i < q->depth + q->nlarge; i++) {
        const struct sreq *r = i < q->depth ? &q->reqs[i] : &q->large[i - q->depth];
        if (r->busy && now > r->submit_ns && now - r->submit_ns > oldest)
            oldest = now - r->submit_ns;
    }
    return oldest / 1000000;
}

void stress_queue_counters(struct msg *m, const struct squeue *q, bool rings)
{
    msg_obj_begin(m, NULL);
    msg_u64(m, "q", q->index);
    msg_u64(m, "cpu", q->cpu);
    msg_u64(m, "ops", q->ops);
    msg_u64(m, "bytes", q->bytes);
    msg_u64(m, "errors", q->errors);
    msg_u64(m, "inflight", q->inflight);
    if (rings) {
        msg_u64(m, "avail_idx", vblk_queue_avail_idx(q->vq));
        msg_u64(m, "used_idx", vblk_queue_used_idx(q->vq));
        msg_u64(m, "irqs", q->vq->irqs);
        msg_u64(m, "kicks", q->vq->kicks);
        msg_u64(m, "reads", q->op_count[OP_READ]);
        msg_u64(m, "writes", q->op_count[OP_WRITE]);
        msg_u64(m, "flushes", q->op_count[OP_FLUSH]);
        msg_u64(m, "discards", q->op_count[OP_DISCARD]);
        msg_u64(m, "write_zeroes", q->op_count[OP_WRITE_ZEROES]);
        msg_u64(m, "get_ids", q->op_count[OP_GET_ID]);
        msg_u64(m, "verified", q->verified_blocks);
        msg_u64(m, "bursts", q->bursts);
        if (q->nlarge) {
            /* max_request: how many large requests completed and how large they got */
            msg_u64(m, "large", q->large_ops);
            msg_u64(m, "large_writes", q->large_writes);
            msg_u64(m, "large_max_bytes", q->large_max_bytes);
            msg_u64(m, "large_max_segs", q->large_max_segs);
        }
    } else {
        msg_u64(m, "oldest_ms", squeue_oldest_ms(q, time_ns()));
    }
    msg_obj_end(m);
}

static void stress_disks_counters(struct msg *m, bool rings)
{
    msg_arr_begin(m, "disks");
    for (uint32_t i = 0; i < st.ndisks; i++) {
        struct sdisk *d = st.disk[i];
        if (!d->vd.data)
            continue;
        msg_obj_begin(m, NULL);
        msg_u64(m, "disk", d->vd.index);
        msg_str(m, "serial", d->vd.serial);
        msg_u64(m, "written", expect_written_count(d->exp));
        if (rings) {
            stress_describe_mode(m, d);
            msg_u64(m, "resets", d->vd.resets);
            msg_u64(m, "queue_resets", d->vd.queue_resets);
        }
        msg_arr_begin(m, "queues");
        for (uint16_t q = 0; q < d->nq; q++)
            stress_queue_counters(m, &d->q[q], rings);
        msg_arr_end(m);
        msg_obj_end(m);
    }
    msg_arr_end(m);
}

void stress_report_progress(void)
{
    struct msg m;
    report_begin_big(&m, WIRE_MSG_PROGRESS);
    msg_u64(&m, "t_ms", (time_ns() - st.start_ns) / 1000000);
    msg_u64(&m, "epoch", st.epoch);
    msg_u64(&m, "phase", st.phase);
    msg_u64(&m, "errors", st.errors);
    stress_disks_counters(&m, false);
    report_send(&m);
}

void stress_report_summary(void)
{
    struct msg m;
    uint64_t ops = 0, bytes = 0;
    for (uint32_t i = 0; i < st.nall; i++) {
        ops += st.all[i]->ops;
        bytes += st.all[i]->bytes;
    }
    report_begin_big(&m, WIRE_MSG_SUMMARY);
    msg_u64(&m, "t_ms", (time_ns() - st.start_ns) / 1000000);
    msg_u64(&m, "ops", ops);
    msg_u64(&m, "bytes", bytes);
    msg_u64(&m, "errors", st.errors);
    msg_u64(&m, "epoch", st.epoch);
    stress_disks_counters(&m, true);
    report_send(&m);
}
