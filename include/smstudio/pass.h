/* SPDX-License-Identifier: Apache-2.0 */
/* One reconcile pass: rounds of observe -> plan -> apply until a plan has
 * nothing runnable left (or max_rounds). `smstudiod --once` runs one pass;
 * the daemon loop runs the same thing on every trigger. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "smstudio/apply.h"
#include "smstudio/client.h"
#include "smstudio/desired.h"
#include "smstudio/observe.h"
#include "smstudio/plan.h"

/* Progress of a pass, for callers that show it as it happens: once per
 * round with the plan just built (report NULL), then, when the round's plan
 * was applied, again with the executor's report. Both are borrowed for the
 * duration of the call. */
typedef void (*sm_pass_round_fn)(unsigned round, const sm_plan *plan, const sm_apply_report *report,
                                 void *userdata);

/* Whether to hold back a planned call this time: it is not made, finishes
 * SKIPPED (its outcome in the report says "held": true), and so does every
 * action that depends on it; it counts as a failure of the pass. Asked once
 * per action of every round's plan, just before the round applies. For a
 * caller that remembers, across passes, requests AWS refused as invalid. */
typedef bool (*sm_pass_hold_fn)(const sm_action *a, void *userdata);

/* An action AWS refused as invalid (a terminal error, see
 * sm_pass_action_refused()): the same request would be refused again, so
 * the pass holds it for the rest of the pass. Called once per refusal, from
 * the round that made the call, before that round's on_round; a and res
 * are borrowed for the duration of the call. */
typedef void (*sm_pass_refused_fn)(const sm_action *a, const sm_action_result *res, void *userdata);

typedef struct sm_pass_options {
        const sm_desired *desired;
        sm_plan_policy
                policy; /* instance, guard, load_complete, ... (account filled by the pass) */
        sm_apply_options apply;
        bool dry_run; /* plan once, apply nothing */
        bool full_sweep;
        unsigned max_rounds;       /* default 8 */
        sm_pass_round_fn on_round; /* optional */
        void *round_userdata;
        sm_pass_hold_fn hold; /* optional, on top of the calls refused earlier in the pass */
        sm_pass_refused_fn on_refused; /* optional */
        void *hold_userdata;           /* for hold and on_refused */
} sm_pass_options;

typedef struct sm_pass_result {
        int r; /* 0, or negative errno when the pass could not run at all */
        unsigned rounds;
        unsigned changes;   /* actions applied or already done (or, dry run, planned) */
        unsigned failures;  /* actions failed, timed out or held by opts.hold, plus
                             * FAILED / REPLACE_REFUSED / CONFLICT / INVALID findings
                             * of the last round */
        unsigned held;      /* distinct actions opts.hold held back (each also a failure) */
        sm_plan *last_plan; /* the last round's plan (owned by the result) */
        json_t *report;     /* every round: plan, outcomes, findings other than "in sync"
                             * (those are counted in the round's "in_sync") (owned) */
} sm_pass_result;

void sm_pass_result_done(sm_pass_result *r);

/* Whether an action's result is a refusal as invalid: FAILED with a
 * terminal AWS error (pure; the rule the pass and its callers share). */
bool sm_pass_action_refused(const sm_action_result *res);

/* The --once exit code: 0 nothing to do, 2 changes, 4 failures, 6 both. A
 * pass that could not run at all (r < 0) counts as a failure. */
int sm_pass_exit_code(const sm_pass_result *r);

/* The pass's result as the control interface names it (SMSTUDIO_RESULT of
 * the pass-finished record): "nothing-to-do", "changed", "failed",
 * "changed-and-failed", or "error" when it could not run (r NULL too). */
const char *sm_pass_result_name(const sm_pass_result *r);

typedef void (*sm_pass_done_fn)(sm_pass_result *result, void *userdata);

typedef struct sm_pass sm_pass;

/* Start a pass (opts, desired and cache borrowed until done). 0 or -errno;
 * done never runs inside this call; the result is the callee's to
 * sm_pass_result_done(), and done may free the pass. Rounds end when a plan
 * has no action, when a round applied nothing (what it left, blocked or
 * failed, would only be planned again: that is the next pass's), or after
 * max_rounds. */
int sm_pass_start(uv_loop_t *loop, sm_aws_client *client, sm_observe_cache *cache,
                  const sm_pass_options *opts, sm_pass_done_fn done, void *userdata, sm_pass **ret);
/* No new round; a running executor is stopped; done still runs once. */
void sm_pass_stop(sm_pass *p);
/* Cancel (done then does not run) or free after done. While an observation
 * runs the pass lingers until it ends: the cache must outlive it. */
sm_pass *sm_pass_free(sm_pass *p);
