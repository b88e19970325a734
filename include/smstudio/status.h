/* SPDX-License-Identifier: Apache-2.0 */
/* The status store: the daemon's memory of what is true, fed by reconcile
 * passes and read by the control socket (io.smstudio Status, Resources,
 * Metrics) and by sd_notify STATUS=. A pure data structure: no I/O, no
 * clock (every time is passed in, as Unix seconds, fractions allowed), no
 * libuv, no logging. Not thread-safe; the daemon uses it from its loop.
 *
 * Feeding, per pass:
 *     sm_status_pass_started(s, number, trigger, now);
 *     for each round: sm_status_pass_round(s, round, plan, NULL, now);
 *                     sm_status_pass_round(s, round, plan, report, now);
 *     sm_status_pass_finished(s, &result, error, complete, now);
 * (the round calls are what sm_pass_options.on_round receives). AWS calls
 * are counted through sm_status_observe_call(), an sm_aws_call_observer_fn.
 * Dry-run passes (Plan) must not be fed: they change nothing.
 *
 * Phases. A resource's phase comes from the finding of the LAST round that
 * named it in the current pass, adjusted by that pass's action outcomes:
 *     IN_SYNC                      -> converged
 *     CHANGE, WAITING, BLOCKED     -> pending, or failing when an action on it
 *                                     FAILED or TIMED_OUT in this pass and no
 *                                     later action on it succeeded
 *     CONFLICT, REPLACE_REFUSED    -> conflict
 *     FAILED, INVALID              -> failing
 *     DELETION_GUARDED             -> held
 * An action that applied in a pass's last round leaves its resource pending
 * (the next observation confirms it). While paused, a pending resource is
 * reported (and counted) as held: nothing will move it; other phases stand.
 *
 * Per resource the store also keeps: the finding's message, the manifest
 * place ("file:line"), the last action that reached AWS (outcome APPLIED,
 * ALREADY, BLOCKED, FAILED or TIMED_OUT; shown as "UpdateUserProfile:
 * applied") with its time, the last AWS error
 * (from a FAILED, TIMED_OUT or BLOCKED action: code, message or the
 * FailureReason, request id, time), kept until an action on that resource
 * succeeds (APPLIED or ALREADY), and a drift-repaired counter: bumped once
 * per pass in which an update or tag action, or an Attach* / Put* call,
 * applied on a resource the previous pass had left converged.
 *
 * Resources named by no finding of a pass's last round are dropped when the
 * pass finishes, but only when the caller says the pass saw everything
 * (complete): a pass that was stopped, could not run, or observed only part
 * of the estate drops nothing.
 *
 * Memory: one compact record per resource (no JSON trees), kept sorted by
 * name (lookups O(log n), a round's sorted findings merge in O(n + m));
 * manifest file names, operations, error codes and messages are interned
 * and shared. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smstudio/apply.h"
#include "smstudio/client.h"
#include "smstudio/pass.h"
#include "smstudio/plan.h"
#include "smstudio/strbuf.h"

typedef enum sm_phase {
        SM_PHASE_CONVERGED,
        SM_PHASE_PENDING,
        SM_PHASE_FAILING,
        SM_PHASE_CONFLICT,
        SM_PHASE_HELD,
        _SM_PHASE_MAX,
} sm_phase;

/* Resources per phase (index sm_phase), as the IDL's Counts. */
typedef struct sm_status_counts {
        unsigned n[_SM_PHASE_MAX];
} sm_status_counts;

typedef struct sm_status sm_status;

/* STATUS= line length limit, without the NUL. */
#define SM_STATUS_SUMMARY_MAX 200

/* A new, empty store; NULL when out of memory. */
sm_status *sm_status_new(void);
/* Free the store. Accepts NULL; returns NULL. */
sm_status *sm_status_free(sm_status *s);

/* A pass begins. number counts from 1; trigger is one of the IDL's Pass
 * triggers ("start", "timer", "manifest", ...; copied). A pass still open is
 * finished first as an incomplete "error" pass. 0 or -ENOMEM / -EINVAL. */
int sm_status_pass_started(sm_status *s, unsigned number, const char *trigger, double now);

/* One round of the running pass: with report NULL, record the plan's
 * findings (the round's view of every resource); with a report (of this
 * plan), record the action outcomes. Calling it once with both does both.
 * A round's findings are recorded once however often it is called.
 * 0, -EINVAL (no pass running), -ENOMEM (the store stays consistent). */
int sm_status_pass_round(sm_status *s, unsigned round, const sm_plan *plan,
                         const sm_apply_report *report, double now);

/* The running pass ended. result may be NULL (the pass could not start:
 * counted as an "error" pass). error says why a pass that could not run
 * failed (NULL: strerror of result->r); ignored otherwise. complete: the pass
 * was not stopped and ran over a complete observation (result->r == 0), so
 * resources its last round did not name are gone and dropped. Deletions
 * held = the last round's plan->n_deletions_held. The Pass's rounds,
 * changes and failures are the result's. 0, or -EINVAL when no pass runs. */
int sm_status_pass_finished(sm_status *s, const sm_pass_result *result, const char *error,
                            bool complete, double now);

/* An sm_aws_call_observer_fn (userdata: the sm_status): counts the call by
 * service, operation and outcome, its retries and throttles, and, while a
 * pass runs, toward that pass's api_calls. */
void sm_status_observe_call(const sm_aws_call_info *info, void *userdata);

/* Pause state (persisting it is the caller's job); reason copied, may be
 * NULL. 0 or -ENOMEM. */
int sm_status_set_paused(sm_status *s, bool paused, const char *reason);
bool sm_status_is_paused(const sm_status *s);

/* When the next periodic pass is due (Unix seconds); 0: none scheduled. */
void sm_status_set_next_pass(sm_status *s, double when);

/* Deletions the guard held in the last finished pass. */
unsigned sm_status_deletions_held(const sm_status *s);

/* Whether a pass is running (between started and finished). */
bool sm_status_pass_running(const sm_status *s);

/* Counts by phase, pause applied. */
void sm_status_get_counts(const sm_status *s, sm_status_counts *ret);

/* Number of resources in the store. */
size_t sm_status_n_resources(const sm_status *s);

/* A resource's phase (pause applied), or -ENOENT. */
int sm_status_resource_phase(const sm_status *s, const char *name);

/* Times drift was repaired on a resource (0 when unknown). */
unsigned sm_status_resource_drift_repaired(const sm_status *s, const char *name);

/* "converged", "pending", "failing", "conflict", "held"; NULL if out of range. */
const char *sm_phase_to_string(sm_phase p);

/* The IDL's Counts object; NULL when out of memory. */
json_t *sm_status_counts_to_json(const sm_status *s);

/* The IDL's Pass object for the running pass (running = true) or the last
 * finished one; json null when there is none; NULL when out of memory. */
json_t *sm_status_pass_to_json(const sm_status *s, bool running);

/* The IDL's []Resource, sorted by name: every resource, or (name non-NULL)
 * just that one (about 235 bytes of JSON per converged resource). -ENOENT when name is not known
 * (NoSuchResource), -ENOMEM. *ret is set only on success. */
int sm_status_resources_to_json(const sm_status *s, const char *name, json_t **ret);

/* Add the store's part of the Status reply to obj: paused, pause_reason,
 * deletions_held, running, last_pass, next_pass, counts. The caller adds
 * version, instance, config_path, the generations and manifests_complete.
 * 0 or -ENOMEM. */
int sm_status_append_status_json(const sm_status *s, json_t *obj);

/* One line for sd_notify STATUS= (at most SM_STATUS_SUMMARY_MAX bytes, no
 * control characters, valid UTF-8 when the inputs were), times in UTC:
 *   "42 converged, 1 pending, 0 failing; last pass 12:03:04 changed 1; next 12:08:10"
 * conflict and held appear when non-zero; "paused" replaces the next pass
 * while paused; a running pass shows as "pass 7 running since 12:03:01". */
void sm_status_summary(const sm_status *s, char out[SM_STATUS_SUMMARY_MAX + 1]);

/* The metrics in the Prometheus text exposition format (version 0.0.4),
 * appended to out:
 *   smstudio_passes_total{result}                      counter
 *   smstudio_pass_duration_seconds                     histogram
 *   smstudio_aws_calls_total{service,operation,outcome} counter
 *   smstudio_aws_retries_total, smstudio_aws_throttles_total counters
 *   smstudio_resources{phase}                          gauge (pause applied)
 *   smstudio_drift_repaired_total                      counter
 *   smstudio_last_pass_timestamp_seconds               gauge (end of the last pass)
 *   smstudio_paused, smstudio_deletions_held           gauges
 * 0 or -ENOMEM. */
int sm_status_metrics(const sm_status *s, sm_buf *out);
