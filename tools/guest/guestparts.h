/*
 * guestparts.h: the guest's multi-part messages (wire.h, WIRE_MSG_PART) put back together.
 *
 *   guestlog_merge_next (messages in seq order) --guestparts_add--> --guestparts_next--> whole
 *   messages: a one-line message as it is, the parts of a long one as the one message they carry.
 *
 * The guest writes the parts of a message back to back: part 0, 1, ... on consecutive seqs, the
 * last with more=false. Anything else gives that message up with an error naming it (its type, its
 * seqs, what was wrong): a part missing or out of order, another message between its parts (parts
 * of two messages interleaved, a line lost), a garbled part (its CRC-32C), a message that never
 * ends (more than its announced length, WIRE_MSG_MAX or WIRE_MSG_PARTS_MAX), or a reassembled text
 * that is not the announced message. Nothing is lost: the parts of a message given up are handed
 * back with the error, and later parts of it each on their own (GUESTPARTS_DROPPED), for the log.
 */
#ifndef VQH_GUESTPARTS_H
#define VQH_GUESTPARTS_H

#include <stdbool.h>
#include <stddef.h>

#include "guestlog.h"

enum guestparts_kind {
    GUESTPARTS_WHOLE,   /* msg: a whole message */
    GUESTPARTS_BROKEN,  /* a message given up: detail says why, parts[] holds what came of it */
    GUESTPARTS_DROPPED, /* parts[0]: a later part of a message already given up (no new error) */
};

struct guestparts_out {
    enum guestparts_kind kind;
    struct guestlog_msg *msg;    /* WHOLE (owned by the out) */
    struct guestlog_msg **parts; /* BROKEN, DROPPED: in seq order (owned) */
    size_t nparts;
    char of[32];                 /* BROKEN: the type part 0 announced ("" when unknown) */
    char detail[400];            /* BROKEN, DROPPED: a sentence for reports */
};

struct guestparts;

struct guestparts *guestparts_new(void); /* NULL when out of memory */
void guestparts_free(struct guestparts *p);

/* The next message in seq order (ownership passes). */
void guestparts_add(struct guestparts *p, struct guestlog_msg *msg);

/* The stream ended (no more messages will come): a message still waiting for parts is given up. */
void guestparts_end(struct guestparts *p);

/* Take the next result; false when none is ready. */
bool guestparts_next(struct guestparts *p, struct guestparts_out *out);

/* Free what a result owns. */
void guestparts_out_clear(struct guestparts_out *out);

#endif
