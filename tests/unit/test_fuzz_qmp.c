/*
 * test_fuzz_qmp.c: the QMP client (tools/qemu/qmp.c) against a fake QEMU (a thread on a unix
 * socket) that answers a command with fuzzed traffic (tests/unit/fuzz.h): events, then one line
 * made from a QMP message and mutated (truncated, wrong types, stray or split lines), then the real
 * reply, sometimes cut off as the connection closes mid-reply. Sometimes the greeting itself is
 * fuzzed. The client must never crash, and must do exactly what the protocol says, checked line by
 * line against a model here: the reply's value when it comes, every event before it queued (none
 * lost), and otherwise an error naming QMP and the reason (malformed JSON, connection closed,
 * QMP's error).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"
#include "qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n"
#define SCRIPT_MAX 65536

static char dir[64], sock[128];
static int lfd = -1;

struct server {
    struct fuzz *f;
    bool fuzz_greeting;
    char greeting[1024];
    size_t greeting_len;
    uint8_t script[SCRIPT_MAX]; /* what followed the command, as sent */
    size_t script_len;
    long long id;               /* the command's id */
};

static void srv_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client gave up: fine */
        c += w;
        n -= (size_t)w;
    }
}

/* One command line; its id, or -1 when the client hung up. */
static long long srv_recv(int fd)
{
    char line[4096];
    size_t n = 0;
    while (n < sizeof(line) - 1) {
        if (read(fd, &line[n], 1) != 1)
            return -1;
        if (line[n++] == '\n')
            break;
    }
    line[n] = 0;
    json_t *cmd = json_loads(line, 0, NULL);
    long long id = json_integer_value(json_object_get(cmd, "id"));
    json_decref(cmd);
    return id;
}

static void script_put(struct server *s, const char *p, size_t n)
{
    if (s->script_len + n > SCRIPT_MAX)
        n = SCRIPT_MAX - s->script_len;
    memcpy(s->script + s->script_len, p, n);
    s->script_len += n;
}

static const char *const templates[] = {
    "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}",
    "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"active\"}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}",
    "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": $ID}",
    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": $ID}",
    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"cannot parse\"}}",
    "{\"return\": [], \"id\": \"$ID\"}",
    "{\"return\": {}, \"id\": 999999}",
    "{\"event\": 5}",
    "{\"id\": $ID}",
    "[]",
    "",
};

static const char *const dict[] = { "\n", "\r", "\"", "{", "}", "[", "]", ":", ",", "null", "true", "\"id\"",
                                    "\"event\"", "\"return\"", "\"error\"", "1e999", "-0", "\\u0000",
                                    "18446744073709551616", NULL };

static void *srv_main(void *arg)
{
    struct server *s = arg;
    struct fuzz *f = s->f;
    char buf[2048];
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    srv_send(fd, s->greeting, s->greeting_len);
    long long id = srv_recv(fd); /* qmp_capabilities */
    if (id < 0)
        goto out;
    int n = snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": %lld}\r\n", id);
    srv_send(fd, buf, (size_t)n);
    s->id = srv_recv(fd); /* the command under test */
    if (s->id < 0)
        goto out;
    for (size_t k = fuzz_below(f, 4); k > 0; k--) {
        n = snprintf(buf, sizeof(buf), "%s\n", templates[fuzz_below(f, 2)]);
        script_put(s, buf, (size_t)n);
    }
    /* the fuzzed line: a template with the real id, mutated */
    const char *t = templates[fuzz_below(f, sizeof(templates) / sizeof(templates[0]))];
    const char *at = strstr(t, "$ID");
    n = at ? snprintf(buf, sizeof(buf), "%.*s%lld%s", (int)(at - t), t, s->id, at + 3) : snprintf(buf, sizeof(buf), "%s", t);
    size_t len = fuzz_below(f, 3) ? fuzz_mutate(f, (uint8_t *)buf, (size_t)n, 1500, dict) : (size_t)n;
    if (fuzz_below(f, 10) == 0) { /* a long one */
        memset(buf + len, 'x', 500);
        len += 500;
    }
    script_put(s, buf, len);
    script_put(s, fuzz_below(f, 2) ? "\r\n" : "\n", fuzz_below(f, 2) ? 2 : 1);
    n = snprintf(buf, sizeof(buf), "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %lld}\r\n", s->id);
    if (fuzz_below(f, 8) == 0) /* QEMU dies mid-reply */
        n = (int)fuzz_below(f, (size_t)n);
    script_put(s, buf, (size_t)n);
    srv_send(fd, s->script, s->script_len);
out:
    shutdown(fd, SHUT_WR);
    while (read(fd, buf, sizeof(buf)) > 0) /* until the client closes */
        ;
    close(fd);
    return NULL;
}

/* What the protocol says the client must do with the script. */
struct outcome {
    bool ok;
    json_t *value;        /* ok: the reply's "return" */
    const char *why;      /* !ok: a fragment of the error */
    int events;           /* events before the end */
};

static void model(const struct server *s, struct outcome *o)
{
    const uint8_t *p = s->script, *end = p + s->script_len;
    memset(o, 0, sizeof(*o));
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            o->why = "connection closed";
            return;
        }
        size_t t = (size_t)(nl - p);
        while (t > 0 && (p[t - 1] == '\r' || p[t - 1] == ' '))
            t--;
        const uint8_t *line = p;
        p = nl + 1;
        if (!t)
            continue;
        json_t *j = json_loadb((const char *)line, t, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            o->why = "malformed JSON from QMP";
            return;
        }
        json_t *id = json_object_get(j, "id");
        if (json_object_get(j, "event")) {
            o->events++;
        } else if (json_is_integer(id) && json_integer_value(id) == s->id) {
            json_t *ret = json_object_get(j, "return");
            if (ret) {
                o->ok = true;
                o->value = json_incref(ret);
            } else {
                o->why = ": ";
            }
            json_decref(j);
            return;
        } else if (!id && json_object_get(j, "error")) {
            o->why = ": ";
            json_decref(j);
            return;
        }
        json_decref(j);
    }
    o->why = "connection closed";
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vqh-fuzz-qmp-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof(sock), "%s/qmp.sock", dir);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close(lfd);
    unlink(sock);
    return rmdir(dir);
}

static void test_fuzzed_replies(void **state)
{
    (void)state;
    struct fuzz f = { fuzz_seed() };
    struct server *s = malloc(sizeof(*s));
    unsigned long ok = 0, failed = 0, bad_greeting = 0, events = 0;
    assert_non_null(s);
    for (int iter = 0; iter < 1000; iter++) {
        memset(s, 0, sizeof(*s));
        s->f = &f;
        s->id = -1;
        s->greeting_len = strlen(GREETING);
        memcpy(s->greeting, GREETING, s->greeting_len);
        if (fuzz_below(&f, 10) == 0) {
            s->fuzz_greeting = true;
            s->greeting_len = fuzz_mutate(&f, (uint8_t *)s->greeting, s->greeting_len, sizeof(s->greeting) - 1, dict);
            /* a whole line: a greeting cut short without one would just be waited for */
            s->greeting[s->greeting_len++] = '\n';
        }
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, srv_main, s), 0);
        struct qmp_opts o = { .label = "fuzz" };
        struct vqh_err err = {0};
        struct qmp *q = qmp_open(sock, 5000, &o, &err);
        if (!q) {
            /* only a fuzzed greeting may keep it from opening, and it says so */
            if (!s->fuzz_greeting)
                fail_msg("seed 0x%llx iteration %d: %s", (unsigned long long)fuzz_seed(), iter, err.msg);
            assert_true(!strncmp(err.msg, "qmp fuzz: ", 10));
            bad_greeting++;
            pthread_join(th, NULL);
            continue;
        }
        json_t *r = qmp_cmd(q, "query-status", NULL, 5000, &err);
        int got_events = 0;
        json_t *ev;
        struct vqh_err e2;
        while ((ev = qmp_next_event(q, 0, &e2))) {
            assert_true(json_is_object(ev));
            got_events++;
            json_decref(ev);
        }
        qmp_close(q);
        pthread_join(th, NULL);

        struct outcome want;
        model(s, &want);
        if (want.ok != (r != NULL) || (r && !json_equal(r, want.value)) ||
            (!r && (strncmp(err.msg, "qmp fuzz: ", 10) || !strstr(err.msg, want.why))) ||
            got_events < want.events) {
            char *sent = strndup((const char *)s->script, s->script_len);
            fail_msg("seed 0x%llx iteration %d: expected %s (%s, %d events), got %s (%s, %d events); sent:\n%s",
                     (unsigned long long)fuzz_seed(), iter, want.ok ? "a reply" : "an error", want.why ? want.why : "",
                     want.events, r ? "a reply" : "an error", r ? "" : err.msg, got_events, sent);
        }
        /* events after the reply are read only if they came in the same chunk: never fewer */
        r ? ok++ : failed++;
        events += (unsigned long)got_events;
        json_decref(r);
        json_decref(want.value);
    }
    free(s);
    if (ok < 80 || failed < 200 || bad_greeting < 20 || events < 500)
        fail_msg("the fuzz missed its targets: %lu replies, %lu errors, %lu bad greetings, %lu events", ok, failed,
                 bad_greeting, events);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzzed_replies),
    };
    return cmocka_run_group_tests_name("fuzz_qmp", tests, setup, teardown);
}
