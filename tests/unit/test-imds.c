/* SPDX-License-Identifier: Apache-2.0 */
/* The IMDSv2 client against a scripted loopback metadata service: the token
 * handshake on the wire, token reuse and sharing, the narrow IMDSv1
 * fallback, errors, timeouts and cancellation. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "smstudio/http.h"
#include "smstudio/imds.h"
#include "smstudio/macro.h"
#include "testmain.h"

typedef struct harness {
        uv_loop_t loop;
        sm_fixture fx;
        sm_http *http;
        sm_imds *imds;
} harness;

typedef struct result {
        bool done;
        int r;
        char *body;
        char *error;
} result;

static void on_get(int r, const char *body, size_t body_len, const char *error, void *userdata)
{
        result *res = userdata;

        ck_assert(!res->done);
        res->done = true;
        res->r = r;
        res->body = body ? strndup(body, body_len) : NULL;
        res->error = error ? strdup(error) : NULL;
}

static void result_done(result *res)
{
        free(res->body);
        free(res->error);
        *res = (result){0};
}

static void clear_env(void)
{
        unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        unsetenv("AWS_EC2_METADATA_V1_DISABLED");
}

static void harness_start(harness *h, const char *script, long timeout_ms)
{
        clear_env();
        ck_assert_int_eq(uv_loop_init(&h->loop), 0);
        ck_assert_int_eq(sm_fixture_start(script, NULL, NULL, &h->fx), 0);
        ck_assert_int_eq(sm_http_new(&h->loop, NULL, &h->http), 0);
        ck_assert_int_eq(
                sm_imds_new(&h->loop, h->http, sm_fixture_url(&h->fx), timeout_ms, &h->imds), 0);
}

static void harness_stop(harness *h)
{
        sm_imds_free(h->imds);
        sm_http_free(h->http);
        ck_assert_int_eq(sm_test_run_drain(&h->loop, 5000), 0);
        ck_assert_int_eq(uv_loop_close(&h->loop), 0);
        sm_fixture_stop(&h->fx);
}

static void get_and_wait(harness *h, const char *path, result *res)
{
        ck_assert_int_eq(sm_imds_get(h->imds, path, on_get, res), 0);
        ck_assert(!res->done); /* never inside the call */
        ck_assert_int_eq(sm_test_run_until(&h->loop, &res->done, 10000), 0);
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

static const char *field(json_t *req, const char *name)
{
        return json_string_value(json_object_get(req, name));
}

static const char *header_of(json_t *req, const char *name)
{
        return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static size_t count_method(harness *h, const char *method)
{
        json_t *all = sm_fixture_requests(&h->fx), *req;
        size_t i, n = 0;

        ck_assert_ptr_nonnull(all);
        json_array_foreach(all, i, req)
        {
                if (streq(field(req, "method"), method))
                        n++;
        }
        json_decref(all);
        return n;
}

#define TOKEN_RULE(...)                                                                            \
        "{\"method\": \"PUT\", \"path\": \"/latest/api/token\", \"responses\": [" __VA_ARGS__ "]}"
#define REGION_RULE(...)                                                                           \
        "{\"method\": \"GET\", \"path\": \"/latest/meta-data/placement/region\", \"responses\": "  \
        "[" __VA_ARGS__ "]}"

START_TEST(test_token_then_get)
{
        harness h = {0};
        result res = {0};
        json_t *put, *get;

        harness_start(
                &h,
                "[" TOKEN_RULE(
                        "{\"body\": \"TOKEN-1\", \"headers\": "
                        "{\"X-aws-ec2-metadata-token-ttl-seconds\": \"21600\"}}") "," REGION_RULE("{\"body\": \"eu-west-1\"}") "]",
                0);
        get_and_wait(&h, "/latest/meta-data/placement/region", &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_str_eq(res.body, "eu-west-1");

        ck_assert_int_eq(sm_fixture_count(&h.fx), 2);
        put = request_n(&h, 0);
        ck_assert_str_eq(field(put, "method"), "PUT");
        ck_assert_str_eq(field(put, "path"), "/latest/api/token");
        ck_assert_str_eq(header_of(put, "x-aws-ec2-metadata-token-ttl-seconds"), "21600");
        get = request_n(&h, 1);
        ck_assert_str_eq(field(get, "method"), "GET");
        ck_assert_str_eq(header_of(get, "x-aws-ec2-metadata-token"), "TOKEN-1");
        json_decref(put);
        json_decref(get);
        result_done(&res);
        harness_stop(&h);
}
END_TEST

START_TEST(test_token_shared_and_reused)
{
        harness h = {0};
        result a = {0}, b = {0}, c = {0};

        harness_start(
                &h,
                "[" TOKEN_RULE("{\"body\": \"TOKEN-1\", \"delay_ms\": 100}, {\"body\": "
                               "\"TOKEN-2\"}") "," REGION_RULE("{\"body\": \"eu-west-1\"}") "]",
                0);
        /* Two gets before any token: one PUT serves both. */
        ck_assert_int_eq(sm_imds_get(h.imds, "/latest/meta-data/placement/region", on_get, &a), 0);
        ck_assert_int_eq(sm_imds_get(h.imds, "/latest/meta-data/placement/region", on_get, &b), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &a.done, 10000), 0);
        ck_assert_int_eq(sm_test_run_until(&h.loop, &b.done, 10000), 0);
        ck_assert_int_eq(a.r, 0);
        ck_assert_int_eq(b.r, 0);
        /* A later get reuses the token. */
        get_and_wait(&h, "/latest/meta-data/placement/region", &c);
        ck_assert_int_eq(c.r, 0);
        ck_assert_uint_eq(count_method(&h, "PUT"), 1);
        ck_assert_uint_eq(count_method(&h, "GET"), 3);
        {
                json_t *last = request_n(&h, 3);

                ck_assert_str_eq(header_of(last, "x-aws-ec2-metadata-token"), "TOKEN-1");
                json_decref(last);
        }
        result_done(&a);
        result_done(&b);
        result_done(&c);
        harness_stop(&h);
}
END_TEST

static uint64_t fake_ms;

static uint64_t fake_now_ms(void *userdata)
{
        (void)userdata;
        return fake_ms;
}

START_TEST(test_token_renewed_before_expiry)
{
        harness h = {0};
        result a = {0}, b = {0}, c = {0};
        json_t *req;

        harness_start(
                &h,
                "[" TOKEN_RULE("{\"body\": \"TOKEN-1\"}, {\"body\": \"TOKEN-2\"}") "," REGION_RULE(
                        "{\"body\": \"eu-west-1\"}") "]",
                0);
        fake_ms = 1000000;
        sm_imds_set_clock(h.imds, fake_now_ms, NULL);
        get_and_wait(&h, "/latest/meta-data/placement/region", &a);
        /* 31 s before the 6 h TTL runs out: still good. */
        fake_ms += 21600 * 1000ULL - 31000;
        get_and_wait(&h, "/latest/meta-data/placement/region", &b);
        ck_assert_uint_eq(count_method(&h, "PUT"), 1);
        /* 29 s before: a new token first. */
        fake_ms += 2000;
        get_and_wait(&h, "/latest/meta-data/placement/region", &c);
        ck_assert_int_eq(c.r, 0);
        ck_assert_uint_eq(count_method(&h, "PUT"), 2);
        req = request_n(&h, 4);
        ck_assert_str_eq(header_of(req, "x-aws-ec2-metadata-token"), "TOKEN-2");
        json_decref(req);
        result_done(&a);
        result_done(&b);
        result_done(&c);
        harness_stop(&h);
}
END_TEST

START_TEST(test_v1_fallback_on_405)
{
        harness h = {0};
        result res = {0};
        json_t *get;

        harness_start(&h,
                      "[" TOKEN_RULE("{\"status\": 405}") "," REGION_RULE(
                              "{\"body\": \"eu-west-1\"}") "]",
                      0);
        get_and_wait(&h, "/latest/meta-data/placement/region", &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_str_eq(res.body, "eu-west-1");
        get = request_n(&h, 1);
        ck_assert_str_eq(field(get, "method"), "GET");
        ck_assert_ptr_null(header_of(get, "x-aws-ec2-metadata-token"));
        json_decref(get);
        result_done(&res);
        harness_stop(&h);
}
END_TEST

START_TEST(test_v1_fallback_disabled)
{
        harness h = {0};
        result res = {0};

        harness_start(&h,
                      "[" TOKEN_RULE("{\"status\": 403}") "," REGION_RULE(
                              "{\"body\": \"eu-west-1\"}") "]",
                      0);
        /* The variable is read at creation: make a second client with it set. */
        setenv("AWS_EC2_METADATA_V1_DISABLED", "TRUE", 1);
        sm_imds_free(h.imds);
        ck_assert_int_eq(sm_imds_new(&h.loop, h.http, sm_fixture_url(&h.fx), 0, &h.imds), 0);
        get_and_wait(&h, "/latest/meta-data/placement/region", &res);
        ck_assert_int_eq(res.r, -EACCES);
        ck_assert_ptr_nonnull(strstr(res.error, "AWS_EC2_METADATA_V1_DISABLED"));
        ck_assert_uint_eq(count_method(&h, "GET"), 0);
        result_done(&res);

        /* The same through the setter (profile key ec2_metadata_v1_disabled). */
        unsetenv("AWS_EC2_METADATA_V1_DISABLED");
        sm_imds_free(h.imds);
        ck_assert_int_eq(sm_imds_new(&h.loop, h.http, sm_fixture_url(&h.fx), 0, &h.imds), 0);
        sm_imds_set_v1_disabled(h.imds, true);
        get_and_wait(&h, "/latest/meta-data/placement/region", &res);
        ck_assert_int_eq(res.r, -EACCES);
        ck_assert_uint_eq(count_method(&h, "GET"), 0);
        result_done(&res);
        harness_stop(&h);
}
END_TEST

START_TEST(test_no_fallback_on_server_error)
{
        harness h = {0};
        result res = {0};

        harness_start(&h,
                      "[" TOKEN_RULE("{\"status\": 500}") "," REGION_RULE(
                              "{\"body\": \"eu-west-1\"}") "]",
                      0);
        get_and_wait(&h, "/latest/meta-data/placement/region", &res);
        ck_assert_int_lt(res.r, 0);
        ck_assert_ptr_nonnull(strstr(res.error, "500"));
        ck_assert_uint_eq(count_method(&h, "GET"), 0);
        result_done(&res);
        harness_stop(&h);
}
END_TEST

START_TEST(test_not_found)
{
        harness h = {0};
        result res = {0};

        harness_start(&h, "[" TOKEN_RULE("{\"body\": \"TOKEN-1\"}") "]", 0);
        get_and_wait(&h, "/latest/meta-data/iam/security-credentials/", &res);
        ck_assert_int_eq(res.r, -ENOENT);
        ck_assert_ptr_null(res.body);
        ck_assert_ptr_nonnull(res.error);
        result_done(&res);
        harness_stop(&h);
}
END_TEST

START_TEST(test_timeout)
{
        harness h = {0};
        result res = {0};

        harness_start(&h,
                      "[" TOKEN_RULE("{\"body\": \"TOKEN-1\"}") "," REGION_RULE(
                              "{\"body\": \"late\", \"delay_ms\": 3000}") "]",
                      200);
        get_and_wait(&h, "/latest/meta-data/placement/region", &res);
        ck_assert_int_eq(res.r, -ETIMEDOUT);
        ck_assert_str_eq(res.error, "timed out after 200 ms");
        result_done(&res);
        harness_stop(&h);
}
END_TEST

START_TEST(test_401_gets_a_new_token_once)
{
        harness h = {0};
        result res = {0};
        json_t *req;

        harness_start(
                &h,
                "[" TOKEN_RULE("{\"body\": \"TOKEN-1\"}, {\"body\": \"TOKEN-2\"}") "," REGION_RULE(
                        "{\"status\": 401}, {\"body\": \"eu-west-1\"}") "]",
                0);
        get_and_wait(&h, "/latest/meta-data/placement/region", &res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_str_eq(res.body, "eu-west-1");
        ck_assert_uint_eq(count_method(&h, "PUT"), 2);
        req = request_n(&h, 3);
        ck_assert_str_eq(header_of(req, "x-aws-ec2-metadata-token"), "TOKEN-2");
        json_decref(req);
        result_done(&res);
        harness_stop(&h);
}
END_TEST

START_TEST(test_endpoint_resolution)
{
        uv_loop_t loop;
        sm_http *http = NULL;
        sm_imds *m = NULL;

        clear_env();
        ck_assert_int_eq(uv_loop_init(&loop), 0);
        ck_assert_int_eq(sm_http_new(&loop, NULL, &http), 0);

        ck_assert_int_eq(sm_imds_new(&loop, http, NULL, 0, &m), 0);
        ck_assert_str_eq(sm_imds_endpoint(m), "http://169.254.169.254");
        m = sm_imds_free(m);

        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6", 1);
        ck_assert_int_eq(sm_imds_new(&loop, http, NULL, 0, &m), 0);
        ck_assert_str_eq(sm_imds_endpoint(m), "http://[fd00:ec2::254]");
        m = sm_imds_free(m);

        /* The explicit endpoint beats the mode; a trailing '/' is dropped. */
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/", 1);
        ck_assert_int_eq(sm_imds_new(&loop, http, NULL, 0, &m), 0);
        ck_assert_str_eq(sm_imds_endpoint(m), "http://127.0.0.1:1338");
        m = sm_imds_free(m);

        /* An argument beats the environment. */
        ck_assert_int_eq(sm_imds_new(&loop, http, "http://10.0.0.1", 0, &m), 0);
        ck_assert_str_eq(sm_imds_endpoint(m), "http://10.0.0.1");
        m = sm_imds_free(m);

        unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", 1);
        ck_assert_int_eq(sm_imds_new(&loop, http, NULL, 0, &m), -EINVAL);
        ck_assert_int_eq(sm_imds_new(&loop, http, "ftp://x", 0, &m), -EINVAL);

        sm_http_free(http);
        ck_assert_int_eq(sm_test_run_drain(&loop, 5000), 0);
        ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_free_cancels_pending)
{
        harness h = {0};
        result waiting = {0}, sending = {0};
        sm_imds *m2 = NULL;

        harness_start(
                &h,
                "[" TOKEN_RULE(
                        "{\"status\": 405, \"delay_ms\": 1500}, {\"status\": 405}") ","
                                                                                    "{\"path\": "
                                                                                    "\"/slow\", "
                                                                                    "\"responses\":"
                                                                                    " [{\"delay_"
                                                                                    "ms\": "
                                                                                    "3000}]}]",
                0);
        ck_assert_int_eq(
                sm_imds_get(h.imds, "/latest/meta-data/placement/region", on_get, &waiting), 0);
        ck_assert_int_eq(sm_fixture_wait_requests(&h.fx, &h.loop, 1, 5000), 0);
        h.imds = sm_imds_free(h.imds);
        ck_assert(waiting.done);
        ck_assert_int_eq(waiting.r, -ECANCELED);
        result_done(&waiting);

        /* A GET on the wire (v1, so no token wait) hears back inside free too. */
        ck_assert_int_eq(sm_imds_new(&h.loop, h.http, sm_fixture_url(&h.fx), 0, &m2), 0);
        h.imds = m2;
        ck_assert_int_eq(sm_imds_get(h.imds, "/slow", on_get, &sending), 0);
        ck_assert_int_eq(sm_fixture_wait_requests(&h.fx, &h.loop, 3, 5000), 0);
        ck_assert(!sending.done);
        h.imds = sm_imds_free(h.imds);
        ck_assert(sending.done);
        ck_assert_int_eq(sending.r, -ECANCELED);
        result_done(&sending);
        harness_stop(&h);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("imds");
        TCase *tc = tcase_create("imds");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_token_then_get);
        tcase_add_test(tc, test_token_shared_and_reused);
        tcase_add_test(tc, test_token_renewed_before_expiry);
        tcase_add_test(tc, test_v1_fallback_on_405);
        tcase_add_test(tc, test_v1_fallback_disabled);
        tcase_add_test(tc, test_no_fallback_on_server_error);
        tcase_add_test(tc, test_not_found);
        tcase_add_test(tc, test_timeout);
        tcase_add_test(tc, test_401_gets_a_new_token_once);
        tcase_add_test(tc, test_endpoint_resolution);
        tcase_add_test(tc, test_free_cancels_pending);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
