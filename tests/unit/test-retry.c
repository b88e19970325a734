/* SPDX-License-Identifier: Apache-2.0 */
/* The numbers asserted here are the SDKs' (../shared/reference/peers.md
 * §4.1-4.3); the step sequences mirror the SDKs' 2026 retry test cases. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "smstudio/retry.h"
#include "testmain.h"

#define RAND_MAX01 0.999999

static sm_retry_config cfg(bool rules_2026, unsigned max_attempts)
{
        sm_retry_config c;

        sm_retry_config_init(&c);
        c.rules_2026 = rules_2026;
        c.max_attempts = max_attempts;
        return c;
}

static sm_aws_error err_of(sm_aws_error_class k, bool timeout)
{
        return (sm_aws_error){
                .code = (char *)"X",
                .http_status = k == SM_AWS_ERROR_THROTTLE ? 400 : 500,
                .timeout = timeout,
                .klass = k,
        };
}

START_TEST(test_config_defaults)
{
        sm_retry_config c;
        sm_retry_quota q;
        sm_retry_mode m = SM_RETRY_ADAPTIVE;

        sm_retry_config_init(&c);
        ck_assert_int_eq(c.mode, SM_RETRY_STANDARD);
        ck_assert_uint_eq(c.max_attempts, 3);
        ck_assert(c.rules_2026);
        sm_retry_quota_init(&q);
        ck_assert_uint_eq(q.tokens, 500);

        ck_assert_int_eq(sm_retry_mode_from_string("standard", &m), 0);
        ck_assert_int_eq(m, SM_RETRY_STANDARD);
        ck_assert_int_eq(sm_retry_mode_from_string("adaptive", &m), 0);
        ck_assert_int_eq(m, SM_RETRY_ADAPTIVE);
        ck_assert_int_eq(sm_retry_mode_from_string("legacy", &m), -EINVAL);
        ck_assert_int_eq(sm_retry_mode_from_string("Standard", &m), -EINVAL);
        ck_assert_int_eq(sm_retry_mode_from_string("", &m), -EINVAL);
        ck_assert_int_eq(sm_retry_mode_from_string(NULL, &m), -EINVAL);
        ck_assert_int_eq(m, SM_RETRY_ADAPTIVE); /* untouched on failure */
        ck_assert_str_eq(sm_retry_mode_to_string(SM_RETRY_STANDARD), "standard");
        ck_assert_str_eq(sm_retry_mode_to_string(SM_RETRY_ADAPTIVE), "adaptive");
}
END_TEST

/* The ceiling of the delay before attempt+1: what rand01 -> 1 tends to. */
static uint64_t ceiling_2026(bool throttle, unsigned attempt)
{
        double x = throttle ? 1000.0 : 50.0;

        return (uint64_t)fmin(x * pow(2.0, attempt - 1), 20000.0);
}

START_TEST(test_backoff_2026)
{
        sm_retry_config c = cfg(true, 3);

        /* 50 ms, 100, 200, ... and 1 s, 2 s, 4 s, ... for throttles. */
        ck_assert_uint_eq(ceiling_2026(false, 1), 50);
        ck_assert_uint_eq(ceiling_2026(true, 1), 1000);
        for (unsigned a = 1; a <= 16; a++) {
                for (int t = 0; t <= 1; t++) {
                        uint64_t ceil = ceiling_2026(t, a);

                        ck_assert_uint_eq(sm_retry_backoff_ms(&c, t, a, 0.0), 0);
                        /* b × ceiling, truncated to whole milliseconds. */
                        ck_assert_uint_eq(sm_retry_backoff_ms(&c, t, a, RAND_MAX01), ceil - 1);
                        ck_assert_uint_eq(sm_retry_backoff_ms(&c, t, a, 0.5), ceil / 2);
                }
        }
        /* The cap applies before the jitter: late retries stay uniform in
         * [0, 20 s), never bunched at the cap. */
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 10, RAND_MAX01), 19999);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 10, 0.25), 5000);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, true, 6, 0.25), 5000);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, true, 1000000, RAND_MAX01), 19999);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, true, UINT32_MAX, RAND_MAX01), 19999);
        /* Attempt 0 is treated as the first. */
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 0, RAND_MAX01), 49);
        /* A broken random source cannot exceed the ceiling. */
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 1, 1.0), 49);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 1, 7.0), 49);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 1, -1.0), 0);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 1, NAN), 0);
        /* NULL config means the defaults (2026 rules). */
        ck_assert_uint_eq(sm_retry_backoff_ms(NULL, false, 2, RAND_MAX01), 99);
}
END_TEST

START_TEST(test_backoff_legacy)
{
        sm_retry_config c = cfg(false, 3);

        /* One base (1 s) for every error: 1 s, 2 s, 4 s, 8 s, 16 s, then the
         * 20 s cap, applied after the jitter. */
        static const uint64_t ceil_ms[] = {1000, 2000, 4000, 8000, 16000};

        for (unsigned a = 1; a <= 5; a++) {
                for (int t = 0; t <= 1; t++) {
                        ck_assert_uint_eq(sm_retry_backoff_ms(&c, t, a, 0.0), 0);
                        ck_assert_uint_eq(sm_retry_backoff_ms(&c, t, a, RAND_MAX01),
                                          ceil_ms[a - 1] - 1);
                        ck_assert_uint_eq(sm_retry_backoff_ms(&c, t, a, 0.5), ceil_ms[a - 1] / 2);
                }
        }
        for (unsigned a = 6; a <= 40; a++) {
                ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, a, 0.0), 0);
                ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, a, RAND_MAX01), 20000);
                ck_assert_uint_le(sm_retry_backoff_ms(&c, true, a, 0.5), 20000);
        }
        /* attempt 6: 0.5 × 32 s = 16 s, under the cap. */
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 6, 0.5), 16000);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, 7, 0.5), 20000);
        ck_assert_uint_eq(sm_retry_backoff_ms(&c, false, UINT32_MAX, 0.5), 20000);
}
END_TEST

/* The SDKs' "retry eventually succeeds" and throttle cases, step by step. */
START_TEST(test_quota_sequence_2026)
{
        sm_retry_config c = cfg(true, 3);
        sm_aws_error e5xx = err_of(SM_AWS_ERROR_TRANSIENT, false);
        sm_aws_error thr = err_of(SM_AWS_ERROR_THROTTLE, false);
        sm_retry_quota q;
        sm_retry_decision d;

        sm_retry_quota_init(&q);
        d = sm_retry_decide(&c, &q, &e5xx, 1, RAND_MAX01, NULL);
        ck_assert(d.retry);
        ck_assert_uint_eq(d.cost, 14);
        ck_assert_uint_eq(q.tokens, 486);
        ck_assert_uint_eq(d.delay_ms, 49);
        ck_assert_str_eq(d.reason, "transient error");
        d = sm_retry_decide(&c, &q, &e5xx, 2, RAND_MAX01, NULL);
        ck_assert(d.retry);
        ck_assert_uint_eq(q.tokens, 472);
        ck_assert_uint_eq(d.delay_ms, 99);
        /* Success on the retry refunds that retry's cost only. */
        sm_retry_on_success(&q, d.cost);
        ck_assert_uint_eq(q.tokens, 486);

        /* Max attempts: the third failure is final and costs nothing. */
        d = sm_retry_decide(&c, &q, &e5xx, 3, RAND_MAX01, NULL);
        ck_assert(!d.retry);
        ck_assert_uint_eq(d.cost, 0);
        ck_assert_str_eq(d.reason, "max attempts reached");
        ck_assert_uint_eq(q.tokens, 486);

        /* Throttles: 5 tokens, 1 s base. */
        sm_retry_quota_init(&q);
        d = sm_retry_decide(&c, &q, &thr, 1, RAND_MAX01, NULL);
        ck_assert(d.retry);
        ck_assert_uint_eq(d.cost, 5);
        ck_assert_uint_eq(q.tokens, 495);
        ck_assert_uint_eq(d.delay_ms, 999);
        ck_assert_str_eq(d.reason, "throttled");
        sm_retry_on_success(&q, d.cost);
        ck_assert_uint_eq(q.tokens, 500);

        /* Timeouts cost no more than other errors under the 2026 rules. */
        sm_aws_error to = err_of(SM_AWS_ERROR_TRANSIENT, true);
        d = sm_retry_decide(&c, &q, &to, 1, 0.0, NULL);
        ck_assert(d.retry);
        ck_assert_uint_eq(d.cost, 14);
        ck_assert_uint_eq(q.tokens, 486);
}
END_TEST

START_TEST(test_quota_drain_2026)
{
        sm_retry_config c = cfg(true, 100);
        sm_aws_error e5xx = err_of(SM_AWS_ERROR_TRANSIENT, false);
        sm_aws_error thr = err_of(SM_AWS_ERROR_THROTTLE, false);
        sm_retry_quota q;
        sm_retry_decision d;
        unsigned n = 0;

        sm_retry_quota_init(&q);
        while ((d = sm_retry_decide(&c, &q, &e5xx, 1, 0.5, NULL)).retry)
                n++;
        /* 500 / 14: 35 retries, 10 tokens left. */
        ck_assert_uint_eq(n, 35);
        ck_assert_uint_eq(q.tokens, 10);
        ck_assert_str_eq(d.reason, "retry quota exhausted");
        ck_assert_uint_eq(d.cost, 0);
        ck_assert_uint_eq(d.delay_ms, 0);
        /* Throttles are cheaper: the last 10 tokens buy two of them. */
        ck_assert(sm_retry_decide(&c, &q, &thr, 1, 0.5, NULL).retry);
        ck_assert(sm_retry_decide(&c, &q, &thr, 1, 0.5, NULL).retry);
        ck_assert_uint_eq(q.tokens, 0);
        d = sm_retry_decide(&c, &q, &thr, 1, 0.5, NULL);
        ck_assert(!d.retry);
        ck_assert_str_eq(d.reason, "retry quota exhausted");
        ck_assert_uint_eq(q.tokens, 0);

        /* The SDKs' "retry quota recovery" case, from 30 tokens. */
        q.tokens = 30;
        d = sm_retry_decide(&c, &q, &e5xx, 1, 0.5, NULL);
        ck_assert_uint_eq(q.tokens, 16);
        d = sm_retry_decide(&c, &q, &e5xx, 2, 0.5, NULL);
        ck_assert_uint_eq(q.tokens, 2);
        sm_retry_on_success(&q, d.cost);
        ck_assert_uint_eq(q.tokens, 16);
        d = sm_retry_decide(&c, &q, &e5xx, 1, 0.5, NULL);
        ck_assert_uint_eq(q.tokens, 2);
        sm_retry_on_success(&q, d.cost);
        ck_assert_uint_eq(q.tokens, 16);

        /* Exactly enough tokens is enough. */
        q.tokens = 14;
        ck_assert(sm_retry_decide(&c, &q, &e5xx, 1, 0.5, NULL).retry);
        ck_assert_uint_eq(q.tokens, 0);
        q.tokens = 13;
        ck_assert(!sm_retry_decide(&c, &q, &e5xx, 1, 0.5, NULL).retry);
        ck_assert_uint_eq(q.tokens, 13);
}
END_TEST

START_TEST(test_quota_legacy)
{
        sm_retry_config c = cfg(false, 1000);
        sm_aws_error e5xx = err_of(SM_AWS_ERROR_TRANSIENT, false);
        sm_aws_error thr = err_of(SM_AWS_ERROR_THROTTLE, false);
        sm_aws_error to = err_of(SM_AWS_ERROR_TRANSIENT, true);
        sm_retry_quota q;
        sm_retry_decision d;
        unsigned n = 0;

        /* "100 failed retries before you are rate limited, or 50 failed
         * retries due to timeouts". */
        sm_retry_quota_init(&q);
        while (sm_retry_decide(&c, &q, &e5xx, 1, 0.5, NULL).retry)
                n++;
        ck_assert_uint_eq(n, 100);
        ck_assert_uint_eq(q.tokens, 0);

        sm_retry_quota_init(&q);
        n = 0;
        while ((d = sm_retry_decide(&c, &q, &to, 1, 0.5, NULL)).retry) {
                ck_assert_uint_eq(d.cost, 10);
                n++;
        }
        ck_assert_uint_eq(n, 50);

        sm_retry_quota_init(&q);
        d = sm_retry_decide(&c, &q, &thr, 1, 0.5, NULL);
        ck_assert_uint_eq(d.cost, 5);
        ck_assert_uint_eq(q.tokens, 495);
        ck_assert_uint_eq(d.delay_ms, 500); /* same 1 s base as any error */
        sm_retry_on_success(&q, d.cost);
        ck_assert_uint_eq(q.tokens, 500);
}
END_TEST

START_TEST(test_quota_success_increment)
{
        sm_retry_quota q = {.tokens = 497};

        /* First-attempt successes add 1, up to the initial 500, never more. */
        sm_retry_on_success(&q, 0);
        ck_assert_uint_eq(q.tokens, 498);
        for (int i = 0; i < 10; i++)
                sm_retry_on_success(&q, 0);
        ck_assert_uint_eq(q.tokens, 500);
        sm_retry_on_success(&q, 14);
        ck_assert_uint_eq(q.tokens, 500);
        q.tokens = 495;
        sm_retry_on_success(&q, 14);
        ck_assert_uint_eq(q.tokens, 500);
        q.tokens = 0;
        sm_retry_on_success(&q, 0);
        ck_assert_uint_eq(q.tokens, 1);
        q.tokens = 600; /* never grows past the ceiling, even from above */
        sm_retry_on_success(&q, 5);
        ck_assert_uint_eq(q.tokens, 500);
        sm_retry_on_success(NULL, 5);
}
END_TEST

START_TEST(test_retry_after)
{
        sm_retry_config c = cfg(true, 3), legacy = cfg(false, 3);
        sm_aws_error e5xx = err_of(SM_AWS_ERROR_TRANSIENT, false);
        sm_retry_quota q;
        static const struct {
                const char *header;
                double rand01;
                uint64_t want;
        } cases[] = {
                /* backoff 49 ms (rand 0.999999, first retry) */
                {"1500", RAND_MAX01, 1500},
                {"0", RAND_MAX01, 49}, /* never below our own backoff */
                {"10", RAND_MAX01, 49},
                {"49", RAND_MAX01, 49},
                {"5049", RAND_MAX01, 5049},
                {"5050", RAND_MAX01, 5049}, /* at most backoff + 5 s */
                {"10000", RAND_MAX01, 5049},
                {"10000", 0.0, 5000},
                {"250", 0.0, 250},
                {" 200 ", RAND_MAX01, 200},
                /* invalid: ignored, the plain backoff applies */
                {"invalid", RAND_MAX01, 49},
                {"", RAND_MAX01, 49},
                {"-5", RAND_MAX01, 49},
                {"+5", RAND_MAX01, 49},
                {"1.5", RAND_MAX01, 49},
                {"1500ms", RAND_MAX01, 49},
                {"0x10", RAND_MAX01, 49},
                {"99999999999999999999999", RAND_MAX01, 49},
                {"Wed, 21 Oct 2015 07:28:00 GMT", RAND_MAX01, 49},
                {NULL, RAND_MAX01, 49},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sm_retry_decision d;

                sm_retry_quota_init(&q);
                d = sm_retry_decide(&c, &q, &e5xx, 1, cases[i].rand01, cases[i].header);
                ck_assert(d.retry);
                ck_assert_msg(d.delay_ms == cases[i].want, "'%s': %llu, want %llu",
                              cases[i].header ? cases[i].header : "(null)",
                              (unsigned long long)d.delay_ms, (unsigned long long)cases[i].want);
                ck_assert_uint_eq(q.tokens, 486);
        }
        /* Later retries clamp around their own, longer backoff. */
        sm_retry_quota_init(&q);
        ck_assert_uint_eq(sm_retry_decide(&c, &q, &e5xx, 2, 0.5, "10").delay_ms, 50);
        ck_assert_uint_eq(sm_retry_decide(&c, &q, &e5xx, 2, 0.5, "60000").delay_ms, 5050);

        /* The pre-2026 rules ignore the header. */
        sm_retry_quota_init(&q);
        ck_assert_uint_eq(sm_retry_decide(&legacy, &q, &e5xx, 1, 0.5, "1500").delay_ms, 500);
        ck_assert_uint_eq(sm_retry_decide(&legacy, &q, &e5xx, 1, 0.5, "100").delay_ms, 500);

        /* A header does not make a final error retryable. */
        sm_aws_error term = err_of(SM_AWS_ERROR_TERMINAL, false);
        ck_assert(!sm_retry_decide(&c, &q, &term, 1, 0.5, "100").retry);
}
END_TEST

START_TEST(test_max_attempts)
{
        sm_aws_error e5xx = err_of(SM_AWS_ERROR_TRANSIENT, false);
        sm_aws_error thr = err_of(SM_AWS_ERROR_THROTTLE, false);
        sm_retry_quota q;
        sm_retry_config c;
        sm_retry_decision d;

        for (unsigned max = 1; max <= 6; max++) {
                c = cfg(true, max);
                sm_retry_quota_init(&q);
                for (unsigned a = 1; a <= max + 2; a++) {
                        d = sm_retry_decide(&c, &q, a % 2 ? &e5xx : &thr, a, 0.5, NULL);
                        ck_assert_msg(d.retry == (a < max), "max %u attempt %u", max, a);
                        if (!d.retry)
                                ck_assert_str_eq(d.reason, "max attempts reached");
                }
        }
        /* 0 means the default, 3. */
        c = cfg(true, 0);
        sm_retry_quota_init(&q);
        ck_assert(sm_retry_decide(&c, &q, &e5xx, 2, 0.5, NULL).retry);
        ck_assert(!sm_retry_decide(&c, &q, &e5xx, 3, 0.5, NULL).retry);
        /* So does a NULL config. */
        ck_assert(!sm_retry_decide(NULL, &q, &e5xx, 3, 0.5, NULL).retry);
        d = sm_retry_decide(NULL, &q, &e5xx, 1, RAND_MAX01, NULL);
        ck_assert(d.retry);
        ck_assert_uint_eq(d.cost, 14);
        /* Without a quota nothing is counted. */
        d = sm_retry_decide(&c, NULL, &e5xx, 1, 0.5, NULL);
        ck_assert(d.retry);
        ck_assert_uint_eq(d.cost, 0);
}
END_TEST

START_TEST(test_terminal)
{
        sm_retry_config c = cfg(true, 5);
        sm_aws_error term = err_of(SM_AWS_ERROR_TERMINAL, false);
        sm_aws_error none = {0};
        sm_aws_error real = {0};
        sm_retry_quota q;
        sm_retry_decision d;

        sm_retry_quota_init(&q);
        d = sm_retry_decide(&c, &q, &term, 1, 0.5, NULL);
        ck_assert(!d.retry);
        ck_assert_str_eq(d.reason, "not retryable");
        ck_assert_uint_eq(d.delay_ms, 0);
        ck_assert_uint_eq(q.tokens, 500);
        d = sm_retry_decide(&c, &q, &none, 1, 0.5, NULL);
        ck_assert(!d.retry);
        ck_assert_ptr_nonnull(d.reason);
        d = sm_retry_decide(&c, &q, NULL, 1, 0.5, NULL);
        ck_assert(!d.retry);

        /* End to end with classified errors. */
        ck_assert_int_eq(sm_aws_error_set(&real, 400, "ValidationException", "no", NULL), 0);
        ck_assert(!sm_retry_decide(&c, &q, &real, 1, 0.5, NULL).retry);
        ck_assert_int_eq(sm_aws_error_set(&real, 409, "ResourceInUse", "busy", NULL), 0);
        ck_assert(!sm_retry_decide(&c, &q, &real, 1, 0.5, NULL).retry);
        ck_assert_int_eq(sm_aws_error_set(&real, 400, "ExpiredToken", "old", NULL), 0);
        ck_assert(!sm_retry_decide(&c, &q, &real, 1, 0.5, NULL).retry);
        ck_assert_int_eq(sm_aws_error_set_transport(&real, -ECANCELED, "Cancelled", NULL), 0);
        ck_assert(!sm_retry_decide(&c, &q, &real, 1, 0.5, NULL).retry);
        ck_assert_uint_eq(q.tokens, 500);
        ck_assert_int_eq(sm_aws_error_set(&real, 400, "Throttling", "Rate exceeded", NULL), 0);
        d = sm_retry_decide(&c, &q, &real, 1, 0.5, NULL);
        ck_assert(d.retry);
        ck_assert_uint_eq(d.cost, 5);
        ck_assert_uint_eq(d.delay_ms, 500);
        ck_assert_int_eq(sm_aws_error_set(&real, 503, "ServiceUnavailable", NULL, NULL), 0);
        d = sm_retry_decide(&c, &q, &real, 1, 0.5, NULL);
        ck_assert(d.retry);
        ck_assert_uint_eq(d.cost, 14);
        ck_assert_uint_eq(d.delay_ms, 25);
        sm_aws_error_clear(&real);
}
END_TEST

/* ---- adaptive mode ---------------------------------------------------- */

/* Send n requests at rate per second from *t, each acquired and answered
 * with success. */
static void send_ok(sm_rate_limiter *l, double *t, int n, double rate)
{
        for (int i = 0; i < n; i++) {
                *t += 1.0 / rate;
                sm_rate_limiter_update(l, false, *t);
        }
}

START_TEST(test_limiter_disabled_until_throttled)
{
        sm_rate_limiter l;
        double t = 1000.0;

        sm_rate_limiter_init(&l, t);
        ck_assert(!l.enabled);
        for (int i = 0; i < 1000; i++)
                ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t), 0);
        send_ok(&l, &t, 50, 10.0);
        ck_assert(!l.enabled);
        ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t), 0);
        /* It measured all along: about 10 requests per second. */
        ck_assert_double_ge(l.measured_tx_rate, 8.0);
        ck_assert_double_le(l.measured_tx_rate, 12.0);
}
END_TEST

START_TEST(test_limiter_first_throttle)
{
        sm_rate_limiter l;
        double t = 500.0;

        /* Throttled before any rate was measured: the floor rates apply,
         * 0.5 tokens per second into a bucket of 1. */
        sm_rate_limiter_init(&l, t);
        sm_rate_limiter_update(&l, true, t);
        ck_assert(l.enabled);
        ck_assert_double_eq(l.fill_rate, 0.5);
        ck_assert_double_eq(l.max_capacity, 1.0);
        ck_assert_double_eq(l.current_capacity, 0.0);
        ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t), 2000);
        ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t + 1.0), 1000);
        ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t + 2.0), 0);
        ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t + 2.0), 2000);
        /* The bucket never holds more than its capacity. */
        ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t + 100.0), 0);
        ck_assert_uint_gt(sm_rate_limiter_acquire_delay_ms(&l, t + 100.0), 0);
}
END_TEST

START_TEST(test_limiter_throttle_reduces_success_grows)
{
        sm_rate_limiter l;
        double t = 1000.0, measured, after_throttle, prev, k;

        sm_rate_limiter_init(&l, t);
        send_ok(&l, &t, 50, 10.0);
        measured = l.measured_tx_rate;

        /* Throttle: the rate drops to beta (0.7) × the measured rate. */
        t += 0.1;
        sm_rate_limiter_update(&l, true, t);
        ck_assert(l.enabled);
        ck_assert_double_eq_tol(l.last_max_rate, l.measured_tx_rate, 1e-9);
        ck_assert_double_eq_tol(l.fill_rate, 0.7 * l.last_max_rate, 1e-9);
        ck_assert_double_lt(l.fill_rate, measured);
        ck_assert_double_eq_tol(l.max_capacity, l.fill_rate, 1e-9);
        /* K = cbrt(W_max × (1 - beta) / C): when the curve is back at W_max. */
        k = cbrt(l.last_max_rate * 0.3 / 0.4);
        ck_assert_double_eq_tol(l.time_window, k, 1e-9);
        after_throttle = l.fill_rate;

        /* Successes grow the rate along the cubic: never down, back to the
         * old maximum after K seconds, past it afterwards. */
        prev = after_throttle;
        for (int i = 0; i < 40; i++) {
                send_ok(&l, &t, 1, 10.0);
                ck_assert_double_ge(l.fill_rate + 1e-9, prev);
                prev = l.fill_rate;
        }
        ck_assert_double_gt(l.fill_rate, after_throttle);
        ck_assert_double_gt(l.fill_rate, l.last_max_rate);
        /* ... but never beyond twice what we actually send. */
        send_ok(&l, &t, 200, 10.0);
        ck_assert_double_le(l.fill_rate, 2.0 * l.measured_tx_rate + 1e-9);

        /* Repeated throttles keep cutting, down to the 0.5/s floor. */
        prev = l.fill_rate;
        for (int i = 0; i < 30; i++) {
                t += 0.1;
                sm_rate_limiter_update(&l, true, t);
                ck_assert_double_le(l.fill_rate, prev + 1e-9);
                ck_assert_double_ge(l.fill_rate, 0.5);
                ck_assert_double_ge(l.max_capacity, 1.0);
                prev = l.fill_rate;
        }
        ck_assert_double_eq(l.fill_rate, 0.5);
}
END_TEST

START_TEST(test_limiter_acquire_delays)
{
        sm_rate_limiter l;
        double t = 2000.0, wait;
        uint64_t d;

        sm_rate_limiter_init(&l, t);
        send_ok(&l, &t, 50, 10.0);
        t += 0.1;
        sm_rate_limiter_update(&l, true, t);

        /* The bucket filled while the limiter only measured; what is in it
         * goes out at once, then each request waits for its token. */
        unsigned drained = 0;
        while (sm_rate_limiter_acquire_delay_ms(&l, t) == 0)
                drained++;
        ck_assert_uint_le(drained, (unsigned)floor(l.max_capacity));
        ck_assert_double_lt(l.current_capacity, 1.0);
        wait = (1.0 - l.current_capacity) / l.fill_rate;
        d = sm_rate_limiter_acquire_delay_ms(&l, t);
        ck_assert_uint_eq(d, (uint64_t)ceil(wait * 1000.0));
        ck_assert_uint_gt(d, 0);
        /* After that wait: send, and the next one waits a whole token. */
        t += d / 1000.0;
        ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t), 0);
        wait = 1.0 / l.fill_rate;
        d = sm_rate_limiter_acquire_delay_ms(&l, t);
        ck_assert_uint_le(d, (uint64_t)ceil(wait * 1000.0));
        ck_assert_uint_ge(d, (uint64_t)floor(wait * 1000.0) - 1);
        /* Half way there: half the wait left. */
        d = sm_rate_limiter_acquire_delay_ms(&l, t + wait / 2);
        ck_assert_uint_le(d, (uint64_t)ceil(wait * 500.0) + 1);
        ck_assert_uint_ge(d, (uint64_t)floor(wait * 500.0) - 1);
        t += wait + 0.001;
        ck_assert_uint_eq(sm_rate_limiter_acquire_delay_ms(&l, t), 0);
        ck_assert_uint_gt(sm_rate_limiter_acquire_delay_ms(&l, t), 0);

        /* A full bucket serves a burst of max_capacity requests at once. */
        t += 60.0;
        unsigned burst = 0;
        while (sm_rate_limiter_acquire_delay_ms(&l, t) == 0)
                burst++;
        ck_assert_uint_eq(burst, (unsigned)floor(l.max_capacity));

        /* A clock that steps back neither earns nor loses tokens. */
        double before = l.current_capacity;
        ck_assert_uint_gt(sm_rate_limiter_acquire_delay_ms(&l, t - 10.0), 0);
        ck_assert_double_eq(l.current_capacity, before);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("retry");
        TCase *tc = tcase_create("policy");
        TCase *tl = tcase_create("adaptive");

        tcase_add_test(tc, test_config_defaults);
        tcase_add_test(tc, test_backoff_2026);
        tcase_add_test(tc, test_backoff_legacy);
        tcase_add_test(tc, test_quota_sequence_2026);
        tcase_add_test(tc, test_quota_drain_2026);
        tcase_add_test(tc, test_quota_legacy);
        tcase_add_test(tc, test_quota_success_increment);
        tcase_add_test(tc, test_retry_after);
        tcase_add_test(tc, test_max_attempts);
        tcase_add_test(tc, test_terminal);
        suite_add_tcase(s, tc);

        tcase_add_test(tl, test_limiter_disabled_until_throttled);
        tcase_add_test(tl, test_limiter_first_throttle);
        tcase_add_test(tl, test_limiter_throttle_reduces_success_grows);
        tcase_add_test(tl, test_limiter_acquire_delays);
        suite_add_tcase(s, tl);
        return s;
}

SM_CHECK_MAIN(make_suite)
