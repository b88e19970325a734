/* SPDX-License-Identifier: Apache-2.0 */
/* The executor: runs one plan's calls on the AWS client, at most
 * `concurrency` at a time, each only after its dependencies succeeded, never
 * two on one resource at once; then waits, with uv timers and backoff, until
 * a read shows the call took effect (the action's settle statuses, or the
 * resource gone for deletes): a Describe, or for profile and space creates
 * the List of their domain, one page confirming many. Nothing here sleeps
 * or blocks the loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "smstudio/awserr.h"
#include "smstudio/client.h"
#include "smstudio/plan.h"

typedef enum sm_action_outcome {
        SM_OUTCOME_PENDING, /* not run, or not yet settled, when the executor was stopped */
        SM_OUTCOME_APPLIED, /* the call succeeded and, where asked, settled */
        SM_OUTCOME_ALREADY, /* create answered "already exists"; whether the existing
                             * resource is ours is the next round's observation */
        SM_OUTCOME_SKIPPED, /* a dependency did not apply */
        SM_OUTCOME_BLOCKED, /* busy / not ready (ResourceInUse, eventual consistency): next round */
        SM_OUTCOME_FAILED,  /* AWS refused or never settled: see error */
        SM_OUTCOME_TIMED_OUT, /* did not settle within the kind's timeout */
} sm_action_outcome;

typedef struct sm_action_result {
        sm_action_outcome outcome;
        sm_aws_error error;   /* code, message, request id when failed, blocked or already;
                               * a status that settled as *Failed is the code, and
                               * "SettleTimeout" says what a timed-out wait last saw */
        char *failure_reason; /* FailureReason from Describe when it settled as *Failed */
        unsigned attempts;    /* calls made for this action (settle polls excluded) */
        unsigned polls;       /* settle reads made (List pages that showed it, for creates
                               * confirmed by a List) */
        /* A profile or space create confirmed by a List page rather than a
         * Describe: that List entry (Status, LastModifiedTime...) with the
         * ARN the create answered added; NULL otherwise. What the pass
         * seeds the observed cache with. */
        json_t *listed;
        /* x-amzn-RequestId of the call that applied (NULL when it failed:
         * error.request_id has that one), for the journal. */
        char *request_id;
} sm_action_result;

typedef struct sm_apply_options {
        unsigned concurrency;       /* default 8 */
        uint64_t settle_timeout_ms; /* default 30 min */
        uint64_t mlflow_timeout_ms; /* default 60 min */
        uint64_t poll_initial_ms;   /* first settle poll after; default 1000 */
        uint64_t poll_max_ms;       /* backoff cap; default 30000 */
        /* NULL, or one flag per plan action (read by sm_apply_start only):
         * actions not to run this time, e.g. ones AWS refused as invalid
         * earlier in the pass. They finish SKIPPED without a call, and so
         * does everything that depends on them. */
        const bool *held;
} sm_apply_options;

typedef struct sm_apply_report {
        const sm_plan *plan;
        sm_action_result *results; /* one per plan action, same index */
        size_t n_results;
        unsigned applied, already, skipped, blocked, failed, timed_out;
} sm_apply_report;

/* Called once, from the loop, when every action is done or skipped (or,
 * after sm_apply_stop(), when nothing is in flight any more). report lives
 * until sm_apply_free(), which may be called from inside the callback. */
typedef void (*sm_apply_done_fn)(const sm_apply_report *report, void *userdata);

typedef struct sm_apply sm_apply;

/* Start running plan (borrowed until done). opts may be NULL. 0 or -errno;
 * done never runs inside this call. */
int sm_apply_start(uv_loop_t *loop, sm_aws_client *client, const sm_plan *plan,
                   const sm_apply_options *opts, sm_apply_done_fn done, void *userdata,
                   sm_apply **ret);

/* Stop: no new calls; in-flight ones finish (their results are kept); done
 * still runs once, never inside this call. Waits for settling stop too:
 * their actions stay PENDING (the next pass observes them). For SIGTERM. */
void sm_apply_stop(sm_apply *a);

/* Free after done ran (or to cancel: done then does not run). Accepts NULL. */
sm_apply *sm_apply_free(sm_apply *a);

const char *sm_action_outcome_to_string(sm_action_outcome o);

/* What an error answer to action's own call means (pure; the executor's
 * table, for callers that log or retry by outcome): ALREADY, BLOCKED,
 * APPLIED (the thing to delete is already gone) or FAILED. */
sm_action_outcome sm_apply_classify_error(const sm_action *action, const sm_aws_error *e);
