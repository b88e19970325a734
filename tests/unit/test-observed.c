/* SPDX-License-Identifier: Apache-2.0 */
/* The observed model: ownership, canonical order, lookups and the dump. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/observed.h"
#include "testmain.h"

static void add_res(sm_observed *o, sm_resource_kind kind, const char *domain_id, const char *name,
                    const char *profile, const char *space)
{
        sm_observed_resource r = {
                .kind = kind,
                .name = strdup(name),
                .domain_id = domain_id ? strdup(domain_id) : NULL,
                .status = strdup("InService"),
                .app_user_profile = profile ? strdup(profile) : NULL,
                .app_space = space ? strdup(space) : NULL,
                .app_type = kind == SM_RESOURCE_APP ? strdup("JupyterLab") : NULL,
        };

        ck_assert_int_eq(sm_observed_add_resource(o, &r), 0);
        ck_assert_ptr_null(r.name);
}

static void add_role(sm_observed *o, const char *name)
{
        sm_observed_role r = {.name = strdup(name), .trust_policy = json_object()};

        r.managed_policy_arns = calloc(2, sizeof(char *));
        r.managed_policy_arns[0] = strdup("arn:aws:iam::aws:policy/X");
        r.n_managed = 1;
        r.inline_policies = calloc(1, sizeof(sm_inline_policy));
        r.inline_policies[0].name = strdup("smstudio-a");
        r.inline_policies[0].document = json_pack("{s:s}", "Version", "2012-10-17");
        r.n_inline = 1;
        ck_assert_int_eq(sm_observed_add_role(o, &r), 0);
}

START_TEST(test_kind_names)
{
        ck_assert_str_eq(sm_resource_kind_to_string(SM_RESOURCE_DOMAIN), "domain");
        ck_assert_str_eq(sm_resource_kind_to_string(SM_RESOURCE_USER_PROFILE), "user-profile");
        ck_assert_str_eq(sm_resource_kind_to_string(SM_RESOURCE_LIFECYCLE_CONFIG),
                         "lifecycle-config");
        ck_assert_ptr_null(sm_resource_kind_to_string(_SM_RESOURCE_KIND_MAX));
}
END_TEST

START_TEST(test_ownership)
{
        sm_tag items[] = {{"team", "mlops"}, {SM_TAG_MANAGED_BY, "prod"}};
        sm_tags tags = {items, 2}, none = {items, 1}, empty = {0};

        ck_assert_int_eq(sm_ownership_of(&tags, "prod"), SM_OWNER_US);
        ck_assert_int_eq(sm_ownership_of(&tags, "staging"), SM_OWNER_OTHER);
        ck_assert_int_eq(sm_ownership_of(&none, "prod"), SM_OWNER_NONE);
        ck_assert_int_eq(sm_ownership_of(&empty, "prod"), SM_OWNER_NONE);
        ck_assert_str_eq(sm_tags_get(&tags, "team"), "mlops");
        ck_assert_ptr_null(sm_tags_get(&tags, "nope"));
}
END_TEST

START_TEST(test_sort_and_find)
{
        sm_observed *o = sm_observed_new();
        const sm_observed_resource *r, *first;
        char name[32];

        /* Enough entries to grow several times, added out of order. */
        for (int i = 19; i >= 0; i--) {
                snprintf(name, sizeof(name), "user%02d", i);
                add_res(o, SM_RESOURCE_USER_PROFILE, i % 2 ? "d-b" : "d-a", name, NULL, NULL);
        }
        add_res(o, SM_RESOURCE_MLFLOW, NULL, "mlflow", NULL, NULL);
        add_res(o, SM_RESOURCE_DOMAIN, "d-b", "studio", NULL, NULL);
        add_res(o, SM_RESOURCE_DOMAIN, "d-a", "studio", NULL, NULL);
        add_res(o, SM_RESOURCE_APP, "d-a", "default", "user02", NULL);
        add_res(o, SM_RESOURCE_APP, "d-a", "default", NULL, "sp");
        add_role(o, "z.role");
        add_role(o, "a.role");
        sm_observed_sort(o);

        ck_assert_int_eq(o->resources[0].kind, SM_RESOURCE_DOMAIN);
        ck_assert_str_eq(o->resources[0].domain_id, "d-a");
        ck_assert_str_eq(o->roles[0].name, "a.role");

        r = sm_observed_find(o, SM_RESOURCE_USER_PROFILE, "d-b", "user07");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->name, "user07");
        ck_assert_ptr_null(sm_observed_find(o, SM_RESOURCE_USER_PROFILE, "d-a", "user07"));
        ck_assert_ptr_null(sm_observed_find(o, SM_RESOURCE_SPACE, "d-a", "user07"));
        ck_assert_ptr_nonnull(sm_observed_find(o, SM_RESOURCE_MLFLOW, NULL, "mlflow"));
        ck_assert_ptr_null(sm_observed_find(o, SM_RESOURCE_MLFLOW, NULL, "other"));

        ck_assert_uint_eq(sm_observed_range(o, SM_RESOURCE_USER_PROFILE, "d-a", &first), 10);
        ck_assert_str_eq(first->name, "user00");
        ck_assert_uint_eq(sm_observed_range(o, SM_RESOURCE_USER_PROFILE, NULL, &first), 20);
        ck_assert_uint_eq(sm_observed_range(o, SM_RESOURCE_SPACE, NULL, &first), 0);
        ck_assert_ptr_null(first);
        ck_assert_uint_eq(sm_observed_range(o, SM_RESOURCE_APP, "d-a", &first), 2);
        /* NULL profile (a space app) sorts first. */
        ck_assert_str_eq(first[0].app_space, "sp");

        ck_assert_ptr_nonnull(sm_observed_role_find(o, "z.role"));
        ck_assert_ptr_null(sm_observed_role_find(o, "m.role"));
        sm_observed_free(o);
}
END_TEST

/* Common statuses and our tag key are shared, other strings copied; the
 * destructors free exactly the copies (the sanitizer build checks). And the
 * array gives back what sorting finds spare. */
START_TEST(test_shared_strings_and_capacity)
{
        sm_observed *o = sm_observed_new();
        sm_observed_resource r = {0};
        char *custom = sm_observed_strdup("Weird_Status");

        ck_assert_ptr_eq(sm_observed_strdup("InService"), sm_observed_strdup("InService"));
        ck_assert_ptr_eq(sm_observed_strdup(SM_TAG_MANAGED_BY),
                         sm_observed_strdup(SM_TAG_MANAGED_BY));
        ck_assert_ptr_ne(custom, sm_observed_strdup("InService"));
        ck_assert_str_eq(custom, "Weird_Status");
        sm_observed_strfree(custom);
        ck_assert_ptr_null(sm_observed_strdup(NULL));

        ck_assert_int_eq(sm_observed_reserve(o, 100), 0);
        ck_assert_uint_eq(o->resources_cap, 100);
        for (int i = 0; i < 3; i++) {
                char name[8];

                snprintf(name, sizeof(name), "s%d", i);
                r.kind = SM_RESOURCE_SPACE; /* adding moved r out and zeroed it */
                r.name = strdup(name);
                r.domain_id = strdup("d-a");
                r.status = sm_observed_strdup(i == 0 ? "Custom" : "InService");
                r.tags.items = calloc(1, sizeof(sm_tag));
                r.tags.items[0].key = sm_observed_strdup(SM_TAG_MANAGED_BY);
                r.tags.items[0].value = sm_observed_strdup("prod");
                r.tags.n = 1;
                ck_assert_int_eq(sm_observed_add_resource(o, &r), 0);
        }
        sm_observed_sort(o);
        ck_assert_uint_eq(o->resources_cap, 3);
        ck_assert_str_eq(o->resources[2].status, "InService");
        ck_assert_int_eq(sm_observed_add_resource(o,
                                                  &(sm_observed_resource){
                                                          .kind = SM_RESOURCE_SPACE,
                                                          .name = strdup("s9"),
                                                  }),
                         0);
        ck_assert_uint_eq(o->n_resources, 4);
        sm_observed_free(o);
}
END_TEST

START_TEST(test_domain_by_name_prefers_ours)
{
        sm_observed *o = sm_observed_new();
        const sm_observed_resource *d;

        add_res(o, SM_RESOURCE_DOMAIN, "d-1", "studio", NULL, NULL);
        add_res(o, SM_RESOURCE_DOMAIN, "d-2", "studio", NULL, NULL);
        o->resources[1].owner = SM_OWNER_US;
        sm_observed_sort(o);
        d = sm_observed_domain_by_name(o, "studio");
        ck_assert_ptr_nonnull(d);
        ck_assert_str_eq(d->domain_id, "d-2");
        ck_assert_ptr_null(sm_observed_domain_by_name(o, "other"));
        sm_observed_free(o);
}
END_TEST

START_TEST(test_json)
{
        sm_observed *o = sm_observed_new();
        json_t *j;
        char *s;

        o->account_id = strdup("111122223333");
        o->incomplete[SM_RESOURCE_SPACE] = true;
        o->roles_incomplete = true;
        add_role(o, "r");
        add_res(o, SM_RESOURCE_APP, "d-a", "default", "alice", NULL);
        sm_observed_sort(o);
        j = sm_observed_to_json(o);
        ck_assert_ptr_nonnull(j);
        s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        ck_assert_ptr_nonnull(strstr(s, "\"incomplete\":[\"role\",\"space\"]"));
        ck_assert_ptr_nonnull(strstr(s, "\"app_user_profile\":\"alice\""));
        ck_assert_ptr_nonnull(strstr(s, "\"inline_policies\":{\"smstudio-a\":"));
        ck_assert_ptr_nonnull(strstr(s, "\"tags\":null"));
        free(s);
        json_decref(j);
        sm_observed_free(o);
        ck_assert_ptr_null(sm_observed_free(NULL));
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("observed");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_kind_names);
        tcase_add_test(tc, test_ownership);
        tcase_add_test(tc, test_sort_and_find);
        tcase_add_test(tc, test_shared_strings_and_capacity);
        tcase_add_test(tc, test_domain_by_name_prefers_ours);
        tcase_add_test(tc, test_json);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
