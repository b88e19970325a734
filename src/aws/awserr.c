/* SPDX-License-Identifier: Apache-2.0 */
/* Classification follows the AWS SDKs' "standard" retry mode (botocore
 * retries/standard.py, aws-sdk-go-v2 aws/retry/standard.go), summarised in
 * ../shared/reference/peers.md §4.1. Deviations are ours and marked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smstudio/awserr.h"
#include "smstudio/macro.h"

/* Both SDKs use this exact list. PriorRequestNotComplete is also on their
 * transient list; being a throttle too, it gets the throttle backoff and
 * feeds the adaptive rate limiter, as in both SDKs. */
static const char *const throttle_codes[] = {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
};

static const char *const transient_codes[] = {
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
};

/* Codes that can only mean "your clock is off": the client corrects its
 * offset from the Date header and signs again, so they are worth a retry. */
static const char *const skew_codes[] = {
        "RequestTimeTooSkewed",
        "RequestExpired",
        "RequestInTheFuture",
};

/* These codes also cover a wrong secret key; only their message tells a
 * skewed clock apart ("Signature expired: ... is now earlier than ..."). */
static const char *const signature_codes[] = {
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
};

static const char *const expired_credential_codes[] = {
        "ExpiredToken",
        "ExpiredTokenException",
};

/* Local codes (no AWS answer) for which trying again cannot help. */
static const char *const local_terminal_codes[] = {
        "Cancelled",
        "ResponseTooLarge",
        "MalformedResponse",
        "NoCredentials",
};

static bool in_list(const char *code, const char *const *list, size_t n)
{
        if (isempty(code))
                return false;
        for (size_t i = 0; i < n; i++)
                if (streq(code, list[i]))
                        return true;
        return false;
}

#define IN_LIST(code, list) in_list(code, list, ELEMENTSOF(list))

static bool contains_nocase(const char *haystack, const char *needle)
{
        size_t n = strlen(needle);

        for (const char *p = haystack; *p; p++)
                if (strncasecmp(p, needle, n) == 0)
                        return true;
        return false;
}

void sm_aws_error_clear(sm_aws_error *e)
{
        if (!e)
                return;
        free(e->code);
        free(e->message);
        free(e->request_id);
        *e = (sm_aws_error){0};
}

bool sm_aws_error_code_is_throttle(const char *code)
{
        return IN_LIST(code, throttle_codes);
}

sm_aws_error_class sm_aws_error_classify(long http_status, const char *code, int transport)
{
        if (transport < 0) {
                /* A cancelled call was abandoned on purpose; an answer over
                 * our size limit will be just as large next time. */
                if (transport == -ECANCELED || transport == -EMSGSIZE)
                        return SM_AWS_ERROR_TERMINAL;
                return SM_AWS_ERROR_TRANSIENT;
        }
        if (IN_LIST(code, throttle_codes))
                return SM_AWS_ERROR_THROTTLE;
        if (IN_LIST(code, transient_codes) || IN_LIST(code, skew_codes))
                return SM_AWS_ERROR_TRANSIENT;
        switch (http_status) {
        case 500:
        case 502:
        case 503:
        case 504:
                return SM_AWS_ERROR_TRANSIENT;
        case 429:
                /* Our addition: neither botocore nor Go v2 retries a bare
                 * 429, but "Too Many Requests" from a proxy or a service
                 * that forgot its code means the same as Throttling. */
                return SM_AWS_ERROR_THROTTLE;
        default:
                return SM_AWS_ERROR_TERMINAL;
        }
}

bool sm_aws_error_is_clock_skew(const sm_aws_error *e)
{
        if (!e || isempty(e->code))
                return false;
        if (IN_LIST(e->code, skew_codes))
                return true;
        if (!IN_LIST(e->code, signature_codes) || !e->message)
                return false;
        return contains_nocase(e->message, "signature expired") ||
               contains_nocase(e->message, "signature not yet current") ||
               contains_nocase(e->message, "skew");
}

bool sm_aws_error_is_expired_credentials(const sm_aws_error *e)
{
        return e && IN_LIST(e->code, expired_credential_codes);
}

static int dup_or_null(const char *s, char **ret)
{
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* Copies first, frees after: the new strings may be the old ones
 * (sm_aws_error_set(e, ..., e->code, ...)). */
static int replace_strings(sm_aws_error *e, const char *code, const char *message,
                           const char *request_id)
{
        char *c = NULL, *m = NULL, *r = NULL;

        if (dup_or_null(code, &c) < 0 || dup_or_null(message, &m) < 0 ||
            dup_or_null(request_id, &r) < 0)
                goto fail;
        sm_aws_error_clear(e);
        e->code = c;
        e->message = m;
        e->request_id = r;
        return 0;
fail:
        free(c);
        free(m);
        free(r);
        return -ENOMEM;
}

int sm_aws_error_set(sm_aws_error *e, long http_status, const char *code, const char *message,
                     const char *request_id)
{
        int r = replace_strings(e, code, message, request_id);

        if (r < 0)
                return r;
        e->http_status = http_status;
        e->klass = sm_aws_error_classify(http_status, e->code, 0);
        /* A signature rejected for skew is fixed by re-signing with the
         * corrected clock, which the retry does. */
        if (e->klass == SM_AWS_ERROR_TERMINAL && sm_aws_error_is_clock_skew(e))
                e->klass = SM_AWS_ERROR_TRANSIENT;
        return 0;
}

int sm_aws_error_set_transport(sm_aws_error *e, int transport, const char *code,
                               const char *message)
{
        int r = replace_strings(e, code, message, NULL);

        if (r < 0)
                return r;
        e->transport = transport < 0 ? transport : 0;
        e->timeout = transport == -ETIMEDOUT || streq_ptr(e->code, "Timeout");
        if (transport == -ECANCELED || transport == -EMSGSIZE ||
            IN_LIST(e->code, local_terminal_codes))
                e->klass = SM_AWS_ERROR_TERMINAL;
        else
                e->klass = SM_AWS_ERROR_TRANSIENT;
        return 0;
}

int sm_aws_error_copy(sm_aws_error *dst, const sm_aws_error *src)
{
        sm_aws_error tmp = {0};

        if (dst == src)
                return 0;
        if (replace_strings(&tmp, src->code, src->message, src->request_id) < 0)
                return -ENOMEM;
        tmp.http_status = src->http_status;
        tmp.transport = src->transport;
        tmp.timeout = src->timeout;
        tmp.klass = src->klass;
        sm_aws_error_clear(dst);
        *dst = tmp;
        return 0;
}

const char *sm_aws_error_class_to_string(sm_aws_error_class c)
{
        switch (c) {
        case SM_AWS_ERROR_NONE:
                return "none";
        case SM_AWS_ERROR_THROTTLE:
                return "throttle";
        case SM_AWS_ERROR_TRANSIENT:
                return "transient";
        case SM_AWS_ERROR_TERMINAL:
                return "terminal";
        }
        return "unknown";
}
