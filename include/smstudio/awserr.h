/* SPDX-License-Identifier: Apache-2.0 */
/* One typed value for every way an AWS call can fail: an error answer from
 * AWS, a transport failure, or a local failure before anything was sent. */
#pragma once

#include <stdbool.h>

typedef enum sm_aws_error_class {
        SM_AWS_ERROR_NONE = 0,
        SM_AWS_ERROR_THROTTLE,  /* AWS asked us to slow down: retry with backoff */
        SM_AWS_ERROR_TRANSIENT, /* 5xx, connection failure, timeout, skew: retry */
        SM_AWS_ERROR_TERMINAL,  /* retrying the same request cannot help */
} sm_aws_error_class;

typedef struct sm_aws_error {
        char *code;       /* AWS error code ("ThrottlingException"), or a local one:
                           * "ConnectionError", "Timeout", "TLSError", "ResponseTooLarge",
                           * "MalformedResponse", "NoCredentials", "Cancelled" */
        char *message;    /* human text; never contains a secret */
        char *request_id; /* x-amzn-RequestId / RequestId, or NULL */
        long http_status; /* 0 when no HTTP answer arrived */
        int transport;    /* negative errno for transport failures, else 0 */
        bool timeout;     /* the failure was a timeout (costs more retry quota) */
        sm_aws_error_class klass;
} sm_aws_error;

/* Free the strings and reset to "no error". Accepts a zeroed struct. */
void sm_aws_error_clear(sm_aws_error *e);

/* Replace *e with an error answer from AWS and classify it (see
 * sm_aws_error_classify). Any string may be NULL. Returns 0 or -ENOMEM. */
int sm_aws_error_set(sm_aws_error *e, long http_status, const char *code, const char *message,
                     const char *request_id);

/* Replace *e with a transport or local failure (no HTTP answer); transport is
 * a negative errno, code one of the local codes above. Classified transient
 * unless transport is -ECANCELED or code is local-terminal. */
int sm_aws_error_set_transport(sm_aws_error *e, int transport, const char *code,
                               const char *message);

/* Deep copy; returns 0 or -ENOMEM. */
int sm_aws_error_copy(sm_aws_error *dst, const sm_aws_error *src);

/* The class AWS SDK standard retry mode gives this code and status:
 * throttling codes (PriorRequestNotComplete among them, as in both SDKs'
 * lists) -> THROTTLE; 500/502/503/504, RequestTimeout(Exception), clock skew
 * and transport failures -> TRANSIENT; else TERMINAL.
 * HTTP 429 without a known code counts as THROTTLE (our addition: neither
 * botocore nor Go v2 retries a bare 429). */
sm_aws_error_class sm_aws_error_classify(long http_status, const char *code, int transport);

/* True when code is one of the SDKs' throttling error codes. */
bool sm_aws_error_code_is_throttle(const char *code);

/* True when AWS rejected the request because our clock is off
 * (RequestTimeTooSkewed, SignatureDoesNotMatch with a skew note, ...). */
bool sm_aws_error_is_clock_skew(const sm_aws_error *e);

/* True when AWS refused our temporary credentials because they expired
 * (ExpiredToken, ExpiredTokenException). Terminal for the retry policy:
 * the same signed request cannot succeed, but the client may fetch fresh
 * credentials and send it again. */
bool sm_aws_error_is_expired_credentials(const sm_aws_error *e);

/* "throttle", "transient", "terminal" or "none". */
const char *sm_aws_error_class_to_string(sm_aws_error_class c);
