/* SPDX-License-Identifier: Apache-2.0 */
/* The generic AWS client: one call = resolve credentials and endpoint,
 * encode for the service's protocol, sign (SigV4), send on the HTTP engine,
 * retry per the SDK rules (quota, backoff with jitter, x-amz-retry-after,
 * clock-skew correction, adaptive rate limiting), decode. Per-service files
 * only name operations. */
#pragma once

#include <jansson.h>
#include <uv.h>

#include "smstudio/awserr.h"
#include "smstudio/creds.h"
#include "smstudio/endpoint.h"
#include "smstudio/http.h"
#include "smstudio/settings.h"

typedef struct sm_aws_client sm_aws_client;

typedef struct sm_aws_response {
        json_t *output;            /* borrowed; NULL on failure */
        const sm_aws_error *error; /* NULL on success */
        unsigned attempts;
        const char *request_id; /* of the last attempt, or NULL */
} sm_aws_response;

/* Called once per call, from the loop, never inside sm_aws_call(). */
typedef void (*sm_aws_done_fn)(const sm_aws_response *r, void *userdata);

typedef struct sm_aws_client_stats {
        uint64_t calls;
        uint64_t attempts;
        uint64_t retries;
        uint64_t throttles;
        uint64_t failures;
} sm_aws_client_stats;

/* One finished call (after all its retries), for metrics and logs. */
typedef struct sm_aws_call_info {
        sm_service_id service;
        const char *service_name; /* "sagemaker", "iam", "sts", "servicecatalog" */
        const char *operation;    /* "CreateUserProfile" */
        /* "ok"; "cancelled" (client shut down or call cancelled);
         * "throttled" (the final error was a throttling one); else "error". */
        const char *outcome;
        const char *error_code; /* the final error's code; NULL when ok */
        unsigned attempts;      /* requests sent (0 when none could be) */
        unsigned throttles;     /* throttling answers among them */
} sm_aws_call_info;

/* Called once per call that was accepted by sm_aws_call(), from the loop,
 * just before its done callback; info and its strings are borrowed for the
 * duration of the call. Must not call back into the client. */
typedef void (*sm_aws_call_observer_fn)(const sm_aws_call_info *info, void *userdata);

/* settings, http and creds are borrowed and must outlive the client.
 * settings->region must be set. */
int sm_aws_client_new(uv_loop_t *loop, sm_http *http, const sm_aws_settings *settings,
                      sm_creds_provider *creds, sm_aws_client **ret);

/* Cancel pending calls (callbacks run with code "Cancelled") and free the
 * client once its timers are closed. Accepts NULL; returns NULL. */
sm_aws_client *sm_aws_client_free(sm_aws_client *c);

/* Call operation on service. Takes ownership of params (NULL means {}).
 * Returns 0, or -EINVAL (params not encodable) / -ENOMEM, in which case done
 * is never called. Everything else, an endpoint that could not be resolved
 * included ("InvalidEndpoint"), arrives through done. */
int sm_aws_call(sm_aws_client *c, sm_service_id service, const char *operation, json_t *params,
                sm_aws_done_fn done, void *userdata);

/* The endpoint a service's calls go to (resolved at creation), or NULL with
 * *ret_error (borrowed) saying why it could not be resolved. */
const sm_endpoint *sm_aws_client_endpoint(const sm_aws_client *c, sm_service_id service,
                                          const char **ret_error);

void sm_aws_client_get_stats(const sm_aws_client *c, sm_aws_client_stats *ret);

/* Set (fn non-NULL) or clear the per-call observer; one at a time. */
void sm_aws_client_set_observer(sm_aws_client *c, sm_aws_call_observer_fn fn, void *userdata);

/* Tests: replace the randomness behind jitter (uniform in [0,1)). */
void sm_aws_client_set_random(sm_aws_client *c, double (*rand01)(void *), void *userdata);
