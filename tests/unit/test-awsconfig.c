/* SPDX-License-Identifier: Apache-2.0 */
/* The shared config and credentials files: sections and keys as botocore
 * reads them, nested [services] keys, the line framing around inih's limits
 * (long lines, long section names), home resolution, and every error with
 * its file and line. Check forks each test, so environment changes stay in
 * the test that makes them. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "smstudio/awsconfig.h"
#include "smstudio/macro.h"
#include "testmain.h"

static char *tmp;

static void setup(void)
{
        tmp = sm_test_tmpdir();
}

static void teardown(void)
{
        sm_test_rm_rf(tmp);
        free(tmp);
        tmp = NULL;
}

/* Write content (n bytes, or a string when n is 0) to tmp/name. */
static char *write_file_n(const char *name, const char *content, size_t n)
{
        char *path = NULL;
        FILE *f;

        ck_assert_int_gt(asprintf(&path, "%s/%s", tmp, name), 0);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(content, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
        return path;
}

static char *write_file(const char *name, const char *content)
{
        return write_file_n(name, content, strlen(content));
}

static sm_aws_config *load_ok(const char *config, const char *credentials)
{
        _cleanup_free_ char *cp = NULL, *crp = NULL;
        sm_aws_config *c = NULL;
        char *error = NULL;
        int r;

        cp = config ? write_file("config", config) : NULL;
        crp = credentials ? write_file("credentials", credentials) : NULL;
        if (!cp)
                ck_assert_int_gt(asprintf(&cp, "%s/no-config", tmp), 0);
        if (!crp)
                ck_assert_int_gt(asprintf(&crp, "%s/no-credentials", tmp), 0);
        r = sm_aws_config_load(cp, crp, &c, &error);
        ck_assert_msg(r == 0, "load failed: %d %s", r, error ? error : "");
        ck_assert_ptr_null(error);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* Load a config file that must fail; returns the error with the temp dir
 * replaced by "T" so expected messages can be written out. */
static char *load_error(const char *name, const char *content, bool credentials)
{
        _cleanup_free_ char *path = write_file(name, content), *other = NULL;
        sm_aws_config *c = NULL;
        char *error = NULL, *out = NULL;
        size_t n = strlen(tmp);

        ck_assert_int_gt(asprintf(&other, "%s/absent", tmp), 0);
        ck_assert_int_eq(sm_aws_config_load(credentials ? other : path, credentials ? path : other,
                                            &c, &error),
                         -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_ptr_nonnull(error);
        ck_assert(strncmp(error, tmp, n) == 0);
        ck_assert_int_gt(asprintf(&out, "T%s", error + n), 0);
        free(error);
        return out;
}

#define assert_load_error(content, expected)                                                       \
        do {                                                                                       \
                _cleanup_free_ char *_e = load_error("config", content, false);                    \
                ck_assert_str_eq(_e, expected);                                                    \
        } while (0)

START_TEST(test_profiles)
{
        sm_aws_config *c = load_ok("# comment\n"
                                   "; another\n"
                                   "[default]\n"
                                   "region = eu-west-1\n"
                                   "output=json\n"
                                   "\n"
                                   "[profile dev]\n"
                                   "region = us-east-2\n"
                                   "Region = upper\n"
                                   "[profile \"with space\"]\n"
                                   "region = ap-south-1\n"
                                   "[profile   padded  ]\n"
                                   "region = padded\n"
                                   "[plugins]\n"
                                   "region = not-a-profile\n"
                                   "[profilex]\n"
                                   "region = not-a-profile-either\n",
                                   NULL);

        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "region"), "eu-west-1");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "output"), "json");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "dev", "region"), "us-east-2");
        /* Keys are case-sensitive. */
        ck_assert_str_eq(sm_aws_config_profile_get(c, "dev", "Region"), "upper");
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "dev", "REGION"));
        ck_assert_str_eq(sm_aws_config_profile_get(c, "with space", "region"), "ap-south-1");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "padded", "region"), "padded");
        /* In the config file only [default] and [profile X] are profiles. */
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "plugins", "region"));
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "profilex", "region"));
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "profile dev", "region"));
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "dev", "output"));
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "nope", "region"));
        ck_assert_ptr_null(sm_aws_config_profile_get(c, NULL, "region"));
        ck_assert_ptr_null(sm_aws_config_profile_get(NULL, "dev", "region"));
        /* Nothing from the config file shows up as credentials. */
        ck_assert_ptr_null(sm_aws_config_credentials_get(c, "default", "region"));

        ck_assert(sm_aws_config_has_profile(c, "default"));
        ck_assert(sm_aws_config_has_profile(c, "dev"));
        ck_assert(!sm_aws_config_has_profile(c, "plugins"));
        ck_assert(!sm_aws_config_has_profile(c, "nope"));
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_credentials_file)
{
        sm_aws_config *c = load_ok(NULL, "[default]\n"
                                         "aws_access_key_id = AKIDDEFAULT\n"
                                         "aws_secret_access_key = secret/default\n"
                                         "[dev]\n"
                                         "aws_access_key_id=AKIDDEV\n"
                                         "[profile literal]\n"
                                         "aws_access_key_id = AKIDLITERAL\n");

        ck_assert_str_eq(sm_aws_config_credentials_get(c, "default", "aws_access_key_id"),
                         "AKIDDEFAULT");
        ck_assert_str_eq(sm_aws_config_credentials_get(c, "default", "aws_secret_access_key"),
                         "secret/default");
        ck_assert_str_eq(sm_aws_config_credentials_get(c, "dev", "aws_access_key_id"), "AKIDDEV");
        /* The credentials file has no "profile " prefix: the name is literal. */
        ck_assert_str_eq(sm_aws_config_credentials_get(c, "profile literal", "aws_access_key_id"),
                         "AKIDLITERAL");
        ck_assert_ptr_null(sm_aws_config_credentials_get(c, "literal", "aws_access_key_id"));
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "dev", "aws_access_key_id"));
        ck_assert(sm_aws_config_has_profile(c, "dev"));
        ck_assert(sm_aws_config_has_profile(c, "profile literal"));
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_empty_sections_exist)
{
        /* A section without keys is still a profile (inih alone would never
         * tell us about it). */
        sm_aws_config *c =
                load_ok("[profile empty]\n[profile other]\nregion = x\n", "[alsoempty]\n");

        ck_assert(sm_aws_config_has_profile(c, "empty"));
        ck_assert(sm_aws_config_has_profile(c, "alsoempty"));
        ck_assert(sm_aws_config_has_profile(c, "other"));
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "empty", "region"));
        ck_assert(!sm_aws_config_has_services(c, "empty"));
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_default_twice)
{
        /* [default] and [profile default] are one profile; the later section
         * wins, as in botocore. */
        sm_aws_config *c = load_ok("[default]\nregion = first\noutput = text\n"
                                   "[profile default]\nregion = second\n",
                                   NULL);

        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "region"), "second");
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "default", "output"));
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_services_and_nested)
{
        const char *path = NULL;
        unsigned line = 0;
        sm_aws_config *c = load_ok("[profile dev]\n"
                                   "services = local\n"
                                   "s3 =\n"
                                   "  addressing_style = path\n"
                                   "\n"
                                   "  max_concurrent_requests=10\n"
                                   "[services local]\n"
                                   "sagemaker =\n"
                                   "  endpoint_url = http://127.0.0.1:4566\n"
                                   "\tregion = ignored\n"
                                   "service_catalog =\n"
                                   "  endpoint_url = http://localhost:4567/sc\n"
                                   "  endpoint_url = http://localhost:4568/later-wins\n"
                                   "[services \"quoted name\"]\n"
                                   "sts =\n"
                                   "  endpoint_url=https://sts.example\n"
                                   "[sso-session corp]\n"
                                   "sso_region = us-east-1\n"
                                   "sso_start_url = https://corp.awsapps.com/start\n",
                                   NULL);

        ck_assert_str_eq(sm_aws_config_profile_get(c, "dev", "services"), "local");
        ck_assert(sm_aws_config_has_services(c, "local"));
        ck_assert(sm_aws_config_has_services(c, "quoted name"));
        ck_assert(!sm_aws_config_has_services(c, "dev"));
        ck_assert_str_eq(sm_aws_config_services_get(c, "local", "sagemaker", "endpoint_url"),
                         "http://127.0.0.1:4566");
        ck_assert_str_eq(sm_aws_config_services_get(c, "local", "sagemaker", "region"), "ignored");
        ck_assert_str_eq(sm_aws_config_services_get(c, "local", "service_catalog", "endpoint_url"),
                         "http://localhost:4568/later-wins");
        ck_assert_str_eq(sm_aws_config_services_get(c, "quoted name", "sts", "endpoint_url"),
                         "https://sts.example");
        ck_assert_ptr_null(sm_aws_config_services_get(c, "local", "iam", "endpoint_url"));
        ck_assert_ptr_null(sm_aws_config_services_get(c, "nope", "sagemaker", "endpoint_url"));
        ck_assert_ptr_null(sm_aws_config_services_get(c, "dev", "s3", "addressing_style"));
        /* A services section is not a profile. */
        ck_assert(!sm_aws_config_has_profile(c, "local"));

        /* A nested key has no value of its own. */
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "dev", "s3"));
        ck_assert_str_eq(sm_aws_config_profile_get_nested(c, "dev", "s3", "addressing_style"),
                         "path");
        ck_assert_str_eq(
                sm_aws_config_profile_get_nested(c, "dev", "s3", "max_concurrent_requests"), "10");
        ck_assert_ptr_null(sm_aws_config_profile_get_nested(c, "dev", "services", "x"));

        ck_assert_str_eq(sm_aws_config_sso_session_get(c, "corp", "sso_region"), "us-east-1");
        ck_assert_str_eq(sm_aws_config_sso_session_get(c, "corp", "sso_start_url"),
                         "https://corp.awsapps.com/start");
        ck_assert_ptr_null(sm_aws_config_sso_session_get(c, "dev", "sso_region"));

        ck_assert_int_eq(sm_aws_config_services_origin(c, "local", "sagemaker", "endpoint_url",
                                                       &path, &line),
                         0);
        ck_assert_str_eq(path, sm_aws_config_config_path(c));
        ck_assert_uint_eq(line, 9);
        ck_assert_int_eq(sm_aws_config_services_origin(c, "local", "service_catalog",
                                                       "endpoint_url", NULL, &line),
                         0);
        ck_assert_uint_eq(line, 13);
        ck_assert_int_eq(
                sm_aws_config_services_origin(c, "local", "iam", "endpoint_url", NULL, NULL),
                -ENOENT);
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_continuation_and_comments)
{
        sm_aws_config *c = load_ok("[default]\n"
                                   "  indented = right after a header is a key\n"
                                   "credential_process = /usr/bin/helper\n"
                                   "    --flag value\n"
                                   "\t--other\n"
                                   "region = eu-west-1 ; inline comment\n"
                                   "semi = a;b\n"
                                   "hash = a #b\n"
                                   "colon: value\n"
                                   "empty =\n"
                                   "next = 1\n",
                                   NULL);

        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "indented"),
                         "right after a header is a key");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "credential_process"),
                         "/usr/bin/helper\n--flag value\n--other");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "region"), "eu-west-1");
        /* ';' only starts a comment after white space; '#' never inline. */
        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "semi"), "a;b");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "hash"), "a #b");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "colon"), "value");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "empty"), "");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "next"), "1");
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_bom_crlf_no_final_newline)
{
        sm_aws_config *c = load_ok("\xef\xbb\xbf[default]\r\nregion = eu-west-1\r\n"
                                   "[profile b]\r\nregion = b",
                                   NULL);

        ck_assert_str_eq(sm_aws_config_profile_get(c, "default", "region"), "eu-west-1");
        ck_assert_str_eq(sm_aws_config_profile_get(c, "b", "region"), "b");
        sm_aws_config_free(c);
}
END_TEST

/* n characters of a pattern that has no blanks. */
static char *token(size_t n)
{
        static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
        char *s = malloc(n + 1);

        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < n; i++)
                s[i] = alphabet[(i * 7 + i / 13) % (sizeof(alphabet) - 1)];
        s[n] = '\0';
        return s;
}

START_TEST(test_long_lines)
{
        _cleanup_free_ char *tok = token(1500), *words = NULL, *url = NULL, *creds = NULL,
                            *config = NULL, *name = NULL, *comment = token(600);
        sm_aws_config *c;
        unsigned line = 0;

        /* A command with spaces, 40 times " --opt value-NN". */
        words = strdup("helper");
        for (int i = 0; i < 40; i++) {
                char *w = NULL;

                ck_assert_int_gt(asprintf(&w, "%s --opt value-%02d", words, i), 0);
                free(words);
                words = w;
        }
        url = token(300);
        name = token(60);
        ck_assert_int_gt(asprintf(&creds,
                                  "[default]\n"
                                  "aws_access_key_id = AKID\n"
                                  "aws_session_token = %s\n"
                                  "aws_secret_access_key = after\n"
                                  "[%s]\n"
                                  "aws_session_token=%s ; a comment after a long value\n",
                                  tok, name, tok),
                         0);
        ck_assert_int_gt(asprintf(&config,
                                  "#%s\n"
                                  "[profile %s]\n"
                                  "credential_process = %s\n"
                                  "long_continued = start\n"
                                  "  %s\n"
                                  "region = eu-west-1\n"
                                  "services = s\n"
                                  "[services s]\n"
                                  "sagemaker =\n"
                                  "  endpoint_url = https://h/%s\n"
                                  "  after = 1\n",
                                  comment, name, words, tok, url),
                         0);
        c = load_ok(config, creds);

        ck_assert_str_eq(sm_aws_config_credentials_get(c, "default", "aws_session_token"), tok);
        ck_assert_str_eq(sm_aws_config_credentials_get(c, "default", "aws_secret_access_key"),
                         "after");
        ck_assert_str_eq(sm_aws_config_credentials_get(c, name, "aws_session_token"), tok);
        ck_assert_str_eq(sm_aws_config_profile_get(c, name, "credential_process"), words);
        {
                _cleanup_free_ char *expect = NULL;

                ck_assert_int_gt(asprintf(&expect, "start\n%s", tok), 0);
                ck_assert_str_eq(sm_aws_config_profile_get(c, name, "long_continued"), expect);
        }
        {
                _cleanup_free_ char *expect = NULL;

                ck_assert_int_gt(asprintf(&expect, "https://h/%s", url), 0);
                ck_assert_str_eq(sm_aws_config_services_get(c, "s", "sagemaker", "endpoint_url"),
                                 expect);
        }
        ck_assert_str_eq(sm_aws_config_services_get(c, "s", "sagemaker", "after"), "1");
        /* Lines are counted in the file, not in pieces handed to inih. */
        ck_assert_int_eq(sm_aws_config_key_origin(c, false, name, "region", NULL, &line), 0);
        ck_assert_uint_eq(line, 6);
        ck_assert_int_eq(sm_aws_config_services_origin(c, "s", "sagemaker", "after", NULL, &line),
                         0);
        ck_assert_uint_eq(line, 11);
        ck_assert_int_eq(
                sm_aws_config_key_origin(c, true, "default", "aws_secret_access_key", NULL, &line),
                0);
        ck_assert_uint_eq(line, 4);
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_long_line_error_line_numbers)
{
        _cleanup_free_ char *tok = token(900), *content = NULL, *e = NULL;

        ck_assert_int_gt(asprintf(&content, "[default]\ntoken = %s\n%s\nno equals sign\n", tok,
                                  "  continued"),
                         0);
        e = load_error("config", content, false);
        ck_assert_str_eq(e, "T/config:4: expected \"name = value\", a [section] header or a "
                            "comment");
}
END_TEST

START_TEST(test_key_origin)
{
        const char *path = NULL;
        unsigned line = 0;
        sm_aws_config *c = load_ok("[default]\n\nregion = x\n", "[default]\n# c\n\nkey = v\n");

        ck_assert_int_eq(sm_aws_config_key_origin(c, false, "default", "region", &path, &line), 0);
        ck_assert_str_eq(path, sm_aws_config_config_path(c));
        ck_assert_uint_eq(line, 3);
        ck_assert_int_eq(sm_aws_config_key_origin(c, true, "default", "key", &path, &line), 0);
        ck_assert_str_eq(path, sm_aws_config_credentials_path(c));
        ck_assert_uint_eq(line, 4);
        ck_assert_int_eq(sm_aws_config_key_origin(c, true, "default", "region", &path, &line),
                         -ENOENT);
        ck_assert_int_eq(sm_aws_config_key_origin(c, false, "nope", "region", NULL, NULL), -ENOENT);
        ck_assert_int_eq(sm_aws_config_key_origin(NULL, false, "default", "region", NULL, NULL),
                         -ENOENT);
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_missing_files)
{
        _cleanup_free_ char *a = NULL, *b = NULL;
        sm_aws_config *c = NULL;
        char *error = NULL;

        ck_assert_int_gt(asprintf(&a, "%s/nope/config", tmp), 0);
        /* A path through a regular file: ENOTDIR is "missing" too. */
        free(write_file("file", "x"));
        ck_assert_int_gt(asprintf(&b, "%s/file/credentials", tmp), 0);
        ck_assert_int_eq(sm_aws_config_load(a, b, &c, &error), 0);
        ck_assert_ptr_null(error);
        ck_assert_str_eq(sm_aws_config_config_path(c), a);
        ck_assert_str_eq(sm_aws_config_credentials_path(c), b);
        ck_assert(!sm_aws_config_has_profile(c, "default"));
        ck_assert_ptr_null(sm_aws_config_profile_get(c, "default", "region"));
        sm_aws_config_free(c);
        ck_assert_ptr_null(sm_aws_config_free(NULL));
        ck_assert_ptr_null(sm_aws_config_config_path(NULL));
        ck_assert_ptr_null(sm_aws_config_credentials_path(NULL));
        ck_assert(!sm_aws_config_has_profile(NULL, "default"));
}
END_TEST

START_TEST(test_empty_file)
{
        sm_aws_config *c = load_ok("", "\n\n# only comments\n");

        ck_assert(!sm_aws_config_has_profile(c, "default"));
        sm_aws_config_free(c);
}
END_TEST

static const struct {
        const char *content;
        const char *error;
} error_cases[] = {
        {"region = eu-west-1\n[default]\n", "T/config:1: \"region\" is outside any [section]"},
        {"[default]\nregion = x\n[profile dev\nregion = y\n",
         "T/config:3: section header without a closing ']'"},
        {"[default]\nregion = x\n[profile dev ; comment]\n",
         "T/config:3: section header without a closing ']'"},
        {"[default]\njust words\n",
         "T/config:2: expected \"name = value\", a [section] header or a comment"},
        {"[default]\n= value\n", "T/config:2: missing name before '='"},
        {"[profile a]\nx = 1\n[profile b]\n[profile a]\n",
         "T/config:4: duplicate section [profile a] (first at line 1)"},
        {"[default]\nregion = a\nother = b\nregion = c\n",
         "T/config:4: duplicate key \"region\" in [default] (first at line 2)"},
        {"[profile]\nregion = a\n", "T/config:1: malformed section header [profile]: expected "
                                    "[profile NAME]"},
        {"[default]\n[profile a b]\n", "T/config:2: malformed section header [profile a b]: "
                                       "expected [profile NAME]"},
        {"[services]\n", "T/config:1: malformed section header [services]: expected [services "
                         "NAME]"},
        {"[sso-session \"x]\n", "T/config:1: malformed section header [sso-session \"x]: "
                                "expected [sso-session NAME]"},
        {"[services s]\nsagemaker =\n  endpoint_url = http://x\n  no-equals\n",
         "T/config:4: expected \"name = value\" under \"sagemaker\""},
        {"[services s]\nsagemaker =\n  = http://x\n",
         "T/config:3: expected \"name = value\" under \"sagemaker\""},
        /* The first error in the file wins, whoever found it. */
        {"[default]\nbroken\nregion = a\nregion = b\n",
         "T/config:2: expected \"name = value\", a [section] header or a comment"},
        {"[default]\nregion = a\nregion = b\nbroken\n",
         "T/config:3: duplicate key \"region\" in [default] (first at line 2)"},
};

START_TEST(test_errors)
{
        assert_load_error(error_cases[_i].content, error_cases[_i].error);
}
END_TEST

START_TEST(test_error_nul_byte)
{
        static const char content[] = "[default]\nregion = a\0b\n";
        _cleanup_free_ char *path = write_file_n("config", content, sizeof(content) - 1),
                            *other = NULL;
        sm_aws_config *c = NULL;
        char *error = NULL, *expected = NULL;

        ck_assert_int_gt(asprintf(&other, "%s/absent", tmp), 0);
        ck_assert_int_eq(sm_aws_config_load(path, other, &c, &error), -EINVAL);
        ck_assert_int_gt(asprintf(&expected, "%s:2: NUL byte in the line", path), 0);
        ck_assert_str_eq(error, expected);
        free(error);
        free(expected);
}
END_TEST

START_TEST(test_error_long_header)
{
        _cleanup_free_ char *name = token(300), *content = NULL, *e = NULL;

        ck_assert_int_gt(asprintf(&content, "[default]\nx = 1\n[profile %s]\n", name), 0);
        e = load_error("config", content, false);
        ck_assert_str_eq(e, "T/config:3: section header longer than 197 characters");
}
END_TEST

START_TEST(test_error_long_name)
{
        _cleanup_free_ char *name = calloc(301, 1), *content = NULL, *e = NULL;

        memset(name, 'k', 300);

        ck_assert_int_gt(asprintf(&content, "[default]\n%s = 1\n", name), 0);
        e = load_error("config", content, false);
        ck_assert_str_eq(e, "T/config:2: line too long (304 characters) before its '='");
}
END_TEST

START_TEST(test_error_credentials_file)
{
        _cleanup_free_ char *e = load_error("credentials", "[a]\nx = 1\n[a]\n", true);

        ck_assert_str_eq(e, "T/credentials:3: duplicate section [a] (first at line 1)");
}
END_TEST

START_TEST(test_error_unreadable)
{
        _cleanup_free_ char *dir = NULL, *other = NULL, *expected = NULL, *big = NULL,
                            *expected_big = NULL;
        sm_aws_config *c = NULL;
        char *error = NULL;
        int fd;

        ck_assert_int_gt(asprintf(&dir, "%s/adir", tmp), 0);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        ck_assert_int_gt(asprintf(&other, "%s/absent", tmp), 0);
        ck_assert_int_eq(sm_aws_config_load(dir, other, &c, &error), -EINVAL);
        ck_assert_int_gt(asprintf(&expected, "%s: cannot read: Is a directory", dir), 0);
        ck_assert_str_eq(error, expected);
        free(error);
        error = NULL;

        /* A file far too big to be a config file (sparse: no disk used). */
        ck_assert_int_gt(asprintf(&big, "%s/big", tmp), 0);
        fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, 5 * 1024 * 1024), 0);
        close(fd);
        ck_assert_int_eq(sm_aws_config_load(other, big, &c, &error), -EINVAL);
        ck_assert_int_gt(asprintf(&expected_big,
                                  "%s: larger than 4194304 bytes, not an AWS config file", big),
                         0);
        ck_assert_str_eq(error, expected_big);
        free(error);
}
END_TEST

START_TEST(test_default_paths_home)
{
        char *config = NULL, *credentials = NULL;

        unsetenv("AWS_CONFIG_FILE");
        unsetenv("AWS_SHARED_CREDENTIALS_FILE");
        setenv("HOME", "/home/someone", 1);
        ck_assert_int_eq(sm_aws_config_default_paths(&config, &credentials), 0);
        ck_assert_str_eq(config, "/home/someone/.aws/config");
        ck_assert_str_eq(credentials, "/home/someone/.aws/credentials");
        free(config);
        free(credentials);

        setenv("AWS_CONFIG_FILE", "/etc/smstudio/aws-config", 1);
        setenv("AWS_SHARED_CREDENTIALS_FILE", "~/creds", 1);
        ck_assert_int_eq(sm_aws_config_default_paths(&config, &credentials), 0);
        ck_assert_str_eq(config, "/etc/smstudio/aws-config");
        ck_assert_str_eq(credentials, "/home/someone/creds");
        free(config);
        free(credentials);

        /* Empty means unset. */
        setenv("AWS_CONFIG_FILE", "", 1);
        setenv("AWS_SHARED_CREDENTIALS_FILE", "relative/creds", 1);
        ck_assert_int_eq(sm_aws_config_default_paths(&config, &credentials), 0);
        ck_assert_str_eq(config, "/home/someone/.aws/config");
        ck_assert_str_eq(credentials, "relative/creds");
        free(config);
        free(credentials);
}
END_TEST

START_TEST(test_default_paths_without_home)
{
        char *config = NULL, *credentials = NULL, *expected = NULL;
        struct passwd *pw = getpwuid(geteuid());

        /* A service without $HOME: the passwd entry of the effective uid. */
        ck_assert_ptr_nonnull(pw);
        unsetenv("AWS_CONFIG_FILE");
        unsetenv("AWS_SHARED_CREDENTIALS_FILE");
        unsetenv("HOME");
        ck_assert_int_eq(sm_aws_config_default_paths(&config, &credentials), 0);
        ck_assert_int_gt(asprintf(&expected, "%s/.aws/config", pw->pw_dir), 0);
        ck_assert_str_eq(config, expected);
        free(config);
        free(credentials);
        free(expected);

        setenv("HOME", "", 1);
        ck_assert_int_eq(sm_aws_config_default_paths(&config, &credentials), 0);
        ck_assert_int_gt(asprintf(&expected, "%s/.aws/credentials", pw->pw_dir), 0);
        ck_assert_str_eq(credentials, expected);
        free(config);
        free(credentials);
        free(expected);
}
END_TEST

START_TEST(test_load_defaults)
{
        _cleanup_free_ char *aws = NULL, *expected = NULL;
        sm_aws_config *c = NULL;
        char *error = NULL;
        FILE *f;

        ck_assert_int_gt(asprintf(&aws, "%s/.aws", tmp), 0);
        ck_assert_int_eq(mkdir(aws, 0700), 0);
        ck_assert_int_gt(asprintf(&expected, "%s/config", aws), 0);
        f = fopen(expected, "w");
        ck_assert_ptr_nonnull(f);
        fputs("[profile home]\nregion = from-home\n", f);
        fclose(f);

        unsetenv("AWS_CONFIG_FILE");
        unsetenv("AWS_SHARED_CREDENTIALS_FILE");
        setenv("HOME", tmp, 1);
        ck_assert_int_eq(sm_aws_config_load(NULL, NULL, &c, &error), 0);
        ck_assert_str_eq(sm_aws_config_config_path(c), expected);
        ck_assert_str_eq(sm_aws_config_profile_get(c, "home", "region"), "from-home");
        sm_aws_config_free(c);
}
END_TEST

START_TEST(test_parse_bool)
{
        bool b = false;

        ck_assert_int_eq(sm_parse_aws_bool("true", &b), 0);
        ck_assert(b);
        ck_assert_int_eq(sm_parse_aws_bool("FALSE", &b), 0);
        ck_assert(!b);
        ck_assert_int_eq(sm_parse_aws_bool("True", &b), 0);
        ck_assert(b);
        b = true;
        ck_assert_int_eq(sm_parse_aws_bool("yes", &b), -EINVAL);
        ck_assert_int_eq(sm_parse_aws_bool("1", &b), -EINVAL);
        ck_assert_int_eq(sm_parse_aws_bool("", &b), -EINVAL);
        ck_assert_int_eq(sm_parse_aws_bool(" true", &b), -EINVAL);
        ck_assert_int_eq(sm_parse_aws_bool("truex", &b), -EINVAL);
        ck_assert_int_eq(sm_parse_aws_bool(NULL, &b), -EINVAL);
        ck_assert(b);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("awsconfig");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_profiles);
        tcase_add_test(tc, test_credentials_file);
        tcase_add_test(tc, test_empty_sections_exist);
        tcase_add_test(tc, test_default_twice);
        tcase_add_test(tc, test_services_and_nested);
        tcase_add_test(tc, test_continuation_and_comments);
        tcase_add_test(tc, test_bom_crlf_no_final_newline);
        tcase_add_test(tc, test_long_lines);
        tcase_add_test(tc, test_long_line_error_line_numbers);
        tcase_add_test(tc, test_key_origin);
        tcase_add_test(tc, test_missing_files);
        tcase_add_test(tc, test_empty_file);
        tcase_add_loop_test(tc, test_errors, 0, ELEMENTSOF(error_cases));
        tcase_add_test(tc, test_error_nul_byte);
        tcase_add_test(tc, test_error_long_header);
        tcase_add_test(tc, test_error_long_name);
        tcase_add_test(tc, test_error_credentials_file);
        tcase_add_test(tc, test_error_unreadable);
        tcase_add_test(tc, test_default_paths_home);
        tcase_add_test(tc, test_default_paths_without_home);
        tcase_add_test(tc, test_load_defaults);
        tcase_add_test(tc, test_parse_bool);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
