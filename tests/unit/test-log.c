/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "smstudio/log.h"
#include "smstudio/strbuf.h"
#include "testmain.h"

static char *slurp(const char *path)
{
        FILE *f = fopen(path, "re");
        sm_buf b = {0};
        char chunk[4096];
        size_t n;

        ck_assert_msg(f, "cannot open %s: %s", path, strerror(errno));
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                ck_assert_int_eq(sm_buf_append(&b, chunk, n), 0);
        fclose(f);
        return sm_buf_steal(&b);
}

static char *source_path(const char *rel)
{
        const char *root = getenv("SM_SOURCE_ROOT");

        ck_assert_msg(root, "SM_SOURCE_ROOT is not set");
        return sm_strf("%s/%s", root, rel);
}

/* Everything logged while capturing goes to a private file instead of
 * stderr; capture_end() restores stderr and returns what was written. */
typedef struct capture {
        char *dir;
        char *path;
        int saved;
} capture;

static void capture_begin(capture *c)
{
        int fd;

        c->dir = sm_test_tmpdir();
        c->path = sm_strf("%s/stderr", c->dir);
        fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        fflush(stderr);
        c->saved = dup(STDERR_FILENO);
        ck_assert_int_ge(c->saved, 0);
        ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
        close(fd);
}

static char *capture_end(capture *c)
{
        char *out;

        fflush(stderr);
        ck_assert_int_ge(dup2(c->saved, STDERR_FILENO), 0);
        close(c->saved);
        out = slurp(c->path);
        sm_test_rm_rf(c->dir);
        free(c->dir);
        free(c->path);
        return out;
}

static void setup(void)
{
        sm_log_set_target(SM_LOG_TARGET_STDERR);
        sm_log_set_max_level(LOG_INFO);
}

START_TEST(test_stderr_format)
{
        const sm_log_field fields[] = {
                {SM_LOG_FIELD_RESOURCE, "user-profile/d/alice"},
                {SM_LOG_FIELD_AWS_REQUEST_ID, "req-1"},
                {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"},
        };
        const sm_log_field repeated[] = {{SM_LOG_FIELD_RESOURCE, "space/d/lab"}};
        capture c;
        char *out;

        capture_begin(&c);
        sm_log_fields(LOG_WARNING, SM_MESSAGE_ACTION_FAILED, fields, ELEMENTSOF(fields),
                      "update failed: %s", "ValidationException");
        /* A caller that starts with the resource is not given it twice. */
        sm_log_fields(LOG_ERR, NULL, repeated, ELEMENTSOF(repeated), "space/d/lab create: %d", 7);
        sm_log_info("plain %s", "line");
        /* Control characters would split the record or drive the terminal. */
        sm_log_notice("two\nlines\033[2J");
        out = capture_end(&c);
        ck_assert_str_eq(out, "warning: user-profile/d/alice: update failed: ValidationException\n"
                              "err: space/d/lab create: 7\n"
                              "info: plain line\n"
                              "notice: two lines [2J\n");
        /* Fields other than the resource never reach the stderr line. */
        ck_assert_ptr_null(strstr(out, "wJalr"));
        ck_assert_ptr_null(strstr(out, "req-1"));
        free(out);
}
END_TEST

/* $JOURNAL_STREAM naming another stream (stderr redirected by hand, say)
 * keeps the automatic target on stderr. */
START_TEST(test_auto_target_other_stream)
{
        capture c;
        struct stat st;
        char *out, *stream;

        capture_begin(&c);
        ck_assert_int_eq(fstat(STDIN_FILENO, &st), 0);
        stream = sm_strf("%llu:%llu", (unsigned long long)st.st_dev,
                         (unsigned long long)st.st_ino + 1);
        ck_assert_int_eq(setenv("JOURNAL_STREAM", stream, 1), 0);
        sm_log_set_target(SM_LOG_TARGET_AUTO);
        sm_log_info("still on stderr");
        out = capture_end(&c);
        ck_assert_str_eq(out, "info: still on stderr\n");
        free(out);
        free(stream);
}
END_TEST

/* On a terminal the level is coloured, unless NO_COLOR is set. */
START_TEST(test_colour_on_tty)
{
        int master, slave, saved;
        /* The terminal turns \n into \r\n. */
        const char *want = "\033[1;33mwarning\033[0m: careful\r\nwarning: plain\r\n";
        char out[256];
        size_t len = 0;
        ssize_t n;
        struct pollfd p;

        ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
        ck_assert_int_eq(setenv("TERM", "xterm", 1), 0);
        ck_assert_int_eq(unsetenv("NO_COLOR"), 0);
        saved = dup(STDERR_FILENO);
        ck_assert_int_ge(dup2(slave, STDERR_FILENO), 0);
        sm_log_warning("careful");
        ck_assert_int_eq(setenv("NO_COLOR", "1", 1), 0);
        sm_log_warning("plain");
        ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
        close(saved);
        close(slave);
        /* The pty hands bytes over asynchronously: read until all are in. */
        while (len < strlen(want)) {
                p = (struct pollfd){.fd = master, .events = POLLIN};
                ck_assert_msg(poll(&p, 1, 5000) == 1, "got only \"%.*s\"", (int)len, out);
                n = read(master, out + len, sizeof(out) - 1 - len);
                ck_assert_int_gt(n, 0);
                len += (size_t)n;
        }
        out[len] = '\0';
        ck_assert_str_eq(out, want);
        close(master);
}
END_TEST

START_TEST(test_level_filtering)
{
        capture c;
        char *out;

        sm_log_set_max_level(LOG_WARNING);
        ck_assert_int_eq(sm_log_get_max_level(), LOG_WARNING);
        ck_assert(sm_log_enabled(LOG_ERR));
        ck_assert(sm_log_enabled(LOG_WARNING));
        ck_assert(!sm_log_enabled(LOG_NOTICE));
        /* Out-of-range levels are ignored, not clamped. */
        sm_log_set_max_level(42);
        sm_log_set_max_level(-1);
        ck_assert_int_eq(sm_log_get_max_level(), LOG_WARNING);

        capture_begin(&c);
        errno = EBADF;
        sm_log_info("hidden info");
        sm_log_debug("hidden debug");
        sm_log_error("shown error");
        ck_assert_int_eq(errno, EBADF);
        sm_log_set_max_level(LOG_DEBUG);
        sm_log_debug("shown debug");
        out = capture_end(&c);
        ck_assert_str_eq(out, "err: shown error\ndebug: shown debug\n");
        free(out);
}
END_TEST

START_TEST(test_level_strings)
{
        static const struct {
                const char *s;
                int level;
        } cases[] = {
                {"emerg", LOG_EMERG},     {"alert", LOG_ALERT},   {"crit", LOG_CRIT},
                {"err", LOG_ERR},         {"error", LOG_ERR},     {"ERROR", LOG_ERR},
                {"warning", LOG_WARNING}, {"notice", LOG_NOTICE}, {"Info", LOG_INFO},
                {"debug", LOG_DEBUG},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_int_eq(sm_log_level_from_string(cases[i].s), cases[i].level);
        ck_assert_int_eq(sm_log_level_from_string("warn"), -EINVAL);
        ck_assert_int_eq(sm_log_level_from_string(""), -EINVAL);
        ck_assert_int_eq(sm_log_level_from_string(NULL), -EINVAL);
        for (int l = LOG_EMERG; l <= LOG_DEBUG; l++)
                ck_assert_int_eq(sm_log_level_from_string(sm_log_level_to_string(l)), l);
        ck_assert_str_eq(sm_log_level_to_string(LOG_ERR), "err");
        ck_assert_str_eq(sm_log_level_to_string(8), "unknown");
        ck_assert_str_eq(sm_log_level_to_string(-1), "unknown");
}
END_TEST

START_TEST(test_field_name_guard)
{
        static const char *const good[] = {
                SM_LOG_FIELD_RESOURCE,
                SM_LOG_FIELD_MANIFEST,
                SM_LOG_FIELD_ACTION,
                SM_LOG_FIELD_RESULT,
                SM_LOG_FIELD_PASS,
                SM_LOG_FIELD_CLIENT_UID,
                SM_LOG_FIELD_AWS_SERVICE,
                SM_LOG_FIELD_AWS_OPERATION,
                SM_LOG_FIELD_AWS_REQUEST_ID,
                SM_LOG_FIELD_AWS_ERROR_CODE,
                "SMSTUDIO_DOMAIN",
                "ERRNO",
                "A",
        };
        static const char *const bad[] = {
                "",
                "smstudio_resource",
                "_PID",
                "1ABC",
                "A-B",
                "A=B",
                "A B",
                "A\nB",
                "MESSAGE",
                "PRIORITY",
                "MESSAGE_ID",
                "SYSLOG_IDENTIFIER",
                "CODE_LINE",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "DB_PASSWORD",
                "SIGV4_SIGNATURE",
                "HTTP_AUTHORIZATION",
                "SSO_CREDENTIALS",
                "PRIVATE_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 65 */
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(sm_log_field_name_ok(good[i]), "%s refused", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!sm_log_field_name_ok(bad[i]), "%s accepted", bad[i]);
        ck_assert(!sm_log_field_name_ok(NULL));
        ck_assert(sm_log_field_name_ok(
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")); /* 64 */
}
END_TEST

static bool is_message_id(const char *s)
{
        size_t n = 0;

        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == 32;
}

START_TEST(test_message_ids)
{
        size_t n;
        const sm_log_message *m = sm_log_messages(&n);

        ck_assert_uint_ge(n, 18);
        for (size_t i = 0; i < n; i++) {
                ck_assert_msg(is_message_id(m[i].id), "%s: bad id %s", m[i].name, m[i].id);
                for (size_t j = i + 1; j < n; j++) {
                        ck_assert_str_ne(m[i].id, m[j].id);
                        ck_assert_str_ne(m[i].name, m[j].name);
                }
        }
}
END_TEST

/* The #define SM_MESSAGE_* "id" lines of log.h, as the ids in order. */
static size_t header_ids(char ids[][33], size_t max)
{
        _cleanup_free_ char *path = source_path("include/smstudio/log.h");
        _cleanup_free_ char *text = slurp(path);
        size_t n = 0;

        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char name[64], id[64];

                if (sscanf(line, "#define SM_MESSAGE_%63s \"%63[^\"]\"", name, id) != 2)
                        continue;
                ck_assert_msg(is_message_id(id), "SM_MESSAGE_%s: bad id %s", name, id);
                ck_assert_uint_lt(n, max);
                memcpy(ids[n++], id, 33);
        }
        return n;
}

/* The "-- id" lines of the catalog; each entry also needs a Subject and
 * Defined-By: smstudio before the next one. */
static size_t catalog_ids(char ids[][33], size_t max)
{
        _cleanup_free_ char *path = source_path("docs/smstudio.catalog");
        _cleanup_free_ char *text = slurp(path);
        size_t n = 0;
        bool subject = true, defined = true;

        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char id[64];

                if (strncmp(line, "-- ", 3) == 0) {
                        ck_assert_msg(subject && defined, "entry before %s is incomplete", line);
                        ck_assert_int_eq(sscanf(line, "-- %63s", id), 1);
                        ck_assert_msg(is_message_id(id), "catalog: bad id %s", id);
                        ck_assert_uint_lt(n, max);
                        memcpy(ids[n++], id, 33);
                        subject = defined = false;
                } else if (strncmp(line, "Subject: ", 9) == 0) {
                        subject = true;
                } else if (streq(line, "Defined-By: smstudio")) {
                        defined = true;
                }
        }
        ck_assert_msg(subject && defined, "the last catalog entry is incomplete");
        return n;
}

static size_t count_id(char ids[][33], size_t n, const char *id)
{
        size_t c = 0;

        for (size_t i = 0; i < n; i++)
                c += streq(ids[i], id);
        return c;
}

START_TEST(test_catalog_parity)
{
        char header[64][33], catalog[64][33];
        size_t n_header = header_ids(header, ELEMENTSOF(header));
        size_t n_catalog = catalog_ids(catalog, ELEMENTSOF(catalog));
        size_t n_table;
        const sm_log_message *table = sm_log_messages(&n_table);

        ck_assert_uint_ge(n_header, 18);
        for (size_t i = 0; i < n_header; i++) {
                ck_assert_msg(count_id(header, n_header, header[i]) == 1, "%s twice in log.h",
                              header[i]);
                ck_assert_msg(count_id(catalog, n_catalog, header[i]) == 1,
                              "%s: not exactly one catalog entry", header[i]);
        }
        for (size_t i = 0; i < n_catalog; i++)
                ck_assert_msg(count_id(header, n_header, catalog[i]) == 1,
                              "catalog entry %s has no SM_MESSAGE_* in log.h", catalog[i]);
        /* sm_log_messages() lists every id of the header, which log-emit and
         * the journald test rely on. */
        ck_assert_uint_eq(n_table, n_header);
        for (size_t i = 0; i < n_table; i++)
                ck_assert_uint_eq(count_id(header, n_header, table[i].id), 1);
}
END_TEST

/* journalctl itself indexes the catalog and lists every id with its subject. */
START_TEST(test_catalog_journalctl)
{
        _cleanup_free_ char *src = source_path("docs/smstudio.catalog");
        char *root = sm_test_tmpdir();
        _cleanup_free_ char *cmd = NULL, *list_path = NULL, *listing = NULL;
        size_t n;
        const sm_log_message *m = sm_log_messages(&n);

        list_path = sm_strf("%s/list", root);
        cmd = sm_strf("mkdir -p '%s/usr/lib/systemd/catalog' && "
                      "cp '%s' '%s/usr/lib/systemd/catalog/' && "
                      "journalctl --root='%s' --update-catalog && "
                      "journalctl --root='%s' --list-catalog >'%s'",
                      root, src, root, root, root, list_path);
        ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
        listing = slurp(list_path);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *want = sm_strf("%s smstudio: ", m[i].id);

                ck_assert_msg(strstr(listing, want), "%s missing from journalctl's listing:\n%s",
                              m[i].id, listing);
        }
        sm_test_rm_rf(root);
        free(root);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, test_stderr_format);
        tcase_add_test(tc, test_auto_target_other_stream);
        tcase_add_test(tc, test_colour_on_tty);
        tcase_add_test(tc, test_level_filtering);
        tcase_add_test(tc, test_level_strings);
        tcase_add_test(tc, test_field_name_guard);
        tcase_add_test(tc, test_message_ids);
        tcase_add_test(tc, test_catalog_parity);
        tcase_add_test(tc, test_catalog_journalctl);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
