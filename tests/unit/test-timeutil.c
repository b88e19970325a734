/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>

#include "smstudio/timeutil.h"
#include "testmain.h"

START_TEST(test_iso8601_forms)
{
        int64_t t;

        ck_assert_int_eq(sm_parse_iso8601("2015-08-30T12:36:00Z", &t), 0);
        ck_assert_int_eq(t, 1440938160);
        ck_assert_int_eq(sm_parse_iso8601("2015-08-30T12:36:00.123Z", &t), 0);
        ck_assert_int_eq(t, 1440938160);
        ck_assert_int_eq(sm_parse_iso8601("2015-08-30T14:36:00+02:00", &t), 0);
        ck_assert_int_eq(t, 1440938160);
        ck_assert_int_eq(sm_parse_iso8601("2015-08-30T10:36:00-0200", &t), 0);
        ck_assert_int_eq(t, 1440938160);
}
END_TEST

START_TEST(test_iso8601_rejects)
{
        static const char *const bad[] = {
                "",
                "2015-08-30",
                "2015-08-30T12:36:00",
                "2015-13-30T12:36:00Z",
                "2015-08-30T25:36:00Z",
                "2015-08-30T12:36:00Zjunk",
                "2015-08-30T12:36:00.Z",
                "20150830T123600Z",
        };
        int64_t t;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_msg(sm_parse_iso8601(bad[i], &t) == -EINVAL, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(sm_parse_iso8601(NULL, &t), -EINVAL);
}
END_TEST

START_TEST(test_http_date)
{
        int64_t t;

        ck_assert_int_eq(sm_parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT", &t), 0);
        ck_assert_int_eq(t, 1440938160);
        ck_assert_int_eq(sm_parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT", &t), -EINVAL);
        ck_assert_int_eq(sm_parse_http_date("yesterday", &t), -EINVAL);
}
END_TEST

START_TEST(test_format_round_trip)
{
        char out[21];
        int64_t t;

        sm_format_iso8601(1440938160, out);
        ck_assert_str_eq(out, "2015-08-30T12:36:00Z");
        ck_assert_int_eq(sm_parse_iso8601(out, &t), 0);
        ck_assert_int_eq(t, 1440938160);
}
END_TEST

START_TEST(test_clocks_move_forward)
{
        uint64_t a = sm_now_monotonic_ms(), b = sm_now_monotonic_ms();

        ck_assert_uint_ge(b, a);
        ck_assert_int_gt(sm_now_unix(), 1700000000);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("timeutil");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_iso8601_forms);
        tcase_add_test(tc, test_iso8601_rejects);
        tcase_add_test(tc, test_http_date);
        tcase_add_test(tc, test_format_round_trip);
        tcase_add_test(tc, test_clocks_move_forward);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
