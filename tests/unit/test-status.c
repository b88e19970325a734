/* SPDX-License-Identifier: Apache-2.0 */
/* The status store fed with plans and executor reports built by hand:
 * phases for every finding kind, transitions across passes (errors kept and
 * cleared, drift counted), dropped resources, the STATUS= line, the JSON
 * shapes of io.smstudio.varlink and the Prometheus text, checked line by
 * line by a strict parser of the exposition format. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/status.h"
#include "testmain.h"

/* 2026-11-26T12:03:04Z */
#define T0 1795694584.0

/* ---- plans and reports by hand ------------------------------------------ */

static sm_plan *plan_new(size_t cap)
{
        sm_plan *p = calloc(1, sizeof(sm_plan));

        ck_assert_ptr_nonnull(p);
        p->findings = calloc(cap, sizeof(sm_finding));
        p->actions = calloc(cap, sizeof(sm_action));
        ck_assert_ptr_nonnull(p->findings);
        ck_assert_ptr_nonnull(p->actions);
        return p;
}

static void finding(sm_plan *p, const char *resource, sm_finding_kind kind, const char *message,
                    const char *file, unsigned line)
{
        sm_finding *f = &p->findings[p->n_findings++];

        f->resource = strdup(resource);
        f->kind = kind;
        f->message = strdup(message);
        f->source.file = file ? strdup(file) : NULL;
        f->source.line = line;
        ck_assert_ptr_nonnull(f->resource);
}

static size_t action(sm_plan *p, const char *resource, sm_verb verb, const char *operation)
{
        sm_action *a = &p->actions[p->n_actions];

        a->resource = strdup(resource);
        a->verb = verb;
        a->service = SM_SERVICE_SAGEMAKER;
        a->operation = strdup(operation);
        a->params = json_object();
        return p->n_actions++;
}

static sm_apply_report *report_new(const sm_plan *p)
{
        sm_apply_report *r = calloc(1, sizeof(*r));

        ck_assert_ptr_nonnull(r);
        r->plan = p;
        r->n_results = p->n_actions;
        r->results = calloc(p->n_actions ? p->n_actions : 1, sizeof(sm_action_result));
        ck_assert_ptr_nonnull(r->results);
        return r;
}

static void outcome(sm_apply_report *r, size_t i, sm_action_outcome o, const char *code,
                    const char *message, const char *request_id)
{
        r->results[i].outcome = o;
        if (code)
                ck_assert_int_eq(
                        sm_aws_error_set(&r->results[i].error, 400, code, message, request_id), 0);
}

static void report_free(sm_apply_report *r)
{
        for (size_t i = 0; i < r->n_results; i++) {
                sm_aws_error_clear(&r->results[i].error);
                free(r->results[i].failure_reason);
        }
        free(r->results);
        free(r);
}

/* One round: findings, then (when the plan has actions) the report. */
static void round_of(sm_status *s, unsigned n, sm_plan *p, sm_apply_report *r, double now)
{
        ck_assert_int_eq(sm_status_pass_round(s, n, p, NULL, now), 0);
        if (r)
                ck_assert_int_eq(sm_status_pass_round(s, n, p, r, now + 1), 0);
}

static void finish(sm_status *s, unsigned rounds, unsigned changes, unsigned failures,
                   bool complete, double now)
{
        sm_pass_result res = {.rounds = rounds, .changes = changes, .failures = failures};

        ck_assert_int_eq(sm_status_pass_finished(s, &res, NULL, complete, now), 0);
}

static json_t *resource_of(sm_status *s, const char *name)
{
        json_t *a = NULL, *o;

        ck_assert_int_eq(sm_status_resources_to_json(s, name, &a), 0);
        ck_assert_uint_eq(json_array_size(a), 1);
        o = json_incref(json_array_get(a, 0));
        json_decref(a);
        return o;
}

static const char *str_of(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

/* The object has exactly these keys (NULL-terminated). */
static void assert_keys(json_t *o, const char *const *keys)
{
        size_t n = 0;

        ck_assert(json_is_object(o));
        for (; keys[n]; n++)
                ck_assert_msg(json_object_get(o, keys[n]), "missing %s", keys[n]);
        ck_assert_uint_eq(json_object_size(o), n);
}

static const char *const resource_keys[] = {"name",
                                            "kind",
                                            "phase",
                                            "message",
                                            "manifest",
                                            "last_action",
                                            "last_action_time",
                                            "last_error",
                                            "drift_repaired",
                                            NULL};
static const char *const pass_keys[] = {"number",    "trigger", "started", "finished",
                                        "result",    "rounds",  "changes", "failures",
                                        "api_calls", "error",   NULL};
static const char *const error_keys[] = {"code", "message", "request_id", "time", NULL};
static const char *const count_keys[] = {"converged", "pending", "failing",
                                         "conflict",  "held",    NULL};

/* ---- phases ------------------------------------------------------------- */

START_TEST(test_every_finding_kind_has_a_phase)
{
        static const struct {
                sm_finding_kind kind;
                const char *resource;
                sm_phase phase;
        } cases[] = {
                {SM_FINDING_IN_SYNC, "a/in-sync", SM_PHASE_CONVERGED},
                {SM_FINDING_CHANGE, "b/change", SM_PHASE_PENDING},
                {SM_FINDING_WAITING, "c/waiting", SM_PHASE_PENDING},
                {SM_FINDING_BLOCKED, "d/blocked", SM_PHASE_PENDING},
                {SM_FINDING_CONFLICT, "e/conflict", SM_PHASE_CONFLICT},
                {SM_FINDING_REPLACE_REFUSED, "f/replace", SM_PHASE_CONFLICT},
                {SM_FINDING_FAILED, "g/failed", SM_PHASE_FAILING},
                {SM_FINDING_DELETION_GUARDED, "h/guarded", SM_PHASE_HELD},
                {SM_FINDING_INVALID, "i/invalid", SM_PHASE_FAILING},
        };
        sm_status *s = sm_status_new();
        sm_plan *p = plan_new(ELEMENTSOF(cases) + 4);
        sm_status_counts c;
        json_t *o, *counts;

        ck_assert_uint_eq(ELEMENTSOF(cases), _SM_FINDING_MAX);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                finding(p, cases[i].resource, cases[i].kind, "msg", "/m/x.yaml", (unsigned)i + 1);
        /* Two findings for one resource: the worse speaks, in either order. */
        finding(p, "j/twice", SM_FINDING_FAILED, "Failed: quota", NULL, 0);
        finding(p, "j/twice", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(p, "k/twice", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(p, "k/twice", SM_FINDING_CONFLICT, "foreign", NULL, 0);
        p->n_deletions_held = 1;
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0), 0);
        round_of(s, 1, p, NULL, T0);
        finish(s, 1, 0, 4, true, T0 + 5);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_int_eq(sm_status_resource_phase(s, cases[i].resource),
                                 (int)cases[i].phase);
        ck_assert_int_eq(sm_status_resource_phase(s, "j/twice"), SM_PHASE_FAILING);
        ck_assert_int_eq(sm_status_resource_phase(s, "k/twice"), SM_PHASE_CONFLICT);
        o = resource_of(s, "j/twice");
        ck_assert_str_eq(str_of(o, "message"), "Failed: quota");
        json_decref(o);
        sm_status_get_counts(s, &c);
        ck_assert_uint_eq(c.n[SM_PHASE_CONVERGED], 1);
        ck_assert_uint_eq(c.n[SM_PHASE_PENDING], 3);
        ck_assert_uint_eq(c.n[SM_PHASE_FAILING], 3);
        ck_assert_uint_eq(c.n[SM_PHASE_CONFLICT], 3);
        ck_assert_uint_eq(c.n[SM_PHASE_HELD], 1);
        ck_assert_uint_eq(sm_status_deletions_held(s), 1);

        counts = sm_status_counts_to_json(s);
        assert_keys(counts, count_keys);
        ck_assert_int_eq(json_integer_value(json_object_get(counts, "conflict")), 3);
        json_decref(counts);

        o = resource_of(s, "e/conflict");
        assert_keys(o, resource_keys);
        ck_assert_str_eq(str_of(o, "kind"), "e");
        ck_assert_str_eq(str_of(o, "phase"), "conflict");
        ck_assert_str_eq(str_of(o, "message"), "msg");
        ck_assert_str_eq(str_of(o, "manifest"), "/m/x.yaml:5");
        ck_assert(json_is_null(json_object_get(o, "last_action")));
        ck_assert(json_is_null(json_object_get(o, "last_error")));
        json_decref(o);
        ck_assert_int_eq(sm_status_resource_phase(s, "z/unknown"), -ENOENT);
        ck_assert_int_eq(sm_status_resources_to_json(s, "z/unknown", &o), -ENOENT);
        sm_plan_free(p);
        sm_status_free(s);
}
END_TEST

START_TEST(test_failure_is_kept_until_an_action_succeeds)
{
        const char *name = "user-profile/mlops-studio/alice";
        sm_status *s = sm_status_new();
        sm_plan *p1 = plan_new(1), *p2 = plan_new(1), *p3 = plan_new(1), *p4 = plan_new(1);
        sm_apply_report *r1, *r3;
        json_t *o, *e;

        /* Pass 1: the create fails; the resource is failing with the error. */
        finding(p1, name, SM_FINDING_CHANGE, "create", "/etc/smstudio.d/alice.yaml", 1);
        action(p1, name, SM_VERB_CREATE, "CreateUserProfile");
        r1 = report_new(p1);
        outcome(r1, 0, SM_OUTCOME_FAILED, "ValidationException", "bad role", "rid-1");
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0), 0);
        round_of(s, 1, p1, r1, T0);
        finish(s, 1, 0, 1, true, T0 + 3);
        ck_assert_int_eq(sm_status_resource_phase(s, name), SM_PHASE_FAILING);
        o = resource_of(s, name);
        ck_assert_str_eq(str_of(o, "kind"), "user-profile");
        ck_assert_str_eq(str_of(o, "manifest"), "/etc/smstudio.d/alice.yaml:1");
        ck_assert_str_eq(str_of(o, "last_action"), "CreateUserProfile: failed");
        ck_assert_str_eq(str_of(o, "last_action_time"), "2026-11-26T12:03:05Z");
        e = json_object_get(o, "last_error");
        assert_keys(e, error_keys);
        ck_assert_str_eq(str_of(e, "code"), "ValidationException");
        ck_assert_str_eq(str_of(e, "message"), "bad role");
        ck_assert_str_eq(str_of(e, "request_id"), "rid-1");
        ck_assert_str_eq(str_of(e, "time"), "2026-11-26T12:03:05Z");
        json_decref(o);

        /* Pass 2: nothing tried (a plan with the change but no report): still
         * pending, not failing, and the error is still there. */
        finding(p2, name, SM_FINDING_CHANGE, "create", "/etc/smstudio.d/alice.yaml", 1);
        ck_assert_int_eq(sm_status_pass_started(s, 2, "timer", T0 + 60), 0);
        round_of(s, 1, p2, NULL, T0 + 60);
        finish(s, 1, 0, 0, true, T0 + 61);
        ck_assert_int_eq(sm_status_resource_phase(s, name), SM_PHASE_PENDING);
        o = resource_of(s, name);
        ck_assert_str_eq(str_of(json_object_get(o, "last_error"), "code"), "ValidationException");
        json_decref(o);

        /* Pass 3: the create applies, the next round sees it in sync:
         * converged, and the error is gone. */
        finding(p3, name, SM_FINDING_CHANGE, "create", "/etc/smstudio.d/alice.yaml", 1);
        action(p3, name, SM_VERB_CREATE, "CreateUserProfile");
        r3 = report_new(p3);
        outcome(r3, 0, SM_OUTCOME_APPLIED, NULL, NULL, NULL);
        finding(p4, name, SM_FINDING_IN_SYNC, "in sync", "/etc/smstudio.d/alice.yaml", 1);
        ck_assert_int_eq(sm_status_pass_started(s, 3, "manifest", T0 + 120), 0);
        round_of(s, 1, p3, r3, T0 + 120);
        round_of(s, 2, p4, NULL, T0 + 125);
        finish(s, 2, 1, 0, true, T0 + 126);
        ck_assert_int_eq(sm_status_resource_phase(s, name), SM_PHASE_CONVERGED);
        o = resource_of(s, name);
        ck_assert(json_is_null(json_object_get(o, "last_error")));
        ck_assert_str_eq(str_of(o, "last_action"), "CreateUserProfile: applied");
        ck_assert_str_eq(str_of(o, "message"), "in sync");
        /* A create on a new resource is not drift. */
        ck_assert_int_eq(json_integer_value(json_object_get(o, "drift_repaired")), 0);
        json_decref(o);

        report_free(r1);
        report_free(r3);
        sm_plan_free(p1);
        sm_plan_free(p2);
        sm_plan_free(p3);
        sm_plan_free(p4);
        sm_status_free(s);
}
END_TEST

START_TEST(test_failure_in_an_earlier_round_stays_failing)
{
        const char *name = "space/mlops-studio/alice-JupyterLab-space";
        sm_status *s = sm_status_new();
        sm_plan *p1 = plan_new(2), *p2 = plan_new(2);
        sm_apply_report *r1;
        json_t *o;

        /* Round 1: the space update times out, another action applies (so a
         * second round runs); round 2 plans the update again. */
        finding(p1, "role/x", SM_FINDING_CHANGE, "update", NULL, 0);
        finding(p1, name, SM_FINDING_CHANGE, "update", NULL, 0);
        action(p1, "role/x", SM_VERB_UPDATE, "UpdateAssumeRolePolicy");
        action(p1, name, SM_VERB_UPDATE, "UpdateSpace");
        r1 = report_new(p1);
        outcome(r1, 0, SM_OUTCOME_APPLIED, NULL, NULL, NULL);
        outcome(r1, 1, SM_OUTCOME_TIMED_OUT, NULL, NULL, NULL);
        r1->results[1].failure_reason = strdup("still Updating after 30 min");
        finding(p2, "role/x", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(p2, name, SM_FINDING_WAITING, "waiting: Updating", NULL, 0);
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0), 0);
        round_of(s, 1, p1, r1, T0);
        round_of(s, 2, p2, NULL, T0 + 10);
        finish(s, 2, 1, 1, true, T0 + 11);
        ck_assert_int_eq(sm_status_resource_phase(s, name), SM_PHASE_FAILING);
        ck_assert_int_eq(sm_status_resource_phase(s, "role/x"), SM_PHASE_CONVERGED);
        o = resource_of(s, name);
        ck_assert_str_eq(str_of(o, "message"), "waiting: Updating");
        ck_assert(json_is_null(json_object_get(o, "manifest")));
        ck_assert_str_eq(str_of(json_object_get(o, "last_error"), "code"), "SettleTimeout");
        ck_assert_str_eq(str_of(json_object_get(o, "last_error"), "message"),
                         "still Updating after 30 min");
        ck_assert(json_is_null(json_object_get(json_object_get(o, "last_error"), "request_id")));
        json_decref(o);

        report_free(r1);
        sm_plan_free(p1);
        sm_plan_free(p2);
        sm_status_free(s);
}
END_TEST

/* ---- drift -------------------------------------------------------------- */

START_TEST(test_drift_repaired_counts_changes_to_converged_resources)
{
        sm_status *s = sm_status_new();
        sm_plan *p = plan_new(5), *q = plan_new(6);
        sm_apply_report *r;
        sm_buf m = {0};

        /* Pass 1: all converged but "space/new", which is not there yet. */
        finding(p, "role/r", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(p, "space/new", SM_FINDING_CHANGE, "create", NULL, 0);
        finding(p, "user-profile/d/a", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(p, "user-profile/d/b", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(p, "user-profile/d/c", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0), 0);
        round_of(s, 1, p, NULL, T0);
        finish(s, 1, 0, 0, true, T0 + 1);

        /* Pass 2: a profile updated twice (counted once), a policy put back on
         * the role by a CREATE-verb PutRolePolicy, a failed update on b (not
         * repaired), a create for the new space and a delete of c (no
         * drift either). */
        finding(q, "role/r", SM_FINDING_CHANGE, "policy missing", NULL, 0);
        finding(q, "space/new", SM_FINDING_CHANGE, "create", NULL, 0);
        finding(q, "user-profile/d/a", SM_FINDING_CHANGE, "update", NULL, 0);
        finding(q, "user-profile/d/b", SM_FINDING_CHANGE, "update", NULL, 0);
        finding(q, "user-profile/d/c", SM_FINDING_CHANGE, "delete", NULL, 0);
        action(q, "role/r", SM_VERB_CREATE, "PutRolePolicy");
        action(q, "space/new", SM_VERB_CREATE, "CreateSpace");
        action(q, "user-profile/d/a", SM_VERB_UPDATE, "UpdateUserProfile");
        action(q, "user-profile/d/a", SM_VERB_TAG, "AddTags");
        action(q, "user-profile/d/b", SM_VERB_UPDATE, "UpdateUserProfile");
        action(q, "user-profile/d/c", SM_VERB_DELETE, "DeleteUserProfile");
        r = report_new(q);
        for (size_t i = 0; i < 6; i++)
                outcome(r, i, SM_OUTCOME_APPLIED, NULL, NULL, NULL);
        outcome(r, 4, SM_OUTCOME_FAILED, "ValidationException", NULL, NULL);
        ck_assert_int_eq(sm_status_pass_started(s, 2, "timer", T0 + 300), 0);
        round_of(s, 1, q, r, T0 + 300);
        finish(s, 1, 5, 1, true, T0 + 301);

        ck_assert_uint_eq(sm_status_resource_drift_repaired(s, "user-profile/d/a"), 1);
        ck_assert_uint_eq(sm_status_resource_drift_repaired(s, "role/r"), 1);
        ck_assert_uint_eq(sm_status_resource_drift_repaired(s, "space/new"), 0);
        ck_assert_uint_eq(sm_status_resource_drift_repaired(s, "user-profile/d/b"), 0);
        ck_assert_uint_eq(sm_status_resource_drift_repaired(s, "user-profile/d/c"), 0);
        /* Applied in the last round: pending until an observation confirms. */
        ck_assert_int_eq(sm_status_resource_phase(s, "user-profile/d/a"), SM_PHASE_PENDING);
        ck_assert_int_eq(sm_status_metrics(s, &m), 0);
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_drift_repaired_total 2\n"));
        sm_buf_done(&m);

        /* Pass 3: a was pending after pass 2, so another update is no drift. */
        ck_assert_int_eq(sm_status_pass_started(s, 3, "timer", T0 + 600), 0);
        round_of(s, 1, q, r, T0 + 600);
        finish(s, 1, 5, 1, true, T0 + 601);
        ck_assert_uint_eq(sm_status_resource_drift_repaired(s, "user-profile/d/a"), 1);

        report_free(r);
        sm_plan_free(p);
        sm_plan_free(q);
        sm_status_free(s);
}
END_TEST

/* ---- dropping ----------------------------------------------------------- */

START_TEST(test_resources_gone_from_a_complete_pass_are_dropped)
{
        sm_status *s = sm_status_new();
        sm_plan *both = plan_new(2), *del = plan_new(2), *one = plan_new(1);
        sm_apply_report *r;
        sm_pass_result err = {.r = -EHOSTUNREACH};
        json_t *pass;

        finding(both, "space/a", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(both, "space/b", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(one, "space/a", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0), 0);
        round_of(s, 1, both, NULL, T0);
        finish(s, 1, 0, 0, true, T0 + 1);
        ck_assert_uint_eq(sm_status_n_resources(s), 2);

        /* Incomplete (stopped, partial observation): b is kept. */
        ck_assert_int_eq(sm_status_pass_started(s, 2, "timer", T0 + 10), 0);
        round_of(s, 1, one, NULL, T0 + 10);
        finish(s, 1, 0, 0, false, T0 + 11);
        ck_assert_uint_eq(sm_status_n_resources(s), 2);

        /* A pass that could not run keeps everything, even told "complete". */
        ck_assert_int_eq(sm_status_pass_started(s, 3, "timer", T0 + 20), 0);
        ck_assert_int_eq(sm_status_pass_finished(s, &err, "no credentials\nat all", true, T0 + 21),
                         0);
        ck_assert_uint_eq(sm_status_n_resources(s), 2);
        pass = sm_status_pass_to_json(s, false);
        assert_keys(pass, pass_keys);
        ck_assert_str_eq(str_of(pass, "result"), "error");
        ck_assert_str_eq(str_of(pass, "error"), "no credentials\nat all");
        json_decref(pass);

        /* b deleted in round 1, gone from round 2: dropped at the end. */
        finding(del, "space/a", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(del, "space/b", SM_FINDING_CHANGE, "delete", NULL, 0);
        action(del, "space/b", SM_VERB_DELETE, "DeleteSpace");
        r = report_new(del);
        outcome(r, 0, SM_OUTCOME_APPLIED, NULL, NULL, NULL);
        ck_assert_int_eq(sm_status_pass_started(s, 4, "manifest", T0 + 30), 0);
        round_of(s, 1, del, r, T0 + 30);
        ck_assert_int_eq(sm_status_resource_phase(s, "space/b"), SM_PHASE_PENDING);
        round_of(s, 2, one, NULL, T0 + 35);
        /* Until the pass ends, b is still shown. */
        ck_assert_uint_eq(sm_status_n_resources(s), 2);
        finish(s, 2, 1, 0, true, T0 + 36);
        ck_assert_uint_eq(sm_status_n_resources(s), 1);
        ck_assert_int_eq(sm_status_resource_phase(s, "space/b"), -ENOENT);

        report_free(r);
        sm_plan_free(both);
        sm_plan_free(del);
        sm_plan_free(one);
        sm_status_free(s);
}
END_TEST

/* ---- pause, Pass and Status objects ------------------------------------- */

START_TEST(test_pause_holds_pending_and_status_json)
{
        static const char *const status_keys[] = {
                "paused",    "pause_reason", "deletions_held", "running",
                "last_pass", "next_pass",    "counts",         NULL};
        sm_status *s = sm_status_new();
        sm_plan *p = plan_new(2);
        json_t *st, *pass;
        sm_aws_call_info call = {.service_name = "sagemaker",
                                 .operation = "ListDomains",
                                 .outcome = "ok",
                                 .attempts = 1};

        finding(p, "domain/d", SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        finding(p, "user-profile/d/a", SM_FINDING_CHANGE, "create", NULL, 0);
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0), 0);
        sm_status_observe_call(&call, s);
        sm_status_observe_call(&call, s);

        pass = sm_status_pass_to_json(s, true);
        assert_keys(pass, pass_keys);
        ck_assert_str_eq(str_of(pass, "result"), "running");
        ck_assert(json_is_null(json_object_get(pass, "finished")));
        ck_assert_int_eq(json_integer_value(json_object_get(pass, "api_calls")), 2);
        json_decref(pass);
        ck_assert(json_is_null(sm_status_pass_to_json(s, false)));

        round_of(s, 1, p, NULL, T0);
        finish(s, 1, 0, 0, true, T0 + 4);
        sm_status_observe_call(&call, s); /* outside a pass: not the pass's */
        sm_status_set_next_pass(s, T0 + 304);
        ck_assert_int_eq(sm_status_resource_phase(s, "user-profile/d/a"), SM_PHASE_PENDING);

        ck_assert_int_eq(sm_status_set_paused(s, true, "maintenance"), 0);
        ck_assert(sm_status_is_paused(s));
        ck_assert_int_eq(sm_status_resource_phase(s, "user-profile/d/a"), SM_PHASE_HELD);
        ck_assert_int_eq(sm_status_resource_phase(s, "domain/d"), SM_PHASE_CONVERGED);

        st = json_object();
        ck_assert_int_eq(sm_status_append_status_json(s, st), 0);
        assert_keys(st, status_keys);
        ck_assert(json_is_true(json_object_get(st, "paused")));
        ck_assert_str_eq(str_of(st, "pause_reason"), "maintenance");
        ck_assert(json_is_null(json_object_get(st, "running")));
        ck_assert(json_is_null(json_object_get(st, "next_pass"))); /* null while paused */
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "counts"), "held")),
                         1);
        pass = json_object_get(st, "last_pass");
        assert_keys(pass, pass_keys);
        ck_assert_int_eq(json_integer_value(json_object_get(pass, "number")), 1);
        ck_assert_str_eq(str_of(pass, "trigger"), "start");
        ck_assert_str_eq(str_of(pass, "started"), "2026-11-26T12:03:04Z");
        ck_assert_str_eq(str_of(pass, "finished"), "2026-11-26T12:03:08Z");
        ck_assert_str_eq(str_of(pass, "result"), "nothing-to-do");
        ck_assert_int_eq(json_integer_value(json_object_get(pass, "rounds")), 1);
        ck_assert_int_eq(json_integer_value(json_object_get(pass, "api_calls")), 2);
        ck_assert(json_is_null(json_object_get(pass, "error")));
        json_decref(st);

        ck_assert_int_eq(sm_status_set_paused(s, false, NULL), 0);
        ck_assert_int_eq(sm_status_resource_phase(s, "user-profile/d/a"), SM_PHASE_PENDING);
        st = json_object();
        ck_assert_int_eq(sm_status_append_status_json(s, st), 0);
        ck_assert(json_is_null(json_object_get(st, "pause_reason")));
        ck_assert_str_eq(str_of(st, "next_pass"), "2026-11-26T12:08:08Z");
        json_decref(st);

        /* A pass left open when the next starts is closed as an error. */
        ck_assert_int_eq(sm_status_pass_started(s, 2, "timer", T0 + 304), 0);
        ck_assert_int_eq(sm_status_pass_started(s, 3, "signal", T0 + 305), 0);
        pass = sm_status_pass_to_json(s, false);
        ck_assert_int_eq(json_integer_value(json_object_get(pass, "number")), 2);
        ck_assert_str_eq(str_of(pass, "result"), "error");
        json_decref(pass);
        ck_assert(sm_status_pass_running(s));
        ck_assert_int_eq(sm_status_pass_round(s, 1, NULL, NULL, T0), -EINVAL);
        finish(s, 0, 0, 0, false, T0 + 306);
        ck_assert(!sm_status_pass_running(s));
        ck_assert_int_eq(sm_status_pass_finished(s, NULL, NULL, true, T0 + 307), -EINVAL);
        ck_assert_int_eq(sm_status_pass_round(s, 1, p, NULL, T0), -EINVAL);

        sm_plan_free(p);
        sm_status_free(s);
}
END_TEST

/* ---- the STATUS= line --------------------------------------------------- */

static sm_status *status_with_counts(unsigned converged, unsigned pending, unsigned failing,
                                     unsigned conflict)
{
        sm_status *s = sm_status_new();
        sm_plan *p = plan_new(converged + pending + failing + conflict);
        char name[32];
        unsigned i = 0;

        for (unsigned k = 0; k < converged; k++, i++) {
                snprintf(name, sizeof(name), "user-profile/d/u%04u", i);
                finding(p, name, SM_FINDING_IN_SYNC, "in sync", NULL, 0);
        }
        for (unsigned k = 0; k < pending; k++, i++) {
                snprintf(name, sizeof(name), "user-profile/d/u%04u", i);
                finding(p, name, SM_FINDING_WAITING, "Pending", NULL, 0);
        }
        for (unsigned k = 0; k < failing; k++, i++) {
                snprintf(name, sizeof(name), "user-profile/d/u%04u", i);
                finding(p, name, SM_FINDING_FAILED, "Failed", NULL, 0);
        }
        for (unsigned k = 0; k < conflict; k++, i++) {
                snprintf(name, sizeof(name), "user-profile/d/u%04u", i);
                finding(p, name, SM_FINDING_CONFLICT, "foreign", NULL, 0);
        }
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0 - 2), 0);
        round_of(s, 1, p, NULL, T0 - 2);
        finish(s, 1, 1, failing, true, T0);
        sm_plan_free(p);
        return s;
}

START_TEST(test_summary_line)
{
        char line[SM_STATUS_SUMMARY_MAX + 1];
        sm_status *s = status_with_counts(42, 1, 0, 0);

        sm_status_set_next_pass(s, T0 + 306);
        sm_status_summary(s, line);
        ck_assert_str_eq(line,
                         "42 converged, 1 pending, 0 failing; last pass 12:03:04 changed 1; next "
                         "12:08:10");

        ck_assert_int_eq(sm_status_pass_started(s, 2, "signal", T0 + 10), 0);
        sm_status_summary(s, line);
        ck_assert_str_eq(line, "42 converged, 1 pending, 0 failing; pass 2 running since 12:03:14; "
                               "last pass 12:03:04 changed 1");
        ck_assert_int_eq(
                sm_status_pass_finished(s, NULL, "ExpiredToken\r\nrefresh", false, T0 + 11), 0);
        ck_assert_int_eq(sm_status_set_paused(s, true, "db\tmigration"), 0);
        sm_status_summary(s, line);
        /* Converged stays converged while paused; pending becomes held. */
        ck_assert_str_eq(line, "42 converged, 0 pending, 0 failing, 1 held; last pass 12:03:15 "
                               "error: ExpiredToken  refresh; paused: db migration");
        sm_status_free(s);
}
END_TEST

START_TEST(test_summary_line_is_bounded)
{
        char line[SM_STATUS_SUMMARY_MAX + 1];
        char reason[400];
        sm_status *s = status_with_counts(3, 2, 1, 1);
        size_t n;

        /* "é" is two bytes: a cut must not split it. */
        for (n = 0; n + 2 < sizeof(reason); n += 2)
                memcpy(reason + n, "\xc3\xa9", 2);
        reason[n] = '\0';
        ck_assert_int_eq(sm_status_set_paused(s, true, reason), 0);
        sm_status_summary(s, line);
        ck_assert_uint_le(strlen(line), SM_STATUS_SUMMARY_MAX);
        ck_assert(strncmp(line,
                          "3 converged, 0 pending, 1 failing, 1 conflict, 2 held; last pass "
                          "12:03:04 changed 1, failed 1; paused: \xc3\xa9",
                          strlen("3 converged, 0 pending, 1 failing, 1 conflict, 2 held; last pass "
                                 "12:03:04 changed 1, failed 1; paused: \xc3\xa9")) == 0);
        for (const char *p = line; *p; p++) {
                unsigned char c = (unsigned char)*p;

                ck_assert_uint_ge(c, 0x20);
                if (c == 0xc3)
                        ck_assert_uint_eq((unsigned char)p[1], 0xa9);
                if (c == 0xa9)
                        ck_assert_uint_eq((unsigned char)p[-1], 0xc3);
        }
        sm_status_free(s);

        /* An error text is cut at 80 bytes: "x" and 39 two-byte characters,
         * not half of the 40th. */
        s = sm_status_new();
        reason[0] = 'x';
        for (n = 1; n + 2 < sizeof(reason); n += 2)
                memcpy(reason + n, "\xc3\xa9", 2);
        reason[n] = '\0';
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0), 0);
        ck_assert_int_eq(sm_status_pass_finished(s, NULL, reason, false, T0), 0);
        sm_status_summary(s, line);
        ck_assert_uint_lt(strlen(line), SM_STATUS_SUMMARY_MAX);
        n = strlen("0 converged, 0 pending, 0 failing; last pass 12:03:04 error: ");
        ck_assert(strncmp(line, "0 converged, 0 pending, 0 failing; last pass 12:03:04 error: x",
                          n + 1) == 0);
        ck_assert_uint_eq(strlen(line + n), 79);
        ck_assert(strcmp(line + strlen(line) - 2, "\xc3\xa9") == 0);
        sm_status_free(s);
}
END_TEST

/* ---- metrics, with a strict reader of the text format -------------------- */

typedef struct family {
        char name[128];
        char type[16];
        bool help, samples, closed;
} family;

typedef struct prom {
        family fam[64];
        size_t n_fam;
        char series[256][256]; /* name{labels} seen, to refuse duplicates */
        size_t n_series;
        /* Histogram bookkeeping for the family being read. */
        double last_le, last_bucket, inf_bucket;
        bool have_inf;
        jmp_buf fail;
        char error[256];
} prom;

/* The reader's assertion: on a violation, note why and leave prom_check()
 * with false, so tests can also show that bad text is refused. */
static prom *cur_prom;
static void prom_require(bool cond, const char *fmt, ...) _printf_(2, 3);
static void prom_require(bool cond, const char *fmt, ...)
{
        va_list ap;

        if (cond)
                return;
        va_start(ap, fmt);
        vsnprintf(cur_prom->error, sizeof(cur_prom->error), fmt, ap);
        va_end(ap);
        longjmp(cur_prom->fail, 1);
}

static bool is_name_start(int c, bool colon)
{
        return isalpha(c) || c == '_' || (colon && c == ':');
}

static bool is_name_char(int c, bool colon)
{
        return isalnum(c) || c == '_' || (colon && c == ':');
}

/* Read a metric (colon true) or label name at *p. */
static size_t read_name(const char **p, char *out, size_t size, bool colon)
{
        size_t n = 0;

        prom_require(is_name_start((unsigned char)**p, colon), "bad name at '%s'", *p);
        while (is_name_char((unsigned char)**p, colon)) {
                prom_require(n + 1 < size, "too long");
                out[n++] = *(*p)++;
        }
        out[n] = '\0';
        return n;
}

/* A value as Go's ParseFloat takes it in the format: decimal, exponent,
 * NaN, +Inf, -Inf. */
static double read_value(const char *s)
{
        char *end;
        double v;

        if (streq(s, "+Inf"))
                return INFINITY;
        if (streq(s, "-Inf"))
                return -INFINITY;
        if (streq(s, "NaN"))
                return NAN;
        prom_require(*s && (isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.'),
                     "bad value '%s'", s);
        v = strtod(s, &end);
        prom_require(*end == '\0', "bad value '%s'", s);
        return v;
}

static family *family_of(prom *pr, const char *name)
{
        for (size_t i = 0; i < pr->n_fam; i++)
                if (streq(pr->fam[i].name, name))
                        return &pr->fam[i];
        return NULL;
}

static family *family_new(prom *pr, const char *name)
{
        family *f = family_of(pr, name);

        if (f)
                return f;
        /* A new family closes every earlier one: samples never interleave. */
        for (size_t i = 0; i < pr->n_fam; i++)
                pr->fam[i].closed = true;
        prom_require(pr->n_fam < ELEMENTSOF(pr->fam), "too long");
        f = &pr->fam[pr->n_fam++];
        snprintf(f->name, sizeof(f->name), "%s", name);
        pr->have_inf = false;
        pr->last_le = -INFINITY;
        pr->last_bucket = 0;
        return f;
}

static bool has_suffix(const char *s, const char *suffix, char *base, size_t size)
{
        size_t n = strlen(s), k = strlen(suffix);

        if (n <= k || !streq(s + n - k, suffix))
                return false;
        snprintf(base, size, "%.*s", (int)(n - k), s);
        return true;
}

static void read_comment(prom *pr, const char *line)
{
        char name[128];
        const char *p;
        family *f;

        if (strncmp(line, "# HELP ", 7) == 0) {
                p = line + 7;
                read_name(&p, name, sizeof(name), true);
                prom_require(*p == ' ', "HELP without text: %s", line);
                for (p++; *p; p++)
                        if (*p == '\\') {
                                prom_require(p[1] == '\\' || p[1] == 'n', "bad escape: %s", line);
                                p++;
                        }
                f = family_new(pr, name);
                prom_require(!f->help && !f->samples, "late or second HELP: %s", line);
                f->help = true;
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
                p = line + 7;
                read_name(&p, name, sizeof(name), true);
                prom_require(*p == ' ', "TYPE without type: %s", line);
                p++;
                prom_require(streq(p, "counter") || streq(p, "gauge") || streq(p, "histogram") ||
                                     streq(p, "summary") || streq(p, "untyped"),
                             "bad type: %s", line);
                f = family_new(pr, name);
                prom_require(!f->type[0] && !f->samples, "late or second TYPE: %s", line);
                snprintf(f->type, sizeof(f->type), "%s", p);
        }
        /* Other comments are allowed and ignored. */
}

static void read_sample(prom *pr, const char *line)
{
        char name[128], base[128], label[128], series[256], le[256] = "";
        const char *p = line, *fam_name = name;
        size_t slen;
        family *f;
        double v;

        read_name(&p, name, sizeof(name), true);
        slen = (size_t)snprintf(series, sizeof(series), "%s", name);
        if (*p == '{') {
                p++;
                while (*p != '}') {
                        char value[256];
                        size_t n = 0;

                        read_name(&p, label, sizeof(label), false);
                        prom_require(p[0] == '=' && p[1] == '"', "bad label: %s", line);
                        for (p += 2; *p != '"'; p++) {
                                prom_require(*p, "unterminated label value: %s", line);
                                if (*p == '\\') {
                                        p++;
                                        prom_require(*p == '\\' || *p == '"' || *p == 'n',
                                                     "bad escape: %s", line);
                                }
                                prom_require(n + 1 < sizeof(value), "too long");
                                value[n++] = *p == 'n' && p[-1] == '\\' ? '\n' : *p;
                        }
                        value[n] = '\0';
                        p++;
                        if (streq(label, "le"))
                                snprintf(le, sizeof(le), "%s", value);
                        slen += (size_t)snprintf(series + slen, sizeof(series) - slen, ",%s=%s",
                                                 label, value);
                        prom_require(slen < sizeof(series), "too long");
                        if (*p == ',')
                                p++;
                        else
                                prom_require(*p == '}', "bad label list: %s", line);
                }
                p++;
        }
        prom_require(*p == ' ', "no value: %s", line);
        p++;
        prom_require(!strchr(p, ' '), "timestamps are not expected: %s", line);
        v = read_value(p);

        for (size_t i = 0; i < pr->n_series; i++)
                prom_require(!streq(pr->series[i], series), "duplicate series: %s", line);
        prom_require(pr->n_series < ELEMENTSOF(pr->series), "too long");
        snprintf(pr->series[pr->n_series++], sizeof(pr->series[0]), "%s", series);

        f = family_of(pr, name);
        if (!f && (has_suffix(name, "_bucket", base, sizeof(base)) ||
                   has_suffix(name, "_sum", base, sizeof(base)) ||
                   has_suffix(name, "_count", base, sizeof(base)))) {
                f = family_of(pr, base);
                prom_require(f && streq(f->type, "histogram"), "stray sample: %s", line);
                fam_name = f->name;
        }
        prom_require(f && f->type[0], "sample before its TYPE: %s", line);
        prom_require(!f->closed, "family samples not grouped: %s", line);
        prom_require(streq(f->name, fam_name), "name mismatch: %s", line);
        f->samples = true;
        if (streq(f->type, "counter"))
                prom_require(v >= 0 && has_suffix(name, "_total", base, sizeof(base)),
                             "bad counter: %s", line);
        if (streq(f->type, "histogram")) {
                if (strstr(name, "_bucket")) {
                        double bound = read_value(le);

                        prom_require(le[0], "bucket without le: %s", line);
                        prom_require(bound > pr->last_le, "le not increasing: %s", line);
                        prom_require(v >= pr->last_bucket, "bucket not cumulative: %s", line);
                        pr->last_le = bound;
                        pr->last_bucket = v;
                        if (isinf(bound)) {
                                pr->have_inf = true;
                                pr->inf_bucket = v;
                        }
                } else if (strstr(name, "_count")) {
                        prom_require(pr->have_inf && v == pr->inf_bucket,
                                     "count differs from +Inf bucket: %s", line);
                }
        }
}

/* Parse the whole text: true when every line keeps the format, else false
 * with pr->error saying where. */
static bool prom_check(const char *text, prom *pr)
{
        const char *volatile p = text;

        memset(pr, 0, sizeof(*pr));
        cur_prom = pr;
        if (setjmp(pr->fail))
                return false;
        prom_require(*text && text[strlen(text) - 1] == '\n', "text must end with a newline");
        while (*p) {
                const char *nl = strchr(p, '\n');
                char line[1024];

                prom_require(nl != NULL, "no final newline");
                prom_require((size_t)(nl - p) < sizeof(line), "too long");
                memcpy(line, p, (size_t)(nl - p));
                line[nl - p] = '\0';
                prom_require(line[0], "empty line");
                if (line[0] == '#')
                        read_comment(pr, line);
                else
                        read_sample(pr, line);
                p = nl + 1;
        }
        for (size_t i = 0; i < pr->n_fam; i++)
                prom_require(pr->fam[i].type[0] && pr->fam[i].help, "family %s lacks TYPE/HELP",
                             pr->fam[i].name);
        return true;
}

START_TEST(test_metrics_text_is_valid_and_counts)
{
        static const char *const families[] = {
                "smstudio_passes_total",         "smstudio_pass_duration_seconds",
                "smstudio_aws_calls_total",      "smstudio_aws_retries_total",
                "smstudio_aws_throttles_total",  "smstudio_resources",
                "smstudio_drift_repaired_total", "smstudio_last_pass_timestamp_seconds"};
        sm_status *s = status_with_counts(2, 1, 1, 0);
        sm_aws_call_info ok = {.service_name = "sagemaker",
                               .operation = "ListDomains",
                               .outcome = "ok",
                               .attempts = 3,
                               .throttles = 2};
        sm_aws_call_info weird = {.service_name = "iam",
                                  .operation = "Odd\"Op\\er\nation",
                                  .outcome = "error",
                                  .error_code = "X",
                                  .attempts = 1};
        sm_buf m = {0};
        prom pr;

        sm_status_observe_call(&ok, s);
        sm_status_observe_call(&ok, s);
        sm_status_observe_call(&weird, s);
        ck_assert_int_eq(sm_status_pass_started(s, 2, "timer", T0 + 100), 0);
        ck_assert_int_eq(sm_status_pass_finished(s, NULL, "boom", false, T0 + 140), 0);

        ck_assert_int_eq(sm_status_metrics(s, &m), 0);
        ck_assert_msg(prom_check(m.data, &pr), "%s", pr.error);
        for (size_t i = 0; i < ELEMENTSOF(families); i++)
                ck_assert_msg(family_of(&pr, families[i]), "no %s", families[i]);
        ck_assert_str_eq(family_of(&pr, "smstudio_pass_duration_seconds")->type, "histogram");
        ck_assert_str_eq(family_of(&pr, "smstudio_resources")->type, "gauge");

        ck_assert_ptr_nonnull(
                strstr(m.data, "\nsmstudio_passes_total{result=\"changed-and-failed\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_passes_total{result=\"error\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_passes_total{result=\"changed\"} 0\n"));
        /* Durations 2 s and 40 s. */
        ck_assert_ptr_nonnull(
                strstr(m.data, "\nsmstudio_pass_duration_seconds_bucket{le=\"1\"} 0\n"));
        ck_assert_ptr_nonnull(
                strstr(m.data, "\nsmstudio_pass_duration_seconds_bucket{le=\"2.5\"} 1\n"));
        ck_assert_ptr_nonnull(
                strstr(m.data, "\nsmstudio_pass_duration_seconds_bucket{le=\"60\"} 2\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_pass_duration_seconds_sum 42\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_pass_duration_seconds_count 2\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_aws_calls_total{service=\"sagemaker\","
                                             "operation=\"ListDomains\",outcome=\"ok\"} 2\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_aws_calls_total{service=\"iam\","
                                             "operation=\"Odd\\\"Op\\\\er\\nation\","
                                             "outcome=\"error\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_aws_retries_total 4\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_aws_throttles_total 4\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_resources{phase=\"converged\"} 2\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_resources{phase=\"failing\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m.data, "\nsmstudio_resources{phase=\"held\"} 0\n"));
        ck_assert_ptr_nonnull(
                strstr(m.data, "\nsmstudio_last_pass_timestamp_seconds 1795694724.000\n"));
        sm_buf_done(&m);
        sm_status_free(s);
}
END_TEST

START_TEST(test_the_checker_refuses_bad_text)
{
        /* The reader above must refuse these, or it proves nothing. */
        static const char *const bad[] = {
                "x_total 1\n", /* no TYPE */
                "# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"b} 1\n",
                "# HELP x_total h\n# TYPE x_total counter\nx_total 1", /* no newline */
                "# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n",        /* bad escape */
                "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n",              /* duplicate */
                "# HELP x h\n# TYPE x gauge\nx one\n",                 /* bad value */
                "# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\ny 1\nx 1\n",
                "# HELP x h\n# TYPE x counter\nx 1\n", /* no _total */
                "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                "h_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n", /* not cumulative */
                "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\n",
                "# TYPE x gauge\nx 1\n",                 /* no HELP */
                "# HELP x h\n# TYPE x gauge\n\nx 1\n",   /* empty line */
                "# HELP x h \\x\n# TYPE x gauge\nx 1\n", /* bad HELP escape */
        };
        static const char good[] = "# HELP h h \\\\ \\n\n# TYPE h histogram\n"
                                   "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                                   "h_sum 3.5e0\nh_count 2\n"
                                   "# HELP g h\n# TYPE g gauge\ng{a=\"\\\"\\n\\\\\",b=\"\"} NaN\n";
        prom pr;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!prom_check(bad[i], &pr), "accepted bad text %zu", i);
        ck_assert_msg(prom_check(good, &pr), "%s", pr.error);
}
END_TEST

/* ---- scale -------------------------------------------------------------- */

START_TEST(test_ten_thousand_resources)
{
        enum { N = 10000 };
        sm_status *s = sm_status_new();
        sm_plan *p = plan_new(N), *q = plan_new(N);
        sm_status_counts c;
        char name[64], msg[64];
        json_t *a = NULL, *o;

        /* Unsorted on purpose: the store must not rely on the planner's order. */
        for (unsigned i = 0; i < N; i++) {
                unsigned k = (i * 7919u) % N;

                snprintf(name, sizeof(name), "user-profile/mlops-studio/user%05u", k);
                snprintf(msg, sizeof(msg), "waiting: Pending since %u", k);
                finding(p, name, SM_FINDING_WAITING, msg, "/etc/smstudio.d/users.yaml", k + 1);
        }
        for (unsigned i = 0; i < N; i += 2) {
                snprintf(name, sizeof(name), "user-profile/mlops-studio/user%05u", i);
                finding(q, name, i % 4 ? SM_FINDING_IN_SYNC : SM_FINDING_WAITING,
                        i % 4 ? "in sync" : "waiting: again", "/etc/smstudio.d/users.yaml", i + 1);
        }
        ck_assert_int_eq(sm_status_pass_started(s, 1, "start", T0), 0);
        round_of(s, 1, p, NULL, T0);
        finish(s, 1, 0, 0, true, T0 + 1);
        ck_assert_uint_eq(sm_status_n_resources(s), N);
        sm_status_get_counts(s, &c);
        ck_assert_uint_eq(c.n[SM_PHASE_PENDING], N);

        o = resource_of(s, "user-profile/mlops-studio/user04321");
        ck_assert_str_eq(str_of(o, "message"), "waiting: Pending since 4321");
        ck_assert_str_eq(str_of(o, "manifest"), "/etc/smstudio.d/users.yaml:4322");
        json_decref(o);

        ck_assert_int_eq(sm_status_pass_started(s, 2, "timer", T0 + 300), 0);
        round_of(s, 1, q, NULL, T0 + 300);
        finish(s, 1, 0, 0, true, T0 + 301);
        ck_assert_uint_eq(sm_status_n_resources(s), N / 2);
        sm_status_get_counts(s, &c);
        ck_assert_uint_eq(c.n[SM_PHASE_CONVERGED], N / 4);
        ck_assert_uint_eq(c.n[SM_PHASE_PENDING], N / 4);

        ck_assert_int_eq(sm_status_resources_to_json(s, NULL, &a), 0);
        ck_assert_uint_eq(json_array_size(a), N / 2);
        /* Sorted by name, and each message is its own. */
        for (size_t i = 0; i < json_array_size(a); i++) {
                json_t *r = json_array_get(a, i);

                snprintf(name, sizeof(name), "user-profile/mlops-studio/user%05zu", i * 2);
                ck_assert_str_eq(str_of(r, "name"), name);
                ck_assert_str_eq(str_of(r, "message"), i % 2 ? "in sync" : "waiting: again");
        }
        json_decref(a);
        sm_plan_free(p);
        sm_plan_free(q);
        sm_status_free(s);
}
END_TEST

static Suite *make_suite(void)
{
        Suite *s = suite_create("status");
        TCase *tc = tcase_create("store");

        tcase_add_test(tc, test_every_finding_kind_has_a_phase);
        tcase_add_test(tc, test_failure_is_kept_until_an_action_succeeds);
        tcase_add_test(tc, test_failure_in_an_earlier_round_stays_failing);
        tcase_add_test(tc, test_drift_repaired_counts_changes_to_converged_resources);
        tcase_add_test(tc, test_resources_gone_from_a_complete_pass_are_dropped);
        tcase_add_test(tc, test_pause_holds_pending_and_status_json);
        tcase_add_test(tc, test_summary_line);
        tcase_add_test(tc, test_summary_line_is_bounded);
        tcase_add_test(tc, test_metrics_text_is_valid_and_counts);
        tcase_add_test(tc, test_the_checker_refuses_bad_text);
        tcase_add_test(tc, test_ten_thousand_resources);
        suite_add_tcase(s, tc);
        return s;
}

SM_CHECK_MAIN(make_suite)
