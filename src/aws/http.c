/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP engine: one curl multi handle driven by the caller's libuv loop,
 * after curl's docs/examples/multi-uv.c with its gaps closed (see STYLE.md).
 *
 * Every transfer lives in exactly one of three lists:
 *   queued  - submitted, waiting for a slot (FIFO, max_in_flight bound),
 *   running - its easy handle is in the multi,
 *   done    - finished or cancelled, its callback not yet run.
 * Callbacks run only from loop callbacks (the curl socket/timer actions or
 * the deferral idle handle), never from inside a public call, and never from
 * inside a curl callback: so a callback may submit, cancel or free freely,
 * and libcurl is never re-entered. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "config.h"
#include "smstudio/http.h"
#include "smstudio/log.h"
#include "smstudio/macro.h"
#include "smstudio/strbuf.h"

#define DEFAULT_USER_AGENT           "smstudio/" SM_VERSION
#define DEFAULT_CONNECT_TIMEOUT_MS   3000L
#define DEFAULT_TIMEOUT_MS           60000L
#define DEFAULT_MAX_RESPONSE_BYTES   ((size_t)16 << 20)
#define DEFAULT_MAX_IN_FLIGHT        16u
#define DEFAULT_MAX_HOST_CONNECTIONS 32u

typedef enum xfer_state {
        XFER_QUEUED,
        XFER_RUNNING,
        XFER_DONE,
} xfer_state;

typedef struct xfer_list {
        sm_http_xfer *head, *tail;
        size_t n;
} xfer_list;

struct sm_http_xfer {
        sm_http *http;
        sm_http_xfer *prev, *next;
        xfer_state state;

        CURL *easy;
        struct curl_slist *req_headers;
        char *req_body;
        sm_http_done_fn done;
        void *userdata;

        long status;
        int error;
        bool too_big;
        bool oom;
        size_t header_bytes;
        sm_header *headers;
        size_t n_headers, cap_headers;
        sm_buf body;
        char error_text[CURL_ERROR_SIZE];
};

/* One per socket curl asks us to watch. */
typedef struct sock_ctx {
        uv_poll_t poll;
        sm_http *http;
        curl_socket_t fd;
        struct sock_ctx *prev, *next; /* watched, not yet closing */
} sock_ctx;

struct sm_http {
        uv_loop_t *loop;
        CURLM *multi;
        uv_timer_t timer;
        /* Runs callbacks of cancelled transfers and curl's "act now" timeouts
         * from the loop; active only while there is such work. */
        uv_idle_t defer;

        char *user_agent;
        char *ca_bundle;
        long connect_timeout_ms;
        long timeout_ms;
        size_t max_response_bytes;
        unsigned max_in_flight;

        xfer_list queued, running, done;
        sock_ctx *socks;

        unsigned open_handles; /* timer, idle and polls not yet through their close callback */
        bool timeout_now;      /* curl asked for a timeout action "as soon as possible" */
        bool freeing;          /* sm_http_free() was called */
        bool torn_down;        /* the multi is gone, the handles are closing */
};

static uv_once_t global_once = UV_ONCE_INIT;
static CURLcode global_result;

static void global_init(void)
{
        global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- lists --- */

static void list_append(xfer_list *l, sm_http_xfer *x)
{
        x->prev = l->tail;
        x->next = NULL;
        if (l->tail)
                l->tail->next = x;
        else
                l->head = x;
        l->tail = x;
        l->n++;
}

static void list_remove(xfer_list *l, sm_http_xfer *x)
{
        if (x->prev)
                x->prev->next = x->next;
        else
                l->head = x->next;
        if (x->next)
                x->next->prev = x->prev;
        else
                l->tail = x->prev;
        x->prev = x->next = NULL;
        l->n--;
}

static xfer_list *list_of(sm_http *h, sm_http_xfer *x)
{
        switch (x->state) {
        case XFER_QUEUED:
                return &h->queued;
        case XFER_RUNNING:
                return &h->running;
        case XFER_DONE:
                break;
        }
        return &h->done;
}

/* --- transfers --- */

static void response_headers_clear(sm_http_xfer *x)
{
        for (size_t i = 0; i < x->n_headers; i++) {
                free(x->headers[i].name);
                free(x->headers[i].value);
        }
        x->n_headers = 0;
}

static void xfer_free(sm_http_xfer *x)
{
        if (!x)
                return;
        if (x->easy)
                curl_easy_cleanup(x->easy);
        curl_slist_free_all(x->req_headers);
        free(x->req_body);
        response_headers_clear(x);
        free(x->headers);
        sm_buf_done(&x->body);
        free(x);
}

static void on_defer(uv_idle_t *idle);

static void schedule_defer(sm_http *h)
{
        /* Cannot fail for an initialised idle handle with a callback. */
        (void)uv_idle_start(&h->defer, on_defer);
}

/* Move a transfer to the done list with an error; its callback runs later,
 * from the loop. The easy handle must already be out of the multi. */
static void xfer_fail(sm_http_xfer *x, int error, const char *text)
{
        sm_http *h = x->http;

        list_remove(list_of(h, x), x);
        if (x->easy) {
                curl_easy_cleanup(x->easy);
                x->easy = NULL;
        }
        x->error = error;
        x->status = 0;
        response_headers_clear(x);
        sm_buf_clear(&x->body);
        snprintf(x->error_text, sizeof(x->error_text), "%s", text);
        x->state = XFER_DONE;
        list_append(&h->done, x);
        schedule_defer(h);
}

static int map_curl_error(CURLcode code, long os_errno, bool too_big)
{
        switch (code) {
        case CURLE_OK:
                return 0;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
                        return -EHOSTUNREACH;
                if (os_errno == ETIMEDOUT)
                        return -ETIMEDOUT;
                return -ECONNREFUSED;
        /* The peer went away before the whole answer arrived: a reset, or an
         * orderly close where an answer (or the rest of it) was due. Callers
         * treat all of them alike (retryable), so they share one code. */
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_USE_SSL_FAILED:
                return -EPROTO;
        case CURLE_FILESIZE_EXCEEDED:
                return -EMSGSIZE;
        case CURLE_WRITE_ERROR:
                return too_big ? -EMSGSIZE : -EIO;
        default:
                return -EIO;
        }
}

/* curl finished a running transfer: take it out of the multi (its
 * connection stays in the multi's pool for reuse) and queue its callback. */
static void xfer_complete(sm_http_xfer *x, CURLcode code)
{
        sm_http *h = x->http;
        long os_errno = 0;

        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
        curl_multi_remove_handle(h->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;

        x->error = map_curl_error(code, os_errno, x->too_big);
        if (x->error != 0) {
                if (x->error == -EMSGSIZE)
                        snprintf(x->error_text, sizeof(x->error_text),
                                 "response larger than %zu bytes", h->max_response_bytes);
                else if (x->oom)
                        snprintf(x->error_text, sizeof(x->error_text), "out of memory");
                else if (!x->error_text[0])
                        snprintf(x->error_text, sizeof(x->error_text), "%s",
                                 curl_easy_strerror(code));
                sm_buf_clear(&x->body);
                sm_log_debug("http: transfer failed: %s (curl %d, errno %ld)", x->error_text,
                             (int)code, os_errno);
        }
        list_remove(&h->running, x);
        x->state = XFER_DONE;
        list_append(&h->done, x);
}

/* Fill free slots from the queue, oldest first. */
static void start_queued(sm_http *h)
{
        sm_http_xfer *x;

        while (!h->freeing && h->running.n < h->max_in_flight && (x = h->queued.head)) {
                CURLMcode mc;

                list_remove(&h->queued, x);
                x->state = XFER_RUNNING;
                list_append(&h->running, x);
                mc = curl_multi_add_handle(h->multi, x->easy);
                if (mc != CURLM_OK)
                        xfer_fail(x, -EIO, curl_multi_strerror(mc));
        }
}

/* Run the callbacks of finished transfers. Only ever called from a loop
 * callback. A callback may submit (appends to queued, or to done when the
 * engine is being freed), cancel (appends to done) or free the engine: the
 * loop keeps popping until done is empty, so all of that is delivered here. */
static void dispatch(sm_http *h)
{
        sm_http_xfer *x;

        while ((x = h->done.head)) {
                sm_http_response resp = {
                        .status = x->status,
                        .error = x->error,
                        .error_text = x->error ? x->error_text : NULL,
                        .headers = x->headers,
                        .n_headers = x->n_headers,
                        .body = x->body.data ? x->body.data : "",
                        .body_len = x->body.len,
                };

                list_remove(&h->done, x);
                x->done(&resp, x->userdata);
                xfer_free(x);
        }
}

/* Collect what curl says is finished (after every socket and every timer
 * action: a transfer can end in either), then refill slots, then call back. */
static void drain(sm_http *h)
{
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(h->multi, &left))) {
                char *priv = NULL;
                CURLcode code = msg->data.result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
                /* msg is invalid once the handle leaves the multi. */
                xfer_complete((sm_http_xfer *)priv, code);
        }
        start_queued(h);
        dispatch(h);
}

static void socket_action(sm_http *h, curl_socket_t fd, int flags)
{
        int running = 0;
        CURLMcode mc = curl_multi_socket_action(h->multi, fd, flags, &running);

        if (mc != CURLM_OK)
                sm_log_debug("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
        drain(h);
}

/* --- handle lifecycle --- */

static void maybe_release(sm_http *h)
{
        if (!h->torn_down || h->open_handles > 0)
                return;
        free(h->user_agent);
        free(h->ca_bundle);
        free(h);
}

static void on_handle_closed(uv_handle_t *handle)
{
        sm_http *h = handle->data;

        h->open_handles--;
        maybe_release(h);
}

static void on_sock_closed(uv_handle_t *handle);

static void sock_close(sock_ctx *c)
{
        sm_http *h = c->http;

        if (c->prev)
                c->prev->next = c->next;
        else
                h->socks = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        uv_close((uv_handle_t *)&c->poll, on_sock_closed);
}

static void on_sock_closed(uv_handle_t *handle)
{
        sock_ctx *c = handle->data;
        sm_http *h = c->http;

        free(c);
        h->open_handles--;
        maybe_release(h);
}

/* --- curl -> libuv --- */

static void on_poll(uv_poll_t *poll, int status, int events)
{
        sock_ctx *c = poll->data;
        int flags = 0;

        /* The action below may close c (CURL_POLL_REMOVE): read it first. */
        sm_http *h = c->http;
        curl_socket_t fd = c->fd;

        if (status < 0)
                flags = CURL_CSELECT_ERR;
        else {
                if (events & (UV_READABLE | UV_DISCONNECT))
                        flags |= CURL_CSELECT_IN;
                if (events & UV_WRITABLE)
                        flags |= CURL_CSELECT_OUT;
        }
        socket_action(h, fd, flags);
}

static void on_timer(uv_timer_t *timer)
{
        socket_action(timer->data, CURL_SOCKET_TIMEOUT, 0);
}

static void on_defer(uv_idle_t *idle)
{
        sm_http *h = idle->data;

        if (h->timeout_now && !h->freeing) {
                h->timeout_now = false;
                socket_action(h, CURL_SOCKET_TIMEOUT, 0);
        }
        dispatch(h);

        if (h->freeing) {
                /* Every transfer was cancelled and every callback has run
                 * (including those of transfers submitted by callbacks during
                 * the free). Now curl may go: curl_multi_cleanup() closes the
                 * pooled connections and tells us through the socket callback,
                 * so the multi must go before the handles it reports on. */
                h->torn_down = true;
                curl_multi_cleanup(h->multi);
                h->multi = NULL;
                /* Should curl not have reported some socket as removed, its
                 * poll handle must still be closed for the engine to go. */
                while (h->socks)
                        sock_close(h->socks);
                uv_close((uv_handle_t *)&h->timer, on_handle_closed);
                uv_close((uv_handle_t *)&h->defer, on_handle_closed);
                return;
        }
        if (!h->timeout_now && !h->done.head)
                uv_idle_stop(idle);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
        sm_http *h = userp;
        sock_ctx *c = socketp;
        int events = 0, r;

        (void)easy;
        if (what == CURL_POLL_REMOVE) {
                /* curl forgets the socket's association itself after this. */
                if (c)
                        sock_close(c);
                return 0;
        }

        if (!c) {
                c = calloc(1, sizeof(*c));
                if (!c)
                        return -1;
                r = uv_poll_init_socket(h->loop, &c->poll, fd);
                if (r < 0) {
                        sm_log_debug("http: cannot watch socket %d: %s", (int)fd, uv_strerror(r));
                        free(c);
                        return -1;
                }
                c->http = h;
                c->fd = fd;
                c->poll.data = c;
                c->next = h->socks;
                if (h->socks)
                        h->socks->prev = c;
                h->socks = c;
                h->open_handles++;
                if (curl_multi_assign(h->multi, fd, c) != CURLM_OK) {
                        sock_close(c);
                        return -1;
                }
        }

        if (what & CURL_POLL_IN)
                events |= UV_READABLE;
        if (what & CURL_POLL_OUT)
                events |= UV_WRITABLE;
        r = uv_poll_start(&c->poll, events, on_poll);
        if (r < 0) {
                sm_log_debug("http: cannot poll socket %d: %s", (int)fd, uv_strerror(r));
                return -1;
        }
        return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
        sm_http *h = userp;

        (void)multi;
        h->timeout_now = false;
        if (timeout_ms < 0) {
                uv_timer_stop(&h->timer);
                return 0;
        }
        if (timeout_ms == 0) {
                /* Not a 0 ms timer: libuv (before 1.45) runs a timer re-armed
                 * with 0 from its own callback again in the same pass, which
                 * can starve I/O. The idle handle runs once per iteration. */
                uv_timer_stop(&h->timer);
                h->timeout_now = true;
                schedule_defer(h);
                return 0;
        }
        return uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0) < 0 ? -1 : 0;
}

/* --- response callbacks (called by curl: no user code from here) --- */

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
        sm_http_xfer *x = userdata;
        size_t len = size * n;

        if (len > x->http->max_response_bytes - x->body.len) {
                x->too_big = true;
                return CURL_WRITEFUNC_ERROR;
        }
        if (sm_buf_append(&x->body, data, len) < 0) {
                x->oom = true;
                return CURL_WRITEFUNC_ERROR;
        }
        return len;
}

static char *strndup_trimmed(const char *s, size_t n, bool lower)
{
        char *out;

        while (n > 0 && (*s == ' ' || *s == '\t')) {
                s++;
                n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        out = strndup(s, n);
        if (out && lower)
                for (char *p = out; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
        return out;
}

static int header_append_folded(sm_http_xfer *x, const char *s, size_t n)
{
        sm_header *last = &x->headers[x->n_headers - 1];
        _cleanup_free_ char *more = strndup_trimmed(s, n, false);
        char *joined = NULL;

        if (!more || asprintf(&joined, "%s %s", last->value, more) < 0)
                return -ENOMEM;
        free(last->value);
        last->value = joined;
        return 0;
}

static int header_add(sm_http_xfer *x, const char *s, size_t n)
{
        const char *colon = memchr(s, ':', n);
        char *name, *value;

        if (!colon)
                return 0; /* not a header line: nothing to keep */
        if (x->n_headers == x->cap_headers) {
                size_t cap = x->cap_headers ? x->cap_headers * 2 : 16;
                sm_header *p = realloc(x->headers, cap * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                x->headers = p;
                x->cap_headers = cap;
        }
        name = strndup_trimmed(s, (size_t)(colon - s), true);
        value = strndup_trimmed(colon + 1, n - (size_t)(colon - s) - 1, false);
        if (!name || !value) {
                free(name);
                free(value);
                return -ENOMEM;
        }
        x->headers[x->n_headers++] = (sm_header){.name = name, .value = value};
        return 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
        sm_http_xfer *x = userdata;
        size_t len = size * n, l = len;
        int r;

        if (len > x->http->max_response_bytes - x->header_bytes) {
                x->too_big = true;
                return CURL_WRITEFUNC_ERROR;
        }
        x->header_bytes += len;

        while (l > 0 && (data[l - 1] == '\r' || data[l - 1] == '\n'))
                l--;
        if (l >= 5 && memcmp(data, "HTTP/", 5) == 0) {
                /* A status line starts a new answer (after a "100 Continue"
                 * or an authentication round): only the final one counts. */
                response_headers_clear(x);
                x->header_bytes = len;
                return len;
        }
        if (l == 0)
                return len;
        if ((data[0] == ' ' || data[0] == '\t') && x->n_headers > 0)
                r = header_append_folded(x, data, l);
        else
                r = header_add(x, data, l);
        if (r < 0) {
                x->oom = true;
                return CURL_WRITEFUNC_ERROR;
        }
        return len;
}

/* --- submitting --- */

static bool is_token(const char *s)
{
        /* RFC 9110 token characters. */
        static const char extra[] = "!#$%&'*+-.^_`|~";

        if (isempty(s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
                        return false;
        return true;
}

static bool is_field_value(const char *s)
{
        for (; *s; s++)
                if (*s == '\r' || *s == '\n')
                        return false;
        return true;
}

static bool url_ok(const char *url)
{
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL;
        bool ok = false;

        if (!u)
                return false;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
                ok = (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0) &&
                     !isempty(host);
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return ok;
}

static int build_headers(const sm_http_request *req, bool has_body, struct curl_slist **ret)
{
        struct curl_slist *list = NULL, *l;
        bool have_expect = false, have_type = false;

        for (size_t i = 0; i < req->n_headers; i++) {
                const sm_header *hd = &req->headers[i];
                _cleanup_free_ char *line = NULL;
                int n;

                if (!is_token(hd->name) || !hd->value || !is_field_value(hd->value))
                        goto invalid;
                if (strcasecmp(hd->name, "expect") == 0)
                        have_expect = true;
                if (strcasecmp(hd->name, "content-type") == 0)
                        have_type = true;
                /* "Name;" is curl's spelling of a header with an empty value
                 * ("Name:" would remove it). */
                if (*hd->value)
                        n = asprintf(&line, "%s: %s", hd->name, hd->value);
                else
                        n = asprintf(&line, "%s;", hd->name);
                if (n < 0)
                        goto nomem;
                l = curl_slist_append(list, line);
                if (!l)
                        goto nomem;
                list = l;
        }
        /* curl would add "Expect: 100-continue" to larger bodies and then
         * wait for a go-ahead that AWS endpoints do not need. */
        if (!have_expect) {
                l = curl_slist_append(list, "Expect:");
                if (!l)
                        goto nomem;
                list = l;
        }
        /* Send exactly the caller's headers: curl would invent a form
         * content type for any body (and a signature may cover the type). */
        if (has_body && !have_type) {
                l = curl_slist_append(list, "Content-Type:");
                if (!l)
                        goto nomem;
                list = l;
        }
        *ret = list;
        return 0;

invalid:
        curl_slist_free_all(list);
        return -EINVAL;
nomem:
        curl_slist_free_all(list);
        return -ENOMEM;
}

static int setup_easy(sm_http *h, sm_http_xfer *x, const sm_http_request *req, bool has_body)
{
        CURL *e = x->easy;
        CURLcode c = CURLE_OK;
        long connect_ms = req->connect_timeout_ms ? req->connect_timeout_ms : h->connect_timeout_ms;
        long total_ms = req->timeout_ms ? req->timeout_ms : h->timeout_ms;

#define SET(opt, val)                                                                              \
        do {                                                                                       \
                if (c == CURLE_OK)                                                                 \
                        c = curl_easy_setopt(e, opt, val);                                         \
        } while (0)

        SET(CURLOPT_URL, req->url);
        SET(CURLOPT_PRIVATE, (void *)x);
        SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
        SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        /* Verification is always on; there is deliberately no way to turn it off. */
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        if (h->ca_bundle)
                SET(CURLOPT_CAINFO, h->ca_bundle);
        SET(CURLOPT_USERAGENT, h->user_agent);
        /* AWS APIs speak HTTP/1.1; one request per connection keeps the
         * max_in_flight bound and the connection pool easy to reason about. */
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
        SET(CURLOPT_TIMEOUT_MS, total_ms);
        SET(CURLOPT_TCP_KEEPALIVE, 1L);
        /* Fails early when Content-Length is already too large; the write
         * callback catches answers without one. */
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_response_bytes);
        SET(CURLOPT_WRITEFUNCTION, on_body);
        SET(CURLOPT_WRITEDATA, (void *)x);
        SET(CURLOPT_HEADERFUNCTION, on_header);
        SET(CURLOPT_HEADERDATA, (void *)x);
        SET(CURLOPT_ERRORBUFFER, x->error_text);
        SET(CURLOPT_HTTPHEADER, x->req_headers);

        if (streq(req->method, "HEAD") && !has_body)
                SET(CURLOPT_NOBODY, 1L);
        else if (streq(req->method, "GET") && !has_body)
                SET(CURLOPT_HTTPGET, 1L);
        else {
                if (has_body) {
                        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
                        SET(CURLOPT_POSTFIELDS, x->req_body);
                }
                if (!streq(req->method, "POST"))
                        SET(CURLOPT_CUSTOMREQUEST, req->method);
        }
#undef SET

        if (c == CURLE_OUT_OF_MEMORY)
                return -ENOMEM;
        if (c != CURLE_OK) {
                sm_log_debug("http: cannot set up transfer: %s", curl_easy_strerror(c));
                return -EINVAL;
        }
        return 0;
}

int sm_http_submit(sm_http *h, const sm_http_request *req, sm_http_done_fn done, void *userdata,
                   sm_http_xfer **ret)
{
        sm_http_xfer *x;
        bool has_body;
        int r;

        if (!h || !req || !done || !is_token(req->method) || isempty(req->url) ||
            (req->body_len > 0 && !req->body) || (req->n_headers > 0 && !req->headers) ||
            req->timeout_ms < 0 || req->connect_timeout_ms < 0)
                return -EINVAL;
        if (h->torn_down)
                return -ECANCELED;
        if (!url_ok(req->url))
                return -EINVAL;
        /* Methods that carry a body by nature send "Content-Length: 0" even
         * when empty (IMDS's token PUT, empty POSTs); others only with one. */
        has_body = req->body_len > 0 || streq(req->method, "POST") || streq(req->method, "PUT") ||
                   streq(req->method, "PATCH");

        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->http = h;
        x->done = done;
        x->userdata = userdata;

        r = build_headers(req, has_body, &x->req_headers);
        if (r < 0)
                goto fail;
        if (has_body) {
                /* Never NULL, even when empty: curl would read the body from
                 * stdin for a NULL CURLOPT_POSTFIELDS. */
                x->req_body = malloc(req->body_len + 1);
                if (!x->req_body) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (req->body_len > 0)
                        memcpy(x->req_body, req->body, req->body_len);
                x->req_body[req->body_len] = '\0';
        }
        x->easy = curl_easy_init();
        if (!x->easy) {
                r = -ENOMEM;
                goto fail;
        }
        r = setup_easy(h, x, req, has_body);
        if (r < 0)
                goto fail;

        x->state = XFER_QUEUED;
        list_append(&h->queued, x);
        if (ret)
                *ret = x;
        if (h->freeing)
                xfer_fail(x, -ECANCELED, "cancelled: engine freed");
        else
                start_queued(h);
        return 0;

fail:
        xfer_free(x);
        return r;
}

void sm_http_cancel(sm_http_xfer *x)
{
        sm_http *h;

        if (!x || x->state == XFER_DONE)
                return; /* its callback is already due: exactly once */
        h = x->http;
        if (x->state == XFER_RUNNING)
                curl_multi_remove_handle(h->multi, x->easy);
        xfer_fail(x, -ECANCELED, "cancelled");
        start_queued(h);
}

/* --- the engine --- */

int sm_http_new(uv_loop_t *loop, const sm_http_options *opts, sm_http **ret)
{
        static const sm_http_options defaults = {0};
        const curl_version_info_data *info;
        sm_http *h;
        unsigned max_host;
        int r;

        if (!loop || !ret)
                return -EINVAL;
        if (!opts)
                opts = &defaults;
        if (opts->connect_timeout_ms < 0 || opts->timeout_ms < 0)
                return -EINVAL;

        uv_once(&global_once, global_init);
        if (global_result != CURLE_OK)
                return -EIO;
        /* A synchronous resolver would block the whole daemon on DNS. */
        info = curl_version_info(CURLVERSION_NOW);
        if (!info || !(info->features & CURL_VERSION_ASYNCHDNS))
                return -ENOTSUP;

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->loop = loop;
        h->connect_timeout_ms = opts->connect_timeout_ms ?: DEFAULT_CONNECT_TIMEOUT_MS;
        h->timeout_ms = opts->timeout_ms ?: DEFAULT_TIMEOUT_MS;
        h->max_response_bytes = opts->max_response_bytes ?: DEFAULT_MAX_RESPONSE_BYTES;
        h->max_in_flight = opts->max_in_flight ?: DEFAULT_MAX_IN_FLIGHT;
        max_host = opts->max_host_connections ?: DEFAULT_MAX_HOST_CONNECTIONS;
        h->user_agent = strdup(opts->user_agent ?: DEFAULT_USER_AGENT);
        if (!h->user_agent)
                goto nomem;
        if (opts->ca_bundle) {
                h->ca_bundle = strdup(opts->ca_bundle);
                if (!h->ca_bundle)
                        goto nomem;
        }

        h->multi = curl_multi_init();
        if (!h->multi)
                goto nomem;
        if (curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
            curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, (void *)h) != CURLM_OK ||
            curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
            curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, (void *)h) != CURLM_OK ||
            curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_host) !=
                    CURLM_OK ||
            /* The pool of idle connections kept for reuse. */
            curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)max_host) != CURLM_OK) {
                r = -EIO;
                goto fail;
        }

        /* Neither can fail on Unix; initialised last so that nothing before
         * needs closing on the way out. */
        r = uv_timer_init(loop, &h->timer);
        if (r < 0)
                goto fail;
        h->timer.data = h;
        h->open_handles++;
        r = uv_idle_init(loop, &h->defer);
        if (r < 0) {
                h->freeing = h->torn_down = true;
                curl_multi_cleanup(h->multi);
                h->multi = NULL;
                uv_close((uv_handle_t *)&h->timer, on_handle_closed);
                return r;
        }
        h->defer.data = h;
        h->open_handles++;

        *ret = h;
        return 0;

nomem:
        r = -ENOMEM;
fail:
        if (h->multi)
                curl_multi_cleanup(h->multi);
        free(h->user_agent);
        free(h->ca_bundle);
        free(h);
        return r;
}

sm_http *sm_http_free(sm_http *h)
{
        if (!h || h->freeing)
                return NULL;
        h->freeing = true;
        /* Running first: they were submitted before anything still queued,
         * and callbacks run in the order transfers reach the done list. */
        while (h->running.head) {
                curl_multi_remove_handle(h->multi, h->running.head->easy);
                xfer_fail(h->running.head, -ECANCELED, "cancelled: engine freed");
        }
        while (h->queued.head)
                xfer_fail(h->queued.head, -ECANCELED, "cancelled: engine freed");
        /* The callbacks, curl's cleanup and the closing of the handles all
         * happen from the loop (on_defer), never inside this call. */
        schedule_defer(h);
        return NULL;
}

const char *sm_http_response_header(const sm_http_response *resp, const char *name)
{
        if (!resp || !name)
                return NULL;
        for (size_t i = 0; i < resp->n_headers; i++)
                if (strcasecmp(resp->headers[i].name, name) == 0)
                        return resp->headers[i].value;
        return NULL;
}

unsigned sm_http_pending(const sm_http *h)
{
        /* Counts transfers whose callback has not run yet, cancelled ones
         * included: zero means nothing more will be called back. */
        return h ? (unsigned)(h->queued.n + h->running.n + h->done.n) : 0;
}
