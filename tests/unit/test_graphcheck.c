/* test_graphcheck.c: the check after every hop that a QEMU has the run's block graph
 * (tools/blockgraph/graphcheck.c), against a fake QMP server answering query-named-block-nodes:
 * the right graph passes; a missing node, a wrong driver and a protocol node on other data fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "blockgraph.h"
#include "opts.h"
#include "qmp.h"
#include "rundir.h"

static struct rundir *rd;
static const char *sock;

/* The fake QEMU (a forked child): greeting, capabilities, then `nodes` for one query. */
static void fake_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap - 1 && read(fd, &buf[n], 1) == 1 && buf[n++] != '\n')
        ;
    buf[n] = 0;
}

static void fake_reply(int fd, const char *line, const char *ret)
{
    json_t *cmd = json_loads(line, 0, NULL);
    char *out = NULL;
    if (!cmd || asprintf(&out, "{\"return\": %s, \"id\": %lld}\r\n", ret,
                         (long long)json_integer_value(json_object_get(cmd, "id"))) < 0)
        _exit(2);
    if (write(fd, out, strlen(out)) < 0)
        _exit(2);
    free(out);
    json_decref(cmd);
}

static pid_t fake_qemu(const char *nodes)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int ls = socket(AF_UNIX, SOCK_STREAM, 0), fd;
        char line[4096];
        const char *greeting = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, "
                               "\"package\": \"\"}, \"capabilities\": []}}\r\n";
        alarm(30);
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
        unlink(sock);
        if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1) || (fd = accept(ls, NULL, NULL)) < 0)
            _exit(2);
        if (write(fd, greeting, strlen(greeting)) < 0)
            _exit(2);
        fake_line(fd, line, sizeof(line));
        fake_reply(fd, line, "{}");
        fake_line(fd, line, sizeof(line));
        json_t *cmd = json_loads(line, 0, NULL);
        if (strcmp(json_string_value(json_object_get(cmd, "execute")) ?: "", "query-named-block-nodes") ||
            !json_is_true(json_object_get(json_object_get(cmd, "arguments"), "flat")))
            _exit(3);
        json_decref(cmd);
        fake_reply(fd, line, nodes);
        while (read(fd, line, 1) > 0)
            ;
        _exit(0);
    }
    return pid;
}

/* Check the graph of `spec` over one disk (/img0) against a QEMU reporting `nodes`. */
static bool check(const char *spec, const char *nodes, struct vqh_err *err)
{
    struct vqh_opts o;
    const char *images[] = { "/img0" };
    opts_defaults(&o, "migrate");
    o.ndisk_graphs = 1;
    snprintf(o.disk_graph[0], sizeof(o.disk_graph[0]), "%s", spec);
    pid_t pid = fake_qemu(nodes);
    struct qmp *q = qmp_open(sock, 10000, NULL, err);
    assert_non_null(q);
    bool ok = blockgraph_check(q, &o, 1, images, "vm2", 5000, err);
    qmp_close(q);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return ok;
}

#define NODE(name, drv, file) "{\"node-name\": \"" name "\", \"drv\": \"" drv "\", \"file\": \"" file "\"}"
#define GOOD NODE("vqhthr0", "throttle", "json:{}") ", " NODE("vqhfmt0", "qcow2", "/img0") ", " \
             NODE("vqhalign0", "blkdebug", "/img0") ", " NODE("vqhproto0", "file", "/img0")
#define SPEC "qcow2,align=4096,throttle=g:iops=10"

static void test_the_run_graph_passes(void **state)
{
    (void)state;
    struct vqh_err err = {0};
    if (!check(SPEC, "[" GOOD "]", &err))
        fail_msg("%s", err.msg);
    if (!check("nbd", "[" NODE("vqhfmt0", "raw", "x") ", " NODE("vqhproto0", "nbd", "nbd+unix:///vqh0?socket=/r/nbd.sock") "]", &err))
        fail_msg("%s", err.msg);
}

static void test_a_missing_node_fails(void **state)
{
    (void)state;
    struct vqh_err err = {0};
    assert_false(check(SPEC, "[" NODE("vqhthr0", "throttle", "") ", " NODE("vqhfmt0", "qcow2", "") ", "
                       NODE("vqhproto0", "file", "/img0") "]", &err));
    assert_string_equal(err.msg, "query-named-block-nodes on vm2: node vqhalign0 (blkdebug) of data disk 0 is missing");
}

static void test_a_wrong_driver_fails(void **state)
{
    (void)state;
    struct vqh_err err = {0};
    assert_false(check("qcow2", "[" NODE("vqhfmt0", "raw", "") ", " NODE("vqhproto0", "file", "/img0") "]", &err));
    assert_string_equal(err.msg, "query-named-block-nodes on vm2: node vqhfmt0 of data disk 0 has driver raw, not qcow2");
}

static void test_other_data_fails(void **state)
{
    (void)state;
    struct vqh_err err = {0};
    assert_false(check("raw", "[" NODE("vqhfmt0", "raw", "") ", " NODE("vqhproto0", "file", "/other.img") "]", &err));
    assert_non_null(strstr(err.msg, "reaches '/other.img', not the image /img0"));
    assert_false(check("nbd", "[" NODE("vqhfmt0", "raw", "") ", " NODE("vqhproto0", "nbd", "nbd+unix:///vqh7?socket=s") "]", &err));
    assert_non_null(strstr(err.msg, "not the NBD export vqh0"));
}

static int setup(void **state)
{
    struct vqh_err err;
    (void)state;
    rd = rundir_create(NULL, &err);
    return rd && (sock = rundir_sock_path(rd, "qmp.sock", &err)) ? 0 : -1;
}

static int teardown(void **state)
{
    struct vqh_err err;
    (void)state;
    rundir_remove(rd, &err);
    rundir_free(rd);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_run_graph_passes),
        cmocka_unit_test(test_a_missing_node_fails),
        cmocka_unit_test(test_a_wrong_driver_fails),
        cmocka_unit_test(test_other_data_fails),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
