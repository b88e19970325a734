/* SPDX-License-Identifier: Apache-2.0 */
/* import-seedfarmer: golden files (tests/data/seedfarmer/NAME.yaml ->
 * NAME.expected on stdout, NAME.stderr for what a person is told), the
 * outputs checked by the manifest loader itself, and the quoting of values
 * a YAML reader could misread. SM_UPDATE_GOLDEN=1 rewrites the golden
 * files from the current output (review the diff before committing). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "smstudio/manifest.h"
#include "smstudio/seedfarmer.h"
#include "smstudio/yamlnode.h"
#include "testmain.h"

#define DATA_DIR "tests/data/seedfarmer"

static const char *source_root(void)
{
        const char *root = getenv("SM_SOURCE_ROOT");

        ck_assert_msg(root && *root, "SM_SOURCE_ROOT is not set");
        return root;
}

/* A whole file, or NULL (errno set) when it cannot be read. */
static char *slurp(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "re");
        sm_buf b = {0};
        char chunk[4096];
        size_t n;

        if (!f)
                return NULL;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                ck_assert_int_eq(sm_buf_append(&b, chunk, n), 0);
        fclose(f);
        if (ret_len)
                *ret_len = b.len;
        return sm_buf_steal(&b);
}

static void spit(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        ck_assert_msg(f, "cannot write %s", path);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
}

/* Compare with a golden file; print a unified diff on mismatch. */
static bool matches_golden(const char *golden, const char *actual)
{
        char *want = slurp(golden, NULL);
        char tmp[] = "/tmp/seedfarmer-actual-XXXXXX";
        char cmd[4096];
        bool same;
        int fd;

        if (getenv("SM_UPDATE_GOLDEN")) {
                spit(golden, actual);
                free(want);
                return true;
        }
        same = want && streq(want, actual);
        if (!same) {
                fd = mkstemp(tmp);
                ck_assert_int_ge(fd, 0);
                close(fd);
                spit(tmp, actual);
                fprintf(stderr, "--- %s differs from the output:\n", golden);
                snprintf(cmd, sizeof(cmd), "diff -u '%s' '%s' >&2", want ? golden : "/dev/null",
                         tmp);
                if (system(cmd) < 0)
                        fprintf(stderr, "(diff could not run)\n");
                unlink(tmp);
        }
        free(want);
        return same;
}

typedef struct conversion {
        int r;
        char *out;    /* the manifest (stdout) */
        char *report; /* what stderr says */
} conversion;

static conversion convert(const char *path, const char *text, size_t len)
{
        sm_buf out = {0}, report = {0};
        sm_diags notes = {0}, errors = {0};
        conversion c = {0};

        c.r = sm_seedfarmer_import(path, text, len, &out, &notes, &errors);
        ck_assert_int_ne(c.r, -ENOMEM);
        if (c.r < 0)
                ck_assert_uint_eq(out.len, 0);
        ck_assert_int_eq(sm_seedfarmer_report(path, c.r, &notes, &errors, &report), 0);
        c.out = sm_buf_steal(&out);
        c.report = sm_buf_steal(&report);
        sm_diags_done(&notes);
        sm_diags_done(&errors);
        return c;
}

static void conversion_done(conversion *c)
{
        free(c->out);
        free(c->report);
}

/* Load a manifest with smstudio's own loader, the file alone and then as
 * the whole model. 0 when it is valid; the messages in *ret_msgs. */
static int load_manifest(const char *path, const char *text, char **ret_msgs)
{
        sm_manifest_file *f = NULL;
        sm_desired *d = NULL;
        sm_diags diags = {0};
        sm_buf msgs = {0};
        int r;

        r = sm_manifest_file_parse(path, text, strlen(text), &f, &diags);
        if (r == 0)
                r = sm_desired_build(&f, 1, &d, &diags);
        ck_assert_int_ne(r, -ENOMEM);
        ck_assert_int_eq(sm_diags_format(&diags, &msgs), 0);
        *ret_msgs = sm_buf_steal(&msgs);
        sm_desired_free(d);
        sm_manifest_file_free(f);
        sm_diags_done(&diags);
        return r;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* NAME of every DATA_DIR/NAME.yaml, sorted. */
static char **golden_cases(size_t *ret_n)
{
        char dir[4096];
        DIR *d;
        struct dirent *de;
        char **v = NULL;
        size_t n = 0;

        snprintf(dir, sizeof(dir), "%s/%s", source_root(), DATA_DIR);
        d = opendir(dir);
        ck_assert_msg(d, "cannot open %s", dir);
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);

                if (l <= 5 || de->d_name[0] == '.' || !streq(de->d_name + l - 5, ".yaml"))
                        continue;
                v = realloc(v, (n + 1) * sizeof(*v));
                ck_assert_ptr_nonnull(v);
                v[n] = strndup(de->d_name, l - 5);
                ck_assert_ptr_nonnull(v[n]);
                n++;
        }
        closedir(d);
        qsort(v, n, sizeof(*v), cmp_str);
        *ret_n = n;
        return v;
}

START_TEST(test_golden)
{
        size_t n = 0, failed = 0;
        char **names = golden_cases(&n);

        ck_assert_uint_ge(n, 6);
        for (size_t i = 0; i < n; i++) {
                char in[4096], rel[512], golden[4096];
                size_t len = 0;
                char *text;
                conversion c;

                /* The path as a person in the source tree would type it: it
                 * is in the header comment and in every message. */
                snprintf(rel, sizeof(rel), "%s/%s.yaml", DATA_DIR, names[i]);
                snprintf(in, sizeof(in), "%s/%s", source_root(), rel);
                text = slurp(in, &len);
                ck_assert_msg(text, "cannot read %s", in);
                c = convert(rel, text, len);

                snprintf(golden, sizeof(golden), "%s/%s/%s.expected", source_root(), DATA_DIR,
                         names[i]);
                if (!matches_golden(golden, c.out))
                        failed++;
                snprintf(golden, sizeof(golden), "%s/%s/%s.stderr", source_root(), DATA_DIR,
                         names[i]);
                if (!matches_golden(golden, c.report))
                        failed++;

                if (c.r == 0) {
                        /* Complete: smstudio must load it as it stands. */
                        char *msgs = NULL;

                        if (load_manifest(rel, c.out, &msgs) != 0) {
                                fprintf(stderr, "%s: the output does not load:\n%s", rel, msgs);
                                failed++;
                        }
                        free(msgs);
                } else if (c.r > 0) {
                        /* Placeholders left: it must never load by accident. */
                        char *msgs = NULL;

                        if (load_manifest(rel, c.out, &msgs) == 0) {
                                fprintf(stderr, "%s: loads despite its placeholders\n", rel);
                                failed++;
                        }
                        free(msgs);
                }
                conversion_done(&c);
                free(text);
                free(names[i]);
        }
        free(names);
        ck_assert_msg(failed == 0, "%zu golden mismatches (diffs above)", failed);
}
END_TEST

/* Replace every line's "<TODO>" with the value a person would write for its
 * key (the key being the text before the colon). */
static char *fill_placeholders(const char *text)
{
        static const struct {
                const char *key, *value;
        } fills[] = {
                {"name:", "mlops-studio"},
                {"vpc_id:", "vpc-0123456789abcdef0"},
                {"subnet_ids:", "subnet-0123456789abcdef0"},
                {"studio_bucket_name:", "mlops-studio-bucket"},
                {"mlflow_artifact_store_bucket_name:", "mlops-artifacts"},
                {"group:", "lead_data_science_users"},
                {"enable_docker_access:", "true"},
                {"idle_timeout_in_minutes:", "60"},
        };
        sm_buf b = {0};

        for (const char *p = text; *p;) {
                size_t l = strcspn(p, "\n");
                const char *todo = *p == '#' ? NULL : memmem(p, l, "\"<TODO>\"", 8);
                const char *value = NULL;

                for (size_t i = 0; todo && i < ELEMENTSOF(fills); i++)
                        if (strncmp(p, fills[i].key, strlen(fills[i].key)) == 0)
                                value = fills[i].value;
                ck_assert_msg(!todo || value, "no fill for: %.*s", (int)l, p);
                if (todo) {
                        ck_assert_int_eq(sm_buf_append(&b, p, (size_t)(todo - p)), 0);
                        ck_assert_int_eq(sm_buf_puts(&b, value), 0);
                        ck_assert_int_eq(sm_buf_append(&b, todo + 8, l - (size_t)(todo + 8 - p)),
                                         0);
                } else {
                        ck_assert_int_eq(sm_buf_append(&b, p, l), 0);
                }
                ck_assert_int_eq(sm_buf_putc(&b, '\n'), 0);
                p += l;
                if (*p)
                        p++;
        }
        return sm_buf_steal(&b);
}

/* Once the values marked TODO are filled in, each golden output with
 * placeholders loads: the placeholders were the only thing wrong. */
START_TEST(test_filled_placeholders_load)
{
        static const char *const cases[] = {"mlops-sagemaker", "mlflow-tracking", "unknown-params"};

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char in[4096], rel[512];
                char *text, *filled, *msgs = NULL;
                size_t len = 0;
                conversion c;

                snprintf(rel, sizeof(rel), "%s/%s.yaml", DATA_DIR, cases[i]);
                snprintf(in, sizeof(in), "%s/%s", source_root(), rel);
                text = slurp(in, &len);
                ck_assert_ptr_nonnull(text);
                c = convert(rel, text, len);
                ck_assert_int_gt(c.r, 0);
                filled = fill_placeholders(c.out);
                ck_assert_msg(load_manifest(rel, filled, &msgs) == 0, "%s, filled in:\n%s\n%s", rel,
                              filled, msgs);
                free(msgs);
                free(filled);
                conversion_done(&c);
                free(text);
        }
}
END_TEST

/* The Domain document of an output, parsed back. */
static const sm_yaml_node *domain_of(const sm_yaml_stream *s)
{
        for (size_t i = 0; i < s->n_docs; i++) {
                const sm_yaml_node *k =
                        s->docs[i].root ? sm_yaml_get(s->docs[i].root, "kind") : NULL;

                if (k && streq(k->value, "Domain"))
                        return s->docs[i].root;
        }
        ck_abort_msg("no Domain document");
        return NULL;
}

static conversion convert_text(const char *text)
{
        return convert("t.yaml", text, strlen(text));
}

static sm_yaml_stream *reparse(const conversion *c)
{
        sm_yaml_stream *s = NULL;
        sm_diags d = {0};

        ck_assert_msg(sm_yaml_parse("out.yaml", c->out, strlen(c->out), NULL, &s, &d) == 0,
                      "output is not YAML:\n%s", c->out);
        sm_diags_done(&d);
        return s;
}

/* Tag values that any YAML reader could take for something else, or that
 * break a line, come back as exactly the same strings. */
START_TEST(test_tricky_strings_round_trip)
{
        static const char *const values[] = {"yes",
                                             "No",
                                             "on",
                                             "OFF",
                                             "y",
                                             "n",
                                             "true",
                                             "False",
                                             "null",
                                             "~",
                                             "",
                                             " ",
                                             "123",
                                             "0x1F",
                                             "1e3",
                                             "0o17",
                                             ".inf",
                                             "-.nan",
                                             "2001-12-14",
                                             "12:30:00",
                                             "- item",
                                             "a: b",
                                             "a #b",
                                             "#x",
                                             "&anchor",
                                             "*alias",
                                             "!tag",
                                             "%dir",
                                             "@at",
                                             "`tick",
                                             "|",
                                             ">",
                                             "'",
                                             "\"",
                                             "\\",
                                             "[x]",
                                             "{x}",
                                             "x,y",
                                             "?",
                                             "---",
                                             "...",
                                             "  lead",
                                             "trail  ",
                                             "two\nlines",
                                             "tab\there",
                                             "bell\a",

                                             "caf\xc3\xa9",
                                             "\xe2\x80\xa8",
                                             "\xef\xbb\xbf"
                                             "bom",
                                             "<TODO>"};
        sm_buf in = {0};

        ck_assert_int_eq(sm_buf_puts(&in, "path: modules/sagemaker/sagemaker-studio\n"
                                          "parameters:\n"
                                          "  - {name: vpc_id, value: vpc-0123456789abcdef0}\n"
                                          "  - {name: subnet_ids, value: [subnet-01234567]}\n"
                                          "  - {name: studio_domain_name, value: d}\n"
                                          "  - name: tags\n"
                                          "    value:\n"),
                         0);
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                json_t *j = json_string(values[i]);
                char *q = json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);

                /* A JSON string is a YAML double-quoted scalar. */
                ck_assert_int_eq(sm_buf_printf(&in, "      k%zu: %s\n", i, q), 0);
                free(q);
                json_decref(j);
        }
        conversion c = convert_text(in.data);
        ck_assert_msg(c.r >= 0, "%s", c.report);
        ck_assert_int_eq(c.r, 0);
        sm_yaml_stream *s = reparse(&c);
        const sm_yaml_node *tags = sm_yaml_get(domain_of(s), "tags");

        ck_assert_ptr_nonnull(tags);
        ck_assert_uint_eq(tags->n_pairs, ELEMENTSOF(values));
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                const sm_yaml_node *v = tags->pairs[i].value;

                ck_assert_int_eq(v->kind, SM_YAML_SCALAR);
                ck_assert_msg(streq(v->value, values[i]), "value %zu: got \"%s\"", i, v->value);
                /* Read back as a string, never as null, a bool or a number. */
                bool b;
                int64_t n;
                bool typed = v->plain && (sm_yaml_is_null(v) || sm_yaml_as_bool(v, &b) == 0 ||
                                          sm_yaml_as_int(v, &n) == 0);

                ck_assert_msg(!typed, "value %zu \"%s\" reads back typed", i, values[i]);
        }
        sm_yaml_stream_free(s);
        conversion_done(&c);
        sm_buf_done(&in);
}
END_TEST

/* Every spelling seed-farmer accepts for a name is the same parameter. */
START_TEST(test_parameter_name_spellings)
{
        static const char *const spellings[] = {"enable_docker_access", "enable-docker-access",
                                                "enableDockerAccess", "EnableDockerAccess",
                                                "ENABLE_DOCKER_ACCESS"};

        for (size_t i = 0; i < ELEMENTSOF(spellings); i++) {
                char text[512];

                snprintf(text, sizeof(text),
                         "path: modules/sagemaker/sagemaker-studio\n"
                         "parameters:\n"
                         "  - {name: vpc_id, value: vpc-0123456789abcdef0}\n"
                         "  - {name: subnet_ids, value: '[\"subnet-01234567\"]'}\n"
                         "  - {name: studio_domain_name, value: d}\n"
                         "  - {name: %s, value: 'True'}\n",
                         spellings[i]);
                conversion c = convert_text(text);

                ck_assert_int_eq(c.r, 0);
                ck_assert_msg(strstr(c.out, "\nenable_docker_access: true\n"), "%s:\n%s",
                              spellings[i], c.out);
                ck_assert_ptr_null(strstr(c.report, "unknown"));
                conversion_done(&c);
        }
}
END_TEST

START_TEST(test_refusals)
{
        static const struct {
                const char *text, *report;
        } cases[] = {
                {"parameters: [\n", NULL},
                {"- a\n- b\n", "t.yaml:1:1: error: a seed-farmer module manifest is a mapping "
                               "(name, path, parameters), not a list\n"
                               "t.yaml: not converted\n"},
                {"name: net\npath: modules/core/networking\nparameters: []\n",
                 "t.yaml: error: no sagemaker-studio module in this file (a module manifest with "
                 "its parameters was expected)\n"
                 "t.yaml:1:1: warning: module \"net\" (modules/core/networking) is not the "
                 "sagemaker-studio module: skipped\n"
                 "t.yaml: not converted\n"},
                {"path: modules/sagemaker/sagemaker-studio\nparameters: {vpc_id: x}\n",
                 "t.yaml:2:13: error: parameters must be a list of name/value entries, not a "
                 "mapping\n"
                 "t.yaml: not converted\n"},
                {"path: modules/sagemaker/sagemaker-studio\nparameters:\n  - value: x\n",
                 "t.yaml:3:5: error: a parameter without a name\n"
                 "t.yaml: not converted\n"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                conversion c = convert_text(cases[i].text);

                ck_assert_int_eq(c.r, -EINVAL);
                ck_assert_str_eq(c.out, "");
                if (cases[i].report)
                        ck_assert_str_eq(c.report, cases[i].report);
                else
                        ck_assert_ptr_nonnull(strstr(c.report, "t.yaml:"));
                conversion_done(&c);
        }
}
END_TEST

/* The same input gives byte-identical output (no addresses, no clock). */
START_TEST(test_deterministic)
{
        char in[4096], *text;
        size_t len = 0;

        snprintf(in, sizeof(in), "%s/%s/unknown-params.yaml", source_root(), DATA_DIR);
        text = slurp(in, &len);
        ck_assert_ptr_nonnull(text);
        conversion a = convert("x.yaml", text, len), b = convert("x.yaml", text, len);

        ck_assert_int_eq(a.r, b.r);
        ck_assert_str_eq(a.out, b.out);
        ck_assert_str_eq(a.report, b.report);
        conversion_done(&a);
        conversion_done(&b);
        free(text);
}
END_TEST

/* Module paths seed-farmer accepts: local, git:: with a ref, archives. */
START_TEST(test_module_paths)
{
        static const struct {
                const char *path;
                bool studio;
        } cases[] = {
                {"modules/sagemaker/sagemaker-studio", true},
                {"modules/sagemaker/sagemaker-studio/", true},
                {"git::https://github.com/awslabs/aiops-modules.git//modules/sagemaker/"
                 "sagemaker-studio?ref=v1.0.0",
                 true},
                {"archive::https://example.com/x.tar.gz?module=modules/sagemaker/"
                 "sagemaker-studio",
                 true},
                {"modules/sagemaker/sagemaker-studio-extra", false},
                {"modules/sagemaker/sagemaker-endpoint", false},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char text[512];

                snprintf(text, sizeof(text),
                         "name: m\npath: %s\nparameters:\n  - {name: qualifier, value: q}\n",
                         cases[i].path);
                conversion c = convert_text(text);

                ck_assert_msg((c.r >= 0) == cases[i].studio, "%s: %d", cases[i].path, c.r);
                conversion_done(&c);
        }
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("seedfarmer");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_golden);
        tcase_add_test(tc, test_filled_placeholders_load);
        tcase_add_test(tc, test_tricky_strings_round_trip);
        tcase_add_test(tc, test_parameter_name_spellings);
        tcase_add_test(tc, test_refusals);
        tcase_add_test(tc, test_deterministic);
        tcase_add_test(tc, test_module_paths);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
