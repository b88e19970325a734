/* SPDX-License-Identifier: Apache-2.0 */
/* AWS SDK retry behaviour as pure functions: whether to retry, how long to
 * back off, the retry quota (token bucket) and the adaptive client-side rate
 * limiter. No clock and no randomness of its own: callers pass both in, so
 * every rule is unit-testable. Numbers: ../shared/reference/peers.md §4.1-4.3. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "smstudio/awserr.h"

typedef enum sm_retry_mode {
        SM_RETRY_STANDARD = 0,
        SM_RETRY_ADAPTIVE,
} sm_retry_mode;

typedef struct sm_retry_config {
        sm_retry_mode mode;
        unsigned max_attempts; /* total attempts including the first; default 3 */
        bool rules_2026;       /* the SDKs' 2026 retry rules (default); false = pre-2026 */
} sm_retry_config;

#define SM_RETRY_DEFAULT_MAX_ATTEMPTS 3u
#define SM_RETRY_MAX_BACKOFF_MS       20000u
#define SM_RETRY_QUOTA_INITIAL        500u

/* Fill the defaults: standard mode, 3 attempts, 2026 rules. */
void sm_retry_config_init(sm_retry_config *c);

/* Parse "standard" / "adaptive" ("legacy" is refused: -EINVAL). */
int sm_retry_mode_from_string(const char *s, sm_retry_mode *ret);
const char *sm_retry_mode_to_string(sm_retry_mode m);

/* The retry quota shared by every call of one client. */
typedef struct sm_retry_quota {
        unsigned tokens;
} sm_retry_quota;

void sm_retry_quota_init(sm_retry_quota *q);

typedef struct sm_retry_decision {
        bool retry;
        uint64_t delay_ms;  /* back off this long before the next attempt */
        unsigned cost;      /* tokens taken from the quota; refund on success */
        const char *reason; /* static text for logs: "throttled", "quota exhausted", ... */
} sm_retry_decision;

/* Decide after a failed attempt (attempt counts from 1). rand01 is uniform
 * in [0,1). retry_after is the x-amz-retry-after header value or NULL.
 * Takes the retry cost from q when it says retry. */
sm_retry_decision sm_retry_decide(const sm_retry_config *c, sm_retry_quota *q,
                                  const sm_aws_error *err, unsigned attempt, double rand01,
                                  const char *retry_after);

/* Record a successful attempt: refunds last_cost when the success came on a
 * retry (last_cost > 0), else adds the no-retry increment (1). */
void sm_retry_on_success(sm_retry_quota *q, unsigned last_cost);

/* The backoff alone: delay before attempt+1 for an error of this kind. */
uint64_t sm_retry_backoff_ms(const sm_retry_config *c, bool throttle, unsigned attempt,
                             double rand01);

/* Adaptive mode's client-side rate limiter (CUBIC, as the SDKs do). Times
 * are seconds on a monotonic clock supplied by the caller. */
typedef struct sm_rate_limiter {
        bool enabled;
        double fill_rate;
        double max_capacity;
        double current_capacity;
        double last_timestamp;
        double measured_tx_rate;
        double last_tx_rate_bucket;
        unsigned request_count;
        double last_max_rate;
        double last_throttle_time;
        double time_window;
        double calculated_rate;
} sm_rate_limiter;

void sm_rate_limiter_init(sm_rate_limiter *l, double now);
/* How long to wait before sending (0 = send now); takes one token when 0. */
uint64_t sm_rate_limiter_acquire_delay_ms(sm_rate_limiter *l, double now);
/* Feed every response back: throttled or not. */
void sm_rate_limiter_update(sm_rate_limiter *l, bool throttled, double now);
