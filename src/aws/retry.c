/* SPDX-License-Identifier: Apache-2.0 */
/* The numbers are the SDKs' (../shared/reference/peers.md §4.1-4.3):
 *  - 2026 rules: t = b × min(x × 2^i, 20 s), x = 50 ms (1 s for throttles),
 *    quota costs 14 / 5 (throttle), x-amz-retry-after honoured;
 *  - pre-2026 rules: t = min(b × 2^i s, 20 s), costs 5 / 10 (timeout).
 * i is 0 for the first retry (the SDKs' retry test-suite: first delay = x).
 * The rate limiter is the SDKs' adaptive-mode CUBIC token bucket. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "smstudio/macro.h"
#include "smstudio/retry.h"

#define BASE_2026_MS          50.0
#define BASE_THROTTLE_2026_MS 1000.0
#define BASE_LEGACY_MS        1000.0
#define COST_2026             14u
#define COST_THROTTLE_2026    5u
#define COST_LEGACY           5u
#define COST_TIMEOUT_LEGACY   10u
#define NO_RETRY_INCREMENT    1u
/* x-amz-retry-after may stretch the backoff by at most this much. */
#define RETRY_AFTER_MAX_EXTRA_MS 5000u

/* Adaptive mode's constants. */
#define RL_SMOOTH        0.8
#define RL_BETA          0.7
#define RL_SCALE         0.4
#define RL_MIN_FILL_RATE 0.5
#define RL_MIN_CAPACITY  1.0
#define RL_BUCKET_S      0.5

void sm_retry_config_init(sm_retry_config *c)
{
        *c = (sm_retry_config){
                .mode = SM_RETRY_STANDARD,
                .max_attempts = SM_RETRY_DEFAULT_MAX_ATTEMPTS,
                .rules_2026 = true,
        };
}

int sm_retry_mode_from_string(const char *s, sm_retry_mode *ret)
{
        if (!s)
                return -EINVAL;
        if (streq(s, "standard")) {
                *ret = SM_RETRY_STANDARD;
                return 0;
        }
        if (streq(s, "adaptive")) {
                *ret = SM_RETRY_ADAPTIVE;
                return 0;
        }
        /* "legacy" differs per SDK; we refuse to guess which one is meant. */
        return -EINVAL;
}

const char *sm_retry_mode_to_string(sm_retry_mode m)
{
        switch (m) {
        case SM_RETRY_STANDARD:
                return "standard";
        case SM_RETRY_ADAPTIVE:
                return "adaptive";
        }
        return "unknown";
}

void sm_retry_quota_init(sm_retry_quota *q)
{
        q->tokens = SM_RETRY_QUOTA_INITIAL;
}

void sm_retry_on_success(sm_retry_quota *q, unsigned last_cost)
{
        unsigned add = last_cost > 0 ? last_cost : NO_RETRY_INCREMENT;

        if (!q)
                return;
        if (q->tokens >= SM_RETRY_QUOTA_INITIAL || add > SM_RETRY_QUOTA_INITIAL - q->tokens)
                q->tokens = SM_RETRY_QUOTA_INITIAL;
        else
                q->tokens += add;
}

/* A caller's random number, forced into [0, 1) so a bad source can never
 * stretch a delay past its ceiling. */
static double clamp_rand01(double r)
{
        if (!(r >= 0.0)) /* also catches NaN */
                return 0.0;
        if (r >= 1.0)
                return nextafter(1.0, 0.0);
        return r;
}

uint64_t sm_retry_backoff_ms(const sm_retry_config *c, bool throttle, unsigned attempt,
                             double rand01)
{
        /* 2^i passes 20 s long before i = 32; the clamp keeps ldexp sane. */
        int i = attempt > 1 ? (int)(attempt > 32 ? 31 : attempt - 1) : 0;
        double b = clamp_rand01(rand01), ms;

        if (!c || c->rules_2026) {
                double x = throttle ? BASE_THROTTLE_2026_MS : BASE_2026_MS;

                /* The cap applies before the jitter: late retries spread
                 * uniformly over [0, 20 s) instead of bunching at 20 s. */
                ms = b * fmin(ldexp(x, i), (double)SM_RETRY_MAX_BACKOFF_MS);
        } else {
                ms = fmin(b * ldexp(BASE_LEGACY_MS, i), (double)SM_RETRY_MAX_BACKOFF_MS);
        }
        return (uint64_t)ms;
}

/* x-amz-retry-after: milliseconds as a plain decimal integer. Anything else
 * is ignored, as the SDKs do. */
static bool parse_retry_after(const char *s, uint64_t *ret)
{
        uint64_t v = 0;

        if (!s)
                return false;
        while (*s == ' ' || *s == '\t')
                s++;
        if (*s < '0' || *s > '9')
                return false;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        while (*s == ' ' || *s == '\t')
                s++;
        if (*s)
                return false;
        *ret = v;
        return true;
}

sm_retry_decision sm_retry_decide(const sm_retry_config *c, sm_retry_quota *q,
                                  const sm_aws_error *err, unsigned attempt, double rand01,
                                  const char *retry_after)
{
        sm_retry_config defaults;
        sm_retry_decision d = {.retry = false};
        unsigned max_attempts, cost;
        uint64_t hint;
        bool throttle;

        if (!c) {
                sm_retry_config_init(&defaults);
                c = &defaults;
        }
        if (!err || err->klass == SM_AWS_ERROR_NONE) {
                d.reason = "no error";
                return d;
        }
        if (err->klass == SM_AWS_ERROR_TERMINAL) {
                d.reason = "not retryable";
                return d;
        }
        max_attempts = c->max_attempts > 0 ? c->max_attempts : SM_RETRY_DEFAULT_MAX_ATTEMPTS;
        if (attempt >= max_attempts) {
                d.reason = "max attempts reached";
                return d;
        }

        throttle = err->klass == SM_AWS_ERROR_THROTTLE;
        if (c->rules_2026)
                cost = throttle ? COST_THROTTLE_2026 : COST_2026;
        else
                cost = err->timeout ? COST_TIMEOUT_LEGACY : COST_LEGACY;
        if (q) {
                /* An empty quota means the service (or our network) is
                 * failing broadly: more retries would only add load. */
                if (q->tokens < cost) {
                        d.reason = "retry quota exhausted";
                        return d;
                }
                q->tokens -= cost;
        }

        d.retry = true;
        d.cost = q ? cost : 0;
        d.reason = throttle ? "throttled" : "transient error";
        d.delay_ms = sm_retry_backoff_ms(c, throttle, attempt, rand01);
        /* The server's hint may lengthen the wait, within 5 s, but never
         * shorten it below our own backoff. Pre-2026 SDKs ignore it. */
        if (c->rules_2026 && parse_retry_after(retry_after, &hint)) {
                if (hint < d.delay_ms)
                        hint = d.delay_ms;
                if (hint > d.delay_ms + RETRY_AFTER_MAX_EXTRA_MS)
                        hint = d.delay_ms + RETRY_AFTER_MAX_EXTRA_MS;
                d.delay_ms = hint;
        }
        return d;
}

/* ---- adaptive mode: client-side rate limiter ------------------------- */

void sm_rate_limiter_init(sm_rate_limiter *l, double now)
{
        *l = (sm_rate_limiter){
                .enabled = false,
                .last_timestamp = now,
                .last_tx_rate_bucket = floor(now),
                .last_throttle_time = now,
        };
}

/* Credit the tokens earned since the last refill. */
static void rl_refill(sm_rate_limiter *l, double now)
{
        double dt = now - l->last_timestamp;

        /* The caller's clock is monotonic; a step back earns nothing but
         * must not drain the bucket either. */
        if (dt > 0)
                l->current_capacity =
                        fmin(l->max_capacity, l->current_capacity + dt * l->fill_rate);
        l->last_timestamp = now;
}

/* Requests sent per second, counted in half-second buckets and smoothed,
 * so one burst does not look like the steady rate. */
static void rl_measure(sm_rate_limiter *l, double now)
{
        double bucket = floor(now / RL_BUCKET_S) * RL_BUCKET_S;

        l->request_count++;
        if (bucket > l->last_tx_rate_bucket) {
                double current = (double)l->request_count / (bucket - l->last_tx_rate_bucket);

                l->measured_tx_rate = current * RL_SMOOTH + l->measured_tx_rate * (1.0 - RL_SMOOTH);
                l->request_count = 0;
                l->last_tx_rate_bucket = bucket;
        }
}

/* CUBIC's K: the time the rate curve takes to climb back to the rate at
 * which we were last throttled. */
static void rl_update_time_window(sm_rate_limiter *l)
{
        l->time_window = cbrt(l->last_max_rate * (1.0 - RL_BETA) / RL_SCALE);
}

static void rl_set_rate(sm_rate_limiter *l, double rate, double now)
{
        /* Credit what was earned at the old rate before switching. */
        rl_refill(l, now);
        l->fill_rate = fmax(rate, RL_MIN_FILL_RATE);
        l->max_capacity = fmax(rate, RL_MIN_CAPACITY);
        l->current_capacity = fmin(l->current_capacity, l->max_capacity);
}

uint64_t sm_rate_limiter_acquire_delay_ms(sm_rate_limiter *l, double now)
{
        double wait_s, rate;

        /* Until the first throttle the limiter only measures. */
        if (!l->enabled)
                return 0;
        rl_refill(l, now);
        if (l->current_capacity >= 1.0) {
                l->current_capacity -= 1.0;
                return 0;
        }
        rate = l->fill_rate > 0 ? l->fill_rate : RL_MIN_FILL_RATE;
        wait_s = (1.0 - l->current_capacity) / rate;
        /* Round up: waking a hair early would only find the bucket short
         * again and spin through another timer. */
        return (uint64_t)ceil(wait_s * 1000.0);
}

void sm_rate_limiter_update(sm_rate_limiter *l, bool throttled, double now)
{
        rl_measure(l, now);
        if (throttled) {
                double rate =
                        l->enabled ? fmin(l->measured_tx_rate, l->fill_rate) : l->measured_tx_rate;

                l->last_max_rate = rate;
                rl_update_time_window(l);
                l->last_throttle_time = now;
                l->calculated_rate = rate * RL_BETA;
                l->enabled = true;
        } else {
                double dt = now - l->last_throttle_time;

                rl_update_time_window(l);
                l->calculated_rate = RL_SCALE * pow(dt - l->time_window, 3.0) + l->last_max_rate;
        }
        /* Never allow more than twice what we actually send: a rate we
         * never use says nothing about what the service accepts. */
        rl_set_rate(l, fmin(l->calculated_rate, 2.0 * l->measured_tx_rate), now);
}
