/* SPDX-License-Identifier: Apache-2.0 */
/* The generic AWS call against a scripted loopback server: what goes on the
 * wire, how answers and errors come back, and the retry, clock-skew and
 * cancellation rules around it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/http.h"
#include "smstudio/settings.h"
#include "smstudio/timeutil.h"
#include "testmain.h"

typedef struct harness {
        uv_loop_t loop;
        sm_fixture fx;
        sm_http *http;
        sm_aws_settings *settings;
        sm_creds_provider *creds;
        sm_aws_client *client;
} harness;

typedef struct outcome {
        bool done;
        unsigned attempts;
        char *code;
        char *request_id;
        char *output; /* JSON text of the output */
} outcome;

static void on_done(const sm_aws_response *r, void *userdata)
{
        outcome *o = userdata;

        o->done = true;
        o->attempts = r->attempts;
        o->request_id = r->request_id ? strdup(r->request_id) : NULL;
        if (r->error)
                o->code = strdup(r->error->code);
        else
                o->output = json_dumps(r->output, JSON_SORT_KEYS | JSON_COMPACT);
}

static void outcome_done(outcome *o)
{
        free(o->code);
        free(o->request_id);
        free(o->output);
}

static double zero_jitter(void *userdata)
{
        (void)userdata;
        return 0.0;
}

/* Start the fixture with script, point every service at it, and build the
 * client with static credentials (token may be NULL). */
static void harness_start(harness *h, const char *script, const char *token)
{
        sm_credentials *c;
        char *error = NULL;

        ck_assert_int_eq(uv_loop_init(&h->loop), 0);
        ck_assert_int_eq(sm_fixture_start(script, NULL, NULL, &h->fx), 0);
        setenv("AWS_ENDPOINT_URL", sm_fixture_url(&h->fx), 1);
        setenv("AWS_REGION", "eu-west-1", 1);
        setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
        setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
        ck_assert_int_eq(sm_aws_settings_resolve(NULL, &h->settings, &error), 0);
        ck_assert_int_eq(sm_http_new(&h->loop, NULL, &h->http), 0);
        c = sm_credentials_new("AKIDEXAMPLE", "secret", token, 0, "static");
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(sm_creds_provider_new_static(&h->loop, c, &h->creds), 0);
        sm_credentials_unref(c);
        ck_assert_int_eq(sm_aws_client_new(&h->loop, h->http, h->settings, h->creds, &h->client),
                         0);
        sm_aws_client_set_random(h->client, zero_jitter, NULL);
}

static void harness_stop(harness *h)
{
        sm_aws_client_free(h->client);
        sm_creds_provider_free(h->creds);
        sm_http_free(h->http);
        ck_assert_int_eq(sm_test_run_drain(&h->loop, 5000), 0);
        ck_assert_int_eq(uv_loop_close(&h->loop), 0);
        sm_aws_settings_free(h->settings);
        sm_fixture_stop(&h->fx);
}

static json_t *request_n(harness *h, size_t i)
{
        json_t *all = sm_fixture_requests(&h->fx);
        json_t *r;

        ck_assert_ptr_nonnull(all);
        r = json_incref(json_array_get(all, i));
        json_decref(all);
        ck_assert_ptr_nonnull(r);
        return r;
}

static const char *header_of(json_t *req, const char *name)
{
        return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

START_TEST(test_json_call_on_the_wire)
{
        harness h = {0};
        outcome o = {0};
        json_t *req, *body;

        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": [{\"status\": 200, \"headers\": "
                      "{\"x-amzn-RequestId\": \"rid-1\", \"Content-Type\": "
                      "\"application/x-amz-json-1.1\"}, \"body\": \"{\\\"Domains\\\": []}\"}]}]",
                      "session-token");
        ck_assert_int_eq(sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains",
                                     json_pack("{s:i}", "MaxResults", 100), on_done, &o),
                         0);
        ck_assert(!o.done); /* never inside the call */
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_ptr_null(o.code);
        ck_assert_str_eq(o.output, "{\"Domains\":[]}");
        ck_assert_str_eq(o.request_id, "rid-1");
        ck_assert_uint_eq(o.attempts, 1);

        req = request_n(&h, 0);
        ck_assert_str_eq(json_string_value(json_object_get(req, "method")), "POST");
        ck_assert_str_eq(json_string_value(json_object_get(req, "path")), "/");
        ck_assert_str_eq(header_of(req, "x-amz-target"), "SageMaker.ListDomains");
        ck_assert_str_eq(header_of(req, "content-type"), "application/x-amz-json-1.1");
        ck_assert_str_eq(header_of(req, "x-amz-security-token"), "session-token");
        ck_assert_ptr_nonnull(strstr(header_of(req, "authorization"), "Credential=AKIDEXAMPLE/"));
        ck_assert_ptr_nonnull(
                strstr(header_of(req, "authorization"), "/eu-west-1/sagemaker/aws4_request"));
        ck_assert_ptr_nonnull(strstr(header_of(req, "authorization"), "x-amz-security-token"));
        ck_assert_ptr_nonnull(strstr(header_of(req, "user-agent"), "smstudio/"));
        body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
        ck_assert_int_eq(json_integer_value(json_object_get(body, "MaxResults")), 100);
        json_decref(body);
        json_decref(req);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

START_TEST(test_query_call_decodes_xml)
{
        harness h = {0};
        outcome o = {0};
        json_t *req;

        harness_start(
                &h,
                "[{\"path\": \"/\", \"responses\": [{\"status\": 200, \"headers\": "
                "{\"Content-Type\": \"text/xml\"}, \"body\": "
                "\"<GetCallerIdentityResponse xmlns=\\\"https://sts.amazonaws.com/doc/2011-06-15/"
                "\\\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/a</Arn>"
                "<UserId>AIDA1</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
                "<ResponseMetadata><RequestId>rid-xml</RequestId></ResponseMetadata>"
                "</GetCallerIdentityResponse>\"}]}]",
                NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_STS, "GetCallerIdentity", NULL, on_done, &o), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_ptr_null(o.code);
        ck_assert_ptr_nonnull(strstr(o.output, "\"Account\":\"123456789012\""));
        ck_assert_str_eq(o.request_id, "rid-xml");

        req = request_n(&h, 0);
        ck_assert_ptr_null(header_of(req, "x-amz-target"));
        ck_assert_ptr_null(header_of(req, "x-amz-security-token"));
        ck_assert_ptr_nonnull(
                strstr(header_of(req, "content-type"), "application/x-www-form-urlencoded"));
        ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(req, "body")),
                                     "Action=GetCallerIdentity"));
        ck_assert_ptr_nonnull(
                strstr(json_string_value(json_object_get(req, "body")), "Version=2011-06-15"));
        ck_assert_ptr_nonnull(strstr(header_of(req, "authorization"), "/eu-west-1/sts/"));
        json_decref(req);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

START_TEST(test_transient_error_is_retried)
{
        harness h = {0};
        outcome o = {0};
        sm_aws_client_stats st;

        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": ["
                      "{\"status\": 503, \"body\": \"\"},"
                      "{\"status\": 500, \"body\": \"{\\\"__type\\\": \\\"InternalFailure\\\"}\"},"
                      "{\"status\": 200, \"body\": \"{}\"}]}]",
                      NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains", NULL, on_done, &o), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_ptr_null(o.code);
        ck_assert_uint_eq(o.attempts, 3);
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 3);
        sm_aws_client_get_stats(h.client, &st);
        ck_assert_uint_eq(st.calls, 1);
        ck_assert_uint_eq(st.attempts, 3);
        ck_assert_uint_eq(st.retries, 2);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

START_TEST(test_attempts_are_capped)
{
        harness h = {0};
        outcome o = {0};

        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": [{\"status\": 400, \"body\": "
                      "\"{\\\"__type\\\": \\\"ThrottlingException\\\", \\\"message\\\": "
                      "\\\"Rate exceeded\\\"}\"}]}]",
                      NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains", NULL, on_done, &o), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_str_eq(o.code, "ThrottlingException");
        ck_assert_uint_eq(o.attempts, 3); /* the SDK default */
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 3);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

START_TEST(test_terminal_error_is_not_retried)
{
        harness h = {0};
        outcome o = {0};

        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": [{\"status\": 400, \"headers\": "
                      "{\"x-amzn-RequestId\": \"rid-v\", \"X-Amzn-ErrorType\": "
                      "\"ValidationException:http://internal.amazon.com/\"}, \"body\": "
                      "\"{\\\"message\\\": \\\"1 validation error\\\"}\"}]}]",
                      NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "CreateDomain", NULL, on_done, &o), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_str_eq(o.code, "ValidationException");
        ck_assert_str_eq(o.request_id, "rid-v");
        ck_assert_uint_eq(o.attempts, 1);
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 1);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

START_TEST(test_clock_skew_is_corrected)
{
        harness h = {0};
        outcome o = {0};
        char script[1024], date[64];
        time_t ahead = time(NULL) + 3600;
        struct tm tm;
        json_t *req;
        int64_t first, second;
        const char *d;
        struct tm t1 = {0}, t2 = {0};

        gmtime_r(&ahead, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        snprintf(script, sizeof(script),
                 "[{\"path\": \"/\", \"responses\": [{\"status\": 400, \"headers\": {\"Date\": "
                 "\"%s\"}, \"body\": \"{\\\"__type\\\": \\\"InvalidSignatureException\\\", "
                 "\\\"message\\\": \\\"Signature expired: 20260101T000000Z is now earlier "
                 "than 20260101T001000Z\\\"}\"}, {\"status\": 200, \"body\": \"{}\"}]}]",
                 date);
        harness_start(&h, script, NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains", NULL, on_done, &o), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_ptr_null(o.code);
        ck_assert_uint_eq(o.attempts, 2);

        req = request_n(&h, 0);
        d = header_of(req, "x-amz-date");
        ck_assert_ptr_nonnull(strptime(d, "%Y%m%dT%H%M%SZ", &t1));
        first = (int64_t)timegm(&t1);
        json_decref(req);
        req = request_n(&h, 1);
        d = header_of(req, "x-amz-date");
        ck_assert_ptr_nonnull(strptime(d, "%Y%m%dT%H%M%SZ", &t2));
        second = (int64_t)timegm(&t2);
        json_decref(req);
        /* The retry is signed with the server's time, an hour ahead. */
        ck_assert_int_ge(second - first, 3600 - 5);
        ck_assert_int_le(second - first, 3600 + 5);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

START_TEST(test_retry_after_header_is_honoured)
{
        harness h = {0};
        outcome o = {0};
        json_t *a, *b;
        double gap;

        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": [{\"status\": 503, \"headers\": "
                      "{\"x-amz-retry-after\": \"400\"}, \"body\": \"\"}, "
                      "{\"status\": 200, \"body\": \"{}\"}]}]",
                      NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains", NULL, on_done, &o), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_ptr_null(o.code);
        a = request_n(&h, 0);
        b = request_n(&h, 1);
        gap = json_real_value(json_object_get(b, "time")) -
              json_real_value(json_object_get(a, "time"));
        /* Jitter is zero here, so only the header can explain the wait. */
        ck_assert_msg(gap >= 0.39, "retried after %.3f s, before x-amz-retry-after", gap);
        json_decref(a);
        json_decref(b);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

START_TEST(test_free_cancels_pending_calls)
{
        harness h = {0};
        outcome o1 = {0}, o2 = {0};

        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": [{\"status\": 200, \"delay_ms\": 20000, "
                      "\"body\": \"{}\"}]}]",
                      NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains", NULL, on_done, &o1), 0);
        ck_assert_int_eq(sm_fixture_wait_requests(&h.fx, &h.loop, 1, 10000), 0);
        /* One in flight, one not yet started. */
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListApps", NULL, on_done, &o2), 0);
        h.client = sm_aws_client_free(h.client);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o1.done, 5000), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o2.done, 5000), 0);
        ck_assert_str_eq(o1.code, "Cancelled");
        ck_assert_str_eq(o2.code, "Cancelled");
        outcome_done(&o1);
        outcome_done(&o2);
        harness_stop(&h);
}
END_TEST

START_TEST(test_bad_endpoint_is_reported_per_call)
{
        harness h = {0};
        outcome o = {0}, ok = {0};

        setenv("AWS_ENDPOINT_URL_SAGEMAKER", "ftp://example.com", 1);
        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": [{\"status\": 200, \"body\": \"{}\"}]}]",
                      NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains", NULL, on_done, &o), 0);
        ck_assert_int_eq(sm_aws_call(h.client, SM_SERVICE_SERVICECATALOG,
                                     "ListAcceptedPortfolioShares", NULL, on_done, &ok),
                         0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &ok.done, 10000), 0);
        ck_assert_str_eq(o.code, "InvalidEndpoint");
        ck_assert_ptr_null(ok.code);
        ck_assert_uint_eq(sm_fixture_count(&h.fx), 1);
        outcome_done(&o);
        outcome_done(&ok);
        harness_stop(&h);
}
END_TEST

START_TEST(test_connection_refused_is_transient_then_final)
{
        harness h = {0};
        outcome o = {0};
        char url[64];
        unsigned port;

        harness_start(&h, "[]", NULL);
        port = h.fx.port;
        /* Stop the server: nothing listens on the port any more. */
        sm_aws_client_free(h.client);
        sm_fixture_stop(&h.fx);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
        setenv("AWS_ENDPOINT_URL", url, 1);
        sm_aws_settings_free(h.settings);
        ck_assert_int_eq(sm_aws_settings_resolve(NULL, &h.settings, &(char *){NULL}), 0);
        ck_assert_int_eq(sm_aws_client_new(&h.loop, h.http, h.settings, h.creds, &h.client), 0);
        sm_aws_client_set_random(h.client, zero_jitter, NULL);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains", NULL, on_done, &o), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_str_eq(o.code, "ConnectionError");
        ck_assert_uint_eq(o.attempts, 3);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

/* What the per-call observer saw: one entry per finished call. */
typedef struct observed_call {
        char service[32], operation[64], outcome[16], code[64];
        unsigned attempts, throttles;
} observed_call;

typedef struct observer_log {
        observed_call calls[8];
        size_t n;
} observer_log;

static void observe(const sm_aws_call_info *info, void *userdata)
{
        observer_log *log = userdata;
        observed_call *c;

        ck_assert_uint_lt(log->n, 8);
        c = &log->calls[log->n++];
        snprintf(c->service, sizeof(c->service), "%s", info->service_name);
        snprintf(c->operation, sizeof(c->operation), "%s", info->operation);
        snprintf(c->outcome, sizeof(c->outcome), "%s", info->outcome);
        snprintf(c->code, sizeof(c->code), "%s", info->error_code ? info->error_code : "");
        c->attempts = info->attempts;
        c->throttles = info->throttles;
}

/* The n-th call the observer saw (and that it saw n + 1 so far). */
static void assert_observed(const observer_log *log, size_t n, const char *service,
                            const char *operation, const char *result, const char *code,
                            unsigned attempts, unsigned throttles)
{
        const observed_call *c = &log->calls[n];

        ck_assert_uint_eq(log->n, n + 1);
        ck_assert_str_eq(c->service, service);
        ck_assert_str_eq(c->operation, operation);
        ck_assert_str_eq(c->outcome, result);
        ck_assert_str_eq(c->code, code);
        ck_assert_uint_eq(c->attempts, attempts);
        ck_assert_uint_eq(c->throttles, throttles);
}

START_TEST(test_observer_sees_every_finished_call)
{
        harness h = {0};
        outcome o1 = {0}, o2 = {0}, o3 = {0};
        observer_log log = {0};

        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": ["
                      "{\"status\": 400, \"body\": \"{\\\"__type\\\": "
                      "\\\"ThrottlingException\\\"}\"},"
                      "{\"status\": 200, \"body\": \"{}\"},"
                      "{\"status\": 400, \"body\": \"{\\\"__type\\\": "
                      "\\\"ValidationException\\\"}\"},"
                      "{\"status\": 200, \"delay_ms\": 20000, \"body\": \"{}\"}]}]",
                      NULL);
        sm_aws_client_set_observer(h.client, observe, &log);

        /* Throttled once, then answered: "ok" with both attempts counted. */
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListDomains", NULL, on_done, &o1), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o1.done, 10000), 0);
        assert_observed(&log, 0, "sagemaker", "ListDomains", "ok", "", 2, 1);

        /* A terminal error: "error" with its code, one attempt. */
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "CreateDomain", NULL, on_done, &o2), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o2.done, 10000), 0);
        assert_observed(&log, 1, "sagemaker", "CreateDomain", "error", "ValidationException", 1, 0);

        /* In flight when the client goes: "cancelled". */
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListApps", NULL, on_done, &o3), 0);
        ck_assert_int_eq(sm_fixture_wait_requests(&h.fx, &h.loop, 4, 10000), 0);
        h.client = sm_aws_client_free(h.client);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o3.done, 5000), 0);
        /* Its one request went out; no answer came. */
        assert_observed(&log, 2, "sagemaker", "ListApps", "cancelled", "Cancelled", 1, 0);
        outcome_done(&o1);
        outcome_done(&o2);
        outcome_done(&o3);
        harness_stop(&h);
}
END_TEST

START_TEST(test_observer_reports_throttled_out)
{
        harness h = {0};
        outcome o = {0};
        observer_log log = {0};

        harness_start(&h,
                      "[{\"path\": \"/\", \"responses\": [{\"status\": 400, \"body\": "
                      "\"{\\\"__type\\\": \\\"ThrottlingException\\\"}\"}]}]",
                      NULL);
        sm_aws_client_set_observer(h.client, observe, &log);
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListUserProfiles", NULL, on_done, &o),
                0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        assert_observed(&log, 0, "sagemaker", "ListUserProfiles", "throttled",
                        "ThrottlingException", 3, 3);

        /* Cleared: later calls are not reported. */
        sm_aws_client_set_observer(h.client, NULL, NULL);
        o.done = false;
        outcome_done(&o);
        o = (outcome){0};
        ck_assert_int_eq(
                sm_aws_call(h.client, SM_SERVICE_SAGEMAKER, "ListUserProfiles", NULL, on_done, &o),
                0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &o.done, 10000), 0);
        ck_assert_uint_eq(log.n, 1);
        outcome_done(&o);
        harness_stop(&h);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("client");
        TCase *tc = tcase_create("calls");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_json_call_on_the_wire);
        tcase_add_test(tc, test_query_call_decodes_xml);
        tcase_add_test(tc, test_transient_error_is_retried);
        tcase_add_test(tc, test_attempts_are_capped);
        tcase_add_test(tc, test_terminal_error_is_not_retried);
        tcase_add_test(tc, test_clock_skew_is_corrected);
        tcase_add_test(tc, test_retry_after_header_is_honoured);
        tcase_add_test(tc, test_free_cancels_pending_calls);
        tcase_add_test(tc, test_bad_endpoint_is_reported_per_call);
        tcase_add_test(tc, test_connection_refused_is_transient_then_final);
        tcase_add_test(tc, test_observer_sees_every_finished_call);
        tcase_add_test(tc, test_observer_reports_throttled_out);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
