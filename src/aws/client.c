/* SPDX-License-Identifier: Apache-2.0 */
/* The generic AWS call: credentials -> encode -> sign -> send -> decode, with
 * the SDK retry rules around it. Every step that waits (credentials, the
 * network, a backoff) is a callback on the loop; a call owns one uv timer for
 * its deferred start and its backoffs, and its memory is freed only in that
 * timer's close callback. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "smstudio/client.h"
#include "smstudio/log.h"
#include "smstudio/protocol.h"
#include "smstudio/retry.h"
#include "smstudio/sigv4.h"
#include "smstudio/strbuf.h"
#include "smstudio/timeutil.h"

/* Credentials with this provider name are not signed at all (STS
 * AssumeRoleWithWebIdentity is an unsigned call). */
#define ANONYMOUS_PROVIDER "anonymous"

/* A skewed clock is corrected once per call; a second skew answer is final. */
#define MAX_SKEW_RETRIES 1
/* Expired credentials are refreshed and the attempt repeated once per call. */
#define MAX_EXPIRED_RETRIES 1

typedef struct aws_call aws_call;

struct sm_aws_client {
        uv_loop_t *loop;
        sm_http *http;
        const sm_aws_settings *settings;
        sm_creds_provider *creds;

        sm_endpoint endpoints[_SM_SERVICE_MAX];
        char *endpoint_errors[_SM_SERVICE_MAX];

        sm_sigv4_cache *sigv4_cache;
        sm_retry_quota quota;
        sm_rate_limiter limiter;
        /* Server time minus local time, learned from clock-skew answers. */
        int64_t clock_offset_s;

        double (*rand01)(void *);
        void *rand_userdata;
        uint64_t rand_state;

        sm_aws_client_stats stats;
        sm_aws_call_observer_fn observer;
        void *observer_userdata;

        aws_call *calls; /* every call not yet freed */
        unsigned n_calls;
        bool freeing;
};

typedef enum call_state {
        CALL_STARTING,    /* timer armed for the deferred start or a backoff */
        CALL_CREDENTIALS, /* waiting for the credentials provider */
        CALL_SENDING,     /* HTTP transfer in flight */
        CALL_FINISHED,    /* done was called; timer closing */
} call_state;

struct aws_call {
        sm_aws_client *client;
        aws_call *prev, *next;
        uv_timer_t timer;

        sm_service_id service;
        char *operation;
        sm_encoded_request request;

        call_state state;
        unsigned attempt;   /* attempts made so far */
        unsigned last_cost; /* retry tokens taken for the attempt in flight */
        unsigned skew_retries;
        unsigned expired_retries;
        unsigned throttles; /* throttling answers, for the observer */
        bool cancelled;
        sm_http_xfer *xfer;
        sm_aws_error error;
        char *request_id;

        sm_aws_done_fn done;
        void *userdata;
};

static void call_send(aws_call *call, sm_credentials *creds);
static void call_start_attempt(aws_call *call);

static double default_rand01(void *userdata)
{
        sm_aws_client *c = userdata;
        uint64_t x = c->rand_state;

        /* xorshift64*: jitter needs spread, not secrecy. */
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c->rand_state = x;
        return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

int sm_aws_client_new(uv_loop_t *loop, sm_http *http, const sm_aws_settings *settings,
                      sm_creds_provider *creds, sm_aws_client **ret)
{
        sm_aws_client *c;

        if (!loop || !http || !settings || !creds || !ret)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->loop = loop;
        c->http = http;
        c->settings = settings;
        c->creds = creds;
        c->sigv4_cache = sm_sigv4_cache_new();
        if (!c->sigv4_cache) {
                free(c);
                return -ENOMEM;
        }
        sm_retry_quota_init(&c->quota);
        sm_rate_limiter_init(&c->limiter, sm_now_monotonic_s());
        c->limiter.enabled = settings->retry.mode == SM_RETRY_ADAPTIVE;
        if (getrandom(&c->rand_state, sizeof(c->rand_state), 0) != sizeof(c->rand_state) ||
            c->rand_state == 0)
                c->rand_state = sm_now_monotonic_ms() | 1;
        c->rand01 = default_rand01;
        c->rand_userdata = c;

        /* Resolve every endpoint once: a bad one is reported per call, so a
         * misconfigured Service Catalog URL cannot stop SageMaker calls. */
        for (int id = 0; id < _SM_SERVICE_MAX; id++) {
                sm_endpoint_settings es;
                char *error = NULL;
                int r;

                sm_aws_settings_endpoint(settings, (sm_service_id)id, &es);
                r = sm_endpoint_resolve(sm_aws_service_get((sm_service_id)id), &es,
                                        &c->endpoints[id], &error);
                if (r < 0) {
                        c->endpoints[id] = (sm_endpoint){0};
                        c->endpoint_errors[id] = error ? error : strdup(strerror(-r));
                }
        }
        *ret = c;
        return 0;
}

static void client_destroy(sm_aws_client *c)
{
        for (int id = 0; id < _SM_SERVICE_MAX; id++) {
                sm_endpoint_done(&c->endpoints[id]);
                free(c->endpoint_errors[id]);
        }
        sm_sigv4_cache_free(c->sigv4_cache);
        free(c);
}

static void call_free(aws_call *call)
{
        sm_aws_client *c = call->client;

        if (call->prev)
                call->prev->next = call->next;
        else
                c->calls = call->next;
        if (call->next)
                call->next->prev = call->prev;
        c->n_calls--;

        free(call->operation);
        sm_encoded_request_done(&call->request);
        sm_aws_error_clear(&call->error);
        free(call->request_id);
        free(call);

        if (c->freeing && c->n_calls == 0)
                client_destroy(c);
}

static void on_call_timer_closed(uv_handle_t *h)
{
        call_free(h->data);
}

/* Report the outcome (once) and start tearing the call down. */
static void call_finish(aws_call *call, json_t *output)
{
        sm_aws_client *c = call->client;
        sm_aws_done_fn done = call->done;

        call->state = CALL_FINISHED;
        call->done = NULL;
        if (call->error.code)
                c->stats.failures++;
        if (done && c->observer) {
                const char *code = call->error.code;
                sm_aws_call_info info = {
                        .service = call->service,
                        .service_name = sm_aws_service_get(call->service)->name,
                        .operation = call->operation,
                        .outcome = !code                                        ? "ok"
                                   : streq(code, "Cancelled")                   ? "cancelled"
                                   : call->error.klass == SM_AWS_ERROR_THROTTLE ? "throttled"
                                                                                : "error",
                        .error_code = code,
                        .attempts = call->attempt,
                        .throttles = call->throttles,
                };
                c->observer(&info, c->observer_userdata);
        }
        if (done) {
                sm_aws_response r = {
                        .output = call->error.code ? NULL : output,
                        .error = call->error.code ? &call->error : NULL,
                        .attempts = call->attempt,
                        .request_id = call->request_id,
                };
                done(&r, call->userdata);
        }
        uv_timer_stop(&call->timer);
        uv_close((uv_handle_t *)&call->timer, on_call_timer_closed);
}

static void call_fail(aws_call *call, const char *code, const char *message)
{
        sm_aws_error_set_transport(&call->error, 0, code, message);
        call->error.klass = SM_AWS_ERROR_TERMINAL;
        call_finish(call, NULL);
}

static void on_call_timer(uv_timer_t *t)
{
        aws_call *call = t->data;

        if (call->cancelled) {
                call_fail(call, "Cancelled", "the client was shut down");
                return;
        }
        call_start_attempt(call);
}

static void call_schedule(aws_call *call, uint64_t delay_ms)
{
        call->state = CALL_STARTING;
        uv_timer_start(&call->timer, on_call_timer, delay_ms, 0);
}

static void on_credentials(int r, sm_credentials *creds, const char *error, void *userdata)
{
        aws_call *call = userdata;

        if (call->cancelled || r == -ECANCELED) {
                call_fail(call, "Cancelled", "the client was shut down");
                return;
        }
        if (r < 0) {
                call_fail(call, "NoCredentials", error ? error : "no AWS credentials");
                return;
        }
        call_send(call, creds);
}

static void call_start_attempt(aws_call *call)
{
        sm_aws_client *c = call->client;
        sm_credentials *creds;
        uint64_t wait_ms;
        int r;

        if (c->endpoint_errors[call->service]) {
                call_fail(call, "InvalidEndpoint", c->endpoint_errors[call->service]);
                return;
        }
        /* Adaptive mode may hold back even the first attempt. */
        wait_ms = sm_rate_limiter_acquire_delay_ms(&c->limiter, sm_now_monotonic_s());
        if (wait_ms > 0) {
                call_schedule(call, wait_ms);
                return;
        }
        creds = sm_creds_provider_peek(c->creds);
        if (creds) {
                call_send(call, creds);
                return;
        }
        call->state = CALL_CREDENTIALS;
        r = sm_creds_provider_get(c->creds, on_credentials, call);
        if (r < 0)
                call_fail(call, "NoCredentials", strerror(-r));
}

/* The path part of an endpoint URL ("/" when it has none). */
static const char *url_path(const char *url)
{
        const char *p = strstr(url, "://");
        const char *slash;

        if (!p)
                return "/";
        slash = strchr(p + 3, '/');
        return slash ? slash : "/";
}

static void on_http_done(const sm_http_response *resp, void *userdata);

static void call_send(aws_call *call, sm_credentials *creds)
{
        sm_aws_client *c = call->client;
        const sm_endpoint *ep = &c->endpoints[call->service];
        sm_header headers[7];
        size_t n = 0;
        char amz_date[17], *url = NULL;
        const char *path = url_path(ep->url);
        sm_sigv4_signature sig = {0};
        bool sign = !streq(creds->provider, ANONYMOUS_PROVIDER);
        sm_http_request req;
        int r;

        sm_sigv4_format_date((time_t)(sm_now_unix() + c->clock_offset_s), amz_date);
        headers[n++] = (sm_header){"Host", ep->host};
        headers[n++] = (sm_header){"Content-Type", (char *)call->request.content_type};
        headers[n++] = (sm_header){"X-Amz-Date", amz_date};
        if (call->request.target)
                headers[n++] = (sm_header){"X-Amz-Target", call->request.target};
        if (sign && creds->session_token)
                headers[n++] = (sm_header){"X-Amz-Security-Token", creds->session_token};

        if (sign) {
                sm_sigv4_request sreq = {
                        .method = "POST",
                        .path = path,
                        .query = NULL,
                        .headers = headers,
                        .n_headers = n,
                        .payload = call->request.body.data,
                        .payload_len = call->request.body.len,
                        .normalize_path = true,
                };

                r = sm_sigv4_sign(c->sigv4_cache, &sreq, creds->access_key_id,
                                  creds->secret_access_key, ep->signing_region, ep->signing_name,
                                  amz_date, &sig);
                if (r < 0) {
                        call_fail(call, "SigningError", "could not sign the request");
                        return;
                }
                headers[n++] = (sm_header){"Authorization", sig.authorization};
        }

        /* AWS JSON and Query requests go to the endpoint's own path: "/" for
         * the defaults, or whatever base path an override URL carries. */
        {
                sm_buf b = {0};

                if (sm_buf_printf(&b, "%s%s", ep->url, streq(path, "/") ? "/" : "") < 0) {
                        sm_sigv4_signature_done(&sig);
                        call_fail(call, "InternalError", "out of memory");
                        return;
                }
                url = sm_buf_steal(&b);
        }
        req = (sm_http_request){
                .method = "POST",
                .url = url,
                .headers = headers,
                .n_headers = n,
                .body = call->request.body.data,
                .body_len = call->request.body.len,
        };
        call->attempt++;
        c->stats.attempts++;
        call->state = CALL_SENDING;
        r = sm_http_submit(c->http, &req, on_http_done, call, &call->xfer);
        free(url);
        sm_sigv4_signature_done(&sig);
        if (r < 0) {
                call->xfer = NULL;
                call_fail(call, "InternalError", "could not queue the HTTP request");
        }
}

static const char *transport_code(int error)
{
        switch (error) {
        case -ETIMEDOUT:
                return "Timeout";
        case -EPROTO:
                return "TLSError";
        case -EMSGSIZE:
                return "ResponseTooLarge";
        case -ECANCELED:
                return "Cancelled";
        default:
                return "ConnectionError";
        }
}

/* Learn the clock offset from the answer's Date header. */
static bool learn_clock_offset(sm_aws_client *c, const sm_http_response *resp)
{
        const char *date = sm_http_response_header(resp, "date");
        int64_t server;

        if (!date || sm_parse_http_date(date, &server) < 0)
                return false;
        c->clock_offset_s = server - sm_now_unix();
        sm_log_debug("AWS says our clock is off; correcting by %lld s",
                     (long long)c->clock_offset_s);
        return true;
}

static void on_http_done(const sm_http_response *resp, void *userdata)
{
        aws_call *call = userdata;
        sm_aws_client *c = call->client;
        const sm_aws_service *svc = sm_aws_service_get(call->service);
        json_t *output = NULL;
        const char *rid;
        sm_retry_decision d;
        int r;

        call->xfer = NULL;
        if (call->cancelled || resp->error == -ECANCELED) {
                call_fail(call, "Cancelled", "the call was cancelled");
                return;
        }

        sm_aws_error_clear(&call->error);
        if (resp->error < 0) {
                sm_aws_error_set_transport(&call->error, resp->error, transport_code(resp->error),
                                           resp->error_text ? resp->error_text
                                                            : strerror(-resp->error));
        } else {
                r = sm_protocol_decode(svc, call->operation, resp, &output, &call->error);
                if (r >= 0)
                        sm_aws_error_clear(&call->error);
        }

        rid = sm_http_response_header(resp, "x-amzn-requestid");
        if (!rid)
                rid = sm_http_response_header(resp, "x-amz-request-id");
        if (!rid && call->error.request_id)
                rid = call->error.request_id;
        if (!rid && output)
                rid = json_string_value(
                        json_object_get(json_object_get(output, "ResponseMetadata"), "RequestId"));
        sm_strdup_replace(&call->request_id, rid);

        if (c->limiter.enabled)
                sm_rate_limiter_update(&c->limiter, call->error.klass == SM_AWS_ERROR_THROTTLE,
                                       sm_now_monotonic_s());

        if (!call->error.code) {
                sm_retry_on_success(&c->quota, call->last_cost);
                call->last_cost = 0;
                call_finish(call, output);
                json_decref(output);
                return;
        }
        json_decref(output);

        if (call->error.klass == SM_AWS_ERROR_THROTTLE) {
                c->stats.throttles++;
                call->throttles++;
        }

        if (sm_aws_error_is_clock_skew(&call->error) && call->skew_retries < MAX_SKEW_RETRIES &&
            learn_clock_offset(c, resp)) {
                call->skew_retries++;
                c->stats.retries++;
                call_schedule(call, 0);
                return;
        }
        if (sm_aws_error_is_expired_credentials(&call->error) &&
            call->expired_retries < MAX_EXPIRED_RETRIES) {
                call->expired_retries++;
                c->stats.retries++;
                sm_creds_provider_invalidate(c->creds);
                call_schedule(call, 0);
                return;
        }

        d = sm_retry_decide(&c->settings->retry, &c->quota, &call->error, call->attempt,
                            c->rand01(c->rand_userdata),
                            sm_http_response_header(resp, "x-amz-retry-after"));
        if (!d.retry) {
                sm_log_debug("%s.%s failed after %u attempt(s): %s (%s)", svc->name,
                             call->operation, call->attempt, call->error.code, d.reason);
                call_finish(call, NULL);
                return;
        }
        sm_log_debug("%s.%s attempt %u failed with %s; retrying in %llu ms", svc->name,
                     call->operation, call->attempt, call->error.code,
                     (unsigned long long)d.delay_ms);
        call->last_cost = d.cost;
        c->stats.retries++;
        call_schedule(call, d.delay_ms);
}

int sm_aws_call(sm_aws_client *c, sm_service_id service, const char *operation, json_t *params,
                sm_aws_done_fn done, void *userdata)
{
        aws_call *call = NULL;
        int r;

        if (!c || service < 0 || service >= _SM_SERVICE_MAX || !operation || !done || c->freeing) {
                json_decref(params);
                return -EINVAL;
        }
        call = calloc(1, sizeof(*call));
        if (!call) {
                r = -ENOMEM;
                goto fail;
        }
        call->operation = strdup(operation);
        if (!call->operation) {
                r = -ENOMEM;
                goto fail;
        }
        r = sm_protocol_encode(sm_aws_service_get(service), operation, params, &call->request);
        if (r < 0)
                goto fail;
        json_decref(params);
        params = NULL;

        call->client = c;
        call->service = service;
        call->done = done;
        call->userdata = userdata;
        uv_timer_init(c->loop, &call->timer);
        call->timer.data = call;
        call->next = c->calls;
        if (c->calls)
                c->calls->prev = call;
        c->calls = call;
        c->n_calls++;
        c->stats.calls++;
        /* Start from the loop so done never runs inside this function. */
        call_schedule(call, 0);
        return 0;

fail:
        json_decref(params);
        if (call) {
                free(call->operation);
                sm_encoded_request_done(&call->request);
                free(call);
        }
        return r;
}

sm_aws_client *sm_aws_client_free(sm_aws_client *c)
{
        aws_call *call, *next;

        if (!c)
                return NULL;
        c->freeing = true;
        for (call = c->calls; call; call = next) {
                next = call->next;
                if (call->state == CALL_FINISHED)
                        continue;
                call->cancelled = true;
                switch (call->state) {
                case CALL_STARTING:
                        uv_timer_stop(&call->timer);
                        call_fail(call, "Cancelled", "the client was shut down");
                        break;
                case CALL_SENDING:
                        /* Its done callback arrives from the loop with -ECANCELED. */
                        if (call->xfer)
                                sm_http_cancel(call->xfer);
                        break;
                case CALL_CREDENTIALS:
                        /* The provider calls back (at the latest when it is freed). */
                        break;
                case CALL_FINISHED:
                        break;
                }
        }
        if (c->n_calls == 0)
                client_destroy(c);
        return NULL;
}

const sm_endpoint *sm_aws_client_endpoint(const sm_aws_client *c, sm_service_id service,
                                          const char **ret_error)
{
        if (service < 0 || service >= _SM_SERVICE_MAX)
                return NULL;
        if (c->endpoint_errors[service]) {
                if (ret_error)
                        *ret_error = c->endpoint_errors[service];
                return NULL;
        }
        return &c->endpoints[service];
}

void sm_aws_client_get_stats(const sm_aws_client *c, sm_aws_client_stats *ret)
{
        *ret = c->stats;
}

void sm_aws_client_set_observer(sm_aws_client *c, sm_aws_call_observer_fn fn, void *userdata)
{
        c->observer = fn;
        c->observer_userdata = fn ? userdata : NULL;
}

void sm_aws_client_set_random(sm_aws_client *c, double (*rand01)(void *), void *userdata)
{
        c->rand01 = rand01 ? rand01 : default_rand01;
        c->rand_userdata = rand01 ? userdata : c;
}
