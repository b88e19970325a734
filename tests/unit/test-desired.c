/* SPDX-License-Identifier: Apache-2.0 */
/* The desired model on its own: ownership, copies, lookups, the canonical
 * dump and the value rules the manifest checks are made of. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/desired.h"
#include "testmain.h"

static sm_source src(const char *file, unsigned line)
{
        return (sm_source){strdup(file), line, 1};
}

static void add_user(sm_desired *d, const char *domain, const char *name)
{
        sm_user u;

        sm_desired_user_init(&u);
        u.name = strdup(name);
        u.domain = strdup(domain);
        u.source = src("u.yaml", 1);
        ck_assert_int_eq(sm_desired_add_user(d, &u), 0);
        ck_assert_ptr_null(u.name);
}

static void add_domain(sm_desired *d, const char *name)
{
        sm_domain x;

        ck_assert_int_eq(sm_desired_domain_init(&x), 0);
        x.name = strdup(name);
        x.source = src("d.yaml", 2);
        ck_assert_int_eq(sm_desired_add_domain(d, &x), 0);
}

START_TEST(test_free_null)
{
        ck_assert_ptr_null(sm_desired_free(NULL));
        sm_desired_domain_done(NULL);
        sm_desired_user_done(NULL);
        sm_desired_space_done(NULL);
        sm_desired_tags_done(NULL);
        sm_desired_source_done(NULL);
        ck_assert_ptr_null(sm_desired_free(sm_desired_new()));
}
END_TEST

START_TEST(test_domain_defaults)
{
        sm_domain d;

        ck_assert_int_eq(sm_desired_domain_init(&d), 0);
        ck_assert_int_eq(d.auth_mode, SM_AUTH_IAM);
        ck_assert(d.retain_efs);
        ck_assert(d.enable_domain_resource_isolation);
        ck_assert(!d.adopt);
        ck_assert_str_eq(d.jupyterlab_app_instance_type, "ml.t3.medium");
        ck_assert_str_eq(d.mlflow_server_name, "mlflow");
        ck_assert_str_eq(d.mlflow_artifact_store_bucket_prefix, "/");
        ck_assert_int_eq(d.mlflow_server_size, SM_MLFLOW_SMALL);
        ck_assert_uint_eq(d.set, 0);
        sm_desired_domain_done(&d);
        ck_assert_ptr_null(d.name);
}
END_TEST

START_TEST(test_space_defaults)
{
        sm_space s;
        sm_user u;

        sm_desired_space_init(&s);
        ck_assert_int_eq(s.sharing, SM_SHARING_SHARED);
        ck_assert_int_eq(s.app_type, SM_APP_JUPYTERLAB);
        sm_desired_user_init(&u);
        ck_assert_int_eq(u.group, SM_GROUP_DATA_SCIENTIST);
        ck_assert(!u.space);
}
END_TEST

START_TEST(test_deep_copy)
{
        sm_domain a, b;
        char *subnets[] = {"subnet-0123abcd", NULL};
        sm_tag tag = {"k", "v"};

        ck_assert_int_eq(sm_desired_domain_init(&a), 0);
        a.name = strdup("d");
        a.source = src("x.yaml", 7);
        a.subnet_ids = calloc(2, sizeof(char *));
        a.subnet_ids[0] = strdup(subnets[0]);
        a.tags.items = calloc(1, sizeof(sm_tag));
        a.tags.items[0].key = strdup(tag.key);
        a.tags.items[0].value = strdup(tag.value);
        a.tags.n = 1;
        a.idle_timeout_in_minutes = 90;
        ck_assert_int_eq(sm_desired_domain_copy(&b, &a), 0);
        ck_assert_ptr_ne(b.name, a.name);
        ck_assert_ptr_ne(b.subnet_ids, a.subnet_ids);
        ck_assert_ptr_ne(b.tags.items, a.tags.items);
        ck_assert_ptr_ne(b.source.file, a.source.file);
        sm_desired_domain_done(&a);
        /* b survives a. */
        ck_assert_str_eq(b.name, "d");
        ck_assert_str_eq(b.subnet_ids[0], "subnet-0123abcd");
        ck_assert_ptr_null(b.subnet_ids[1]);
        ck_assert_str_eq(b.tags.items[0].value, "v");
        ck_assert_str_eq(b.source.file, "x.yaml");
        ck_assert_uint_eq(b.source.line, 7);
        ck_assert_int_eq(b.idle_timeout_in_minutes, 90);
        sm_desired_domain_done(&b);
}
END_TEST

START_TEST(test_lookups_after_sort)
{
        sm_desired *d = sm_desired_new();

        add_domain(d, "zeta");
        add_domain(d, "alpha");
        for (int i = 0; i < 20; i++) {
                char name[16];

                snprintf(name, sizeof(name), "u%02d", 19 - i);
                add_user(d, i % 2 ? "alpha" : "zeta", name);
        }
        sm_desired_sort(d);
        ck_assert_str_eq(d->domains[0].name, "alpha");
        ck_assert_ptr_nonnull(sm_desired_domain(d, "zeta"));
        ck_assert_ptr_null(sm_desired_domain(d, "beta"));
        ck_assert_ptr_null(sm_desired_domain(d, NULL));
        ck_assert_ptr_nonnull(sm_desired_user(d, "alpha", "u18"));
        ck_assert_ptr_null(sm_desired_user(d, "zeta", "u18"));
        ck_assert_ptr_nonnull(sm_desired_user(d, "zeta", "u19"));
        ck_assert_ptr_null(sm_desired_space(d, "zeta", "u19"));
        /* sorted by domain then name */
        for (size_t i = 1; i < d->n_users; i++) {
                int c = strcmp(d->users[i - 1].domain, d->users[i].domain);

                ck_assert(c < 0 || (c == 0 && strcmp(d->users[i - 1].name, d->users[i].name) < 0));
        }
        sm_desired_free(d);
}
END_TEST

START_TEST(test_summary_and_json)
{
        sm_desired *d = sm_desired_new();
        sm_desired_summary s;
        sm_space sp;
        json_t *j;
        char *txt;

        add_domain(d, "dom");
        d->domains[0].mlflow_enabled = true;
        d->domains[0].set = UINT64_C(1) << SM_DOMAIN_MLFLOW_ENABLED;
        add_user(d, "dom", "ann");
        sm_desired_space_init(&sp);
        sp.name = strdup("ann-JupyterLab-space");
        sp.domain = strdup("dom");
        sp.generated = true;
        ck_assert_int_eq(sm_desired_add_space(d, &sp), 0);
        sm_desired_sort(d);
        sm_desired_summarize(d, &s);
        ck_assert_uint_eq(s.domains, 1);
        ck_assert_uint_eq(s.users, 1);
        ck_assert_uint_eq(s.spaces, 1);
        ck_assert_uint_eq(s.generated_spaces, 1);
        ck_assert_uint_eq(s.mlflow_servers, 1);

        j = sm_desired_to_json(d);
        ck_assert_ptr_nonnull(j);
        json_t *dom = json_array_get(json_object_get(j, "domains"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(dom, "source")), "d.yaml:2:1");
        ck_assert_str_eq(json_string_value(json_array_get(json_object_get(dom, "set"), 0)),
                         "mlflow_enabled");
        ck_assert(json_is_null(json_object_get(dom, "idle_timeout_in_minutes")));
        ck_assert_str_eq(json_string_value(json_object_get(dom, "auth_mode")), "IAM");
        ck_assert_int_eq(
                json_integer_value(json_object_get(json_object_get(j, "summary"), "users")), 1);
        json_t *space = json_array_get(json_object_get(j, "spaces"), 0);
        ck_assert(json_is_null(json_object_get(space, "source")));
        ck_assert(json_is_true(json_object_get(space, "generated")));
        json_decref(j);

        /* The dump is stable text: same model, same bytes. */
        txt = sm_desired_dump(d);
        ck_assert_ptr_nonnull(txt);
        char *again = sm_desired_dump(d);
        ck_assert_str_eq(txt, again);
        ck_assert(txt[strlen(txt) - 1] == '\n');
        free(again);
        free(txt);
        sm_desired_free(d);
}
END_TEST

START_TEST(test_enum_names)
{
        ck_assert_str_eq(sm_auth_mode_to_string(SM_AUTH_SSO), "SSO");
        ck_assert_str_eq(sm_mlflow_size_to_string(SM_MLFLOW_LARGE), "Large");
        ck_assert_str_eq(sm_user_group_to_string(SM_GROUP_LEAD), "lead_data_science_users");
        ck_assert_str_eq(sm_sharing_to_string(SM_SHARING_PRIVATE), "Private");
        ck_assert_str_eq(sm_app_type_to_string(SM_APP_CODE_EDITOR), "CodeEditor");
        ck_assert_str_eq(sm_app_type_to_string(7), "?");
        ck_assert_str_eq(sm_auth_mode_to_string(-1), "?");
}
END_TEST

START_TEST(test_name_rule)
{
        char long_name[65];

        ck_assert(sm_desired_name_valid("a"));
        ck_assert(sm_desired_name_valid("mlops-studio"));
        ck_assert(sm_desired_name_valid("a--b"));
        ck_assert(sm_desired_name_valid("A9"));
        ck_assert(!sm_desired_name_valid(""));
        ck_assert(!sm_desired_name_valid(NULL));
        ck_assert(!sm_desired_name_valid("-a"));
        ck_assert(!sm_desired_name_valid("a-"));
        ck_assert(!sm_desired_name_valid("a_b"));
        ck_assert(!sm_desired_name_valid("a.b"));
        memset(long_name, 'x', 63);
        long_name[63] = '\0';
        ck_assert(sm_desired_name_valid(long_name));
        long_name[63] = 'x';
        long_name[64] = '\0';
        ck_assert(!sm_desired_name_valid(long_name));
}
END_TEST

START_TEST(test_id_rules)
{
        ck_assert(sm_desired_vpc_id_valid("vpc-0123abcd"));
        ck_assert(sm_desired_vpc_id_valid("vpc-0a1b2c3d4e5f60718"));
        ck_assert(!sm_desired_vpc_id_valid("vpc-0123abc"));
        ck_assert(!sm_desired_vpc_id_valid("vpc-0123ABCD"));
        ck_assert(!sm_desired_vpc_id_valid("subnet-0123abcd"));
        ck_assert(sm_desired_subnet_id_valid("subnet-0123456789abcdef0"));
        ck_assert(!sm_desired_subnet_id_valid("subnet-0123456789abcdef"));
        ck_assert(sm_desired_sg_id_valid("sg-0123abcd"));
        ck_assert(!sm_desired_sg_id_valid("sg-0123abcg"));
        ck_assert(sm_desired_account_id_valid("123456789012"));
        ck_assert(!sm_desired_account_id_valid("12345678901"));
        ck_assert(!sm_desired_account_id_valid("1234567890123"));
        ck_assert(!sm_desired_account_id_valid("12345678901a"));
}
END_TEST

START_TEST(test_instance_type_rule)
{
        ck_assert(sm_desired_instance_type_valid("ml.t3.medium"));
        ck_assert(sm_desired_instance_type_valid("ml.g5.12xlarge"));
        ck_assert(sm_desired_instance_type_valid("ml.p4de.24xlarge"));
        ck_assert(!sm_desired_instance_type_valid("t3.medium"));
        ck_assert(!sm_desired_instance_type_valid("ml.t3"));
        ck_assert(!sm_desired_instance_type_valid("ml.t3.medium."));
        ck_assert(!sm_desired_instance_type_valid("ml.T3.medium"));
        ck_assert(!sm_desired_instance_type_valid("ml..medium"));
}
END_TEST

START_TEST(test_path_bucket_boundary_rules)
{
        ck_assert(sm_desired_role_path_valid("/"));
        ck_assert(sm_desired_role_path_valid("/team/ml/"));
        ck_assert(!sm_desired_role_path_valid("team/"));
        ck_assert(!sm_desired_role_path_valid("/team"));
        ck_assert(!sm_desired_role_path_valid("/te am/"));

        ck_assert(sm_desired_bucket_name_valid("mlops-bucket"));
        ck_assert(sm_desired_bucket_name_valid("a.b.c"));
        ck_assert(!sm_desired_bucket_name_valid("ab"));
        ck_assert(!sm_desired_bucket_name_valid("Bucket"));
        ck_assert(!sm_desired_bucket_name_valid("a..b"));
        ck_assert(!sm_desired_bucket_name_valid("a.-b"));
        ck_assert(!sm_desired_bucket_name_valid("-ab"));

        ck_assert(sm_desired_permissions_boundary_valid("team-boundary"));
        ck_assert(sm_desired_permissions_boundary_valid("arn:aws:iam::123456789012:policy/b"));
        ck_assert(sm_desired_permissions_boundary_valid("arn:aws:iam::aws:policy/PowerUserAccess"));
        ck_assert(sm_desired_permissions_boundary_valid(
                "arn:aws-us-gov:iam::123456789012:policy/path/to/b"));
        ck_assert(!sm_desired_permissions_boundary_valid("arn:aws:iam::1234:policy/b"));
        ck_assert(!sm_desired_permissions_boundary_valid("arn:aws:iam::123456789012:role/b"));
        ck_assert(!sm_desired_permissions_boundary_valid("arn:aws:iam::123456789012:policy/"));
        ck_assert(!sm_desired_permissions_boundary_valid("has space"));
        ck_assert(!sm_desired_permissions_boundary_valid(""));
}
END_TEST

START_TEST(test_misc_rules)
{
        ck_assert(sm_desired_image_name_valid("echo"));
        ck_assert(sm_desired_image_name_valid("my.image-1"));
        ck_assert(!sm_desired_image_name_valid("a..b"));
        ck_assert(!sm_desired_image_name_valid("a-"));
        ck_assert(sm_desired_mlflow_name_valid("mlflow"));
        ck_assert(!sm_desired_mlflow_name_valid("ml_flow"));
        ck_assert(sm_desired_mlflow_version_valid("2.16"));
        ck_assert(sm_desired_mlflow_version_valid("2.16.2"));
        ck_assert(sm_desired_mlflow_version_valid("3"));
        ck_assert(!sm_desired_mlflow_version_valid("2.16.2.1"));
        ck_assert(!sm_desired_mlflow_version_valid("2..1"));
        ck_assert(!sm_desired_mlflow_version_valid("latest"));
        ck_assert(sm_desired_bucket_prefix_valid("/"));
        ck_assert(sm_desired_bucket_prefix_valid("mlflow/"));
        ck_assert(!sm_desired_bucket_prefix_valid("a//b"));
        ck_assert(sm_desired_sso_user_value_valid("alice@example.com"));
        ck_assert(!sm_desired_sso_user_value_valid(""));
        ck_assert(!sm_desired_sso_user_value_valid("a\tb"));
}
END_TEST

START_TEST(test_tag_rules)
{
        char key[130], value[258];

        ck_assert_ptr_null(sm_desired_tag_key_problem("team"));
        ck_assert_ptr_null(sm_desired_tag_key_problem("cost center:/=+-@_."));
        ck_assert_ptr_null(sm_desired_tag_key_problem("équipe"));
        ck_assert_ptr_nonnull(sm_desired_tag_key_problem(""));
        ck_assert_ptr_nonnull(sm_desired_tag_key_problem("aws:x"));
        ck_assert_ptr_nonnull(sm_desired_tag_key_problem("AWS:x"));
        ck_assert_ptr_nonnull(sm_desired_tag_key_problem(SM_TAG_MANAGED_BY));
        ck_assert_ptr_nonnull(sm_desired_tag_key_problem("a#b"));
        memset(key, 'k', 128);
        key[128] = '\0';
        ck_assert_ptr_null(sm_desired_tag_key_problem(key));
        key[128] = 'k';
        key[129] = '\0';
        ck_assert_ptr_nonnull(sm_desired_tag_key_problem(key));
        ck_assert_ptr_null(sm_desired_tag_value_problem(""));
        memset(value, 'v', 256);
        value[256] = '\0';
        ck_assert_ptr_null(sm_desired_tag_value_problem(value));
        value[256] = 'v';
        value[257] = '\0';
        ck_assert_ptr_nonnull(sm_desired_tag_value_problem(value));
        ck_assert_ptr_nonnull(sm_desired_tag_value_problem("a;b"));
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("desired");
        TCase *tc = tcase_create("model");

        tcase_add_test(tc, test_free_null);
        tcase_add_test(tc, test_domain_defaults);
        tcase_add_test(tc, test_space_defaults);
        tcase_add_test(tc, test_deep_copy);
        tcase_add_test(tc, test_lookups_after_sort);
        tcase_add_test(tc, test_summary_and_json);
        tcase_add_test(tc, test_enum_names);
        suite_add_tcase(s, tc);
        tc = tcase_create("rules");
        tcase_add_test(tc, test_name_rule);
        tcase_add_test(tc, test_id_rules);
        tcase_add_test(tc, test_instance_type_rule);
        tcase_add_test(tc, test_path_bucket_boundary_rules);
        tcase_add_test(tc, test_misc_rules);
        tcase_add_test(tc, test_tag_rules);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
