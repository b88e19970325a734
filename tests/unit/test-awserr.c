/* SPDX-License-Identifier: Apache-2.0 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "smstudio/awserr.h"
#include "testmain.h"

/* Every code both SDKs (botocore retries/standard.py, Go v2 standard.go)
 * treat as throttling. */
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

START_TEST(test_throttle_codes)
{
        for (size_t i = 0; i < sizeof(throttle_codes) / sizeof(throttle_codes[0]); i++) {
                ck_assert_msg(sm_aws_error_code_is_throttle(throttle_codes[i]), "%s",
                              throttle_codes[i]);
                ck_assert_int_eq(sm_aws_error_classify(400, throttle_codes[i], 0),
                                 SM_AWS_ERROR_THROTTLE);
        }
        /* Exact match only: case and near-misses do not count. */
        ck_assert(!sm_aws_error_code_is_throttle("throttling"));
        ck_assert(!sm_aws_error_code_is_throttle("ThrottlingExceptionX"));
        ck_assert(!sm_aws_error_code_is_throttle("LimitExceeded")); /* IAM: a quota, terminal */
        ck_assert(!sm_aws_error_code_is_throttle(""));
        ck_assert(!sm_aws_error_code_is_throttle(NULL));
}
END_TEST

START_TEST(test_classify_status)
{
        static const long transient[] = {500, 502, 503, 504};
        static const long terminal[] = {200, 301, 400, 401, 403, 404, 409, 413, 501, 505, 509};

        for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
                ck_assert_int_eq(sm_aws_error_classify(transient[i], NULL, 0),
                                 SM_AWS_ERROR_TRANSIENT);
                /* The status wins over an unknown code. */
                ck_assert_int_eq(sm_aws_error_classify(transient[i], "InternalFailure", 0),
                                 SM_AWS_ERROR_TRANSIENT);
        }
        for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
                ck_assert_int_eq(sm_aws_error_classify(terminal[i], NULL, 0),
                                 SM_AWS_ERROR_TERMINAL);
        /* Our documented addition: a bare 429 is a throttle. */
        ck_assert_int_eq(sm_aws_error_classify(429, NULL, 0), SM_AWS_ERROR_THROTTLE);
        ck_assert_int_eq(sm_aws_error_classify(429, "HttpError429", 0), SM_AWS_ERROR_THROTTLE);
}
END_TEST

START_TEST(test_classify_codes)
{
        ck_assert_int_eq(sm_aws_error_classify(400, "RequestTimeout", 0), SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(400, "RequestTimeoutException", 0),
                         SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(400, "RequestTimeTooSkewed", 0),
                         SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(400, "RequestExpired", 0), SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(400, "RequestInTheFuture", 0),
                         SM_AWS_ERROR_TRANSIENT);

        /* peers.md §4.1: final answers, handled per resource, not retried. */
        static const char *const final[] = {
                "ValidationException",
                "ResourceInUse",
                "ResourceNotFound",
                "ResourceLimitExceeded",
                "AccessDenied",
                "AccessDeniedException",
                "ConflictException",
                "NoSuchEntity",
                "EntityAlreadyExists",
                "LimitExceeded",
                "MalformedPolicyDocument",
                "ExpiredToken",
                "ExpiredTokenException",
                "InvalidClientTokenId",
                "SignatureDoesNotMatch",
        };
        for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
                ck_assert_msg(sm_aws_error_classify(400, final[i], 0) == SM_AWS_ERROR_TERMINAL,
                              "%s", final[i]);
        /* IAM's ServiceFailure comes with a 500: transient by status. */
        ck_assert_int_eq(sm_aws_error_classify(500, "ServiceFailure", 0), SM_AWS_ERROR_TRANSIENT);
}
END_TEST

START_TEST(test_classify_transport)
{
        ck_assert_int_eq(sm_aws_error_classify(0, NULL, -ECONNRESET), SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(0, NULL, -ECONNREFUSED), SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(0, NULL, -ETIMEDOUT), SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(0, NULL, -EHOSTUNREACH), SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(0, NULL, -EPROTO), SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(0, NULL, -EIO), SM_AWS_ERROR_TRANSIENT);
        ck_assert_int_eq(sm_aws_error_classify(0, NULL, -ECANCELED), SM_AWS_ERROR_TERMINAL);
        ck_assert_int_eq(sm_aws_error_classify(0, NULL, -EMSGSIZE), SM_AWS_ERROR_TERMINAL);
}
END_TEST

START_TEST(test_set_and_clear)
{
        sm_aws_error e = {0};

        ck_assert_int_eq(sm_aws_error_set(&e, 400, "ThrottlingException", "Rate exceeded",
                                          "5b2e3d7c-1a2b-4c3d-8e9f-0a1b2c3d4e5f"),
                         0);
        ck_assert_str_eq(e.code, "ThrottlingException");
        ck_assert_str_eq(e.message, "Rate exceeded");
        ck_assert_str_eq(e.request_id, "5b2e3d7c-1a2b-4c3d-8e9f-0a1b2c3d4e5f");
        ck_assert_int_eq(e.http_status, 400);
        ck_assert_int_eq(e.transport, 0);
        ck_assert(!e.timeout);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_THROTTLE);

        /* Replacing with its own strings must not read freed memory. */
        ck_assert_int_eq(sm_aws_error_set(&e, 404, e.code, e.message, e.request_id), 0);
        ck_assert_str_eq(e.code, "ThrottlingException");
        ck_assert_str_eq(e.message, "Rate exceeded");

        ck_assert_int_eq(sm_aws_error_set(&e, 404, "NoSuchEntity", NULL, NULL), 0);
        ck_assert_str_eq(e.code, "NoSuchEntity");
        ck_assert_ptr_null(e.message);
        ck_assert_ptr_null(e.request_id);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);

        sm_aws_error_clear(&e);
        ck_assert_ptr_null(e.code);
        ck_assert_int_eq(e.http_status, 0);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_NONE);
        sm_aws_error_clear(&e); /* twice is fine */
        sm_aws_error_clear(NULL);
}
END_TEST

START_TEST(test_set_transport)
{
        sm_aws_error e = {0};

        ck_assert_int_eq(sm_aws_error_set(&e, 503, "ServiceUnavailable", "x", "rid"), 0);
        ck_assert_int_eq(sm_aws_error_set_transport(&e, -ETIMEDOUT, "Timeout",
                                                    "Operation timed out after 60000 ms"),
                         0);
        ck_assert_str_eq(e.code, "Timeout");
        ck_assert_ptr_null(e.request_id);
        ck_assert_int_eq(e.http_status, 0);
        ck_assert_int_eq(e.transport, -ETIMEDOUT);
        ck_assert(e.timeout);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TRANSIENT);

        ck_assert_int_eq(sm_aws_error_set_transport(&e, -ECONNRESET, "ConnectionError", NULL), 0);
        ck_assert(!e.timeout);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TRANSIENT);

        ck_assert_int_eq(sm_aws_error_set_transport(&e, -EPROTO, "TLSError", "handshake"), 0);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TRANSIENT);

        ck_assert_int_eq(sm_aws_error_set_transport(&e, -ECANCELED, "Cancelled", NULL), 0);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);

        ck_assert_int_eq(sm_aws_error_set_transport(&e, -EMSGSIZE, "ResponseTooLarge", NULL), 0);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);

        /* Local failures before sending: no errno, classified by code. */
        ck_assert_int_eq(sm_aws_error_set_transport(&e, 0, "NoCredentials", "no provider"), 0);
        ck_assert_int_eq(e.transport, 0);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);
        ck_assert_int_eq(sm_aws_error_set_transport(&e, 0, "Cancelled", NULL), 0);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);
        ck_assert_int_eq(sm_aws_error_set_transport(&e, 0, "MalformedResponse", NULL), 0);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);
        ck_assert_int_eq(sm_aws_error_set_transport(&e, 0, "Timeout", NULL), 0);
        ck_assert(e.timeout);
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TRANSIENT);
        sm_aws_error_clear(&e);
}
END_TEST

START_TEST(test_copy)
{
        sm_aws_error a = {0}, b = {0};

        ck_assert_int_eq(sm_aws_error_set(&a, 400, "ValidationException", "bad", "rid-1"), 0);
        ck_assert_int_eq(sm_aws_error_set(&b, 500, "old", "old", "old"), 0);
        ck_assert_int_eq(sm_aws_error_copy(&b, &a), 0);
        ck_assert_str_eq(b.code, "ValidationException");
        ck_assert_str_eq(b.message, "bad");
        ck_assert_str_eq(b.request_id, "rid-1");
        ck_assert_ptr_ne(b.code, a.code);
        ck_assert_int_eq(b.http_status, 400);
        ck_assert_int_eq(b.klass, SM_AWS_ERROR_TERMINAL);
        ck_assert_int_eq(sm_aws_error_copy(&b, &b), 0);
        ck_assert_str_eq(b.code, "ValidationException");
        sm_aws_error_clear(&a);
        sm_aws_error_clear(&b);

        /* Copying an empty error empties the destination. */
        ck_assert_int_eq(sm_aws_error_set_transport(&b, -EIO, "ConnectionError", "x"), 0);
        ck_assert_int_eq(sm_aws_error_copy(&b, &a), 0);
        ck_assert_ptr_null(b.code);
        ck_assert_int_eq(b.transport, 0);
        ck_assert_int_eq(b.klass, SM_AWS_ERROR_NONE);
}
END_TEST

START_TEST(test_clock_skew)
{
        sm_aws_error e = {0};

        ck_assert_int_eq(sm_aws_error_set(&e, 403, "RequestTimeTooSkewed",
                                          "The difference between the request time and the "
                                          "current time is too large.",
                                          NULL),
                         0);
        ck_assert(sm_aws_error_is_clock_skew(&e));
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TRANSIENT);

        ck_assert_int_eq(sm_aws_error_set(&e, 400, "RequestExpired", "Request has expired.", NULL),
                         0);
        ck_assert(sm_aws_error_is_clock_skew(&e));
        ck_assert_int_eq(sm_aws_error_set(&e, 400, "RequestInTheFuture", NULL, NULL), 0);
        ck_assert(sm_aws_error_is_clock_skew(&e));

        /* STS/IAM's answer when the signing time is 15 min off. */
        ck_assert_int_eq(sm_aws_error_set(&e, 403, "SignatureDoesNotMatch",
                                          "Signature expired: 20240102T101500Z is now earlier "
                                          "than 20240102T103100Z (20240102T104600Z - 15 min.)",
                                          NULL),
                         0);
        ck_assert(sm_aws_error_is_clock_skew(&e));
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TRANSIENT);

        ck_assert_int_eq(sm_aws_error_set(&e, 400, "InvalidSignatureException",
                                          "Signature not yet current: 20240102T110000Z is still "
                                          "later than 20240102T104600Z (20240102T103100Z + 15 "
                                          "min.)",
                                          NULL),
                         0);
        ck_assert(sm_aws_error_is_clock_skew(&e));
        ck_assert_int_eq(sm_aws_error_set(&e, 400, "InvalidSignatureException",
                                          "Request rejected: clock SKEW detected", NULL),
                         0);
        ck_assert(sm_aws_error_is_clock_skew(&e));

        /* A wrong secret key is not skew and stays terminal. */
        ck_assert_int_eq(sm_aws_error_set(&e, 403, "SignatureDoesNotMatch",
                                          "The request signature we calculated does not match "
                                          "the signature you provided.",
                                          NULL),
                         0);
        ck_assert(!sm_aws_error_is_clock_skew(&e));
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);
        ck_assert_int_eq(sm_aws_error_set(&e, 403, "SignatureDoesNotMatch", NULL, NULL), 0);
        ck_assert(!sm_aws_error_is_clock_skew(&e));
        /* The text alone, under an unrelated code, is not enough. */
        ck_assert_int_eq(sm_aws_error_set(&e, 400, "ValidationException", "skew", NULL), 0);
        ck_assert(!sm_aws_error_is_clock_skew(&e));

        sm_aws_error_clear(&e);
        ck_assert(!sm_aws_error_is_clock_skew(&e));
        ck_assert(!sm_aws_error_is_clock_skew(NULL));
}
END_TEST

START_TEST(test_expired_credentials)
{
        sm_aws_error e = {0};

        ck_assert_int_eq(sm_aws_error_set(&e, 400, "ExpiredToken",
                                          "The security token included in the request is "
                                          "expired",
                                          "rid"),
                         0);
        ck_assert(sm_aws_error_is_expired_credentials(&e));
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);
        ck_assert(!sm_aws_error_is_clock_skew(&e));

        ck_assert_int_eq(sm_aws_error_set(&e, 400, "ExpiredTokenException",
                                          "The security token included in the request is "
                                          "expired",
                                          NULL),
                         0);
        ck_assert(sm_aws_error_is_expired_credentials(&e));
        ck_assert_int_eq(e.klass, SM_AWS_ERROR_TERMINAL);

        ck_assert_int_eq(sm_aws_error_set(&e, 403, "InvalidClientTokenId", NULL, NULL), 0);
        ck_assert(!sm_aws_error_is_expired_credentials(&e));
        sm_aws_error_clear(&e);
        ck_assert(!sm_aws_error_is_expired_credentials(&e));
        ck_assert(!sm_aws_error_is_expired_credentials(NULL));
}
END_TEST

START_TEST(test_class_names)
{
        ck_assert_str_eq(sm_aws_error_class_to_string(SM_AWS_ERROR_NONE), "none");
        ck_assert_str_eq(sm_aws_error_class_to_string(SM_AWS_ERROR_THROTTLE), "throttle");
        ck_assert_str_eq(sm_aws_error_class_to_string(SM_AWS_ERROR_TRANSIENT), "transient");
        ck_assert_str_eq(sm_aws_error_class_to_string(SM_AWS_ERROR_TERMINAL), "terminal");
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("awserr");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_throttle_codes);
        tcase_add_test(tc, test_classify_status);
        tcase_add_test(tc, test_classify_codes);
        tcase_add_test(tc, test_classify_transport);
        tcase_add_test(tc, test_set_and_clear);
        tcase_add_test(tc, test_set_transport);
        tcase_add_test(tc, test_copy);
        tcase_add_test(tc, test_clock_skew);
        tcase_add_test(tc, test_expired_credentials);
        tcase_add_test(tc, test_class_names);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
