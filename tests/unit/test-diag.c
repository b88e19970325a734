/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/diag.h"
#include "testmain.h"

static char *formatted(const sm_diags *d)
{
        sm_buf out = {0};

        ck_assert_int_eq(sm_diags_format(d, &out), 0);
        return sm_buf_steal(&out);
}

START_TEST(test_add_and_format)
{
        sm_diags d = {0};
        char *s;

        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 3, 7, "name %s is %d long", "x", 99), 0);
        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 4, 0, "no column"), 0);
        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 0, 0, "whole file"), 0);
        ck_assert_int_eq(sm_diags_add(&d, NULL, 1, 1, "no path"), 0);
        /* A column without a line has no meaning alone: the file is named. */
        ck_assert_int_eq(sm_diags_add(&d, "b.yaml", 0, 5, "odd"), 0);
        ck_assert_uint_eq(d.n, 5);
        ck_assert_str_eq(d.items[0].path, "a.yaml");
        ck_assert_uint_eq(d.items[0].line, 3);
        ck_assert_uint_eq(d.items[0].column, 7);
        ck_assert_str_eq(d.items[0].message, "name x is 99 long");
        s = formatted(&d);
        ck_assert_str_eq(s, "a.yaml:3:7: name x is 99 long\n"
                            "a.yaml:4: no column\n"
                            "a.yaml: whole file\n"
                            "?:1:1: no path\n"
                            "b.yaml: odd\n");
        free(s);
        sm_diags_done(&d);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_ptr_null(d.items);
        /* Done twice, and on an empty list, is harmless. */
        sm_diags_done(&d);
}
END_TEST

START_TEST(test_grows)
{
        sm_diags d = {0};

        for (unsigned i = 0; i < 1000; i++)
                ck_assert_int_eq(sm_diags_add(&d, "f", i + 1, 1, "error %u", i), 0);
        ck_assert_uint_eq(d.n, 1000);
        ck_assert_uint_ge(d.cap, 1000);
        ck_assert_str_eq(d.items[999].message, "error 999");
        ck_assert_uint_eq(d.items[999].line, 1000);
        sm_diags_done(&d);
}
END_TEST

START_TEST(test_format_appends)
{
        sm_diags d = {0};
        sm_buf out = {0};

        ck_assert_int_eq(sm_buf_puts(&out, "before\n"), 0);
        ck_assert_int_eq(sm_diags_add(&d, "f", 1, 2, "m"), 0);
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_str_eq(out.data, "before\nf:1:2: m\n");
        sm_buf_clear(&out);
        sm_diags_done(&d);
        /* Nothing to say appends nothing. */
        ck_assert_int_eq(sm_diags_format(&d, &out), 0);
        ck_assert_uint_eq(out.len, 0);
        sm_buf_done(&out);
}
END_TEST

START_TEST(test_take)
{
        sm_diags a = {0}, b = {0}, empty = {0};
        char *s;

        ck_assert_int_eq(sm_diags_add(&a, "a", 1, 1, "one"), 0);
        ck_assert_int_eq(sm_diags_add(&b, "b", 2, 2, "two"), 0);
        ck_assert_int_eq(sm_diags_add(&b, "b", 3, 3, "three"), 0);
        ck_assert_int_eq(sm_diags_take(&a, &b), 0);
        ck_assert_uint_eq(a.n, 3);
        ck_assert_uint_eq(b.n, 0);
        ck_assert_ptr_null(b.items);
        ck_assert_int_eq(sm_diags_take(&a, &empty), 0);
        ck_assert_uint_eq(a.n, 3);
        s = formatted(&a);
        ck_assert_str_eq(s, "a:1:1: one\nb:2:2: two\nb:3:3: three\n");
        free(s);
        /* Into an empty list, and the source is reusable afterwards. */
        ck_assert_int_eq(sm_diags_take(&b, &a), 0);
        ck_assert_uint_eq(b.n, 3);
        ck_assert_uint_eq(a.n, 0);
        ck_assert_int_eq(sm_diags_add(&a, "a", 9, 9, "again"), 0);
        ck_assert_uint_eq(a.n, 1);
        sm_diags_done(&a);
        sm_diags_done(&b);
}
END_TEST

START_TEST(test_take_many)
{
        sm_diags a = {0}, b = {0};

        for (unsigned i = 0; i < 100; i++) {
                ck_assert_int_eq(sm_diags_add(&a, "a", i + 1, 1, "a%u", i), 0);
                ck_assert_int_eq(sm_diags_add(&b, "b", i + 1, 1, "b%u", i), 0);
        }
        ck_assert_int_eq(sm_diags_take(&a, &b), 0);
        ck_assert_uint_eq(a.n, 200);
        ck_assert_str_eq(a.items[199].message, "b99");
        ck_assert_str_eq(a.items[100].path, "b");
        sm_diags_done(&a);
}
END_TEST

START_TEST(test_sort)
{
        sm_diags d = {0};
        char *s;

        ck_assert_int_eq(sm_diags_add(&d, "b.yaml", 1, 1, "b1"), 0);
        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 10, 1, "a10"), 0);
        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 2, 5, "a2:5 first"), 0);
        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 2, 3, "a2:3"), 0);
        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 2, 5, "a2:5 second"), 0);
        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 0, 0, "whole"), 0);
        ck_assert_int_eq(sm_diags_add(&d, "a.yaml", 2, 5, "a2:5 third"), 0);
        sm_diags_sort(&d);
        s = formatted(&d);
        /* Lines compare as numbers (10 after 2), and equal places keep the
         * order they were added in. */
        ck_assert_str_eq(s, "a.yaml: whole\n"
                            "a.yaml:2:3: a2:3\n"
                            "a.yaml:2:5: a2:5 first\n"
                            "a.yaml:2:5: a2:5 second\n"
                            "a.yaml:2:5: a2:5 third\n"
                            "a.yaml:10:1: a10\n"
                            "b.yaml:1:1: b1\n");
        free(s);
        sm_diags_done(&d);
        /* Empty and single lists sort to themselves. */
        sm_diags_sort(&d);
        ck_assert_int_eq(sm_diags_add(&d, "x", 1, 1, "only"), 0);
        sm_diags_sort(&d);
        ck_assert_str_eq(d.items[0].message, "only");
        sm_diags_done(&d);
}
END_TEST

START_TEST(test_sort_stable_many)
{
        sm_diags d = {0};

        /* Enough equal places that qsort would reorder them if the address
         * tie-break were missing. */
        for (unsigned i = 0; i < 200; i++)
                ck_assert_int_eq(sm_diags_add(&d, "f", i % 2 ? 1 : 2, 1, "%u", i), 0);
        sm_diags_sort(&d);
        for (unsigned i = 0; i < 100; i++) {
                char want[16];

                snprintf(want, sizeof(want), "%u", 2 * i + 1);
                ck_assert_uint_eq(d.items[i].line, 1);
                ck_assert_str_eq(d.items[i].message, want);
                snprintf(want, sizeof(want), "%u", 2 * i);
                ck_assert_uint_eq(d.items[100 + i].line, 2);
                ck_assert_str_eq(d.items[100 + i].message, want);
        }
        sm_diags_done(&d);
}
END_TEST

START_TEST(test_json)
{
        sm_diags d = {0};
        json_t *j;
        char *s;

        j = sm_diags_to_json(&d);
        ck_assert_ptr_nonnull(j);
        ck_assert(json_is_array(j));
        ck_assert_uint_eq(json_array_size(j), 0);
        json_decref(j);

        ck_assert_int_eq(sm_diags_add(&d, "m/a.yaml", 3, 9, "duplicate key \"name\""), 0);
        ck_assert_int_eq(sm_diags_add(&d, "m/b.yaml", 0, 0, "file is larger than 1 MiB"), 0);
        j = sm_diags_to_json(&d);
        ck_assert_ptr_nonnull(j);
        s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        ck_assert_str_eq(s, "[{\"column\":9,\"line\":3,\"message\":\"duplicate key \\\"name\\\"\","
                            "\"path\":\"m/a.yaml\"},"
                            "{\"column\":0,\"line\":0,\"message\":\"file is larger than 1 MiB\","
                            "\"path\":\"m/b.yaml\"}]");
        free(s);
        json_decref(j);
        sm_diags_done(&d);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("diag");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_add_and_format);
        tcase_add_test(tc, test_grows);
        tcase_add_test(tc, test_format_appends);
        tcase_add_test(tc, test_take);
        tcase_add_test(tc, test_take_many);
        tcase_add_test(tc, test_sort);
        tcase_add_test(tc, test_sort_stable_many);
        tcase_add_test(tc, test_json);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
