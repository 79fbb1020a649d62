/*
 * test_knownbug.c: the known TCG dirty-tracking bug is expected exactly where it can bite: under
 * TCG, when either QEMU of a hop is older than 9.0 (or its version is unknown), never under KVM;
 * and the hop's QEMUs are named the way the verdict names them; a guest that reports bad data
 * after such a hop gets that hop named as the suspect, unless the run injected the fault or a
 * cause is already known.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include "knownbug.h"

static bool exposed(const char *accel, int v1, int v2)
{
    struct session s;
    struct vm a, b;
    memset(&s, 0, sizeof(s));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    s.accel = accel;
    a.version = v1;
    b.version = v2;
    return knownbug_tcg_dirty_exposed(&s, &a, &b);
}

static void test_exposure_by_version_and_accel(void **state)
{
    (void)state;
    assert_true(exposed("tcg", 70222, 70222));    /* Debian's 7.2.22 */
    assert_true(exposed("tcg", 70222, 100002));   /* cross-version: one end lacks the fix */
    assert_true(exposed("tcg", 100002, 80200));
    assert_true(exposed("tcg", 0, 100002));       /* unknown: assume the worst */
    assert_false(exposed("tcg", 90000, 90000));   /* the fix is in 9.0 */
    assert_false(exposed("tcg", 100002, 100002));
    assert_false(exposed("kvm", 70222, 70222));   /* KVM tracks dirty pages in the kernel */
    assert_false(exposed(NULL, 70222, 70222));
}

static void test_versions_named(void **state)
{
    (void)state;
    struct session s;
    struct vm a, b;
    char buf[128];
    memset(&s, 0, sizeof(s));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    s.accel = "tcg";
    a.version = 70222;
    b.version = 70222;
    knownbug_describe(&s, &a, &b, buf, sizeof(buf));
    assert_string_equal(buf, "QEMU 7.2.22 on both ends under tcg");
    b.version = 100002;
    knownbug_describe(&s, &a, &b, buf, sizeof(buf));
    assert_string_equal(buf, "QEMU 7.2.22 -> 10.0.2 under tcg");
    assert_non_null(strstr(KNOWNBUG_TCG_DIRTY, "03bfc2188f06"));
}

static void test_suspect_is_the_last_hop_that_moved_the_guest(void **state)
{
    (void)state;
    struct vqh_opts o;
    struct session s;
    struct hop_record hops[3];
    memset(&o, 0, sizeof(o));
    memset(&s, 0, sizeof(s));
    memset(hops, 0, sizeof(hops));
    s.o = &o;
    s.result.hops = hops;
    s.result.nhops = 3;
    strcpy(hops[0].status, "completed");
    strcpy(hops[1].status, "completed");
    strcpy(hops[2].status, "cancelled"); /* the guest stayed on hop 2's destination */
    hops[1].tcg_dirty_exposed = true;
    assert_ptr_equal(knownbug_suspect_hop(&s), &hops[1]);
    strcpy(o.inject, "none");
    assert_ptr_equal(knownbug_suspect_hop(&s), &hops[1]);
    hops[1].tcg_dirty_exposed = false; /* hop 1 was exposed, but hop 2 moved the guest last */
    hops[0].tcg_dirty_exposed = true;
    assert_null(knownbug_suspect_hop(&s));
    hops[1].tcg_dirty_exposed = true;
    strcpy(o.inject, "overwrite-block"); /* the cause is known */
    assert_null(knownbug_suspect_hop(&s));
    strcpy(o.inject, "");
    strcpy(s.result.fault, "qemu"); /* already named (--check-ram found the pages) */
    assert_null(knownbug_suspect_hop(&s));
    s.result.fault[0] = 0;
    s.result.nhops = 0; /* before any hop: nothing to suspect */
    assert_null(knownbug_suspect_hop(&s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposure_by_version_and_accel),
        cmocka_unit_test(test_versions_named),
        cmocka_unit_test(test_suspect_is_the_last_hop_that_moved_the_guest),
    };
    return cmocka_run_group_tests_name("knownbug", tests, NULL, NULL);
}
