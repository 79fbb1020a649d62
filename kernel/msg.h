/*
 * msg.h: builds one guest->host message (wire.h) as a JSON object, without libc.
 * Pure logic: builds into the kernel and into host unit tests.
 *
 *     struct msg m;
 *     msg_begin(&m, WIRE_MSG_HELLO);
 *     msg_u64(&m, "cpus", 4);
 *     msg_arr_begin(&m, "disks"); msg_str(&m, NULL, "vqh0"); msg_arr_end(&m);
 *     n = msg_format_line(&m, seq, line, sizeof(line));   // "VQH1 <seq> {...}\n"
 *
 * Inside an array pass key = NULL. Strings are escaped to pure ASCII JSON. When the object would
 * not fit, members are dropped and "truncated":true is added, so the line stays valid JSON.
 *
 * msg_begin builds in the struct itself (one line's worth). A message that may outgrow a line
 * (per-queue lists) is built with msg_begin_buf in a caller's buffer of up to WIRE_MSG_MAX bytes
 * and sent as parts (msgsplit.h); its JSON text is body[0..len) followed by msg_tail().
 */
#ifndef VQH_MSG_H
#define VQH_MSG_H

#include "base.h"
#include "wire.h"

#define MSG_DEPTH_MAX 8
#define MSG_BODY_MAX (WIRE_LINE_MAX - 32) /* room for prefix, seq and '\n' */
#define MSG_CTL_SIZE (MSG_DEPTH_MAX + 2)   /* bookkeeping at the end of the body (msg.c) */
#define MSG_TAIL_MAX (MSG_DEPTH_MAX + 24)  /* longest msg_tail() */

struct msg {
    char *body;                          /* inline_body, or the buffer given to msg_begin_buf */
    size_t cap;                          /* bytes at body */
    const char *type;                    /* as given to msg_begin (not copied) */
    size_t len;
    bool truncated;
    uint8_t depth;                       /* open objects/arrays; 1 = the top object */
    bool first[MSG_DEPTH_MAX];           /* no member written yet at this depth */
    char inline_body[MSG_BODY_MAX];
};

void msg_begin(struct msg *m, const char *type);
/* The same, building in buf (cap from MSG_BODY_MAX up to WIRE_MSG_MAX + MSG_CTL_SIZE bytes; more
 * is left unused, less makes it build in the struct as msg_begin does). */
void msg_begin_buf(struct msg *m, const char *type, char *buf, size_t cap);
/* A value past INT64_MAX goes out as msg_hex would write it (a "0x..." string). */
void msg_u64(struct msg *m, const char *key, uint64_t v);
void msg_i64(struct msg *m, const char *key, int64_t v);
void msg_hex(struct msg *m, const char *key, uint64_t v);   /* "0x1f" as a JSON string */
void msg_bool(struct msg *m, const char *key, bool v);
void msg_str(struct msg *m, const char *key, const char *s);
void msg_strn(struct msg *m, const char *key, const char *s, size_t n);
void msg_hexdump(struct msg *m, const char *key, const void *p, size_t n); /* "00ff.." string */
void msg_obj_begin(struct msg *m, const char *key);
void msg_obj_end(struct msg *m);
void msg_arr_begin(struct msg *m, const char *key);
void msg_arr_end(struct msg *m);

/*
 * Close every open object and write "VQH1 <seq> <json>\n" into out (NUL-terminated too).
 * Returns the line length without the NUL, or 0 if cap is too small.
 */
size_t msg_format_line(struct msg *m, uint64_t seq, char *out, size_t cap);

/*
 * What closes the JSON built so far (open brackets, "truncated":true, the final '}'), written to
 * out (NUL-terminated); the whole JSON text is body[0..len) and then this. Returns its length, or
 * 0 when cap is too small (MSG_TAIL_MAX + 1 always is enough).
 */
size_t msg_tail(const struct msg *m, char *out, size_t cap);
/* How many bytes of body start the JSON text (m->len; 0 for a message never begun). */
size_t msg_head_len(const struct msg *m);

#endif
