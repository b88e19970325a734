/* SPDX-License-Identifier: Apache-2.0 */
/* Manifest parsing and the cross-document rules: one test per rule, the
 * corpus of broken manifests (tests/data/manifests/broken/NAME.yaml with
 * the exact diagnostics in NAME.expected), the good ones with their
 * canonical dumps (good/NAME.json) and the shipped examples.
 *
 * SM_REGENERATE=1 rewrites the .expected and .json files from what the
 * code says now; review the diff before committing it. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/desired.h"
#include "smstudio/diag.h"
#include "smstudio/manifest.h"
#include "testmain.h"

/* ---- helpers ---------------------------------------------------------- */

static char *read_all(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t cap = 0, len = 0;

        if (!f)
                return NULL;
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        cap = (len + 4096 + 1) * 2;
                        buf = realloc(buf, cap);
                        ck_assert_ptr_nonnull(buf);
                }
                size_t n = fread(buf + len, 1, cap - len - 1, f);
                if (n == 0)
                        break;
                len += n;
        }
        fclose(f);
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return buf;
}

static void write_all(const char *path, const char *text)
{
        FILE *f = fopen(path, "wb");

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fputs(text, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
}

static char *data_path(const char *rel)
{
        const char *root = getenv("SM_SOURCE_ROOT");
        char *p = NULL;

        ck_assert_int_ge(asprintf(&p, "%s/tests/data/manifests/%s", root ? root : ".", rel), 0);
        return p;
}

/* Parse text as one file named path, then build a model from it alone.
 * Returns the result of whichever step failed (or 0) and every message,
 * formatted, in *ret_text. */
static int load(const char *path, const char *text, sm_desired **ret_model, char **ret_text)
{
        sm_manifest_file *f = NULL;
        sm_desired *d = NULL;
        sm_diags diags = {0};
        sm_buf out = {0};
        int r;

        r = sm_manifest_file_parse(path, text, strlen(text), &f, &diags);
        if (r == 0) {
                sm_manifest_file *files[] = {f};

                r = sm_desired_build(files, 1, &d, &diags);
        }
        ck_assert_int_ne(r, -ENOMEM);
        ck_assert_int_eq(sm_diags_format(&diags, &out), 0);
        sm_diags_done(&diags);
        sm_manifest_file_free(f);
        if (ret_model)
                *ret_model = d;
        else
                sm_desired_free(d);
        *ret_text = sm_buf_steal(&out);
        return r;
}

/* The messages for text, which must fail. */
static char *errors_of(const char *text)
{
        char *msgs;
        int r = load("t.yaml", text, NULL, &msgs);

        ck_assert_msg(r == -EINVAL, "expected -EINVAL, got %d", r);
        return msgs;
}

#define assert_error(text, expected)                                                               \
        do {                                                                                       \
                char *_m = errors_of(text);                                                        \
                ck_assert_msg(strstr(_m, expected) != NULL, "wanted \"%s\" in:\n%s", expected,     \
                              _m);                                                                 \
                free(_m);                                                                          \
        } while (0)

static sm_desired *model_of(const char *text)
{
        sm_desired *d = NULL;
        char *msgs;
        int r = load("t.yaml", text, &d, &msgs);

        ck_assert_msg(r == 0, "expected success, got %d:\n%s", r, msgs);
        free(msgs);
        return d;
}

#define DOMAIN "kind: Domain\nname: d1\nvpc_id: vpc-0123abcd\nsubnet_ids: [subnet-0123abcd]\n"

/* ---- one document ----------------------------------------------------- */

START_TEST(test_minimal_domain_defaults)
{
        sm_desired *d = model_of(DOMAIN);
        const sm_domain *dom = sm_desired_domain(d, "d1");

        ck_assert_ptr_nonnull(dom);
        ck_assert_str_eq(dom->vpc_id, "vpc-0123abcd");
        ck_assert_int_eq(dom->auth_mode, SM_AUTH_IAM);
        ck_assert(dom->retain_efs);
        ck_assert(dom->enable_domain_resource_isolation);
        ck_assert(!dom->enable_jupyterlab_app);
        ck_assert_str_eq(dom->jupyterlab_app_instance_type, "ml.t3.medium");
        ck_assert_str_eq(dom->mlflow_server_name, "mlflow");
        ck_assert_str_eq(dom->mlflow_artifact_store_bucket_prefix, "/");
        ck_assert_uint_eq(dom->set, 0);
        ck_assert_str_eq(dom->source.file, "t.yaml");
        ck_assert_uint_eq(dom->source.line, 1);
        ck_assert_uint_eq(dom->source.column, 1);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_set_bits)
{
        sm_desired *d = model_of(DOMAIN "retain_efs: true\nauth_mode: IAM\nmlflow_server_name:\n");
        const sm_domain *dom = sm_desired_domain(d, "d1");

        ck_assert_uint_eq(dom->set, (UINT64_C(1) << SM_DOMAIN_RETAIN_EFS) |
                                            (UINT64_C(1) << SM_DOMAIN_AUTH_MODE));
        sm_desired_free(d);
}
END_TEST

START_TEST(test_kind_required)
{
        assert_error("name: x\n", "t.yaml:1:1: document has no \"kind\"");
}
END_TEST

START_TEST(test_kind_unknown_did_you_mean)
{
        assert_error("kind: user\n", "t.yaml:1:7: unknown kind \"user\" (did you mean \"User\"?)");
        assert_error("kind: Bucket\n", "unknown kind \"Bucket\" (one of Domain, User, Space)");
}
END_TEST

START_TEST(test_unknown_key_did_you_mean)
{
        assert_error(DOMAIN "retain_efz: true\n",
                     "t.yaml:5:1: unknown key \"retain_efz\" in Domain (did you mean "
                     "\"retain_efs\"?)");
}
END_TEST

START_TEST(test_required_keys)
{
        assert_error("kind: Domain\nname: d1\n", "t.yaml:1:1: Domain needs \"vpc_id\"");
        assert_error("kind: Domain\nname: d1\n", "t.yaml:1:1: Domain needs \"subnet_ids\"");
        assert_error(DOMAIN "---\nkind: User\nname: a\n", "t.yaml:6:1: User needs \"group\"");
}
END_TEST

START_TEST(test_name_rules)
{
        assert_error("kind: Domain\nname: a_b\n", "t.yaml:2:7: name \"a_b\" is not a valid");
        assert_error("kind: Domain\nname: -ab\n", "name \"-ab\" is not a valid");
        assert_error("kind: Domain\nname: ab-\n", "name \"ab-\" is not a valid");
}
END_TEST

START_TEST(test_id_shapes)
{
        assert_error("kind: Domain\nname: d\nvpc_id: vpc-0123ABCD\n", "vpc_id \"vpc-0123ABCD\"");
        assert_error("kind: Domain\nname: d\nsubnet_ids: [subnet-1]\n", "subnet_ids \"subnet-1\"");
        assert_error(DOMAIN "security_group_ids: [sg-123456789]\n", "t.yaml:5:22: "
                                                                    "security_group_ids");
        assert_error(DOMAIN "vpc_only_trusted_accounts: ['12345678901']\n",
                     "vpc_only_trusted_accounts \"12345678901\" is not an AWS account id");
}
END_TEST

START_TEST(test_list_duplicates)
{
        assert_error("kind: Domain\nname: d\nvpc_id: vpc-0123abcd\nsubnet_ids: [subnet-0123abcd, "
                     "subnet-0123abcd]\n",
                     "subnet_ids lists \"subnet-0123abcd\" twice");
}
END_TEST

START_TEST(test_enums)
{
        assert_error(DOMAIN "auth_mode: sso\n", "auth_mode \"sso\" is not valid (did you mean "
                                                "\"SSO\"?)");
        assert_error(DOMAIN "mlflow_server_size: XL\n", "(one of Small, Medium, Large)");
}
END_TEST

START_TEST(test_bools_are_strict)
{
        assert_error(DOMAIN "retain_efs: 'False'\n", "retain_efs must be true or false");
        assert_error(DOMAIN "retain_efs: yes\n", "retain_efs must be true or false");
}
END_TEST

START_TEST(test_instance_type)
{
        sm_desired *d = model_of(DOMAIN "jupyterlab_app_instance_type: ml.g5.12xlarge\n");

        sm_desired_free(d);
        assert_error(DOMAIN "jupyterlab_app_instance_type: m5.large\n", "is not an ML instance");
}
END_TEST

START_TEST(test_idle_range)
{
        assert_error(DOMAIN "idle_timeout_in_minutes: 59\n",
                     "idle_timeout_in_minutes must be between 60 and 525600");
}
END_TEST

START_TEST(test_idle_bounds_need_idle)
{
        assert_error(DOMAIN "max_idle_timeout_in_minutes: 100\n",
                     "t.yaml:5:30: max_idle_timeout_in_minutes needs idle_timeout_in_minutes");
}
END_TEST

START_TEST(test_idle_order)
{
        assert_error(DOMAIN "idle_timeout_in_minutes: 100\nmin_idle_timeout_in_minutes: 200\n",
                     "min_idle_timeout_in_minutes (200) is more than");
        assert_error(DOMAIN "idle_timeout_in_minutes: 100\nmax_idle_timeout_in_minutes: 90\n",
                     "max_idle_timeout_in_minutes (90) is less than");
}
END_TEST

START_TEST(test_mlflow_bucket_required)
{
        assert_error(DOMAIN "mlflow_enabled: true\n",
                     "t.yaml:5:17: mlflow_enabled needs mlflow_artifact_store_bucket_name");
        /* Off: the bucket is not needed. */
        sm_desired_free(model_of(DOMAIN "mlflow_enabled: false\n"));
}
END_TEST

START_TEST(test_image_pair)
{
        assert_error(DOMAIN "image_name: echo\n", "image_name needs app_image_config_name");
        assert_error(DOMAIN "app_image_config_name: c\n", "app_image_config_name needs image_name");
}
END_TEST

START_TEST(test_role_path_and_boundary)
{
        assert_error(DOMAIN "role_path: /a\n", "role_path \"/a\" is not an IAM path");
        assert_error(DOMAIN "permissions_boundary: 'a b'\n", "is not an IAM managed policy");
}
END_TEST

START_TEST(test_tags)
{
        assert_error(DOMAIN "tags: {'aws:x': y}\n", "tag key \"aws:x\" starts with \"aws:\"");
        assert_error(DOMAIN "tags: {'smstudio:managed-by': y}\n", "smstudio's own ownership tag");
        assert_error(DOMAIN "tags: {a: 'x;y'}\n", "value of tag \"a\" has characters");
        assert_error(DOMAIN "tags: {a: }\n", "tag \"a\" must have a string value, not null");
}
END_TEST

START_TEST(test_aliases)
{
        sm_desired *d = model_of("kind: Domain\nstudio_domain_name: d9\nvpc_id: vpc-0123abcd\n"
                                 "subnet_ids: [subnet-0123abcd]\npermissions_boundary_arn: "
                                 "arn:aws:iam::aws:policy/PowerUserAccess\n");

        ck_assert_ptr_nonnull(sm_desired_domain(d, "d9"));
        ck_assert_str_eq(sm_desired_domain(d, "d9")->permissions_boundary,
                         "arn:aws:iam::aws:policy/PowerUserAccess");
        sm_desired_free(d);
        assert_error(DOMAIN "studio_domain_name: d2\n",
                     "\"studio_domain_name\" and \"name\" set the same thing; keep one");
}
END_TEST

START_TEST(test_all_errors_reported)
{
        char *m = errors_of("kind: Domain\nname: a_b\nvpc_id: x\nsubnet_ids: [y]\n---\n"
                            "kind: User\nname: u\n");
        size_t lines = 0;

        for (const char *p = m; *p; p++)
                lines += *p == '\n';
        ck_assert_uint_eq(lines, 4);
        free(m);
}
END_TEST

START_TEST(test_empty_documents_ignored)
{
        sm_desired *d = model_of("# nothing\n---\n" DOMAIN "---\n");

        ck_assert_uint_eq(d->n_domains, 1);
        sm_desired_free(d);
}
END_TEST

/* ---- across documents ------------------------------------------------- */

START_TEST(test_domain_lists_become_users)
{
        sm_desired *d = model_of(DOMAIN "data_science_users: [a]\nlead_data_science_users:\n"
                                        "  - b\n");
        const sm_user *a = sm_desired_user(d, "d1", "a"), *b = sm_desired_user(d, "d1", "b");

        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(a->group, SM_GROUP_DATA_SCIENTIST);
        ck_assert_int_eq(b->group, SM_GROUP_LEAD);
        ck_assert(a->from_domain_list);
        ck_assert_uint_eq(a->source.line, 5);
        ck_assert_uint_eq(a->source.column, 22);
        ck_assert_uint_eq(b->source.line, 7);
        ck_assert_uint_eq(b->source.column, 5);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_user_defined_twice)
{
        assert_error(DOMAIN "data_science_users: [a]\n---\nkind: User\nname: a\n"
                            "group: data_science_users\n",
                     "t.yaml:7:1: user \"a\" of domain \"d1\" is defined twice (first at "
                     "t.yaml:5:22)");
}
END_TEST

START_TEST(test_user_twice_across_files)
{
        const char *t1 = DOMAIN, *t2 = "kind: User\nname: a\ngroup: data_science_users\n";
        sm_manifest_file *f[3] = {0};
        sm_desired *d = NULL;
        sm_diags diags = {0};
        sm_buf out = {0};

        ck_assert_int_eq(sm_manifest_file_parse("d.yaml", t1, strlen(t1), &f[0], &diags), 0);
        ck_assert_int_eq(sm_manifest_file_parse("a.yaml", t2, strlen(t2), &f[1], &diags), 0);
        ck_assert_int_eq(sm_manifest_file_parse("b.yaml", t2, strlen(t2), &f[2], &diags), 0);
        ck_assert_str_eq(sm_manifest_file_path(f[1]), "a.yaml");
        ck_assert_int_eq(sm_desired_build(f, 3, &d, &diags), -EINVAL);
        ck_assert_ptr_null(d);
        ck_assert_int_eq(sm_diags_format(&diags, &out), 0);
        ck_assert_str_eq(out.data, "b.yaml:1:1: user \"a\" of domain \"d1\" is defined twice "
                                   "(first at a.yaml:1:1)\n");
        sm_buf_done(&out);
        sm_diags_done(&diags);
        /* Without the duplicate it builds, and the model is a copy. */
        ck_assert_int_eq(sm_desired_build(f, 2, &d, &diags), 0);
        for (size_t i = 0; i < 3; i++)
                sm_manifest_file_free(f[i]);
        ck_assert_ptr_nonnull(sm_desired_user(d, "d1", "a"));
        ck_assert_str_eq(sm_desired_user(d, "d1", "a")->source.file, "a.yaml");
        sm_desired_free(d);
}
END_TEST

START_TEST(test_user_both_groups)
{
        assert_error(DOMAIN "data_science_users: [a]\nlead_data_science_users: [a]\n",
                     "t.yaml:6:27: user \"a\" of domain \"d1\" is both a data scientist and a "
                     "lead data scientist (also at t.yaml:5:22)");
}
END_TEST

START_TEST(test_unknown_domain)
{
        assert_error(DOMAIN "---\nkind: User\nname: a\ngroup: data_science_users\ndomain: d2\n",
                     "t.yaml:9:9: user \"a\" names domain \"d2\", which no manifest defines (did "
                     "you mean \"d1\"?)");
}
END_TEST

START_TEST(test_user_needs_domain)
{
        assert_error(DOMAIN "---\nkind: Domain\nname: d2\nvpc_id: vpc-0123abcd\nsubnet_ids: "
                            "[subnet-0123abcd]\n---\nkind: User\nname: a\ngroup: "
                            "data_science_users\n",
                     "user \"a\" needs \"domain\": there are 2 domains to choose from");
        assert_error("kind: User\nname: a\ngroup: data_science_users\n",
                     "no manifest defines a Domain");
}
END_TEST

START_TEST(test_domain_twice)
{
        assert_error(DOMAIN "---\n" DOMAIN,
                     "t.yaml:6:1: domain \"d1\" is defined twice (first at t.yaml:1:1)");
}
END_TEST

START_TEST(test_sso)
{
        sm_desired *d = model_of(DOMAIN "auth_mode: SSO\ndata_science_users: [a]\n---\n"
                                        "kind: User\nname: b\ngroup: data_science_users\n"
                                        "sso_user_value: b@example.com\n");

        ck_assert_str_eq(sm_desired_user(d, "d1", "a")->sso_user_value, "a");
        ck_assert_str_eq(sm_desired_user(d, "d1", "b")->sso_user_value, "b@example.com");
        sm_desired_free(d);
        d = model_of(DOMAIN "data_science_users: [a]\n");
        ck_assert_ptr_null(sm_desired_user(d, "d1", "a")->sso_user_value);
        sm_desired_free(d);
        assert_error(DOMAIN "---\nkind: User\nname: b\ngroup: data_science_users\n"
                            "sso_user_value: b@example.com\n",
                     "t.yaml:9:17: sso_user_value is only for domains with auth_mode SSO");
}
END_TEST

START_TEST(test_generated_spaces)
{
        sm_desired *d = model_of(DOMAIN "enable_jupyterlab_app: true\n"
                                        "enable_jupyterlab_app_sharing: true\n"
                                        "data_science_users: [a]\n---\nkind: User\nname: b\n"
                                        "group: data_science_users\nspace: false\n---\n"
                                        "kind: User\nname: c\ngroup: data_science_users\n"
                                        "instance_type: ml.g5.xlarge\n");
        const sm_space *s = sm_desired_space(d, "d1", "a-JupyterLab-space");
        sm_desired_summary sum;

        ck_assert_ptr_nonnull(s);
        ck_assert(s->generated);
        ck_assert_str_eq(s->owner, "a");
        ck_assert_int_eq(s->sharing, SM_SHARING_SHARED);
        ck_assert_str_eq(s->instance_type, "ml.t3.medium");
        ck_assert_ptr_null(sm_desired_space(d, "d1", "b-JupyterLab-space"));
        ck_assert(!sm_desired_user(d, "d1", "b")->space);
        ck_assert_str_eq(sm_desired_space(d, "d1", "c-JupyterLab-space")->instance_type,
                         "ml.g5.xlarge");
        sm_desired_summarize(d, &sum);
        ck_assert_uint_eq(sum.users, 3);
        ck_assert_uint_eq(sum.spaces, 2);
        ck_assert_uint_eq(sum.generated_spaces, 2);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_generated_space_name_fits)
{
        /* 46 + strlen("-JupyterLab-space") = 63: the longest that fits. */
        sm_desired_free(model_of(DOMAIN "enable_jupyterlab_app: true\ndata_science_users: "
                                        "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n"));
        assert_error(DOMAIN "enable_jupyterlab_app: true\ndata_science_users: "
                            "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
                     "would be 64 characters, over SageMaker's 63 (at most 46 for a user with a "
                     "space)");
}
END_TEST

START_TEST(test_space_owner)
{
        sm_desired *d = model_of(DOMAIN "data_science_users: [a]\n---\nkind: Space\nname: s\n"
                                        "owner: a\nsharing: Private\napp_type: CodeEditor\n");
        const sm_space *s = sm_desired_space(d, "d1", "s");

        ck_assert_ptr_nonnull(s);
        ck_assert(!s->generated);
        ck_assert_str_eq(s->domain, "d1");
        ck_assert_int_eq(s->app_type, SM_APP_CODE_EDITOR);
        sm_desired_free(d);
        assert_error(DOMAIN "---\nkind: Space\nname: s\nowner: z\n",
                     "t.yaml:8:8: owner \"z\" of space \"s\" is not a user of domain \"d1\"");
        assert_error(DOMAIN "---\nkind: Space\nname: s\nsharing: Private\n",
                     "a Private space needs \"owner\"");
}
END_TEST

START_TEST(test_space_collisions)
{
        assert_error(DOMAIN "enable_jupyterlab_app: true\ndata_science_users: [a]\n---\n"
                            "kind: Space\nname: a-JupyterLab-space\n",
                     "t.yaml:8:1: space \"a-JupyterLab-space\" of domain \"d1\" has the name of "
                     "user \"a\"'s own JupyterLab space (user at t.yaml:6:22)");
        assert_error(DOMAIN "---\nkind: Space\nname: s\n---\nkind: Space\nname: s\n",
                     "t.yaml:9:1: space \"s\" of domain \"d1\" is defined twice");
}
END_TEST

START_TEST(test_quoting_in_messages)
{
        assert_error("kind: \"Dom\\\"ain\\n\"\n", "unknown kind \"Dom\\\"ain\\x0a\"");
}
END_TEST

/* ---- corpora ---------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && streq(s + n - m, suffix);
}

/* The names (without .yaml) in dir, sorted. */
static char **list_cases(const char *dir, size_t *ret_n)
{
        char *p = data_path(dir);
        struct dirent **ents = NULL;
        int n = scandir(p, &ents, NULL, alphasort);
        char **v;
        size_t k = 0;

        ck_assert_msg(n >= 0, "cannot read %s", p);
        v = calloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++) {
                if (has_suffix(ents[i]->d_name, ".yaml"))
                        v[k++] = strndup(ents[i]->d_name, strlen(ents[i]->d_name) - 5);
                free(ents[i]);
        }
        free(ents);
        free(p);
        *ret_n = k;
        return v;
}

/* A readable difference: the first line that differs. */
static void report_diff(const char *name, const char *want, const char *got)
{
        size_t line = 1;
        const char *w = want, *g = got;

        while (*w && *w == *g) {
                line += *w == '\n';
                w++;
                g++;
        }
        fprintf(stderr, "--- %s: first difference at line %zu\n--- expected:\n%s--- got:\n%s", name,
                line, want, got);
}

START_TEST(test_broken_corpus)
{
        bool regen = getenv("SM_REGENERATE") != NULL;
        size_t n, failed = 0;
        char **names = list_cases("broken", &n);

        ck_assert_uint_ge(n, 30);
        for (size_t i = 0; i < n; i++) {
                char *rel = NULL, *yaml, *exp_path = NULL, *text, *want, *got = NULL;
                int r;

                ck_assert_int_ge(asprintf(&rel, "broken/%s.yaml", names[i]), 0);
                yaml = data_path(rel);
                text = read_all(yaml, NULL);
                ck_assert_ptr_nonnull(text);
                r = load(rel, text, NULL, &got);
                if (r != -EINVAL || isempty(got)) {
                        fprintf(stderr, "--- %s: expected -EINVAL with messages, got %d\n", rel, r);
                        failed++;
                }
                ck_assert_int_ge(asprintf(&exp_path, "%.*s.expected", (int)strlen(yaml) - 5, yaml),
                                 0);
                if (regen)
                        write_all(exp_path, got);
                want = read_all(exp_path, NULL);
                if (!want) {
                        fprintf(stderr, "--- %s: no %s\n", rel, exp_path);
                        failed++;
                } else if (!streq(want, got)) {
                        report_diff(rel, want, got);
                        failed++;
                }
                free(want);
                free(got);
                free(text);
                free(exp_path);
                free(yaml);
                free(rel);
                free(names[i]);
        }
        free(names);
        ck_assert_msg(failed == 0, "%zu broken manifests gave other messages", failed);
}
END_TEST

START_TEST(test_good_corpus)
{
        bool regen = getenv("SM_REGENERATE") != NULL;
        size_t n, failed = 0;
        char **names = list_cases("good", &n);

        ck_assert_uint_ge(n, 3);
        for (size_t i = 0; i < n; i++) {
                char *rel = NULL, *yaml, *json_path = NULL, *text, *want, *got, *msgs = NULL;
                sm_desired *d = NULL;
                int r;

                ck_assert_int_ge(asprintf(&rel, "good/%s.yaml", names[i]), 0);
                yaml = data_path(rel);
                text = read_all(yaml, NULL);
                ck_assert_ptr_nonnull(text);
                r = load(rel, text, &d, &msgs);
                ck_assert_msg(r == 0, "%s: %d\n%s", rel, r, msgs);
                got = sm_desired_dump(d);
                ck_assert_ptr_nonnull(got);
                ck_assert_int_ge(asprintf(&json_path, "%.*s.json", (int)strlen(yaml) - 5, yaml), 0);
                if (regen)
                        write_all(json_path, got);
                want = read_all(json_path, NULL);
                if (!want || !streq(want, got)) {
                        report_diff(rel, want ? want : "(no file)\n", got);
                        failed++;
                }
                sm_desired_free(d);
                free(want);
                free(got);
                free(msgs);
                free(text);
                free(json_path);
                free(yaml);
                free(rel);
                free(names[i]);
        }
        free(names);
        ck_assert_msg(failed == 0, "%zu good manifests dumped differently", failed);
}
END_TEST

/* config/smstudio.d/ as shipped: every file valid, and valid together. */
START_TEST(test_shipped_examples)
{
        const char *root = getenv("SM_SOURCE_ROOT");
        char *dir = NULL;
        struct dirent **ents = NULL;
        sm_manifest_file *files[32];
        size_t n_files = 0;
        sm_diags diags = {0};
        sm_buf out = {0};
        sm_desired *d = NULL;
        int n, r;

        ck_assert_int_ge(asprintf(&dir, "%s/config/smstudio.d", root ? root : "."), 0);
        n = scandir(dir, &ents, NULL, alphasort);
        ck_assert_int_gt(n, 0);
        for (int i = 0; i < n; i++) {
                if (has_suffix(ents[i]->d_name, ".yaml") && n_files < 32) {
                        char *p = NULL, *text;
                        size_t len;

                        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, ents[i]->d_name), 0);
                        text = read_all(p, &len);
                        ck_assert_ptr_nonnull(text);
                        r = sm_manifest_file_parse(ents[i]->d_name, text, len, &files[n_files],
                                                   &diags);
                        sm_diags_format(&diags, &out);
                        ck_assert_msg(r == 0, "%s", out.data);
                        n_files++;
                        free(text);
                        free(p);
                }
                free(ents[i]);
        }
        free(ents);
        ck_assert_uint_ge(n_files, 3);
        r = sm_desired_build(files, n_files, &d, &diags);
        sm_diags_format(&diags, &out);
        ck_assert_msg(r == 0, "%s", out.data);
        ck_assert_ptr_nonnull(sm_desired_domain(d, "mlops-studio"));
        ck_assert_int_eq(sm_desired_user(d, "mlops-studio", "alice")->group,
                         SM_GROUP_DATA_SCIENTIST);
        ck_assert_int_eq(sm_desired_user(d, "mlops-studio", "bob")->group, SM_GROUP_LEAD);
        ck_assert_ptr_nonnull(sm_desired_space(d, "mlops-studio", "alice-JupyterLab-space"));
        for (size_t i = 0; i < n_files; i++)
                sm_manifest_file_free(files[i]);
        sm_desired_free(d);
        sm_buf_done(&out);
        sm_diags_done(&diags);
        free(dir);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("manifest");
        TCase *tc = tcase_create("rules");

        tcase_add_test(tc, test_minimal_domain_defaults);
        tcase_add_test(tc, test_set_bits);
        tcase_add_test(tc, test_kind_required);
        tcase_add_test(tc, test_kind_unknown_did_you_mean);
        tcase_add_test(tc, test_unknown_key_did_you_mean);
        tcase_add_test(tc, test_required_keys);
        tcase_add_test(tc, test_name_rules);
        tcase_add_test(tc, test_id_shapes);
        tcase_add_test(tc, test_list_duplicates);
        tcase_add_test(tc, test_enums);
        tcase_add_test(tc, test_bools_are_strict);
        tcase_add_test(tc, test_instance_type);
        tcase_add_test(tc, test_idle_range);
        tcase_add_test(tc, test_idle_bounds_need_idle);
        tcase_add_test(tc, test_idle_order);
        tcase_add_test(tc, test_mlflow_bucket_required);
        tcase_add_test(tc, test_image_pair);
        tcase_add_test(tc, test_role_path_and_boundary);
        tcase_add_test(tc, test_tags);
        tcase_add_test(tc, test_aliases);
        tcase_add_test(tc, test_all_errors_reported);
        tcase_add_test(tc, test_empty_documents_ignored);
        tcase_add_test(tc, test_domain_lists_become_users);
        tcase_add_test(tc, test_user_defined_twice);
        tcase_add_test(tc, test_user_twice_across_files);
        tcase_add_test(tc, test_user_both_groups);
        tcase_add_test(tc, test_unknown_domain);
        tcase_add_test(tc, test_user_needs_domain);
        tcase_add_test(tc, test_domain_twice);
        tcase_add_test(tc, test_sso);
        tcase_add_test(tc, test_generated_spaces);
        tcase_add_test(tc, test_generated_space_name_fits);
        tcase_add_test(tc, test_space_owner);
        tcase_add_test(tc, test_space_collisions);
        tcase_add_test(tc, test_quoting_in_messages);
        suite_add_tcase(s, tc);

        tc = tcase_create("corpora");
        tcase_add_test(tc, test_broken_corpus);
        tcase_add_test(tc, test_good_corpus);
        tcase_add_test(tc, test_shipped_examples);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
