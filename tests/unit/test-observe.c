/* SPDX-License-Identifier: Apache-2.0 */
/* The observer against the AWS emulator: what it sees, what it costs (its
 * own stats and the emulator's call counters agree), the Describe cache,
 * paging, a failed List, and the cache file. Resources are made out of band
 * through the emulator's admin API, as a console user would. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/desired.h"
#include "smstudio/http.h"
#include "smstudio/macro.h"
#include "smstudio/observe.h"
#include "smstudio/roles.h"
#include "smstudio/settings.h"
#include "smstudio/strbuf.h"
#include "testmain.h"

#define INSTANCE "test-instance"
#define DOMAIN   "obs"
#define ROLE_ARN "arn:aws:iam::123456789012:role/exec"

typedef struct harness {
        uv_loop_t loop;
        sm_fixture emu;
        sm_test_aws aws;
        sm_desired *desired;
        sm_observe_cache *cache;
} harness;

/* The emulator's admin API. */
static json_t *admin(harness *h, const char *method, const char *path, const char *body, long want)
{
        return sm_fixture_admin(&h->emu, method, path, body, want);
}

static json_t *oob(harness *h, const char *service, const char *operation, const char *params)
{
        char *path = sm_strf("/_emu/call/%s/%s", service, operation);
        json_t *v = admin(h, "POST", path, params, 200);

        free(path);
        return v;
}

static void oob_void(harness *h, const char *service, const char *operation, const char *params)
{
        json_decref(oob(h, service, operation, params));
}

/* The emulator's count of signed calls to "svc:Operation". */
static long emu_calls(harness *h, const char *name)
{
        json_t *all = admin(h, "GET", "/_emu/calls", NULL, 200);
        long n = (long)json_integer_value(json_object_get(all, name));

        json_decref(all);
        return n;
}

/* Sum over the counters whose name starts with prefix ("sagemaker:Describe"). */
static long emu_calls_prefix(harness *h, const char *prefix)
{
        json_t *all = admin(h, "GET", "/_emu/calls", NULL, 200), *v;
        const char *key;
        long n = 0;

        json_object_foreach(all, key, v)
        {
                if (strncmp(key, prefix, strlen(prefix)) == 0)
                        n += (long)json_integer_value(v);
        }
        json_decref(all);
        return n;
}

static long emu_calls_total(harness *h)
{
        return emu_calls_prefix(h, "");
}

static void emu_calls_reset(harness *h)
{
        json_decref(admin(h, "POST", "/_emu/calls/reset", "{}", 200));
}

/* ---- harness ----------------------------------------------------------- */

static void add_domain(sm_desired *d, const char *name, bool projects)
{
        sm_domain dom = {0};

        ck_assert_int_eq(sm_desired_domain_init(&dom), 0);
        dom.name = strdup(name);
        dom.enable_custom_sagemaker_projects = projects;
        ck_assert_int_eq(sm_desired_add_domain(d, &dom), 0);
        sm_desired_sort(d);
}

/* Against the emulator, or against a scripted fixture when script is set. */
static void harness_start_with(harness *h, unsigned max_attempts, const char *script)
{
        ck_assert_int_eq(uv_loop_init(&h->loop), 0);
        if (script)
                ck_assert_int_eq(sm_fixture_start(script, NULL, NULL, &h->emu), 0);
        else
                ck_assert_int_eq(sm_test_start_awsemu(NULL, &h->emu), 0);
        sm_test_aws_start(&h->loop, sm_fixture_url(&h->emu), max_attempts, &h->aws);
        h->desired = sm_desired_new();
        ck_assert_ptr_nonnull(h->desired);
        h->cache = sm_observe_cache_new();
        ck_assert_ptr_nonnull(h->cache);
}

static void harness_start(harness *h, unsigned max_attempts)
{
        harness_start_with(h, max_attempts, NULL);
}

static void harness_stop(harness *h)
{
        sm_test_aws_stop(&h->loop, &h->aws, 5000);
        ck_assert_int_eq(uv_loop_close(&h->loop), 0);
        sm_desired_free(h->desired);
        sm_observe_cache_free(h->cache);
        sm_fixture_stop(&h->emu);
}

typedef struct result {
        bool done;
        unsigned calls; /* done must run exactly once */
        int r;
        sm_observed *o;
        sm_observe_stats stats;
} result;

static void on_observed(int r, sm_observed *o, const sm_observe_stats *stats, void *userdata)
{
        result *res = userdata;

        res->done = true;
        res->calls++;
        res->r = r;
        res->o = o;
        res->stats = *stats;
}

/* One observation to its end; the model is the caller's. */
static sm_observed *observe(harness *h, bool full_sweep, sm_observe_stats *ret_stats)
{
        sm_observe_options opts = {
                .desired = h->desired, .instance = INSTANCE, .full_sweep = full_sweep};
        result res = {0};

        ck_assert_int_eq(sm_observe_start(h->aws.client, h->cache, &opts, on_observed, &res), 0);
        ck_assert(!res.done); /* never from inside the start */
        ck_assert_int_eq(sm_test_run_until(&h->loop, &res.done, 60000), 0);
        ck_assert_uint_eq(res.calls, 1);
        ck_assert_int_eq(res.r, 0);
        ck_assert_ptr_nonnull(res.o);
        if (ret_stats)
                *ret_stats = res.stats;
        return res.o;
}

/* Done with a model: it becomes the cache, as the pass does. */
static void keep(harness *h, sm_observed *o)
{
        ck_assert_int_eq(sm_observe_cache_keep(h->cache, o), 0);
}

static unsigned total(const sm_observe_stats *s)
{
        return s->list_calls + s->describe_calls + s->other_calls;
}

static bool none_incomplete(const sm_observed *o)
{
        for (int k = 0; k < _SM_RESOURCE_KIND_MAX; k++)
                if (o->incomplete[k])
                        return false;
        return !o->roles_incomplete;
}

static char *domain_id_of(json_t *create_out)
{
        char *id = strdup(json_string_value(json_object_get(create_out, "DomainId")));

        json_decref(create_out);
        ck_assert_ptr_nonnull(id);
        return id;
}

static char *make_domain(harness *h, const char *name, bool ours)
{
        char *params = sm_strf("{\"DomainName\": \"%s\", \"AuthMode\": \"IAM\", "
                               "\"DefaultUserSettings\": {\"ExecutionRole\": \"%s\"}, "
                               "\"SubnetIds\": [\"subnet-0a\"], \"VpcId\": \"vpc-0a\"%s}",
                               name, ROLE_ARN,
                               ours ? ", \"Tags\": [{\"Key\": \"smstudio:managed-by\", "
                                      "\"Value\": \"" INSTANCE "\"}]"
                                    : "");
        char *id = domain_id_of(oob(h, "sagemaker", "CreateDomain", params));

        free(params);
        return id;
}

static const char *tags_ours = "[{\"Key\": \"smstudio:managed-by\", \"Value\": \"" INSTANCE "\"}]";

static void make_profile(harness *h, const char *domain_id, const char *name, bool ours)
{
        char *params = sm_strf("{\"DomainId\": \"%s\", \"UserProfileName\": \"%s\"%s%s}", domain_id,
                               name, ours ? ", \"Tags\": " : "", ours ? tags_ours : "");

        oob_void(h, "sagemaker", "CreateUserProfile", params);
        free(params);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_empty_account)
{
        harness h = {0};
        sm_observe_stats st;
        sm_observed *o;

        harness_start(&h, 0);
        add_domain(h.desired, DOMAIN, false);
        o = observe(&h, false, &st);
        ck_assert_uint_eq(o->n_resources, 0);
        ck_assert_uint_eq(o->n_roles, 0);
        ck_assert(none_incomplete(o));
        ck_assert_str_eq(o->account_id, "123456789012");
        ck_assert_str_eq(o->partition, "aws");
        ck_assert_str_eq(o->region, "us-east-1");
        /* ListDomains, ListMlflowTrackingServers, ListStudioLifecycleConfigs;
         * GetCallerIdentity and one GetRole per role kind (absent: not failed). */
        ck_assert_uint_eq(st.list_calls, 3);
        ck_assert_uint_eq(st.describe_calls, 0);
        ck_assert_uint_eq(st.other_calls, 1 + _SM_ROLE_KIND_MAX);
        ck_assert_uint_eq(st.failed_calls, 0);
        ck_assert_int_eq(emu_calls_total(&h), total(&st));
        ck_assert_int_eq(emu_calls(&h, "iam:GetRole"), _SM_ROLE_KIND_MAX);
        keep(&h, o);
        harness_stop(&h);
}
END_TEST

/* The estate of the scenario below: two domains (one desired), profiles,
 * spaces, an app, an MLflow server, a lifecycle config and two roles. */
static char *make_estate(harness *h)
{
        char *id, *other, *params, *ds_role = NULL, *exec_role = NULL;

        ck_assert_int_eq(sm_role_name(DOMAIN, SM_ROLE_DATA_SCIENTIST, &ds_role), 0);
        ck_assert_int_eq(sm_role_name(DOMAIN, SM_ROLE_EXECUTION, &exec_role), 0);
        params = sm_strf(
                "{\"RoleName\": \"%s\", \"Path\": \"/smstudio/\", \"AssumeRolePolicyDocument\": "
                "\"{\\\"Version\\\": \\\"2012-10-17\\\", \\\"Statement\\\": [{\\\"Effect\\\": "
                "\\\"Allow\\\", \\\"Principal\\\": {\\\"Service\\\": "
                "\\\"sagemaker.amazonaws.com\\\"}, \\\"Action\\\": \\\"sts:AssumeRole\\\"}]}\", "
                "\"PermissionsBoundary\": \"arn:aws:iam::123456789012:policy/boundary\", "
                "\"Tags\": %s}",
                ds_role, tags_ours);
        oob_void(h, "iam", "CreateRole", params);
        free(params);
        params = sm_strf("{\"RoleName\": \"%s\", \"AssumeRolePolicyDocument\": \"{}\"}", exec_role);
        oob_void(h, "iam", "CreateRole", params);
        free(params);
        params = sm_strf("{\"RoleName\": \"%s\", \"PolicyArn\": "
                         "\"arn:aws:iam::aws:policy/AmazonSageMakerFullAccess\"}",
                         ds_role);
        oob_void(h, "iam", "AttachRolePolicy", params);
        free(params);
        params = sm_strf("{\"RoleName\": \"%s\", \"PolicyArn\": "
                         "\"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess\"}",
                         ds_role);
        oob_void(h, "iam", "AttachRolePolicy", params);
        free(params);
        for (int i = 0; i < 2; i++) {
                params = sm_strf("{\"RoleName\": \"%s\", \"PolicyName\": \"smstudio-%c\", "
                                 "\"PolicyDocument\": \"{\\\"Version\\\": \\\"2012-10-17\\\", "
                                 "\\\"Statement\\\": [{\\\"Effect\\\": \\\"Deny\\\", "
                                 "\\\"Action\\\": \\\"s3:%s\\\", \\\"Resource\\\": \\\"*\\\"}]}\"}",
                                 ds_role, i == 0 ? 'b' : 'a', i == 0 ? "Get*" : "Put*");
                oob_void(h, "iam", "PutRolePolicy", params);
                free(params);
        }
        free(ds_role);
        free(exec_role);

        id = make_domain(h, DOMAIN, true);
        other = make_domain(h, "elsewhere", false);
        make_profile(h, id, "alice", true);
        make_profile(h, id, "bob", false);
        make_profile(h, other, "carol", false); /* not a desired domain: not listed */
        free(other);
        params = sm_strf("{\"DomainId\": \"%s\", \"SpaceName\": \"alice-JupyterLab-space\", "
                         "\"OwnershipSettings\": {\"OwnerUserProfileName\": \"alice\"}, "
                         "\"SpaceSharingSettings\": {\"SharingType\": \"Private\"}, "
                         "\"SpaceSettings\": {\"AppType\": \"JupyterLab\"}, \"Tags\": %s}",
                         id, tags_ours);
        oob_void(h, "sagemaker", "CreateSpace", params);
        free(params);
        params = sm_strf("{\"DomainId\": \"%s\", \"SpaceName\": \"team\"}", id);
        oob_void(h, "sagemaker", "CreateSpace", params);
        free(params);
        params = sm_strf("{\"DomainId\": \"%s\", \"SpaceName\": \"alice-JupyterLab-space\", "
                         "\"AppType\": \"JupyterLab\", \"AppName\": \"default\"}",
                         id);
        oob_void(h, "sagemaker", "CreateApp", params);
        free(params);
        params = sm_strf("{\"TrackingServerName\": \"mlflow\", \"ArtifactStoreUri\": "
                         "\"s3://bucket/mlflow\", \"RoleArn\": \"%s\", \"Tags\": %s}",
                         ROLE_ARN, tags_ours);
        oob_void(h, "sagemaker", "CreateMlflowTrackingServer", params);
        free(params);
        params = sm_strf("{\"StudioLifecycleConfigName\": \"idle\", "
                         "\"StudioLifecycleConfigContent\": \"ZWNobyBoaQo=\", "
                         "\"StudioLifecycleConfigAppType\": \"JupyterLab\", \"Tags\": %s}",
                         tags_ours);
        oob_void(h, "sagemaker", "CreateStudioLifecycleConfig", params);
        free(params);
        return id;
}

/* Describable resources of make_estate: 2 domains, 2 profiles, 2 spaces,
 * 1 app, 1 MLflow server. */
#define ESTATE_DESCRIBES 8
/* With tags read: those and the lifecycle config. */
#define ESTATE_TAGGED 9

static void check_estate(const sm_observed *o, const char *id)
{
        const sm_observed_resource *r, *first;
        const sm_observed_role *role;
        char *ds_role = NULL, *exec_role = NULL;
        const char *stmt_action;

        ck_assert(none_incomplete(o));
        ck_assert_uint_eq(o->n_resources, 9);

        r = sm_observed_domain_by_name(o, DOMAIN);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->domain_id, id);
        ck_assert_str_eq(r->status, "InService");
        ck_assert_int_eq(r->owner, SM_OWNER_US);
        ck_assert(r->last_modified > 0);
        ck_assert_ptr_nonnull(r->describe);
        ck_assert_str_eq(json_string_value(json_object_get(r->describe, "VpcId")), "vpc-0a");
        r = sm_observed_domain_by_name(o, "elsewhere");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->owner, SM_OWNER_NONE);
        ck_assert(r->tags_known);

        ck_assert_uint_eq(sm_observed_range(o, SM_RESOURCE_USER_PROFILE, NULL, &first), 2);
        r = sm_observed_find(o, SM_RESOURCE_USER_PROFILE, id, "alice");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->owner, SM_OWNER_US);
        ck_assert_str_eq(r->status, "InService");
        ck_assert_ptr_nonnull(r->arn);
        ck_assert_ptr_nonnull(strstr(r->arn, ":user-profile/"));
        ck_assert_ptr_nonnull(r->describe);
        r = sm_observed_find(o, SM_RESOURCE_USER_PROFILE, id, "bob");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->owner, SM_OWNER_NONE);
        ck_assert(r->tags_known);

        r = sm_observed_find(o, SM_RESOURCE_SPACE, id, "alice-JupyterLab-space");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->owner, SM_OWNER_US);
        ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(r->describe, "OwnershipSettings"),
                                                  "OwnerUserProfileName")),
                "alice");
        r = sm_observed_find(o, SM_RESOURCE_SPACE, id, "team");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->owner, SM_OWNER_NONE);

        r = sm_observed_find(o, SM_RESOURCE_APP, id, "default");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->app_space, "alice-JupyterLab-space");
        ck_assert_ptr_null(r->app_user_profile);
        ck_assert_str_eq(r->app_type, "JupyterLab");
        ck_assert_str_eq(r->status, "InService");
        ck_assert_ptr_nonnull(r->describe);
        ck_assert_ptr_nonnull(r->arn);

        r = sm_observed_find(o, SM_RESOURCE_MLFLOW, NULL, "mlflow");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->status, "Created");
        ck_assert_int_eq(r->owner, SM_OWNER_US);
        ck_assert_str_eq(json_string_value(json_object_get(r->describe, "ArtifactStoreUri")),
                         "s3://bucket/mlflow");
        r = sm_observed_find(o, SM_RESOURCE_LIFECYCLE_CONFIG, NULL, "idle");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->owner, SM_OWNER_US);
        ck_assert_ptr_null(r->describe);

        ck_assert_int_eq(sm_role_name(DOMAIN, SM_ROLE_DATA_SCIENTIST, &ds_role), 0);
        ck_assert_int_eq(sm_role_name(DOMAIN, SM_ROLE_EXECUTION, &exec_role), 0);
        ck_assert_uint_eq(o->n_roles, 2);
        role = sm_observed_role_find(o, ds_role);
        ck_assert_ptr_nonnull(role);
        ck_assert_int_eq(role->owner, SM_OWNER_US);
        ck_assert_str_eq(role->path, "/smstudio/");
        ck_assert_str_eq(role->permissions_boundary_arn,
                         "arn:aws:iam::123456789012:policy/boundary");
        ck_assert_str_eq(
                json_string_value(json_object_get(
                        json_object_get(
                                json_array_get(json_object_get(role->trust_policy, "Statement"), 0),
                                "Principal"),
                        "Service")),
                "sagemaker.amazonaws.com");
        ck_assert_uint_eq(role->n_managed, 2);
        ck_assert_str_eq(role->managed_policy_arns[0],
                         "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess");
        ck_assert_str_eq(role->managed_policy_arns[1],
                         "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess");
        ck_assert_ptr_null(role->managed_policy_arns[2]);
        ck_assert_uint_eq(role->n_inline, 2);
        ck_assert_str_eq(role->inline_policies[0].name, "smstudio-a");
        ck_assert_str_eq(role->inline_policies[1].name, "smstudio-b");
        stmt_action = json_string_value(json_object_get(
                json_array_get(json_object_get(role->inline_policies[0].document, "Statement"), 0),
                "Action"));
        ck_assert_str_eq(stmt_action, "s3:Put*");
        role = sm_observed_role_find(o, exec_role);
        ck_assert_ptr_nonnull(role);
        ck_assert_int_eq(role->owner, SM_OWNER_NONE);
        ck_assert_str_eq(role->path, "/");
        ck_assert_ptr_null(role->permissions_boundary_arn);
        ck_assert_uint_eq(role->n_managed, 0);
        ck_assert_ptr_nonnull(role->managed_policy_arns);
        ck_assert_uint_eq(role->n_inline, 0);
        free(ds_role);
        free(exec_role);
}

START_TEST(test_estate_and_cache)
{
        harness h = {0};
        sm_observe_stats st;
        sm_observed *o;
        char *id, *params;

        harness_start(&h, 0);
        add_domain(h.desired, DOMAIN, false);
        id = make_estate(&h);

        /* First pass: everything is new. */
        o = observe(&h, false, &st);
        check_estate(o, id);
        keep(&h, o);
        ck_assert_uint_eq(st.describe_calls, ESTATE_DESCRIBES);
        ck_assert_uint_eq(st.failed_calls, 0);
        ck_assert_int_eq(emu_calls_prefix(&h, "sagemaker:Describe"), ESTATE_DESCRIBES);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:ListTags"), ESTATE_TAGGED);
        ck_assert_int_eq(emu_calls_total(&h), total(&st));

        /* Second pass, same cache: Lists only, no Describe, no ListTags. */
        emu_calls_reset(&h);
        o = observe(&h, false, &st);
        check_estate(o, id);
        keep(&h, o);
        ck_assert_uint_eq(st.describe_calls, 0);
        ck_assert_int_eq(emu_calls_prefix(&h, "sagemaker:Describe"), 0);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:ListTags"), 0);
        /* ListDomains, 3 lists of the desired domain, MLflow, lifecycle configs. */
        ck_assert_uint_eq(st.list_calls, 6);
        ck_assert_int_eq(emu_calls_total(&h), total(&st));

        /* A change made in the console moves one LastModifiedTime. */
        params = sm_strf("{\"DomainId\": \"%s\", \"UserProfileName\": \"alice\", "
                         "\"UserSettings\": {\"ExecutionRole\": \"%s\"}}",
                         id, ROLE_ARN "2");
        oob_void(&h, "sagemaker", "UpdateUserProfile", params);
        free(params);
        emu_calls_reset(&h);
        o = observe(&h, false, &st);
        ck_assert_uint_eq(st.describe_calls, 1);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeUserProfile"), 1);
        ck_assert_int_eq(emu_calls_prefix(&h, "sagemaker:Describe"), 1);
        ck_assert_str_eq(
                json_string_value(json_object_get(
                        json_object_get(sm_observed_find(o, SM_RESOURCE_USER_PROFILE, id, "alice")
                                                ->describe,
                                        "UserSettings"),
                        "ExecutionRole")),
                ROLE_ARN "2");
        keep(&h, o);

        /* A full sweep describes (and re-reads the tags of) everything. */
        emu_calls_reset(&h);
        o = observe(&h, true, &st);
        check_estate(o, id);
        keep(&h, o);
        ck_assert_uint_eq(st.describe_calls, ESTATE_DESCRIBES);
        ck_assert_int_eq(emu_calls_prefix(&h, "sagemaker:Describe"), ESTATE_DESCRIBES);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:ListTags"), ESTATE_TAGGED);
        ck_assert_int_eq(emu_calls_total(&h), total(&st));

        free(id);
        harness_stop(&h);
}
END_TEST

START_TEST(test_pagination)
{
        harness h = {0};
        sm_observe_stats st;
        sm_observed *o;
        const sm_observed_resource *first;
        char *id;

        harness_start(&h, 0);
        add_domain(h.desired, DOMAIN, false);
        id = make_domain(&h, DOMAIN, true);
        for (int i = 0; i < 150; i++) {
                char name[16];

                snprintf(name, sizeof(name), "user-%03d", i);
                make_profile(&h, id, name, i % 2 == 0);
        }
        o = observe(&h, false, &st);
        ck_assert(none_incomplete(o));
        ck_assert_uint_eq(sm_observed_range(o, SM_RESOURCE_USER_PROFILE, id, &first), 150);
        ck_assert_str_eq(first[0].name, "user-000");
        ck_assert_int_eq(first[0].owner, SM_OWNER_US);
        ck_assert_str_eq(first[149].name, "user-149");
        ck_assert_int_eq(first[149].owner, SM_OWNER_NONE);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:ListUserProfiles"), 2);
        ck_assert_uint_eq(st.describe_calls, 151);
        keep(&h, o);

        /* Steady state: two pages of profiles and a constant, whatever N. */
        emu_calls_reset(&h);
        o = observe(&h, false, &st);
        ck_assert_uint_eq(sm_observed_range(o, SM_RESOURCE_USER_PROFILE, id, &first), 150);
        keep(&h, o);
        ck_assert_uint_eq(st.describe_calls, 0);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:ListUserProfiles"), 2);
        ck_assert_uint_eq(st.list_calls, 7);
        ck_assert_uint_eq(total(&st), 7 + 1 + _SM_ROLE_KIND_MAX);
        ck_assert_int_eq(emu_calls_total(&h), total(&st));
        free(id);
        harness_stop(&h);
}
END_TEST

START_TEST(test_failed_list)
{
        harness h = {0};
        sm_observe_stats st;
        sm_observed *o;
        char *id, *params;

        harness_start(&h, 1);
        add_domain(h.desired, DOMAIN, false);
        id = make_domain(&h, DOMAIN, true);
        make_profile(&h, id, "alice", true);
        params = sm_strf("{\"DomainId\": \"%s\", \"SpaceName\": \"team\"}", id);
        oob_void(&h, "sagemaker", "CreateSpace", params);
        free(params);
        o = observe(&h, false, &st);
        ck_assert(none_incomplete(o));
        ck_assert_ptr_nonnull(sm_observed_find(o, SM_RESOURCE_SPACE, id, "team"));
        keep(&h, o);

        json_decref(admin(&h, "POST", "/_emu/faults",
                          "{\"operation\": \"sagemaker:ListSpaces\", \"kind\": \"error5xx\", "
                          "\"status\": 500}",
                          200));
        o = observe(&h, false, &st);
        ck_assert(o->incomplete[SM_RESOURCE_SPACE]);
        for (int k = 0; k < _SM_RESOURCE_KIND_MAX; k++)
                if (k != SM_RESOURCE_SPACE)
                        ck_assert(!o->incomplete[k]);
        ck_assert(!o->roles_incomplete);
        ck_assert_uint_eq(st.failed_calls, 1);
        ck_assert_ptr_nonnull(sm_observed_find(o, SM_RESOURCE_USER_PROFILE, id, "alice"));
        ck_assert_ptr_nonnull(sm_observed_domain_by_name(o, DOMAIN));
        ck_assert_ptr_null(sm_observed_find(o, SM_RESOURCE_SPACE, id, "team"));
        ck_assert_uint_eq(st.describe_calls, 0);
        keep(&h, o);

        /* Not listing the space proved nothing: its cache entry was kept. */
        json_decref(admin(&h, "DELETE", "/_emu/faults", NULL, 200));
        o = observe(&h, false, &st);
        ck_assert(none_incomplete(o));
        ck_assert_ptr_nonnull(sm_observed_find(o, SM_RESOURCE_SPACE, id, "team"));
        ck_assert_uint_eq(st.describe_calls, 0);
        ck_assert_uint_eq(st.failed_calls, 0);
        keep(&h, o);
        free(id);
        harness_stop(&h);
}
END_TEST

/* Whether the cache file has a line for that resource. */
static bool file_has(const char *path, const char *kind, const char *name)
{
        char *line = NULL;
        size_t size = 0;
        bool found = false;
        FILE *f = fopen(path, "re");

        ck_assert_ptr_nonnull(f);
        while (!found && getline(&line, &size, f) >= 0) {
                json_t *v = json_loads(line, 0, NULL);

                ck_assert_ptr_nonnull(v);
                found = json_is_string(json_object_get(v, "kind")) &&
                        strcmp(json_string_value(json_object_get(v, "kind")), kind) == 0 &&
                        json_is_string(json_object_get(v, "name")) &&
                        strcmp(json_string_value(json_object_get(v, "name")), name) == 0;
                json_decref(v);
        }
        free(line);
        fclose(f);
        return found;
}

START_TEST(test_cache_file)
{
        harness h = {0};
        sm_observe_stats st;
        sm_observed *o;
        sm_observe_cache *loaded;
        char *dir = sm_test_tmpdir();
        char *path = sm_strf("%s/observed-cache.json", dir);
        char *garbage = sm_strf("%s/garbage.json", dir);
        char *id;
        FILE *f;

        harness_start(&h, 0);
        add_domain(h.desired, DOMAIN, false);
        id = make_estate(&h);
        o = observe(&h, false, &st);
        keep(&h, o);
        ck_assert_int_eq(sm_observe_cache_save(h.cache, path), 0);

        /* A missing file is an empty cache; a broken one is refused. */
        loaded = sm_observe_cache_new();
        ck_assert_int_eq(sm_observe_cache_load(loaded, garbage), 0);
        f = fopen(garbage, "w");
        ck_assert_ptr_nonnull(f);
        fputs("{\"version\":2}\n{\"kind\": \"space\", \"name\": ", f);
        fclose(f);
        ck_assert_int_eq(sm_observe_cache_load(loaded, garbage), -EBADMSG);
        ck_assert_int_eq(sm_observe_cache_load(loaded, path), 0);

        /* The loaded cache spares every Describe, as the one in memory did. */
        sm_observe_cache_free(h.cache);
        h.cache = loaded;
        emu_calls_reset(&h);
        o = observe(&h, false, &st);
        check_estate(o, id);
        keep(&h, o);
        ck_assert_uint_eq(st.describe_calls, 0);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:ListTags"), 0);

        /* A resource gone from AWS leaves the cache at the next pass. */
        ck_assert_int_eq(sm_observe_cache_save(h.cache, path), 0);
        {
                char *params = sm_strf("{\"DomainId\": \"%s\", \"SpaceName\": \"team\"}", id);

                oob_void(&h, "sagemaker", "DeleteSpace", params);
                free(params);
        }
        o = observe(&h, false, &st);
        ck_assert_ptr_null(sm_observed_find(o, SM_RESOURCE_SPACE, id, "team"));
        keep(&h, o);
        ck_assert_int_eq(sm_observe_cache_save(h.cache, path), 0);
        ck_assert(!file_has(path, "space", "team"));
        ck_assert(file_has(path, "space", "alice-JupyterLab-space"));

        free(id);
        harness_stop(&h);
        sm_test_rm_rf(dir);
        free(dir);
        free(path);
        free(garbage);
}
END_TEST

/* A cache file of another version (the first one kept everything in one
 * JSON object) is ignored whole, without being parsed: the observation
 * then describes everything. */
START_TEST(test_cache_file_old_version)
{
        harness h = {0};
        sm_observe_stats st;
        sm_observed *o;
        char *dir = sm_test_tmpdir();
        char *path = sm_strf("%s/observed-cache.json", dir);
        char *id;
        FILE *f;

        harness_start(&h, 0);
        add_domain(h.desired, DOMAIN, false);
        id = make_domain(&h, DOMAIN, true);
        make_profile(&h, id, "alice", true);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("{\"version\":1,\"entries\":{\"user-profile:x/alice\":{\"kind\":"
              "\"user-profile\",\"last_modified\":1,\"describe\":{\"UserSettings\":{}}}}}",
              f);
        fclose(f);
        ck_assert_int_eq(sm_observe_cache_load(h.cache, path), -EPROTONOSUPPORT);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("{\"version\":3}\n", f);
        fclose(f);
        ck_assert_int_eq(sm_observe_cache_load(h.cache, path), -EPROTONOSUPPORT);
        o = observe(&h, false, &st);
        ck_assert_ptr_nonnull(sm_observed_find(o, SM_RESOURCE_USER_PROFILE, id, "alice"));
        keep(&h, o);
        /* The domain and the profile. */
        ck_assert_uint_eq(st.describe_calls, 2);
        free(id);
        harness_stop(&h);
        sm_test_rm_rf(dir);
        free(dir);
        free(path);
}
END_TEST

/* A create the executor saw settled in a List seeds the cache with its
 * request: the next observation neither describes it nor reads its tags;
 * a full sweep replaces the seed with what Describe says. */
START_TEST(test_seeded_create)
{
        harness h = {0};
        sm_observe_stats st;
        sm_observed *o;
        const sm_observed_resource *r;
        json_t *req, *out, *list, *entry;
        char *id, *text;

        harness_start(&h, 0);
        add_domain(h.desired, DOMAIN, false);
        id = make_domain(&h, DOMAIN, true);
        text = sm_strf("{\"DomainId\": \"%s\", \"UserProfileName\": \"carol\", "
                       "\"UserSettings\": {\"ExecutionRole\": \"%s\"}, \"Tags\": %s}",
                       id, ROLE_ARN, tags_ours);
        req = json_loads(text, 0, NULL);
        ck_assert_ptr_nonnull(req);
        out = oob(&h, "sagemaker", "CreateUserProfile", text);
        free(text);
        text = sm_strf("{\"DomainIdEquals\": \"%s\"}", id);
        list = oob(&h, "sagemaker", "ListUserProfiles", text);
        free(text);
        entry = json_deep_copy(json_array_get(json_object_get(list, "UserProfiles"), 0));
        ck_assert_ptr_nonnull(entry);
        ck_assert_str_eq(json_string_value(json_object_get(entry, "Status")), "InService");
        json_object_set(entry, "UserProfileArn", json_object_get(out, "UserProfileArn"));
        ck_assert_int_eq(sm_observe_cache_seed(h.cache, "CreateDomain", req, entry), -EINVAL);
        ck_assert_int_eq(sm_observe_cache_seed(h.cache, "CreateUserProfile", req, entry), 0);

        emu_calls_reset(&h);
        o = observe(&h, false, &st);
        r = sm_observed_find(o, SM_RESOURCE_USER_PROFILE, id, "carol");
        ck_assert_ptr_nonnull(r);
        ck_assert(r->tags_known);
        ck_assert_int_eq(r->owner, SM_OWNER_US);
        ck_assert_str_eq(r->arn, json_string_value(json_object_get(out, "UserProfileArn")));
        ck_assert_str_eq(json_string_value(json_object_get(
                                 json_object_get(r->describe, "UserSettings"), "ExecutionRole")),
                         ROLE_ARN);
        keep(&h, o);
        /* Only the domain, which nothing seeded. */
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeUserProfile"), 0);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeDomain"), 1);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:ListTags"), 1);

        /* The full sweep asks AWS, and from then on the cache has its answer. */
        emu_calls_reset(&h);
        o = observe(&h, true, &st);
        keep(&h, o);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeUserProfile"), 1);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:ListTags"), 2);
        emu_calls_reset(&h);
        o = observe(&h, false, &st);
        ck_assert_ptr_nonnull(sm_observed_find(o, SM_RESOURCE_USER_PROFILE, id, "carol"));
        keep(&h, o);
        ck_assert_uint_eq(st.describe_calls, 0);

        json_decref(req);
        json_decref(out);
        json_decref(list);
        json_decref(entry);
        free(id);
        harness_stop(&h);
}
END_TEST

START_TEST(test_portfolio)
{
        harness h = {0};
        sm_observe_stats st;
        sm_observed *o;
        json_t *shares;
        const char *pid;
        char *params;

        harness_start(&h, 0);
        add_domain(h.desired, DOMAIN, true);

        /* Not enabled yet: known status, no share. */
        o = observe(&h, false, &st);
        ck_assert(o->portfolio.status_known);
        ck_assert(!o->portfolio.enabled);
        ck_assert_ptr_null(o->portfolio.portfolio_id);
        ck_assert_uint_eq(o->portfolio.n_principals, 0);
        keep(&h, o);

        oob_void(&h, "sagemaker", "EnableSagemakerServicecatalogPortfolio", "{}");
        shares = oob(&h, "servicecatalog", "ListAcceptedPortfolioShares", "{}");
        pid = json_string_value(json_object_get(
                json_array_get(json_object_get(shares, "PortfolioDetails"), 0), "Id"));
        ck_assert_ptr_nonnull(pid);
        params = sm_strf("{\"PortfolioId\": \"%s\", \"PrincipalARN\": \"%s\", "
                         "\"PrincipalType\": \"IAM\"}",
                         pid, ROLE_ARN);
        oob_void(&h, "servicecatalog", "AssociatePrincipalWithPortfolio", params);
        free(params);
        o = observe(&h, false, &st);
        ck_assert(o->portfolio.status_known);
        ck_assert(o->portfolio.enabled);
        ck_assert_str_eq(o->portfolio.portfolio_id, pid);
        ck_assert_uint_eq(o->portfolio.n_principals, 1);
        ck_assert_str_eq(o->portfolio.principal_arns[0], ROLE_ARN);
        ck_assert_int_eq(emu_calls(&h, "servicecatalog:ListPrincipalsForPortfolio"), 1);
        keep(&h, o);
        json_decref(shares);
        harness_stop(&h);
}
END_TEST

/* The observer's own bound on calls in flight, seen from the server: every
 * answer is slow, so all the calls it may send at once are there together. */
START_TEST(test_bounded_concurrency)
{
        static const char *const names[] = {"d1", "d2", "d3", "d4"};
        harness h = {0};
        sm_observe_options opts = {.instance = INSTANCE, .max_in_flight = 3};
        result res = {0};
        json_t *reqs, *req;
        json_int_t max_in_flight = 0;
        size_t i;

        harness_start_with(&h, 1,
                           "[{\"path\": \"/\", \"responses\": [{\"status\": 200, "
                           "\"headers\": {\"Content-Type\": \"application/x-amz-json-1.1\"}, "
                           "\"body\": \"{}\", \"delay_ms\": 100}]}]");
        for (i = 0; i < ELEMENTSOF(names); i++)
                add_domain(h.desired, names[i], false);
        opts.desired = h.desired;
        ck_assert_int_eq(sm_observe_start(h.aws.client, h.cache, &opts, on_observed, &res), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &res.done, 60000), 0);
        ck_assert_int_eq(res.r, 0);
        /* STS, 3 Lists, one GetRole per kind and domain; IAM's and STS's
         * answers are not XML here, so the roles are incomplete. */
        ck_assert_uint_eq(total(&res.stats), 1 + 3 + ELEMENTSOF(names) * _SM_ROLE_KIND_MAX);
        ck_assert(res.o->roles_incomplete);
        ck_assert_ptr_null(res.o->account_id);
        reqs = sm_fixture_requests(&h.emu);
        ck_assert_ptr_nonnull(reqs);
        ck_assert_uint_eq(json_array_size(reqs), total(&res.stats));
        json_array_foreach(reqs, i, req)
        {
                json_int_t n = json_integer_value(json_object_get(req, "in_flight"));

                if (n > max_in_flight)
                        max_in_flight = n;
        }
        json_decref(reqs);
        ck_assert_int_le(max_in_flight, 3);
        ck_assert_int_ge(max_in_flight, 2);
        sm_observed_free(res.o);
        harness_stop(&h);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("observe");
        TCase *tc = tcase_create("emulator");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_empty_account);
        tcase_add_test(tc, test_estate_and_cache);
        tcase_add_test(tc, test_pagination);
        tcase_add_test(tc, test_failed_list);
        tcase_add_test(tc, test_cache_file);
        tcase_add_test(tc, test_cache_file_old_version);
        tcase_add_test(tc, test_seeded_create);
        tcase_add_test(tc, test_portfolio);
        tcase_add_test(tc, test_bounded_concurrency);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
