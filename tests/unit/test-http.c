/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "fixture.h"
#include "smstudio/http.h"
#include "smstudio/macro.h"
#include "testmain.h"

#define WAIT_MS 15000

/* Set around public calls: a callback running inside one is a contract breach. */
static bool in_api_call;

typedef struct result {
        bool done;
        int calls;
        long status;
        int error;
        char *error_text;
        char *body;
        size_t body_len;
        char *request_id; /* x-amz-request-id, looked up case-insensitively */
        char *first_header_name;
        size_t n_headers;
        int order; /* completion rank, from 1 */
} result;

static int completions;

static void result_clear(result *r)
{
        free(r->error_text);
        free(r->body);
        free(r->request_id);
        free(r->first_header_name);
        memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
        char *p;

        if (!s)
                return NULL;
        p = strdup(s);
        ck_assert_ptr_nonnull(p);
        return p;
}

static void on_done(const sm_http_response *resp, void *userdata)
{
        result *r = userdata;

        ck_assert(!in_api_call);
        r->calls++;
        ck_assert_int_eq(r->calls, 1);
        r->done = true;
        r->order = ++completions;
        r->status = resp->status;
        r->error = resp->error;
        r->error_text = dup_or_null(resp->error_text);
        r->body = malloc(resp->body_len + 1);
        ck_assert_ptr_nonnull(r->body);
        memcpy(r->body, resp->body, resp->body_len + 1);
        r->body_len = resp->body_len;
        r->request_id = dup_or_null(sm_http_response_header(resp, "X-Amz-Request-Id"));
        r->n_headers = resp->n_headers;
        if (resp->n_headers > 0)
                r->first_header_name = dup_or_null(resp->headers[0].name);
}

typedef struct ctx {
        uv_loop_t loop;
        sm_http *http;
        sm_fixture fx;
        char *tmp;
} ctx;

static void ctx_start(ctx *c, const char *script, const sm_http_options *opts)
{
        memset(c, 0, sizeof(*c));
        completions = 0;
        in_api_call = false;
        ck_assert_int_eq(uv_loop_init(&c->loop), 0);
        if (script)
                ck_assert_int_eq(sm_fixture_start(script, NULL, NULL, &c->fx), 0);
        ck_assert_int_eq(sm_http_new(&c->loop, opts, &c->http), 0);
}

/* Free the engine, run the loop until every handle is closed and check that
 * none is left behind. */
static void ctx_stop(ctx *c)
{
        in_api_call = true;
        c->http = sm_http_free(c->http);
        in_api_call = false;
        ck_assert_ptr_null(c->http);
        ck_assert_int_eq(sm_test_run_drain(&c->loop, WAIT_MS), 0);
        ck_assert_int_eq(uv_loop_close(&c->loop), 0);
        sm_fixture_stop(&c->fx);
        if (c->tmp) {
                sm_test_rm_rf(c->tmp);
                free(c->tmp);
        }
}

static char *url(const ctx *c, const char *path)
{
        char *u = NULL;

        ck_assert_int_gt(asprintf(&u, "%s%s", sm_fixture_url(&c->fx), path), 0);
        return u;
}

static sm_http_xfer *submit(ctx *c, const char *method, const char *path,
                            const sm_http_request *base, result *r)
{
        sm_http_request req = base ? *base : (sm_http_request){0};
        _cleanup_free_ char *u = url(c, path);
        sm_http_xfer *x = NULL;

        req.method = method;
        req.url = u;
        in_api_call = true;
        ck_assert_int_eq(sm_http_submit(c->http, &req, on_done, r, &x), 0);
        in_api_call = false;
        ck_assert_ptr_nonnull(x);
        ck_assert(!r->done);
        return x;
}

static void wait_done(ctx *c, result *r)
{
        ck_assert_int_eq(sm_test_run_until(&c->loop, &r->done, WAIT_MS), 0);
}

static const char *log_str(json_t *entry, const char *key)
{
        json_t *v = json_object_get(entry, key);

        ck_assert_msg(json_is_string(v), "log entry lacks %s", key);
        return json_string_value(v);
}

static const char *log_header(json_t *entry, const char *name)
{
        return json_string_value(json_object_get(json_object_get(entry, "headers"), name));
}

static json_int_t log_int(json_t *entry, const char *key)
{
        json_t *v = json_object_get(entry, key);

        ck_assert_msg(json_is_integer(v), "log entry lacks %s", key);
        return json_integer_value(v);
}

/* A port nothing listens on: bound and closed again, so the kernel refuses
 * connections to it (another test grabbing it in between is vanishingly
 * unlikely with ephemeral ports). */
static unsigned closed_port(void)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        ck_assert_int_ge(fd, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

START_TEST(test_get_and_post_echo)
{
        static const char script[] =
                "[{\"method\": \"GET\", \"path\": \"/hello\","
                "  \"responses\": [{\"status\": 200, \"body\": \"hello world\"}]},"
                " {\"method\": \"POST\", \"path\": \"/echo\", \"responses\": [{\"echo_body\": "
                "true}]}]";
        static const char payload[] = "ping\0pong";
        const sm_header hdrs[] = {{.name = "Content-Type", .value = "application/x-amz-json-1.1"}};
        sm_http_request post = {
                .body = payload, .body_len = sizeof(payload) - 1, .headers = hdrs, .n_headers = 1};
        result get = {0}, echo = {0};
        json_t *log;
        ctx c;

        ctx_start(&c, script, NULL);
        submit(&c, "GET", "/hello", NULL, &get);
        wait_done(&c, &get);
        ck_assert_int_eq(get.error, 0);
        ck_assert_ptr_null(get.error_text);
        ck_assert_int_eq(get.status, 200);
        ck_assert_uint_eq(get.body_len, 11);
        ck_assert_str_eq(get.body, "hello world");

        submit(&c, "POST", "/echo", &post, &echo);
        wait_done(&c, &echo);
        ck_assert_int_eq(echo.error, 0);
        ck_assert_int_eq(echo.status, 200);
        ck_assert_uint_eq(echo.body_len, sizeof(payload) - 1);
        ck_assert_mem_eq(echo.body, payload, sizeof(payload) - 1);
        ck_assert_int_eq(echo.body[echo.body_len], '\0');

        log = sm_fixture_requests(&c.fx);
        ck_assert_ptr_nonnull(log);
        ck_assert_uint_eq(json_array_size(log), 2);
        ck_assert_str_eq(log_str(json_array_get(log, 0), "method"), "GET");
        ck_assert_str_eq(log_str(json_array_get(log, 0), "path"), "/hello");
        ck_assert_str_eq(log_str(json_array_get(log, 1), "method"), "POST");
        ck_assert_str_eq(log_header(json_array_get(log, 1), "content-length"), "9");
        ck_assert_uint_eq(json_string_length(json_object_get(json_array_get(log, 1), "body")), 9);
        ck_assert_str_eq(log_header(json_array_get(log, 1), "content-type"),
                         "application/x-amz-json-1.1");
        /* No "Expect: 100-continue" round trip. */
        ck_assert_ptr_null(log_header(json_array_get(log, 1), "expect"));
        ck_assert_str_eq(log_header(json_array_get(log, 0), "user-agent"), "smstudio/" SM_VERSION);
        json_decref(log);

        result_clear(&get);
        result_clear(&echo);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_headers)
{
        static const char script[] =
                "[{\"path\": \"/h\", \"responses\": [{\"status\": 200, \"body\": \"{}\","
                "  \"headers\": {\"X-Amz-Request-Id\": \"req-1\", \"Content-Type\": "
                "\"application/json\"}}]}]";
        const sm_header hdrs[] = {
                {.name = "X-Custom", .value = "v1"},
                {.name = "X-Empty", .value = ""},
                {.name = "User-Agent", .value = "caller/1"},
        };
        sm_http_request req = {.headers = hdrs, .n_headers = ELEMENTSOF(hdrs)};
        result r = {0};
        json_t *log, *e;
        ctx c;

        ctx_start(&c, script, NULL);
        submit(&c, "GET", "/h?a=1&b=two", &req, &r);
        wait_done(&c, &r);
        ck_assert_int_eq(r.error, 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.request_id, "req-1");
        /* Names arrive lower-cased, in arrival order ("Server" comes first). */
        ck_assert_uint_ge(r.n_headers, 4);
        ck_assert_str_eq(r.first_header_name, "server");

        log = sm_fixture_requests(&c.fx);
        ck_assert_uint_eq(json_array_size(log), 1);
        e = json_array_get(log, 0);
        ck_assert_str_eq(log_str(e, "query"), "a=1&b=two");
        ck_assert_str_eq(log_header(e, "x-custom"), "v1");
        ck_assert_str_eq(log_header(e, "x-empty"), "");
        ck_assert_str_eq(log_header(e, "user-agent"), "caller/1");
        json_decref(log);

        result_clear(&r);
        ctx_stop(&c);
}
END_TEST

/* The response struct in the callback, checked in place. */
static void on_done_check_case(const sm_http_response *resp, void *userdata)
{
        bool *done = userdata;

        ck_assert_int_eq(resp->error, 0);
        for (size_t i = 0; i < resp->n_headers; i++)
                for (const char *p = resp->headers[i].name; *p; p++)
                        ck_assert_msg(*p < 'A' || *p > 'Z', "header %s not lower-cased",
                                      resp->headers[i].name);
        ck_assert_str_eq(sm_http_response_header(resp, "x-MIXED-case"), "Value With Spaces");
        ck_assert_str_eq(sm_http_response_header(resp, "content-length"), "0");
        ck_assert_ptr_null(sm_http_response_header(resp, "x-absent"));
        ck_assert_ptr_null(sm_http_response_header(NULL, "x"));
        *done = true;
}

START_TEST(test_response_header_case)
{
        static const char script[] = "[{\"path\": \"/\", \"responses\": [{\"status\": 200,"
                                     "  \"headers\": {\"X-Mixed-CASE\": \"Value With Spaces\"}}]}]";
        sm_http_request req = {.method = "GET"};
        _cleanup_free_ char *u = NULL;
        bool done = false;
        ctx c;

        ctx_start(&c, script, NULL);
        u = url(&c, "/");
        req.url = u;
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_done_check_case, &done, NULL), 0);
        ck_assert_int_eq(sm_test_run_until(&c.loop, &done, WAIT_MS), 0);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_status_codes_and_methods)
{
        static const char script[] =
                "[{\"path\": \"/err\", \"responses\": [{\"status\": 500, \"body\": \"boom\"}]},"
                " {\"path\": \"/empty\", \"responses\": [{\"status\": 204}]},"
                " {\"method\": \"PUT\", \"path\": \"/latest/api/token\","
                "  \"responses\": [{\"body\": \"tok\"}]},"
                " {\"method\": \"DELETE\", \"path\": \"/thing\", \"responses\": [{\"status\": "
                "202}]},"
                " {\"method\": \"HEAD\", \"path\": \"/head\", \"responses\": [{\"body\": "
                "\"abc\"}]}]";
        result missing = {0}, err = {0}, empty = {0}, put = {0}, del = {0}, head = {0};
        json_t *log;
        ctx c;

        ctx_start(&c, script, NULL);
        submit(&c, "GET", "/nowhere", NULL, &missing);
        submit(&c, "GET", "/err", NULL, &err);
        submit(&c, "GET", "/empty", NULL, &empty);
        submit(&c, "PUT", "/latest/api/token", NULL, &put);
        submit(&c, "DELETE", "/thing", NULL, &del);
        submit(&c, "HEAD", "/head", NULL, &head);
        wait_done(&c, &missing);
        wait_done(&c, &err);
        wait_done(&c, &empty);
        wait_done(&c, &put);
        wait_done(&c, &del);
        wait_done(&c, &head);

        /* HTTP errors are answers, not transport errors. */
        ck_assert_int_eq(missing.error, 0);
        ck_assert_int_eq(missing.status, 404);
        ck_assert_int_eq(err.error, 0);
        ck_assert_int_eq(err.status, 500);
        ck_assert_str_eq(err.body, "boom");
        ck_assert_int_eq(empty.status, 204);
        ck_assert_uint_eq(empty.body_len, 0);
        ck_assert_str_eq(empty.body, "");
        ck_assert_int_eq(put.status, 200);
        ck_assert_str_eq(put.body, "tok");
        ck_assert_int_eq(del.status, 202);
        ck_assert_int_eq(head.error, 0);
        ck_assert_int_eq(head.status, 200);
        ck_assert_uint_eq(head.body_len, 0);
        ck_assert_int_eq(sm_http_pending(c.http), 0);

        log = sm_fixture_requests(&c.fx);
        ck_assert_uint_eq(json_array_size(log), 6);
        for (size_t i = 0; i < json_array_size(log); i++) {
                json_t *e = json_array_get(log, i);

                /* An empty PUT still says how long its body is (IMDS insists). */
                if (streq(log_str(e, "method"), "PUT"))
                        ck_assert_str_eq(log_header(e, "content-length"), "0");
                if (streq(log_str(e, "method"), "DELETE"))
                        ck_assert_ptr_null(log_header(e, "content-length"));
        }
        json_decref(log);

        result_clear(&missing);
        result_clear(&err);
        result_clear(&empty);
        result_clear(&put);
        result_clear(&del);
        result_clear(&head);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_invalid_requests)
{
        const sm_header bad_name[] = {{.name = "Bad Name", .value = "x"}};
        const sm_header bad_value[] = {{.name = "X-Injected", .value = "a\r\nEvil: 1"}};
        struct {
                const char *method;
                const char *url;
                const sm_header *headers;
                size_t n_headers;
                long timeout_ms;
        } cases[] = {
                {"GET", "ftp://127.0.0.1/x", NULL, 0, 0},
                {"GET", "file:///etc/passwd", NULL, 0, 0},
                {"GET", "not a url", NULL, 0, 0},
                {"GET", "", NULL, 0, 0},
                {"", "http://127.0.0.1/", NULL, 0, 0},
                {"GE T", "http://127.0.0.1/", NULL, 0, 0},
                {"GET", "http://127.0.0.1/", bad_name, 1, 0},
                {"GET", "http://127.0.0.1/", bad_value, 1, 0},
                {"GET", "http://127.0.0.1/", NULL, 0, -1},
        };
        sm_http_request req = {.method = "GET", .url = "http://127.0.0.1/"};
        result r = {0};
        sm_http *h = NULL;
        sm_http_options bad_opts = {.timeout_ms = -5};
        ctx c;

        ctx_start(&c, NULL, NULL);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                sm_http_request q = {.method = cases[i].method,
                                     .url = cases[i].url,
                                     .headers = cases[i].headers,
                                     .n_headers = cases[i].n_headers,
                                     .timeout_ms = cases[i].timeout_ms};

                ck_assert_msg(sm_http_submit(c.http, &q, on_done, &r, NULL) == -EINVAL,
                              "case %zu accepted", i);
        }
        ck_assert_int_eq(sm_http_submit(c.http, NULL, on_done, &r, NULL), -EINVAL);
        ck_assert_int_eq(sm_http_submit(c.http, &req, NULL, &r, NULL), -EINVAL);
        req.body_len = 3;
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_done, &r, NULL), -EINVAL);
        ck_assert_int_eq(sm_http_pending(c.http), 0);

        ck_assert_int_eq(sm_http_new(NULL, NULL, &h), -EINVAL);
        ck_assert_int_eq(sm_http_new(&c.loop, &bad_opts, &h), -EINVAL);
        ck_assert_ptr_null(h);
        ck_assert_ptr_null(sm_http_free(NULL));
        sm_http_cancel(NULL);
        ck_assert(!r.done);
        ctx_stop(&c);
}
END_TEST

/* Each answer submits the next request from inside the callback. */
typedef struct chain {
        ctx *c;
        int left;
        bool done;
        int error;
} chain;

static void on_chain(const sm_http_response *resp, void *userdata)
{
        chain *ch = userdata;
        _cleanup_free_ char *u = NULL;
        sm_http_request req = {.method = "GET"};

        if (resp->error != 0 || resp->status != 200) {
                ch->error = resp->error ? resp->error : -EIO;
                ch->done = true;
                return;
        }
        if (--ch->left == 0) {
                ch->done = true;
                return;
        }
        u = url(ch->c, "/again");
        req.url = u;
        ck_assert_int_eq(sm_http_submit(ch->c->http, &req, on_chain, ch, NULL), 0);
}

START_TEST(test_connection_reuse)
{
        static const char script[] =
                "[{\"path\": \"/again\", \"responses\": [{\"body\": \"ok\"}]}]";
        sm_http_request req = {.method = "GET"};
        _cleanup_free_ char *u = NULL;
        chain ch = {.left = 4};
        json_t *log;
        ctx c;

        ctx_start(&c, script, NULL);
        ch.c = &c;
        u = url(&c, "/again");
        req.url = u;
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_chain, &ch, NULL), 0);
        ck_assert_int_eq(sm_test_run_until(&c.loop, &ch.done, WAIT_MS), 0);
        ck_assert_int_eq(ch.error, 0);

        /* Sequential requests to one host share one kept-alive connection. */
        log = sm_fixture_requests(&c.fx);
        ck_assert_uint_eq(json_array_size(log), 4);
        for (size_t i = 0; i < 4; i++)
                ck_assert_int_eq(log_int(json_array_get(log, i), "conn"),
                                 log_int(json_array_get(log, 0), "conn"));
        json_decref(log);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_concurrency_bound)
{
        static const char script[] =
                "[{\"path\": \"/slow*\", \"responses\": [{\"delay_ms\": 300, \"body\": \"ok\"}]}]";
        sm_http_options opts = {.max_in_flight = 2};
        result r[6] = {{0}};
        json_int_t max_seen = 0;
        json_t *log;
        ctx c;

        ctx_start(&c, script, &opts);
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                char path[16];

                snprintf(path, sizeof(path), "/slow%zu", i);
                submit(&c, "GET", path, NULL, &r[i]);
        }
        ck_assert_uint_eq(sm_http_pending(c.http), 6);
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                wait_done(&c, &r[i]);
                ck_assert_int_eq(r[i].error, 0);
                ck_assert_int_eq(r[i].status, 200);
        }
        ck_assert_uint_eq(sm_http_pending(c.http), 0);

        /* The server counts requests it holds unanswered when each arrives. */
        log = sm_fixture_requests(&c.fx);
        ck_assert_uint_eq(json_array_size(log), 6);
        for (size_t i = 0; i < json_array_size(log); i++) {
                json_int_t n = log_int(json_array_get(log, i), "in_flight");

                ck_assert_int_le(n, 2);
                if (n > max_seen)
                        max_seen = n;
        }
        /* And the bound is used, not just respected. */
        ck_assert_int_eq(max_seen, 2);
        json_decref(log);

        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                result_clear(&r[i]);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_queue_fifo)
{
        static const char script[] =
                "[{\"path\": \"/q*\", \"responses\": [{\"delay_ms\": 20, \"body\": \"ok\"}]}]";
        sm_http_options opts = {.max_in_flight = 1};
        result r[5] = {{0}};
        json_t *log;
        ctx c;

        ctx_start(&c, script, &opts);
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                char path[16];

                snprintf(path, sizeof(path), "/q%zu", i);
                submit(&c, "GET", path, NULL, &r[i]);
        }
        wait_done(&c, &r[ELEMENTSOF(r) - 1]);
        log = sm_fixture_requests(&c.fx);
        ck_assert_uint_eq(json_array_size(log), ELEMENTSOF(r));
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                char path[16];

                snprintf(path, sizeof(path), "/q%zu", i);
                ck_assert_int_eq(r[i].order, (int)i + 1);
                ck_assert_str_eq(log_str(json_array_get(log, i), "path"), path);
                ck_assert_int_eq(log_int(json_array_get(log, i), "in_flight"), 1);
                result_clear(&r[i]);
        }
        json_decref(log);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_connect_refused)
{
        sm_http_request req = {.method = "GET", .connect_timeout_ms = 2000};
        _cleanup_free_ char *u = NULL;
        result r = {0};
        ctx c;

        ctx_start(&c, NULL, NULL);
        ck_assert_int_gt(asprintf(&u, "http://127.0.0.1:%u/x", closed_port()), 0);
        req.url = u;
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_done, &r, NULL), 0);
        wait_done(&c, &r);
        ck_assert_int_eq(r.error, -ECONNREFUSED);
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_nonnull(r.error_text);
        ck_assert_uint_eq(r.body_len, 0);
        result_clear(&r);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_total_timeout)
{
        static const char script[] = "[{\"path\": \"/stall\", \"responses\": [{\"delay_ms\": "
                                     "30000, \"body\": \"late\"}]}]";
        sm_http_request req = {.timeout_ms = 300};
        uint64_t start;
        result r = {0};
        ctx c;

        ctx_start(&c, script, NULL);
        start = uv_hrtime();
        submit(&c, "GET", "/stall", &req, &r);
        wait_done(&c, &r);
        ck_assert_int_eq(r.error, -ETIMEDOUT);
        ck_assert_ptr_nonnull(r.error_text);
        /* Bounded: well before the server would have answered. */
        ck_assert_uint_ge(uv_hrtime() - start, 250 * 1000000ull);
        ck_assert_uint_lt(uv_hrtime() - start, 10000 * 1000000ull);
        result_clear(&r);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_engine_default_timeout)
{
        static const char script[] =
                "[{\"path\": \"/stall\", \"responses\": [{\"delay_ms\": 30000}]}]";
        sm_http_options opts = {.timeout_ms = 200};
        result r = {0};
        ctx c;

        ctx_start(&c, script, &opts);
        submit(&c, "GET", "/stall", NULL, &r);
        wait_done(&c, &r);
        ck_assert_int_eq(r.error, -ETIMEDOUT);
        result_clear(&r);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_connection_reset)
{
        /* Documented mapping: a reset, or the peer vanishing mid-answer,
         * is -ECONNRESET. */
        static const char script[] = "[{\"path\": \"/rst\", \"responses\": [{\"reset\": true}]},"
                                     " {\"path\": \"/cut\", \"responses\": [{\"body_size\": 1000, "
                                     "\"reset_after_bytes\": 10}]}]";
        result rst = {0}, cut = {0};
        ctx c;

        ctx_start(&c, script, NULL);
        submit(&c, "GET", "/rst", NULL, &rst);
        submit(&c, "GET", "/cut", NULL, &cut);
        wait_done(&c, &rst);
        wait_done(&c, &cut);
        ck_assert_int_eq(rst.error, -ECONNRESET);
        ck_assert_int_eq(rst.status, 0);
        ck_assert_int_eq(cut.error, -ECONNRESET);
        ck_assert_uint_eq(cut.body_len, 0);
        result_clear(&rst);
        result_clear(&cut);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_response_size_limit)
{
        static const char script[] =
                "[{\"path\": \"/big\", \"responses\": [{\"body_size\": 5000}]},"
                " {\"path\": \"/bigchunked\", \"responses\": [{\"body_size\": 5000, "
                "\"chunked\": true}]},"
                " {\"path\": \"/fits\", \"responses\": [{\"body_size\": 1000, \"chunked\": "
                "true}]}]";
        sm_http_options opts = {.max_response_bytes = 1000};
        result big = {0}, chunked = {0}, fits = {0};
        ctx c;

        ctx_start(&c, script, &opts);
        submit(&c, "GET", "/big", NULL, &big);
        submit(&c, "GET", "/bigchunked", NULL, &chunked);
        submit(&c, "GET", "/fits", NULL, &fits);
        wait_done(&c, &big);
        wait_done(&c, &chunked);
        wait_done(&c, &fits);
        /* Known size up front (Content-Length) and discovered while reading. */
        ck_assert_int_eq(big.error, -EMSGSIZE);
        ck_assert_int_eq(chunked.error, -EMSGSIZE);
        ck_assert_uint_eq(chunked.body_len, 0);
        ck_assert_int_eq(fits.error, 0);
        ck_assert_uint_eq(fits.body_len, 1000);
        result_clear(&big);
        result_clear(&chunked);
        result_clear(&fits);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_cancel_queued_and_running)
{
        static const char script[] =
                "[{\"path\": \"/hold\", \"responses\": [{\"delay_ms\": 30000}]},"
                " {\"path\": \"/next\", \"responses\": [{\"body\": \"ran\"}]}]";
        sm_http_options opts = {.max_in_flight = 1};
        result running = {0}, queued = {0}, next = {0};
        sm_http_xfer *xr, *xq;
        json_t *log;
        ctx c;

        ctx_start(&c, script, &opts);
        xr = submit(&c, "GET", "/hold", NULL, &running);
        xq = submit(&c, "GET", "/queued", NULL, &queued);
        submit(&c, "GET", "/next", NULL, &next);
        /* The first is in the server's hands; the others wait in our queue. */
        ck_assert_int_eq(sm_fixture_wait_requests(&c.fx, &c.loop, 1, WAIT_MS), 0);
        ck_assert_uint_eq(sm_http_pending(c.http), 3);

        in_api_call = true;
        sm_http_cancel(xq);
        in_api_call = false;
        ck_assert(!queued.done);
        wait_done(&c, &queued);
        ck_assert_int_eq(queued.error, -ECANCELED);
        ck_assert(!running.done);

        in_api_call = true;
        sm_http_cancel(xr);
        in_api_call = false;
        ck_assert(!running.done);
        wait_done(&c, &running);
        ck_assert_int_eq(running.error, -ECANCELED);
        ck_assert_int_eq(running.status, 0);

        /* The freed slot goes to the next in line. */
        wait_done(&c, &next);
        ck_assert_int_eq(next.error, 0);
        ck_assert_str_eq(next.body, "ran");
        ck_assert_int_eq(queued.order, 1);
        ck_assert_int_eq(running.order, 2);
        ck_assert_int_eq(next.order, 3);

        log = sm_fixture_requests(&c.fx);
        ck_assert_uint_eq(json_array_size(log), 2);
        ck_assert_str_eq(log_str(json_array_get(log, 0), "path"), "/hold");
        ck_assert_str_eq(log_str(json_array_get(log, 1), "path"), "/next");
        json_decref(log);

        result_clear(&running);
        result_clear(&queued);
        result_clear(&next);
        ctx_stop(&c);
}
END_TEST

START_TEST(test_free_with_pending)
{
        static const char script[] =
                "[{\"path\": \"/hold\", \"responses\": [{\"delay_ms\": 30000}]}]";
        sm_http_options opts = {.max_in_flight = 2};
        result r[4] = {{0}};
        ctx c;

        ctx_start(&c, script, &opts);
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                submit(&c, "GET", "/hold", NULL, &r[i]);
        ck_assert_int_eq(sm_fixture_wait_requests(&c.fx, &c.loop, 2, WAIT_MS), 0);

        in_api_call = true;
        c.http = sm_http_free(c.http);
        in_api_call = false;
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                ck_assert(!r[i].done);
        /* Everything is called back and every handle closed, from the loop. */
        ck_assert_int_eq(sm_test_run_drain(&c.loop, WAIT_MS), 0);
        for (size_t i = 0; i < ELEMENTSOF(r); i++) {
                ck_assert_int_eq(r[i].calls, 1);
                ck_assert_int_eq(r[i].error, -ECANCELED);
                result_clear(&r[i]);
        }
        ctx_stop(&c);
}
END_TEST

START_TEST(test_free_idle_engine)
{
        ctx c;

        ctx_start(&c, NULL, NULL);
        ctx_stop(&c);
}
END_TEST

/* Re-entrancy: a callback cancels another transfer and submits a new one. */
typedef struct juggler {
        ctx *c;
        sm_http_xfer *victim;
        result *victim_result;
        result late;
        result first;
} juggler;

static void on_juggle(const sm_http_response *resp, void *userdata)
{
        juggler *j = userdata;
        sm_http_request req = {.method = "GET"};
        _cleanup_free_ char *u = url(j->c, "/fast");

        ck_assert(!in_api_call);
        ck_assert_int_eq(resp->error, 0);
        j->first.done = true;
        /* Not called back from inside the cancel, even from a callback. */
        sm_http_cancel(j->victim);
        ck_assert(!j->victim_result->done);
        req.url = u;
        ck_assert_int_eq(sm_http_submit(j->c->http, &req, on_done, &j->late, NULL), 0);
        ck_assert(!j->late.done);
}

START_TEST(test_reentrant_callbacks)
{
        static const char script[] =
                "[{\"path\": \"/fast\", \"responses\": [{\"body\": \"ok\"}]},"
                " {\"path\": \"/hold\", \"responses\": [{\"delay_ms\": 30000}]}]";
        sm_http_request req = {.method = "GET"};
        _cleanup_free_ char *u = NULL;
        result victim = {0};
        juggler j = {0};
        ctx c;

        ctx_start(&c, script, NULL);
        j.c = &c;
        j.victim_result = &victim;
        j.victim = submit(&c, "GET", "/hold", NULL, &victim);
        ck_assert_int_eq(sm_fixture_wait_requests(&c.fx, &c.loop, 1, WAIT_MS), 0);
        u = url(&c, "/fast");
        req.url = u;
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_juggle, &j, NULL), 0);

        wait_done(&c, &victim);
        ck_assert_int_eq(victim.error, -ECANCELED);
        wait_done(&c, &j.late);
        ck_assert_int_eq(j.late.error, 0);
        ck_assert_str_eq(j.late.body, "ok");
        result_clear(&victim);
        result_clear(&j.late);
        ctx_stop(&c);
}
END_TEST

/* A callback frees the engine while others are still pending, and the
 * callbacks of those submit again: all of it must be called back. */
typedef struct freer {
        ctx *c;
        result others[3];
        result resubmitted[3];
        int cancelled;
} freer;

static void on_resubmit(const sm_http_response *resp, void *userdata)
{
        freer *f = userdata;
        sm_http_request req = {.method = "GET", .url = "http://127.0.0.1:9/"};

        ck_assert_int_eq(resp->error, -ECANCELED);
        ck_assert_int_lt(f->cancelled, 3);
        ck_assert_int_eq(
                sm_http_submit(f->c->http, &req, on_done, &f->resubmitted[f->cancelled], NULL), 0);
        f->cancelled++;
}

static void on_free_engine(const sm_http_response *resp, void *userdata)
{
        freer *f = userdata;

        ck_assert_int_eq(resp->error, 0);
        sm_http_free(f->c->http);
}

START_TEST(test_free_from_callback)
{
        static const char script[] =
                "[{\"path\": \"/fast\", \"responses\": [{\"body\": \"ok\"}]},"
                " {\"path\": \"/hold\", \"responses\": [{\"delay_ms\": 30000}]}]";
        sm_http_options opts = {.max_in_flight = 2};
        sm_http_request req = {.method = "GET"};
        _cleanup_free_ char *fast = NULL, *hold = NULL;
        freer f = {0};
        ctx c;

        ctx_start(&c, script, &opts);
        f.c = &c;
        fast = url(&c, "/fast");
        hold = url(&c, "/hold");
        req.url = hold;
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_resubmit, &f, NULL), 0);
        req.url = fast;
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_free_engine, &f, NULL), 0);
        req.url = hold;
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_resubmit, &f, NULL), 0);
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_resubmit, &f, NULL), 0);

        ck_assert_int_eq(sm_test_run_drain(&c.loop, WAIT_MS), 0);
        ck_assert_int_eq(f.cancelled, 3);
        for (size_t i = 0; i < 3; i++) {
                ck_assert_int_eq(f.resubmitted[i].calls, 1);
                ck_assert_int_eq(f.resubmitted[i].error, -ECANCELED);
                result_clear(&f.resubmitted[i]);
        }
        ck_assert_int_eq(uv_loop_close(&c.loop), 0);
        sm_fixture_stop(&c.fx);
}
END_TEST

START_TEST(test_https)
{
        static const char script[] =
                "[{\"path\": \"/tls\", \"responses\": [{\"body\": \"secret\"}]}]";
        _cleanup_free_ char *ca = NULL, *cert = NULL, *key = NULL, *u = NULL;
        sm_http_request req = {.method = "GET"};
        sm_http_options opts = {0};
        sm_http *trusting = NULL;
        result ok = {0}, bad = {0};
        ctx c;

        ctx_start(&c, NULL, NULL);
        c.tmp = sm_test_tmpdir();
        ck_assert_int_eq(sm_fixture_make_tls(c.tmp, &ca, &cert, &key), 0);
        ck_assert_int_eq(sm_fixture_start(script, cert, key, &c.fx), 0);
        ck_assert(strncmp(sm_fixture_url(&c.fx), "https://", 8) == 0);
        u = url(&c, "/tls");
        req.url = u;

        opts.ca_bundle = ca;
        ck_assert_int_eq(sm_http_new(&c.loop, &opts, &trusting), 0);
        ck_assert_int_eq(sm_http_submit(trusting, &req, on_done, &ok, NULL), 0);
        /* Default store: our throwaway CA is unknown, verification fails. */
        ck_assert_int_eq(sm_http_submit(c.http, &req, on_done, &bad, NULL), 0);
        wait_done(&c, &ok);
        wait_done(&c, &bad);
        ck_assert_int_eq(ok.error, 0);
        ck_assert_int_eq(ok.status, 200);
        ck_assert_str_eq(ok.body, "secret");
        ck_assert_int_eq(bad.error, -EPROTO);
        ck_assert_int_eq(bad.status, 0);
        ck_assert_ptr_nonnull(bad.error_text);

        sm_http_free(trusting);
        result_clear(&ok);
        result_clear(&bad);
        ctx_stop(&c);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("http");
        TCase *basics = tcase_create("basics");
        TCase *limits = tcase_create("limits");
        TCase *failures = tcase_create("failures");
        TCase *lifecycle = tcase_create("lifecycle");

        tcase_set_timeout(basics, 60);
        tcase_add_test(basics, test_get_and_post_echo);
        tcase_add_test(basics, test_headers);
        tcase_add_test(basics, test_response_header_case);
        tcase_add_test(basics, test_status_codes_and_methods);
        tcase_add_test(basics, test_invalid_requests);
        tcase_add_test(basics, test_connection_reuse);
        tcase_add_test(basics, test_https);
        suite_add_tcase(s, basics);

        tcase_set_timeout(limits, 60);
        tcase_add_test(limits, test_concurrency_bound);
        tcase_add_test(limits, test_queue_fifo);
        tcase_add_test(limits, test_response_size_limit);
        suite_add_tcase(s, limits);

        tcase_set_timeout(failures, 60);
        tcase_add_test(failures, test_connect_refused);
        tcase_add_test(failures, test_total_timeout);
        tcase_add_test(failures, test_engine_default_timeout);
        tcase_add_test(failures, test_connection_reset);
        suite_add_tcase(s, failures);

        tcase_set_timeout(lifecycle, 60);
        tcase_add_test(lifecycle, test_cancel_queued_and_running);
        tcase_add_test(lifecycle, test_free_with_pending);
        tcase_add_test(lifecycle, test_free_idle_engine);
        tcase_add_test(lifecycle, test_reentrant_callbacks);
        tcase_add_test(lifecycle, test_free_from_callback);
        suite_add_tcase(s, lifecycle);
        return s;
}

SM_CHECK_MAIN(make_suite)
