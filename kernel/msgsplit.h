/*
 * msgsplit.h: one guest message to wire lines (wire.h): the plain line "VQH1 <seq> <json>\n" when
 * it fits WIRE_LINE_MAX - WIRE_LINE_ROOM, else parts, each a line of its own carrying the next
 * piece of the JSON text. Pure logic: builds into the kernel and into host unit tests.
 *
 *     struct msg_split s;
 *     msg_split_begin(&s, &m);
 *     while ((n = msg_split_next(&s, seq, line, sizeof(line))) > 0) { write(line, n); seq++; }
 *
 * The caller numbers the lines; the host wants a message's parts on consecutive seqs with nothing
 * between them, so the whole loop runs under the console lock.
 */
#ifndef VQH_MSGSPLIT_H
#define VQH_MSGSPLIT_H

#include "base.h"
#include "msg.h"
#include "wire.h"

struct msg_split {
    const char *head;               /* the JSON text is head[0..head_len) then tail[0..tail_len) */
    size_t head_len, tail_len, total;
    char tail[MSG_TAIL_MAX + 1];
    const char *type;               /* the message's type, named by part 0 */
    size_t pos;                     /* bytes of the text already out */
    uint32_t part;                  /* the next part's number */
    uint64_t first_seq;             /* part 0's seq: every later part names it ("msg") */
};

/* Split a message built with msg.h (it must not change until the last line is out). */
void msg_split_begin(struct msg_split *s, const struct msg *m);
/* Split any JSON text (tail may be NULL); type is what part 0 says in "of". */
void msg_split_text(struct msg_split *s, const char *type, const char *head, size_t head_len,
                    const char *tail, size_t tail_len);
/*
 * Write the next line, numbered seq, into out (NUL-terminated). Returns its length, '\n' included
 * (never more than WIRE_LINE_MAX - WIRE_LINE_ROOM), or 0 once every line is out or when cap is too
 * small to make progress (WIRE_LINE_MAX + 1 always is enough).
 */
size_t msg_split_next(struct msg_split *s, uint64_t seq, char *out, size_t cap);

#endif
