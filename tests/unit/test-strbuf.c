/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "smstudio/strbuf.h"
#include "testmain.h"

START_TEST(test_append_grows_and_terminates)
{
        sm_buf b = {0};

        for (int i = 0; i < 1000; i++)
                ck_assert_int_eq(sm_buf_putc(&b, (char)('a' + i % 26)), 0);
        ck_assert_uint_eq(b.len, 1000);
        ck_assert_int_eq(b.data[1000], '\0');
        ck_assert_int_eq(sm_buf_printf(&b, "%d-%s", 42, "x"), 0);
        ck_assert_str_eq(b.data + 1000, "42-x");
        sm_buf_clear(&b);
        ck_assert_uint_eq(b.len, 0);
        ck_assert_str_eq(b.data, "");
        sm_buf_done(&b);
        ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_steal_empty_gives_empty_string)
{
        sm_buf b = {0};
        char *s = sm_buf_steal(&b);

        ck_assert_str_eq(s, "");
        free(s);
}
END_TEST

START_TEST(test_uri_encoding)
{
        sm_buf b = {0};
        const char in[] = "a b/c~d_e.f-g+h=i&j\xc3\xa9";

        ck_assert_int_eq(sm_buf_put_uri_encoded(&b, in, strlen(in), false), 0);
        ck_assert_str_eq(b.data, "a%20b%2Fc~d_e.f-g%2Bh%3Di%26j%C3%A9");
        sm_buf_clear(&b);
        ck_assert_int_eq(sm_buf_put_uri_encoded(&b, in, strlen(in), true), 0);
        ck_assert_str_eq(b.data, "a%20b/c~d_e.f-g%2Bh%3Di%26j%C3%A9");
        sm_buf_done(&b);
}
END_TEST

START_TEST(test_uri_decoding)
{
        char *s = NULL;

        ck_assert_int_eq(sm_uri_decode("a%20b+c%2f", 10, true, &s), 0);
        ck_assert_str_eq(s, "a b c/");
        free(s);
        ck_assert_int_eq(sm_uri_decode("a+b", 3, false, &s), 0);
        ck_assert_str_eq(s, "a+b");
        free(s);
        ck_assert_int_eq(sm_uri_decode("%7B%22", 6, false, &s), 0);
        ck_assert_str_eq(s, "{\"");
        free(s);
        s = NULL;
        ck_assert_int_eq(sm_uri_decode("%4", 2, false, &s), -EINVAL);
        ck_assert_int_eq(sm_uri_decode("abc%", 4, false, &s), -EINVAL);
        ck_assert_int_eq(sm_uri_decode("%zz", 3, false, &s), -EINVAL);
        ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_hex)
{
        const unsigned char in[] = {0x00, 0x9f, 0xff, 0x10};
        char out[9];

        sm_hex_encode(in, sizeof(in), out);
        ck_assert_str_eq(out, "009fff10");
}
END_TEST

START_TEST(test_strdup_replace)
{
        char *p = strdup("old");

        ck_assert_int_eq(sm_strdup_replace(&p, "new"), 0);
        ck_assert_str_eq(p, "new");
        ck_assert_int_eq(sm_strdup_replace(&p, NULL), 0);
        ck_assert_ptr_null(p);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("strbuf");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_append_grows_and_terminates);
        tcase_add_test(tc, test_steal_empty_gives_empty_string);
        tcase_add_test(tc, test_uri_encoding);
        tcase_add_test(tc, test_uri_decoding);
        tcase_add_test(tc, test_hex);
        tcase_add_test(tc, test_strdup_replace);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
