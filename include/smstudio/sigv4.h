/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Signature Version 4 (AWS4-HMAC-SHA256), header signing. Pure: no I/O,
 * no clock (the caller passes the request time). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "smstudio/http.h"

typedef struct sm_sigv4_request {
        const char *method;
        const char *path;         /* the path as sent on the wire (already percent-encoded) */
        const char *query;        /* the raw query string without '?', or NULL */
        const sm_header *headers; /* every header to sign, Host and X-Amz-Date included
                                   * (and X-Amz-Security-Token when signing with one) */
        size_t n_headers;
        const void *payload; /* hashed with SHA-256 */
        size_t payload_len;
        bool normalize_path; /* true for every service but S3 */
} sm_sigv4_request;

typedef struct sm_sigv4_signature {
        char *canonical_request;
        char *string_to_sign;
        char *authorization; /* the Authorization header value */
        char signature[65];  /* lower-case hex */
} sm_sigv4_signature;

/* Caches derived signing keys per (secret, date, region, service), so a pass
 * does four HMACs per day instead of per request. */
typedef struct sm_sigv4_cache sm_sigv4_cache;

sm_sigv4_cache *sm_sigv4_cache_new(void);
sm_sigv4_cache *sm_sigv4_cache_free(sm_sigv4_cache *c);

/* Sign req. amz_date is the value of X-Amz-Date ("20150830T123600Z"); its
 * first 8 characters are the scope date. cache may be NULL. Fills *ret (free
 * with sm_sigv4_signature_done). Returns 0, -EINVAL, -ENOMEM. */
int sm_sigv4_sign(sm_sigv4_cache *cache, const sm_sigv4_request *req, const char *access_key_id,
                  const char *secret_access_key, const char *region, const char *service,
                  const char *amz_date, sm_sigv4_signature *ret);

void sm_sigv4_signature_done(sm_sigv4_signature *s);

/* Format t (UTC) as X-Amz-Date: out must hold 17 bytes. */
void sm_sigv4_format_date(time_t t, char out[17]);

/* Lower-case hex SHA-256 of p[0..n) into out (65 bytes). */
void sm_sha256_hex(const void *p, size_t n, char out[65]);
