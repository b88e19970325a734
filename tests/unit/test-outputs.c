/* SPDX-License-Identifier: Apache-2.0 */
/* The outputs reads against the AWS emulator (resources made out of band
 * through its admin API) and a scripted fixture: every value read back,
 * what is missing in dependency order, the first failure only, done once
 * and never inside the start, an abandoned read. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/desired.h"
#include "smstudio/http.h"
#include "smstudio/macro.h"
#include "smstudio/outputs.h"
#include "smstudio/roles.h"
#include "smstudio/settings.h"
#include "smstudio/strbuf.h"
#include "testmain.h"

#define DOMAIN "outs"

typedef struct harness {
        uv_loop_t loop;
        sm_fixture emu;
        sm_test_aws aws;
        sm_domain domain;
} harness;

/* The emulator, or a scripted fixture when script is set; a client on it
 * that does not retry (a scripted failure is final at once). */
static void harness_start(harness *h, const char *script)
{
        ck_assert_int_eq(uv_loop_init(&h->loop), 0);
        if (script)
                ck_assert_int_eq(sm_fixture_start(script, NULL, NULL, &h->emu), 0);
        else
                ck_assert_int_eq(sm_test_start_awsemu(NULL, &h->emu), 0);
        sm_test_aws_start(&h->loop, sm_fixture_url(&h->emu), 1, &h->aws);
        ck_assert_int_eq(sm_desired_domain_init(&h->domain), 0);
        free(h->domain.name);
        h->domain.name = strdup(DOMAIN);
        h->domain.mlflow_enabled = true;
        free(h->domain.mlflow_server_name);
        h->domain.mlflow_server_name = strdup("tracking");
        ck_assert_ptr_nonnull(h->domain.mlflow_server_name);
}

static void harness_stop(harness *h)
{
        sm_test_aws_stop(&h->loop, &h->aws, 5000);
        ck_assert_int_eq(uv_loop_close(&h->loop), 0);
        sm_desired_domain_done(&h->domain);
        sm_fixture_stop(&h->emu);
}

/* What done saw, copied out of the borrowed result. */
typedef struct seen {
        bool done;
        unsigned calls;
        char *values[_SM_OUTPUT_MAX];
        char *missing[8];
        size_t n_missing;
        char *error_code, *request_id, *operation;
        sm_service_id service;
} seen;

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

static void on_done(const sm_outputs_result *res, void *userdata)
{
        seen *s = userdata;

        s->done = true;
        s->calls++;
        for (size_t i = 0; i < _SM_OUTPUT_MAX; i++)
                s->values[i] = dup_or_null(res->values[i]);
        ck_assert_uint_le(res->n_missing, ELEMENTSOF(s->missing));
        for (size_t i = 0; i < res->n_missing; i++)
                s->missing[i] = strdup(res->missing[i]);
        s->n_missing = res->n_missing;
        s->error_code = dup_or_null(res->error_code);
        if (res->aws_error) {
                s->request_id = dup_or_null(res->aws_error->request_id);
                s->operation = dup_or_null(res->aws_operation);
                s->service = res->aws_service;
        }
}

static void seen_done(seen *s)
{
        for (size_t i = 0; i < _SM_OUTPUT_MAX; i++)
                free(s->values[i]);
        for (size_t i = 0; i < s->n_missing; i++)
                free(s->missing[i]);
        free(s->error_code);
        free(s->request_id);
        free(s->operation);
}

/* Start a read and run the loop until it reports. */
static void read_outputs(harness *h, seen *s)
{
        ck_assert_int_eq(sm_outputs_read_start(h->aws.client, &h->domain, on_done, s, NULL), 0);
        /* Never from inside the start. */
        ck_assert_uint_eq(s->calls, 0);
        ck_assert_int_eq(sm_test_run_until(&h->loop, &s->done, 10000), 0);
}

static json_t *oob(harness *h, const char *service, const char *operation, const char *params)
{
        char *path = sm_strf("/_emu/call/%s/%s", service, operation);
        json_t *v = sm_fixture_admin(&h->emu, "POST", path, params, 200);

        free(path);
        return v;
}

START_TEST(test_missing_in_dependency_order)
{
        static const sm_role_kind kinds[] = {SM_ROLE_DATA_SCIENTIST, SM_ROLE_LEAD_DATA_SCIENTIST,
                                             SM_ROLE_EXECUTION};
        harness h = {0};
        seen s = {0};

        harness_start(&h, NULL);
        read_outputs(&h, &s);
        ck_assert_uint_eq(s.calls, 1);
        ck_assert_ptr_null(s.error_code);
        ck_assert_uint_eq(s.n_missing, 5);
        ck_assert_str_eq(s.missing[0], "domain " DOMAIN);
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                char *role = NULL, *want;

                ck_assert_int_eq(sm_role_name(DOMAIN, kinds[i], &role), 0);
                want = sm_strf("IAM role %s", role);
                ck_assert_str_eq(s.missing[1 + i], want);
                free(want);
                free(role);
        }
        ck_assert_str_eq(s.missing[4], "MLflow tracking server tracking");
        /* Read, not guessed: only the manifest's own values are there. */
        ck_assert_str_eq(s.values[SM_OUTPUT_DOMAIN_NAME], DOMAIN);
        ck_assert_ptr_null(s.values[SM_OUTPUT_DOMAIN_ID]);
        ck_assert_ptr_null(s.values[SM_OUTPUT_EXECUTION_ROLE]);
        seen_done(&s);
        harness_stop(&h);
}
END_TEST

START_TEST(test_values_are_read_back)
{
        static const sm_role_kind kinds[] = {SM_ROLE_DATA_SCIENTIST, SM_ROLE_LEAD_DATA_SCIENTIST,
                                             SM_ROLE_EXECUTION};
        static const sm_output_key keys[] = {SM_OUTPUT_DATA_SCIENTIST_ROLE, SM_OUTPUT_LEAD_ROLE,
                                             SM_OUTPUT_EXECUTION_ROLE};
        harness h = {0};
        seen s = {0};
        json_t *created, *described, *server;
        char *arns[3] = {0};
        char *params, *id;

        harness_start(&h, NULL);
        h.domain.studio_bucket_name = strdup("studio-bucket");
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                char *name = NULL;

                ck_assert_int_eq(sm_role_name(DOMAIN, kinds[i], &name), 0);
                params = sm_strf("{\"RoleName\": \"%s\", \"AssumeRolePolicyDocument\": \"{}\"}",
                                 name);
                created = oob(&h, "iam", "CreateRole", params);
                arns[i] = strdup(json_string_value(
                        json_object_get(json_object_get(created, "Role"), "Arn")));
                json_decref(created);
                free(params);
                free(name);
        }
        params = sm_strf("{\"DomainName\": \"%s\", \"AuthMode\": \"IAM\", "
                         "\"DefaultUserSettings\": {\"ExecutionRole\": \"%s\"}, "
                         "\"SubnetIds\": [\"subnet-0a\"], \"VpcId\": \"vpc-0a\"}",
                         DOMAIN, arns[2]);
        created = oob(&h, "sagemaker", "CreateDomain", params);
        free(params);
        id = strdup(json_string_value(json_object_get(created, "DomainId")));
        json_decref(created);
        params = sm_strf("{\"DomainId\": \"%s\"}", id);
        described = oob(&h, "sagemaker", "DescribeDomain", params);
        free(params);
        params = sm_strf("{\"TrackingServerName\": \"tracking\", \"ArtifactStoreUri\": "
                         "\"s3://bucket/mlflow\", \"RoleArn\": \"%s\"}",
                         arns[2]);
        server = oob(&h, "sagemaker", "CreateMlflowTrackingServer", params);
        free(params);

        read_outputs(&h, &s);
        ck_assert_ptr_null(s.error_code);
        ck_assert_uint_eq(s.n_missing, 0);
        ck_assert_str_eq(s.values[SM_OUTPUT_DOMAIN_NAME], DOMAIN);
        ck_assert_str_eq(s.values[SM_OUTPUT_DOMAIN_ID], id);
        ck_assert_str_eq(s.values[SM_OUTPUT_DOMAIN_ARN],
                         json_string_value(json_object_get(described, "DomainArn")));
        ck_assert_str_eq(s.values[SM_OUTPUT_EFS_ID],
                         json_string_value(json_object_get(described, "HomeEfsFileSystemId")));
        ck_assert_str_eq(s.values[SM_OUTPUT_BUCKET], "studio-bucket");
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                ck_assert_str_eq(s.values[keys[i]], arns[i]);
        ck_assert_str_eq(s.values[SM_OUTPUT_MLFLOW],
                         json_string_value(json_object_get(server, "TrackingServerArn")));
        seen_done(&s);

        /* MLflow off: null, and nothing is asked about it. */
        h.domain.mlflow_enabled = false;
        s = (seen){0};
        read_outputs(&h, &s);
        ck_assert_uint_eq(s.n_missing, 0);
        ck_assert_ptr_null(s.values[SM_OUTPUT_MLFLOW]);
        ck_assert_str_eq(s.values[SM_OUTPUT_DOMAIN_ID], id);
        seen_done(&s);

        for (size_t i = 0; i < ELEMENTSOF(arns); i++)
                free(arns[i]);
        free(id);
        json_decref(described);
        json_decref(server);
        harness_stop(&h);
}
END_TEST

/* Every call refused. */
static const char refuse_all[] =
        "[{\"path\": \"/*\", \"responses\": [{\"status\": 400, \"headers\": "
        "{\"Content-Type\": \"application/x-amz-json-1.1\", \"x-amzn-RequestId\": "
        "\"req-1\"}, \"body\": \"{\\\"__type\\\": \\\"AccessDeniedException\\\", "
        "\\\"message\\\": \\\"no\\\"}\"}]}]";

/* One error (the first), done once. */
START_TEST(test_first_failure_only)
{
        harness h = {0};
        seen s = {0};

        harness_start(&h, refuse_all);
        read_outputs(&h, &s);
        /* Whatever else arrives after the first failure changes nothing. */
        ck_assert_int_eq(sm_fixture_wait_requests(&h.emu, &h.loop, 5, 5000), 0);
        ck_assert_int_eq(sm_test_run_drain(&h.loop, 2000), 0);
        ck_assert_uint_eq(s.calls, 1);
        ck_assert_ptr_nonnull(s.error_code);
        ck_assert_uint_eq(s.n_missing, 0);
        ck_assert_str_eq(s.request_id, "req-1");
        ck_assert_ptr_nonnull(s.operation);
        seen_done(&s);
        harness_stop(&h);
}
END_TEST

START_TEST(test_abandoned_read_stays_quiet)
{
        harness h = {0};
        seen s = {0};
        sm_outputs_read *read = NULL;

        harness_start(&h, refuse_all);
        ck_assert_int_eq(sm_outputs_read_start(h.aws.client, &h.domain, on_done, &s, &read), 0);
        ck_assert_ptr_nonnull(read);
        sm_outputs_read_abandon(read);
        ck_assert_int_eq(sm_fixture_wait_requests(&h.emu, &h.loop, 5, 5000), 0);
        harness_stop(&h);
        /* Every answer has been handled (or cancelled with the client). */
        ck_assert_uint_eq(s.calls, 0);
}
END_TEST

START_TEST(test_pick)
{
        sm_desired *d = sm_desired_new();
        sm_domain a = {0}, b = {0};

        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_null(sm_outputs_pick(d, NULL));
        ck_assert_int_eq(sm_desired_domain_init(&a), 0);
        a.name = strdup("a");
        ck_assert_int_eq(sm_desired_add_domain(d, &a), 0);
        ck_assert_str_eq(sm_outputs_pick(d, NULL)->name, "a");
        ck_assert_ptr_null(sm_outputs_pick(d, "b"));
        ck_assert_int_eq(sm_desired_domain_init(&b), 0);
        b.name = strdup("b");
        ck_assert_int_eq(sm_desired_add_domain(d, &b), 0);
        sm_desired_sort(d);
        ck_assert_ptr_null(sm_outputs_pick(d, NULL));
        ck_assert_str_eq(sm_outputs_pick(d, "b")->name, "b");
        ck_assert_str_eq(sm_output_label(SM_OUTPUT_MLFLOW), "MlflowTrackingServerArn");
        ck_assert_ptr_null(sm_output_label(_SM_OUTPUT_MAX));
        sm_desired_free(d);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("outputs");
        TCase *tc = tcase_create("outputs");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_missing_in_dependency_order);
        tcase_add_test(tc, test_values_are_read_back);
        tcase_add_test(tc, test_first_failure_only);
        tcase_add_test(tc, test_abandoned_read_stays_quiet);
        tcase_add_test(tc, test_pick);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
