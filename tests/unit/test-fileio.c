/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "smstudio/fileio.h"
#include "smstudio/strbuf.h"
#include "testmain.h"

static char *slurp(const char *path)
{
        FILE *f = fopen(path, "re");
        char buf[256];
        size_t n;

        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strdup(buf);
}

static size_t count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        size_t n = 0;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

START_TEST(test_write_replace_and_mode)
{
        char *dir = sm_test_tmpdir(), *path = sm_strf("%s/state", dir), *got;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;

        ck_assert_int_ge(dfd, 0);
        ck_assert_int_eq(sm_write_file_atomic_at(AT_FDCWD, path, "one\n", 4), 0);
        got = slurp(path);
        ck_assert_str_eq(got, "one\n");
        free(got);
        ck_assert_int_eq(sm_write_file_atomic_at(dfd, "state", "two", 3), 0);
        got = slurp(path);
        ck_assert_str_eq(got, "two");
        free(got);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        /* No temporary file is left behind. */
        ck_assert_uint_eq(count_entries(dir), 1);
        close(dfd);
        sm_test_rm_rf(dir);
        free(path);
        free(dir);
}
END_TEST

START_TEST(test_missing_directory_fails_cleanly)
{
        char *dir = sm_test_tmpdir(), *path = sm_strf("%s/nope/state", dir);

        ck_assert_int_eq(sm_write_file_atomic_at(AT_FDCWD, path, "x", 1), -ENOENT);
        ck_assert_uint_eq(count_entries(dir), 0);
        sm_test_rm_rf(dir);
        free(path);
        free(dir);
}
END_TEST

START_TEST(test_trust_rule)
{
        struct stat st = {.st_uid = 0, .st_mode = S_IFREG | 0644};
        char why[SM_TRUST_WHY_MAX];

        ck_assert(sm_file_trusted(&st, 0, why, sizeof(why)));
        st.st_uid = 1000;
        ck_assert(sm_file_trusted(&st, 1000, why, sizeof(why)));
        ck_assert(!sm_file_trusted(&st, 0, why, sizeof(why)));
        ck_assert_str_eq(why, "owned by uid 1000, not root");
        ck_assert(!sm_file_trusted(&st, 999, why, sizeof(why)));
        ck_assert_str_eq(why, "owned by uid 1000, not root or uid 999");
        st.st_uid = 0;
        st.st_mode = S_IFREG | 0664;
        ck_assert(!sm_file_trusted(&st, 0, why, sizeof(why)));
        ck_assert_str_eq(why, "writable by group (mode 0664)");
        st.st_mode = S_IFDIR | 01757;
        ck_assert(!sm_file_trusted(&st, 0, why, sizeof(why)));
        ck_assert_str_eq(why, "writable by others (mode 1757)");
        st.st_mode = S_IFREG | 0666;
        ck_assert(!sm_file_trusted(&st, 0, why, sizeof(why)));
        ck_assert_str_eq(why, "writable by group and others (mode 0666)");
        /* A short buffer truncates the reason, never the verdict. */
        ck_assert(!sm_file_trusted(&st, 0, why, 4));
        ck_assert_str_eq(why, "wri");
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("fileio");
        TCase *tc = tcase_create("atomic writes");

        tcase_add_test(tc, test_write_replace_and_mode);
        tcase_add_test(tc, test_missing_directory_fails_cleanly);
        tcase_add_test(tc, test_trust_rule);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
