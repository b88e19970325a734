/* SPDX-License-Identifier: Apache-2.0 */
/* EC2 instance metadata (IMDSv2): session token by PUT /latest/api/token
 * with a 21600 s TTL, reused until shortly before it expires; IMDSv1
 * fallback only on 403/404/405 for the token and only when not disabled. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "smstudio/http.h"

typedef struct sm_imds sm_imds;

/* endpoint NULL: AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 * AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (IPv4 | IPv6), else
 * http://169.254.169.254. timeout_ms 0 means 1000 (the SDK default). */
int sm_imds_new(uv_loop_t *loop, sm_http *http, const char *endpoint, long timeout_ms,
                sm_imds **ret);
/* Cancels pending gets (callbacks run with -ECANCELED). Accepts NULL. */
sm_imds *sm_imds_free(sm_imds *m);

/* r is 0 with the body of a 200 answer, else negative (-ENOENT for 404,
 * -ETIMEDOUT, -EACCES ...) with error set. body is borrowed. */
typedef void (*sm_imds_done_fn)(int r, const char *body, size_t body_len, const char *error,
                                void *userdata);

/* GET path ("/latest/meta-data/placement/region"). done never runs inside
 * this call. */
int sm_imds_get(sm_imds *m, const char *path, sm_imds_done_fn done, void *userdata);

/* Refuse the IMDSv1 fallback (profile key ec2_metadata_v1_disabled); the
 * default comes from AWS_EC2_METADATA_V1_DISABLED. */
void sm_imds_set_v1_disabled(sm_imds *m, bool disabled);

/* The endpoint requests go to ("http://169.254.169.254"), for messages. */
const char *sm_imds_endpoint(const sm_imds *m);

/* Tests: replace the monotonic clock (milliseconds) behind token expiry. */
void sm_imds_set_clock(sm_imds *m, uint64_t (*now_ms)(void *), void *userdata);
