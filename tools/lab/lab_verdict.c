/* lab_verdict.c: cell verdicts from attempts (flaky or solid) and failure classes from reasons. */
#include "lab_verdict.h"

#include <regex.h>
#include <stddef.h>
#include <string.h>

static const char *const names[] = {"pass", "flaky", "fail", "error"};

const char *lab_verdict_name(enum lab_verdict v)
{
    return (unsigned)v < 4 ? names[v] : "?";
}

bool lab_verdict_parse(const char *s, enum lab_verdict *out)
{
    for (int i = 0; s && i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = (enum lab_verdict)i;
            return true;
        }
    return false;
}

enum lab_verdict lab_verdict_of(const int *attempts, int n, double *fail_rate)
{
    int pass = 0, fail = 0, error = 0;
    for (int i = 0; i < n; i++) {
        pass += attempts[i] == 0;
        fail += attempts[i] == 1;
        error += attempts[i] != 0 && attempts[i] != 1;
    }
    *fail_rate = fail + pass ? (double)fail / (fail + pass) : 0.0;
    if (fail && !pass)
        return LAB_FAIL;
    if (fail)
        return LAB_FLAKY;
    return error || !n ? LAB_ERROR : LAB_PASS;
}

/* First match wins: the most specific evidence comes first (a RAM diff explains a later hang). */
static const struct {
    const char *klass, *re;
} class_rules[] = {
    {"ram-differs", "guest RAM differs"},
    {"qemu-crash", "crash|killed by signal|core dumped|aborted"},
    {"guest-panic", "panic|exception|#(UD|GP|PF|DE)"},
    {"ring-mismatch", "ring ind|last-avail|used-idx|used idx|avail idx|inuse"},
    {"data-error", "corrupt|misdirected|stale|phantom|torn|nonzero|unwritten|verif|double_completion"},
    {"device-broken", "broken|DRIVER_OK|io-status|failed operation|invalid operation"},
    {"hang", "hang|silent|timed out|timeout|stopped answering"},
    {"migration-failed", "migration"},
};

const char *lab_failure_class(const char *text, int vqh_verdict)
{
    if (vqh_verdict == 0)
        return "";
    if (vqh_verdict != 1)
        return "setup";
    for (size_t i = 0; i < sizeof(class_rules) / sizeof(class_rules[0]); i++) {
        regex_t re;
        if (regcomp(&re, class_rules[i].re, REG_EXTENDED | REG_ICASE | REG_NOSUB))
            continue;
        bool hit = !regexec(&re, text ? text : "", 0, NULL, 0);
        regfree(&re);
        if (hit)
            return class_rules[i].klass;
    }
    return "other";
}
