/* SPDX-License-Identifier: Apache-2.0 */
/* EC2 instance metadata client, IMDSv2 first.
 *
 * One session token per client: PUT /latest/api/token asking for a 21600 s
 * TTL (the SDKs' value), reused until 30 s before it lapses so a GET never
 * goes out with a token that expires in flight. Gets that need a token while
 * none is valid wait on one shared PUT. The token PUT answering 403, 404 or
 * 405 means "no IMDSv2 here" (old or proxied metadata services); only then,
 * and only when AWS_EC2_METADATA_V1_DISABLED is not true, do the waiting gets
 * go out without a token (IMDSv1), as the SDKs do. Any other failure of the
 * PUT (timeout, refused, 5xx) fails the gets: falling back there would make a
 * hop-limited container silently use IMDSv1.
 *
 * Lifetime: the client holds one reference for its owner and one per HTTP
 * transfer in flight, so a transfer cancelled by sm_imds_free() can still
 * report back into valid memory. User callbacks all run before sm_imds_free()
 * returns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smstudio/imds.h"
#include "smstudio/log.h"
#include "smstudio/macro.h"
#include "smstudio/strbuf.h"
#include "smstudio/timeutil.h"

#define IMDS_DEFAULT_ENDPOINT      "http://169.254.169.254"
#define IMDS_DEFAULT_ENDPOINT_IPV6 "http://[fd00:ec2::254]"
#define IMDS_DEFAULT_TIMEOUT_MS    1000L
#define IMDS_TOKEN_TTL_S           21600
#define IMDS_TOKEN_TTL_S_STR       "21600"
/* Stop using a token this long before the service says it lapses. */
#define IMDS_TOKEN_EARLY_MS (30 * 1000ULL)

typedef struct imds_get imds_get;

struct imds_get {
        sm_imds *m;
        imds_get *prev, *next; /* in m->waiting or m->sending */
        char *path;
        sm_imds_done_fn done;
        void *userdata;
        sm_http_xfer *xfer;
        bool retried_401; /* a rejected token was replaced once already */
};

typedef struct get_list {
        imds_get *head, *tail;
} get_list;

struct sm_imds {
        uv_loop_t *loop;
        sm_http *http;
        char *endpoint; /* without a trailing '/' */
        long timeout_ms;
        bool v1_disabled;

        unsigned n_ref;
        bool freeing;

        char *token;
        uint64_t token_expiry_ms; /* on the monotonic clock below */
        sm_http_xfer *token_xfer;
        get_list waiting; /* need a token; one PUT in flight for all of them */
        get_list sending; /* GET in flight */

        uint64_t (*now_ms)(void *);
        void *now_userdata;
};

static void list_push(get_list *l, imds_get *g)
{
        g->next = NULL;
        g->prev = l->tail;
        if (l->tail)
                l->tail->next = g;
        else
                l->head = g;
        l->tail = g;
}

static void list_remove(get_list *l, imds_get *g)
{
        if (g->prev)
                g->prev->next = g->next;
        else
                l->head = g->next;
        if (g->next)
                g->next->prev = g->prev;
        else
                l->tail = g->prev;
        g->prev = g->next = NULL;
}

static uint64_t default_now_ms(void *userdata)
{
        return sm_now_monotonic_ms();
}

static void imds_unref(sm_imds *m)
{
        if (--m->n_ref > 0)
                return;
        if (m->token)
                sm_secure_zero(m->token, strlen(m->token));
        free(m->token);
        free(m->endpoint);
        free(m);
}

static void get_free(imds_get *g)
{
        free(g->path);
        free(g);
}

/* Report to the caller exactly once; the get is freed. */
static void get_finish(imds_get *g, int r, const char *body, size_t body_len, const char *error)
{
        sm_imds_done_fn done = g->done;
        void *userdata = g->userdata;

        get_free(g);
        if (done)
                done(r, body, body_len, error, userdata);
}

static bool env_true(const char *name)
{
        const char *v = getenv(name);

        return v && strcasecmp(v, "true") == 0;
}

static int resolve_endpoint(const char *endpoint, char **ret)
{
        const char *mode;
        char *e;
        size_t len;

        if (isempty(endpoint))
                endpoint = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        if (isempty(endpoint)) {
                mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
                if (isempty(mode) || strcasecmp(mode, "IPv4") == 0)
                        endpoint = IMDS_DEFAULT_ENDPOINT;
                else if (strcasecmp(mode, "IPv6") == 0)
                        endpoint = IMDS_DEFAULT_ENDPOINT_IPV6;
                else
                        return -EINVAL;
        }
        if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
                return -EINVAL;
        e = strdup(endpoint);
        if (!e)
                return -ENOMEM;
        len = strlen(e);
        while (len > 0 && e[len - 1] == '/')
                e[--len] = '\0';
        *ret = e;
        return 0;
}

int sm_imds_new(uv_loop_t *loop, sm_http *http, const char *endpoint, long timeout_ms,
                sm_imds **ret)
{
        sm_imds *m;
        int r;

        if (!loop || !http || !ret || timeout_ms < 0)
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        r = resolve_endpoint(endpoint, &m->endpoint);
        if (r < 0) {
                free(m);
                return r;
        }
        m->loop = loop;
        m->http = http;
        m->timeout_ms = timeout_ms > 0 ? timeout_ms : IMDS_DEFAULT_TIMEOUT_MS;
        m->v1_disabled = env_true("AWS_EC2_METADATA_V1_DISABLED");
        m->n_ref = 1;
        m->now_ms = default_now_ms;
        *ret = m;
        return 0;
}

void sm_imds_set_v1_disabled(sm_imds *m, bool disabled)
{
        m->v1_disabled = disabled;
}

void sm_imds_set_clock(sm_imds *m, uint64_t (*now_ms)(void *), void *userdata)
{
        m->now_ms = now_ms ? now_ms : default_now_ms;
        m->now_userdata = now_ms ? userdata : NULL;
}

const char *sm_imds_endpoint(const sm_imds *m)
{
        return m->endpoint;
}

sm_imds *sm_imds_free(sm_imds *m)
{
        imds_get *g;

        if (!m)
                return NULL;
        m->freeing = true;
        /* Every caller hears back now; transfers still in flight report
         * later into memory their reference keeps alive, and are ignored. */
        while ((g = m->waiting.head)) {
                list_remove(&m->waiting, g);
                get_finish(g, -ECANCELED, NULL, 0, "cancelled");
        }
        for (g = m->sending.head; g; g = g->next) {
                sm_imds_done_fn done = g->done;

                g->done = NULL;
                sm_http_cancel(g->xfer);
                if (done)
                        done(-ECANCELED, NULL, 0, "cancelled", g->userdata);
        }
        if (m->token_xfer)
                sm_http_cancel(m->token_xfer);
        imds_unref(m);
        return NULL;
}

static bool token_valid(sm_imds *m)
{
        return m->token && m->now_ms(m->now_userdata) + IMDS_TOKEN_EARLY_MS < m->token_expiry_ms;
}

/* A transport failure or an unwanted status as (errno, text). */
static int response_error(const sm_imds *m, const sm_http_response *resp, char *buf, size_t n)
{
        switch (resp->error) {
        case 0:
                break;
        case -ETIMEDOUT:
                snprintf(buf, n, "timed out after %ld ms", m->timeout_ms);
                return -ETIMEDOUT;
        case -ECANCELED:
                snprintf(buf, n, "cancelled");
                return -ECANCELED;
        default:
                snprintf(buf, n, "%s",
                         resp->error_text ? resp->error_text : strerror(-resp->error));
                return resp->error;
        }
        switch (resp->status) {
        case 404:
                snprintf(buf, n, "not found (HTTP 404)");
                return -ENOENT;
        case 401:
        case 403:
                snprintf(buf, n, "access denied (HTTP %ld)", resp->status);
                return -EACCES;
        default:
                snprintf(buf, n, "unexpected answer HTTP %ld", resp->status);
                return -EIO;
        }
}

static void on_get_done(const sm_http_response *resp, void *userdata);
static int token_fetch_start(sm_imds *m);

static int get_send(imds_get *g, bool with_token)
{
        sm_imds *m = g->m;
        sm_header header = {"X-aws-ec2-metadata-token", m->token};
        _cleanup_free_ char *url = NULL;
        sm_http_request req = {
                .method = "GET",
                .headers = with_token ? &header : NULL,
                .n_headers = with_token ? 1 : 0,
                .timeout_ms = m->timeout_ms,
                .connect_timeout_ms = m->timeout_ms,
        };
        int r;

        if (asprintf(&url, "%s%s", m->endpoint, g->path) < 0) {
                url = NULL;
                return -ENOMEM;
        }
        req.url = url;
        r = sm_http_submit(m->http, &req, on_get_done, g, &g->xfer);
        if (r < 0)
                return r;
        m->n_ref++;
        list_push(&m->sending, g);
        return 0;
}

/* Queue g behind the (shared) token request. */
static int get_wait_token(imds_get *g)
{
        sm_imds *m = g->m;
        int r;

        if (!m->token_xfer) {
                r = token_fetch_start(m);
                if (r < 0)
                        return r;
        }
        list_push(&m->waiting, g);
        return 0;
}

static void on_get_done(const sm_http_response *resp, void *userdata)
{
        imds_get *g = userdata;
        sm_imds *m = g->m;
        char error[256];
        int r;

        g->xfer = NULL;
        list_remove(&m->sending, g);
        if (m->freeing) {
                /* The caller already heard -ECANCELED from sm_imds_free(). */
                get_free(g);
                goto out;
        }
        if (resp->error == 0 && resp->status == 200) {
                get_finish(g, 0, resp->body, resp->body_len, NULL);
                goto out;
        }
        /* 401: the service no longer accepts our token (it restarted, or the
         * instance was stopped and started). Fetch a new one, once. */
        if (resp->error == 0 && resp->status == 401 && !g->retried_401) {
                g->retried_401 = true;
                if (m->token) {
                        sm_secure_zero(m->token, strlen(m->token));
                        free(m->token);
                        m->token = NULL;
                }
                r = get_wait_token(g);
                if (r < 0)
                        get_finish(g, r, NULL, 0, "out of memory");
                goto out;
        }
        r = response_error(m, resp, error, sizeof(error));
        get_finish(g, r, NULL, 0, error);
out:
        imds_unref(m);
}

/* Send every get waiting for the token, with it or (fallback) without. */
static void flush_waiting(sm_imds *m, bool with_token)
{
        get_list l = m->waiting;
        imds_get *g;
        int r;

        m->waiting = (get_list){0};
        while ((g = l.head)) {
                list_remove(&l, g);
                /* An earlier failure's callback may have freed the client. */
                if (m->freeing) {
                        get_finish(g, -ECANCELED, NULL, 0, "cancelled");
                        continue;
                }
                r = get_send(g, with_token);
                if (r < 0)
                        get_finish(g, r, NULL, 0, "could not queue the request");
        }
}

static void fail_waiting(sm_imds *m, int r, const char *error)
{
        imds_get *g;

        /* A callback may start a new get: it joins a fresh wait list. */
        get_list l = m->waiting;

        m->waiting = (get_list){0};
        while ((g = l.head)) {
                list_remove(&l, g);
                get_finish(g, r, NULL, 0, error);
        }
}

static void on_token_done(const sm_http_response *resp, void *userdata)
{
        sm_imds *m = userdata;
        const char *ttl_header;
        char error[300], why[256];
        long ttl = IMDS_TOKEN_TTL_S;
        int r;

        m->token_xfer = NULL;
        if (m->freeing)
                goto out;

        if (resp->error == 0 && resp->status == 200 && resp->body_len > 0 &&
            strlen(resp->body) == resp->body_len && !strpbrk(resp->body, "\r\n")) {
                ttl_header = sm_http_response_header(resp, "x-aws-ec2-metadata-token-ttl-seconds");
                if (ttl_header) {
                        char *end;
                        long v = strtol(ttl_header, &end, 10);

                        /* Trust a shorter TTL than asked for, never a longer one. */
                        if (*end == '\0' && v > 0 && v < ttl)
                                ttl = v;
                }
                if (m->token) {
                        sm_secure_zero(m->token, strlen(m->token));
                        free(m->token);
                }
                m->token = strdup(resp->body);
                if (!m->token) {
                        fail_waiting(m, -ENOMEM, "out of memory");
                        goto out;
                }
                m->token_expiry_ms = m->now_ms(m->now_userdata) + (uint64_t)ttl * 1000ULL;
                flush_waiting(m, true);
                goto out;
        }
        if (resp->error == 0 &&
            (resp->status == 403 || resp->status == 404 || resp->status == 405)) {
                if (!m->v1_disabled) {
                        sm_log_debug("IMDS token request answered HTTP %ld; using IMDSv1",
                                     resp->status);
                        flush_waiting(m, false);
                        goto out;
                }
                snprintf(error, sizeof(error),
                         "the IMDSv2 token request answered HTTP %ld and IMDSv1 is disabled "
                         "(AWS_EC2_METADATA_V1_DISABLED)",
                         resp->status);
                fail_waiting(m, -EACCES, error);
                goto out;
        }
        if (resp->error == 0 && resp->status == 200) {
                fail_waiting(m, -EBADMSG, "the IMDSv2 token answer was empty or malformed");
                goto out;
        }
        r = response_error(m, resp, why, sizeof(why));
        if (r == -ETIMEDOUT)
                snprintf(error, sizeof(error), "%s", why);
        else
                snprintf(error, sizeof(error), "IMDSv2 token request: %s", why);
        fail_waiting(m, r, error);
out:
        imds_unref(m);
}

static int token_fetch_start(sm_imds *m)
{
        sm_header header = {"X-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL_S_STR};
        _cleanup_free_ char *url = NULL;
        sm_http_request req = {
                .method = "PUT",
                .headers = &header,
                .n_headers = 1,
                .timeout_ms = m->timeout_ms,
                .connect_timeout_ms = m->timeout_ms,
        };
        int r;

        if (asprintf(&url, "%s/latest/api/token", m->endpoint) < 0) {
                url = NULL;
                return -ENOMEM;
        }
        req.url = url;
        r = sm_http_submit(m->http, &req, on_token_done, m, &m->token_xfer);
        if (r < 0) {
                m->token_xfer = NULL;
                return r;
        }
        m->n_ref++;
        return 0;
}

int sm_imds_get(sm_imds *m, const char *path, sm_imds_done_fn done, void *userdata)
{
        imds_get *g;
        int r;

        if (!m || !path || path[0] != '/' || !done || m->freeing)
                return -EINVAL;
        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->path = strdup(path);
        if (!g->path) {
                free(g);
                return -ENOMEM;
        }
        g->m = m;
        g->done = done;
        g->userdata = userdata;
        if (token_valid(m))
                r = get_send(g, true);
        else
                r = get_wait_token(g);
        if (r < 0) {
                get_free(g);
                return r;
        }
        return 0;
}
