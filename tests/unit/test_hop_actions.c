/* test_hop_actions.c: --hop-actions and --hop-mix (tools/hop/actions.c): names, "all", bad input
 * named with its fix, conflicting flags, and the seeded choice of each hop's action. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include "hop_action.h"

static int parse(struct vqh_opts *o, const char *const *args, struct vqh_err *err)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"migrate";
    for (int i = 0; args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    opts_defaults(o, "migrate");
    return opts_parse(o, argc, argv, err);
}

static void test_lists_parse(void **state)
{
    (void)state;
    unsigned m;
    struct vqh_err err;
    assert_true(hop_action_parse("paused,werror", &m, &err));
    assert_int_equal(m, (1u << HA_PAUSED) | (1u << HA_WERROR));
    assert_true(hop_action_parse("all", &m, &err));
    for (int a = 1; a < HA__COUNT; a++)
        assert_true(m & (1u << a));
    assert_false(m & 1u); /* "none" is no action */
    assert_false(hop_action_parse("paused,warp", &m, &err));
    assert_non_null(strstr(err.msg, "unknown action 'warp'"));
    assert_false(hop_action_parse(",", &m, &err));
    assert_non_null(strstr(err.msg, "empty list"));
    for (int a = 0; a < HA__COUNT; a++)
        assert_string_not_equal(hop_action_name((enum hop_action)a), "unknown");
}

static void test_flags_and_conflicts(void **state)
{
    (void)state;
    struct vqh_opts o;
    struct vqh_err err;
    const char *ok[] = { "--hop-actions", "copy-storage,late-cancel", "--hop-mix", "random", NULL };
    assert_int_equal(parse(&o, ok, &err), 0);
    assert_string_equal(o.hop_mix, "random");
    assert_int_equal(o.hop_action_mask, (1u << HA_COPY_STORAGE) | (1u << HA_LATE_CANCEL));
    assert_true(hop_action_validate(&o, &err));
    assert_string_equal(hop_action_device_props(&o), "");
    const char *we[] = { "--hop-actions", "werror", NULL };
    assert_int_equal(parse(&o, we, &err), 0);
    assert_string_equal(hop_action_device_props(&o), ",werror=stop,rerror=stop");
    const char *clash[] = { "--hop-actions", "paused", "--postcopy", NULL };
    assert_int_equal(parse(&o, clash, &err), 0);
    assert_false(hop_action_validate(&o, &err));
    assert_non_null(strstr(err.msg, "--postcopy"));
    const char *badmix[] = { "--hop-mix", "shuffle", NULL };
    assert_int_equal(parse(&o, badmix, &err), -1);
    assert_non_null(strstr(err.msg, "--hop-mix"));
}

static void test_rotation_and_seeded_mix(void **state)
{
    (void)state;
    struct vqh_opts o;
    struct vqh_err err;
    struct session s;
    struct hop_record h;
    memset(&s, 0, sizeof(s));
    s.o = &o;
    const char *rot[] = { "--hop-actions", "werror,paused,backup", "--seed", "7", NULL };
    assert_int_equal(parse(&o, rot, &err), 0);
    /* rotate: in enum order (paused, backup, werror), whatever the order of the list */
    const char *want[] = { "paused", "backup", "werror", "paused" };
    for (int i = 0; i < 4; i++) {
        memset(&h, 0, sizeof(h));
        h.index = i + 1;
        hop_action_pick(&s, &h);
        assert_string_equal(h.action_name, want[i]);
        assert_true(hop_action_full_verify(&h));
    }
    const char *rnd[] = { "--hop-actions", "all", "--hop-mix", "random", "--seed", "7", NULL };
    assert_int_equal(parse(&o, rnd, &err), 0);
    char first[8][24];
    unsigned seen = 0;
    for (int i = 0; i < 8; i++) {
        memset(&h, 0, sizeof(h));
        h.index = i + 1;
        hop_action_pick(&s, &h);
        snprintf(first[i], sizeof(first[i]), "%s", h.action_name);
        seen |= 1u << h.action;
    }
    assert_true(__builtin_popcount(seen) >= 3); /* a mix, not one action */
    for (int i = 0; i < 8; i++) { /* the same seed gives the same hops */
        memset(&h, 0, sizeof(h));
        h.index = i + 1;
        hop_action_pick(&s, &h);
        assert_string_equal(h.action_name, first[i]);
    }
    memset(&h, 0, sizeof(h));
    assert_false(hop_action_full_verify(&h));
    assert_false(hop_action_dst_paused(&h));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists_parse),
        cmocka_unit_test(test_flags_and_conflicts),
        cmocka_unit_test(test_rotation_and_seeded_mix),
    };
    return cmocka_run_group_tests_name("hop_actions", tests, NULL, NULL);
}
