/* SPDX-License-Identifier: Apache-2.0 */
/* The executor against the AWS emulator (statuses settle after
 * --async-delay-ms, so the waits are real) and, where the test must see
 * how many calls overlap or cut a run in the middle, against a scripted
 * loopback server whose log records the requests in flight. Plans are
 * built by hand: the executor must not care who made them. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "smstudio/apply.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/http.h"
#include "smstudio/macro.h"
#include "smstudio/settings.h"
#include "smstudio/strbuf.h"
#include "testmain.h"

#define ROLE_ARN "arn:aws:iam::123456789012:role/exec"
#define TRUST                                                                                      \
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"          \
        "{\"Service\":\"sagemaker.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"

static const char *const settle_in_service[] = {"InService", NULL};
static const char *const settle_deleted[] = {"Deleted", NULL};

typedef struct harness {
        uv_loop_t loop;
        sm_fixture emu;
        sm_test_aws aws;
} harness;

/* The emulator's admin API. */
static json_t *admin(harness *h, const char *method, const char *path, const char *body, long want)
{
        return sm_fixture_admin(&h->emu, method, path, body, want);
}

static json_t *oob(harness *h, const char *service, const char *operation, const char *params,
                   long want)
{
        char *path = sm_strf("/_emu/call/%s/%s", service, operation);
        json_t *v = admin(h, "POST", path, params, want);

        free(path);
        return v;
}

static long emu_calls(harness *h, const char *name)
{
        json_t *all = admin(h, "GET", "/_emu/calls", NULL, 200);
        long n = (long)json_integer_value(json_object_get(all, name));

        json_decref(all);
        return n;
}

static void emu_async_delay(harness *h, unsigned ms)
{
        char *body = sm_strf("{\"async_delay_ms\": %u}", ms);

        json_decref(admin(h, "POST", "/_emu/config", body, 200));
        free(body);
}

/* A SageMaker record of the emulator (table, key) stops settling and turns
 * Failed with reason, as AWS gives up on a resource. */
static void emu_fail(harness *h, const char *table, const char *key, const char *reason)
{
        char *value = sm_strf("\"value\": \"%s\"", reason);
        const char *const members[][2] = {
                {"_settles_at", "\"delete\": true"},
                {"FailureReason", value},
                {"Status", "\"value\": \"Failed\""},
        };

        for (size_t i = 0; i < ELEMENTSOF(members); i++) {
                char *patch = sm_strf("{\"service\": \"sagemaker\", \"path\": [\"%s\", "
                                      "\"%s\", \"%s\"], %s}",
                                      table, key, members[i][0], members[i][1]);

                json_decref(admin(h, "POST", "/_emu/patch", patch, 200));
                free(patch);
        }
        free(value);
}

/* ---- harness ----------------------------------------------------------- */

static char *const emu_args[] = {"--async-delay-ms", "300", NULL};

/* Against the emulator, or against a scripted fixture when script is set.
 * One attempt per call: the retries are the client's business, tested there. */
static void harness_start(harness *h, const char *script)
{
        ck_assert_int_eq(uv_loop_init(&h->loop), 0);
        if (script)
                ck_assert_int_eq(sm_fixture_start(script, NULL, NULL, &h->emu), 0);
        else
                ck_assert_int_eq(sm_test_start_awsemu(emu_args, &h->emu), 0);
        sm_test_aws_start(&h->loop, sm_fixture_url(&h->emu), 1, &h->aws);
}

static void harness_stop(harness *h)
{
        sm_test_aws_stop(&h->loop, &h->aws, 5000);
        ck_assert_int_eq(uv_loop_close(&h->loop), 0);
        sm_fixture_stop(&h->emu);
}

/* ---- plans by hand -------------------------------------------------------- */

static sm_plan *plan_new(size_t cap)
{
        sm_plan *p = calloc(1, sizeof(sm_plan));

        ck_assert_ptr_nonnull(p);
        p->actions = calloc(cap, sizeof(sm_action));
        ck_assert_ptr_nonnull(p->actions);
        return p;
}

/* Append an action; params taken over; deps a list ending in -1. */
static size_t add_j(sm_plan *p, const char *resource, sm_verb verb, sm_service_id service,
                    const char *operation, json_t *params, const int *deps)
{
        sm_action *a = &p->actions[p->n_actions];

        a->resource = strdup(resource);
        a->verb = verb;
        a->service = service;
        a->operation = strdup(operation);
        a->params = params;
        ck_assert_ptr_nonnull(a->params);
        for (size_t i = 0; deps && deps[i] >= 0; i++) {
                a->deps = realloc(a->deps, (a->n_deps + 1) * sizeof(size_t));
                a->deps[a->n_deps++] = (size_t)deps[i];
        }
        return p->n_actions++;
}

/* The same with params as JSON text. */
static size_t add(sm_plan *p, const char *resource, sm_verb verb, sm_service_id service,
                  const char *operation, const char *params, const int *deps)
{
        return add_j(p, resource, verb, service, operation, json_loads(params, 0, NULL), deps);
}

static json_t *create_role_params(const char *name)
{
        return json_pack("{s:s,s:s}", "RoleName", name, "AssumeRolePolicyDocument", TRUST);
}

static void settle_with(sm_plan *p, size_t i, const char *const *statuses, const char *op,
                        const char *params)
{
        p->actions[i].settle_statuses = statuses;
        p->actions[i].settle_operation = strdup(op);
        p->actions[i].settle_params = json_loads(params, 0, NULL);
        ck_assert_ptr_nonnull(p->actions[i].settle_params);
}

typedef struct outcome {
        bool done;
        unsigned calls; /* done must run exactly once */
        const sm_apply_report *report;
        uint64_t at_ms;
        uv_loop_t *loop;
} outcome;

static void on_done(const sm_apply_report *report, void *userdata)
{
        outcome *o = userdata;

        o->done = true;
        o->calls++;
        o->report = report;
        o->at_ms = uv_now(o->loop);
}

/* Start, assert done never runs inside the start, run to the end. */
static sm_apply *run_plan(harness *h, const sm_plan *p, const sm_apply_options *opts, outcome *o)
{
        sm_apply *a = NULL;

        *o = (outcome){.loop = &h->loop};
        ck_assert_int_eq(sm_apply_start(&h->loop, h->aws.client, p, opts, on_done, o, &a), 0);
        ck_assert(!o->done);
        ck_assert_int_eq(sm_test_run_until(&h->loop, &o->done, 30000), 0);
        ck_assert_uint_eq(o->calls, 1);
        ck_assert_uint_eq(o->report->n_results, p->n_actions);
        return a;
}

static sm_action_outcome outcome_of(const outcome *o, size_t i)
{
        return o->report->results[i].outcome;
}

static const sm_apply_options fast = {
        .concurrency = 4,
        .settle_timeout_ms = 10000,
        .mlflow_timeout_ms = 10000,
        .poll_initial_ms = 40,
        .poll_max_ms = 120,
};

static char *create_domain_params(const char *name)
{
        return sm_strf("{\"DomainName\": \"%s\", \"AuthMode\": \"IAM\", "
                       "\"DefaultUserSettings\": {\"ExecutionRole\": \"%s\"}, "
                       "\"SubnetIds\": [\"subnet-0a\"], \"VpcId\": \"vpc-0a\"}",
                       name, ROLE_ARN);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_role_chain)
{
        harness h;
        sm_plan *p = plan_new(4);
        const int after_create[] = {0, -1};
        outcome o;
        sm_apply *a;
        json_t *v;

        harness_start(&h, NULL);
        add_j(p, "role/r1", SM_VERB_CREATE, SM_SERVICE_IAM, "CreateRole", create_role_params("r1"),
              NULL);
        add(p, "role/r1", SM_VERB_CREATE, SM_SERVICE_IAM, "AttachRolePolicy",
            "{\"RoleName\": \"r1\", \"PolicyArn\": "
            "\"arn:aws:iam::aws:policy/AmazonSageMakerFullAccess\"}",
            after_create);
        add(p, "role/r1", SM_VERB_CREATE, SM_SERVICE_IAM, "PutRolePolicy",
            "{\"RoleName\": \"r1\", \"PolicyName\": \"inline\", \"PolicyDocument\": "
            "\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Effect\\\":"
            "\\\"Allow\\\",\\\"Action\\\":\\\"s3:GetObject\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}",
            after_create);
        a = run_plan(&h, p, &fast, &o);
        for (size_t i = 0; i < 3; i++) {
                ck_assert_int_eq(outcome_of(&o, i), SM_OUTCOME_APPLIED);
                ck_assert_uint_eq(o.report->results[i].attempts, 1);
                ck_assert_uint_eq(o.report->results[i].polls, 0);
        }
        ck_assert_uint_eq(o.report->applied, 3);
        v = oob(&h, "iam", "ListAttachedRolePolicies", "{\"RoleName\": \"r1\"}", 200);
        {
                char *text = json_dumps(v, 0);

                ck_assert_ptr_nonnull(strstr(text, "AmazonSageMakerFullAccess"));
                free(text);
        }
        json_decref(v);
        v = oob(&h, "iam", "GetRolePolicy", "{\"RoleName\": \"r1\", \"PolicyName\": \"inline\"}",
                200);
        json_decref(v);
        sm_apply_free(a);

        /* Again: the role exists, which counts as success, and its
         * dependents still run. */
        a = run_plan(&h, p, &fast, &o);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_ALREADY);
        ck_assert_str_eq(o.report->results[0].error.code, "EntityAlreadyExists");
        ck_assert_int_eq(outcome_of(&o, 1), SM_OUTCOME_APPLIED);
        ck_assert_int_eq(outcome_of(&o, 2), SM_OUTCOME_APPLIED);
        ck_assert_uint_eq(o.report->already, 1);
        sm_apply_free(a);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_create_domain_settles)
{
        harness h;
        sm_plan *p = plan_new(2);
        char *params = create_domain_params("settle");
        const int after_domain[] = {0, -1};
        const char *id;
        uint64_t t0;
        outcome o;
        sm_apply *a;
        json_t *list, *v;

        harness_start(&h, NULL);
        add(p, "domain/settle", SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateDomain", params, NULL);
        settle_with(p, 0, settle_in_service, "DescribeDomain", "{\"DomainId\": null}");
        /* Its child waits for the domain to be InService, as profiles do. */
        add_j(p, "role/after", SM_VERB_CREATE, SM_SERVICE_IAM, "CreateRole",
              create_role_params("after"), after_domain);
        uv_update_time(&h.loop);
        t0 = uv_now(&h.loop);
        a = run_plan(&h, p, &fast, &o);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_APPLIED);
        /* Pending for 300 ms: read several times, applied only after. */
        ck_assert_uint_ge(o.report->results[0].polls, 2);
        ck_assert_uint_ge(o.at_ms - t0, 300);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeDomain"),
                         (long)o.report->results[0].polls);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:CreateDomain"), 1);
        ck_assert_int_ne(outcome_of(&o, 1), SM_OUTCOME_SKIPPED);
        list = oob(&h, "sagemaker", "ListDomains", "{}", 200);
        v = json_array_get(json_object_get(list, "Domains"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(v, "Status")), "InService");
        id = json_string_value(json_object_get(v, "DomainId"));
        ck_assert_ptr_nonnull(id);
        json_decref(list);
        sm_apply_free(a);

        /* The same name again: ResourceInUse "already exists", no wait. */
        a = run_plan(&h, p, &fast, &o);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_ALREADY);
        ck_assert_str_eq(o.report->results[0].error.code, "ResourceInUse");
        ck_assert_uint_eq(o.report->results[0].polls, 0);
        sm_apply_free(a);
        free(params);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_settle_timeout)
{
        harness h;
        sm_plan *p = plan_new(1);
        char *params = create_domain_params("slow");
        sm_apply_options opts = fast;
        outcome o;
        sm_apply *a;

        harness_start(&h, NULL);
        emu_async_delay(&h, 5000);
        add(p, "domain/slow", SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateDomain", params, NULL);
        settle_with(p, 0, settle_in_service, "DescribeDomain", "{\"DomainId\": null}");
        opts.settle_timeout_ms = 200;
        opts.poll_initial_ms = 30;
        a = run_plan(&h, p, &opts, &o);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_TIMED_OUT);
        ck_assert_str_eq(o.report->results[0].error.code, "SettleTimeout");
        ck_assert_ptr_nonnull(strstr(o.report->results[0].error.message, "Pending"));
        ck_assert_uint_ge(o.report->results[0].polls, 2);
        ck_assert_uint_eq(o.report->timed_out, 1);
        sm_apply_free(a);
        free(params);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_failed_dep_skips_and_request_id)
{
        harness h;
        sm_plan *p = plan_new(4);
        const int dep0[] = {0, -1}, dep1[] = {1, -1};
        outcome o;
        sm_apply *a;

        harness_start(&h, NULL);
        /* No such role: FAILED, with what AWS said. */
        add(p, "role/ghost", SM_VERB_UPDATE, SM_SERVICE_IAM, "AttachRolePolicy",
            "{\"RoleName\": \"ghost\", \"PolicyArn\": "
            "\"arn:aws:iam::aws:policy/AmazonSageMakerFullAccess\"}",
            NULL);
        add(p, "role/ghost2", SM_VERB_UPDATE, SM_SERVICE_IAM, "TagRole",
            "{\"RoleName\": \"ghost2\", \"Tags\": [{\"Key\": \"a\", \"Value\": \"b\"}]}", dep0);
        add(p, "role/ghost3", SM_VERB_UPDATE, SM_SERVICE_IAM, "TagRole",
            "{\"RoleName\": \"ghost3\", \"Tags\": [{\"Key\": \"a\", \"Value\": \"b\"}]}", dep1);
        add_j(p, "role/free", SM_VERB_CREATE, SM_SERVICE_IAM, "CreateRole",
              create_role_params("free"), NULL);
        a = run_plan(&h, p, &fast, &o);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_FAILED);
        ck_assert_str_eq(o.report->results[0].error.code, "NoSuchEntity");
        ck_assert_ptr_nonnull(o.report->results[0].error.request_id);
        ck_assert_ptr_nonnull(o.report->results[0].error.message);
        ck_assert_int_eq(outcome_of(&o, 1), SM_OUTCOME_SKIPPED);
        ck_assert_int_eq(outcome_of(&o, 2), SM_OUTCOME_SKIPPED);
        ck_assert_uint_eq(o.report->results[1].attempts, 0);
        /* One resource's failure never stops the others. */
        ck_assert_int_eq(outcome_of(&o, 3), SM_OUTCOME_APPLIED);
        ck_assert_uint_eq(o.report->failed, 1);
        ck_assert_uint_eq(o.report->skipped, 2);
        ck_assert_int_eq(emu_calls(&h, "iam:TagRole"), 0);
        sm_apply_free(a);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_delete_settles_when_gone)
{
        harness h;
        sm_plan *p = plan_new(2);
        char *params = create_domain_params("del");
        char *del, *probe;
        json_t *out;
        outcome o;
        sm_apply *a;

        harness_start(&h, NULL);
        emu_async_delay(&h, 0);
        out = oob(&h, "sagemaker", "CreateDomain", params, 200);
        del = sm_strf("{\"DomainId\": \"%s\", \"UserProfileName\": \"bob\"}",
                      json_string_value(json_object_get(out, "DomainId")));
        probe = strdup(del);
        json_decref(oob(&h, "sagemaker", "CreateUserProfile", del, 200));
        emu_async_delay(&h, 300);
        add(p, "user-profile/del/bob", SM_VERB_DELETE, SM_SERVICE_SAGEMAKER, "DeleteUserProfile",
            del, NULL);
        settle_with(p, 0, settle_deleted, "DescribeUserProfile", probe);
        free(del);
        del = sm_strf("{\"DomainId\": \"%s\", \"UserProfileName\": \"nobody\"}",
                      json_string_value(json_object_get(out, "DomainId")));
        add(p, "user-profile/del/nobody", SM_VERB_DELETE, SM_SERVICE_SAGEMAKER, "DeleteUserProfile",
            del, NULL);
        settle_with(p, 1, settle_deleted, "DescribeUserProfile", del);
        a = run_plan(&h, p, &fast, &o);
        /* Deleting for 300 ms, then gone: ResourceNotFound is settled. */
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_APPLIED);
        ck_assert_uint_ge(o.report->results[0].polls, 2);
        json_decref(oob(&h, "sagemaker", "DescribeUserProfile", probe, 400));
        /* Already gone before we came: nothing to wait for. */
        ck_assert_int_eq(outcome_of(&o, 1), SM_OUTCOME_APPLIED);
        ck_assert_uint_eq(o.report->results[1].polls, 0);
        ck_assert_str_eq(o.report->results[1].error.code, "ResourceNotFound");
        sm_apply_free(a);
        json_decref(out);
        free(del);
        free(probe);
        free(params);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_settle_failed_status)
{
        harness h;
        sm_plan *p = plan_new(1);
        char *params = create_domain_params("broken");
        sm_apply_options opts = fast;
        json_t *list;
        const char *id;
        outcome o;
        sm_apply *a = NULL;

        harness_start(&h, NULL);
        emu_async_delay(&h, 3000);
        add(p, "domain/broken", SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateDomain", params, NULL);
        settle_with(p, 0, settle_in_service, "DescribeDomain", "{\"DomainId\": null}");
        opts.poll_initial_ms = 200;
        o = (outcome){.loop = &h.loop};
        ck_assert_int_eq(sm_apply_start(&h.loop, h.aws.client, p, &opts, on_done, &o, &a), 0);
        /* Once it is created, AWS gives up on it. */
        while (emu_calls(&h, "sagemaker:CreateDomain") == 0)
                uv_run(&h.loop, UV_RUN_ONCE);
        list = oob(&h, "sagemaker", "ListDomains", "{}", 200);
        id = json_string_value(
                json_object_get(json_array_get(json_object_get(list, "Domains"), 0), "DomainId"));
        emu_fail(&h, "domains", id, "no capacity");
        json_decref(list);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_FAILED);
        ck_assert_str_eq(o.report->results[0].failure_reason, "no capacity");
        ck_assert_str_eq(o.report->results[0].error.code, "Failed");
        sm_apply_free(a);
        free(params);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

/* A profile and a space in a domain made out of band (InService at once). */
static char *ready_domain(harness *h)
{
        char *params = create_domain_params("listed");
        json_t *out = oob(h, "sagemaker", "CreateDomain", params, 200);
        char *id = strdup(json_string_value(json_object_get(out, "DomainId")));

        json_decref(out);
        free(params);
        return id;
}

static size_t add_profile(sm_plan *p, const char *domain_id, const char *name)
{
        char *res = sm_strf("user-profile/listed/%s", name);
        char *params = sm_strf("{\"DomainId\": \"%s\", \"UserProfileName\": \"%s\", "
                               "\"UserSettings\": {\"ExecutionRole\": \"%s\"}}",
                               domain_id, name, ROLE_ARN);
        char *probe =
                sm_strf("{\"DomainId\": \"%s\", \"UserProfileName\": \"%s\"}", domain_id, name);
        size_t i = add(p, res, SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateUserProfile", params,
                       NULL);

        settle_with(p, i, settle_in_service, "DescribeUserProfile", probe);
        free(res);
        free(params);
        free(probe);
        return i;
}

/* Creates of profiles and spaces are seen settled in their domain's List,
 * a page for many, never with a Describe each; the entry that showed each
 * is in its result, with the ARN the create answered. */
START_TEST(test_creates_confirmed_by_list)
{
        static const int dep0[] = {0, -1};
        harness h;
        sm_plan *p = plan_new(4);
        char *id, *params, *probe;
        outcome o;
        sm_apply *a;

        harness_start(&h, NULL);
        emu_async_delay(&h, 0);
        id = ready_domain(&h);
        emu_async_delay(&h, 300);
        add_profile(p, id, "u1");
        add_profile(p, id, "u2");
        add_profile(p, id, "u3");
        params = sm_strf("{\"DomainId\": \"%s\", \"SpaceName\": \"u1-space\", "
                         "\"OwnershipSettings\": {\"OwnerUserProfileName\": \"u1\"}, "
                         "\"SpaceSharingSettings\": {\"SharingType\": \"Private\"}}",
                         id);
        probe = sm_strf("{\"DomainId\": \"%s\", \"SpaceName\": \"u1-space\"}", id);
        add(p, "space/listed/u1-space", SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateSpace", params,
            dep0);
        settle_with(p, 3, settle_in_service, "DescribeSpace", probe);
        a = run_plan(&h, p, &fast, &o);
        for (size_t i = 0; i < 4; i++) {
                const json_t *listed = o.report->results[i].listed;

                ck_assert_int_eq(outcome_of(&o, i), SM_OUTCOME_APPLIED);
                ck_assert_ptr_nonnull(listed);
                ck_assert_str_eq(json_string_value(json_object_get(listed, "Status")), "InService");
                ck_assert(json_is_number(json_object_get(listed, "LastModifiedTime")));
                ck_assert_ptr_nonnull(json_string_value(
                        json_object_get(listed, i < 3 ? "UserProfileArn" : "SpaceArn")));
                ck_assert_uint_ge(o.report->results[i].polls, 1);
        }
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeUserProfile"), 0);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeSpace"), 0);
        ck_assert_int_ge(emu_calls(&h, "sagemaker:ListUserProfiles"), 1);
        ck_assert_int_ge(emu_calls(&h, "sagemaker:ListSpaces"), 1);
        sm_apply_free(a);
        sm_plan_free(p);
        free(params);
        free(probe);
        free(id);
        harness_stop(&h);
}
END_TEST

/* A create the List shows Failed is read with its own Describe, which says
 * why. */
START_TEST(test_list_confirmed_create_failed)
{
        harness h;
        sm_plan *p = plan_new(1);
        sm_apply_options opts = fast;
        char *id, *key;
        outcome o = {0};
        sm_apply *a = NULL;

        harness_start(&h, NULL);
        emu_async_delay(&h, 0);
        id = ready_domain(&h);
        emu_async_delay(&h, 3000);
        add_profile(p, id, "broken");
        opts.poll_initial_ms = 200;
        o = (outcome){.loop = &h.loop};
        ck_assert_int_eq(sm_apply_start(&h.loop, h.aws.client, p, &opts, on_done, &o, &a), 0);
        while (emu_calls(&h, "sagemaker:CreateUserProfile") == 0)
                uv_run(&h.loop, UV_RUN_ONCE);
        key = sm_strf("%s/broken", id);
        emu_fail(&h, "user_profiles", key, "no EFS");
        free(key);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_FAILED);
        ck_assert_str_eq(o.report->results[0].failure_reason, "no EFS");
        ck_assert_ptr_null(o.report->results[0].listed);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeUserProfile"), 1);
        sm_apply_free(a);
        sm_plan_free(p);
        free(id);
        harness_stop(&h);
}
END_TEST

/* A create the List keeps showing Pending times out at its own deadline,
 * read again and again meanwhile, with backoff. */
START_TEST(test_list_confirmation_times_out)
{
        harness h;
        sm_plan *p = plan_new(1);
        sm_apply_options opts = fast;
        char *id;
        outcome o;
        sm_apply *a;
        long lists;

        harness_start(&h, NULL);
        emu_async_delay(&h, 0);
        id = ready_domain(&h);
        emu_async_delay(&h, 60000);
        add_profile(p, id, "slow");
        opts.settle_timeout_ms = 1000;
        a = run_plan(&h, p, &opts, &o);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_TIMED_OUT);
        ck_assert_str_eq(o.report->results[0].error.code, "SettleTimeout");
        ck_assert_ptr_null(o.report->results[0].listed);
        /* Polls every 40 to 120 ms for a second: more than one, not a storm. */
        lists = emu_calls(&h, "sagemaker:ListUserProfiles");
        ck_assert_int_ge(lists, 3);
        ck_assert_int_le(lists, 30);
        ck_assert_int_eq(emu_calls(&h, "sagemaker:DescribeUserProfile"), 0);
        sm_apply_free(a);
        sm_plan_free(p);
        free(id);
        harness_stop(&h);
}
END_TEST

/* A call still throttled after the client's own retries (one attempt here)
 * is sent again within the pass rather than left to the next round. */
START_TEST(test_throttled_call_sent_again)
{
        harness h;
        sm_plan *p = plan_new(1);
        outcome o;
        sm_apply *a;

        harness_start(&h, NULL);
        json_decref(admin(&h, "POST", "/_emu/faults",
                          "{\"operation\": \"iam:CreateRole\", \"kind\": \"throttle\", "
                          "\"count\": 2}",
                          200));
        add_j(p, "role/throttled", SM_VERB_CREATE, SM_SERVICE_IAM, "CreateRole",
              create_role_params("throttled"), NULL);
        a = run_plan(&h, p, &fast, &o);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_APPLIED);
        ck_assert_uint_eq(o.report->results[0].attempts, 3);
        ck_assert_int_eq(emu_calls(&h, "iam:CreateRole"), 3);
        sm_apply_free(a);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

/* ---- against a scripted server: overlap and interruption --------------------- */

#define SLOW_OK(ms)                                                                                \
        "[{\"path\": \"/*\", \"responses\": [{\"status\": 200, \"delay_ms\": " #ms                 \
        ", \"headers\": {\"Content-Type\": \"application/x-amz-json-1.1\", "                       \
        "\"x-amzn-RequestId\": \"req-1\"}, \"body\": \"{}\"}]}]"

static unsigned max_in_flight(harness *h)
{
        json_t *log = sm_fixture_requests(&h->emu), *r;
        unsigned max = 0;
        size_t i;

        ck_assert_ptr_nonnull(log);
        json_array_foreach(log, i, r)
        {
                unsigned n = (unsigned)json_integer_value(json_object_get(r, "in_flight"));

                if (n > max)
                        max = n;
        }
        json_decref(log);
        return max;
}

static void add_tags(sm_plan *p, const char *resource)
{
        add(p, resource, SM_VERB_TAG, SM_SERVICE_SAGEMAKER, "AddTags",
            "{\"ResourceArn\": \"arn:aws:sagemaker:us-east-1:123456789012:domain/d-x\", "
            "\"Tags\": [{\"Key\": \"a\", \"Value\": \"b\"}]}",
            NULL);
}

START_TEST(test_concurrency_bound)
{
        harness h;
        sm_plan *p = plan_new(6);
        sm_apply_options opts = fast;
        char name[32];
        outcome o;
        sm_apply *a;

        harness_start(&h, SLOW_OK(150));
        for (int i = 0; i < 6; i++) {
                snprintf(name, sizeof(name), "space/d/s%d", i);
                add_tags(p, name);
        }
        opts.concurrency = 2;
        a = run_plan(&h, p, &opts, &o);
        ck_assert_uint_eq(o.report->applied, 6);
        ck_assert_uint_eq(sm_fixture_count(&h.emu), 6);
        /* Bounded, and the bound is used. */
        ck_assert_uint_eq(max_in_flight(&h), 2);
        sm_apply_free(a);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_same_resource_serialized)
{
        harness h;
        sm_plan *p = plan_new(4);
        outcome o;
        sm_apply *a;

        harness_start(&h, SLOW_OK(100));
        add_tags(p, "domain/one");
        add_tags(p, "domain/one");
        add_tags(p, "domain/one");
        add_tags(p, "domain/two");
        a = run_plan(&h, p, &fast, &o);
        ck_assert_uint_eq(o.report->applied, 4);
        /* domain/two overlaps domain/one's calls; those never overlap. */
        ck_assert_uint_eq(max_in_flight(&h), 2);
        sm_apply_free(a);
        sm_plan_free(p);
        harness_stop(&h);

        /* Only one resource: strictly one at a time. */
        p = plan_new(3);
        harness_start(&h, SLOW_OK(100));
        add_tags(p, "domain/one");
        add_tags(p, "domain/one");
        add_tags(p, "domain/one");
        a = run_plan(&h, p, &fast, &o);
        ck_assert_uint_eq(o.report->applied, 3);
        ck_assert_uint_eq(max_in_flight(&h), 1);
        sm_apply_free(a);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_stop_mid_run)
{
        harness h;
        sm_plan *p = plan_new(4);
        sm_apply_options opts = fast;
        outcome o = {0};
        sm_apply *a = NULL;

        harness_start(&h, SLOW_OK(300));
        for (int i = 0; i < 4; i++)
                add_tags(p, i % 2 ? "space/d/a" : "space/d/b");
        opts.concurrency = 1;
        o.loop = &h.loop;
        ck_assert_int_eq(sm_apply_start(&h.loop, h.aws.client, p, &opts, on_done, &o, &a), 0);
        ck_assert_int_eq(sm_fixture_wait_requests(&h.emu, &h.loop, 1, 10000), 0);
        sm_apply_stop(a);
        ck_assert(!o.done); /* never inside stop */
        sm_apply_stop(a);   /* twice is harmless */
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_uint_eq(o.calls, 1);
        /* The call in flight finished and kept its result; nothing new went out. */
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_APPLIED);
        for (size_t i = 1; i < 4; i++)
                ck_assert_int_eq(outcome_of(&o, i), SM_OUTCOME_PENDING);
        ck_assert_uint_eq(sm_fixture_count(&h.emu), 1);
        sm_apply_free(a);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_stop_while_settling_and_free_mid_call)
{
        harness h;
        sm_plan *p = plan_new(2);
        char *params = create_domain_params("stopped");
        const int after_domain[] = {0, -1};
        outcome o = {0};
        sm_apply *a = NULL;

        /* Stopped while waiting: the wait ends at once, the action is
         * left PENDING for the next pass. */
        harness_start(&h, NULL);
        emu_async_delay(&h, 5000);
        add(p, "domain/stopped", SM_VERB_CREATE, SM_SERVICE_SAGEMAKER, "CreateDomain", params,
            NULL);
        settle_with(p, 0, settle_in_service, "DescribeDomain", "{\"DomainId\": null}");
        add_j(p, "role/child", SM_VERB_CREATE, SM_SERVICE_IAM, "CreateRole",
              create_role_params("child"), after_domain);
        o.loop = &h.loop;
        ck_assert_int_eq(sm_apply_start(&h.loop, h.aws.client, p, &fast, on_done, &o, &a), 0);
        while (emu_calls(&h, "sagemaker:DescribeDomain") == 0)
                uv_run(&h.loop, UV_RUN_ONCE);
        sm_apply_stop(a);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_int_eq(outcome_of(&o, 0), SM_OUTCOME_PENDING);
        ck_assert_uint_eq(o.report->results[0].attempts, 1);
        /* Its child never ran: not run, rather than skipped for a failure. */
        ck_assert_int_eq(outcome_of(&o, 1), SM_OUTCOME_PENDING);
        ck_assert_int_eq(emu_calls(&h, "iam:CreateRole"), 0);
        sm_apply_free(a);

        /* Freed with a call in flight: done never runs, nothing leaks. */
        o = (outcome){.loop = &h.loop};
        ck_assert_int_eq(sm_apply_start(&h.loop, h.aws.client, p, &fast, on_done, &o, &a), 0);
        while (emu_calls(&h, "sagemaker:CreateDomain") < 2)
                uv_run(&h.loop, UV_RUN_ONCE);
        sm_apply_free(a);
        /* Its answer arrives after the free and finds nothing to tell. */
        for (int i = 0; i < 20; i++)
                uv_run(&h.loop, UV_RUN_NOWAIT);
        ck_assert(!o.done);
        free(params);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

START_TEST(test_empty_plan_and_bad_input)
{
        harness h;
        sm_plan *p = plan_new(2);
        outcome o;
        sm_apply *a = NULL;

        harness_start(&h, SLOW_OK(0));
        a = run_plan(&h, p, NULL, &o);
        ck_assert_uint_eq(o.report->n_results, 0);
        sm_apply_free(a);
        ck_assert_ptr_null(sm_apply_free(NULL));
        sm_apply_stop(NULL);
        /* Deps must point backwards. */
        add_tags(p, "space/d/a");
        p->actions[0].deps = malloc(sizeof(size_t));
        p->actions[0].deps[0] = 0;
        p->actions[0].n_deps = 1;
        a = NULL;
        ck_assert_int_eq(sm_apply_start(&h.loop, h.aws.client, p, NULL, on_done, &o, &a), -EINVAL);
        ck_assert_ptr_null(a);
        sm_plan_free(p);
        harness_stop(&h);
}
END_TEST

/* ---- the error table, pure ----------------------------------------------------- */

static sm_action_outcome classify(sm_verb verb, sm_service_id svc, const char *op, const char *code,
                                  const char *message)
{
        sm_action act = {.verb = verb, .service = svc, .operation = (char *)op};
        sm_aws_error e = {.code = (char *)code, .message = (char *)message};

        return sm_apply_classify_error(&act, &e);
}

START_TEST(test_classify_error)
{
        const sm_service_id sm = SM_SERVICE_SAGEMAKER, iam = SM_SERVICE_IAM;

        ck_assert_int_eq(classify(SM_VERB_CREATE, iam, "CreateRole", "EntityAlreadyExists", NULL),
                         SM_OUTCOME_ALREADY);
        ck_assert_int_eq(classify(SM_VERB_CREATE, sm, "CreateUserProfile", "ResourceInUse",
                                  "User profile bob already exists in domain d-1."),
                         SM_OUTCOME_ALREADY);
        /* A busy parent is not a duplicate. */
        ck_assert_int_eq(classify(SM_VERB_CREATE, sm, "CreateUserProfile", "ResourceInUse",
                                  "Domain d-1 is in Pending status"),
                         SM_OUTCOME_BLOCKED);
        ck_assert_int_eq(classify(SM_VERB_UPDATE, sm, "UpdateDomain", "ResourceInUse", "busy"),
                         SM_OUTCOME_BLOCKED);
        ck_assert_int_eq(classify(SM_VERB_DELETE, sm, "DeleteUserProfile", "ResourceInUse", "x"),
                         SM_OUTCOME_BLOCKED);
        ck_assert_int_eq(classify(SM_VERB_UPDATE, sm, "UpdateMlflowTrackingServer",
                                  "ConflictException", "x"),
                         SM_OUTCOME_BLOCKED);
        ck_assert_int_eq(
                classify(SM_VERB_UPDATE, iam, "PutRolePolicy", "ConcurrentModification", "x"),
                SM_OUTCOME_BLOCKED);
        ck_assert_int_eq(classify(SM_VERB_CREATE, sm, "CreateDomain", "ValidationException",
                                  "The execution role ARN arn:aws:iam::1:role/x is invalid. "
                                  "Please ensure that the role exists and that its trust "
                                  "relationship policy allows the action 'sts:AssumeRole'"),
                         SM_OUTCOME_BLOCKED);
        ck_assert_int_eq(classify(SM_VERB_CREATE, sm, "CreateMlflowTrackingServer",
                                  "ValidationException", "Role cannot be assumed by SageMaker"),
                         SM_OUTCOME_BLOCKED);
        /* Other validation errors are the manifest's: terminal. */
        ck_assert_int_eq(classify(SM_VERB_CREATE, sm, "CreateDomain", "ValidationException",
                                  "1 validation error detected: DomainName"),
                         SM_OUTCOME_FAILED);
        ck_assert_int_eq(classify(SM_VERB_DELETE, sm, "DeleteApp", "ResourceNotFound", "x"),
                         SM_OUTCOME_APPLIED);
        ck_assert_int_eq(classify(SM_VERB_DELETE, sm, "DeleteSpace", "ResourceNotFound", "x"),
                         SM_OUTCOME_APPLIED);
        ck_assert_int_eq(classify(SM_VERB_DELETE, iam, "DetachRolePolicy", "NoSuchEntity", "x"),
                         SM_OUTCOME_APPLIED);
        /* A principal already disassociated from the projects portfolio. */
        ck_assert_int_eq(classify(SM_VERB_DELETE, SM_SERVICE_SERVICECATALOG,
                                  "DisassociatePrincipalFromPortfolio", "ResourceNotFoundException",
                                  "x"),
                         SM_OUTCOME_APPLIED);
        ck_assert_int_eq(classify(SM_VERB_DELETE, iam, "DeleteRolePolicy", "NoSuchEntity", "x"),
                         SM_OUTCOME_APPLIED);
        /* Not found on an update is a real failure. */
        ck_assert_int_eq(classify(SM_VERB_UPDATE, sm, "UpdateSpace", "ResourceNotFound", "x"),
                         SM_OUTCOME_FAILED);
        ck_assert_int_eq(classify(SM_VERB_UPDATE, iam, "AttachRolePolicy", "NoSuchEntity", "x"),
                         SM_OUTCOME_FAILED);
        ck_assert_int_eq(
                classify(SM_VERB_CREATE, sm, "CreateDomain", "AccessDeniedException", "no"),
                SM_OUTCOME_FAILED);
        ck_assert_int_eq(classify(SM_VERB_CREATE, sm, "CreateDomain", NULL, NULL),
                         SM_OUTCOME_FAILED);
        ck_assert_int_eq(sm_apply_classify_error(NULL, NULL), SM_OUTCOME_FAILED);
        ck_assert_str_eq(sm_action_outcome_to_string(SM_OUTCOME_TIMED_OUT), "timed-out");
        ck_assert_ptr_null(sm_action_outcome_to_string((sm_action_outcome)99));
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("apply");
        TCase *tc = tcase_create("apply");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_classify_error);
        tcase_add_test(tc, test_role_chain);
        tcase_add_test(tc, test_create_domain_settles);
        tcase_add_test(tc, test_settle_timeout);
        tcase_add_test(tc, test_failed_dep_skips_and_request_id);
        tcase_add_test(tc, test_delete_settles_when_gone);
        tcase_add_test(tc, test_settle_failed_status);
        tcase_add_test(tc, test_creates_confirmed_by_list);
        tcase_add_test(tc, test_list_confirmed_create_failed);
        tcase_add_test(tc, test_list_confirmation_times_out);
        tcase_add_test(tc, test_throttled_call_sent_again);
        tcase_add_test(tc, test_concurrency_bound);
        tcase_add_test(tc, test_same_resource_serialized);
        tcase_add_test(tc, test_stop_mid_run);
        tcase_add_test(tc, test_stop_while_settling_and_free_mid_call);
        tcase_add_test(tc, test_empty_plan_and_bad_input);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
