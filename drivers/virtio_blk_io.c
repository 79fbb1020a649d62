/*
 * virtio_blk_io.c: virtio-blk requests (virtio 1.x 5.2.6): the driver frames what the engine asks
 * for (header, data, status byte), places it in the ring and hands completions back.
 */
#include "virtio_blk_internal.h"
#include "cpu.h"
#include "memory.h"
#include "time.h"

#define GET_ID_TIMEOUT_MS 5000

struct vblk_req *vblk_req_alloc(struct vblk_queue *q, uint32_t max_segs)
{
    struct vblk_req *r = pmm_alloc(sizeof(*r), 64);
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    uint32_t entries = MIN(max_segs, q->seg_room) + 2;
    r->dma = pmm_alloc(sizeof(*r->dma), 64);
    r->indirect = pmm_alloc((size_t)VQ_INDIRECT_ENTRY_BYTES * entries, 16);
    return r->dma && r->indirect ? r : NULL;
}

uint8_t vblk_req_status(const struct vblk_req *r)
{
    return r->dma->status;
}

const uint8_t *vblk_req_id(const struct vblk_req *r)
{
    return r->dma->id;
}

bool vblk_can_submit(const struct vblk_queue *q, uint32_t nsegs)
{
    uint32_t need = q->disk->indirect ? 1 : MIN(nsegs, q->seg_room) + 2;
    return vq_num_free(q->vq) >= need;
}

static struct vq_buf vblk_buf(const void *p, uint32_t len)
{
    return (struct vq_buf){ .addr = (uint64_t)(uintptr_t)p, .len = len };
}

int vblk_submit(struct vblk_queue *q, struct vblk_req *r, const struct vblk_io *io, void *token)
{
    struct vblk_req_dma *dma = r->dma;
    struct vq_buf bufs[3];
    uint16_t nb = 0, n_out;
    if (io->nsegs > q->seg_room)
        return VQ_ERR_TOO_MANY;
    /* The data as one run of descriptors (struct vq_buf): the ring cuts it, and refuses a cut
     * whose segments do not cover the bytes. */
    struct vq_buf data = {
        .addr = (uint64_t)(uintptr_t)io->data, .len = io->bytes, .seg = io->seg_bytes,
        .pieces = io->nsegs,
    };
    dma->hdr.reserved = 0;
    dma->hdr.sector = 0;
    /* Preset to a value no device writes, so "the device wrote no status" is detectable. */
    dma->status = VBLK_STATUS_NONE;
    /* 5.2.6: "The driver MUST place any device-readable ... header ... first", then the data,
     * then the device-writable status byte last; data is device-writable for reads. */
    bufs[nb++] = vblk_buf(&dma->hdr, sizeof(dma->hdr));
    uint16_t descs = 2; /* header and status */
    switch (io->op) {
    case VBLK_READ:
        dma->hdr.type = VIRTIO_BLK_T_IN;
        dma->hdr.sector = io->sector;
        n_out = nb;
        if (io->nsegs) {
            bufs[nb++] = data;
            descs += io->nsegs;
        }
        break;
    case VBLK_WRITE:
        dma->hdr.type = VIRTIO_BLK_T_OUT;
        dma->hdr.sector = io->sector;
        if (io->nsegs) {
            bufs[nb++] = data;
            descs += io->nsegs;
        }
        n_out = nb;
        break;
    case VBLK_DISCARD:
    case VBLK_WRITE_ZEROES:
        /* 5.2.6: for these, the range travels in a struct virtio_blk_discard_write_zeroes
         * segment; the header's sector is unused. flags 0: no unmap. */
        dma->hdr.type = io->op == VBLK_DISCARD ? VIRTIO_BLK_T_DISCARD : VIRTIO_BLK_T_WRITE_ZEROES;
        dma->dwz.sector = io->sector;
        dma->dwz.num_sectors = io->num_sectors;
        dma->dwz.flags = 0;
        bufs[nb++] = vblk_buf(&dma->dwz, sizeof(dma->dwz));
        descs++;
        n_out = nb;
        break;
    case VBLK_GET_ID:
        dma->hdr.type = VIRTIO_BLK_T_GET_ID;
        memset(dma->id, 0, sizeof(dma->id));
        n_out = nb;
        bufs[nb++] = vblk_buf(dma->id, VIRTIO_BLK_ID_BYTES);
        descs++;
        break;
    case VBLK_FLUSH:
        dma->hdr.type = VIRTIO_BLK_T_FLUSH;
        n_out = nb;
        break;
    default:
        return VQ_ERR_INVAL;
    }
    bufs[nb++] = vblk_buf(&dma->status, 1);
    /* Indirect when asked and negotiated, and whenever a direct chain would not fit now. */
    bool indirect = q->disk->indirect && (io->indirect || descs > vq_num_free(q->vq));
    r->token = token;
    r->descs = descs;
    r->indirect_used = indirect;
    int head = vq_add(q->vq, bufs, n_out, (unsigned)(nb - n_out), r, indirect ? r->indirect : NULL,
                      (uint64_t)(uintptr_t)r->indirect);
    if (head >= 0)
        r->head = (uint16_t)head;
    return head < 0 ? head : 0;
}

void vblk_kick(struct vblk_queue *q)
{
    if (vq_kick_prepare(q->vq)) {
        vp_notify(q->notify, q->index);
        q->kicks++;
    }
}

void *vblk_collect(struct vblk_queue *q, uint32_t *len)
{
    struct vblk_req *r = vq_get_used(q->vq, len);
    return r ? r->token : NULL;
}

bool vblk_irq_arm(struct vblk_queue *q)
{
    return vq_enable_cb(q->vq);
}

void vblk_irq_mute(struct vblk_queue *q)
{
    vq_disable_cb(q->vq);
}

bool vblk_queue_broken(const struct vblk_queue *q)
{
    return vq_is_broken(q->vq);
}

const char *vblk_queue_broken_reason(const struct vblk_queue *q)
{
    return vq_broken_reason(q->vq);
}

const char *vblk_queue_broken_detail(const struct vblk_queue *q)
{
    return vq_broken_detail(q->vq);
}

uint16_t vblk_queue_size(const struct vblk_queue *q)
{
    return vq_size(q->vq);
}

uint16_t vblk_queue_inflight(const struct vblk_queue *q)
{
    return vq_inflight(q->vq);
}

uint16_t vblk_queue_avail_idx(const struct vblk_queue *q)
{
    return vq_avail_idx(q->vq);
}

uint16_t vblk_queue_used_idx(const struct vblk_queue *q)
{
    return vq_last_used(q->vq);
}

bool vblk_get_id_sync(struct vblk_queue *q, char out[VIRTIO_BLK_ID_BYTES + 1])
{
    static struct vblk_req *req;
    if (!req)
        req = vblk_req_alloc(q, 0);
    if (!req)
        return false;
    struct vblk_io io = { .op = VBLK_GET_ID };
    if (vblk_submit(q, req, &io, req) < 0)
        return false;
    vp_notify(q->notify, q->index); /* unconditionally: the device may not have set events yet */
    uint64_t deadline = time_ms() + GET_ID_TIMEOUT_MS;
    uint32_t len;
    void *tok;
    while (!(tok = vblk_collect(q, &len))) {
        if (vq_is_broken(q->vq) || time_ms() > deadline)
            return false;
        cpu_relax();
    }
    if (tok != req || vblk_req_status(req) != VIRTIO_BLK_S_OK)
        return false;
    /* The id is NUL-padded, and not NUL-terminated when all 20 bytes are used. */
    memcpy(out, req->dma->id, VIRTIO_BLK_ID_BYTES);
    out[VIRTIO_BLK_ID_BYTES] = 0;
    return true;
}
