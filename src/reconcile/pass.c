/* SPDX-License-Identifier: Apache-2.0 */
/* One reconcile pass: observe -> plan -> apply, round after round, until a
 * plan has nothing left to do. Rounds exist because a plan only asks for
 * what the observed state allows (a new domain's profiles need its id), so
 * each apply unlocks the next round's actions.
 *
 * Lifecycle: the pass is always in exactly one of three states: observing
 * (the observer has no cancel, so a free then is deferred to its callback),
 * applying (the executor can be stopped or freed at any time), or finished
 * (the result waits on a 0 ms timer, so the caller's done never runs inside
 * the observer's or the executor's callback and may free the pass). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/macro.h"
#include "smstudio/pass.h"
#include "smstudio/strbuf.h"

#define PASS_DEFAULT_MAX_ROUNDS 8u

typedef enum pass_state {
        PASS_OBSERVING,
        PASS_APPLYING,
        PASS_FINISHED,
} pass_state;

struct sm_pass {
        uv_loop_t *loop;
        sm_aws_client *client;
        sm_observe_cache *cache;
        sm_pass_options opts;
        sm_observe_options oopts; /* borrowed by the observer until its done */
        char *account_id;         /* learnt from the first observation */
        char *partition;
        sm_pass_done_fn done;
        void *userdata;

        pass_state state;
        bool stopping;
        bool freed;       /* freed while observing: the observer's done finishes it */
        bool result_sent; /* done ran: the result is the caller's */

        sm_plan *plan;   /* this round's, or the last round's once finished */
        sm_apply *apply; /* the executor of this round, freed at the next round */
        json_t *rounds;  /* the report's "rounds" */
        json_t *round;   /* the current round's entry (borrowed from rounds) */
        /* Actions that failed, by "resource operation": a later round that
         * applies the same call clears it, so a retry that works is not a
         * failure and one that keeps failing counts once. */
        json_t *failed;
        /* The subset AWS refused as invalid (a terminal error): the same call
         * would be refused again, so later rounds hold it back. */
        json_t *refused;
        /* What opts.hold held back, by the same key (also in failed). */
        json_t *held;
        /* This round's held flags (one per action of plan), until it applied. */
        bool *round_held;
        unsigned n_rounds;
        unsigned changes;
        int error; /* why the pass ended early, 0 if it did not */
        /* Tags were changed by the last round: AddTags/DeleteTags do not move
         * LastModifiedTime, so only a full sweep reads them back. */
        bool resweep;
        /* The last observation could not read everything: the estate is not
         * known to be converged, whatever the plan says. */
        bool observe_incomplete;

        uv_timer_t finish_timer;
        sm_pass_result result;
};

static int pass_start_round(sm_pass *p);
static void on_observed(int r, sm_observed *observed, const sm_observe_stats *stats,
                        void *userdata);

void sm_pass_result_done(sm_pass_result *r)
{
        if (!r)
                return;
        sm_plan_free(r->last_plan);
        json_decref(r->report);
        *r = (sm_pass_result){0};
}

int sm_pass_exit_code(const sm_pass_result *r)
{
        int code = 0;

        if (r->changes > 0)
                code |= 2;
        /* A pass that could not run at all did not do what was asked. */
        if (r->failures > 0 || r->r < 0)
                code |= 4;
        return code;
}

bool sm_pass_action_refused(const sm_action_result *res)
{
        return res->outcome == SM_OUTCOME_FAILED && res->error.klass == SM_AWS_ERROR_TERMINAL;
}

const char *sm_pass_result_name(const sm_pass_result *r)
{
        if (!r || r->r < 0)
                return "error";
        if (r->changes > 0 && r->failures > 0)
                return "changed-and-failed";
        if (r->failures > 0)
                return "failed";
        if (r->changes > 0)
                return "changed";
        return "nothing-to-do";
}

static bool finding_is_failure(sm_finding_kind k)
{
        return k == SM_FINDING_FAILED || k == SM_FINDING_REPLACE_REFUSED ||
               k == SM_FINDING_CONFLICT || k == SM_FINDING_INVALID;
}

static char *action_key(const sm_action *a)
{
        return sm_strf("%s %s", a->resource, a->operation);
}

static json_t *outcome_to_json(const sm_action *a, size_t index, const sm_action_result *res,
                               bool held)
{
        json_t *o;

        o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}", "index", (json_int_t)index, "resource",
                      a->resource, "verb", sm_verb_to_string(a->verb), "operation", a->operation,
                      "outcome", sm_action_outcome_to_string(res->outcome), "attempts",
                      (json_int_t)res->attempts);
        if (!o)
                return NULL;
        if (res->error.code) {
                json_t *e = json_pack("{s:s, s:s?, s:s?, s:I}", "code", res->error.code, "message",
                                      res->error.message, "request_id", res->error.request_id,
                                      "http_status", (json_int_t)res->error.http_status);

                if (!e || json_object_set_new(o, "error", e) < 0)
                        goto fail;
        }
        if (res->failure_reason &&
            json_object_set_new(o, "failure_reason", json_string(res->failure_reason)) < 0)
                goto fail;
        if (held && json_object_set_new(o, "held", json_true()) < 0)
                goto fail;
        return o;
fail:
        json_decref(o);
        return NULL;
}

static unsigned count_failures(const sm_pass *p)
{
        unsigned n = (unsigned)json_object_size(p->failed);

        if (p->plan)
                for (size_t i = 0; i < p->plan->n_findings; i++)
                        if (finding_is_failure(p->plan->findings[i].kind))
                                n++;
        /* A round that could not observe leaves the estate unknown. */
        if ((p->error < 0 && p->n_rounds > 1) || p->observe_incomplete)
                n++;
        return n;
}

static void on_finish_timer(uv_timer_t *t)
{
        sm_pass *p = t->data;

        p->result_sent = true;
        /* done may free the pass: nothing after this line touches it. */
        p->done(&p->result, p->userdata);
}

/* End the pass: build the result and hand it over from a timer of our own. */
static void pass_finish(sm_pass *p, int error)
{
        sm_pass_result *res = &p->result;
        json_t *report;

        p->state = PASS_FINISHED;
        if (error < 0 && p->error == 0)
                p->error = error;
        res->rounds = p->n_rounds;
        res->changes = p->changes;
        res->failures = count_failures(p);
        res->held = (unsigned)json_object_size(p->held);
        /* An observation that failed in round one means no pass ran at all. */
        res->r = p->n_rounds <= 1 && p->error < 0 ? p->error : 0;
        res->last_plan = TAKE_PTR(p->plan);
        report = json_pack("{s:b, s:I, s:I, s:I, s:O}", "dry_run", p->opts.dry_run, "rounds_run",
                           (json_int_t)res->rounds, "changes", (json_int_t)res->changes, "failures",
                           (json_int_t)res->failures, "rounds", p->rounds);
        if (report && p->error < 0)
                json_object_set_new(report, "error", json_string(strerror(-p->error)));
        res->report = report; /* NULL only on -ENOMEM: the counts still stand */
        uv_timer_start(&p->finish_timer, on_finish_timer, 0, 0);
}

static void on_applied(const sm_apply_report *report, void *userdata)
{
        sm_pass *p = userdata;
        const sm_plan *plan = report->plan;
        json_t *outcomes = json_array();
        unsigned progress = report->applied + report->already;
        int r = 0;

        if (!outcomes)
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < report->n_results && i < plan->n_actions; i++) {
                const sm_action *a = &plan->actions[i];
                const sm_action_result *res = &report->results[i];
                _cleanup_free_ char *key = action_key(a);
                bool held = p->round_held && p->round_held[i];

                if (!key || json_array_append_new(outcomes, outcome_to_json(a, i, res, held)) < 0) {
                        r = -ENOMEM;
                        break;
                }
                /* Held: not run, a failure all the same (it stays undone). */
                if (held && res->outcome == SM_OUTCOME_SKIPPED) {
                        if (json_object_set_new(p->held, key, json_true()) < 0 ||
                            json_object_set_new(p->failed, key, json_true()) < 0)
                                r = -ENOMEM;
                        continue;
                }
                /* A create a List showed settled needs no Describe next round:
                 * the cache learns it from the request (a failure only costs
                 * that Describe). */
                if (res->outcome == SM_OUTCOME_APPLIED && res->listed)
                        (void)sm_observe_cache_seed(p->cache, a->operation, a->params, res->listed);
                switch (res->outcome) {
                case SM_OUTCOME_APPLIED:
                case SM_OUTCOME_ALREADY:
                        json_object_del(p->failed, key);
                        if (streq(a->operation, "AddTags") || streq(a->operation, "DeleteTags"))
                                p->resweep = true;
                        break;
                case SM_OUTCOME_FAILED:
                case SM_OUTCOME_TIMED_OUT:
                        if (json_object_set_new(p->failed, key, json_true()) < 0) {
                                r = -ENOMEM;
                        } else if (sm_pass_action_refused(res)) {
                                if (json_object_set_new(p->refused, key, json_true()) < 0)
                                        r = -ENOMEM;
                                else if (p->opts.on_refused)
                                        p->opts.on_refused(a, res, p->opts.hold_userdata);
                        }
                        break;
                default:
                        break;
                }
        }
        if (r == 0 && json_object_set_new(p->round, "outcomes", outcomes) < 0)
                r = -ENOMEM;
        else if (r < 0)
                json_decref(outcomes);
        if (r == 0)
                json_object_set_new(p->round, "counts",
                                    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "applied",
                                              (json_int_t)report->applied, "already",
                                              (json_int_t)report->already, "skipped",
                                              (json_int_t)report->skipped, "blocked",
                                              (json_int_t)report->blocked, "failed",
                                              (json_int_t)report->failed, "timed_out",
                                              (json_int_t)report->timed_out));
        free(p->round_held);
        p->round_held = NULL;
        p->changes += progress;
        if (p->opts.on_round)
                p->opts.on_round(p->n_rounds, plan, report, p->opts.round_userdata);
        /* Free the executor now, from its own callback (report dies with
         * it): its handles close in this loop iteration, long before the
         * plan it ran is freed (next round's plan, or the result's owner). */
        p->apply = sm_apply_free(p->apply);
        /* A round that changed nothing would be planned again just the same:
         * what it left (blocked, failed) is for the next pass, not the next
         * round. */
        if (r < 0 || p->stopping || progress == 0 || p->n_rounds >= p->opts.max_rounds) {
                pass_finish(p, r);
                return;
        }
        r = pass_start_round(p);
        if (r < 0)
                pass_finish(p, r);
}

/* The plan for the report, without its "in sync" findings (counted in
 * *ret_in_sync instead): over thousands of converged users they would be
 * nearly all of the report, and of the pass's memory, and say nothing. */
static json_t *plan_report(const sm_plan *plan, size_t *ret_in_sync)
{
        sm_plan view = *plan;
        json_t *j;
        size_t n = 0;

        *ret_in_sync = 0;
        view.findings = malloc((plan->n_findings ? plan->n_findings : 1) * sizeof(sm_finding));
        if (!view.findings)
                return NULL;
        for (size_t i = 0; i < plan->n_findings; i++) {
                if (plan->findings[i].kind == SM_FINDING_IN_SYNC)
                        (*ret_in_sync)++;
                else
                        view.findings[n++] = plan->findings[i]; /* borrowed */
        }
        view.n_findings = n;
        j = sm_plan_to_json(&view);
        free(view.findings);
        return j;
}

static void pass_destroy(sm_pass *p);

/* Start the executor on this round's plan, holding back the calls AWS
 * refused as invalid in an earlier round (the same request cannot fare
 * better until the manifest changes) and those the caller's hook holds.
 * Only the hook's count as held: an in-pass refusal is already a failure. */
static int apply_round(sm_pass *p, const sm_plan *plan)
{
        sm_apply_options opts = p->opts.apply;
        _cleanup_free_ bool *held = NULL;
        bool any = false;
        int r;

        if (json_object_size(p->refused) == 0 && !p->opts.hold)
                return sm_apply_start(p->loop, p->client, plan, &opts, on_applied, p, &p->apply);
        held = calloc(plan->n_actions ? plan->n_actions : 1, sizeof(bool));
        p->round_held = calloc(plan->n_actions ? plan->n_actions : 1, sizeof(bool));
        if (!held || !p->round_held)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_actions; i++) {
                const sm_action *a = &plan->actions[i];
                _cleanup_free_ char *key = action_key(a);

                if (!key)
                        return -ENOMEM;
                if (json_object_get(p->refused, key))
                        held[i] = true;
                else if (p->opts.hold && p->opts.hold(a, p->opts.hold_userdata))
                        held[i] = p->round_held[i] = true;
                any |= held[i];
        }
        if (any)
                opts.held = held;
        r = sm_apply_start(p->loop, p->client, plan, &opts, on_applied, p, &p->apply);
        if (r < 0) {
                free(p->round_held);
                p->round_held = NULL;
        }
        return r;
}

static void on_observed(int r, sm_observed *observed, const sm_observe_stats *stats, void *userdata)
{
        sm_pass *p = userdata;
        sm_plan *plan = NULL;
        json_t *stats_json, *plan_json;
        size_t n_mutating = 0, n_in_sync = 0;

        if (p->freed) {
                (void)sm_observe_cache_keep(p->cache, observed);
                pass_destroy(p);
                return;
        }
        if (r == 0 && observed) {
                p->observe_incomplete = observed->roles_incomplete;
                for (int k = 0; k < _SM_RESOURCE_KIND_MAX; k++)
                        p->observe_incomplete |= observed->incomplete[k];
        }
        stats_json = json_pack("{s:I, s:I, s:I, s:I}", "list_calls", (json_int_t)stats->list_calls,
                               "describe_calls", (json_int_t)stats->describe_calls, "other_calls",
                               (json_int_t)stats->other_calls, "failed_calls",
                               (json_int_t)stats->failed_calls);
        if (!stats_json || json_object_set_new(p->round, "observe", stats_json) < 0) {
                (void)sm_observe_cache_keep(p->cache, observed);
                pass_finish(p, -ENOMEM);
                return;
        }
        if (r < 0) {
                json_object_set_new(p->round, "error", json_string(strerror(-r)));
                pass_finish(p, r);
                return;
        }
        /* Later rounds need not ask STS again who we are. */
        if (!p->account_id && observed->account_id && observed->partition) {
                p->account_id = strdup(observed->account_id);
                p->partition = strdup(observed->partition);
                if (!p->account_id || !p->partition) {
                        (void)sm_observe_cache_keep(p->cache, observed);
                        pass_finish(p, -ENOMEM);
                        return;
                }
        }
        p->opts.policy.account_id = p->account_id;
        p->opts.policy.partition = p->partition;
        r = sm_plan_build(p->opts.desired, observed, &p->opts.policy, &plan);
        /* The model becomes the cache the next observation asks (a failure
         * only costs Describes). */
        (void)sm_observe_cache_keep(p->cache, observed);
        if (r < 0) {
                json_object_set_new(p->round, "error", json_string(strerror(-r)));
                pass_finish(p, r);
                return;
        }
        sm_plan_free(p->plan);
        p->plan = plan;
        plan_json = plan_report(plan, &n_in_sync);
        if (!plan_json || json_object_set_new(p->round, "plan", plan_json) < 0 ||
            json_object_set_new(p->round, "in_sync", json_integer((json_int_t)n_in_sync)) < 0) {
                pass_finish(p, -ENOMEM);
                return;
        }
        for (size_t i = 0; i < plan->n_actions; i++)
                if (sm_action_is_mutating(&plan->actions[i]))
                        n_mutating++;
        if (p->opts.on_round)
                p->opts.on_round(p->n_rounds, plan, NULL, p->opts.round_userdata);
        if (p->opts.dry_run) {
                p->changes = (unsigned)n_mutating;
                pass_finish(p, 0);
                return;
        }
        if (plan->n_actions == 0 || p->stopping) {
                pass_finish(p, 0);
                return;
        }
        p->state = PASS_APPLYING;
        r = apply_round(p, plan);
        if (r < 0) {
                json_object_set_new(p->round, "error", json_string(strerror(-r)));
                pass_finish(p, r);
        }
}

/* Start the next round's observation. 0 or -errno (then nothing runs). */
static int pass_start_round(sm_pass *p)
{
        json_t *round;

        round = json_pack("{s:I}", "round", (json_int_t)(p->n_rounds + 1));
        if (!round || json_array_append_new(p->rounds, round) < 0)
                return -ENOMEM;
        p->n_rounds++;
        p->round = round;
        p->oopts = (sm_observe_options){
                .desired = p->opts.desired,
                .instance = p->opts.policy.instance,
                /* A full sweep once per pass is enough: later rounds only
                 * look at what this pass itself just changed, except tags. */
                .full_sweep = (p->opts.full_sweep && p->n_rounds == 1) || p->resweep,
                .account_id = p->account_id,
                .partition = p->partition,
                .max_in_flight = p->opts.apply.concurrency,
        };
        p->resweep = false;
        p->state = PASS_OBSERVING;
        return sm_observe_start(p->client, p->cache, &p->oopts, on_observed, p);
}

int sm_pass_start(uv_loop_t *loop, sm_aws_client *client, sm_observe_cache *cache,
                  const sm_pass_options *opts, sm_pass_done_fn done, void *userdata, sm_pass **ret)
{
        sm_pass *p;
        int r;

        if (!loop || !client || !cache || !opts || !opts->desired || !done || !ret ||
            !opts->policy.instance)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->loop = loop;
        p->client = client;
        p->cache = cache;
        p->opts = *opts;
        if (p->opts.max_rounds == 0)
                p->opts.max_rounds = PASS_DEFAULT_MAX_ROUNDS;
        p->done = done;
        p->userdata = userdata;
        /* A caller that knows who it is saves the observer its STS call. */
        if (opts->policy.account_id && opts->policy.partition) {
                p->account_id = strdup(opts->policy.account_id);
                p->partition = strdup(opts->policy.partition);
        }
        p->rounds = json_array();
        p->failed = json_object();
        p->refused = json_object();
        p->held = json_object();
        if (!p->rounds || !p->failed || !p->refused || !p->held ||
            (opts->policy.account_id && opts->policy.partition &&
             (!p->account_id || !p->partition))) {
                r = -ENOMEM;
                goto fail;
        }
        r = uv_timer_init(loop, &p->finish_timer);
        if (r < 0)
                goto fail;
        p->finish_timer.data = p;
        r = pass_start_round(p);
        if (r < 0) {
                /* The timer is initialised: only its close callback may free p. */
                p->state = PASS_FINISHED;
                p->result_sent = true;
                sm_pass_free(p);
                return r;
        }
        *ret = p;
        return 0;
fail:
        json_decref(p->rounds);
        json_decref(p->failed);
        json_decref(p->refused);
        json_decref(p->held);
        free(p->round_held);
        free(p->account_id);
        free(p->partition);
        free(p);
        return r;
}

void sm_pass_stop(sm_pass *p)
{
        if (!p || p->stopping)
                return;
        p->stopping = true;
        /* An observation runs to its end (it only reads); the round after
         * it is not started. */
        if (p->state == PASS_APPLYING && p->apply)
                sm_apply_stop(p->apply);
}

static void on_pass_closed(uv_handle_t *h)
{
        free(h->data);
}

static void pass_destroy(sm_pass *p)
{
        sm_apply_free(p->apply);
        sm_plan_free(p->plan);
        json_decref(p->rounds);
        json_decref(p->failed);
        json_decref(p->refused);
        json_decref(p->held);
        free(p->round_held);
        free(p->account_id);
        free(p->partition);
        if (!p->result_sent)
                sm_pass_result_done(&p->result);
        uv_close((uv_handle_t *)&p->finish_timer, on_pass_closed);
}

sm_pass *sm_pass_free(sm_pass *p)
{
        if (!p || p->freed)
                return NULL;
        p->freed = true;
        /* The observer cannot be cancelled and holds p: its done finishes
         * the job. */
        if (p->state == PASS_OBSERVING)
                return NULL;
        pass_destroy(p);
        return NULL;
}
