/* SPDX-License-Identifier: Apache-2.0 */
/* The executor (see apply.h and docs/engine.md, "Apply").
 *
 * Scheduling is event driven, so a pass over thousands of actions costs
 * O(actions + edges), not a rescan per completion: every action counts its
 * unfinished blockers (its deps, plus the previous action of the plan on
 * the same resource, which keeps one resource's calls in plan order and
 * never two at once); an action whose count reaches zero enters a min-heap
 * by plan index, from which at most `concurrency` mutating calls are in
 * flight. A finished action releases its dependents; one that did not
 * apply dooms those that declared it a dep (not those that merely share its
 * resource), and they finish as SKIPPED without a call.
 *
 * An action holds its resource until it settled: the next call on that
 * resource (AddTags after UpdateDomain) would otherwise meet it Updating.
 * Settle reads do not take a concurrency slot: they are cheap reads, and a
 * 60-minute MLflow wait must block nothing else.
 *
 * Profile and space creates are confirmed by List pages, not a Describe
 * each: the creates waiting in one domain form a group, and one poll of the
 * group reads ListUserProfiles / ListSpaces newest first until every member
 * it set out to find was seen, so a page confirms up to a hundred creates.
 * The group polls with the same backoff and each member keeps its own
 * deadline, as a Describe-settled action would; a member the List shows
 * *Failed is handed to a Describe of its own, which carries FailureReason.
 * When the executor has nothing else to do, the first read of a create's
 * wait happens at once instead of after poll_initial_ms: a create is never
 * mistaken for settled by an early read (the resource is absent or Pending),
 * and the time would otherwise be spent idle.
 *
 * Lifetime: the executor is reference counted by its owner, each call in
 * the client's hands and each open uv handle; the memory goes when the
 * last one lets go, so sm_apply_free() is safe at any time, inside the done
 * callback included, and handles are freed only in their close callbacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smstudio/apply.h"
#include "smstudio/macro.h"
#include "smstudio/strbuf.h"

#define DEFAULT_CONCURRENCY       8u
#define DEFAULT_SETTLE_TIMEOUT_MS (30u * 60u * 1000u)
#define DEFAULT_MLFLOW_TIMEOUT_MS (60u * 60u * 1000u)
#define DEFAULT_POLL_INITIAL_MS   1000u
#define DEFAULT_POLL_MAX_MS       30000u
/* Times an action whose call stayed throttled through the client's own
 * retries is sent again in this pass, after a pause. */
#define THROTTLE_REQUEUES 3u

typedef enum run_state {
        RUN_WAITING,
        RUN_CALLING,  /* its mutating call is in the client's hands */
        RUN_SETTLING, /* called; reading it back until it shows the effect */
        RUN_DONE,
} run_state;

typedef struct run run;

typedef struct settle_timer {
        uv_timer_t timer; /* first: the close callback gets its address */
        sm_apply *a;
} settle_timer;

/* How a List confirms the creates of one kind. */
typedef struct list_probe {
        const char *describe; /* the settle_operation it stands in for */
        const char *operation;
        const char *items;       /* member of the output holding the entries */
        const char *name_member; /* in the entries and in the create's params */
        const char *arn_member;  /* in the create's output */
} list_probe;

static const list_probe list_probes[] = {
        {"DescribeUserProfile", "ListUserProfiles", "UserProfiles", "UserProfileName",
         "UserProfileArn"},
        {"DescribeSpace", "ListSpaces", "Spaces", "SpaceName", "SpaceArn"},
};

typedef struct snap_entry {
        const char *name; /* borrowed from the action's params */
        size_t idx;
        bool seen;
} snap_entry;

/* The creates of one kind in one domain waiting to be seen in a List. */
typedef struct list_group {
        sm_apply *a;
        const list_probe *probe;
        char *domain_id;
        size_t *members; /* run indexes; those whose group is no longer this one are stale */
        size_t n_members, cap_members;
        snap_entry *snap; /* what the poll in progress looks for, sorted by name */
        size_t n_snap, n_unseen;
        json_t *params; /* the poll's List params, NextToken included */
        settle_timer *timer;
        bool polling;  /* a page is in the client's hands */
        bool progress; /* the poll in progress settled something */
        bool armed;
        uint64_t due_ms;
        uint64_t backoff_ms;
} list_group;

struct run {
        sm_apply *a;
        size_t idx;
        run_state state;
        unsigned blockers; /* unfinished deps and previous action on the resource */
        bool doomed;       /* a dep did not apply */
        bool polling;      /* a settle read is in the client's hands */
        settle_timer *timer;
        json_t *probe;     /* settle_params with the template slots filled */
        list_group *group; /* waiting to be seen in this group's List */
        bool fresh;        /* settling create whose wait has not read anything yet */
        unsigned requeues; /* sent again after a throttled answer */
        bool snapped;      /* a group poll has looked for it */
        json_t *created;   /* the create's output (its ARN), for a List confirmation */
        uint64_t timeout_ms;
        uint64_t deadline_ms;
        uint64_t backoff_ms;
};

struct sm_apply {
        uv_loop_t *loop;
        sm_aws_client *client;
        const sm_plan *plan;
        sm_apply_options o;
        sm_apply_done_fn done;
        void *userdata;

        run *runs;
        /* Dependents of action i: edges[edge_start[i] .. edge_start[i+1]),
         * each 2 * index + 1 for a declared dep, 2 * index for "same
         * resource, later in the plan". */
        size_t *edge_start, *edges;
        size_t *heap, n_heap;
        size_t *stack; /* finish() worklist */
        list_group **groups;
        size_t n_groups;
        size_t *fresh; /* runs that may be fresh per-resource create waits */
        size_t n_fresh;

        size_t n_finished;
        unsigned in_flight; /* mutating calls */
        unsigned polls;     /* settle reads in flight */
        unsigned settling;

        uv_timer_t kick; /* defers start and done out of the API calls */
        bool kick_open;
        unsigned refs;
        bool stopped, freed, done_called;
        uint64_t rng;

        sm_apply_report report;
};

static const char *const outcome_names[] = {
        [SM_OUTCOME_PENDING] = "pending",     [SM_OUTCOME_APPLIED] = "applied",
        [SM_OUTCOME_ALREADY] = "already",     [SM_OUTCOME_SKIPPED] = "skipped",
        [SM_OUTCOME_BLOCKED] = "blocked",     [SM_OUTCOME_FAILED] = "failed",
        [SM_OUTCOME_TIMED_OUT] = "timed-out",
};

const char *sm_action_outcome_to_string(sm_action_outcome o)
{
        if ((unsigned)o >= ELEMENTSOF(outcome_names))
                return NULL;
        return outcome_names[o];
}

/* ---- error mapping ------------------------------------------------------ */

static bool code_is(const sm_aws_error *e, const char *code)
{
        return e->code && streq(e->code, code);
}

static bool contains_ci(const char *haystack, const char *needle)
{
        size_t n = strlen(needle);

        for (const char *p = haystack; p && *p; p++)
                if (strncasecmp(p, needle, n) == 0)
                        return true;
        return false;
}

/* IAM is eventually consistent: SageMaker may not yet see a role made
 * seconds ago and answers ValidationException naming the role and
 * sts:AssumeRole (IAM UG, "Changes that I make are not always immediately
 * visible"). Matched narrowly: a ValidationException about anything else is
 * the manifest's fault and must not be retried round after round. */
static bool is_role_not_yet_visible(const sm_aws_error *e)
{
        if (!code_is(e, "ValidationException") || !e->message)
                return false;
        return contains_ci(e->message, "role") && contains_ci(e->message, "assume");
}

sm_action_outcome sm_apply_classify_error(const sm_action *action, const sm_aws_error *e)
{
        if (!action || !e || !e->code)
                return SM_OUTCOME_FAILED;
        if (action->verb == SM_VERB_CREATE) {
                if (code_is(e, "EntityAlreadyExists"))
                        return SM_OUTCOME_ALREADY;
                /* SageMaker also answers ResourceInUse when the parent is
                 * busy ("Domain ... is in Pending status"): only a message
                 * that says the thing exists is a duplicate; the rest is a
                 * dependency not ready yet. */
                if (code_is(e, "ResourceInUse"))
                        return contains_ci(e->message, "already exist") ? SM_OUTCOME_ALREADY
                                                                        : SM_OUTCOME_BLOCKED;
        }
        if (code_is(e, "ResourceInUse") || code_is(e, "ConflictException") ||
            code_is(e, "ConcurrentModification") || code_is(e, "ConcurrentModificationException") ||
            is_role_not_yet_visible(e))
                return SM_OUTCOME_BLOCKED;
        if (action->verb == SM_VERB_DELETE) {
                /* What we came to delete is already gone. */
                if (action->service == SM_SERVICE_SAGEMAKER && code_is(e, "ResourceNotFound"))
                        return SM_OUTCOME_APPLIED;
                if (action->service == SM_SERVICE_IAM && code_is(e, "NoSuchEntity"))
                        return SM_OUTCOME_APPLIED;
                /* A principal no longer associated with the portfolio. */
                if (action->service == SM_SERVICE_SERVICECATALOG &&
                    code_is(e, "ResourceNotFoundException"))
                        return SM_OUTCOME_APPLIED;
        }
        return SM_OUTCOME_FAILED;
}

/* ---- memory and lifetime -------------------------------------------------- */

static void apply_release(sm_apply *a)
{
        for (size_t i = 0; a->runs && i < a->report.n_results; i++) {
                json_decref(a->runs[i].probe);
                json_decref(a->runs[i].created);
        }
        for (size_t i = 0; a->report.results && i < a->report.n_results; i++) {
                sm_aws_error_clear(&a->report.results[i].error);
                free(a->report.results[i].failure_reason);
                free(a->report.results[i].request_id);
                json_decref(a->report.results[i].listed);
        }
        for (size_t i = 0; i < a->n_groups; i++) {
                list_group *g = a->groups[i];

                free(g->domain_id);
                free(g->members);
                free(g->snap);
                json_decref(g->params);
                free(g);
        }
        free(a->groups);
        free(a->fresh);
        free(a->report.results);
        free(a->runs);
        free(a->edge_start);
        free(a->edges);
        free(a->heap);
        free(a->stack);
        free(a);
}

static void apply_unref(sm_apply *a)
{
        if (--a->refs == 0)
                apply_release(a);
}

static void on_kick_closed(uv_handle_t *h)
{
        apply_unref(h->data);
}

static void on_settle_timer_closed(uv_handle_t *h)
{
        settle_timer *t = (settle_timer *)h;
        sm_apply *a = t->a;

        free(t);
        apply_unref(a);
}

static void close_settle_timer(run *r)
{
        if (!r->timer)
                return;
        uv_close((uv_handle_t *)&r->timer->timer, on_settle_timer_closed);
        r->timer = NULL;
}

/* ---- the ready heap: lowest plan index first ----------------------------- */

static void heap_push(sm_apply *a, size_t idx)
{
        size_t i = a->n_heap++;

        while (i > 0 && a->heap[(i - 1) / 2] > idx) {
                a->heap[i] = a->heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        a->heap[i] = idx;
}

static size_t heap_pop(sm_apply *a)
{
        size_t top = a->heap[0], last = a->heap[--a->n_heap], i = 0;

        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= a->n_heap)
                        break;
                if (c + 1 < a->n_heap && a->heap[c + 1] < a->heap[c])
                        c++;
                if (a->heap[c] >= last)
                        break;
                a->heap[i] = a->heap[c];
                i = c;
        }
        if (a->n_heap > 0)
                a->heap[i] = last;
        return top;
}

/* ---- finishing ------------------------------------------------------------- */

static bool outcome_ok(sm_action_outcome o)
{
        return o == SM_OUTCOME_APPLIED || o == SM_OUTCOME_ALREADY;
}

static void mark_done(sm_apply *a, size_t idx, sm_action_outcome outcome)
{
        run *r = &a->runs[idx];

        if (r->state == RUN_SETTLING)
                a->settling--;
        close_settle_timer(r);
        r->group = NULL;
        r->fresh = false;
        r->state = RUN_DONE;
        a->report.results[idx].outcome = outcome;
        a->n_finished++;
}

/* Finish idx and, through a worklist rather than recursion (a role's
 * calls form a chain as long as its policies), every dependent this
 * releases: doomed ones finish SKIPPED at once, the others become ready. */
static void finish(sm_apply *a, size_t idx, sm_action_outcome outcome)
{
        size_t top = 0;

        mark_done(a, idx, outcome);
        a->stack[top++] = idx;
        while (top > 0) {
                size_t i = a->stack[--top];
                bool ok = outcome_ok(a->report.results[i].outcome);

                /* Cut short by a stop: what waits on it was not skipped
                 * for a reason, it just never ran. */
                if (a->report.results[i].outcome == SM_OUTCOME_PENDING)
                        continue;

                for (size_t e = a->edge_start[i]; e < a->edge_start[i + 1]; e++) {
                        run *d = &a->runs[a->edges[e] / 2];

                        if ((a->edges[e] & 1) && !ok)
                                d->doomed = true;
                        if (--d->blockers > 0)
                                continue;
                        if (d->doomed) {
                                mark_done(a, d->idx, SM_OUTCOME_SKIPPED);
                                a->stack[top++] = d->idx;
                        } else {
                                heap_push(a, d->idx);
                        }
                }
        }
}

static void set_local_error(sm_aws_error *e, const char *code, const char *message)
{
        sm_aws_error_clear(e);
        e->code = strdup(code);
        e->message = message ? strdup(message) : NULL;
        e->klass = SM_AWS_ERROR_TERMINAL;
}

static void keep_error(sm_action_result *res, const sm_aws_response *resp)
{
        sm_aws_error_clear(&res->error);
        if (sm_aws_error_copy(&res->error, resp->error) < 0) {
                set_local_error(&res->error, resp->error->code ? resp->error->code : "Unknown",
                                NULL);
                return;
        }
        if (!res->error.request_id && resp->request_id)
                res->error.request_id = strdup(resp->request_id);
}

/* The end of every entry point from the loop: done runs at most once, and
 * nothing touches a after it (the callback may free it). */
static void maybe_finish(sm_apply *a)
{
        sm_apply_report *rep = &a->report;

        if (a->freed || a->done_called)
                return;
        if (a->n_finished < a->plan->n_actions &&
            !(a->stopped && a->in_flight == 0 && a->polls == 0 && a->settling == 0))
                return;
        a->done_called = true;
        rep->applied = rep->already = rep->skipped = rep->blocked = rep->failed = rep->timed_out =
                0;
        for (size_t i = 0; i < rep->n_results; i++) {
                switch (rep->results[i].outcome) {
                case SM_OUTCOME_APPLIED:
                        rep->applied++;
                        break;
                case SM_OUTCOME_ALREADY:
                        rep->already++;
                        break;
                case SM_OUTCOME_SKIPPED:
                        rep->skipped++;
                        break;
                case SM_OUTCOME_BLOCKED:
                        rep->blocked++;
                        break;
                case SM_OUTCOME_FAILED:
                        rep->failed++;
                        break;
                case SM_OUTCOME_TIMED_OUT:
                        rep->timed_out++;
                        break;
                case SM_OUTCOME_PENDING:
                        break;
                }
        }
        if (a->done)
                a->done(rep, a->userdata);
}

/* ---- settling ---------------------------------------------------------------- */

static const char *status_member(const sm_action *act)
{
        return streq(act->settle_operation, "DescribeMlflowTrackingServer") ? "TrackingServerStatus"
                                                                            : "Status";
}

static bool status_failed(const char *s)
{
        size_t n = strlen(s);

        /* Failed, Update_Failed, Delete_Failed, CreateFailed, UpdateFailed... */
        return n >= 6 && streq(s + n - 6, "Failed");
}

static bool status_settles(const sm_action *act, const char *s)
{
        for (size_t i = 0; act->settle_statuses[i]; i++)
                if (streq(act->settle_statuses[i], s))
                        return true;
        return false;
}

/* Fill the probe's template slots (plan.h) from the call's output. */
static json_t *make_probe(const sm_action *act, const json_t *output)
{
        json_t *p = json_deep_copy(act->settle_params), *v;
        const char *key;

        if (!p)
                return NULL;
        json_object_foreach(p, key, v)
        {
                const char *s = json_string_value(json_object_get(output, key));
                _cleanup_free_ char *arn_key = NULL;
                size_t n = strlen(key);

                if (!json_is_null(v))
                        continue;
                if (!s && n > 2 && streq(key + n - 2, "Id")) {
                        const char *arn, *slash;

                        arn_key = sm_strf("%.*sArn", (int)(n - 2), key);
                        arn = arn_key ? json_string_value(json_object_get(output, arn_key)) : NULL;
                        slash = arn ? strrchr(arn, '/') : NULL;
                        s = slash && slash[1] ? slash + 1 : NULL;
                }
                if (!s || json_object_set_new(p, key, json_string(s)) < 0) {
                        json_decref(p);
                        return NULL;
                }
        }
        return p;
}

static uint64_t next_random(sm_apply *a)
{
        /* xorshift64: jitter needs spread, not quality. */
        a->rng ^= a->rng << 13;
        a->rng ^= a->rng >> 7;
        a->rng ^= a->rng << 17;
        return a->rng;
}

static void on_poll_timer(uv_timer_t *t);
static void on_group_timer(uv_timer_t *t);
static void pump(sm_apply *a);

static int arm_timer(run *r, uint64_t delay_ms)
{
        return uv_timer_start(&r->timer->timer, on_poll_timer, delay_ms, 0);
}

/* Schedule the next read: the backoff doubles up to poll_max_ms, with
 * "equal jitter" (half fixed, half random) so a thousand profiles created
 * together do not poll in lockstep, and never later than the deadline, so
 * the last read happens when the wait ends. */
static int schedule_poll(sm_apply *a, run *r)
{
        uint64_t now = uv_now(a->loop), delay;

        r->backoff_ms = r->backoff_ms * 2 > a->o.poll_max_ms ? a->o.poll_max_ms : r->backoff_ms * 2;
        delay = r->backoff_ms / 2 +
                (r->backoff_ms > 1 ? next_random(a) % (r->backoff_ms / 2 + 1) : 0);
        if (now + delay > r->deadline_ms)
                delay = r->deadline_ms > now ? r->deadline_ms - now : 0;
        return arm_timer(r, delay);
}

static settle_timer *settle_timer_new(sm_apply *a, void *data)
{
        settle_timer *t = malloc(sizeof(settle_timer));

        if (!t)
                return NULL;
        uv_timer_init(a->loop, &t->timer);
        t->a = a;
        t->timer.data = data;
        a->refs++;
        return t;
}

/* Read r back with a Describe of its own, the first time after delay_ms.
 * On failure r is finished. */
static int run_probe_start(sm_apply *a, run *r, const json_t *output, uint64_t delay_ms)
{
        const sm_action *act = &a->plan->actions[r->idx];
        sm_action_result *res = &a->report.results[r->idx];

        r->probe = make_probe(act, output);
        if (!r->probe) {
                set_local_error(&res->error, "MalformedResponse",
                                "the call's output does not name the resource to read back");
                finish(a, r->idx, SM_OUTCOME_FAILED);
                return -EBADMSG;
        }
        r->timer = settle_timer_new(a, r);
        if (!r->timer) {
                set_local_error(&res->error, "NoMemory", NULL);
                finish(a, r->idx, SM_OUTCOME_FAILED);
                return -ENOMEM;
        }
        if (arm_timer(r, delay_ms) < 0) {
                set_local_error(&res->error, "TimerError", NULL);
                finish(a, r->idx, SM_OUTCOME_FAILED);
                return -EIO;
        }
        return 0;
}

static const list_probe *list_probe_for(const sm_action *act)
{
        if (act->verb != SM_VERB_CREATE || act->service != SM_SERVICE_SAGEMAKER ||
            !json_string_value(json_object_get(act->params, "DomainId")))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(list_probes); i++)
                if (streq(list_probes[i].describe, act->settle_operation) &&
                    json_string_value(json_object_get(act->params, list_probes[i].name_member)))
                        return &list_probes[i];
        return NULL;
}

static void group_arm(list_group *g, uint64_t delay_ms)
{
        sm_apply *a = g->a;

        if (uv_timer_start(&g->timer->timer, on_group_timer, delay_ms, 0) < 0)
                return;
        g->armed = true;
        g->due_ms = uv_now(a->loop) + delay_ms;
}

/* Put r in the group of its kind and domain. 0, or -ENOMEM (r untouched). */
static int group_join(sm_apply *a, run *r, const list_probe *lp)
{
        const char *domain_id =
                json_string_value(json_object_get(a->plan->actions[r->idx].params, "DomainId"));
        list_group *g = NULL;

        for (size_t i = 0; i < a->n_groups && !g; i++)
                if (a->groups[i]->probe == lp && streq(a->groups[i]->domain_id, domain_id))
                        g = a->groups[i];
        if (!g) {
                list_group **v = realloc(a->groups, (a->n_groups + 1) * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                a->groups = v;
                g = calloc(1, sizeof(*g));
                if (!g)
                        return -ENOMEM;
                g->domain_id = strdup(domain_id);
                if (!g->domain_id) {
                        free(g);
                        return -ENOMEM;
                }
                g->a = a;
                g->probe = lp;
                g->backoff_ms = a->o.poll_initial_ms;
                g->timer = settle_timer_new(a, g);
                if (!g->timer) {
                        free(g->domain_id);
                        free(g);
                        return -ENOMEM;
                }
                a->groups[a->n_groups++] = g;
        }
        if (g->n_members == g->cap_members) {
                size_t cap = g->cap_members ? 2 * g->cap_members : 16;
                size_t *m = realloc(g->members, cap * sizeof(*m));

                if (!m)
                        return -ENOMEM;
                g->members = m;
                g->cap_members = cap;
        }
        g->members[g->n_members++] = r->idx;
        r->group = g;
        r->snapped = false;
        /* A newcomer is read within poll_initial_ms, whatever backoff a
         * member stuck in Pending has built up. */
        if (!g->polling && (!g->armed || g->due_ms > uv_now(a->loop) + a->o.poll_initial_ms))
                group_arm(g, a->o.poll_initial_ms);
        return 0;
}

static void begin_settle(sm_apply *a, run *r, const json_t *output)
{
        const sm_action *act = &a->plan->actions[r->idx];
        const list_probe *lp = list_probe_for(act);

        r->state = RUN_SETTLING;
        a->settling++;
        /* MLflow servers take tens of minutes to create or update. */
        r->timeout_ms = strstr(act->operation, "MlflowTrackingServer") ? a->o.mlflow_timeout_ms
                                                                       : a->o.settle_timeout_ms;
        r->deadline_ms = uv_now(a->loop) + r->timeout_ms;
        r->backoff_ms = a->o.poll_initial_ms;
        if (lp) {
                r->created = json_incref((json_t *)output);
                if (group_join(a, r, lp) == 0)
                        return;
                /* No memory for the group: a Describe of its own still works. */
        }
        if (run_probe_start(a, r, output, a->o.poll_initial_ms) < 0)
                return;
        if (act->verb == SM_VERB_CREATE) {
                r->fresh = true;
                a->fresh[a->n_fresh++] = r->idx;
        }
}

/* A settle read is back: false when the executor was freed meanwhile
 * (then this was its last hold on it, or one of them). */
static bool settle_read_returned(sm_apply *a)
{
        if (a->freed) {
                apply_unref(a);
                return false;
        }
        a->refs--;
        a->polls--;
        return true;
}

static void on_poll_done(const sm_aws_response *resp, void *userdata)
{
        run *r = userdata;
        sm_apply *a = r->a;
        const sm_action *act;
        sm_action_result *res;
        const char *status = NULL;
        _cleanup_free_ char *msg = NULL;

        if (!settle_read_returned(a))
                return;
        r->polling = false;
        act = &a->plan->actions[r->idx];
        res = &a->report.results[r->idx];
        res->polls++;
        if (r->state != RUN_SETTLING)
                goto out;
        if (resp->error) {
                if (streq_ptr(resp->error->code, "ResourceNotFound")) {
                        /* Gone is settled for a delete; after a create it is
                         * SageMaker's read lagging its write: read again. */
                        if (act->verb == SM_VERB_DELETE) {
                                finish(a, r->idx, SM_OUTCOME_APPLIED);
                                goto out;
                        }
                } else if (resp->error->klass == SM_AWS_ERROR_TERMINAL) {
                        keep_error(res, resp);
                        finish(a, r->idx, SM_OUTCOME_FAILED);
                        goto out;
                }
        } else {
                status = json_string_value(json_object_get(resp->output, status_member(act)));
                if (status && status_settles(act, status)) {
                        finish(a, r->idx, SM_OUTCOME_APPLIED);
                        goto out;
                }
                if (status && status_failed(status)) {
                        const char *why =
                                json_string_value(json_object_get(resp->output, "FailureReason"));

                        sm_aws_error_clear(&res->error);
                        sm_aws_error_set(&res->error, 0, status, why, resp->request_id);
                        free(res->failure_reason);
                        res->failure_reason = why ? strdup(why) : NULL;
                        finish(a, r->idx, SM_OUTCOME_FAILED);
                        goto out;
                }
        }
        if (a->stopped) {
                finish(a, r->idx, SM_OUTCOME_PENDING);
                goto out;
        }
        if (uv_now(a->loop) >= r->deadline_ms) {
                msg = sm_strf("%s still shows %s after %llu ms", act->settle_operation,
                              status        ? status
                              : resp->error ? resp->error->code
                                            : "no status",
                              (unsigned long long)r->timeout_ms);
                set_local_error(&res->error, "SettleTimeout", msg);
                finish(a, r->idx, SM_OUTCOME_TIMED_OUT);
                goto out;
        }
        if (schedule_poll(a, r) < 0) {
                set_local_error(&res->error, "TimerError", NULL);
                finish(a, r->idx, SM_OUTCOME_FAILED);
        }
out:
        /* A settled action releases its dependents. */
        pump(a);
        maybe_finish(a);
}

static void on_poll_timer(uv_timer_t *t)
{
        run *r = t->data;
        sm_apply *a = r->a;
        const sm_action *act;
        json_t *params;

        /* Closed timers never fire, and a run's timer closes when it
         * finishes or the executor is freed: r is settling. */
        act = &a->plan->actions[r->idx];
        r->fresh = false;
        params = json_deep_copy(r->probe);
        if (!params || sm_aws_call(a->client, act->service, act->settle_operation, params,
                                   on_poll_done, r) < 0) {
                set_local_error(&a->report.results[r->idx].error, "NoMemory",
                                "could not send the settle read");
                finish(a, r->idx, SM_OUTCOME_FAILED);
                pump(a);
                maybe_finish(a);
                return;
        }
        r->polling = true;
        a->polls++;
        a->refs++;
}

/* ---- settling by List pages ---------------------------------------------------- */

static uint64_t min_u64(uint64_t x, uint64_t y)
{
        return x < y ? x : y;
}

static int snap_cmp(const void *x, const void *y)
{
        return strcmp(((const snap_entry *)x)->name, ((const snap_entry *)y)->name);
}

/* Drop the members that finished or left for a Describe of their own. */
static void group_compact(list_group *g)
{
        size_t keep = 0;

        for (size_t i = 0; i < g->n_members; i++)
                if (g->a->runs[g->members[i]].group == g)
                        g->members[keep++] = g->members[i];
        g->n_members = keep;
}

/* Every member to a Describe of its own, read at once: the List cannot
 * be read (its terminal error is not theirs to report). */
static void group_fallback(list_group *g)
{
        sm_apply *a = g->a;

        group_compact(g);
        for (size_t i = 0; i < g->n_members; i++) {
                run *r = &a->runs[g->members[i]];

                r->group = NULL;
                (void)run_probe_start(a, r, r->created, 0);
        }
        g->n_members = 0;
}

static void on_group_page(const sm_aws_response *resp, void *userdata);

static void group_send(list_group *g)
{
        sm_apply *a = g->a;
        json_t *params = json_deep_copy(g->params);

        if (!params || sm_aws_call(a->client, SM_SERVICE_SAGEMAKER, g->probe->operation, params,
                                   on_group_page, g) < 0) {
                group_fallback(g);
                return;
        }
        g->polling = true;
        a->polls++;
        a->refs++;
}

/* Start a poll: look for every current member, newest first. */
static void group_poll(list_group *g)
{
        sm_apply *a = g->a;
        snap_entry *snap;
        size_t n = 0;

        group_compact(g);
        if (g->polling || g->n_members == 0 || a->stopped)
                return;
        if (g->armed) {
                uv_timer_stop(&g->timer->timer);
                g->armed = false;
        }
        snap = realloc(g->snap, g->n_members * sizeof(*snap));
        if (!snap) {
                group_fallback(g);
                return;
        }
        g->snap = snap;
        for (size_t i = 0; i < g->n_members; i++) {
                run *r = &a->runs[g->members[i]];

                r->snapped = true;
                snap[n++] = (snap_entry){
                        .name = json_string_value(json_object_get(a->plan->actions[r->idx].params,
                                                                  g->probe->name_member)),
                        .idx = r->idx,
                };
        }
        qsort(snap, n, sizeof(*snap), snap_cmp);
        g->n_snap = g->n_unseen = n;
        g->progress = false;
        json_decref(g->params);
        /* Newest first: what was just created is on the first pages, and the
         * poll stops once it saw every member. */
        g->params = json_pack("{s:s,s:i,s:s,s:s}", "DomainIdEquals", g->domain_id, "MaxResults",
                              100, "SortBy", "CreationTime", "SortOrder", "Descending");
        if (!g->params) {
                group_fallback(g);
                return;
        }
        group_send(g);
}

static void on_group_timer(uv_timer_t *t)
{
        list_group *g = t->data;
        sm_apply *a = g->a;

        g->armed = false;
        group_poll(g);
        pump(a);
        maybe_finish(a);
}

/* A member's entry in the List. */
static void group_member_seen(list_group *g, run *r, json_t *item)
{
        sm_apply *a = g->a;
        const sm_action *act = &a->plan->actions[r->idx];
        sm_action_result *res = &a->report.results[r->idx];
        const char *status = json_string_value(json_object_get(item, "Status"));
        json_t *arn = json_object_get(r->created, g->probe->arn_member);

        if (r->group != g || r->state != RUN_SETTLING)
                return;
        res->polls++;
        if (status && status_settles(act, status)) {
                /* The entry is the read that shows it (Status and
                 * LastModifiedTime); the ARN only the create's answer has. */
                res->listed = json_deep_copy(item);
                if (res->listed && json_is_string(arn))
                        json_object_set(res->listed, g->probe->arn_member, arn);
                g->progress = true;
                finish(a, r->idx, SM_OUTCOME_APPLIED);
        } else if (status && status_failed(status)) {
                /* Only the Describe says why. */
                r->group = NULL;
                (void)run_probe_start(a, r, r->created, 0);
        }
}

/* The poll is over: time out who is past the deadline, then read again
 * with backoff (from the start when the poll settled something). */
static void group_poll_end(list_group *g)
{
        sm_apply *a = g->a;
        uint64_t now = uv_now(a->loop), earliest = UINT64_MAX, delay;
        bool newcomer = false;

        group_compact(g);
        for (size_t i = 0; i < g->n_members; i++) {
                run *r = &a->runs[g->members[i]];
                sm_action_result *res = &a->report.results[r->idx];

                if (a->stopped) {
                        finish(a, r->idx, SM_OUTCOME_PENDING);
                } else if (r->snapped && now >= r->deadline_ms) {
                        _cleanup_free_ char *msg =
                                sm_strf("%s does not show it %s after %llu ms", g->probe->operation,
                                        a->plan->actions[r->idx].settle_statuses[0],
                                        (unsigned long long)r->timeout_ms);

                        set_local_error(&res->error, "SettleTimeout", msg);
                        finish(a, r->idx, SM_OUTCOME_TIMED_OUT);
                } else {
                        earliest = min_u64(earliest, r->deadline_ms);
                        newcomer |= !r->snapped;
                }
        }
        group_compact(g);
        if (g->n_members == 0)
                return;
        if (g->progress) {
                g->backoff_ms = a->o.poll_initial_ms;
                delay = g->backoff_ms;
        } else {
                g->backoff_ms = min_u64(g->backoff_ms * 2, a->o.poll_max_ms);
                delay = g->backoff_ms / 2 +
                        (g->backoff_ms > 1 ? next_random(a) % (g->backoff_ms / 2 + 1) : 0);
        }
        if (newcomer)
                delay = min_u64(delay, a->o.poll_initial_ms);
        if (now + delay > earliest)
                delay = earliest > now ? earliest - now : 0;
        group_arm(g, delay);
}

static void on_group_page(const sm_aws_response *resp, void *userdata)
{
        list_group *g = userdata;
        sm_apply *a = g->a;
        const char *token, *prev;
        json_t *item;
        size_t i;

        if (!settle_read_returned(a))
                return;
        g->polling = false;
        if (resp->error) {
                /* Transient ones the client retried already: read later. */
                if (resp->error->klass == SM_AWS_ERROR_TERMINAL)
                        group_fallback(g);
                else
                        group_poll_end(g);
                goto out;
        }
        json_array_foreach(json_object_get(resp->output, g->probe->items), i, item)
        {
                snap_entry key = {
                        .name = json_string_value(json_object_get(item, g->probe->name_member))};
                snap_entry *e;

                if (!key.name)
                        continue;
                e = bsearch(&key, g->snap, g->n_snap, sizeof(*e), snap_cmp);
                if (!e || e->seen)
                        continue;
                e->seen = true;
                g->n_unseen--;
                group_member_seen(g, &a->runs[e->idx], item);
        }
        token = json_string_value(json_object_get(resp->output, "NextToken"));
        prev = json_string_value(json_object_get(g->params, "NextToken"));
        /* A server repeating the token it was given would page forever. */
        if (g->n_unseen > 0 && !a->stopped && !isempty(token) && !streq_ptr(prev, token) &&
            json_object_set_new(g->params, "NextToken", json_string(token)) == 0) {
                group_send(g);
                goto out;
        }
        group_poll_end(g);
out:
        pump(a);
        maybe_finish(a);
}

/* Nothing to call and nothing in flight: what waits on a first read gets
 * it now rather than at its timer. */
static void kick_idle(sm_apply *a)
{
        for (size_t i = 0; i < a->n_groups; i++) {
                list_group *g = a->groups[i];
                bool newcomer = false;

                if (g->polling || !g->armed)
                        continue;
                for (size_t j = 0; j < g->n_members && !newcomer; j++) {
                        run *r = &a->runs[g->members[j]];

                        newcomer = r->group == g && !r->snapped;
                }
                if (newcomer)
                        group_poll(g);
        }
        for (size_t i = 0; i < a->n_fresh; i++) {
                run *r = &a->runs[a->fresh[i]];

                if (!r->fresh || r->state != RUN_SETTLING || r->polling || !r->timer)
                        continue;
                r->fresh = false;
                /* The next read comes after poll_initial_ms, as it would have. */
                r->backoff_ms = a->o.poll_initial_ms / 2;
                (void)arm_timer(r, 0);
        }
        a->n_fresh = 0;
}

/* ---- calls ------------------------------------------------------------------ */

static void on_requeue_timer(uv_timer_t *t)
{
        run *r = t->data;
        sm_apply *a = r->a;

        close_settle_timer(r);
        heap_push(a, r->idx);
        pump(a);
        maybe_finish(a);
}

/* Back in the ready heap after a jittered poll_initial_ms; on failure to
 * arm a timer, at once. */
static void requeue_later(sm_apply *a, run *r)
{
        uint64_t delay = a->o.poll_initial_ms / 2 + next_random(a) % (a->o.poll_initial_ms / 2 + 1);

        r->state = RUN_WAITING;
        r->timer = settle_timer_new(a, r);
        if (!r->timer || uv_timer_start(&r->timer->timer, on_requeue_timer, delay, 0) < 0) {
                close_settle_timer(r);
                heap_push(a, r->idx);
        }
}

/* The call went through: a throttle met on the way is history, and the
 * request id is what the journal quotes. 0 or -ENOMEM. */
static int note_success(sm_action_result *res, const sm_aws_response *resp)
{
        sm_aws_error_clear(&res->error);
        free(res->request_id);
        res->request_id = NULL;
        if (resp->request_id && !(res->request_id = strdup(resp->request_id)))
                return -ENOMEM;
        return 0;
}

static void on_call_done(const sm_aws_response *resp, void *userdata)
{
        run *r = userdata;
        sm_apply *a = r->a;
        const sm_action *act;
        sm_action_result *res;

        if (a->freed) {
                apply_unref(a);
                return;
        }
        a->refs--;
        a->in_flight--;
        act = &a->plan->actions[r->idx];
        res = &a->report.results[r->idx];
        res->attempts += resp->attempts;
        if (resp->error && resp->error->klass == SM_AWS_ERROR_THROTTLE &&
            r->requeues < THROTTLE_REQUEUES && !a->stopped) {
                /* A throttled call did nothing: rather than leave it to the
                 * next round (a whole observation later), send it again once
                 * the account has had a moment to breathe. */
                keep_error(res, resp);
                r->requeues++;
                requeue_later(a, r);
        } else if (resp->error) {
                sm_action_outcome o = sm_apply_classify_error(act, resp->error);

                keep_error(res, resp);
                finish(a, r->idx, o);
        } else if (note_success(res, resp) < 0) {
                set_local_error(&res->error, "NoMemory", NULL);
                finish(a, r->idx, SM_OUTCOME_FAILED);
        } else if (!act->settle_statuses || !act->settle_operation) {
                finish(a, r->idx, SM_OUTCOME_APPLIED);
        } else if (a->stopped) {
                /* Called but not seen to settle: the next pass observes it. */
                finish(a, r->idx, SM_OUTCOME_PENDING);
        } else {
                begin_settle(a, r, resp->output);
        }
        pump(a);
        maybe_finish(a);
}

static void start_call(sm_apply *a, size_t idx)
{
        const sm_action *act = &a->plan->actions[idx];
        run *r = &a->runs[idx];
        json_t *params = act->params ? json_deep_copy(act->params) : json_object();
        int rc;

        r->state = RUN_CALLING;
        rc = params ? sm_aws_call(a->client, act->service, act->operation, params, on_call_done, r)
                    : -ENOMEM;
        if (rc < 0) {
                set_local_error(&a->report.results[idx].error,
                                rc == -ENOMEM ? "NoMemory" : "InvalidParameter",
                                "the request could not be encoded");
                finish(a, idx, SM_OUTCOME_FAILED);
                return;
        }
        a->in_flight++;
        a->refs++;
}

static void pump(sm_apply *a)
{
        while (!a->stopped && a->n_heap > 0 && a->in_flight < a->o.concurrency)
                start_call(a, heap_pop(a));
        if (!a->stopped && !a->freed && a->in_flight == 0 && a->n_heap == 0)
                kick_idle(a);
}

static void on_kick(uv_timer_t *t)
{
        sm_apply *a = t->data;

        if (a->freed)
                return;
        pump(a);
        maybe_finish(a);
}

/* ---- setup ------------------------------------------------------------------- */

static const sm_plan *sort_plan; /* qsort has no userdata in C11 */

static int by_resource(const void *x, const void *y)
{
        size_t i = *(const size_t *)x, j = *(const size_t *)y;
        int c = strcmp(sort_plan->actions[i].resource, sort_plan->actions[j].resource);

        if (c)
                return c;
        return i < j ? -1 : i > j;
}

/* The edges: declared deps, and "previous action on the same resource". */
static int build_edges(sm_apply *a)
{
        const sm_plan *p = a->plan;
        size_t n = p->n_actions, n_edges = 0, *order = NULL, *prev = NULL, *fill = NULL;
        int r = -ENOMEM;

        order = malloc((n ? n : 1) * sizeof(size_t));
        prev = malloc((n ? n : 1) * sizeof(size_t));
        fill = calloc(n + 1, sizeof(size_t));
        a->edge_start = calloc(n + 1, sizeof(size_t));
        if (!order || !prev || !fill || !a->edge_start)
                goto out;
        for (size_t i = 0; i < n; i++) {
                order[i] = i;
                prev[i] = SIZE_MAX;
        }
        sort_plan = p;
        if (n > 1)
                qsort(order, n, sizeof(size_t), by_resource);
        sort_plan = NULL;
        for (size_t k = 1; k < n; k++)
                if (streq(p->actions[order[k - 1]].resource, p->actions[order[k]].resource))
                        prev[order[k]] = order[k - 1];
        for (size_t i = 0; i < n; i++) {
                for (size_t d = 0; d < p->actions[i].n_deps; d++) {
                        /* Deps point backwards (plan.h): that is what makes
                         * this graph free of cycles. */
                        if (p->actions[i].deps[d] >= i) {
                                r = -EINVAL;
                                goto out;
                        }
                        a->edge_start[p->actions[i].deps[d]]++;
                }
                if (prev[i] != SIZE_MAX)
                        a->edge_start[prev[i]]++;
        }
        /* Counts to starts (exclusive prefix sums). */
        for (size_t i = 0, sum = 0; i <= n; i++) {
                size_t c = a->edge_start[i];

                a->edge_start[i] = sum;
                sum += c;
                n_edges = sum;
        }
        a->edges = malloc((n_edges ? n_edges : 1) * sizeof(size_t));
        if (!a->edges)
                goto out;
        for (size_t i = 0; i < n; i++) {
                for (size_t d = 0; d < p->actions[i].n_deps; d++) {
                        size_t from = p->actions[i].deps[d];

                        a->edges[a->edge_start[from] + fill[from]++] = 2 * i + 1;
                        a->runs[i].blockers++;
                }
                if (prev[i] != SIZE_MAX) {
                        a->edges[a->edge_start[prev[i]] + fill[prev[i]]++] = 2 * i;
                        a->runs[i].blockers++;
                }
        }
        r = 0;
out:
        free(order);
        free(prev);
        free(fill);
        return r;
}

int sm_apply_start(uv_loop_t *loop, sm_aws_client *client, const sm_plan *plan,
                   const sm_apply_options *opts, sm_apply_done_fn done, void *userdata,
                   sm_apply **ret)
{
        sm_apply *a;
        size_t n;
        int r;

        if (!loop || !client || !plan || !ret)
                return -EINVAL;
        for (size_t i = 0; i < plan->n_actions; i++)
                if (plan->actions[i].settle_statuses && !plan->actions[i].settle_operation)
                        return -EINVAL;
        n = plan->n_actions;
        a = calloc(1, sizeof(sm_apply));
        if (!a)
                return -ENOMEM;
        a->loop = loop;
        a->client = client;
        a->plan = plan;
        a->done = done;
        a->userdata = userdata;
        a->refs = 1;
        a->rng = uv_hrtime() | 1;
        if (opts)
                a->o = *opts;
        if (!a->o.concurrency)
                a->o.concurrency = DEFAULT_CONCURRENCY;
        if (!a->o.settle_timeout_ms)
                a->o.settle_timeout_ms = DEFAULT_SETTLE_TIMEOUT_MS;
        if (!a->o.mlflow_timeout_ms)
                a->o.mlflow_timeout_ms = DEFAULT_MLFLOW_TIMEOUT_MS;
        if (!a->o.poll_initial_ms)
                a->o.poll_initial_ms = DEFAULT_POLL_INITIAL_MS;
        if (!a->o.poll_max_ms)
                a->o.poll_max_ms = DEFAULT_POLL_MAX_MS;
        if (a->o.poll_max_ms < a->o.poll_initial_ms)
                a->o.poll_max_ms = a->o.poll_initial_ms;
        a->report.plan = plan;
        a->report.n_results = n;
        a->report.results = calloc(n ? n : 1, sizeof(sm_action_result));
        a->runs = calloc(n ? n : 1, sizeof(run));
        a->heap = malloc((n ? n : 1) * sizeof(size_t));
        a->stack = malloc((n ? n : 1) * sizeof(size_t));
        a->fresh = malloc((n ? n : 1) * sizeof(size_t));
        if (!a->report.results || !a->runs || !a->heap || !a->stack || !a->fresh) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                a->runs[i].a = a;
                a->runs[i].idx = i;
        }
        r = build_edges(a);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < n; i++) {
                a->runs[i].doomed = a->o.held && a->o.held[i];
                if (a->runs[i].blockers == 0 && !a->runs[i].doomed)
                        heap_push(a, i);
        }
        /* After every ready root is queued, so that what finish() releases
         * is never queued twice. */
        for (size_t i = 0; i < n; i++)
                if (a->runs[i].blockers == 0 && a->runs[i].doomed && a->runs[i].state != RUN_DONE)
                        finish(a, i, SM_OUTCOME_SKIPPED);
        a->o.held = NULL; /* borrowed for this call only */
        r = uv_timer_init(loop, &a->kick);
        if (r < 0)
                goto fail;
        a->kick.data = a;
        a->kick_open = true;
        a->refs++;
        /* Calls start from the loop, so done can never run in here. */
        r = uv_timer_start(&a->kick, on_kick, 0, 0);
        if (r < 0) {
                sm_apply_free(a);
                return r;
        }
        *ret = a;
        return 0;
fail:
        apply_release(a);
        return r;
}

void sm_apply_stop(sm_apply *a)
{
        if (!a || a->freed || a->stopped)
                return;
        a->stopped = true;
        /* Waits stop now; a read in flight still reports what it saw. */
        for (size_t i = 0; i < a->plan->n_actions; i++) {
                run *r = &a->runs[i];

                /* Settling, or waiting to be sent again after a throttle. */
                if ((r->state == RUN_SETTLING && !r->polling) ||
                    (r->state == RUN_WAITING && r->timer))
                        finish(a, i, SM_OUTCOME_PENDING);
        }
        for (size_t i = 0; i < a->n_groups; i++)
                if (a->groups[i]->armed) {
                        uv_timer_stop(&a->groups[i]->timer->timer);
                        a->groups[i]->armed = false;
                }
        if (a->kick_open)
                uv_timer_start(&a->kick, on_kick, 0, 0);
}

sm_apply *sm_apply_free(sm_apply *a)
{
        if (!a || a->freed)
                return NULL;
        a->freed = true;
        a->stopped = true;
        for (size_t i = 0; i < a->report.n_results; i++)
                close_settle_timer(&a->runs[i]);
        for (size_t i = 0; i < a->n_groups; i++) {
                list_group *g = a->groups[i];

                if (g->timer) {
                        uv_close((uv_handle_t *)&g->timer->timer, on_settle_timer_closed);
                        g->timer = NULL;
                        g->armed = false;
                }
        }
        if (a->kick_open) {
                a->kick_open = false;
                uv_close((uv_handle_t *)&a->kick, on_kick_closed);
        }
        apply_unref(a);
        return NULL;
}
