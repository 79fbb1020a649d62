/* hop.c: names and storage of the hop records a run accumulates. */
#include "hop.h"

#include <stdlib.h>
#include <string.h>

const char *verdict_name(enum verdict v)
{
    switch (v) {
    case VERDICT_PASS:
        return "PASS";
    case VERDICT_FAIL:
        return "FAIL";
    case VERDICT_ERROR:
        return "ERROR";
    }
    return "UNKNOWN";
}

const char *hop_kind_name(enum hop_kind k)
{
    switch (k) {
    case HOP_MIGRATE:
        return "migrate";
    case HOP_CANCEL:
        return "cancel";
    case HOP_KILL_DST:
        return "kill-dst";
    }
    return "unknown";
}

const char *hop_mode_name(unsigned bit)
{
    switch (bit) {
    case HOP_MODE_POSTCOPY:
        return "postcopy";
    case HOP_MODE_MULTIFD:
        return "multifd";
    case HOP_MODE_XBZRLE:
        return "xbzrle";
    case HOP_MODE_AUTO_CONVERGE:
        return "auto-converge";
    }
    return "unknown";
}

struct hop_record *run_add_hop(struct run_result *r)
{
    if (r->nhops >= r->hops_cap) {
        int cap = r->hops_cap ? r->hops_cap * 2 : 16;
        struct hop_record *h = realloc(r->hops, (size_t)cap * sizeof(*h));
        if (!h)
            return NULL; /* the records so far stay valid: the run can still report them */
        r->hops = h;
        r->hops_cap = cap;
    }
    struct hop_record *h = &r->hops[r->nhops++];
    memset(h, 0, sizeof(*h));
    h->index = r->nhops;
    return h;
}

void run_result_free(struct run_result *r)
{
    free(r->hops);
    r->hops = NULL;
    r->nhops = 0;
    r->hops_cap = 0;
}
