/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Signature Version 4 (AWS4-HMAC-SHA256) for header-signed requests.
 *
 * The rules follow the AWS General Reference, "Create a signed AWS API
 * request" (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
 * checked against the AWS SigV4 test suite in tests/data/sigv4 and, in a
 * differential test, against botocore's SigV4Auth. Where the written rules
 * leave a choice open, we do what botocore does, since that is what AWS
 * services demonstrably accept; each such place says so. */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "smstudio/macro.h"
#include "smstudio/sigv4.h"
#include "smstudio/strbuf.h"

#define SIGV4_ALGORITHM  "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SHA256_LEN       32

/* Enough for a few credentials times the handful of services and regions a
 * daemon talks to; yesterday's keys age out by LRU. */
#define CACHE_SLOTS 16

/* Bounds for inputs that end up in an HMAC key or the credential scope. The
 * HMAC() key length is an int, and no real secret, region or service comes
 * anywhere close. */
#define SECRET_MAX     1024
#define SCOPE_PART_MAX 128

typedef struct cache_entry {
        bool used;
        uint64_t last_use;
        /* SHA-256 over secret, date, region and service (NUL-separated): the
         * secret must never sit in memory longer than the signing call, so
         * only this digest identifies the entry. */
        unsigned char id[SHA256_LEN];
        unsigned char key[SHA256_LEN];
} cache_entry;

/* Not thread-safe: one cache per loop thread, like everything else in the
 * daemon. */
struct sm_sigv4_cache {
        cache_entry entries[CACHE_SLOTS];
        uint64_t clock;
};

static void buf_donep(sm_buf *b)
{
        sm_buf_done(b);
}
#define _cleanup_buf_ _cleanup_(buf_donep)

sm_sigv4_cache *sm_sigv4_cache_new(void)
{
        return calloc(1, sizeof(sm_sigv4_cache));
}

sm_sigv4_cache *sm_sigv4_cache_free(sm_sigv4_cache *c)
{
        if (!c)
                return NULL;
        /* The derived keys are as good as the secret for a day. */
        sm_secure_zero(c, sizeof(*c));
        free(c);
        return NULL;
}

void sm_sigv4_signature_done(sm_sigv4_signature *s)
{
        if (!s)
                return;
        free(s->canonical_request);
        free(s->string_to_sign);
        free(s->authorization);
        *s = (sm_sigv4_signature){0};
}

void sm_sigv4_format_date(time_t t, char out[17])
{
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
                out[0] = '\0';
}

static int sha256(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
        unsigned int len = 0;

        if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != SHA256_LEN)
                return -ENOMEM;
        return 0;
}

void sm_sha256_hex(const void *p, size_t n, char out[65])
{
        unsigned char md[SHA256_LEN];

        /* EVP_Digest only fails when OpenSSL cannot allocate; an empty
         * string then can never match a real digest. */
        if (sha256(p ? p : "", n, md) < 0) {
                out[0] = '\0';
                return;
        }
        sm_hex_encode(md, sizeof(md), out);
}

static int hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                       unsigned char out[SHA256_LEN])
{
        unsigned int len = 0;

        if (key_len > INT_MAX)
                return -EINVAL;
        if (!HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &len) || len != SHA256_LEN)
                return -ENOMEM;
        return 0;
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_unreserved(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == '~';
}

/* Region, service and access key id are joined with '/' and ", " into the
 * credential; a separator or blank inside one would forge another field. */
static bool valid_scope_part(const char *s)
{
        size_t n;

        if (isempty(s))
                return false;
        n = strlen(s);
        if (n > SCOPE_PART_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c <= ' ' || c == 0x7f || c == '/' || c == ',' || c == ';' || c == '=')
                        return false;
        }
        return true;
}

static bool valid_amz_date(const char *d)
{
        if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
                return false;
        for (size_t i = 0; i < 15; i++)
                if (i != 8 && (d[i] < '0' || d[i] > '9'))
                        return false;
        return true;
}

/* An HTTP token (RFC 9110): what a method or a header name may be. */
static bool valid_token(const char *s)
{
        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char)*p;

                if (c <= ' ' || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
                        return false;
        }
        return true;
}

/* Normalising (every service but S3): drop empty and "." segments, let ".."
 * eat its predecessor, then percent-encode each segment. The input is the
 * path as sent, already percent-encoded once, so an escape like %20 becomes
 * %2520: AWS's "double encoding", which the services check against. A
 * trailing slash survives unless nothing is left. This is exactly botocore's
 * remove_dot_segments + quote(safe='/~'); it differs from RFC 3986 5.2.4 for
 * a final "." or ".." ("/a/." gives "/a", not "/a/"), and botocore is what
 * the services accept. */
static int put_normalized_path(sm_buf *b, const char *path)
{
        size_t n = strlen(path), n_segs = 0, max_segs = 1;
        _cleanup_free_ size_t *start = NULL;
        _cleanup_free_ size_t *len = NULL;
        int r;

        for (size_t i = 0; i < n; i++)
                if (path[i] == '/')
                        max_segs++;
        start = malloc(max_segs * sizeof(*start));
        len = malloc(max_segs * sizeof(*len));
        if (!start || !len)
                return -ENOMEM;

        for (size_t i = 0; i <= n;) {
                size_t e = i;

                while (e < n && path[e] != '/')
                        e++;
                if (e - i == 2 && path[i] == '.' && path[i + 1] == '.') {
                        if (n_segs > 0)
                                n_segs--;
                } else if (e > i && !(e - i == 1 && path[i] == '.')) {
                        start[n_segs] = i;
                        len[n_segs] = e - i;
                        n_segs++;
                }
                i = e + 1;
        }

        r = sm_buf_putc(b, '/');
        for (size_t s = 0; r >= 0 && s < n_segs; s++) {
                if (s > 0)
                        r = sm_buf_putc(b, '/');
                if (r >= 0)
                        r = sm_buf_put_uri_encoded(b, path + start[s], len[s], false);
        }
        if (r >= 0 && n_segs > 0 && path[n - 1] == '/')
                r = sm_buf_putc(b, '/');
        return r;
}

/* The value of the escape "%XY" at p, or -1 if p does not start one. */
static int escape_value(const char *p)
{
        int hi, lo;

        if (p[0] != '%')
                return -1;
        hi = sm_hex_digit_value(p[1]);
        lo = hi < 0 ? -1 : sm_hex_digit_value(p[2]);
        return lo < 0 ? -1 : hi << 4 | lo;
}

/* S3: the path is signed as sent, with no normalisation and no second round
 * of encoding (botocore's S3SigV4Auth uses it verbatim). Characters a
 * careless caller left unencoded are encoded here so that the result is
 * still a canonical URI; existing escapes are kept, with upper-case hex. */
static int put_raw_path(sm_buf *b, const char *path)
{
        int r = 0;

        if (!*path)
                return sm_buf_putc(b, '/');
        for (const char *p = path; r >= 0 && *p; p++) {
                unsigned char c = (unsigned char)*p;
                int v = escape_value(p);

                if (v >= 0) {
                        r = sm_buf_printf(b, "%%%02X", (unsigned)v);
                        p += 2;
                } else if (is_unreserved(c) || c == '/') {
                        r = sm_buf_putc(b, (char)c);
                } else {
                        r = sm_buf_put_uri_encoded(b, p, 1, false);
                }
        }
        return r;
}

typedef struct query_param {
        char *key; /* canonically encoded */
        char *value;
} query_param;

static int query_param_cmp(const void *a, const void *b)
{
        const query_param *x = a, *y = b;
        int c = strcmp(x->key, y->key);

        return c != 0 ? c : strcmp(x->value, y->value);
}

static void query_params_free(query_param *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(p[i].key);
                free(p[i].value);
        }
        free(p);
}

/* Decode s[0..n) and re-encode it per RFC 3986 in one pass (so that an
 * escaped NUL survives as %00), making the signature independent of how the
 * caller spelled the query. '+' is a space here, as in form encoding: that is
 * how Python's urlencode() (and so botocore) sends a space, which botocore
 * then signs as %20. A '%' that starts no valid escape is refused: the
 * server would reject or reinterpret it anyway. */
static int canonical_query_part(const char *s, size_t n, char **ret)
{
        _cleanup_buf_ sm_buf b = {0};
        int r = sm_buf_append(&b, "", 0);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                char c = s[i];

                if (c == '%') {
                        int v = n - i >= 3 ? escape_value(s + i) : -1;

                        if (v < 0)
                                return -EINVAL;
                        c = (char)v;
                        i += 2;
                } else if (c == '+') {
                        c = ' ';
                }
                r = sm_buf_put_uri_encoded(&b, &c, 1, false);
        }
        if (r < 0)
                return r;
        *ret = sm_buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int put_canonical_query(sm_buf *b, const char *query)
{
        query_param *params = NULL;
        size_t n_params = 0, max_params = 1;
        int r = 0;

        if (isempty(query))
                return 0;
        for (const char *p = query; *p; p++)
                if (*p == '&')
                        max_params++;
        params = calloc(max_params, sizeof(*params));
        if (!params)
                return -ENOMEM;

        for (const char *p = query; *p;) {
                size_t n = strcspn(p, "&"), k = strcspn(p, "=");
                query_param *q = &params[n_params];

                /* "a&&b" or a trailing '&' carries no parameter. */
                if (n == 0) {
                        p++;
                        continue;
                }
                if (k > n)
                        k = n;
                n_params++;
                r = canonical_query_part(p, k, &q->key);
                if (r < 0)
                        goto fail;
                /* A key without '=' is signed with an empty value. */
                r = canonical_query_part(p + k + (k < n), n - k - (k < n), &q->value);
                if (r < 0)
                        goto fail;
                p += n;
                if (*p == '&')
                        p++;
        }

        /* By encoded key, then encoded value: byte order, as the spec says. */
        qsort(params, n_params, sizeof(*params), query_param_cmp);
        for (size_t i = 0; r >= 0 && i < n_params; i++)
                r = sm_buf_printf(b, "%s%s=%s", i > 0 ? "&" : "", params[i].key, params[i].value);
fail:
        query_params_free(params, n_params);
        return r;
}

typedef struct header_ref {
        char *name; /* lower-cased copy */
        const char *value;
        size_t index; /* position in the request, to keep duplicates in order */
} header_ref;

static int header_ref_cmp(const void *a, const void *b)
{
        const header_ref *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        if (c != 0)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Trim and squeeze runs of white space into one space. Line breaks count as
 * white space: an obs-fold continuation (get-header-value-multiline) joins
 * with a single space, as botocore's ' '.join(value.split()) does. */
static int put_header_value(sm_buf *b, const char *v)
{
        bool pending = false, any = false;
        int r = 0;

        for (const char *p = v; r >= 0 && *p; p++) {
                if (is_space(*p)) {
                        pending = any;
                        continue;
                }
                if (pending)
                        r = sm_buf_putc(b, ' ');
                if (r >= 0)
                        r = sm_buf_putc(b, *p);
                pending = false;
                any = true;
        }
        return r;
}

/* Writes the canonical header lines into b and the signed-header list into
 * signed_headers. */
static int put_canonical_headers(sm_buf *b, sm_buf *signed_headers, const sm_header *headers,
                                 size_t n_headers)
{
        header_ref *refs;
        size_t n_refs = 0;
        int r = 0;

        if (n_headers == 0)
                return 0;
        refs = calloc(n_headers, sizeof(*refs));
        if (!refs)
                return -ENOMEM;

        for (size_t i = 0; i < n_headers; i++) {
                const sm_header *h = &headers[i];

                if (!valid_token(h->name) || !h->value) {
                        r = -EINVAL;
                        goto fail;
                }
                refs[n_refs].name = strdup(h->name);
                if (!refs[n_refs].name) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (char *c = refs[n_refs].name; *c; c++)
                        if (*c >= 'A' && *c <= 'Z')
                                *c = (char)(*c - 'A' + 'a');
                refs[n_refs].value = h->value;
                refs[n_refs].index = i;
                n_refs++;
        }

        /* By lower-cased name only (not by the "name:value" line, which would
         * put "x-amz-date" before "x-amz"); repeated names keep their order and
         * are joined with ','. */
        qsort(refs, n_refs, sizeof(*refs), header_ref_cmp);
        for (size_t i = 0; r >= 0 && i < n_refs; i++) {
                bool first = i == 0 || !streq(refs[i - 1].name, refs[i].name);
                bool last = i + 1 == n_refs || !streq(refs[i + 1].name, refs[i].name);

                if (first) {
                        r = sm_buf_printf(b, "%s:", refs[i].name);
                        if (r >= 0)
                                r = sm_buf_printf(signed_headers, "%s%s", i > 0 ? ";" : "",
                                                  refs[i].name);
                } else {
                        r = sm_buf_putc(b, ',');
                }
                if (r >= 0)
                        r = put_header_value(b, refs[i].value);
                if (r >= 0 && last)
                        r = sm_buf_putc(b, '\n');
        }
fail:
        for (size_t i = 0; i < n_refs; i++)
                free(refs[i].name);
        free(refs);
        return r;
}

static int build_canonical_request(const sm_sigv4_request *req, sm_buf *creq,
                                   sm_buf *signed_headers)
{
        char payload_hash[65];
        int r;

        if (!valid_token(req->method) || !req->path || (req->n_headers > 0 && !req->headers) ||
            (req->payload_len > 0 && !req->payload))
                return -EINVAL;
        /* The path must be origin-form; a '?' or '#' means the caller did not
         * split off the query (or left a fragment in), and signing that
         * would only fail later, at the server. */
        if ((req->path[0] && req->path[0] != '/') || strpbrk(req->path, "?#"))
                return -EINVAL;

        r = sm_buf_printf(creq, "%s\n", req->method);
        if (r < 0)
                return r;
        r = req->normalize_path ? put_normalized_path(creq, req->path)
                                : put_raw_path(creq, req->path);
        if (r < 0)
                return r;
        r = sm_buf_putc(creq, '\n');
        if (r < 0)
                return r;
        r = put_canonical_query(creq, req->query);
        if (r < 0)
                return r;
        r = sm_buf_putc(creq, '\n');
        if (r < 0)
                return r;
        r = put_canonical_headers(creq, signed_headers, req->headers, req->n_headers);
        if (r < 0)
                return r;
        sm_sha256_hex(req->payload, req->payload_len, payload_hash);
        if (!payload_hash[0])
                return -ENOMEM;
        return sm_buf_printf(creq, "\n%s\n%s", signed_headers->data ? signed_headers->data : "",
                             payload_hash);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"). */
static int derive_signing_key(const char *secret, const char *date, const char *region,
                              const char *service, unsigned char out[SHA256_LEN])
{
        size_t secret_len = strlen(secret);
        unsigned char k1[SHA256_LEN], k2[SHA256_LEN];
        char *ksecret;
        int r;

        ksecret = malloc(secret_len + 4);
        if (!ksecret)
                return -ENOMEM;
        memcpy(ksecret, "AWS4", 4);
        memcpy(ksecret + 4, secret, secret_len);

        /* Two buffers, never the same one as key and output of one HMAC(). */
        r = hmac_sha256(ksecret, secret_len + 4, date, 8, k1);
        if (r >= 0)
                r = hmac_sha256(k1, sizeof(k1), region, strlen(region), k2);
        if (r >= 0)
                r = hmac_sha256(k2, sizeof(k2), service, strlen(service), k1);
        if (r >= 0)
                r = hmac_sha256(k1, sizeof(k1), SIGV4_TERMINATOR, strlen(SIGV4_TERMINATOR), out);

        sm_secure_zero(ksecret, secret_len + 4);
        free(ksecret);
        sm_secure_zero(k1, sizeof(k1));
        sm_secure_zero(k2, sizeof(k2));
        return r;
}

static int cache_id(const char *secret, const char *date, const char *region, const char *service,
                    unsigned char id[SHA256_LEN])
{
        _cleanup_buf_ sm_buf b = {0};
        int r;

        /* NUL separators keep ("ab","c") and ("a","bc") apart: none of the
         * parts can contain a NUL. */
        r = sm_buf_append(&b, secret, strlen(secret) + 1);
        if (r >= 0)
                r = sm_buf_append(&b, date, 9);
        if (r >= 0)
                r = sm_buf_append(&b, region, strlen(region) + 1);
        if (r >= 0)
                r = sm_buf_append(&b, service, strlen(service) + 1);
        if (r >= 0)
                r = sha256(b.data, b.len, id);
        if (b.data)
                sm_secure_zero(b.data, b.len);
        return r;
}

static int signing_key(sm_sigv4_cache *cache, const char *secret, const char *date,
                       const char *region, const char *service, unsigned char out[SHA256_LEN])
{
        unsigned char id[SHA256_LEN];
        cache_entry *victim;
        int r;

        if (!cache)
                return derive_signing_key(secret, date, region, service, out);

        r = cache_id(secret, date, region, service, id);
        if (r < 0)
                return r;
        victim = &cache->entries[0];
        for (size_t i = 0; i < CACHE_SLOTS; i++) {
                cache_entry *e = &cache->entries[i];

                if (e->used && CRYPTO_memcmp(e->id, id, sizeof(id)) == 0) {
                        e->last_use = ++cache->clock;
                        memcpy(out, e->key, SHA256_LEN);
                        return 0;
                }
                if (!e->used || (victim->used && e->last_use < victim->last_use))
                        victim = e;
        }

        r = derive_signing_key(secret, date, region, service, out);
        if (r < 0)
                return r;
        victim->used = true;
        victim->last_use = ++cache->clock;
        memcpy(victim->id, id, sizeof(id));
        memcpy(victim->key, out, SHA256_LEN);
        return 0;
}

int sm_sigv4_sign(sm_sigv4_cache *cache, const sm_sigv4_request *req, const char *access_key_id,
                  const char *secret_access_key, const char *region, const char *service,
                  const char *amz_date, sm_sigv4_signature *ret)
{
        _cleanup_buf_ sm_buf creq = {0}, signed_headers = {0}, sts = {0}, authz = {0};
        _cleanup_free_ char *canonical_request = NULL, *string_to_sign = NULL;
        _cleanup_free_ char *authorization = NULL;
        unsigned char key[SHA256_LEN], mac[SHA256_LEN];
        char date[9], creq_hash[65], signature[65];
        int r;

        if (!req || !ret || !valid_scope_part(access_key_id) || isempty(secret_access_key) ||
            strlen(secret_access_key) > SECRET_MAX || !valid_scope_part(region) ||
            !valid_scope_part(service) || !valid_amz_date(amz_date))
                return -EINVAL;
        memcpy(date, amz_date, 8);
        date[8] = '\0';

        r = build_canonical_request(req, &creq, &signed_headers);
        if (r < 0)
                return r;

        sm_sha256_hex(creq.data, creq.len, creq_hash);
        if (!creq_hash[0])
                return -ENOMEM;
        r = sm_buf_printf(&sts, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/" SIGV4_TERMINATOR "\n%s", amz_date,
                          date, region, service, creq_hash);
        if (r < 0)
                return r;

        r = signing_key(cache, secret_access_key, date, region, service, key);
        if (r < 0)
                return r;
        r = hmac_sha256(key, sizeof(key), sts.data, sts.len, mac);
        sm_secure_zero(key, sizeof(key));
        if (r < 0)
                return r;
        sm_hex_encode(mac, sizeof(mac), signature);

        r = sm_buf_printf(&authz,
                          SIGV4_ALGORITHM " Credential=%s/%s/%s/%s/" SIGV4_TERMINATOR
                                          ", SignedHeaders=%s, Signature=%s",
                          access_key_id, date, region, service,
                          signed_headers.data ? signed_headers.data : "", signature);
        if (r < 0)
                return r;

        /* Hand over all three or nothing: *ret is written only on success. */
        canonical_request = sm_buf_steal(&creq);
        string_to_sign = sm_buf_steal(&sts);
        authorization = sm_buf_steal(&authz);
        if (!canonical_request || !string_to_sign || !authorization)
                return -ENOMEM;
        *ret = (sm_sigv4_signature){
                .canonical_request = TAKE_PTR(canonical_request),
                .string_to_sign = TAKE_PTR(string_to_sign),
                .authorization = TAKE_PTR(authorization),
        };
        memcpy(ret->signature, signature, sizeof(signature));
        return 0;
}
