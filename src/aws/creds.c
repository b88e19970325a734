/* SPDX-License-Identifier: Apache-2.0 */
/* AWS credentials and the SDK default provider chain.
 *
 * Two layers:
 *  - a *provider* (sm_creds_provider) owns the cache and the refresh rules:
 *    cached credentials are handed out until the advisory window (15 min
 *    before expiry), then one background refresh runs and the cached ones
 *    keep being handed out even if it fails; inside the mandatory window
 *    (10 min) callers queue for the refresh. Only one refresh is ever in
 *    flight; everybody who needs it waits on that one.
 *  - a *source* knows how to fetch credentials once (environment, a file,
 *    credential_process, the container endpoint, IMDS, STS). A provider has
 *    one source; the chain picks its source at the first resolution, the
 *    way botocore does (first *configured* source wins, and a configured
 *    source that fails is an error rather than a reason to try the next).
 *
 * Assume-role and web identity sources own a nested provider for their
 * source credentials (so those are cached and refreshed too) and an AWS
 * client for STS that signs with a "holder" provider we set before each
 * call (anonymous for web identity, which AWS accepts unsigned).
 *
 * Lifetime: a provider is reference-counted internally. Its owner holds one
 * reference, the deferral handle one until it is closed, and a refresh in
 * flight one until its source reports back. A source reports back exactly
 * once per fetch (with -ECANCELED after a shutdown), so memory a late
 * callback lands in is always still there. User callbacks never run inside
 * sm_creds_provider_get(); sm_creds_provider_free() runs the pending ones
 * with -ECANCELED before it returns.
 *
 * Secrets: never formatted into a message. Error texts name the provider,
 * the profile, the file, the variable; parse errors give line and column,
 * never the text around them (jansson's own message quotes the input). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "smstudio/client.h"
#include "smstudio/creds.h"
#include "smstudio/imds.h"
#include "smstudio/log.h"
#include "smstudio/macro.h"
#include "smstudio/strbuf.h"
#include "smstudio/sts.h"
#include "smstudio/timeutil.h"

/* After a failed background refresh, wait this long before the next one:
 * without it every call in the advisory window would hit a broken source.
 * botocore's SSO token refresher uses the same 60 s. */
#define ADVISORY_RETRY_S 60
/* The Go v2 SDK's default limit for credential_process. */
#define PROCESS_DEFAULT_TIMEOUT_MS 60000L
/* Far above any real answer ({"Version":1,...} is a few KiB with a long
 * session token); a process printing more is broken or hostile. */
#define PROCESS_MAX_OUTPUT (64u * 1024u)
#define TOKEN_FILE_MAX     (64u * 1024u)
/* botocore's container fetcher: 2 s per attempt, 3 attempts, 1 s apart. */
#define CONTAINER_TIMEOUT_MS   2000L
#define CONTAINER_ATTEMPTS     3u
#define CONTAINER_RETRY_MS     1000u
#define CONTAINER_DEFAULT_BASE "http://169.254.170.2"
#define CHAIN_MAX_DEPTH        16
#define STS_DEFAULT_REGION     "us-east-1"

/* ------------------------------------------------------------------------ */
/* Credentials */

static void free_secret(char *s)
{
        if (!s)
                return;
        sm_secure_zero(s, strlen(s));
        free(s);
}

static sm_credentials *credentials_alloc(const char *key, const char *secret, const char *token,
                                         int64_t expiration, const char *provider)
{
        sm_credentials *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->n_ref = 1;
        c->expiration = expiration;
        c->provider = provider ? provider : "static";
        c->access_key_id = strdup(key);
        c->secret_access_key = strdup(secret);
        c->session_token = isempty(token) ? NULL : strdup(token);
        if (!c->access_key_id || !c->secret_access_key || (!isempty(token) && !c->session_token))
                return sm_credentials_unref(c);
        return c;
}

sm_credentials *sm_credentials_new(const char *access_key_id, const char *secret_access_key,
                                   const char *session_token, int64_t expiration,
                                   const char *provider)
{
        if (isempty(access_key_id) || isempty(secret_access_key))
                return NULL;
        return credentials_alloc(access_key_id, secret_access_key, session_token, expiration,
                                 provider);
}

sm_credentials *sm_credentials_ref(sm_credentials *c)
{
        if (c)
                c->n_ref++;
        return c;
}

sm_credentials *sm_credentials_unref(sm_credentials *c)
{
        if (!c || --c->n_ref > 0)
                return NULL;
        free_secret(c->access_key_id);
        free_secret(c->secret_access_key);
        free_secret(c->session_token);
        free(c->account_id);
        sm_secure_zero(c, sizeof(*c));
        free(c);
        return NULL;
}

DEFINE_POINTER_CLEANUP(sm_credentials, sm_credentials_unref)

/* ------------------------------------------------------------------------ */
/* Small helpers */

/* A malloc'ed formatted message; NULL only when out of memory, which
 * callers report as such. */
_printf_(1, 2) static char *strf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        return n < 0 ? NULL : s;
}

/* Set *ret_error to a formatted message and return r. */
_printf_(3, 4) static int fail_msg(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*ret_error);
        *ret_error = s;
        return r;
}

static const char *env_nonempty(const char *name)
{
        const char *v = getenv(name);

        return isempty(v) ? NULL : v;
}

/* Read a small local file whole (the loop may afford that: a token file of
 * a few KiB on a local disk). NUL-terminated; 0 or negative errno,
 * -EFBIG when larger than max. */
static int read_small_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        sm_buf b = {0};
        char chunk[4096];
        int fd, r = 0;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                if (b.len + (size_t)n > max) {
                        r = -EFBIG;
                        break;
                }
                r = sm_buf_append(&b, chunk, (size_t)n);
                if (r < 0)
                        break;
        }
        close(fd);
        sm_secure_zero(chunk, sizeof(chunk));
        if (r == 0 && !b.data)
                r = sm_buf_puts(&b, "");
        if (r < 0) {
                if (b.data)
                        sm_secure_zero(b.data, b.len);
                sm_buf_done(&b);
                return r;
        }
        *ret_len = b.len;
        *ret = sm_buf_steal(&b);
        return 0;
}

/* Profile lookups. Empty values count as absent, as in the SDKs' checks. */
static const char *prof_config(const sm_aws_settings *s, const char *profile, const char *key)
{
        const char *v = s->files ? sm_aws_config_profile_get(s->files, profile, key) : NULL;

        return isempty(v) ? NULL : v;
}

static const char *prof_credentials(const sm_aws_settings *s, const char *profile, const char *key)
{
        const char *v = s->files ? sm_aws_config_credentials_get(s->files, profile, key) : NULL;

        return isempty(v) ? NULL : v;
}

/* botocore merges the credentials file over the config file per profile. */
static const char *prof_get(const sm_aws_settings *s, const char *profile, const char *key)
{
        const char *v = prof_credentials(s, profile, key);

        return v ? v : prof_config(s, profile, key);
}

/* Credentials from a JSON document whose member names the caller gives
 * (container and IMDS say "Token", credential_process "SessionToken").
 * Errors never quote the document. */
typedef struct creds_json_names {
        const char *token;
        bool need_version; /* credential_process: "Version": 1 */
        bool check_code;   /* IMDS: "Code" must be "Success" when present */
} creds_json_names;

static int creds_from_json(const char *body, size_t len, const creds_json_names *names,
                           const char *provider, sm_credentials **ret, char **ret_error)
{
        json_error_t jerr;
        json_t *doc;
        const char *key, *secret, *token, *exp_s, *code, *account;
        int64_t exp = 0;
        sm_credentials *c;
        int r;

        doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                return fail_msg(ret_error, -EBADMSG, "invalid JSON (line %d, column %d)", jerr.line,
                                jerr.column);
        if (!json_is_object(doc)) {
                r = fail_msg(ret_error, -EBADMSG, "the JSON answer is not an object");
                goto out;
        }
        if (names->need_version) {
                json_t *v = json_object_get(doc, "Version");

                if (!json_is_integer(v) || json_integer_value(v) != 1) {
                        r = fail_msg(ret_error, -EBADMSG, "\"Version\" must be 1");
                        goto out;
                }
        }
        code = json_string_value(json_object_get(doc, "Code"));
        if (names->check_code && code && !streq(code, "Success")) {
                /* Codes are words like "AssumeRoleUnauthorizedAccess", no secret. */
                r = fail_msg(ret_error, -EACCES, "the answer says \"%.64s\"", code);
                goto out;
        }
        key = json_string_value(json_object_get(doc, "AccessKeyId"));
        secret = json_string_value(json_object_get(doc, "SecretAccessKey"));
        token = json_string_value(json_object_get(doc, names->token));
        exp_s = json_string_value(json_object_get(doc, "Expiration"));
        account = json_string_value(json_object_get(doc, "AccountId"));
        if (isempty(key) || isempty(secret)) {
                r = fail_msg(ret_error, -EBADMSG, "AccessKeyId or SecretAccessKey is missing");
                goto out;
        }
        if (json_object_get(doc, names->token) && !token) {
                r = fail_msg(ret_error, -EBADMSG, "\"%s\" is not a string", names->token);
                goto out;
        }
        if (json_object_get(doc, "Expiration") && (!exp_s || sm_parse_iso8601(exp_s, &exp) < 0)) {
                r = fail_msg(ret_error, -EBADMSG, "\"Expiration\" is not an ISO 8601 time");
                goto out;
        }
        c = sm_credentials_new(key, secret, token, exp, provider);
        if (!c) {
                r = fail_msg(ret_error, -ENOMEM, "out of memory");
                goto out;
        }
        if (!isempty(account)) {
                c->account_id = strdup(account);
                if (!c->account_id) {
                        sm_credentials_unref(c);
                        r = fail_msg(ret_error, -ENOMEM, "out of memory");
                        goto out;
                }
        }
        *ret = c;
        r = 0;
out:
        json_decref(doc);
        return r;
}

/* ------------------------------------------------------------------------ */
/* Provider core */

typedef struct source source;

typedef struct source_ops {
        /* Start one fetch. It ends with source_done() exactly once, never
         * inside this call. */
        void (*fetch)(source *s);
        /* The provider is going away: abort I/O, free nested objects. A
         * fetch in flight still ends with source_done() (sync or later). */
        void (*shutdown)(source *s);
        /* Free memory; no I/O is left. */
        void (*destroy)(source *s);
} source_ops;

struct source {
        const source_ops *ops;
        sm_creds_provider *p; /* owner */
        const char *name;     /* what credentials from here are called */
};

typedef struct waiter {
        struct waiter *next;
        sm_creds_done_fn done;
        void *userdata;
        sm_credentials *creds; /* set for a ready waiter */
} waiter;

typedef struct waiter_list {
        waiter *head, **tail;
} waiter_list;

struct sm_creds_provider {
        uv_loop_t *loop;
        unsigned n_ref;
        bool freeing;
        /* Runs ready waiters and synchronous fetch outcomes from the loop.
         * An async handle, not a 0 ms timer: it wakes the poll phase, so
         * even a caller running the loop with UV_RUN_ONCE (libuv < 1.45
         * runs due timers before polling, then blocks) sees it at once. */
        uv_async_t defer;

        source *src; /* NULL in a chain until the first resolution */
        bool is_chain;
        const char *name;

        sm_credentials *cached;
        bool refreshing;
        bool in_fetch;              /* inside src->ops->fetch(): outcomes must wait for the loop */
        int64_t advisory_failed_at; /* 0 = no failed background refresh */

        waiter_list waiting; /* need the refresh in flight */
        waiter_list ready;   /* hold their answer; run from the defer handle */

        /* A fetch that finished synchronously, reported from the loop. */
        bool deferred;
        int deferred_r;
        sm_credentials *deferred_creds;
        char *deferred_error;

        int64_t (*now)(void *);
        void *now_userdata;

        /* Chain inputs (borrowed), and knobs handed to nested providers. */
        sm_http *http;
        const sm_aws_settings *settings;
        long process_timeout_ms;
        char *container_base;
};

static void provider_refreshed(sm_creds_provider *p, int r, sm_credentials *c, const char *error);

static void wl_init(waiter_list *l)
{
        l->head = NULL;
        l->tail = &l->head;
}

static void wl_push(waiter_list *l, waiter *w)
{
        w->next = NULL;
        *l->tail = w;
        l->tail = &w->next;
}

/* Detach the whole list: callbacks may add new waiters meanwhile. */
static waiter *wl_take(waiter_list *l)
{
        waiter *h = l->head;

        wl_init(l);
        return h;
}

static int64_t default_now(void *userdata)
{
        return sm_now_unix();
}

static void provider_ref(sm_creds_provider *p)
{
        p->n_ref++;
}

static void provider_unref(sm_creds_provider *p)
{
        if (--p->n_ref > 0)
                return;
        if (p->src)
                p->src->ops->destroy(p->src);
        sm_credentials_unref(p->cached);
        sm_credentials_unref(p->deferred_creds);
        free(p->deferred_error);
        free(p->container_base);
        free(p);
}

static void on_defer_closed(uv_handle_t *h)
{
        provider_unref(h->data);
}

static void run_waiters(sm_creds_provider *p, waiter *w, int r, sm_credentials *c,
                        const char *error)
{
        waiter *next;

        for (; w; w = next) {
                next = w->next;
                /* A callback may have freed the provider: the rest are cancelled. */
                if (p->freeing)
                        w->done(-ECANCELED, NULL, "cancelled", w->userdata);
                else if (w->creds)
                        w->done(0, w->creds, NULL, w->userdata);
                else if (r == 0)
                        w->done(0, c, NULL, w->userdata);
                else
                        w->done(r, NULL, error ? error : strerror(-r), w->userdata);
                sm_credentials_unref(w->creds);
                free(w);
        }
}

static void on_defer(uv_async_t *a)
{
        sm_creds_provider *p = a->data;
        waiter *ready;

        provider_ref(p);
        uv_unref((uv_handle_t *)&p->defer);
        if (p->deferred) {
                _cleanup_(sm_credentials_unrefp) sm_credentials *c = TAKE_PTR(p->deferred_creds);
                _cleanup_free_ char *error = TAKE_PTR(p->deferred_error);

                p->deferred = false;
                provider_refreshed(p, p->deferred_r, TAKE_PTR(c), error);
        }
        ready = wl_take(&p->ready);
        run_waiters(p, ready, 0, NULL, NULL);
        provider_unref(p);
}

static void arm_defer(sm_creds_provider *p)
{
        /* Referenced only while something waits to be delivered: an idle
         * provider must not keep the loop alive, a busy one must. */
        uv_ref((uv_handle_t *)&p->defer);
        uv_async_send(&p->defer);
}

static sm_creds_provider *provider_alloc(uv_loop_t *loop)
{
        sm_creds_provider *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->loop = loop;
        p->n_ref = 2; /* the owner, and the defer handle until it is closed */
        if (uv_async_init(loop, &p->defer, on_defer) < 0) {
                free(p);
                return NULL;
        }
        p->defer.data = p;
        /* An idle provider must not keep the loop alive. */
        uv_unref((uv_handle_t *)&p->defer);
        wl_init(&p->waiting);
        wl_init(&p->ready);
        p->now = default_now;
        p->process_timeout_ms = PROCESS_DEFAULT_TIMEOUT_MS;
        p->name = "chain";
        return p;
}

/* For a fetch that knows its outcome at once: reported from the loop so
 * nothing completes inside sm_creds_provider_get(). */
static void source_done_later(source *s, int r, sm_credentials *c, const char *error)
{
        sm_creds_provider *p = s->p;

        p->deferred = true;
        p->deferred_r = r;
        p->deferred_creds = c;
        p->deferred_error = error ? strdup(error) : NULL;
        arm_defer(p);
}

/* A source reports the outcome of a fetch; c is handed over (may be NULL). */
static void source_done(source *s, int r, sm_credentials *c, const char *error)
{
        if (s->p->in_fetch)
                source_done_later(s, r, c, error);
        else
                provider_refreshed(s->p, r, c, error);
}

static int chain_select(sm_creds_provider *p, char **ret_error);

static void refresh_start(sm_creds_provider *p)
{
        _cleanup_free_ char *error = NULL;
        int r;

        if (p->refreshing || p->freeing)
                return;
        p->refreshing = true;
        provider_ref(p); /* dropped in provider_refreshed() */
        if (!p->src && p->is_chain) {
                r = chain_select(p, &error);
                if (r < 0) {
                        p->deferred = true;
                        p->deferred_r = r;
                        p->deferred_creds = NULL;
                        p->deferred_error = TAKE_PTR(error);
                        arm_defer(p);
                        return;
                }
        }
        p->in_fetch = true;
        p->src->ops->fetch(p->src);
        p->in_fetch = false;
}

static bool creds_usable(const sm_credentials *c, int64_t now)
{
        return c && (c->expiration == 0 || now < c->expiration - SM_CREDS_MANDATORY_REFRESH_S);
}

static bool creds_advisory(const sm_credentials *c, int64_t now)
{
        return c && c->expiration != 0 && now >= c->expiration - SM_CREDS_ADVISORY_REFRESH_S;
}

static void maybe_background_refresh(sm_creds_provider *p, int64_t now)
{
        if (!creds_advisory(p->cached, now) || p->refreshing)
                return;
        if (p->advisory_failed_at != 0 && now - p->advisory_failed_at < ADVISORY_RETRY_S)
                return;
        sm_log_debug("credentials from %s expire in %" PRId64 " s; refreshing in the background",
                     p->name, p->cached->expiration - now);
        refresh_start(p);
}

static void provider_refreshed(sm_creds_provider *p, int r, sm_credentials *c, const char *error)
{
        _cleanup_free_ char *expired_error = NULL;
        int64_t now = p->now(p->now_userdata);
        waiter *w;

        p->refreshing = false;
        if (p->freeing) {
                sm_credentials_unref(c);
                goto out;
        }
        if (r == 0 && !c)
                r = -EIO;
        if (r == 0 && c->expiration != 0 && c->expiration <= now) {
                char when[21];

                sm_format_iso8601(c->expiration, when);
                expired_error = strf("%s returned credentials that already expired (at %s)",
                                     c->provider, when);
                error = expired_error;
                c = sm_credentials_unref(c);
                r = -EKEYEXPIRED;
        }
        if (r == 0) {
                sm_credentials_unref(p->cached);
                p->cached = c;
                p->name = c->provider;
                p->advisory_failed_at = 0;
                if (sm_log_enabled(LOG_DEBUG)) {
                        char when[21];

                        sm_format_iso8601(c->expiration, when);
                        sm_log_debug("credentials from %s, expiring %s", c->provider,
                                     c->expiration ? when : "never");
                }
        } else if (creds_usable(p->cached, now)) {
                /* A background refresh: keep what we have. */
                p->advisory_failed_at = now;
                sm_log_debug("background credential refresh failed, keeping the current "
                             "credentials: %s",
                             error ? error : strerror(-r));
        }
        w = wl_take(&p->waiting);
        if (r == 0) {
                sm_credentials_ref(c);
                run_waiters(p, w, 0, c, NULL);
                sm_credentials_unref(c);
        } else {
                run_waiters(p, w, r, NULL, error);
        }
out:
        provider_unref(p);
}

int sm_creds_provider_get(sm_creds_provider *p, sm_creds_done_fn done, void *userdata)
{
        waiter *w;
        int64_t now;

        if (!p || !done || p->freeing)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->done = done;
        w->userdata = userdata;
        now = p->now(p->now_userdata);
        if (creds_usable(p->cached, now)) {
                w->creds = sm_credentials_ref(p->cached);
                wl_push(&p->ready, w);
                arm_defer(p);
                maybe_background_refresh(p, now);
                return 0;
        }
        wl_push(&p->waiting, w);
        refresh_start(p);
        return 0;
}

sm_credentials *sm_creds_provider_peek(sm_creds_provider *p)
{
        int64_t now;

        if (!p || p->freeing)
                return NULL;
        now = p->now(p->now_userdata);
        if (!creds_usable(p->cached, now))
                return NULL;
        maybe_background_refresh(p, now);
        return p->cached;
}

void sm_creds_provider_invalidate(sm_creds_provider *p)
{
        if (!p)
                return;
        p->cached = sm_credentials_unref(p->cached);
        p->advisory_failed_at = 0;
}

const char *sm_creds_provider_name(const sm_creds_provider *p)
{
        return p ? p->name : NULL;
}

void sm_creds_provider_set_clock(sm_creds_provider *p, int64_t (*now)(void *), void *userdata)
{
        p->now = now ? now : default_now;
        p->now_userdata = now ? userdata : NULL;
}

void sm_creds_provider_set_process_timeout(sm_creds_provider *p, long timeout_ms)
{
        p->process_timeout_ms = timeout_ms > 0 ? timeout_ms : PROCESS_DEFAULT_TIMEOUT_MS;
}

int sm_creds_provider_set_container_base(sm_creds_provider *p, const char *base_url)
{
        return sm_strdup_replace(&p->container_base, base_url);
}

sm_creds_provider *sm_creds_provider_free(sm_creds_provider *p)
{
        waiter *w;

        if (!p || p->freeing)
                return NULL;
        p->freeing = true;
        w = wl_take(&p->waiting);
        run_waiters(p, w, -ECANCELED, NULL, "cancelled");
        w = wl_take(&p->ready);
        run_waiters(p, w, -ECANCELED, NULL, "cancelled");
        if (p->deferred) {
                /* The handle that would report it is closing: settle it here. */
                p->deferred = false;
                p->deferred_creds = sm_credentials_unref(p->deferred_creds);
                free(p->deferred_error);
                p->deferred_error = NULL;
                p->refreshing = false;
                provider_unref(p);
        }
        if (p->src)
                p->src->ops->shutdown(p->src);
        uv_close((uv_handle_t *)&p->defer, on_defer_closed);
        provider_unref(p);
        return NULL;
}

/* ------------------------------------------------------------------------ */
/* Static credentials (also: keys from a file, anonymous) */

typedef struct static_source {
        source base;
        sm_credentials *creds;
} static_source;

static void static_fetch(source *s)
{
        static_source *st = (static_source *)s;

        source_done_later(s, 0, sm_credentials_ref(st->creds), NULL);
}

static void noop_shutdown(source *s)
{
}

static void static_destroy(source *s)
{
        static_source *st = (static_source *)s;

        sm_credentials_unref(st->creds);
        free(st);
}

static const source_ops static_ops = {
        .fetch = static_fetch,
        .shutdown = noop_shutdown,
        .destroy = static_destroy,
};

static source *static_source_new(sm_creds_provider *owner, sm_credentials *c)
{
        static_source *st = calloc(1, sizeof(*st));

        if (!st)
                return NULL;
        st->base.ops = &static_ops;
        st->base.p = owner;
        st->base.name = c->provider;
        st->creds = sm_credentials_ref(c);
        return &st->base;
}

/* A provider whose source is src-to-be; the caller sets p->src. */
static int provider_new_static(uv_loop_t *loop, sm_credentials *c, sm_creds_provider **ret)
{
        sm_creds_provider *p = provider_alloc(loop);

        if (!p)
                return -ENOMEM;
        p->src = static_source_new(p, c);
        if (!p->src) {
                sm_creds_provider_free(p);
                return -ENOMEM;
        }
        /* Usable at once, so peek() works before the first get. */
        p->cached = sm_credentials_ref(c);
        p->name = c->provider;
        *ret = p;
        return 0;
}

int sm_creds_provider_new_static(uv_loop_t *loop, sm_credentials *c, sm_creds_provider **ret)
{
        if (!loop || !c || !ret)
                return -EINVAL;
        return provider_new_static(loop, c, ret);
}

int sm_creds_provider_new_anonymous(uv_loop_t *loop, sm_creds_provider **ret)
{
        _cleanup_(sm_credentials_unrefp) sm_credentials *c = NULL;

        if (!loop || !ret)
                return -EINVAL;
        /* Empty keys: nothing to sign with, and nothing to leak. */
        c = credentials_alloc("", "", NULL, 0, SM_CREDS_PROVIDER_ANONYMOUS);
        if (!c)
                return -ENOMEM;
        return provider_new_static(loop, c, ret);
}

/* Replace what a static provider hands out (the STS holder below). */
static void static_provider_set(sm_creds_provider *p, sm_credentials *c)
{
        static_source *st = (static_source *)p->src;

        sm_credentials_unref(st->creds);
        st->creds = sm_credentials_ref(c);
        sm_credentials_unref(p->cached);
        p->cached = sm_credentials_ref(c);
        p->name = c->provider;
}

/* ------------------------------------------------------------------------ */
/* Environment variables (re-read at each fetch: AWS_CREDENTIAL_EXPIRATION
 * means someone rotates them under us) */

static void env_fetch(source *s)
{
        const char *key = env_nonempty("AWS_ACCESS_KEY_ID");
        const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
        const char *token = env_nonempty("AWS_SESSION_TOKEN");
        const char *exp_s = env_nonempty("AWS_CREDENTIAL_EXPIRATION");
        const char *account = env_nonempty("AWS_ACCOUNT_ID");
        sm_credentials *c;
        int64_t exp = 0;

        /* The pre-2014 name botocore still honours. */
        if (!token)
                token = env_nonempty("AWS_SECURITY_TOKEN");
        if (!key) {
                source_done_later(s, -ENOKEY, NULL,
                                  "environment variables: AWS_ACCESS_KEY_ID is not set");
                return;
        }
        if (!secret) {
                source_done_later(s, -ENOKEY, NULL,
                                  "environment variables: AWS_ACCESS_KEY_ID is set but "
                                  "AWS_SECRET_ACCESS_KEY is not");
                return;
        }
        if (exp_s && sm_parse_iso8601(exp_s, &exp) < 0) {
                source_done_later(s, -EINVAL, NULL,
                                  "environment variables: AWS_CREDENTIAL_EXPIRATION is not an "
                                  "ISO 8601 time");
                return;
        }
        c = sm_credentials_new(key, secret, token, exp, "environment");
        if (c && account)
                c->account_id = strdup(account);
        if (!c || (account && !c->account_id)) {
                sm_credentials_unref(c);
                source_done_later(s, -ENOMEM, NULL, "out of memory");
                return;
        }
        source_done_later(s, 0, c, NULL);
}

static void plain_destroy(source *s)
{
        free(s);
}

static const source_ops env_ops = {
        .fetch = env_fetch,
        .shutdown = noop_shutdown,
        .destroy = plain_destroy,
};

static source *env_source_new(sm_creds_provider *owner)
{
        source *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->ops = &env_ops;
        s->p = owner;
        s->name = "environment";
        return s;
}

/* ------------------------------------------------------------------------ */
/* credential_process
 *
 * Run through "/bin/sh -c COMMAND", as the Go v2 SDK does on POSIX systems
 * (botocore splits the line shell-like and execs without a shell; every
 * command line botocore accepts means the same to sh, and sh adds
 * variables and pipes users put there anyway). The process gets its own
 * session so a timeout can kill the whole group, stdin is /dev/null, stderr
 * goes to /dev/null (it may echo secrets, and the journal is no place for
 * them), stdout is read with a size cap. */

typedef struct process_source {
        source base;
        char *command;
        char *profile;
        long timeout_ms;

        /* One run at a time. */
        uv_process_t proc;
        uv_pipe_t out;
        uv_timer_t timer;
        unsigned open_handles;
        bool running, spawned, exited, eof, timed_out, too_big, shut;
        int64_t exit_status;
        int term_signal;
        int error; /* spawn or read failure */
        sm_buf buf;
} process_source;

static void process_finish(process_source *ps)
{
        _cleanup_free_ char *error = NULL;
        sm_credentials *c = NULL;
        int r;

        ps->running = false;
        if (ps->shut)
                r = fail_msg(&error, -ECANCELED, "cancelled");
        else if (ps->timed_out)
                r = fail_msg(&error, -ETIMEDOUT,
                             "credential_process of profile \"%s\" timed out after %ld ms",
                             ps->profile, ps->timeout_ms);
        else if (!ps->spawned)
                r = fail_msg(&error, ps->error,
                             "credential_process of profile \"%s\" could not be started: %s",
                             ps->profile, uv_strerror(ps->error));
        else if (ps->too_big)
                r = fail_msg(&error, -EMSGSIZE,
                             "credential_process of profile \"%s\" printed more than %u bytes",
                             ps->profile, PROCESS_MAX_OUTPUT);
        else if (ps->term_signal)
                r = fail_msg(&error, -EIO,
                             "credential_process of profile \"%s\" was killed by signal %d",
                             ps->profile, ps->term_signal);
        else if (ps->exit_status != 0)
                r = fail_msg(&error, -EIO,
                             "credential_process of profile \"%s\" exited with status %" PRId64,
                             ps->profile, ps->exit_status);
        else if (ps->error)
                r = fail_msg(&error, ps->error,
                             "credential_process of profile \"%s\": reading its output: %s",
                             ps->profile, uv_strerror(ps->error));
        else {
                static const creds_json_names names = {.token = "SessionToken",
                                                       .need_version = true};
                _cleanup_free_ char *why = NULL;

                r = creds_from_json(ps->buf.data ? ps->buf.data : "", ps->buf.len, &names,
                                    "credential-process", &c, &why);
                if (r < 0)
                        fail_msg(&error, r, "credential_process of profile \"%s\" printed %s",
                                 ps->profile, why ? why : "an unusable answer");
        }
        if (ps->buf.data)
                sm_secure_zero(ps->buf.data, ps->buf.cap);
        sm_buf_done(&ps->buf);
        source_done(&ps->base, r, c, error ? error : (r < 0 ? strerror(-r) : NULL));
}

static void on_process_handle_closed(uv_handle_t *h)
{
        process_source *ps = h->data;

        if (--ps->open_handles == 0)
                process_finish(ps);
}

static void process_close_all(process_source *ps)
{
        uv_handle_t *hs[] = {(uv_handle_t *)&ps->proc, (uv_handle_t *)&ps->out,
                             (uv_handle_t *)&ps->timer};

        for (size_t i = 0; i < ELEMENTSOF(hs); i++)
                if (hs[i]->data && !uv_is_closing(hs[i]))
                        uv_close(hs[i], on_process_handle_closed);
}

static void process_maybe_done(process_source *ps)
{
        if (ps->exited && ps->eof)
                process_close_all(ps);
}

static void process_kill(process_source *ps)
{
        /* The process leads its own session: kill everything it started. */
        if (ps->spawned && !ps->exited && ps->proc.pid > 0 && kill(-ps->proc.pid, SIGKILL) < 0)
                kill(ps->proc.pid, SIGKILL);
}

static void on_process_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
        process_source *ps = proc->data;

        ps->exited = true;
        ps->exit_status = exit_status;
        ps->term_signal = term_signal;
        /* A grandchild may keep stdout open: the answer is complete when
         * the process we ran is gone and what it wrote has been read. Give
         * the pipe no more time than the timer allows. */
        process_maybe_done(ps);
}

static void on_process_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        static char chunk[4096];

        /* One static chunk: reads are consumed before the next alloc. */
        *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_process_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
        process_source *ps = stream->data;

        if (nread > 0) {
                if (ps->too_big || ps->buf.len + (size_t)nread > PROCESS_MAX_OUTPUT) {
                        ps->too_big = true;
                        process_kill(ps);
                } else if (sm_buf_append(&ps->buf, buf->base, (size_t)nread) < 0) {
                        ps->error = UV_ENOMEM;
                        process_kill(ps);
                }
                sm_secure_zero(buf->base, (size_t)nread);
                return;
        }
        if (nread == 0)
                return;
        if (nread != UV_EOF)
                ps->error = (int)nread;
        ps->eof = true;
        uv_read_stop(stream);
        process_maybe_done(ps);
}

static void on_process_timeout(uv_timer_t *t)
{
        process_source *ps = t->data;

        ps->timed_out = true;
        process_kill(ps);
        /* Stop waiting for a pipe some escaped grandchild may hold. */
        if (!ps->eof) {
                ps->eof = true;
                uv_read_stop((uv_stream_t *)&ps->out);
        }
        process_maybe_done(ps);
}

static void process_fetch(source *s)
{
        process_source *ps = (process_source *)s;
        uv_loop_t *loop = s->p->loop;
        char *args[] = {"/bin/sh", "-c", ps->command, NULL};
        uv_stdio_container_t stdio[3];
        uv_process_options_t opts = {0};
        int r;

        ps->running = true;
        ps->spawned = ps->exited = ps->eof = ps->timed_out = ps->too_big = false;
        ps->exit_status = 0;
        ps->term_signal = 0;
        ps->error = 0;
        sm_buf_clear(&ps->buf);
        ps->proc = (uv_process_t){0};
        ps->out = (uv_pipe_t){0};
        ps->timer = (uv_timer_t){0};

        uv_pipe_init(loop, &ps->out, 0);
        ps->out.data = ps;
        ps->open_handles++;
        uv_timer_init(loop, &ps->timer);
        ps->timer.data = ps;
        ps->open_handles++;

        stdio[0].flags = UV_IGNORE;
        stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[1].data.stream = (uv_stream_t *)&ps->out;
        stdio[2].flags = UV_IGNORE;
        opts.file = args[0];
        opts.args = args;
        opts.exit_cb = on_process_exit;
        opts.stdio = stdio;
        opts.stdio_count = 3;
        opts.flags = UV_PROCESS_DETACHED;

        /* On Unix the handle is initialised even when spawning fails, and
         * must be closed like any other. */
        r = uv_spawn(loop, &ps->proc, &opts);
        ps->proc.data = ps;
        ps->open_handles++;
        if (r < 0) {
                ps->error = r;
                ps->exited = ps->eof = true;
                process_close_all(ps);
                return;
        }
        ps->spawned = true;
        r = uv_read_start((uv_stream_t *)&ps->out, on_process_alloc, on_process_read);
        if (r < 0) {
                ps->error = r;
                ps->eof = true;
        }
        uv_timer_start(&ps->timer, on_process_timeout, (uint64_t)ps->timeout_ms, 0);
}

static void process_shutdown(source *s)
{
        process_source *ps = (process_source *)s;

        if (!ps->running)
                return;
        ps->shut = true;
        process_kill(ps);
        if (!ps->eof) {
                ps->eof = true;
                uv_read_stop((uv_stream_t *)&ps->out);
        }
        uv_timer_stop(&ps->timer);
        process_maybe_done(ps);
}

static void process_destroy(source *s)
{
        process_source *ps = (process_source *)s;

        free(ps->command);
        free(ps->profile);
        sm_buf_done(&ps->buf);
        free(ps);
}

static const source_ops process_ops = {
        .fetch = process_fetch,
        .shutdown = process_shutdown,
        .destroy = process_destroy,
};

static source *process_source_new(sm_creds_provider *owner, const char *command,
                                  const char *profile, long timeout_ms)
{
        process_source *ps = calloc(1, sizeof(*ps));

        if (!ps)
                return NULL;
        ps->base.ops = &process_ops;
        ps->base.p = owner;
        ps->base.name = "credential-process";
        ps->command = strdup(command);
        ps->profile = strdup(profile);
        ps->timeout_ms = timeout_ms;
        if (!ps->command || !ps->profile) {
                process_destroy(&ps->base);
                return NULL;
        }
        return &ps->base;
}

/* ------------------------------------------------------------------------ */
/* Container endpoint (ECS task roles, EKS Pod Identity)
 *
 * http:// is only trusted towards this host: loopback, the ECS agent
 * (169.254.170.2) and Pod Identity (169.254.170.23, fd00:ec2::23). A name
 * must resolve to those addresses only; it is resolved with
 * uv_getaddrinfo() (a thread-pool request) and curl resolves it again, as
 * the SDKs do. */

typedef struct container_source {
        source base;
        sm_http *http;
        char *base_url; /* for the relative URI */

        /* One fetch at a time. */
        char *url;
        char *host; /* for messages and the host check */
        char *auth;
        unsigned attempt;
        bool shut;
        bool gai_active;
        uv_getaddrinfo_t gai;
        sm_http_xfer *xfer;
        uv_timer_t retry_timer;
        bool timer_open;
        bool timer_active;
} container_source;

static bool addr_allowed(const struct sockaddr *sa)
{
        static const unsigned char pod_v6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                                 0,    0,    0,    0,    0, 0, 0, 0x23};

        if (sa->sa_family == AF_INET) {
                uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

                return (a >> 24) == 127 || a == 0xA9FEAA02u /* 169.254.170.2 */ ||
                       a == 0xA9FEAA17u /* 169.254.170.23 */;
        }
        if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

                return IN6_IS_ADDR_LOOPBACK(a) || memcmp(a->s6_addr, pod_v6, 16) == 0;
        }
        return false;
}

/* Split an http(s) URL: 1 for https, 0 for http, negative when malformed.
 * *ret_host is malloc'ed, without brackets. */
static int url_split_host(const char *url, char **ret_host)
{
        const char *p, *end;
        int tls;

        if (strncasecmp(url, "https://", 8) == 0) {
                tls = 1;
                p = url + 8;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                tls = 0;
                p = url + 7;
        } else
                return -EINVAL;
        end = p + strcspn(p, "/?#");
        if (memchr(p, '@', (size_t)(end - p)))
                return -EINVAL; /* user info: no place for it here */
        if (*p == '[') {
                const char *close = memchr(p, ']', (size_t)(end - p));

                if (!close)
                        return -EINVAL;
                *ret_host = strndup(p + 1, (size_t)(close - p - 1));
        } else {
                const char *colon = memchr(p, ':', (size_t)(end - p));

                *ret_host = strndup(p, (size_t)((colon ? colon : end) - p));
        }
        if (!*ret_host)
                return -ENOMEM;
        if (!**ret_host) {
                free(*ret_host);
                *ret_host = NULL;
                return -EINVAL;
        }
        return tls;
}

static void container_fail(container_source *cs, int r, const char *fmt, ...) _printf_(3, 4);

static void container_reset(container_source *cs)
{
        free(cs->url);
        free(cs->host);
        free_secret(cs->auth);
        cs->url = cs->host = cs->auth = NULL;
}

static void container_fail(container_source *cs, int r, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        container_reset(cs);
        source_done(&cs->base, r, NULL, msg ? msg : strerror(-r));
}

static void container_send(container_source *cs);

static void on_container_retry(uv_timer_t *t)
{
        container_source *cs = t->data;

        cs->timer_active = false;
        container_send(cs);
}

static void on_container_done(const sm_http_response *resp, void *userdata)
{
        static const creds_json_names names = {.token = "Token"};
        container_source *cs = userdata;
        _cleanup_free_ char *why = NULL;
        sm_credentials *c = NULL;
        int r;

        cs->xfer = NULL;
        if (cs->shut || resp->error == -ECANCELED) {
                container_fail(cs, -ECANCELED, "cancelled");
                return;
        }
        if (resp->error == 0 && resp->status == 200) {
                r = creds_from_json(resp->body, resp->body_len, &names, "container", &c, &why);
                if (r < 0) {
                        container_fail(cs, r, "container endpoint (host %s): %s", cs->host,
                                       why ? why : "unusable answer");
                        return;
                }
                container_reset(cs);
                source_done(&cs->base, 0, c, NULL);
                return;
        }
        /* Transport failures and server errors are worth another try. */
        if ((resp->error != 0 || resp->status >= 500 || resp->status == 429) &&
            cs->attempt < CONTAINER_ATTEMPTS) {
                cs->timer_active = true;
                uv_timer_start(&cs->retry_timer, on_container_retry, CONTAINER_RETRY_MS, 0);
                return;
        }
        if (resp->error == -ETIMEDOUT)
                container_fail(cs, -ETIMEDOUT,
                               "container endpoint (host %s): timed out after %ld ms", cs->host,
                               CONTAINER_TIMEOUT_MS);
        else if (resp->error != 0)
                container_fail(cs, resp->error, "container endpoint (host %s): %s", cs->host,
                               resp->error_text ? resp->error_text : strerror(-resp->error));
        else
                container_fail(cs, resp->status == 401 || resp->status == 403 ? -EACCES : -EIO,
                               "container endpoint (host %s) answered HTTP %ld", cs->host,
                               resp->status);
}

static void container_send(container_source *cs)
{
        sm_header header = {"Authorization", cs->auth};
        sm_http_request req = {
                .method = "GET",
                .url = cs->url,
                .headers = cs->auth ? &header : NULL,
                .n_headers = cs->auth ? 1 : 0,
                .timeout_ms = CONTAINER_TIMEOUT_MS,
                .connect_timeout_ms = CONTAINER_TIMEOUT_MS,
        };
        int r;

        if (cs->shut) {
                container_fail(cs, -ECANCELED, "cancelled");
                return;
        }
        cs->attempt++;
        r = sm_http_submit(cs->http, &req, on_container_done, cs, &cs->xfer);
        if (r < 0)
                container_fail(cs, r, "container endpoint (host %s): %s", cs->host, strerror(-r));
}

static void on_container_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
        container_source *cs = req->data;
        bool ok = status == 0 && res;

        cs->gai_active = false;
        for (struct addrinfo *ai = res; ok && ai; ai = ai->ai_next)
                if (!addr_allowed(ai->ai_addr))
                        ok = false;
        uv_freeaddrinfo(res);
        if (cs->shut || status == UV_ECANCELED) {
                container_fail(cs, -ECANCELED, "cancelled");
                return;
        }
        if (status != 0) {
                container_fail(cs, -EHOSTUNREACH,
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI: cannot resolve host %s: %s",
                               cs->host, uv_strerror(status));
                return;
        }
        if (!ok) {
                container_fail(cs, -EPERM,
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI: host %s does not resolve to "
                               "loopback or a container credentials address only, so plain "
                               "http to it is refused (use https)",
                               cs->host);
                return;
        }
        container_send(cs);
}

/* The Authorization header value, re-read on each fetch: EKS rotates the
 * token file under us. */
static int container_auth(container_source *cs, char **ret_error)
{
        const char *file = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        const char *value = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        char *token = NULL;
        size_t len;
        int r;

        if (file) {
                r = read_small_file(file, TOKEN_FILE_MAX, &token, &len);
                if (r < 0)
                        return fail_msg(ret_error, r,
                                        "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
                                        file, strerror(-r));
                if (strlen(token) != len) {
                        free_secret(token);
                        return fail_msg(ret_error, -EINVAL,
                                        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s contains a NUL "
                                        "byte",
                                        file);
                }
        } else if (value) {
                token = strdup(value);
                if (!token)
                        return -ENOMEM;
        } else
                return 0;
        /* A line break would smuggle another header into the request. */
        if (strpbrk(token, "\r\n")) {
                free_secret(token);
                return fail_msg(ret_error, -EINVAL,
                                "the container authorization token (%s) contains a line break",
                                file ? "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
                                     : "AWS_CONTAINER_AUTHORIZATION_TOKEN");
        }
        cs->auth = isempty(token) ? NULL : token;
        if (!cs->auth)
                free(token);
        return 0;
}

static void container_fetch(source *s)
{
        container_source *cs = (container_source *)s;
        const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
        _cleanup_free_ char *error = NULL;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        int r, tls;

        cs->attempt = 0;
        if (rel) {
                cs->url = strf("%s%s%s", cs->base_url, rel[0] == '/' ? "" : "/", rel);
                r = cs->url ? url_split_host(cs->url, &cs->host) : -ENOMEM;
                if (r < 0)
                        goto fail_url;
        } else if (full) {
                cs->url = strdup(full);
                if (!cs->url) {
                        r = -ENOMEM;
                        goto fail_url;
                }
                tls = url_split_host(full, &cs->host);
                if (tls < 0) {
                        r = tls;
                        goto fail_url;
                }
                if (!tls) {
                        struct sockaddr_in sin = {.sin_family = AF_INET};
                        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
                        const struct sockaddr *sa = NULL;

                        if (inet_pton(AF_INET, cs->host, &sin.sin_addr) == 1)
                                sa = (const struct sockaddr *)&sin;
                        else if (inet_pton(AF_INET6, cs->host, &sin6.sin6_addr) == 1)
                                sa = (const struct sockaddr *)&sin6;
                        if (sa) {
                                if (!addr_allowed(sa)) {
                                        r = fail_msg(&error, -EPERM,
                                                     "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain "
                                                     "http to %s is refused: only loopback, "
                                                     "169.254.170.2, 169.254.170.23 and "
                                                     "fd00:ec2::23 are trusted (use https)",
                                                     cs->host);
                                        goto fail;
                                }
                        } else {
                                r = container_auth(cs, &error);
                                if (r < 0)
                                        goto fail;
                                cs->gai.data = cs;
                                r = uv_getaddrinfo(s->p->loop, &cs->gai, on_container_resolved,
                                                   cs->host, NULL, &hints);
                                if (r < 0) {
                                        r = fail_msg(&error, -EHOSTUNREACH,
                                                     "AWS_CONTAINER_CREDENTIALS_FULL_URI: cannot "
                                                     "resolve host %s: %s",
                                                     cs->host, uv_strerror(r));
                                        goto fail;
                                }
                                cs->gai_active = true;
                                return;
                        }
                }
        } else {
                r = fail_msg(&error, -ENOKEY,
                             "container endpoint: neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                             "nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set");
                goto fail;
        }
        r = container_auth(cs, &error);
        if (r < 0)
                goto fail;
        /* Through the loop so nothing completes inside the fetch call. */
        cs->timer_active = true;
        uv_timer_start(&cs->retry_timer, on_container_retry, 0, 0);
        return;

fail_url:
        if (r != -ENOMEM)
                fail_msg(&error, r, "%s is not an http(s) URL",
                         rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (with its base)"
                             : "AWS_CONTAINER_CREDENTIALS_FULL_URI");
fail:
        container_reset(cs);
        source_done_later(s, r, NULL, error ? error : strerror(-r));
}

static void on_container_timer_closed(uv_handle_t *h)
{
        container_source *cs = h->data;

        provider_unref(cs->base.p);
}

static void container_shutdown(source *s)
{
        container_source *cs = (container_source *)s;

        cs->shut = true;
        if (cs->gai_active)
                uv_cancel((uv_req_t *)&cs->gai); /* if too late, the callback sees shut */
        if (cs->xfer)
                sm_http_cancel(cs->xfer);
        if (cs->timer_active) {
                cs->timer_active = false;
                uv_timer_stop(&cs->retry_timer);
                container_fail(cs, -ECANCELED, "cancelled");
        }
        if (cs->timer_open) {
                cs->timer_open = false;
                uv_close((uv_handle_t *)&cs->retry_timer, on_container_timer_closed);
        }
}

static void container_destroy(source *s)
{
        container_source *cs = (container_source *)s;

        container_reset(cs);
        free(cs->base_url);
        free(cs);
}

static const source_ops container_ops = {
        .fetch = container_fetch,
        .shutdown = container_shutdown,
        .destroy = container_destroy,
};

static source *container_source_new(sm_creds_provider *owner, sm_http *http, const char *base)
{
        container_source *cs = calloc(1, sizeof(*cs));

        if (!cs)
                return NULL;
        cs->base.ops = &container_ops;
        cs->base.p = owner;
        cs->base.name = "container";
        cs->http = http;
        cs->base_url = strdup(base ? base : CONTAINER_DEFAULT_BASE);
        if (!cs->base_url) {
                free(cs);
                return NULL;
        }
        uv_timer_init(owner->loop, &cs->retry_timer);
        cs->retry_timer.data = cs;
        cs->timer_open = true;
        provider_ref(owner); /* until the timer is closed */
        return &cs->base;
}

/* ------------------------------------------------------------------------ */
/* EC2 instance metadata */

#define IMDS_CREDS_PATH "/latest/meta-data/iam/security-credentials/"

typedef struct imds_source {
        source base;
        sm_imds *imds;
        bool shut;
        char *role;
        /* Set while the chain reached IMDS by elimination and it never
         * answered: failures then read "no AWS credentials found: ...". */
        char *looked_in;
} imds_source;

static void imds_fail(imds_source *is, int r, const char *why)
{
        _cleanup_free_ char *msg = NULL;

        if (r == -ECANCELED || is->shut) {
                source_done(&is->base, -ECANCELED, NULL, "cancelled");
                return;
        }
        if (is->looked_in)
                msg = strf("no AWS credentials found: looked in %s, EC2 instance metadata (%s)",
                           is->looked_in, why);
        else
                msg = strf("EC2 instance metadata: %s", why);
        source_done(&is->base, r, NULL, msg ? msg : why);
}

static void on_imds_creds(int r, const char *body, size_t body_len, const char *error,
                          void *userdata)
{
        static const creds_json_names names = {.token = "Token", .check_code = true};
        imds_source *is = userdata;
        _cleanup_free_ char *why = NULL, *msg = NULL;
        sm_credentials *c = NULL;

        if (r < 0) {
                msg = strf("credentials of role %s: %s", is->role, error ? error : strerror(-r));
                imds_fail(is, r, msg ? msg : "credentials request failed");
                return;
        }
        r = creds_from_json(body, body_len, &names, "imds", &c, &why);
        if (r < 0) {
                msg = strf("credentials of role %s: %s", is->role, why ? why : "unusable answer");
                imds_fail(is, r, msg ? msg : "unusable answer");
                return;
        }
        /* Found once: later failures are refresh failures, not "none found". */
        free(is->looked_in);
        is->looked_in = NULL;
        source_done(&is->base, 0, c, NULL);
}

static void on_imds_role(int r, const char *body, size_t body_len, const char *error,
                         void *userdata)
{
        imds_source *is = userdata;
        _cleanup_free_ char *path = NULL;
        size_t len;

        if (r == -ENOENT) {
                imds_fail(is, -ENOKEY, "no IAM role is attached to this instance");
                return;
        }
        if (r < 0) {
                imds_fail(is, r, error ? error : strerror(-r));
                return;
        }
        /* One role per instance profile; the first line names it. */
        len = strcspn(body, "\r\n");
        while (len > 0 && (body[len - 1] == ' ' || body[len - 1] == '\t'))
                len--;
        if (len == 0 || len != strcspn(body, "/?# \t\r\n") || len > 128) {
                imds_fail(is, -ENOKEY,
                          len == 0 ? "no IAM role is attached to this instance"
                                   : "the role name it gave is malformed");
                return;
        }
        free(is->role);
        is->role = strndup(body, len);
        path = strf(IMDS_CREDS_PATH "%s", is->role ? is->role : "");
        if (!is->role || !path) {
                imds_fail(is, -ENOMEM, "out of memory");
                return;
        }
        r = sm_imds_get(is->imds, path, on_imds_creds, is);
        if (r < 0)
                imds_fail(is, r, strerror(-r));
}

static void imds_fetch(source *s)
{
        imds_source *is = (imds_source *)s;
        _cleanup_free_ char *msg = NULL;
        int r;

        /* The role is asked again each time: an instance profile can be swapped. */
        r = sm_imds_get(is->imds, IMDS_CREDS_PATH, on_imds_role, is);
        if (r < 0) {
                if (is->looked_in)
                        msg = strf("no AWS credentials found: looked in %s, EC2 instance "
                                   "metadata (%s)",
                                   is->looked_in, strerror(-r));
                source_done_later(s, r, NULL, msg ? msg : strerror(-r));
        }
}

static void imds_shutdown(source *s)
{
        imds_source *is = (imds_source *)s;

        is->shut = true;
        /* Runs our pending callback with -ECANCELED before returning. */
        is->imds = sm_imds_free(is->imds);
}

static void imds_destroy(source *s)
{
        imds_source *is = (imds_source *)s;

        sm_imds_free(is->imds);
        free(is->role);
        free(is->looked_in);
        free(is);
}

static const source_ops imds_ops = {
        .fetch = imds_fetch,
        .shutdown = imds_shutdown,
        .destroy = imds_destroy,
};

/* ------------------------------------------------------------------------ */
/* STS: assume-role and web identity */

typedef struct sts_source {
        source base;
        bool web_identity;
        char *profile; /* NULL for web identity from the environment */
        char *role_arn;
        char *session_name;
        char *external_id;
        long duration_s; /* 0 = STS default */
        char *token_file;

        sm_creds_provider *source_creds; /* assume-role: where source credentials come from */
        sm_creds_provider *holder;       /* what the STS client signs with */
        sm_aws_settings sts_settings;    /* shallow copy of the chain's, with a region */
        sm_aws_client *client;
        bool shut;
        bool busy;
} sts_source;

static char *sts_what(const sts_source *ss)
{
        if (ss->profile)
                return strf("%s profile \"%s\" (role %s)",
                            ss->web_identity ? "web identity" : "assume-role", ss->profile,
                            ss->role_arn);
        return strf("web identity (AWS_WEB_IDENTITY_TOKEN_FILE, role %s)", ss->role_arn);
}

_printf_(3, 4) static void sts_fail(sts_source *ss, int r, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL, *why = NULL, *msg = NULL;
        va_list ap;

        ss->busy = false;
        if (ss->shut || r == -ECANCELED) {
                source_done(&ss->base, -ECANCELED, NULL, "cancelled");
                return;
        }
        va_start(ap, fmt);
        if (vasprintf(&why, fmt, ap) < 0)
                why = NULL;
        va_end(ap);
        what = sts_what(ss);
        msg = strf("%s: %s", what ? what : "STS", why ? why : strerror(-r));
        source_done(&ss->base, r, NULL, msg ? msg : strerror(-r));
}

static void on_sts_done(const sm_aws_response *resp, void *userdata)
{
        sts_source *ss = userdata;
        const char *op = ss->web_identity ? "AssumeRoleWithWebIdentity" : "AssumeRole";
        sm_credentials *c = NULL;
        int r;

        if (ss->shut || (resp->error && streq_ptr(resp->error->code, "Cancelled"))) {
                sts_fail(ss, -ECANCELED, "cancelled");
                return;
        }
        if (resp->error) {
                const sm_aws_error *e = resp->error;

                r = e->klass == SM_AWS_ERROR_TERMINAL && e->http_status >= 400 &&
                                    e->http_status < 500
                            ? -EACCES
                            : -EIO;
                sts_fail(ss, r, "%s failed: %s%s%s", op, e->code ? e->code : "error",
                         e->message ? ": " : "", e->message ? e->message : "");
                return;
        }
        r = sm_sts_credentials_from_output(resp->output,
                                           ss->web_identity ? "web-identity" : "assume-role", &c);
        if (r < 0) {
                sts_fail(ss, r, "the %s answer has no usable Credentials", op);
                return;
        }
        ss->busy = false;
        source_done(&ss->base, 0, c, NULL);
}

static int sts_session_name(const sts_source *ss, const char **ret, char **buf)
{
        if (ss->session_name) {
                *ret = ss->session_name;
                return 0;
        }
        /* botocore's default is "botocore-session-<time>"; ours says who. */
        *buf = strf("smstudio-%" PRId64, sm_now_unix());
        if (!*buf)
                return -ENOMEM;
        *ret = *buf;
        return 0;
}

static void sts_call(sts_source *ss, const char *web_token)
{
        _cleanup_free_ char *name_buf = NULL;
        const char *name;
        json_t *params;
        int r;

        r = sts_session_name(ss, &name, &name_buf);
        if (r < 0) {
                sts_fail(ss, r, "out of memory");
                return;
        }
        params = json_pack("{s:s, s:s}", "RoleArn", ss->role_arn, "RoleSessionName", name);
        if (!params) {
                sts_fail(ss, -ENOMEM, "out of memory");
                return;
        }
        if (web_token)
                r = json_object_set_new(params, "WebIdentityToken", json_string(web_token));
        if (r == 0 && ss->external_id)
                r = json_object_set_new(params, "ExternalId", json_string(ss->external_id));
        if (r == 0 && ss->duration_s > 0)
                r = json_object_set_new(params, "DurationSeconds", json_integer(ss->duration_s));
        if (r < 0) {
                json_decref(params);
                sts_fail(ss, -ENOMEM, "out of memory");
                return;
        }
        r = sm_aws_call(ss->client, SM_SERVICE_STS,
                        ss->web_identity ? "AssumeRoleWithWebIdentity" : "AssumeRole", params,
                        on_sts_done, ss);
        if (r < 0)
                sts_fail(ss, r, "could not call STS: %s", strerror(-r));
}

static void on_sts_source_creds(int r, sm_credentials *creds, const char *error, void *userdata)
{
        sts_source *ss = userdata;

        if (ss->shut || r == -ECANCELED) {
                sts_fail(ss, -ECANCELED, "cancelled");
                return;
        }
        if (r < 0) {
                sts_fail(ss, r, "no source credentials: %s", error ? error : strerror(-r));
                return;
        }
        static_provider_set(ss->holder, creds);
        sts_call(ss, NULL);
}

static void sts_fetch(source *s)
{
        sts_source *ss = (sts_source *)s;
        char *token = NULL;
        size_t len;
        int r;

        ss->busy = true;
        if (!ss->web_identity) {
                r = sm_creds_provider_get(ss->source_creds, on_sts_source_creds, ss);
                if (r < 0) {
                        ss->busy = false;
                        source_done_later(s, r, NULL, "out of memory");
                }
                return;
        }
        /* Re-read on each refresh: Kubernetes rotates projected tokens. */
        r = read_small_file(ss->token_file, TOKEN_FILE_MAX, &token, &len);
        if (r < 0) {
                _cleanup_free_ char *what = sts_what(ss), *msg = NULL;

                msg = strf("%s: cannot read the token file %s: %s", what ? what : "web identity",
                           ss->token_file, strerror(-r));
                ss->busy = false;
                source_done_later(s, r, NULL, msg ? msg : strerror(-r));
                return;
        }
        while (len > 0 && strchr(" \t\r\n", token[len - 1]))
                token[--len] = '\0';
        if (len == 0 || strlen(token) != len) {
                _cleanup_free_ char *what = sts_what(ss), *msg = NULL;

                free_secret(token);
                msg = strf("%s: the token file %s is empty or not text",
                           what ? what : "web identity", ss->token_file);
                ss->busy = false;
                source_done_later(s, -EINVAL, NULL, msg ? msg : "bad token file");
                return;
        }
        sts_call(ss, token);
        free_secret(token);
}

static void sts_shutdown(sts_source *ss)
{
        ss->shut = true;
        /* The client first: a call waiting for credentials hears back when
         * the holder goes; one on the wire when its transfer is cancelled. */
        ss->client = sm_aws_client_free(ss->client);
        ss->holder = sm_creds_provider_free(ss->holder);
        ss->source_creds = sm_creds_provider_free(ss->source_creds);
}

static void sts_shutdown_op(source *s)
{
        sts_shutdown((sts_source *)s);
}

static void sts_destroy(source *s)
{
        sts_source *ss = (sts_source *)s;

        if (!ss->shut)
                sts_shutdown(ss);
        free(ss->profile);
        free(ss->role_arn);
        free(ss->session_name);
        free(ss->external_id);
        free(ss->token_file);
        free(ss);
}

static const source_ops sts_ops = {
        .fetch = sts_fetch,
        .shutdown = sts_shutdown_op,
        .destroy = sts_destroy,
};

/* ------------------------------------------------------------------------ */
/* Building sources from the settings */

typedef struct build_ctx {
        sm_creds_provider *top; /* knobs: clock, process timeout, container base */
        sm_http *http;
        const sm_aws_settings *settings;
        const char *visited[CHAIN_MAX_DEPTH];
        size_t n_visited;
} build_ctx;

/* A nested provider (own cache and refresh); the caller gives it a source. */
static sm_creds_provider *nested_provider(build_ctx *b)
{
        sm_creds_provider *q = provider_alloc(b->top->loop);

        if (!q)
                return NULL;
        q->now = b->top->now;
        q->now_userdata = b->top->now_userdata;
        q->process_timeout_ms = b->top->process_timeout_ms;
        q->http = b->http;
        q->settings = b->settings;
        return q;
}

static int keys_source(build_ctx *b, sm_creds_provider *owner, const char *profile,
                       bool credentials_file, source **ret, char **ret_error)
{
        const char *(*get)(const sm_aws_settings *, const char *, const char *) =
                credentials_file ? prof_credentials : prof_config;
        const char *path = credentials_file ? sm_aws_config_credentials_path(b->settings->files)
                                            : sm_aws_config_config_path(b->settings->files);
        const char *key = get(b->settings, profile, "aws_access_key_id");
        const char *secret = get(b->settings, profile, "aws_secret_access_key");
        const char *token = get(b->settings, profile, "aws_session_token");
        const char *account = get(b->settings, profile, "aws_account_id");
        _cleanup_(sm_credentials_unrefp) sm_credentials *c = NULL;

        if (!token)
                token = get(b->settings, profile, "aws_security_token");
        if (!secret)
                return fail_msg(ret_error, -ENOKEY,
                                "profile \"%s\" in %s has aws_access_key_id but no "
                                "aws_secret_access_key",
                                profile, path);
        c = sm_credentials_new(key, secret, token, 0,
                               credentials_file ? "shared-credentials-file" : "config-file");
        if (!c)
                return -ENOMEM;
        if (account) {
                c->account_id = strdup(account);
                if (!c->account_id)
                        return -ENOMEM;
        }
        *ret = static_source_new(owner, c);
        return *ret ? 0 : -ENOMEM;
}

static int imds_source_new(build_ctx *b, sm_creds_provider *owner, const char *profile,
                           const char *looked_in, source **ret, char **ret_error)
{
        const sm_aws_settings *st = b->settings;
        const char *endpoint = NULL, *mode, *timeout_s, *v1;
        long timeout_ms = 0;
        bool v1_disabled;
        imds_source *is;
        int r;

        /* Environment first, then the profile, as for every SDK setting;
         * sm_imds_new() reads the environment itself when given NULL. */
        if (!env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
                endpoint = prof_config(st, profile, "ec2_metadata_service_endpoint");
                mode = prof_config(st, profile, "ec2_metadata_service_endpoint_mode");
                if (!endpoint && !env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") && mode) {
                        if (strcasecmp(mode, "IPv6") == 0)
                                endpoint = "http://[fd00:ec2::254]";
                        else if (strcasecmp(mode, "IPv4") != 0)
                                return fail_msg(
                                        ret_error, -EINVAL,
                                        "profile \"%s\": ec2_metadata_service_endpoint_mode "
                                        "must be IPv4 or IPv6",
                                        profile);
                }
        }
        timeout_s = env_nonempty("AWS_METADATA_SERVICE_TIMEOUT");
        if (!timeout_s)
                timeout_s = prof_config(st, profile, "metadata_service_timeout");
        if (timeout_s) {
                char *end;
                double v = strtod(timeout_s, &end);

                if (*end != '\0' || !(v > 0) || v > 3600)
                        return fail_msg(ret_error, -EINVAL,
                                        "metadata_service_timeout must be a number of seconds");
                timeout_ms = (long)(v * 1000);
                if (timeout_ms == 0)
                        timeout_ms = 1;
        }

        is = calloc(1, sizeof(*is));
        if (!is)
                return -ENOMEM;
        is->base.ops = &imds_ops;
        is->base.p = owner;
        is->base.name = "imds";
        if (looked_in) {
                is->looked_in = strdup(looked_in);
                if (!is->looked_in) {
                        imds_destroy(&is->base);
                        return -ENOMEM;
                }
        }
        r = sm_imds_new(owner->loop, b->http, endpoint, timeout_ms, &is->imds);
        if (r < 0) {
                imds_destroy(&is->base);
                return fail_msg(ret_error, r,
                                "EC2 instance metadata: bad endpoint settings "
                                "(AWS_EC2_METADATA_SERVICE_ENDPOINT / _MODE)");
        }
        v1 = prof_config(st, profile, "ec2_metadata_v1_disabled");
        if (!env_nonempty("AWS_EC2_METADATA_V1_DISABLED") && v1 &&
            sm_parse_aws_bool(v1, &v1_disabled) == 0)
                sm_imds_set_v1_disabled(is->imds, v1_disabled);
        *ret = &is->base;
        return 0;
}

static int build_assume_role(build_ctx *b, sm_creds_provider *owner, const char *profile,
                             source **ret, char **ret_error);
static int build_web_identity(build_ctx *b, sm_creds_provider *owner, const char *profile,
                              bool use_env, source **ret, char **ret_error);

/* Where a source_profile's credentials come from (botocore's order for
 * source profiles: static keys, a further role, web identity, process). */
static int build_source_profile(build_ctx *b, sm_creds_provider *owner, const char *parent,
                                const char *name, source **ret, char **ret_error)
{
        const sm_aws_settings *st = b->settings;
        bool has_keys = prof_get(st, name, "aws_access_key_id") != NULL;
        bool has_role = prof_get(st, name, "role_arn") != NULL;
        const char *process;

        if (!st->files || !sm_aws_config_has_profile(st->files, name))
                return fail_msg(ret_error, -ENOENT,
                                "profile \"%s\": source_profile \"%s\" does not exist", parent,
                                name);
        /* A profile may name itself to mean "my own keys". */
        if (streq(name, parent)) {
                if (!has_keys)
                        return fail_msg(ret_error, -ELOOP,
                                        "profile \"%s\" is its own source_profile but has no "
                                        "aws_access_key_id",
                                        name);
                has_role = false;
        } else {
                for (size_t i = 0; i < b->n_visited; i++)
                        if (streq(b->visited[i], name)) {
                                sm_buf path = {0};

                                for (size_t j = 0; j < b->n_visited; j++)
                                        sm_buf_printf(&path, "%s -> ", b->visited[j]);
                                sm_buf_puts(&path, name);
                                fail_msg(ret_error, -ELOOP, "source_profile loop: %s",
                                         path.data ? path.data : name);
                                sm_buf_done(&path);
                                return -ELOOP;
                        }
        }
        if (has_keys && !has_role)
                return keys_source(b, owner, name,
                                   prof_credentials(st, name, "aws_access_key_id") != NULL, ret,
                                   ret_error);
        if (has_role && !prof_get(st, name, "web_identity_token_file"))
                return build_assume_role(b, owner, name, ret, ret_error);
        if (prof_get(st, name, "web_identity_token_file"))
                return build_web_identity(b, owner, name, false, ret, ret_error);
        process = prof_get(st, name, "credential_process");
        if (process) {
                *ret = process_source_new(owner, process, name, b->top->process_timeout_ms);
                return *ret ? 0 : -ENOMEM;
        }
        return fail_msg(ret_error, -ENOKEY,
                        "profile \"%s\": source_profile \"%s\" has no credentials", parent, name);
}

static int sts_source_alloc(build_ctx *b, sm_creds_provider *owner, bool web_identity,
                            sts_source **ret)
{
        sts_source *ss = calloc(1, sizeof(*ss));
        int r;

        if (!ss)
                return -ENOMEM;
        ss->base.ops = &sts_ops;
        ss->base.p = owner;
        ss->base.name = web_identity ? "web-identity" : "assume-role";
        ss->web_identity = web_identity;
        /* The client only reads the settings; STS needs a region, and
         * without one the SDKs go to the global endpoint, which is
         * us-east-1. */
        ss->sts_settings = *b->settings;
        if (!ss->sts_settings.region)
                ss->sts_settings.region = (char *)STS_DEFAULT_REGION;
        if (web_identity)
                r = sm_creds_provider_new_anonymous(owner->loop, &ss->holder);
        else {
                _cleanup_(sm_credentials_unrefp) sm_credentials *none =
                        credentials_alloc("", "", NULL, 0, "static");

                r = none ? provider_new_static(owner->loop, none, &ss->holder) : -ENOMEM;
        }
        if (r == 0)
                r = sm_aws_client_new(owner->loop, b->http, &ss->sts_settings, ss->holder,
                                      &ss->client);
        if (r < 0) {
                sts_destroy(&ss->base);
                return r;
        }
        *ret = ss;
        return 0;
}

static int parse_duration(const char *profile, const char *s, long *ret, char **ret_error)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        /* STS accepts 900 s to 12 h (the role's maximum decides within). */
        if (errno || end == s || *end != '\0' || v < 900 || v > 43200)
                return fail_msg(ret_error, -EINVAL,
                                "profile \"%s\": duration_seconds must be 900..43200", profile);
        *ret = v;
        return 0;
}

static int build_assume_role(build_ctx *b, sm_creds_provider *owner, const char *profile,
                             source **ret, char **ret_error)
{
        const sm_aws_settings *st = b->settings;
        const char *role_arn = prof_get(st, profile, "role_arn");
        const char *src_profile = prof_get(st, profile, "source_profile");
        const char *cred_source = prof_get(st, profile, "credential_source");
        const char *session = prof_get(st, profile, "role_session_name");
        const char *external_id = prof_get(st, profile, "external_id");
        const char *duration = prof_get(st, profile, "duration_seconds");
        sm_creds_provider *q = NULL;
        sts_source *ss = NULL;
        source *inner = NULL;
        long duration_s = 0;
        int r;

        if (b->n_visited >= CHAIN_MAX_DEPTH)
                return fail_msg(ret_error, -ELOOP, "profile \"%s\": source_profile chain too deep",
                                profile);
        b->visited[b->n_visited++] = profile;

        if (prof_get(st, profile, "mfa_serial"))
                return fail_msg(ret_error, -EOPNOTSUPP,
                                "profile \"%s\" sets mfa_serial: smstudiod runs unattended and "
                                "cannot prompt for an MFA code; use a role that does not require "
                                "MFA, or credential_process",
                                profile);
        if (src_profile && cred_source)
                return fail_msg(ret_error, -EINVAL,
                                "profile \"%s\" sets both source_profile and credential_source",
                                profile);
        if (!src_profile && !cred_source)
                return fail_msg(ret_error, -EINVAL,
                                "profile \"%s\" has role_arn but neither source_profile nor "
                                "credential_source",
                                profile);
        if (duration) {
                r = parse_duration(profile, duration, &duration_s, ret_error);
                if (r < 0)
                        return r;
        }

        q = nested_provider(b);
        if (!q)
                return -ENOMEM;
        if (src_profile)
                r = build_source_profile(b, q, profile, src_profile, &inner, ret_error);
        else if (streq(cred_source, "Environment"))
                r = (inner = env_source_new(q)) ? 0 : -ENOMEM;
        else if (streq(cred_source, "Ec2InstanceMetadata"))
                r = imds_source_new(b, q, profile, NULL, &inner, ret_error);
        else if (streq(cred_source, "EcsContainer"))
                r = (inner = container_source_new(q, b->http, b->top->container_base)) ? 0
                                                                                       : -ENOMEM;
        else
                r = fail_msg(ret_error, -EINVAL,
                             "profile \"%s\": credential_source must be Environment, "
                             "Ec2InstanceMetadata or EcsContainer",
                             profile);
        if (r < 0)
                goto fail;
        q->src = inner;
        q->name = inner->name;

        r = sts_source_alloc(b, owner, false, &ss);
        if (r < 0)
                goto fail;
        ss->source_creds = q;
        q = NULL;
        ss->duration_s = duration_s;
        ss->profile = strdup(profile);
        ss->role_arn = strdup(role_arn);
        ss->session_name = session ? strdup(session) : NULL;
        ss->external_id = external_id ? strdup(external_id) : NULL;
        if (!ss->profile || !ss->role_arn || (session && !ss->session_name) ||
            (external_id && !ss->external_id)) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = &ss->base;
        return 0;

fail:
        if (ss)
                sts_destroy(&ss->base);
        sm_creds_provider_free(q);
        return r;
}

static int build_web_identity(build_ctx *b, sm_creds_provider *owner, const char *profile,
                              bool use_env, source **ret, char **ret_error)
{
        const sm_aws_settings *st = b->settings;
        const char *token_file = use_env ? env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE") : NULL;
        const char *role_arn = use_env ? env_nonempty("AWS_ROLE_ARN") : NULL;
        const char *session = use_env ? env_nonempty("AWS_ROLE_SESSION_NAME") : NULL;
        bool from_env = token_file != NULL;
        sts_source *ss = NULL;
        int r;

        /* Per key: the environment, then the profile (botocore). */
        if (!token_file)
                token_file = prof_get(st, profile, "web_identity_token_file");
        if (!role_arn)
                role_arn = prof_get(st, profile, "role_arn");
        if (!session)
                session = prof_get(st, profile, "role_session_name");
        if (!role_arn)
                return fail_msg(ret_error, -EINVAL,
                                "web identity: %s is set but no role ARN (AWS_ROLE_ARN or "
                                "role_arn in profile \"%s\")",
                                from_env ? "AWS_WEB_IDENTITY_TOKEN_FILE"
                                         : "web_identity_token_file",
                                profile);
        r = sts_source_alloc(b, owner, true, &ss);
        if (r < 0)
                return r;
        ss->profile = from_env ? NULL : strdup(profile);
        ss->role_arn = strdup(role_arn);
        ss->token_file = strdup(token_file);
        ss->session_name = session ? strdup(session) : NULL;
        if ((!from_env && !ss->profile) || !ss->role_arn || !ss->token_file ||
            (session && !ss->session_name)) {
                sts_destroy(&ss->base);
                return -ENOMEM;
        }
        *ret = &ss->base;
        return 0;
}

/* What the chain looked at, for "no AWS credentials found: looked in ...". */
static char *chain_looked_in(const sm_aws_settings *st)
{
        sm_buf b = {0};

        if (st->profile_explicit)
                sm_buf_printf(&b,
                              "environment variables (skipped: profile \"%s\" was chosen "
                              "explicitly)",
                              st->profile);
        else
                sm_buf_puts(&b, "environment variables");
        if (st->files)
                sm_buf_printf(&b, ", profile \"%s\" in %s and %s", st->profile,
                              sm_aws_config_credentials_path(st->files),
                              sm_aws_config_config_path(st->files));
        else
                sm_buf_printf(&b, ", profile \"%s\" (no shared config files)", st->profile);
        sm_buf_puts(&b, ", container endpoint (not configured)");
        if (!b.data) {
                sm_buf_done(&b);
                return NULL;
        }
        return sm_buf_steal(&b);
}

/* Pick the chain's source: the first one whose inputs are present. Local
 * inputs only (environment, the already loaded files): no I/O. */
static int chain_select(sm_creds_provider *p, char **ret_error)
{
        const sm_aws_settings *st = p->settings;
        const char *profile = st->profile;
        bool use_env = !st->profile_explicit;
        build_ctx b = {.top = p, .http = p->http, .settings = st};
        _cleanup_free_ char *looked_in = NULL;
        source *src = NULL;
        const char *process;
        int r;

        /* botocore: "an explicitly provided profile will negate an
         * EnvProvider", and the web identity variables with it. */
        if (use_env && env_nonempty("AWS_ACCESS_KEY_ID"))
                r = (src = env_source_new(p)) ? 0 : -ENOMEM;
        else if (prof_get(st, profile, "role_arn") &&
                 !prof_get(st, profile, "web_identity_token_file"))
                r = build_assume_role(&b, p, profile, &src, ret_error);
        else if ((use_env && env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE")) ||
                 prof_get(st, profile, "web_identity_token_file"))
                r = build_web_identity(&b, p, profile, use_env, &src, ret_error);
        else if (prof_get(st, profile, "sso_session") || prof_get(st, profile, "sso_start_url"))
                /* Falling through to other sources would run with other
                 * credentials than the profile says: refuse instead. */
                r = fail_msg(ret_error, -EOPNOTSUPP,
                             "profile \"%s\" uses IAM Identity Center (SSO), which smstudiod "
                             "does not support; use credential_process = aws configure "
                             "export-credentials --profile %s --format process",
                             profile, profile);
        else if (prof_credentials(st, profile, "aws_access_key_id"))
                r = keys_source(&b, p, profile, true, &src, ret_error);
        else if ((process = prof_get(st, profile, "credential_process")))
                r = (src = process_source_new(p, process, profile, p->process_timeout_ms))
                            ? 0
                            : -ENOMEM;
        else if (prof_config(st, profile, "aws_access_key_id"))
                r = keys_source(&b, p, profile, false, &src, ret_error);
        else if (env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
                 env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
                r = (src = container_source_new(p, p->http, p->container_base)) ? 0 : -ENOMEM;
        else {
                looked_in = chain_looked_in(st);
                if (!looked_in)
                        return -ENOMEM;
                if (st->imds_disabled)
                        return fail_msg(ret_error, -ENOKEY,
                                        "no AWS credentials found: looked in %s, EC2 instance "
                                        "metadata (disabled by AWS_EC2_METADATA_DISABLED)",
                                        looked_in);
                r = imds_source_new(&b, p, profile, looked_in, &src, ret_error);
        }
        if (r < 0) {
                if (!*ret_error)
                        fail_msg(ret_error, r, "credentials: %s", strerror(-r));
                return r;
        }
        p->src = src;
        p->name = src->name;
        sm_log_debug("credentials: using %s (profile \"%s\")", src->name, profile);
        return 0;
}

int sm_creds_provider_new_chain(uv_loop_t *loop, sm_http *http, const sm_aws_settings *settings,
                                sm_creds_provider **ret)
{
        sm_creds_provider *p;

        if (!loop || !http || !settings || !settings->profile || !ret)
                return -EINVAL;
        p = provider_alloc(loop);
        if (!p)
                return -ENOMEM;
        p->is_chain = true;
        p->http = http;
        p->settings = settings;
        *ret = p;
        return 0;
}
