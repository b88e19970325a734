/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP engine: one libcurl multi handle driven by a libuv loop
 * (curl_multi_socket_action + uv_poll + uv_timer). Nothing here blocks the
 * loop: name resolution uses curl's threaded resolver. */
#pragma once

#include <stddef.h>
#include <uv.h>

typedef struct sm_header {
        char *name;
        char *value;
} sm_header;

typedef struct sm_http sm_http;
typedef struct sm_http_xfer sm_http_xfer;

typedef struct sm_http_options {
        const char *user_agent;    /* default "smstudio/VERSION" */
        const char *ca_bundle;     /* PEM file; NULL = system store. Verification is always on. */
        long connect_timeout_ms;   /* default 3000 */
        long timeout_ms;           /* whole transfer; default 60000 */
        size_t max_response_bytes; /* default 16 MiB; larger answers fail with -EMSGSIZE */
        unsigned max_in_flight; /* transfers running at once; more wait in FIFO order; default 16 */
        unsigned max_host_connections; /* default 32 */
} sm_http_options;

typedef struct sm_http_request {
        const char *method; /* "GET", "POST", "PUT", ... */
        const char *url;
        const sm_header *headers; /* sent as given (copied at submit) */
        size_t n_headers;
        const void *body; /* copied at submit */
        size_t body_len;
        long timeout_ms;         /* 0 = engine default */
        long connect_timeout_ms; /* 0 = engine default */
} sm_http_request;

typedef struct sm_http_response {
        long status;              /* 0 when no answer arrived */
        int error;                /* 0, or negative errno: -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET,
                                   * -EHOSTUNREACH (resolve/route), -EPROTO (TLS), -EMSGSIZE (answer too
                                   * large), -ECANCELED, -EIO (anything else) */
        const char *error_text;   /* curl's explanation when error != 0 */
        const sm_header *headers; /* names lower-cased, in arrival order */
        size_t n_headers;
        const char *body; /* NUL-terminated for convenience; may contain NULs */
        size_t body_len;
} sm_http_response;
/* Transport errors, as mapped from curl: a refused connection is
 * -ECONNREFUSED; a reset or the peer closing before the whole answer arrived
 * (curl 55, 56, 52, 18) is -ECONNRESET; connect or total timeout -ETIMEDOUT;
 * name resolution or an unreachable network -EHOSTUNREACH; any TLS failure,
 * certificate verification included, -EPROTO. When error != 0 the body is
 * empty; status is whatever status line arrived (0 when none). */

/* Called exactly once per submitted transfer, from the loop, after which the
 * response memory is gone (copy what you keep). Also called with -ECANCELED
 * for transfers still queued or running when the engine is freed or the
 * transfer cancelled. */
typedef void (*sm_http_done_fn)(const sm_http_response *resp, void *userdata);

/* Create an engine on loop. opts may be NULL for defaults. */
int sm_http_new(uv_loop_t *loop, const sm_http_options *opts, sm_http **ret);

/* Cancel everything (callbacks run with -ECANCELED), close the uv handles
 * and free the engine once they are closed: the caller must keep running the
 * loop until it drains. Accepts NULL; returns NULL. */
sm_http *sm_http_free(sm_http *h);

/* Queue a transfer. Returns 0 and, when ret is not NULL, a handle valid until
 * done runs; -EINVAL for a malformed request, -ENOMEM. done never runs before
 * this returns. */
int sm_http_submit(sm_http *h, const sm_http_request *req, sm_http_done_fn done, void *userdata,
                   sm_http_xfer **ret);

/* Cancel a queued or running transfer: its done runs with -ECANCELED from
 * the loop (never from inside this call). */
void sm_http_cancel(sm_http_xfer *x);

/* Case-insensitive header lookup in a response; NULL when absent. */
const char *sm_http_response_header(const sm_http_response *resp, const char *name);

/* Transfers queued + running: for tests and metrics. */
unsigned sm_http_pending(const sm_http *h);
