/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/spell.h"
#include "testmain.h"

START_TEST(test_distance)
{
        ck_assert_uint_eq(sm_spell_distance("", ""), 0);
        ck_assert_uint_eq(sm_spell_distance("", "abc"), 3);
        ck_assert_uint_eq(sm_spell_distance("abc", ""), 3);
        ck_assert_uint_eq(sm_spell_distance("name", "name"), 0);
        ck_assert_uint_eq(sm_spell_distance("kitten", "sitting"), 3);
        /* One transposition is one edit (optimal string alignment)... */
        ck_assert_uint_eq(sm_spell_distance("nmae", "name"), 1);
        ck_assert_uint_eq(sm_spell_distance("ab", "ba"), 1);
        /* ...but a substring is never edited twice: OSA gives 3 here where
         * unrestricted Damerau-Levenshtein gives 2. */
        ck_assert_uint_eq(sm_spell_distance("ca", "abc"), 3);
        /* Case does not count. */
        ck_assert_uint_eq(sm_spell_distance("Auth_Mode", "auth_mode"), 0);
        ck_assert_uint_eq(sm_spell_distance("VPC_ID", "vpcid"), 1);
        /* Symmetric. */
        ck_assert_uint_eq(sm_spell_distance("subnet_ids", "subnetid"),
                          sm_spell_distance("subnetid", "subnet_ids"));
        ck_assert_uint_eq(sm_spell_distance("subnet_ids", "subnetid"), 2);
        /* Bytes beyond ASCII compare as they are. */
        ck_assert_uint_eq(sm_spell_distance("caf\xc3\xa9", "caf\xc3\x89"), 1);
}
END_TEST

START_TEST(test_closest)
{
        static const char *const keys[] = {"name",       "vpc_id",    "subnet_ids", "auth_mode",
                                           "retain_efs", "role_path", "tags",       NULL};
        static const char *const none[] = {NULL};

        ck_assert_str_eq(sm_spell_closest("nmae", keys), "name");
        ck_assert_str_eq(sm_spell_closest("vpcid", keys), "vpc_id");
        ck_assert_str_eq(sm_spell_closest("AUTH_MODE", keys), "auth_mode");
        ck_assert_str_eq(sm_spell_closest("subnet_id", keys), "subnet_ids");
        ck_assert_str_eq(sm_spell_closest("retain_fs", keys), "retain_efs");
        /* Threshold max(1, len/3): "tag" (3 letters) may differ by 1... */
        ck_assert_str_eq(sm_spell_closest("tag", keys), "tags");
        /* ...and "tg" by 1 too, but it differs from "tags" by 2. */
        ck_assert_ptr_null(sm_spell_closest("tg", keys));
        /* "rol_pth" (7 letters, limit 2) is 2 away from "role_path". */
        ck_assert_str_eq(sm_spell_closest("rol_pth", keys), "role_path");
        /* "rl_pth" (6 letters, limit 2) is 3 away. */
        ck_assert_ptr_null(sm_spell_closest("rl_pth", keys));
        ck_assert_ptr_null(sm_spell_closest("colour", keys));
        ck_assert_ptr_null(sm_spell_closest("", keys));
        ck_assert_ptr_null(sm_spell_closest("name", none));
        ck_assert_ptr_null(sm_spell_closest("name", NULL));
        ck_assert_ptr_null(sm_spell_closest(NULL, keys));
        /* An exact match is its own answer. */
        ck_assert_str_eq(sm_spell_closest("tags", keys), "tags");
}
END_TEST

START_TEST(test_closest_tie_takes_first)
{
        static const char *const a[] = {"cat", "bat", NULL};
        static const char *const b[] = {"bat", "cat", "hat", NULL};
        static const char *const c[] = {"abcdefgh", "abcdefgx", "abcdefg", NULL};

        ck_assert_str_eq(sm_spell_closest("hat", a), "cat");
        ck_assert_str_eq(sm_spell_closest("mat", b), "bat");
        /* A closer candidate later in the list still wins. */
        ck_assert_str_eq(sm_spell_closest("abcdefg", c), "abcdefg");
}
END_TEST

START_TEST(test_long_words_are_cheap)
{
        static const char *const keys[] = {"name", "kind", NULL};
        size_t n = 64 * 1024;
        char *w = malloc(n + 1);

        ck_assert_ptr_nonnull(w);
        memset(w, 'n', n);
        w[n] = '\0';
        /* The length gap alone rules every candidate out. */
        ck_assert_ptr_null(sm_spell_closest(w, keys));
        free(w);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("spell");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_distance);
        tcase_add_test(tc, test_closest);
        tcase_add_test(tc, test_closest_tie_takes_first);
        tcase_add_test(tc, test_long_words_are_cheap);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
