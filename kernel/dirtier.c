/* dirtier.c: guest memory kept dirty on the host's word (see dirtier.h). */
#include "dirtier.h"

#include "memory.h"
#include "tlb.h"

#define DIRTIER_KEEP_FREE (16ull << 20)

static volatile uint64_t *region; /* DIRTIER_MAX_PAGES pages, or fewer, once taken */
static uint32_t region_pages, active_pages, next_page;
static uint64_t last_ms, sweeps, stamp;

uint32_t dirtier_set(uint64_t asked)
{
    uint32_t pages = asked > DIRTIER_MAX_PAGES ? DIRTIER_MAX_PAGES : (uint32_t)asked;
    /* Taken once, as much as the first request asks, leaving DIRTIER_KEEP_FREE for what a
     * reset or a hot-plugged disk allocates later. */
    for (uint32_t n = pages; n >= 64 && !region; n /= 2) {
        if (pmm_free_bytes() < (uint64_t)n * PAGE_SIZE + DIRTIER_KEEP_FREE)
            continue;
        region = pmm_alloc((size_t)n * PAGE_SIZE, PAGE_SIZE);
        region_pages = region ? n : 0;
    }
    active_pages = pages < region_pages ? pages : region_pages;
    next_page = 0;
    last_ms = 0;
    return active_pages;
}

void dirtier_tick(uint64_t now_ms)
{
    if (!active_pages)
        return;
    if (!last_ms) {
        last_ms = now_ms;
        return;
    }
    /* The pages due since the last step, at one sweep per DIRTIER_SWEEP_MS; after a stall (a
     * migration's downtime) at most one sweep's worth at once. */
    uint64_t due = (now_ms - last_ms) * active_pages / DIRTIER_SWEEP_MS;
    if (!due)
        return;
    last_ms = now_ms;
    if (due > active_pages)
        due = active_pages;
    tlb_refresh();
    for (uint64_t i = 0; i < due; i++) {
        region[(size_t)next_page * (PAGE_SIZE / 8)] = ++stamp;
        if (++next_page == active_pages) {
            next_page = 0;
            sweeps++;
        }
    }
}

uint64_t dirtier_sweeps(void)
{
    return sweeps;
}
