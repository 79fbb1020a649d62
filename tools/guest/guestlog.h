/*
 * guestlog.h: the guest's serial output (wire.h), from raw bytes to one ordered message stream.
 *
 *   bytes --guestlog_asm_feed--> lines --guestlog_parse_line--> messages
 *         --guestlog_merge_add--> (all QEMUs of a run) --guestlog_merge_next--> events in seq order
 *
 * Several QEMU processes carry one guest over a run (src1, dst1=src2, ...). Guest memory, and
 * with it the sequence counter, migrates, so the merged stream must read 1, 2, 3, ... whichever
 * QEMU printed each line. The merger reports what breaks that: a seq that never came (gap), one
 * that came twice with the same text (duplicate) or with a different text (conflict: the guest ran
 * the same step twice, e.g. both QEMUs ran it after a migration), and one that came after it was
 * declared lost (late).
 *
 * Also here: guestlog_cmd_format() for host->guest command lines.
 */
#ifndef VQH_GUESTLOG_H
#define VQH_GUESTLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "wire.h"

#define GUESTLOG_SOURCE_MAX 16   /* source label, "src1", "dst2"; longer labels are cut */
#define GUESTLOG_HISTORY 1024    /* emitted messages kept to compare late duplicates against */

/* One line of serial output without its '\n' (and '\r'): NUL-terminated, but may hold NULs. */
struct guestlog_line {
    const char *text;
    size_t len;
    bool truncated; /* the line was longer than WIRE_LINE_MAX: only its start is in text */
};

/* ---- line assembly ------------------------------------------------------------------------- */

struct guestlog_asm {
    char buf[WIRE_LINE_MAX]; /* WIRE_LINE_MAX - 1 bytes of text and the NUL */
    size_t len;
    bool truncated;
};

typedef void (*guestlog_line_fn)(void *arg, const struct guestlog_line *line);

void guestlog_asm_init(struct guestlog_asm *a);

/* Feed any chunk of bytes; fn is called for every line completed by it. */
void guestlog_asm_feed(struct guestlog_asm *a, const void *data, size_t len, guestlog_line_fn fn,
                       void *arg);

/* End of stream: hand out a last line that lacks its '\n', if any. */
void guestlog_asm_finish(struct guestlog_asm *a, guestlog_line_fn fn, void *arg);

/*
 * A migration can split a line: the UART's FIFO migrates, so the source QEMU prints its start and
 * the destination the rest. Once the source's stream has ended, move its unfinished line to the
 * front of the destination's assembler (before, or after, feeding that any bytes without '\n').
 */
void guestlog_asm_handoff(struct guestlog_asm *from, struct guestlog_asm *to);

/* ---- parsing ------------------------------------------------------------------------------- */

struct guestlog_msg {
    uint64_t seq;       /* a message sent in parts (guestparts.h): the seq of its first part */
    uint64_t seq_last;  /* ... and of its last (seq otherwise) */
    unsigned parts;     /* how many parts it came in (0: one line) */
    char source[GUESTLOG_SOURCE_MAX];
    json_t *obj;      /* the JSON object (owned) */
    const char *type; /* its "type" member */
    char *text;       /* the JSON text as received: what duplicates are compared by */
};

enum guestlog_parse {
    GUESTLOG_NOISE, /* no WIRE_PREFIX: firmware or other output, not a message */
    GUESTLOG_MSG,   /* *out is set */
    GUESTLOG_BAD,   /* prefix found but the rest is wrong: err says what */
};

/*
 * Find WIRE_PREFIX anywhere in the line, then "<seq> <json-object>" with a string "type" member.
 * source labels the message (which QEMU printed it).
 */
enum guestlog_parse guestlog_parse_line(const struct guestlog_line *line, const char *source,
                                        struct guestlog_msg **out, struct vqh_err *err);

/* The same checks for the JSON text of a whole message (the parts of one, reassembled). */
enum guestlog_parse guestlog_parse_json(const char *json, size_t len, uint64_t seq,
                                        const char *source, struct guestlog_msg **out,
                                        struct vqh_err *err);

void guestlog_msg_free(struct guestlog_msg *m);

/* ---- merging ------------------------------------------------------------------------------- */

enum guestlog_event_kind {
    GUESTLOG_EV_MSG,      /* the next message in seq order */
    GUESTLOG_EV_GAP,      /* seqs first..last never arrived */
    GUESTLOG_EV_DUP,      /* msg repeats seq with identical text (first copy from other_source) */
    GUESTLOG_EV_CONFLICT, /* msg repeats seq with different text */
    GUESTLOG_EV_LATE,     /* msg came after its seq was reported in a gap, or too late to check */
};

struct guestlog_event {
    enum guestlog_event_kind kind;
    struct guestlog_msg *msg; /* owned by the event (NULL for a gap) */
    uint64_t first, last;     /* GAP: the missing range; otherwise both msg->seq */
    char other_source[GUESTLOG_SOURCE_MAX]; /* DUP, CONFLICT: source of the copy seen first */
    char *other_text;         /* CONFLICT: the first copy's JSON text (owned) */
    char detail[256];         /* a sentence for reports (everything but MSG) */
};

struct guestlog_merge;

/* first_seq: the seq expected first (1 for a fresh boot). NULL when out of memory. */
struct guestlog_merge *guestlog_merge_new(uint64_t first_seq);
void guestlog_merge_free(struct guestlog_merge *m);

/*
 * Announce a source that may still deliver (a QEMU just started): until it delivers a seq past a
 * hole, or is closed, the hole is not yet a gap. Sources are also opened by their first message.
 */
void guestlog_merge_open(struct guestlog_merge *m, const char *source);

/* The source will deliver no more (its QEMU ended and its output was drained). */
void guestlog_merge_close(struct guestlog_merge *m, const char *source);

/* Add a message (ownership passes to the merger). */
void guestlog_merge_add(struct guestlog_merge *m, struct guestlog_msg *msg);

/*
 * Take the next event; false when none is ready. A hole becomes a GAP only when every open source
 * has delivered a later seq (each source prints in order), so no timing is involved.
 */
bool guestlog_merge_next(struct guestlog_merge *m, struct guestlog_event *ev);

/* Free what an event owns. */
void guestlog_event_clear(struct guestlog_event *ev);

/* ---- host -> guest commands ---------------------------------------------------------------- */

/*
 * Format "cmd[ args]\n" into buf: args is a printf format for space-separated key=value words
 * (NULL: none), e.g. guestlog_cmd_format(buf, sizeof(buf), &err, WIRE_CMD_EPOCH, "epoch=%u", 3).
 * Returns the length without the NUL, or 0 with err when the command is not a lowercase word, an
 * argument is not key=value in printable ASCII, or the line exceeds cap or WIRE_LINE_MAX.
 */
__attribute__((format(printf, 5, 6))) size_t guestlog_cmd_format(char *buf, size_t cap,
                                                                  struct vqh_err *err,
                                                                  const char *cmd,
                                                                  const char *args, ...);

#endif
