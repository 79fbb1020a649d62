/*
 * test_cases.c: runs tests/integration/cases.cfg, one cmocka test per case (so tests/run.sh counts
 * its passes, failures and skips). A case runs `build/vqhammer ARGS` (with --json when it has
 * expect lines) or boots the guest straight under QEMU (harness_boot), each in its own scratch
 * directory $dir, then checks: nothing of the run still running, the exit status, every expect
 * and output line in order. A failure names the case file's line and the element that broke it.
 *
 *     build/tests/test_cases                       every case
 *     build/tests/test_cases 'inject_*' boot_pvh   those (shell globs); or VQH_CASE='inject_*'
 *     VQH_KEEP=1 build/tests/test_cases ...        keep each case's directory (printed)
 *     VQH_CASES_FILE=my.cfg build/tests/test_cases another case file
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "casefile.h"
#include "harness.h"
#include "proc.h"

/* One case's run; freed by the teardown whatever failed. */
static struct case_run {
    char dir[512], out[600], json[600];
    char **words;
    json_t *doc;
    char *text;
    struct boot_result boot;
    bool booted;
} cur;

static char parse_error[CASE_ERR_MAX];

static double case_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- needs ------------------------------------------------------------------------------------- */

static bool case_qemu_version(int v[3])
{
    static int have[3] = { -1, 0, 0 };
    if (have[0] < 0) {
        FILE *f = popen("qemu-system-x86_64 --version 2>/dev/null", "r");
        char line[256] = "";
        if (f) {
            if (!fgets(line, sizeof(line), f))
                line[0] = 0;
            pclose(f);
        }
        const char *at = strstr(line, "version ");
        if (!at || sscanf(at, "version %d.%d.%d", &have[0], &have[1], &have[2]) < 2)
            have[0] = -2;
    }
    memcpy(v, have, sizeof(have));
    return have[0] >= 0;
}

static bool case_program_exists(const char *name)
{
    const char *path = getenv("PATH");
    char dir[512], file[700];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
        snprintf(file, sizeof(file), "%s/%s", dir, name);
        if (!access(file, X_OK))
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* NULL when every need is met, else what is missing. */
static const char *case_unmet(const struct vqh_case *c)
{
    static char why[400];
    for (int i = 0; i < c->nneeds; i++) {
        const struct case_need *n = &c->needs[i];
        int v[3];
        switch (n->kind) {
        case NEED_KVM: {
            int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
            if (fd >= 0)
                close(fd);
            if ((fd >= 0) == n->negate) {
                snprintf(why, sizeof(why), "needs %s; /dev/kvm is %s", n->text, fd >= 0 ? "usable" : "not usable");
                return why;
            }
            break;
        }
        case NEED_QEMU:
            if (!case_qemu_version(v)) {
                snprintf(why, sizeof(why), "needs %s; qemu-system-x86_64 --version says no version", n->text);
                return why;
            }
            if (!casefile_qemu_ok(n, v)) {
                snprintf(why, sizeof(why), "needs %s; qemu-system-x86_64 is %d.%d.%d", n->text, v[0], v[1], v[2]);
                return why;
            }
            break;
        case NEED_QEMU10: {
            char cmd[700];
            snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null | grep -q 'version 10\\.0\\.2'", casefile_qemu10());
            if (access(casefile_qemu10(), X_OK) != 0 || system(cmd) != 0) {
                snprintf(why, sizeof(why), "needs %s; no QEMU 10.0.2 at %s (tools/deps.sh unpacks it as root; "
                         "VQH_QEMU10=PATH for another place)", n->text, casefile_qemu10());
                return why;
            }
            break;
        }
        default:
            if (!case_program_exists(n->program)) {
                snprintf(why, sizeof(why), "needs %s; %s is not in PATH", n->text, n->program);
                return why;
            }
        }
    }
    return NULL;
}

/* ---- running ----------------------------------------------------------------------------------- */

static void case_make_files(const struct vqh_case *c)
{
    for (int i = 0; i < c->nfiles; i++) {
        const struct case_file *f = &c->files[i];
        char path[700];
        snprintf(path, sizeof(path), "%s/%s", cur.dir, f->name);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        if (f->text)
            fputs(f->text, fp);
        else
            assert_int_equal(ftruncate(fileno(fp), (off_t)f->size), 0);
        fclose(fp);
    }
}

/* vqhammer ARGS [--json FILE]: its exit status, -1 when it timed out or died of a signal. */
static int case_run_tool(const struct vqh_case *c)
{
    cur.words = casefile_words(c->cmd, cur.dir, VQH_TOP);
    assert_non_null(cur.words);
    const char *argv[128];
    int n = 0;
    argv[n++] = VQH_TOP "/build/vqhammer";
    for (int i = 0; cur.words[i] && n < 124; i++)
        argv[n++] = cur.words[i];
    if (c->json) {
        argv[n++] = "--json";
        argv[n++] = cur.json;
    }
    argv[n] = NULL;
    /* the run directory, and so every QEMU's sockets, under $dir: how leftovers are recognised */
    setenv("TMPDIR", cur.dir, 1);
    struct vqh_err err;
    struct proc *p = proc_spawn(argv, "vqhammer", cur.out, cur.out, &err);
    if (!p)
        fail_msg("%s:%d: cannot run vqhammer: %s", c->path, c->line, err.msg);
    bool done = proc_wait(p, c->timeout_s * 1000);
    if (!done) {
        print_error("[%s] vqhammer still running after timeout = %d s: killed\n", c->name, c->timeout_s);
        proc_kill_reap(p, 5000);
    }
    int st = proc_status(p);
    proc_free(p);
    cur.text = harness_slurp(cur.out);
    return done && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The guest alone under QEMU; the document is its messages: {"msgs": [...], TYPE: [...]}. */
static int case_run_boot(const struct vqh_case *c)
{
    struct boot_spec s = { .boot = c->boot, .smp = c->smp, .mem_mib = c->mem, .config = c->config,
                           .timeout_ms = c->timeout_s * 1000 };
    cur.words = casefile_words(c->qemu ? c->qemu : "", cur.dir, VQH_TOP);
    assert_non_null(cur.words);
    for (int i = 0; cur.words[i]; i++) {
        if (i == 31)
            fail_msg("%s:%d: more than 31 qemu words", c->path, c->line);
        s.extra[i] = cur.words[i];
    }
    assert_true(harness_boot(&s, &cur.boot));
    cur.booted = true;
    cur.doc = json_pack("{s:[], s:b, s:i}", "msgs", "timed_out", cur.boot.timed_out, "broken_msgs",
                        cur.boot.broken_msgs);
    for (int i = 0; i < cur.boot.nmsgs; i++) {
        json_t *m = cur.boot.msgs[i];
        const char *type = json_string_value(json_object_get(m, "type"));
        json_array_append(json_object_get(cur.doc, "msgs"), m);
        if (!type || !strcmp(type, "msgs") || !strcmp(type, "timed_out") || !strcmp(type, "broken_msgs"))
            continue;
        if (!json_object_get(cur.doc, type))
            json_object_set_new(cur.doc, type, json_array());
        json_array_append(json_object_get(cur.doc, type), m);
    }
    return cur.boot.exit_status;
}

static void case_show_output(const struct vqh_case *c)
{
    if (cur.text)
        print_error("--- vqhammer output of [%s] (%s) ---\n%s\n--- end ---\n", c->name, cur.out, cur.text);
}

static void case_run(void **state)
{
    const struct vqh_case *c = *state;
    const char *unmet = case_unmet(c);
    if (unmet) {
        print_message("[%s] skipped: %s\n", c->name, unmet);
        skip();
    }
    /* short: QEMU's unix sockets go under it (at most 107 bytes a path), so not the case's name */
    static int seq;
    snprintf(cur.dir, sizeof(cur.dir), "%s/c%d", harness_dir(), ++seq);
    snprintf(cur.out, sizeof(cur.out), "%s/output.txt", cur.dir);
    snprintf(cur.json, sizeof(cur.json), "%s/result.json", cur.dir);
    assert_int_equal(mkdir(cur.dir, 0700), 0);
    case_make_files(c);
    double t0 = case_now();
    int status = c->cmd ? case_run_tool(c) : case_run_boot(c);
    print_message("[%s] %s %d in %.1f s (%s)\n", c->name, c->cmd ? "vqhammer exited" : "QEMU exited", status,
                  case_now() - t0, cur.dir);
    char who[600];
    if (!harness_nothing_left(who, sizeof(who))) {
        case_show_output(c);
        fail_msg("%s:%d: [%s] left a process running: %s", c->path, c->line, c->name, who);
    }
    if (c->cmd && c->json) {
        json_error_t jerr;
        cur.doc = json_load_file(cur.json, 0, &jerr);
        if (!cur.doc) {
            case_show_output(c);
            fail_msg("%s:%d: [%s] wrote no --json document %s: %s", c->path, c->line, c->name, cur.json, jerr.text);
        }
    }
    if (status != c->exit) {
        case_show_output(c);
        fail_msg("%s:%d: [%s] exit status %d, expected %d%s%s", c->path, c->line, c->name, status, c->exit,
                 json_string_value(json_object_get(cur.doc, "reason")) ? "; reason: " : "",
                 json_string_value(json_object_get(cur.doc, "reason")) ?: "");
    }
    struct cx_ctx ctx = { .doc = cur.doc, .output = cur.text, .exit = status, .dir = cur.dir, .lets = c->lets,
                          .nlets = (size_t)c->nlets };
    for (int i = 0; i < c->nchecks; i++) {
        char why[CX_ERR_MAX];
        if (!cx_check(c->checks[i].expr, &ctx, why, sizeof(why))) {
            case_show_output(c);
            const char *verdict = json_string_value(json_object_get(cur.doc, "verdict"));
            fail_msg("%s:%d: [%s] %s: %s%s%s%s%s%s", c->path, c->checks[i].line, c->name, c->checks[i].text, why,
                     verdict ? " (the run: " : "", verdict ?: "", verdict ? ", " : "",
                     verdict ? json_string_value(json_object_get(cur.doc, "reason")) ?: "" : "", verdict ? ")" : "");
        }
    }
}

static int case_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int case_teardown(void **state)
{
    (void)state;
    casefile_words_free(cur.words);
    json_decref(cur.doc);
    free(cur.text);
    if (cur.booted)
        harness_result_free(&cur.boot);
    if (cur.dir[0] && getenv("VQH_KEEP"))
        print_message("kept %s\n", cur.dir);
    else if (cur.dir[0])
        nftw(cur.dir, case_rm, 16, FTW_DEPTH | FTW_PHYS);
    memset(&cur, 0, sizeof(cur));
    return 0;
}

static void case_file_is_bad(void **state)
{
    (void)state;
    fail_msg("%s", parse_error);
}

static bool case_selected(const char *name, int argc, char **argv)
{
    const char *env = getenv("VQH_CASE");
    if (argc < 2 && (!env || !*env))
        return true;
    for (int i = 1; i < argc; i++)
        if (!fnmatch(argv[i], name, 0))
            return true;
    char pat[256];
    for (const char *s = env ? env : ""; *s;) {
        size_t n = strcspn(s, ", ");
        snprintf(pat, sizeof(pat), "%.*s", (int)n, s);
        if (n && !fnmatch(pat, name, 0))
            return true;
        s += n + (s[n] != 0);
    }
    return false;
}

int main(int argc, char **argv)
{
    const char *path = getenv("VQH_CASES_FILE");
    path = path && *path ? path : VQH_TOP "/tests/integration/cases.cfg";
    char *text = harness_slurp(path);
    struct case_set set = { 0 };
    int rc;
    if (!text || !casefile_parse(path, text, &set, parse_error, sizeof(parse_error))) {
        if (!text)
            snprintf(parse_error, sizeof(parse_error), "%s: cannot read the case file", path);
        const struct CMUnitTest bad[] = { { "cases.cfg", case_file_is_bad, NULL, NULL, NULL } };
        rc = cmocka_run_group_tests_name("cases", bad, NULL, NULL);
    } else {
        struct CMUnitTest *tests = calloc((size_t)set.n, sizeof(*tests));
        size_t n = 0;
        for (int i = 0; i < set.n; i++)
            if (case_selected(set.cases[i].name, argc, argv))
                tests[n++] = (struct CMUnitTest){ set.cases[i].name, case_run, NULL, case_teardown, &set.cases[i] };
        if (n < (size_t)set.n)
            print_message("%zu of %d cases of %s selected\n", n, set.n, path);
        rc = _cmocka_run_group_tests("cases", tests, n, NULL, NULL);
        free(tests);
    }
    free(text);
    casefile_free(&set);
    harness_cleanup();
    return rc;
}
